"""Peak memory of one `bakeoff step train` against the size of the table it trains on.

    .venv/bin/python bench/memory_bench.py [--rows 1000000] [--models logistic boosting]

A synthetic 1,000,000 x 25 table (24 numeric columns and one text column, plus the label) is
written as Parquet and prepared once (`bakeoff step prepare`, timed). Then each model is trained
by a fresh `bakeoff step train --no-cache`, and its peak resident memory is measured two ways:

* tree: the largest sum of RSS over the step's whole process tree (the step and the child it
  trains in), sampled from /proc every 20 ms: what a pod's memory limit has to hold;
* largest process: ``ru_maxrss`` of the waited-for children (a max over processes, not a sum).

The ratio is the tree's peak over the table's size in pandas (``memory_usage(deep=True)``, all
25 columns as ``pd.read_parquet`` gives them). Target: <= 3x.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "memory"
BIN = Path(sys.executable).parent
MIB = 1024 * 1024
TARGET_RATIO = 3.0
MODELS = {
    "logistic": ("LogisticRegression", {"max_iter": 200}),
    "boosting": ("HistGradientBoostingClassifier", {"max_iter": 100, "early_stopping": False}),
}


def big_table(rows: int) -> pd.DataFrame:
    """run_bench's synthetic table (24 numeric features, 12 informative, and a binary label)
    with one text column: 25 columns besides the label."""
    sys.path.insert(0, str(HERE))
    from run_bench import table

    frame = table(rows, 24, seed=1)
    frame.insert(24, "segment", np.random.default_rng(0).choice(["north", "south", "east", "west"], size=rows))
    return frame


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants_rss_kib(root: int) -> int:
    """RSS summed over every descendant of ``root`` (not ``root`` itself), now."""
    total, todo = 0, _children(root)
    while todo:
        pid = todo.pop()
        total += _rss_kib(pid)
        todo += _children(pid)
    return total


# Runs the command and prints the largest ru_maxrss among its processes. A wrapper, because a
# child forked from this (large) process would inherit its high-water mark.
PROBE = ("import resource, subprocess, sys; "
         "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")


def peak_of(cmd: list[str], timeout: float = 900) -> tuple[float, int, int]:
    """(seconds, peak RSS KiB summed over the command's process tree, sampled every 20 ms,
    ru_maxrss KiB of its largest process)."""
    start = time.perf_counter()
    probe = subprocess.Popen([sys.executable, "-c", PROBE, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    while probe.poll() is None:
        peak = max(peak, descendants_rss_kib(probe.pid))
        if time.perf_counter() - start > timeout:
            probe.kill()
            raise TimeoutError(f"{cmd} ran past {timeout} s")
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    out, err = probe.communicate()
    if probe.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {err.decode()[-2000:]}")
    largest = int(out.split()[-1])
    return seconds, max(peak, largest), largest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)  # a fresh store: prepare parses the table, as a first run does
    OUT.mkdir(parents=True)
    frame = big_table(args.rows)
    data = OUT / "big.parquet"
    frame.to_parquet(data, index=False)
    del frame
    raw_bytes = int(pd.read_parquet(data).memory_usage(deep=True).sum())  # as the steps read it
    sys.path.insert(0, str(HERE.parent / "src"))
    from bakeoff.runs import create_run
    from bakeoff.spec import parse_experiment
    from bakeoff.storage import open_store

    exp = parse_experiment({
        "experiment": "bench-memory",
        "dataset": {"uri": str(data), "target": "label"},
        "models": [{"name": name, "estimator": MODELS[name][0], "params": MODELS[name][1]} for name in args.models],
        "storage": str(OUT / "store"),
    })
    run = create_run(open_store(exp.storage), exp)
    figures: dict[str, object] = {"rows": args.rows, "table_mib": round(raw_bytes / MIB, 1)}
    prepare_s, prepare_peak, _ = peak_of([str(BIN / "bakeoff"), "step", "prepare", "--run-uri", run.uri])
    figures["prepare"] = {"seconds": round(prepare_s, 1), "peak_mib": round(prepare_peak / 1024),
                          "ratio": round(prepare_peak * 1024 / raw_bytes, 2)}
    for name in args.models:
        seconds, tree, largest = peak_of([str(BIN / "bakeoff"), "step", "train", "--run-uri", run.uri,
                                          "--model", name, "--no-cache"])
        figures[name] = {"estimator": MODELS[name][0], "seconds": round(seconds, 1),
                         "peak_mib": round(tree / 1024), "largest_process_mib": round(largest / 1024),
                         "ratio": round(tree * 1024 / raw_bytes, 2)}
    print(json.dumps(figures, indent=2))
    for name in args.models:
        f = figures[name]
        verdict = "ok" if f["ratio"] <= TARGET_RATIO else f"above the {TARGET_RATIO:g}x target"  # type: ignore[index]
        print(f"train {name}: peak {f['peak_mib']} MiB = {f['ratio']}x the table's "  # type: ignore[index]
              f"{figures['table_mib']} MiB ({verdict})", file=sys.stderr)
    (OUT / "figures.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

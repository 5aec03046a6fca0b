"""Peak memory of one `bakeoff step train` against the size of the table it trains on.

    .venv/bin/python bench/memory_bench.py [--rows 1000000] [--models logistic boosting]

A synthetic 1,000,000 x 25 table (24 numeric columns and one text column, plus the label) is
written as Parquet and prepared once (`bakeoff step prepare`, timed). Then each model is trained
by a fresh `bakeoff step train --no-cache`, and its peak resident memory is measured three ways:

* RSS summed over the step's whole process tree (the step and the child it trains in), sampled
  from /proc every 20 ms. A page mapped by both processes (the Python binary, numpy's and
  OpenBLAS' libraries) is counted once per process: an upper bound;
* PSS summed over the same tree at the same moments (smaps_rollup): each page divided among the
  processes that map it, so shared pages count once. A pod's memory limit (its cgroup) charges
  each page once too, so this is the closer figure; it is a little low only by the share of
  pages (libc, the Python binary) that processes outside the tree also map. The process that
  measures imports no numeric library for that reason (the table is made in a child of its own);
* largest process: ``ru_maxrss`` of the waited-for children (a max over processes, not a sum).

The ratios are a peak over the table's size in pandas (``memory_usage(deep=True)``, all 25
columns as ``pd.read_parquet`` gives them). Target: <= 3x.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    import numpy as np

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


def _rss_pss_kib(pid: int) -> tuple[int, int]:
    """A process's resident memory (RSS) and its proportional share (PSS: each page divided by
    the number of processes mapping it), from one read of smaps_rollup."""
    found = {"Rss:": 0, "Pss:": 0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key = line.split(maxsplit=1)[0] if line else ""
            if key in found:
                found[key] = int(line.split()[1])
    except OSError:
        pass
    return found["Rss:"], found["Pss:"]


def descendants_kib(root: int) -> tuple[int, int]:
    """RSS and PSS, each summed over every descendant of ``root`` (not ``root`` itself), now."""
    rss = pss = 0
    todo = _children(root)
    while todo:
        pid = todo.pop()
        one_rss, one_pss = _rss_pss_kib(pid)
        rss, pss = rss + one_rss, pss + one_pss
        todo += _children(pid)
    return rss, pss


# Runs the command and prints the largest ru_maxrss among its processes. A wrapper, because a
# child forked from this (large) process would inherit its high-water mark.
PROBE = ("import resource, subprocess, sys; "
         "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(code)")


@dataclass(frozen=True)
class Peak:
    """One command's memory: the peaks of its process tree, sampled every 20 ms, and of its
    largest process."""

    seconds: float
    rss_kib: int  # RSS summed over the tree: counts a library mapped by two processes twice
    pss_kib: int  # PSS summed over the tree: each shared page counted once, across the processes
    largest_kib: int  # ru_maxrss of the largest process (a max over processes, not a sum)


def peak_of(cmd: list[str], timeout: float = 900) -> Peak:
    start = time.perf_counter()
    probe = subprocess.Popen([sys.executable, "-c", PROBE, *cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rss = pss = 0
    while probe.poll() is None:
        now_rss, now_pss = descendants_kib(probe.pid)
        rss, pss = max(rss, now_rss), max(pss, now_pss)
        if time.perf_counter() - start > timeout:
            probe.kill()
            raise TimeoutError(f"{cmd} ran past {timeout} s")
        time.sleep(0.02)
    seconds = time.perf_counter() - start
    out, err = probe.communicate()
    if probe.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {err.decode()[-2000:]}")
    largest = int(out.split()[-1])
    return Peak(seconds, max(rss, largest), pss, largest)


def make_run(rows: int, models: list[str]) -> dict[str, object]:
    """Write the table, and a run of ``models`` on it in a fresh store (prepare then parses the
    table, as a first run does); its run URI and the table's size in pandas."""
    import pandas as pd

    sys.path.insert(0, str(HERE.parent / "src"))
    from bakeoff.runs import create_run
    from bakeoff.spec import parse_experiment
    from bakeoff.storage import open_store

    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    big_table(rows).to_parquet(OUT / "big.parquet", index=False)
    raw_bytes = int(pd.read_parquet(OUT / "big.parquet").memory_usage(deep=True).sum())  # as the steps read it
    exp = parse_experiment({
        "experiment": "bench-memory",
        "dataset": {"uri": str(OUT / "big.parquet"), "target": "label"},
        "models": [{"name": name, "estimator": MODELS[name][0], "params": MODELS[name][1]} for name in models],
        "storage": str(OUT / "store"),
    })
    return {"run_uri": create_run(open_store(exp.storage), exp).uri, "raw_bytes": raw_bytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--make-run", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_run:
        print(json.dumps(make_run(args.rows, args.models)))
        return
    # The table is made in a process of its own: this one, which measures, imports no pandas,
    # numpy or scikit-learn, so no library page the steps map is shared with it, which would
    # lower their PSS.
    made = json.loads(subprocess.run([sys.executable, __file__, "--make-run", "--rows", str(args.rows),
                                      "--models", *args.models], check=True, capture_output=True).stdout)
    run_uri, raw_bytes = str(made["run_uri"]), int(made["raw_bytes"])
    figures: dict[str, object] = {"rows": args.rows, "table_mib": round(raw_bytes / MIB, 1)}

    def summary(peak: Peak) -> dict[str, object]:
        return {"seconds": round(peak.seconds, 1), "peak_mib": round(peak.rss_kib / 1024),
                "ratio": round(peak.rss_kib * 1024 / raw_bytes, 2), "pss_peak_mib": round(peak.pss_kib / 1024),
                "pss_ratio": round(peak.pss_kib * 1024 / raw_bytes, 2),
                "largest_process_mib": round(peak.largest_kib / 1024)}

    figures["prepare"] = summary(peak_of([str(BIN / "bakeoff"), "step", "prepare", "--run-uri", run_uri]))
    for name in args.models:
        figures[name] = {"estimator": MODELS[name][0], **summary(peak_of([
            str(BIN / "bakeoff"), "step", "train", "--run-uri", run_uri, "--model", name, "--no-cache"]))}
    print(json.dumps(figures, indent=2))
    for name in args.models:
        f = figures[name]
        verdict = "ok" if f["ratio"] <= TARGET_RATIO else f"above the {TARGET_RATIO:g}x target"  # type: ignore[index]
        print(f"train {name}: peak {f['peak_mib']} MiB = {f['ratio']}x the table's "  # type: ignore[index]
              f"{figures['table_mib']} MiB ({verdict}); PSS {f['pss_peak_mib']} MiB = {f['pss_ratio']}x",  # type: ignore[index]
              file=sys.stderr)
    (OUT / "figures.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

"""bakeoff's performance figures, measured side by side in one run on this machine.

    make bench            # or: .venv/bin/python bench/run_bench.py [--repeats 3]

1. Two workloads (bench/workloads.py): four forests of equal cost, and seven uneven classifiers.
   `bakeoff run` (cold, --no-cache) against the same fits in one process one after another, and
   against joblib.Parallel(n_jobs=2). Whole processes are timed, start-up included, as a user
   waits for them. Variants are interleaved and repeated; medians. `bakeoff run --plan`'s
   expected wall time is compared with the measured one.
2. Per-model overhead: each train step's wall time minus its fit and predict time (result.json).
3. A cached re-run of the unchanged config, against the cold run.
(The 1,000,000 x 25 table's prepare time and train memory: bench/memory_bench.py.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
BIN = Path(sys.executable).parent


def timed(cmd: list[str], cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def table(rows: int, features: int, seed: int = 0) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=features, n_informative=12, random_state=seed)
    frame = pd.DataFrame(X, columns=[f"x{i:02d}" for i in range(features)])
    frame["label"] = y
    return frame


def workload_config(folder: Path, name: str) -> Path:
    from workloads import WORKLOADS

    config = folder / "bakeoff.yaml"
    config.write_text(yaml.safe_dump({
        "experiment": f"bench-{name}",
        "dataset": {"uri": "data.csv", "target": "label"},
        "split": {"test_size": 0.2, "valid_size": 0.2, "seed": 42},
        "models": [{"name": model, "estimator": estimator, "params": params}
                   for model, estimator, params in WORKLOADS[name]["models"]],
        "storage": "store",
        "runtime": {"parallel": 2},
    }))
    return config


def latest_run(folder: Path) -> Path:
    return sorted((folder / "store" / "runs").iterdir())[-1]


def planned_seconds(config: Path) -> float:
    """What `bakeoff run --plan` expects the run to take."""
    out = subprocess.run([str(BIN / "bakeoff"), "run", str(config), "--plan", "--no-cache", "--format", "json"],
                         check=True, capture_output=True, text=True).stdout
    return float(json.loads(out)["wall_seconds"])


def workload_figures(name: str, repeats: int) -> dict[str, float]:
    from workloads import WORKLOADS

    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    table(WORKLOADS[name]["rows"], WORKLOADS[name]["features"]).to_csv(folder / "data.csv", index=False)
    config = workload_config(folder, name)
    bakeoff = [str(BIN / "bakeoff"), "run", str(config)]
    loop = [sys.executable, str(HERE / "fits.py")]
    timed([*bakeoff, "--no-cache"])  # warm-up: prepares the data once and records what each fit costs
    planned = planned_seconds(config)
    times: dict[str, list[float]] = {"sequential": [], "joblib": [], "bakeoff": [], "cached": []}
    overheads: list[float] = []
    for i in range(repeats):
        print(f"  {name}: round {i + 1}/{repeats}", file=sys.stderr)
        times["sequential"].append(timed([*loop, "sequential", name, str(folder / "data.csv")]))
        times["joblib"].append(timed([*loop, "joblib", name, str(folder / "data.csv")]))
        times["bakeoff"].append(timed([*bakeoff, "--no-cache"]))
        for result in (latest_run(folder) / "models").glob("*/result.json"):
            r = json.loads(result.read_text())
            overheads.append(r["step_seconds"] - r["timings"]["fit"] - r["timings"]["predict"])
        times["cached"].append(timed(bakeoff))
        cached = json.loads((latest_run(folder) / "leaderboard.json").read_text())
        assert all(row["cached"] for row in cached["rows"]), "the re-run was not served from cache"
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "sequential_s": med["sequential"], "joblib_s": med["joblib"], "bakeoff_s": med["bakeoff"],
        "cached_s": med["cached"], "planned_s": planned,
        "bakeoff_vs_joblib": med["bakeoff"] / med["joblib"],
        "bakeoff_vs_sequential": med["bakeoff"] / med["sequential"],
        "joblib_vs_sequential": med["joblib"] / med["sequential"],
        "planned_vs_measured": planned / med["bakeoff"],
        "cached_vs_cold": med["cached"] / med["bakeoff"],
        "overhead_median_s": statistics.median(overheads),
        "overhead_max_s": max(overheads),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the interleaved comparison")
    parser.add_argument("--workloads", nargs="*", default=["equal", "uneven"], help="which workloads to time")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    OUT.mkdir(exist_ok=True)
    figures = {name: workload_figures(name, args.repeats) for name in args.workloads}
    print(json.dumps(figures, indent=2))
    (OUT / "figures.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

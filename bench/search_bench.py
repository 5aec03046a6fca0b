"""TPE with pruning against an exhaustive grid, on a real dataset (scikit-learn's digits).

    .venv/bin/python bench/search_bench.py [--trials 40]

Target (issue 5): TPE's best validation score reaches >= 99.5% of the grid's best in <= 30% of
the grid's wall time. Both searches run in this process, one after the other, on the same
prepared splits and with the same single-thread budget.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sklearn.datasets import load_digits  # noqa: E402

from bakeoff import data, search  # noqa: E402
from bakeoff.metrics import REGISTRY  # noqa: E402
from bakeoff.spec import DatasetSpec, ModelSpec, SplitSpec  # noqa: E402

# 5 x 8 x 5 = 200 grid points
SPACE = {
    "max_features": {"choice": ["sqrt", "log2", 0.2, 0.35, 0.5]},
    "min_samples_leaf": {"int": [1, 8]},
    "max_depth": {"choice": [None, 6, 10, 16, 24]},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=40, help="TPE's trial budget")
    args = parser.parse_args()
    frame = load_digits(as_frame=True).frame
    spec = DatasetSpec(uri="digits.csv", target="target")
    schema = data.infer_schema(frame, spec)
    parts = data.split_frame(frame, schema, SplitSpec(seed=0))
    X = {k: v[schema.features] for k, v in parts.items()}
    y = {k: v["target"].to_numpy() for k, v in parts.items()}
    metric = REGISTRY["balanced_accuracy"]
    figures = {}
    for name, sampler, trials in (("grid", "grid", None), ("tpe", "tpe", args.trials)):
        model = ModelSpec.model_validate({
            "name": name, "estimator": "RandomForestClassifier", "params": {"n_estimators": 100, "random_state": 0},
            "search": {"sampler": sampler, "trials": trials, "space": SPACE, "patience": 3}})
        start = time.perf_counter()
        tuned = search.tune(model, schema, X, y, metric, seed=0, threads=1)
        figures[name] = {"seconds": time.perf_counter() - start, "best_valid": tuned.record["best"]["score"],
                         "trials": len(tuned.record["trials"]), "pruned": tuned.record["pruned"]}
        print(f"{name}: {figures[name]}", file=sys.stderr)
    figures["tpe_score_vs_grid"] = figures["tpe"]["best_valid"] / figures["grid"]["best_valid"]
    figures["tpe_time_vs_grid"] = figures["tpe"]["seconds"] / figures["grid"]["seconds"]
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

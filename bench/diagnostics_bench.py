"""What the per-model diagnostics add to a train step, and what the charts add to compare.

    .venv/bin/python bench/diagnostics_bench.py [--rows 100000] [--repeats 5]

Medians of --repeats, on this machine:

1. ``diagnostics.compute`` on the test predictions of real models on scikit-learn's datasets, their
   rows resampled to --rows with 5% noise (so scores are not all tied): a logistic regression on
   breast cancer (binary, probabilities), an SVC on the same rows (margins), a logistic
   regression on wine (multiclass) and a ridge regression on diabetes: the time and the bytes of
   the JSON it stores. This runs once per model, after its fit, on one thread.
2. ``report.to_html`` with and without the diagnostics of four binary models (compare's share).
   And for each classifier, the ROC curve KFP's UI gets from the stored curves
   (``kfp.ui_metrics._roc``: the multiclass macro average, thinned to 200 points).
3. ``catalog._discover_sklearn``: the estimator index, built once per scikit-learn version,
   now with each estimator's ``outputs`` facts (its ``predict_proba``/``decision_function``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.svm import SVC


def median_seconds(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def resampled(loader: Callable[..., Any], rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    X, y = loader(return_X_y=True)
    pick = np.random.default_rng(seed).integers(0, len(y), rows)
    noise = np.random.default_rng(seed + 1).normal(0, X.std(axis=0) * 0.05, (rows, X.shape[1]))
    return X[pick] + noise, y[pick]


def outcomes(rows: int) -> dict[str, tuple[Any, list[Any] | None, Any]]:
    from bakeoff.metrics import Outcome

    X, y = resampled(datasets.load_breast_cancer, rows)
    logistic = LogisticRegression(max_iter=3000).fit(X[:2000], y[:2000])
    svc = SVC().fit(X[:2000], y[:2000])
    Xw, yw = resampled(datasets.load_wine, rows)
    wine = LogisticRegression(max_iter=3000).fit(Xw[:2000], yw[:2000])
    Xd, yd = resampled(datasets.load_diabetes, rows)
    ridge = Ridge().fit(Xd[:2000], yd[:2000])
    return {
        "binary, probabilities": (Outcome.of(y, logistic.predict(X), logistic.predict_proba(X), logistic.classes_),
                                  [0, 1], None),
        "binary, SVC margins": (Outcome.of(y, svc.predict(X), None, svc.classes_, svc.decision_function(X)),
                                [0, 1], None),
        "multiclass (3), probabilities": (Outcome.of(yw, wine.predict(Xw), wine.predict_proba(Xw), wine.classes_),
                                          [0, 1, 2], None),
        "regression": (Outcome.of(yd, ridge.predict(Xd)), None, None),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from bakeoff import catalog, diagnostics
    from bakeoff.kfp import ui_metrics

    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # the models need only be real, not best
    print(f"python {sys.version.split()[0]}, {args.rows:,} test rows, median of {args.repeats}")
    found_binary = None
    for name, (o, classes, _) in outcomes(args.rows).items():
        seconds, found = median_seconds(lambda: diagnostics.compute(o, classes), args.repeats)
        size = sum(len(json.dumps(v)) for v in found.values())
        print(f"  diagnostics.compute, {name}: {seconds * 1000:.0f} ms, {size / 1024:.0f} KiB of JSON")
        if "roc" in found:
            kfp, _ = median_seconds(lambda: ui_metrics._roc(found["roc"]["curves"]), args.repeats)
            print(f"    KFP's ROC from the stored curves: {kfp * 1000:.1f} ms")
        found_binary = found_binary or found
    report_bench(found_binary, args.repeats)
    seconds, index = median_seconds(catalog._discover_sklearn, max(1, args.repeats // 2))
    classes = [catalog.resolve(name).cls for name in index]
    outputs, _ = median_seconds(lambda: [catalog._outputs(c) for c in classes], max(1, args.repeats // 2))
    print(f"  estimator index build (once per scikit-learn version, estimators imported): {seconds:.2f} s for "
          f"{len(index)} estimators, of which the outputs facts {outputs:.2f} s")


def report_bench(found: dict[str, Any], repeats: int) -> None:
    from bakeoff import leaderboard, report

    rows = [leaderboard.Row(f"model-{i}", "LogisticRegression", "ok", rank=i + 1, primary=0.99 - i / 100,
                            ci=(0.98 - i / 100, 1.0), tied=i > 0, fit_seconds=1.0 + i, predict_ms_per_1k=10.0 * (i + 1))
            for i in range(4)]
    board = leaderboard.Leaderboard("r", "bench", "classification", "roc_auc", "max", ["roc_auc"], rows,
                                    fronts={n: leaderboard.front(rows, n, "max") for n in leaderboard.COSTS})
    plain, _ = median_seconds(lambda: report.to_html(board), repeats)
    charts, page = median_seconds(lambda: report.to_html(board, {r.model: found for r in rows}), repeats)
    print(f"  report.to_html, 4 models: {plain * 1000:.1f} ms without charts, {charts * 1000:.1f} ms with "
          f"({len(page) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()

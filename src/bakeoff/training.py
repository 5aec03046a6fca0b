"""The pure core of a train step: fit (or tune, then refit), predict and score one model on
in-memory splits. No store, no process, no tracking: steps.train does the I/O around it, and a
test can call it with any frames.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from bakeoff import modeling
from bakeoff.metrics import REGISTRY, Metric, Outcome, bootstrap_ci, scores
from bakeoff.records import Schema
from bakeoff.search import tune
from bakeoff.spec import ModelSpec


@dataclass
class Evaluation:
    """One model fitted and scored on in-memory splits: what a train step saves and records."""

    pipeline: Pipeline
    params: dict[str, Any]  # the config's, or the search's winner
    valid: Outcome  # a searched model's winning trial's own predictions: honest, not refit
    test: Outcome
    metrics: dict[str, dict[str, float | None]]  # valid and test scores of every metric
    ci: tuple[float, float] | None  # 95% bootstrap interval of the primary metric on test
    fit_seconds: float
    predict_seconds: float
    timings: dict[str, float]  # fit, predict, score
    search: dict[str, Any] | None = None


def _unscored(primary: Metric, test: Outcome) -> str:
    """Why the primary metric has no value: a model without it must fail, not finish "ok" with an
    empty score (validation catches the usual cause; this is the last line)."""
    if not primary.can_score(test):
        wanted = " or ".join(primary.methods)
        return (f"{primary.name} needs {wanted} and this model has none; pick another primary metric, or "
                "a parameter that gives it (SVC: probability: true)")
    return f"{primary.name} is undefined on the test split (one class only?); pick another primary metric"


def evaluate(model: ModelSpec, schema: Schema, X: MutableMapping[str, pd.DataFrame], y: Mapping[str, np.ndarray],
             *, metrics: list[str], seed: int, threads: int) -> Evaluation:
    """Fit (tuning first when the model has a search), predict and score: the pure part of a
    train step. Any exception is the model's own failure (the caller records it), except
    ``data.StoreFailed``: a split that could not be read is the store's.

    Without a search, the training frame is popped from ``X`` and handed to ``modeling.fit``, so
    that it is freed before the estimator fits (the peak of a train step's memory)."""
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name] = time.perf_counter() - clock
        clock = time.perf_counter()

    primary = REGISTRY[metrics[0]]
    search = None
    if model.search is None:
        pipeline = modeling.build_pipeline(model, schema, rows=len(X["train"]))
        fitted = modeling.fit(pipeline, X.pop("train"), y["train"], threads)  # the frame's one reference
        pipeline, fit_seconds, params = fitted.pipeline, fitted.fit_seconds, model.params
        with modeling.thread_budget(threads):
            valid, _ = modeling.predict(pipeline, X["valid"], y["valid"])
    else:  # tune on valid, refit the winner on train+valid
        tuned = tune(model, schema, X, y, primary, seed=seed, threads=threads)
        pipeline, fit_seconds, valid, params, search = (tuned.pipeline, tuned.fit_seconds, tuned.valid,
                                                        tuned.params, tuned.record)
    lap("fit")
    with modeling.thread_budget(threads):
        test, predict_seconds = modeling.predict(pipeline, X["test"], y["test"], latency=True)
    lap("predict")
    ci = bootstrap_ci(primary, test, seed=seed)
    scored = {"valid": scores(metrics, valid), "test": scores(metrics, test)}
    if scored["test"][primary.name] is None:
        raise ValueError(_unscored(primary, test))
    lap("score")
    return Evaluation(pipeline, params, valid, test, scored, ci, fit_seconds, predict_seconds, timings, search)

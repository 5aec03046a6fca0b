"""Build, fit and evaluate one scikit-learn Pipeline; save and load it with skops.

The saved artifact is the whole Pipeline (preprocessing included) so it predicts on raw rows.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline

from bakeoff import catalog, preprocess
from bakeoff.errors import UserError
from bakeoff.metrics import Outcome
from bakeoff.records import Schema
from bakeoff.spec import ModelSpec


def preprocessor_for(model: ModelSpec, schema: Schema, params: dict[str, Any] | None = None, *,
                     rows: int | None = None) -> tuple[ColumnTransformer, dict[str, Any]]:
    """The preprocessing chosen for the model's estimator (preprocess.py), and the parameters the
    estimator needs to read it (HistGradientBoosting's ``categorical_features``), unless the
    config set them itself. A search builds it once for every trial; a pipeline once."""
    info = catalog.resolve(model.estimator)
    params = dict(model.params if params is None else params)
    chosen = preprocess.plan(info.cls(**params), model.preprocess)
    native = preprocess.native_categories(chosen, schema)
    needs = {"categorical_features": native} if native is not None and "categorical_features" not in params else {}
    return preprocess.build(chosen, schema, rows), needs


def build_pipeline(model: ModelSpec, schema: Schema, params: dict[str, Any] | None = None, *,
                   rows: int | None = None) -> Pipeline:
    """Preprocessing plus the estimator, configured by the config's params (or tuned ones), for
    fitting on ``rows`` rows (preprocess.build)."""
    params = dict(model.params if params is None else params)
    pre, needs = preprocessor_for(model, schema, params, rows=rows)
    return Pipeline([("preprocess", pre), ("model", catalog.resolve(model.estimator).cls(**params, **needs))])


def preprocessing(model: ModelSpec) -> preprocess.Plan:
    """The preprocessing the model's estimator gets, for the record (a failed fit's too)."""
    return preprocess.plan(catalog.resolve(model.estimator).cls(**model.params), model.preprocess)


@contextmanager
def thread_budget(threads: int) -> Iterator[None]:
    """Keep every pool inside ``threads``: BLAS/OpenMP via threadpoolctl, and joblib's default
    ``n_jobs`` for every estimator whose ``n_jobs`` the config left unset (sklearn reads None as
    "what the active joblib config says").

    joblib gets the threading backend: a model's budget is cores inside its own process, and
    loky's default worker processes would outlive the fit and hold the step's exit hostage.
    """
    from joblib import parallel_config
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads), parallel_config(backend="threading", n_jobs=threads):
        yield


@dataclass
class Fitted:
    pipeline: Pipeline
    fit_seconds: float


def fit(pipeline: Pipeline, X: pd.DataFrame, y: np.ndarray, threads: int) -> Fitted:
    """Fit the preprocessing, then the estimator on its output, as ``Pipeline.fit`` does, but
    without holding ``X`` meanwhile: when the caller handed its frame over (``X`` is its last
    reference), the frame is freed before the preprocessed blocks are stacked
    (``preprocess.fit_unstacked``), and so before the estimator fits, instead of sitting beside the
    blocks, their stacked copy and the estimator's own copies of it."""
    start = time.perf_counter()
    with thread_budget(threads):
        blocks = preprocess.fit_unstacked(pipeline.named_steps["preprocess"], X, y)
        del X
        Xt = preprocess.stack(blocks)
        pipeline.steps[-1][1].fit(Xt, y)
    return Fitted(pipeline, time.perf_counter() - start)


def class_scores(est: Any, X: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A fitted classifier's probabilities, or else its ``decision_function`` margins (SVC's
    default): margins rank rows as well as probabilities do, so ROC AUC needs nothing more.
    One-vs-one margins (``decision_function_shape='ovo'``) score pairs of classes, not classes:
    left out."""
    if hasattr(est, "predict_proba"):
        return np.asarray(est.predict_proba(X)), None
    if not hasattr(est, "decision_function") or getattr(est, "decision_function_shape", "ovr") == "ovo":
        return None, None
    return None, np.asarray(est.decision_function(X))


def answers(pipeline: Pipeline, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """The estimator's predictions for ``X``, and its class probabilities when it gives them,
    from one pass of the preprocessing: the Pipeline's ``predict`` and ``predict_proba`` would each
    redo it. The one path for what a model serves (``predict.predictions``) and for the latency
    the train step records."""
    encoded = pipeline[:-1].transform(X)
    model = pipeline[-1]
    y_pred = np.asarray(model.predict(encoded))
    proba = np.asarray(model.predict_proba(encoded)) if hasattr(model, "predict_proba") else None
    return y_pred, proba


LATENCY_REPEATS = 5  # at most, and only while they fit in LATENCY_BUDGET seconds together
LATENCY_BUDGET = 0.1  # seconds: a slow predict is timed once, its noise small beside it


def predict(pipeline: Pipeline, X: pd.DataFrame, y_true: np.ndarray, *, latency: bool = False
            ) -> tuple[Outcome, float]:
    """Predict a split; class probabilities too when the estimator gives them, else its margins
    (``class_scores``, outside the clock: a served model does not compute them).

    The seconds cover ``answers`` alone: what a user of the served model waits for. With
    ``latency`` they are the least of up to ``LATENCY_REPEATS`` passes that fit in
    ``LATENCY_BUDGET`` (as timeit takes its best): one pass over a small test split takes
    milliseconds, and a single preemption on a busy machine can make it a hundred, enough to
    name the wrong model "best within N ms" on the score-versus-cost front.
    """
    start = time.perf_counter()
    y_pred, proba = answers(pipeline, X)
    seconds = spent = time.perf_counter() - start
    for _ in range(LATENCY_REPEATS - 1 if latency else 0):
        if spent + seconds > LATENCY_BUDGET:
            break
        start = time.perf_counter()
        answers(pipeline, X)
        taken = time.perf_counter() - start
        seconds, spent = min(seconds, taken), spent + taken
    if not hasattr(pipeline, "classes_"):
        return Outcome.of(y_true, y_pred), seconds
    decision = class_scores(pipeline[-1], pipeline[:-1].transform(X))[1] if proba is None else None
    return Outcome.of(y_true, y_pred, proba, np.asarray(pipeline.classes_), decision), seconds


def effective_params(pipeline: Pipeline) -> dict[str, Any]:
    """The estimator's own parameters as fitted, JSON-safe, for the record."""
    est: BaseEstimator = pipeline.named_steps["model"]
    return {k: v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)
            for k, v in est.get_params(deep=False).items()}


# -- persistence ---------------------------------------------------------------------------------

def dumps(pipeline: Pipeline) -> bytes:
    import skops.io as sio

    return sio.dumps(pipeline)


def loads(data: bytes) -> Pipeline:
    """Load a saved Pipeline, trusting only types from scikit-learn, numpy and the catalog.

    skops refuses unknown types by default; we widen that to what our own pipelines contain and
    nothing else, so a tampered file cannot make us build arbitrary objects.
    """
    import skops.io as sio

    plugin_types = {f"{i.cls.__module__}.{i.cls.__qualname__}" for i in catalog.plugins().values()}
    # date_parts is ours; HistGradientBoosting with native categories keeps a functools.partial
    # of sklearn's check_array, and skops audits the wrapped function as a type of its own
    ours = {f"{preprocess.date_parts.__module__}.{preprocess.date_parts.__qualname__}", "functools.partial"}
    untrusted = sio.get_untrusted_types(data=data)
    refused = [t for t in untrusted if not _from_trusted_package(t) and t not in plugin_types and t not in ours]
    if refused:
        raise UserError(f"model.skops: refusing to load untrusted types {refused}; "
                        "only scikit-learn pipelines saved by bakeoff can be loaded")
    return sio.loads(data, trusted=untrusted)


TRUSTED_PACKAGES = ("sklearn", "numpy", "scipy")


def _from_trusted_package(type_name: str) -> bool:
    """Whether a dotted type name lives in a trusted package: its first part must *be* the
    package. A bare prefix would trust ``numpyevil.Payload``, and importing that runs its code."""
    return type_name.split(".", 1)[0] in TRUSTED_PACKAGES

"""Hyperparameter search on the validation split, with early stopping for iterative estimators.

Every trial fits on train and scores the primary metric on valid. Iterative estimators are
trained epoch by epoch and report each epoch's validation score, so that Optuna's pruner can
stop an unpromising trial early and so that a trial stops itself once the score has not improved
for ``patience`` epochs. The winner is refit on train + valid, with its best epoch count, and only
then scored on test.

Trials run one after another and each gets the step's whole thread budget. Concurrent trials
would make TPE's suggestions depend on which thread finished first, and the same config must
give the same trials.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, is_classifier
from sklearn.pipeline import Pipeline

from bakeoff import catalog, modeling
from bakeoff.catalog import IterationKind
from bakeoff.metrics import Metric, Outcome
from bakeoff.records import Schema
from bakeoff.spec import ChoiceDimension, FloatDimension, IntDimension, ModelSpec, SearchSpec

DEFAULT_TRIALS = 20
DEFAULT_EPOCHS = 50
WARM_START_STEPS = 10


def _stages_param(info: catalog.EstimatorInfo) -> str:
    """The parameter that counts a boosting model's stages."""
    return "max_iter" if "max_iter" in info.params else "n_estimators"


# -- epochs ---------------------------------------------------------------------------------------

Scores = tuple[np.ndarray | None, np.ndarray | None]  # modeling.class_scores: probabilities, margins
Score = Callable[[np.ndarray, Scores], float]


def _staged(est: BaseEstimator, X: np.ndarray, y: np.ndarray, Xv: np.ndarray) -> Iterator[tuple[Any, Any]]:
    # One fit, then the validation predictions after each boosting stage: stage k is the model
    # that max_iter=k / n_estimators=k would have produced.
    est.fit(X, y)
    probas = est.staged_predict_proba(Xv) if hasattr(est, "predict_proba") else None
    for pred in est.staged_predict(Xv):
        yield pred, (next(probas) if probas is not None else None, None)


def _warm_started(est: BaseEstimator, X: np.ndarray, y: np.ndarray, Xv: np.ndarray) -> Iterator[tuple[Any, Any]]:
    total = est.get_params()["n_estimators"]
    step = max(1, total // WARM_START_STEPS)
    est.set_params(warm_start=True)
    for n in range(step, total + step, step):
        est.set_params(n_estimators=min(n, total)).fit(X, y)
        yield est.predict(Xv), modeling.class_scores(est, Xv)


def _partial_fits(est: BaseEstimator, X: np.ndarray, y: np.ndarray, Xv: np.ndarray,
                  epochs: int) -> Iterator[tuple[Any, Any]]:
    classes = np.unique(y) if is_classifier(est) else None  # required on a classifier's first call
    for _ in range(epochs):
        if classes is not None:
            est.partial_fit(X, y, classes=classes)
        else:
            est.partial_fit(X, y)
        yield est.predict(Xv), modeling.class_scores(est, Xv)


def _epochs(kind: IterationKind, est: BaseEstimator, X: Any, y: np.ndarray, Xv: Any,
            epochs: int) -> Iterator[tuple[Any, Any]]:
    if kind == "staged":
        return _staged(est, X, y, Xv)
    if kind == "warm_start":
        return _warm_started(est, X, y, Xv)
    return _partial_fits(est, X, y, Xv, epochs)


@dataclass
class EarlyStopped:
    score: float
    epoch: int  # in the estimator's own units: epochs, boosting stages, or trees
    epochs_run: int


def train_epochs(kind: IterationKind, est: BaseEstimator, X: Any, y: np.ndarray, Xv: Any,
                 score: Score, metric: Metric, *, patience: int, epochs: int,
                 report: Callable[[float, int], None] = lambda s, e: None,
                 on_best: Callable[[], None] = lambda: None) -> EarlyStopped:
    """Train epoch by epoch; stop after ``patience`` epochs without a better validation score.

    ``report`` sees every epoch's score; a pruner raises from it to abandon the trial.
    ``on_best`` is called whenever an epoch beats every earlier one.
    For warm-started ensembles an "epoch" is a tenth of the trees; ``epoch`` counts trees then.
    """
    best = EarlyStopped(float("nan"), 0, 0)
    step = max(1, est.get_params().get("n_estimators", 1) // WARM_START_STEPS) if kind == "warm_start" else 1
    for i, (pred, scores) in enumerate(_epochs(kind, est, X, y, Xv, epochs), start=1):
        value = score(pred, scores)
        best.epochs_run = i
        report(value, i)
        if np.isnan(best.score) or metric.better(value, best.score):
            best.score, best.epoch = value, i * step
            on_best()
        elif (i * step - best.epoch) / step >= patience:
            break
    if kind == "warm_start":
        best.epoch = min(best.epoch, est.get_params()["n_estimators"])
    return best


# -- the search -----------------------------------------------------------------------------------

def _encode(value: Any) -> Any:
    """Choices go through JSON so lists and None are valid Optuna categories."""
    return json.dumps(value)


def _suggest(trial: Any, name: str, dim: Any, grid: bool) -> Any:
    if isinstance(dim, ChoiceDimension) or grid:
        return json.loads(trial.suggest_categorical(name, [_encode(v) for v in grid_values(dim)]))
    low, high = dim.bounds
    if isinstance(dim, IntDimension):
        return trial.suggest_int(name, low, high, step=dim.step or 1, log=dim.log)
    return trial.suggest_float(name, low, high, step=dim.step, log=dim.log)


def grid_values(dim: Any) -> list[Any]:
    if isinstance(dim, ChoiceDimension):
        return list(dim.choice)
    low, high = dim.bounds
    if isinstance(dim, IntDimension):
        return list(range(low, high + 1, dim.step or 1))
    assert isinstance(dim, FloatDimension) and dim.step is not None
    return [float(v) for v in np.arange(low, high + dim.step / 2, dim.step)]


def _sampler(spec: SearchSpec, seed: int) -> Any:
    import optuna

    if spec.sampler == "grid":
        grid = {name: [_encode(v) for v in grid_values(dim)] for name, dim in spec.space.items()}
        return optuna.samplers.GridSampler(grid, seed=seed)
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def grid_size(spec: SearchSpec) -> int:
    return int(np.prod([len(grid_values(dim)) for dim in spec.space.values()]))


@dataclass
class Tuned:
    """The refit winner and the record of how it was found (stored in result.json)."""

    pipeline: Pipeline
    params: dict[str, Any]
    valid: Outcome  # the winning trial's own validation predictions: honest, not refit
    fit_seconds: float
    record: dict[str, Any] = field(default_factory=dict)


def tune(model: ModelSpec, schema: Schema, X: Mapping[str, pd.DataFrame], y: Mapping[str, np.ndarray],
         metric: Metric, *, seed: int, threads: int) -> Tuned:
    """Search ``model.search.space`` on the validation split, then refit the winner on train+valid."""
    import optuna

    spec = model.search
    assert spec is not None
    info = catalog.resolve(model.estimator)
    kind = info.iteration_kind
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pre, needs = modeling.preprocessor_for(model, schema, rows=len(X["train"]))
    with modeling.thread_budget(threads):
        Xt, Xv = pre.fit_transform(X["train"]), pre.transform(X["valid"])  # once, for every trial
    classes = np.unique(y["train"]) if schema.task == "classification" else None
    best_valid: dict[int, Outcome] = {}
    errors: list[Exception] = []

    def objective(trial: Any) -> float:
        try:
            return run_trial(trial)
        except optuna.TrialPruned:
            raise
        except Exception as exc:  # a bad corner of the space fails one trial, not the search
            errors.append(exc)
            raise

    def run_trial(trial: Any) -> float:
        params = {**model.params, **{n: _suggest(trial, n, d, spec.sampler == "grid") for n, d in spec.space.items()}}
        epochs = params.pop("epochs", DEFAULT_EPOCHS)
        est = info.cls(**params, **needs)
        latest: list[Outcome] = []  # the last epoch's validation predictions, then the best's

        def score(pred: np.ndarray, scores: Scores) -> float:
            latest[:] = [Outcome.of(y["valid"], pred, scores[0], classes, scores[1])]
            return metric(latest[0])

        def keep_best() -> None:
            best_valid[trial.number] = latest[0]

        def report(value: float, epoch: int) -> None:
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        with modeling.thread_budget(threads):
            if kind is None:
                est.fit(Xt, y["train"])
                pred = est.predict(Xv)
                value = score(pred, modeling.class_scores(est, Xv))
                keep_best()
                epoch = None
            else:
                stopped = train_epochs(kind, est, Xt, y["train"], Xv, score, metric, patience=spec.patience,
                                       epochs=epochs, report=report, on_best=keep_best)
                value, epoch = stopped.score, stopped.epoch
        trial.set_user_attr("best_epoch", epoch)
        return value

    study = optuna.create_study(direction="maximize" if metric.direction == "max" else "minimize",
                                sampler=_sampler(spec, seed),
                                pruner=optuna.pruners.NopPruner() if spec.sampler == "grid"
                                else optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=spec.patience))
    trials = spec.trials or (grid_size(spec) if spec.sampler == "grid" else None if spec.timeout else DEFAULT_TRIALS)
    started = time.perf_counter()
    study.optimize(objective, n_trials=trials, timeout=spec.timeout, catch=(Exception,))
    search_seconds = time.perf_counter() - started
    history = [{"number": t.number, "state": t.state.name.lower(),
                "params": {k: json.loads(v) if isinstance(v, str) and k in _choice_names(spec) else v
                           for k, v in t.params.items()},
                "score": t.value, "best_epoch": t.user_attrs.get("best_epoch"),
                "seconds": (t.datetime_complete - t.datetime_start).total_seconds()
                if t.datetime_complete and t.datetime_start else None}
               for t in study.trials]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        if errors:
            raise errors[-1]
        raise RuntimeError("no search trial finished; raise search.timeout or search.trials")
    winner = study.best_trial
    best_params = {**model.params, **next(h["params"] for h in history if h["number"] == winner.number)}
    epochs = best_params.pop("epochs", DEFAULT_EPOCHS)
    best_epoch = winner.user_attrs.get("best_epoch")

    # Refit on train + valid with the winner's params and its best epoch count.
    X_all = pd.concat([X["train"], X["valid"]])
    y_all = np.concatenate([y["train"], y["valid"]])
    fit_params = dict(best_params)
    if kind in ("staged", "warm_start") and best_epoch:
        fit_params["n_estimators" if kind == "warm_start" else _stages_param(info)] = best_epoch
    pipeline = modeling.build_pipeline(model, schema, fit_params, rows=len(X_all))
    start = time.perf_counter()
    with modeling.thread_budget(threads):
        if kind == "partial_fit":  # epoch by epoch, as the winning trial was trained
            Xa = pipeline.named_steps["preprocess"].fit_transform(X_all)
            for _ in _partial_fits(pipeline.named_steps["model"], Xa, y_all, Xa[:1], best_epoch or epochs):
                pass
        else:
            pipeline.fit(X_all, y_all)
    fit_seconds = time.perf_counter() - start
    final_params = {**fit_params, **({"epochs": best_epoch} if kind == "partial_fit" else {})}
    record = {
        "sampler": spec.sampler, "seed": seed, "trials": history,
        "best": {"number": winner.number, "score": winner.value, "params": final_params, "best_epoch": best_epoch},
        "pruned": sum(h["state"] == "pruned" for h in history),
        "seconds": search_seconds, "refit_on": "train+valid",
    }
    return Tuned(pipeline, final_params, best_valid[winner.number], fit_seconds, record)


def _choice_names(spec: SearchSpec) -> set[str]:
    return set(spec.space) if spec.sampler == "grid" else {
        n for n, d in spec.space.items() if isinstance(d, ChoiceDimension)}


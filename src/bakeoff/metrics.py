"""Metric registry: every metric knows its task, its direction and whether it needs probabilities.

Metrics are plain numpy over an ``Outcome`` whose labels were encoded once, because the bootstrap
evaluates each metric a thousand times; sklearn's validated metric functions cost ~4 ms a call,
which made the confidence interval slower than most fits. tests/test_metrics.py checks every metric
here against scikit-learn's own on real data.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bakeoff.catalog import Task

Direction = Literal["max", "min"]


@dataclass(frozen=True)
class Outcome:
    """Truth and predictions for one split. For classification, labels are codes 0..k-1 into
    ``classes`` and ``proba`` has one column per class in the same order."""

    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None = None
    n_classes: int | None = None

    @classmethod
    def of(cls, y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None = None,
           classes: np.ndarray | None = None) -> Outcome:
        if classes is None:
            return cls(np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float))
        classes = np.asarray(classes)
        return cls(np.searchsorted(classes, y_true), np.searchsorted(classes, y_pred), proba, len(classes))

    def to_npz(self) -> bytes:
        """Plain arrays, loadable without pickle."""
        buf = io.BytesIO()
        arrays = {"y_true": self.y_true, "y_pred": self.y_pred}
        if self.proba is not None:
            arrays["proba"] = self.proba
        np.savez_compressed(buf, n_classes=np.array(self.n_classes or 0), **arrays)
        return buf.getvalue()

    @classmethod
    def from_npz(cls, data: bytes) -> Outcome:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            n_classes = int(f["n_classes"]) or None
            return cls(f["y_true"], f["y_pred"], f["proba"] if "proba" in f else None, n_classes)

    def take(self, index: np.ndarray, proba: bool = True) -> Outcome:
        """These rows only; ``proba=False`` skips copying probabilities a metric will not read."""
        return Outcome(self.y_true[index], self.y_pred[index],
                       self.proba[index] if proba and self.proba is not None else None, self.n_classes)


@dataclass(frozen=True)
class Metric:
    name: str
    task: Task
    direction: Direction
    needs_proba: bool
    fn: Callable[[Outcome], float]

    def __call__(self, o: Outcome) -> float:
        if self.needs_proba and o.proba is None:
            return float("nan")
        return float(self.fn(o))

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "max" else a < b


def _per_class_counts(o: Outcome) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = o.n_classes or 0
    tp = np.bincount(o.y_true[o.y_true == o.y_pred], minlength=k)
    return tp, np.bincount(o.y_true, minlength=k), np.bincount(o.y_pred, minlength=k)


def _balanced_accuracy(o: Outcome) -> float:
    tp, true, _ = _per_class_counts(o)
    present = true > 0  # as sklearn: classes absent from y_true do not count
    return float(np.mean(tp[present] / true[present]))


def _f1_macro(o: Outcome) -> float:
    tp, true, pred = _per_class_counts(o)
    seen = (true + pred) > 0  # as sklearn: labels present in y_true or y_pred; 0/0 counts as 0
    return float(np.mean(2 * tp[seen] / (true[seen] + pred[seen])))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties sharing their average rank (scipy's rankdata, without importing
    scipy.stats: that costs a second at every start of a step)."""
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    starts = np.flatnonzero(np.r_[True, sorted_x[1:] != sorted_x[:-1], True])  # tie groups, then n
    ranks = np.empty(len(x))
    ranks[order] = np.repeat((starts[:-1] + 1 + starts[1:]) / 2, np.diff(starts))
    return ranks


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")  # undefined on a one-class resample
    ranks = _average_ranks(score)  # Mann-Whitney U with average ranks for ties, as roc_auc_score
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _roc_auc(o: Outcome) -> float:
    assert o.proba is not None
    if o.proba.shape[1] == 2:
        return _binary_auc(o.y_true == 1, o.proba[:, 1])
    # one-vs-rest, macro average: sklearn's multi_class="ovr"
    return float(np.mean([_binary_auc(o.y_true == c, o.proba[:, c]) for c in range(o.proba.shape[1])]))


def _log_loss(o: Outcome) -> float:
    assert o.proba is not None
    proba = o.proba / o.proba.sum(axis=1, keepdims=True)
    eps = np.finfo(proba.dtype).eps
    return float(-np.mean(np.log(np.clip(proba[np.arange(len(o.y_true)), o.y_true], eps, 1 - eps))))


def _r2(o: Outcome) -> float:
    total = np.sum((o.y_true - o.y_true.mean()) ** 2)
    return float(1 - np.sum((o.y_true - o.y_pred) ** 2) / total) if total else float("nan")


REGISTRY: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("accuracy", "classification", "max", False, lambda o: np.mean(o.y_true == o.y_pred)),
        Metric("balanced_accuracy", "classification", "max", False, _balanced_accuracy),
        Metric("f1_macro", "classification", "max", False, _f1_macro),
        Metric("roc_auc", "classification", "max", True, _roc_auc),
        Metric("log_loss", "classification", "min", True, _log_loss),
        Metric("rmse", "regression", "min", False, lambda o: np.sqrt(np.mean((o.y_true - o.y_pred) ** 2))),
        Metric("mae", "regression", "min", False, lambda o: np.mean(np.abs(o.y_true - o.y_pred))),
        Metric("r2", "regression", "max", False, _r2),
    )
}

DEFAULTS: dict[Task, tuple[str, list[str]]] = {
    "classification": ("balanced_accuracy", ["accuracy", "f1_macro", "roc_auc", "log_loss"]),
    "regression": ("rmse", ["mae", "r2"]),
}


def for_task(task: Task) -> list[str]:
    return [name for name, m in REGISTRY.items() if m.task == task]


def scores(names: list[str], o: Outcome) -> dict[str, float | None]:
    """Each named metric; None where it cannot be computed (no probabilities, say)."""
    values = {name: REGISTRY[name](o) for name in names}
    return {name: None if np.isnan(v) else v for name, v in values.items()}


def _resamples(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The same row resamples for every model of a run (same seed), so that their intervals and
    their paired differences are computed on identical draws."""
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        yield rng.integers(0, n, n)


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float] | None:
    values = values[~np.isnan(values)]  # undefined draws (one class only, for ROC AUC) are dropped
    if values.size == 0:
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bootstrap_draws(metric: Metric, o: Outcome, *, resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """``metric`` on each resample of the rows (NaN where undefined). Every model of a run draws
    the same resamples, so draws of two models on the same rows can be subtracted."""
    if metric.needs_proba and o.proba is None:
        return np.full(resamples, np.nan)
    return np.array([metric(o.take(idx, proba=metric.needs_proba))
                     for idx in _resamples(len(o.y_true), resamples, seed)])


def bootstrap_ci(metric: Metric, o: Outcome, *, resamples: int = 1000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of ``metric`` over the rows of one split; None when no
    resample gives a value."""
    return _percentiles(bootstrap_draws(metric, o, resamples=resamples, seed=seed), level)


def same_rows(a: Outcome, b: Outcome) -> bool:
    return len(a.y_true) == len(b.y_true) and np.array_equal(a.y_true, b.y_true)


def difference_ci(a_draws: np.ndarray, b_draws: np.ndarray, level: float = 0.95) -> tuple[float, float] | None:
    """Interval of a − b from paired draws: both models scored on the same resampled rows.

    Pairing removes the variation the two models share (hard rows are hard for both), so this
    interval is much narrower than comparing two separate intervals.
    """
    return _percentiles(a_draws - b_draws, level)

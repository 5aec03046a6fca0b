"""Metric registry: every metric of measures.py (its task, its direction, what it needs from a
model), with how it is computed.

Metrics are plain numpy over an ``Outcome`` whose labels were encoded once, because the bootstrap
evaluates each metric a thousand times; sklearn's validated metric functions cost ~4 ms a call,
which made the confidence interval slower than most fits. A metric is defined on the rows of an
index matrix (one resample per row), so every metric scores a block of a few hundred resamples in
a handful of numpy calls.
tests/test_metrics.py checks every metric here against scikit-learn's own on real data.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from bakeoff.measures import CATALOG, MetricInfo


@dataclass(frozen=True)
class Outcome:
    """Truth and predictions for one split. For classification, labels are codes 0..k-1 into
    ``classes``, ``proba`` has one column per class in the same order, and ``decision`` holds
    ``decision_function``'s margins (one column per class) when there are no probabilities: they
    rank rows as well, which is all ROC AUC needs."""

    y_true: np.ndarray
    y_pred: np.ndarray
    proba: np.ndarray | None = None
    n_classes: int | None = None
    decision: np.ndarray | None = None

    @classmethod
    def of(cls, y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray | None = None,
           classes: np.ndarray | None = None, decision: np.ndarray | None = None) -> Outcome:
        if classes is None:
            return cls(np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float))
        classes = np.asarray(classes)
        return cls(np.searchsorted(classes, y_true), np.searchsorted(classes, y_pred), proba, len(classes),
                   None if proba is not None else per_class_margins(decision, len(classes)))

    @property
    def ranking(self) -> np.ndarray | None:
        """One score column per class that orders the rows: probabilities, else margins."""
        return self.proba if self.proba is not None else self.decision

    def to_npz(self) -> bytes:
        """Plain arrays, loadable without pickle."""
        buf = io.BytesIO()
        arrays = {"y_true": self.y_true, "y_pred": self.y_pred}
        for name in ("proba", "decision"):
            if getattr(self, name) is not None:
                arrays[name] = getattr(self, name)
        np.savez_compressed(buf, n_classes=np.array(self.n_classes or 0), **arrays)
        return buf.getvalue()

    @classmethod
    def from_npz(cls, data: bytes) -> Outcome:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            n_classes = int(f["n_classes"]) or None
            return cls(f["y_true"], f["y_pred"], f["proba"] if "proba" in f else None, n_classes,
                       f["decision"] if "decision" in f else None)


def per_class_margins(decision: np.ndarray | None, n_classes: int) -> np.ndarray | None:
    """``decision_function``'s output as one column per class: a binary margin ``d`` (the positive
    class's) becomes ``[-d, d]``; a one-vs-one layout (``decision_function_shape='ovo'``), whose
    columns are pairs of classes, cannot rank each class and gives None."""
    if decision is None:
        return None
    decision = np.asarray(decision, dtype=float)
    if decision.ndim == 1:
        return np.column_stack([-decision, decision]) if n_classes == 2 else None
    return decision if decision.shape[1] == n_classes else None


Rows = Callable[[Outcome, np.ndarray], np.ndarray]  # (outcome, index matrix) -> one value per row


@dataclass(frozen=True)
class Metric(MetricInfo):
    rows: Rows

    def __call__(self, o: Outcome) -> float:
        if not self.can_score(o):
            return float("nan")
        return float(self.rows(o, np.arange(len(o.y_true))[None, :])[0])

    def can_score(self, o: Outcome) -> bool:
        """Whether the predictions hold what this metric reads (ranking scores, probabilities)."""
        return {"labels": True, "scores": o.ranking is not None, "proba": o.proba is not None}[self.needs]

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "max" else a < b


def _per_class_counts(o: Outcome, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True positives, true and predicted counts of each class, one row per resample: from each
    resample's confusion matrix, counted in one pass over (true, predicted) cell codes."""
    k, n = o.n_classes or 0, len(idx)
    cells = (o.y_true * k + o.y_pred)[idx] + (np.arange(n) * k * k)[:, None]
    confusion = np.bincount(cells.ravel(), minlength=n * k * k).reshape(n, k, k)
    return np.diagonal(confusion, axis1=1, axis2=2), confusion.sum(axis=2), confusion.sum(axis=1)


def _accuracy(o: Outcome, idx: np.ndarray) -> np.ndarray:
    return np.mean((o.y_true == o.y_pred)[idx], axis=1)


def _mean_where(values: np.ndarray, where: np.ndarray) -> np.ndarray:
    """The mean of each row over the cells ``where`` holds."""
    return np.sum(np.where(where, values, 0.0), axis=1) / np.sum(where, axis=1)


def _balanced_accuracy(o: Outcome, idx: np.ndarray) -> np.ndarray:
    tp, true, _ = _per_class_counts(o, idx)
    present = true > 0  # as sklearn: classes absent from y_true do not count
    return _mean_where(tp / np.maximum(true, 1), present)


def _f1_macro(o: Outcome, idx: np.ndarray) -> np.ndarray:
    tp, true, pred = _per_class_counts(o, idx)
    seen = (true + pred) > 0  # as sklearn: labels present in y_true or y_pred; 0/0 counts as 0
    return _mean_where(2 * tp / np.maximum(true + pred, 1), seen)


def _rmse(o: Outcome, idx: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean((o.y_true[idx] - o.y_pred[idx]) ** 2, axis=1))


def _mae(o: Outcome, idx: np.ndarray) -> np.ndarray:
    return np.mean(np.abs(o.y_true[idx] - o.y_pred[idx]), axis=1)


def _r2(o: Outcome, idx: np.ndarray) -> np.ndarray:
    truth = o.y_true[idx]
    total = np.sum((truth - truth.mean(axis=1, keepdims=True)) ** 2, axis=1)
    residual = np.sum((truth - o.y_pred[idx]) ** 2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), np.nan)


def _binary_auc(positive: np.ndarray, score: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """ROC AUC of every resample at once (NaN where a resample holds one class only).

    A resample is a weighting of the original rows, so the scores are grouped once (equal scores
    share a group); each resample only counts its positives and negatives per group. A positive
    beats the negatives of lower groups and ties half of its own group's: Mann-Whitney U with
    ties counted half, as ``roc_auc_score``, without sorting a thousand times."""
    _, group = np.unique(score, return_inverse=True)  # groups in ascending score
    groups, n = int(group.max()) + 1, len(idx)
    cells = group[idx] + (np.arange(n) * groups)[:, None]
    picked = positive[idx]
    pos = np.bincount(cells[picked], minlength=n * groups).reshape(n, groups)
    neg = np.bincount(cells[~picked], minlength=n * groups).reshape(n, groups)
    lower = np.cumsum(neg, axis=1) - neg
    pairs = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pairs > 0, np.sum(pos * (lower + 0.5 * neg), axis=1) / np.where(pairs > 0, pairs, 1), np.nan)


def _roc_auc(o: Outcome, idx: np.ndarray) -> np.ndarray:
    """From probabilities, or from margins (only the order of the rows counts). Multiclass: one
    column per class against the rest, macro average (sklearn's multi_class="ovr" on
    probabilities, and its multilabel macro average on margins)."""
    scores = o.ranking
    assert scores is not None
    if scores.shape[1] == 2:
        return _binary_auc(o.y_true == 1, scores[:, 1], idx)
    return np.mean([_binary_auc(o.y_true == c, scores[:, c], idx) for c in range(scores.shape[1])], axis=0)


def _log_loss(o: Outcome, idx: np.ndarray) -> np.ndarray:
    """The mean of each row's own loss, so every resample averages losses computed once."""
    assert o.proba is not None
    proba = o.proba / o.proba.sum(axis=1, keepdims=True)
    eps = np.finfo(proba.dtype).eps
    losses = -np.log(np.clip(proba[np.arange(len(o.y_true)), o.y_true], eps, 1 - eps))
    return np.mean(losses[idx], axis=1)


_ROWS: dict[str, Rows] = {
    "accuracy": _accuracy,
    "balanced_accuracy": _balanced_accuracy,
    "f1_macro": _f1_macro,
    "roc_auc": _roc_auc,
    "log_loss": _log_loss,
    "rmse": _rmse,
    "mae": _mae,
    "r2": _r2,
}
REGISTRY: dict[str, Metric] = {name: Metric(**vars(info), rows=_ROWS[name]) for name, info in CATALOG.items()}


def scores(names: list[str], o: Outcome) -> dict[str, float | None]:
    """Each named metric; None where it cannot be computed (no probabilities, say)."""
    values = {name: REGISTRY[name](o) for name in names}
    return {name: None if np.isnan(v) else v for name, v in values.items()}


BLOCK_CELLS = 2_000_000  # indices drawn at once: a 16 MB matrix, whatever the split's size


def _resamples(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """The same row resamples for every model of a run (same seed), so that their intervals and
    their paired differences are computed on identical draws; in blocks, one resample a row
    (numpy draws a block exactly as it would draw its rows one after another)."""
    rng = np.random.default_rng(seed)
    block = max(1, BLOCK_CELLS // max(n, 1))
    for start in range(0, resamples, block):
        yield rng.integers(0, n, (min(block, resamples - start), n))


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
    return paired_draws(metric, [o], resamples=resamples, seed=seed)[0]


def paired_draws(metric: Metric, outcomes: list[Outcome], *, resamples: int = 1000,
                 seed: int = 0) -> list[np.ndarray]:
    """``bootstrap_draws`` of several models on the same rows, drawing each block of resamples
    once for all of them: comparing a run's models costs one draw, not one per model."""
    scored = [o for o in outcomes if metric.can_score(o)]
    if scored and not all(same_rows(o, scored[0]) for o in scored):
        raise ValueError("paired draws need every outcome on the same rows")
    blocks: dict[int, list[np.ndarray]] = {id(o): [] for o in scored}
    for block in _resamples(len(scored[0].y_true), resamples, seed) if scored else ():
        for o in scored:
            blocks[id(o)].append(metric.rows(o, block))
    return [np.concatenate(blocks[id(o)]) if id(o) in blocks else np.full(resamples, np.nan) for o in outcomes]


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

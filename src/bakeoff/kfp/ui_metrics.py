"""The metadata KFP's UI draws for a trained model: scalar metrics, a confusion matrix and ROC.

The shapes are those of ``kfp.dsl.Metrics`` and ``kfp.dsl.ClassificationMetrics``; they are
written here without importing kfp, because a train pod does not need kfp.
``result.json`` holds the scalars; the confusion matrix and ROC come from the test predictions
the train step saved beside it, so nothing is predicted twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bakeoff.records import ModelResult, Schema
    from bakeoff.storage import ObjectStore

# The UI draws every point it gets; a few hundred are plenty for a curve.
MAX_ROC_POINTS = 200


def scalar_metrics(result: ModelResult) -> dict[str, float]:
    """``test_<metric>``, ``valid_<metric>`` and timings, for ``Output[Metrics]``."""
    out = {f"{split}_{name}": value
           for split, values in result.metrics.items()
           for name, value in values.items() if value is not None}
    for key, value in (("fit_seconds", result.fit_seconds), ("predict_seconds", result.predict_seconds)):
        if value is not None:
            out[key] = value
    return out


def _confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict[str, Any]:
    counts = np.zeros((len(labels), len(labels)), dtype=int)
    np.add.at(counts, (y_true, y_pred), 1)
    return {"annotationSpecs": [{"displayName": label} for label in labels],
            "rows": [{"row": row.tolist()} for row in counts]}


def _roc(y_true: np.ndarray, scores: np.ndarray) -> list[dict[str, float]]:
    """The positive class's curve when binary; the micro-averaged one-vs-rest curve otherwise.
    ``scores``: probabilities, or margins for a model without them (the thresholds are margins then)."""
    from sklearn.metrics import roc_curve

    if scores.shape[1] == 2:
        fpr, tpr, thresholds = roc_curve(y_true == 1, scores[:, 1])
    else:
        onehot = np.eye(scores.shape[1], dtype=bool)[y_true]
        fpr, tpr, thresholds = roc_curve(onehot.ravel(), scores.ravel())
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), MAX_ROC_POINTS)).round().astype(int))
    # sklearn's first threshold is +inf ("nothing is positive"); JSON has no inf: the highest score
    # stands in (1 for probabilities, which top out there; the largest margin otherwise).
    top = max(1.0, float(np.max(thresholds[np.isfinite(thresholds)], initial=1.0)))
    thresholds = np.where(np.isinf(thresholds), top, thresholds)
    return [{"confidenceThreshold": float(thresholds[i]), "recall": float(tpr[i]),
             "falsePositiveRate": float(fpr[i])} for i in keep]


def classification_metrics(store: ObjectStore, table: Schema, result: ModelResult) -> dict[str, Any]:
    """Confusion matrix and ROC on the test split for ``Output[ClassificationMetrics]``.

    Empty for a regression, which has neither, and when the predictions cannot be read.
    """
    from bakeoff.records import load_outcome

    if table.task != "classification" or table.classes is None:
        return {}
    outcome = load_outcome(store, result)
    if outcome is None:
        return {}
    labels = [str(c) for c in table.classes]  # the codes in outcome index these, sorted as sklearn's classes_
    out: dict[str, Any] = {"confusionMatrix": _confusion_matrix(outcome.y_true, outcome.y_pred, labels)}
    if outcome.ranking is not None:
        out["confidenceMetrics"] = _roc(outcome.y_true, outcome.ranking)
    return out

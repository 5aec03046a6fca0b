"""The metadata KFP's UI draws for a trained model: scalar metrics, a confusion matrix and ROC.

The shapes are those of ``kfp.dsl.Metrics`` and ``kfp.dsl.ClassificationMetrics``; they are
written here without importing kfp, because a train pod does not need kfp.
``result.json`` holds the scalars; the confusion matrix and ROC are the diagnostics the train step
stored (diagnostics.py), so KFP shows the numbers the report, the app and MLflow show.
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


def _roc(curves: list[dict[str, Any]]) -> list[dict[str, float]]:
    """KFP's one ROC curve: the positive class's when binary, the one-vs-rest macro average
    otherwise (``diagnostics.macro_roc``: its area is the leaderboard's ROC AUC). KFP wants a
    threshold for every point and shows it as the point's label; an averaged point's is the
    classes' mean threshold there."""
    from bakeoff.diagnostics import macro_roc, thin

    curve = macro_roc(curves)
    (fpr, tpr, thresholds), _ = thin(*(np.asarray(curve[k]) for k in ("fpr", "tpr", "thresholds")),
                                     most=MAX_ROC_POINTS)
    return [{"confidenceThreshold": float(t), "recall": float(r), "falsePositiveRate": float(f)}
            for f, r, t in zip(fpr, tpr, thresholds)]


def classification_metrics(store: ObjectStore, table: Schema, result: ModelResult) -> dict[str, Any]:
    """Confusion matrix and ROC on the test split for ``Output[ClassificationMetrics]``.

    Empty for a regression, which has neither, and when the diagnostics cannot be read; without
    ROC for a model that ranks nothing.
    """
    from bakeoff import diagnostics

    if table.task != "classification" or table.classes is None:
        return {}
    found = diagnostics.load(store, result)
    if "confusion" not in found:
        return {}
    confusion = found["confusion"]
    out: dict[str, Any] = {"confusionMatrix": {
        "annotationSpecs": [{"displayName": label} for label in confusion["labels"]],
        "rows": [{"row": row} for row in confusion["counts"]]}}
    curves = (found.get("roc") or {}).get("curves")
    if curves and all("thresholds" in c for c in curves):  # stored before thresholds were: no ROC
        out["confidenceMetrics"] = _roc(curves)
    return out

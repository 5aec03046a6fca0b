"""What each metric is, without computing any: its task, whether higher is better, what it needs
from a model (labels, ranking scores or probabilities), its bounds, and the defaults per task.

Apart from metrics.py (which computes them, with numpy) so that validating a config, which only
names metrics, imports no numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bakeoff.catalog import Task

Direction = Literal["max", "min"]
# What a metric reads from a classifier besides its labels. ROC AUC only ranks rows, so a margin
# (``decision_function``: SVC's default, RidgeClassifier's) serves as well as a probability;
# log loss needs probabilities that sum to 1.
Needs = Literal["labels", "scores", "proba"]
METHODS: dict[Needs, tuple[str, ...]] = {"labels": (), "scores": ("predict_proba", "decision_function"),
                                         "proba": ("predict_proba",)}


@dataclass(frozen=True)
class MetricInfo:
    name: str
    task: Task
    direction: Direction
    needs: Needs
    bounds: tuple[float | None, float | None]  # the values it can take (None: unbounded), for chart axes

    @property
    def methods(self) -> tuple[str, ...]:
        """The estimator methods of which one must exist for a model to give this metric."""
        return METHODS[self.needs]


CATALOG: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("accuracy", "classification", "max", "labels", (0.0, 1.0)),
        MetricInfo("balanced_accuracy", "classification", "max", "labels", (0.0, 1.0)),
        MetricInfo("f1_macro", "classification", "max", "labels", (0.0, 1.0)),
        MetricInfo("roc_auc", "classification", "max", "scores", (0.0, 1.0)),
        MetricInfo("log_loss", "classification", "min", "proba", (0.0, None)),
        MetricInfo("rmse", "regression", "min", "labels", (0.0, None)),
        MetricInfo("mae", "regression", "min", "labels", (0.0, None)),
        MetricInfo("r2", "regression", "max", "labels", (None, 1.0)),
    )
}

DEFAULTS: dict[Task, tuple[str, list[str]]] = {
    "classification": ("balanced_accuracy", ["accuracy", "f1_macro", "roc_auc", "log_loss"]),
    "regression": ("rmse", ["mae", "r2"]),
}


def for_task(task: Task) -> list[str]:
    return [name for name, m in CATALOG.items() if m.task == task]


def bounds(metric: str) -> tuple[float | None, float | None]:
    """The values ``metric`` can take, for a chart's axis; unbounded when it is not ours."""
    return CATALOG[metric].bounds if metric in CATALOG else (None, None)

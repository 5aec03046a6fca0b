"""What each metric is, without computing any: its task, whether higher is better, whether it
needs probabilities, and the defaults per task.

Apart from metrics.py (which computes them, with numpy) so that validating a config, which only
names metrics, imports no numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bakeoff.catalog import Task

Direction = Literal["max", "min"]


@dataclass(frozen=True)
class MetricInfo:
    name: str
    task: Task
    direction: Direction
    needs_proba: bool


CATALOG: dict[str, MetricInfo] = {
    m.name: m
    for m in (
        MetricInfo("accuracy", "classification", "max", False),
        MetricInfo("balanced_accuracy", "classification", "max", False),
        MetricInfo("f1_macro", "classification", "max", False),
        MetricInfo("roc_auc", "classification", "max", True),
        MetricInfo("log_loss", "classification", "min", True),
        MetricInfo("rmse", "regression", "min", False),
        MetricInfo("mae", "regression", "min", False),
        MetricInfo("r2", "regression", "max", False),
    )
}

DEFAULTS: dict[Task, tuple[str, list[str]]] = {
    "classification": ("balanced_accuracy", ["accuracy", "f1_macro", "roc_auc", "log_loss"]),
    "regression": ("rmse", ["mae", "r2"]),
}


def for_task(task: Task) -> list[str]:
    return [name for name, m in CATALOG.items() if m.task == task]

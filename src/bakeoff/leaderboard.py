"""Ranking of model results on the primary test metric.

Models that failed, or never wrote a result, stay on the board below the ranked ones: a bake-off
that hides its failures is not a fair comparison.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from bakeoff.metrics import REGISTRY


@dataclass
class Row:
    model: str
    estimator: str
    status: str  # ok | failed | missing
    rank: int | None = None
    primary: float | None = None
    ci: tuple[float, float] | None = None
    valid_primary: float | None = None
    test: dict[str, float | None] = field(default_factory=dict)
    fit_seconds: float | None = None
    predict_seconds: float | None = None
    cached: bool = False
    error: str | None = None


@dataclass
class Leaderboard:
    run_id: str
    experiment: str
    task: str
    primary: str
    direction: str
    metrics: list[str]
    rows: list[Row]

    @property
    def leader(self) -> Row | None:
        return self.rows[0] if self.rows and self.rows[0].rank == 1 else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Leaderboard:
        rows = [Row(**{**r, "ci": tuple(r["ci"]) if r.get("ci") else None}) for r in d["rows"]]
        return cls(**{**d, "rows": rows})

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from bakeoff.report import rich_table

        yield rich_table(self, width=options.max_width)


def _row(name: str, estimator: str, result: dict[str, Any] | None, primary: str) -> Row:
    if result is None:
        return Row(name, estimator, "missing", error="no result.json; the train step never finished")
    if result["status"] != "ok":
        return Row(name, estimator, "failed", error=result.get("error"),
                   fit_seconds=result.get("fit_seconds"))
    test = result["metrics"]["test"]
    ci = result.get("ci")
    return Row(
        name, estimator, "ok",
        primary=test.get(primary),
        ci=tuple(ci) if ci and not any(math.isnan(c) for c in ci) else None,
        valid_primary=result["metrics"]["valid"].get(primary),
        test=test,
        fit_seconds=result.get("fit_seconds"),
        predict_seconds=result.get("predict_seconds"),
        cached=bool(result.get("cached_from")),
    )


def build(run_id: str, experiment: str, task: str, primary: str, others: list[str],
          models: list[tuple[str, str, dict[str, Any] | None]]) -> Leaderboard:
    """Rank ``(name, estimator, result-or-None)`` triples; ties keep config order."""
    metric = REGISTRY[primary]
    rows = [_row(name, est, result, primary) for name, est, result in models]
    scored = [r for r in rows if r.status == "ok" and r.primary is not None]
    sign = -1 if metric.direction == "max" else 1
    scored.sort(key=lambda r: sign * r.primary)  # type: ignore[operator]
    for i, r in enumerate(scored, start=1):
        r.rank = i
    rest = [r for r in rows if r not in scored]
    return Leaderboard(run_id, experiment, task, primary, metric.direction, [primary, *others],
                       scored + rest)

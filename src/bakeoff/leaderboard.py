"""Ranking of model results on the primary test metric, with honest comparisons to the leader.

Models that failed, or never wrote a result, stay on the board below the ranked ones: a bake-off
that hides its failures is not a fair comparison.

The metrics (numpy) are imported where a board is built, not where one is read: `bakeoff runs`
and `bakeoff report` only read, and answer at once.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bakeoff.metrics import Outcome
    from bakeoff.records import ModelResult


@dataclass
class Row:
    model: str
    estimator: str
    status: str  # ok | failed | missing
    rank: int | None = None
    primary: float | None = None
    ci: tuple[float, float] | None = None
    vs_leader: tuple[float, float] | None = None  # paired 95% CI of (this − leader) on the test rows
    tied: bool | None = None  # vs_leader contains 0: not distinguishable from the leader
    valid_primary: float | None = None
    overfit: bool = False  # validation score better than the whole test interval
    test: dict[str, float | None] = field(default_factory=dict)
    fit_seconds: float | None = None
    predict_ms_per_1k: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    preprocessing: str = ""  # preprocess.Plan's summary: how the columns reached the estimator
    run_id: str | None = None
    cached: bool = False
    error: str | None = None


@dataclass
class Front:
    """The models no other model beats on both the test score and one cost (predict latency or
    fit time): the only ones worth weighing when that cost matters. ``pick`` is the cheapest
    model the test split cannot tell from the leader, when it is not the leader: a model 0.001
    better but 20 times slower to predict is rarely the one to ship."""

    cost: str  # the Row field: predict_ms_per_1k or fit_seconds
    unit: str
    models: list[str]  # on the front, cheapest first
    pick: str | None = None
    note: str = ""


COSTS = {"predict": ("predict_ms_per_1k", "ms per 1k rows"), "fit": ("fit_seconds", "s")}
CHEAPER = 2.0  # timings move by tens of percent between runs: name a pick only at half the cost or less


@dataclass
class Leaderboard:
    run_id: str
    experiment: str
    task: str
    primary: str
    direction: str
    metrics: list[str]
    rows: list[Row]
    registered: dict[str, Any] | None = None  # the champion's model-registry entry, when tracked
    data_notes: list[str] = field(default_factory=list)  # rows dropped, ID-like columns (data.data_notes)
    fronts: dict[str, Front] = field(default_factory=dict)  # by cost: "predict", "fit" (see ``front``)

    @property
    def leader(self) -> Row | None:
        return self.rows[0] if self.rows and self.rows[0].rank == 1 else None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Leaderboard:
        """Read a stored leaderboard; fields this version does not know are ignored, so an
        older or newer bakeoff's leaderboard.json still reads."""
        known = {f.name for f in fields(Row)}

        def row(r: dict[str, Any]) -> Row:
            pairs = {k: tuple(r[k]) if r.get(k) else None for k in ("ci", "vs_leader")}
            return Row(**{k: v for k, v in {**r, **pairs}.items() if k in known})

        known_board = {f.name for f in fields(cls)}
        front_fields = {f.name for f in fields(Front)}
        stored_fronts = {k: Front(**{f: v for f, v in front.items() if f in front_fields})
                         for k, front in (d.get("fronts") or {}).items()}
        return cls(**{**{k: v for k, v in d.items() if k in known_board}, "rows": [row(r) for r in d["rows"]],
                      "fronts": stored_fronts})

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from bakeoff.report import rich_table

        yield rich_table(self, width=options.max_width)


def _finite(pair: Any) -> tuple[float, float] | None:
    return tuple(pair) if pair and not any(math.isnan(v) for v in pair) else None  # type: ignore[return-value]


def row_from_result(name: str, estimator: str, result: ModelResult | None, primary: str) -> Row:
    from bakeoff.metrics import REGISTRY

    if result is None:
        return Row(name, estimator, "missing", error="no result: its train step never finished")
    if not result.ok:
        return Row(name, estimator, "failed", error=result.error, fit_seconds=result.fit_seconds,
                   params=result.params, cached=result.cached,
                   preprocessing=result.preprocessing.get("summary", ""))
    test = result.metrics.get("test") or {}
    row = Row(
        name, estimator, "ok",
        primary=test.get(primary),
        ci=_finite(result.ci),
        valid_primary=result.score(primary, "valid"),
        test=test,
        fit_seconds=result.fit_seconds,
        predict_ms_per_1k=1e6 * result.predict_seconds / result.predict_rows
        if result.predict_rows and result.predict_seconds is not None else None,
        params=result.params,
        preprocessing=result.preprocessing.get("summary", ""),
        cached=result.cached,
    )
    if row.ci and row.valid_primary is not None:
        low, high = row.ci
        better_than_all = row.valid_primary > high if REGISTRY[primary].direction == "max" else row.valid_primary < low
        row.overfit = bool(better_than_all)
    return row


def rank(rows: list[Row], primary: str) -> list[Row]:
    """Scored rows best first (ties keep their order), then failed and missing ones."""
    from bakeoff.metrics import REGISTRY

    scored = [r for r in rows if r.status == "ok" and r.primary is not None]
    sign = -1 if REGISTRY[primary].direction == "max" else 1
    scored.sort(key=lambda r: sign * r.primary)  # type: ignore[operator]
    for i, r in enumerate(scored, start=1):
        r.rank = i
    return scored + [r for r in rows if r not in scored]


def build(run_id: str, experiment: str, task: str, metrics: list[str],
          models: list[tuple[str, str, ModelResult | None]], outcomes: dict[str, Outcome],
          *, seed: int = 0) -> Leaderboard:
    """Rank ``(name, estimator, result-or-None)`` triples on ``metrics[0]``, then compare each to
    the leader on the same bootstrap resamples of the test rows (``outcomes``: test predictions
    by model name)."""
    from bakeoff.metrics import REGISTRY

    primary = metrics[0]
    rows = rank([row_from_result(name, est, result, primary) for name, est, result in models], primary)
    _compare_to_leader(rows, outcomes, primary, seed=seed)
    direction = REGISTRY[primary].direction
    return Leaderboard(run_id, experiment, task, primary, direction, list(metrics), rows,
                       fronts={name: front(rows, name, direction) for name in COSTS})


def front(rows: list[Row], cost_name: str, direction: str) -> Front:
    """The non-dominated ranked rows on (score, cost): none other has a score at least as good
    and a cost at most as high, one of them strictly. Pure, on the rows' point estimates."""
    cost, unit = COSTS[cost_name]
    sign = 1 if direction == "max" else -1
    scored = [r for r in rows if r.rank and r.primary is not None and getattr(r, cost) is not None]

    def dominated(r: Row) -> bool:
        return any(sign * o.primary >= sign * r.primary and getattr(o, cost) <= getattr(r, cost)
                   and (sign * o.primary > sign * r.primary or getattr(o, cost) < getattr(r, cost))
                   for o in scored if o is not r)

    on = sorted((r for r in scored if not dominated(r)), key=lambda r: getattr(r, cost))
    leader = next((r for r in scored if r.rank == 1), None)
    pick = next((r for r in on if r.tied), None)  # the cheapest on the front that ties the leader
    if leader is None or pick is None or getattr(pick, cost) * CHEAPER > getattr(leader, cost):
        return Front(cost, unit, [r.model for r in on])
    spent, leader_spent = getattr(pick, cost), getattr(leader, cost)
    note = (f"best within {spent:.3g} {unit}: {pick.model}, tied with the leader {leader.model} "
            f"({leader_spent:.3g} {unit}, {leader_spent / spent:.1f}× the cost)" if spent > 0 else
            f"best at no measurable cost: {pick.model}, tied with the leader {leader.model}")
    return Front(cost, unit, [r.model for r in on], pick.model, note)


def _compare_to_leader(rows: list[Row], outcomes: dict[str, Outcome], primary: str, *, seed: int = 0) -> None:
    """Set ``vs_leader`` and ``tied`` on every ranked row whose test predictions are known."""
    from bakeoff.metrics import REGISTRY, difference_ci, paired_draws, same_rows

    leader = rows[0] if rows and rows[0].rank == 1 else None
    if leader is None or leader.model not in outcomes:
        return
    best = outcomes[leader.model]
    others = [r for r in rows[1:] if r.rank and r.model in outcomes and same_rows(outcomes[r.model], best)]
    leader_draws, *draws = paired_draws(REGISTRY[primary], [best, *(outcomes[r.model] for r in others)], seed=seed)
    for r, own in zip(others, draws):
        r.vs_leader = difference_ci(own, leader_draws)
        r.tied = None if r.vs_leader is None else r.vs_leader[0] <= 0 <= r.vs_leader[1]

"""Past runs read back from the store: one leaderboard over several runs.

Runs on the same prepared data share their test rows, so models from different runs can still
be compared to the leader on paired resamples; otherwise only their own intervals are shown.
"""

from __future__ import annotations

from typing import Any

from bakeoff import leaderboard, records
from bakeoff.errors import UserError
from bakeoff.runs import Run


def _differing(params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep only the keys whose values are not the same in every row: what changed between runs."""
    keys = {k for p in params for k in p}
    varying = {k for k in keys if len({repr(p.get(k)) for p in params}) > 1}
    return [{k: v for k, v in p.items() if k in varying} for p in params]


def compare_runs(runs: list[Run]) -> leaderboard.Leaderboard:
    boards = [run.finished_leaderboard() for run in runs]
    first = boards[0]
    for board in boards[1:]:
        if (board.task, board.primary) != (first.task, first.primary):
            raise UserError(f"RUN: run {board.run_id} ranks {board.task} by {board.primary} but run "
                            f"{first.run_id} by {first.primary}; compare runs of the same kind")
    rows, outcomes = [], {}
    for run, board in zip(runs, boards):
        for row in board.rows:
            key = f"{row.model}@{run.run_id}"
            row.run_id, row.vs_leader, row.tied, row.rank = run.run_id, None, None, None
            result = run.result(row.model) if row.status == "ok" else None
            if result is not None:
                if (outcome := records.load_outcome(run.store, result)) is not None:
                    outcomes[key] = outcome
                row.params = result.params
            rows.append((key, row))
    for name in {row.model for _, row in rows}:  # a model's params, compared with its other runs
        same_model = [row for _, row in rows if row.model == name]
        for row, params in zip(same_model, _differing([{"estimator": r.estimator, **r.params} for r in same_model])):
            row.params = params
    ranked = leaderboard.rank([row for _, row in rows], first.primary)
    keyed = {id(row): key for key, row in rows}
    leaderboard.compare_to_leader(ranked, {keyed[id(r)]: outcomes[keyed[id(r)]] for r in ranked
                                           if keyed[id(r)] in outcomes}, first.primary,
                                  key=lambda r: keyed[id(r)])
    return leaderboard.Leaderboard(", ".join(r.run_id for r in runs), first.experiment, first.task,
                                   first.primary, first.direction, first.metrics, ranked)

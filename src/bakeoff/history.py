"""Past runs read back from the store: one leaderboard over several runs, and how to name a run.

Runs on the same prepared data share their test rows, so models from different runs can still
be compared to the leader on paired resamples; otherwise only their own intervals are shown.
"""

from __future__ import annotations

from typing import Any

from bakeoff import leaderboard, records
from bakeoff.errors import UserError
from bakeoff.runs import Run, started
from bakeoff.yamlfile import load_yaml


def label(run: Run, board: leaderboard.Leaderboard | None) -> str:
    """A run as a person picks it from a list: ``wine · 4 models · best roc_auc 0.9913 (forest) ·
    2026-12-02 07:30 UTC · <run id>``. A run that has not finished says so, with its config's
    experiment and models (read as YAML only: validating would import every estimator).
    ``board`` is the run's leaderboard, or None before compare has written it."""
    when = started(run.run_id)
    tail = [f"{when:%Y-%m-%d %H:%M} UTC"] if when else []
    if board is None:
        config = load_yaml(run.store.read_bytes(run.key("config.yaml")).decode("utf-8"), run.uri)
        models = config.get("models") if isinstance(config, dict) else None
        name = config.get("experiment") if isinstance(config, dict) else None
        return " · ".join([str(name or "?"), f"{len(models) if isinstance(models, list) else '?'} models",
                           "not finished", *tail, run.run_id])
    leader = board.leader
    best = (f"best {board.primary} {leader.primary:.4f} ({leader.model})"
            if leader is not None and leader.primary is not None else "no model finished")
    return " · ".join([board.experiment, f"{len(board.rows)} models", best, *tail, run.run_id])


def _differing(params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep only the keys whose values are not the same in every row: what changed between runs."""
    keys = {k for p in params for k in p}
    varying = {k for k in keys if len({repr(p.get(k)) for p in params}) > 1}
    return [{k: v for k, v in p.items() if k in varying} for p in params]


def compare_runs(runs: list[Run]) -> leaderboard.Leaderboard:
    """One leaderboard over the models of several runs, built as a run's own is."""
    boards = [run.finished_leaderboard() for run in runs]
    first = boards[0]
    for board in boards[1:]:
        if (board.task, board.primary) != (first.task, first.primary):
            raise UserError(f"RUN: run {board.run_id} ranks {board.task} by {board.primary} but run "
                            f"{first.run_id} by {first.primary}; compare runs of the same kind")
    models, outcomes, owners = [], {}, {}
    for run, board in zip(runs, boards):
        for row in board.rows:
            key = f"{row.model}@{run.run_id}"  # unique across runs while it is ranked
            result = run.result(row.model)
            models.append((key, row.estimator, result))
            owners[key] = (row.model, run.run_id)
            if result is not None and result.ok and (outcome := records.load_outcome(run.store, result)):
                outcomes[key] = outcome
    merged = leaderboard.build(", ".join(r.run_id for r in runs), first.experiment, first.task, first.metrics,
                               models, outcomes, seed=runs[0].prepared().context.seed)
    for row in merged.rows:
        row.model, row.run_id = owners[row.model]
    for name in {row.model for row in merged.rows}:  # a model's params, compared with its other runs
        same_model = [row for row in merged.rows if row.model == name]
        for row, params in zip(same_model, _differing([{"estimator": r.estimator, **r.params} for r in same_model])):
            row.params = params
    return merged

"""Honest comparisons: paired intervals against the leader, ties, overfitting, cross-run views."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import yaml

from bakeoff import leaderboard
from bakeoff.metrics import REGISTRY, Outcome, bootstrap_ci, bootstrap_draws, difference_ci, same_rows
from bakeoff.records import ModelResult
from conftest import ExampleRun, bakeoff

rng = np.random.default_rng(0)
Y = rng.integers(0, 2, 400)


def noisy(accuracy: float, seed: int) -> Outcome:
    r = np.random.default_rng(seed)
    flip = r.random(len(Y)) > accuracy
    return Outcome.of(Y, np.where(flip, 1 - Y, Y), None, np.array([0, 1]))


def result(o: Outcome, valid: float | None = None) -> ModelResult:
    acc = REGISTRY["accuracy"](o)
    return ModelResult("m", "X", "ok", metrics={"test": {"accuracy": acc}, "valid": {"accuracy": valid or acc}},
                       ci=bootstrap_ci(REGISTRY["accuracy"], o), fit_seconds=1.0, predict_seconds=0.002,
                       predict_rows=400)


def paired(a: Outcome, b: Outcome) -> tuple[float, float] | None:
    """The leaderboard's paired comparison: both models' draws on the same resamples, subtracted."""
    if not same_rows(a, b):
        return None
    return difference_ci(bootstrap_draws(REGISTRY["accuracy"], a), bootstrap_draws(REGISTRY["accuracy"], b))


def test_paired_interval_of_a_model_against_itself_is_zero() -> None:
    o = noisy(0.8, 1)
    assert paired(o, o) == (0.0, 0.0)


def test_paired_interval_is_narrower_than_the_separate_ones() -> None:
    a = noisy(0.80, 1)
    b = Outcome(a.y_true, a.y_pred.copy(), None, 2)
    b.y_pred[:8] = 1 - b.y_pred[:8]  # b differs from a on 8 of 400 rows only
    low, high = paired(b, a)
    ci_a = bootstrap_ci(REGISTRY["accuracy"], a)
    assert high - low < (ci_a[1] - ci_a[0]) / 2


def test_ties_clear_losers_and_overfitting_are_marked() -> None:
    best, close, poor = noisy(0.90, 1), noisy(0.895, 2), noisy(0.70, 3)
    models = [("poor", "X", result(poor)), ("best", "X", result(best, valid=0.99)), ("close", "X", result(close)),
              ("broken", "X", ModelResult("broken", "X", "failed", error="ValueError: boom")), ("gone", "X", None)]
    board = leaderboard.build("r", "e", "classification", ["accuracy"], models,
                              {"best": best, "close": close, "poor": poor})
    rows = {r.model: r for r in board.rows}
    assert [r.model for r in board.rows] == ["best", "close", "poor", "broken", "gone"]
    assert rows["close"].tied is True and rows["poor"].tied is False and rows["poor"].vs_leader[1] < 0
    assert rows["best"].overfit and not rows["close"].overfit
    assert rows["broken"].status == "failed" and rows["gone"].status == "missing" and rows["gone"].rank is None
    assert rows["best"].predict_ms_per_1k == pytest.approx(5.0)


def test_models_on_different_test_rows_are_not_paired() -> None:
    a = noisy(0.9, 1)
    shorter = Outcome(a.y_true[:-1], a.y_pred[:-1], None, 2)
    assert paired(a, shorter) is None


@pytest.mark.slow
def test_compare_two_runs_shows_what_differs(example_run: Callable[[str], ExampleRun], tmp_path: Path) -> None:
    config = example_run("diabetes").copy_to(tmp_path / "diabetes")  # run once, exit 0
    exp = yaml.safe_load(config.read_text())
    exp["models"][0]["params"]["alpha"] = 50.0
    config.write_text(yaml.safe_dump(exp))
    assert bakeoff("run", str(config), cwd=config.parent).code == 0
    first, second = sorted(p.name for p in (config.parent / ".bakeoff" / "runs").iterdir())
    shown = bakeoff("compare", first, second, cwd=config.parent)
    assert shown.code == 0, shown.stderr
    lines = [line for line in shown.stdout.splitlines() if "ridge" in line]
    assert any("alpha=50.0" in line and second in line for line in lines)
    assert any("alpha=1.0" in line and first in line for line in lines)
    assert not any("alpha" in line for line in shown.stdout.splitlines() if "lasso" in line)
    board = json.loads((config.parent / ".bakeoff" / "runs" / second / "leaderboard.json").read_text())
    assert sum(r["tied"] is not None for r in board["rows"]) == 3  # every non-leader was paired
    alone = bakeoff("compare", first, cwd=config.parent)
    assert alone.code == 2 and "at least two runs" in alone.stderr


def test_leaderboard_reads_files_from_other_versions(tmp_path: Path) -> None:
    stored = {"run_id": "r", "experiment": "e", "task": "regression", "primary": "rmse", "direction": "min",
              "metrics": ["rmse"], "rows": [{"model": "m", "estimator": "Ridge", "status": "ok", "rank": 1,
                                             "primary": 1.0, "ci": [0.9, 1.1], "a_future_field": 3}]}
    board = leaderboard.Leaderboard.from_dict(stored)
    assert board.rows[0].ci == (0.9, 1.1) and board.leader.model == "m"

"""Ties and failures visible wherever the board is shown, and chart axes that fit their
intervals and the metric's bounds: checked on the rendered text and the chart's own numbers."""

from __future__ import annotations

import re

import numpy as np
import pytest
from rich.console import Console

from bakeoff import leaderboard, report
from bakeoff.metrics import REGISTRY, Outcome, bootstrap_ci
from bakeoff.records import ModelResult
from bakeoff.svg import axis

Y = np.random.default_rng(0).integers(0, 2, 400)


def noisy(accuracy: float, seed: int) -> Outcome:
    flip = np.random.default_rng(seed).random(len(Y)) > accuracy
    return Outcome.of(Y, np.where(flip, 1 - Y, Y), None, np.array([0, 1]))


def result(o: Outcome) -> ModelResult:
    acc = REGISTRY["accuracy"](o)
    return ModelResult("m", "X", "ok", metrics={"test": {"accuracy": acc}, "valid": {"accuracy": acc}},
                       ci=bootstrap_ci(REGISTRY["accuracy"], o), fit_seconds=1.0, predict_seconds=0.002,
                       predict_rows=400)


@pytest.fixture(scope="module")
def board() -> leaderboard.Leaderboard:
    best, close, poor = noisy(0.985, 1), noisy(0.98, 2), noisy(0.70, 3)
    failed = ModelResult("catnb", "CategoricalNB", "failed", error="ValueError: Negative values in data passed "
                         "to CategoricalNB (input X)")
    models = [("best", "LogisticRegression", result(best)), ("close", "SVC", result(close)),
              ("poor", "GaussianNB", result(poor)), ("catnb", "CategoricalNB", failed)]
    return leaderboard.build("r1", "cancer", "classification", ["accuracy"], models,
                             {"best": best, "close": close, "poor": poor})


def test_a_tied_model_has_a_badge_beside_its_rank_and_every_view_says_what_tied_means(board) -> None:  # noqa: ANN001
    rows = {r.model: r for r in board.rows}
    assert rows["close"].tied and not rows["poor"].tied
    md = report.to_markdown(board)
    assert re.search(r"^\| 2 tied \| close \|", md, re.M) and re.search(r"^\| 3 \| poor \|", md, re.M)
    page = report.to_html(board)
    assert re.search(r'<td class="rank">2 <span class="badge"[^>]*>tied</span></td><td class="model">close', page)
    term = _terminal(board, 200)
    assert re.search(r"2 tied\s*┃?│?\s*close", term)
    for text in (md, page, term):
        flat = " ".join(text.split())
        assert "cannot tell this model from the leader" in flat and "(this model − the leader)" in flat


def test_the_difference_to_the_leader_reads_as_a_range(board) -> None:  # noqa: ANN001
    from dataclasses import replace

    poor = next(r for r in board.rows if r.model == "poor")
    assert report._diff(replace(poor, vs_leader=(-0.0081, 0.0084))) == "−0.008 to +0.008"
    assert report._diff(replace(poor, vs_leader=(-0.25, -0.0104))) == "−0.250 to −0.010"


def test_failure_reasons_are_in_the_banner_of_every_view(board) -> None:  # noqa: ANN001
    reason = "ValueError: Negative values in data passed to CategoricalNB (input X)"
    assert report.failures(board) == [f"catnb (CategoricalNB) failed: {reason}"]
    assert f"- **Did not finish**: catnb (CategoricalNB) failed: {reason}" in report.to_markdown(board)
    page = report.to_html(board)
    assert page.index("did not finish</b>") < page.index("<h2>Leaderboard") and reason in page
    assert f"1 model(s) did not finish: catnb (CategoricalNB) failed: {reason}" in " ".join(
        _terminal(board, 400).split())


def _terminal(board: leaderboard.Leaderboard, width: int) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(board)
    return console.export_text()


@pytest.mark.parametrize(("values", "bounds"), [
    ([0.982, 1.0, 0.991, 0.95, 0.97], (0.0, 1.0)),  # the interval that ran past the edge
    ([0.999, 1.0, 1.0], (0.0, 1.0)),
    ([0.0, 0.01, 0.003], (0.0, 1.0)),
    ([-0.4, 0.62, 0.3], (None, 1.0)),  # r2 has no lower bound
    ([51.2, 63.8, 58.0], (0.0, None)),  # rmse
    ([0.5, 0.5], (0.0, 1.0)),  # one point, no width
])
def test_a_chart_axis_holds_every_interval_stays_in_the_metrics_bounds_and_has_round_gridlines(
        values: list[float], bounds: tuple) -> None:
    fit = axis(values, bounds)
    assert fit.low <= min(values) and max(values) <= fit.high and fit.low < fit.high
    assert (bounds[0] is None or fit.low >= bounds[0]) and (bounds[1] is None or fit.high <= bounds[1])
    steps = np.diff(fit.ticks)
    assert 3 <= len(fit.ticks) <= 12 and np.allclose(steps, steps[0])
    mantissa = steps[0] / 10 ** np.floor(np.log10(steps[0]))
    assert any(np.isclose(mantissa, m) for m in (1, 2, 5))
    assert fit.ticks[0] == pytest.approx(fit.low) and fit.ticks[-1] == pytest.approx(fit.high)


def test_the_report_chart_draws_every_interval_inside_its_plot_with_gridlines(board) -> None:  # noqa: ANN001
    svg = report.score_chart(board)
    width = float(re.search(r'viewBox="0 0 (\S+) ', svg).group(1))
    grid = [float(x) for x in re.findall(r'<line class="grid" x1="([\d.]+)"', svg)]
    ends = [float(x) for pair in re.findall(r'<line class="ci" x1="([\d.]+)" x2="([\d.]+)"', svg) for x in pair]
    assert len(grid) >= 3 and len(ends) == 6
    assert min(grid) <= min(ends) and max(ends) <= max(grid) <= width
    labels = [float(t) for t in re.findall(r'text-anchor="middle">([\d.]+)</text>', svg)]
    assert max(labels) <= 1.0  # accuracy never reads past 1

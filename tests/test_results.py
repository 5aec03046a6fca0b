"""Results people can read: each model's diagnostics, computed once by its train step from its
saved test predictions, checked on the data behind every chart; the score-versus-cost front; and
the views that draw them.

Small runs serve every test here (a module fixture): the breast-cancer example's data with a
logistic regression, an SVC (no probabilities), a searched tree and a
LinearDiscriminantAnalysis that fails in its fit (more components than a binary target has);
the diabetes example's data with two regressors; and the wine example as it is (multiclass).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn import datasets
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from bakeoff import diagnostics, records
from bakeoff.metrics import REGISTRY, Outcome
from bakeoff.runs import Run, find_run
from bakeoff.storage import open_store
from bakeoff.examples import config_text
from conftest import bakeoff

SHOWCASE = """\
experiment: showcase
dataset: {uri: data/breast-cancer.csv, target: diagnosis}
split: {test_size: 0.25, valid_size: 0.2, seed: 42}
metrics: {primary: roc_auc, others: [accuracy]}
models:
  - {name: logistic, estimator: LogisticRegression, params: {max_iter: 2000}}
  - {name: svc, estimator: SVC}
  - name: tree
    estimator: DecisionTreeClassifier
    params: {random_state: 0}
    search: {trials: 8, sampler: random, space: {max_depth: {int: [1, 8]}, criterion: {choice: [gini, entropy]}}}
  - {name: lda, estimator: LinearDiscriminantAnalysis, params: {n_components: 5}}
storage: file://./.bakeoff
"""
REGRESSION = """\
experiment: diabetes-small
dataset: {uri: data/diabetes.csv, target: progression}
split: {test_size: 0.25, valid_size: 0.2, seed: 42}
metrics: {primary: rmse, others: [mae, r2]}
models:
  - {name: ridge, estimator: Ridge}
  - {name: forest, estimator: RandomForestRegressor, params: {n_estimators: 30, random_state: 0}}
storage: file://./.bakeoff
"""


def _run(folder: Path, example: str, config: str) -> Run:
    assert bakeoff("init", "--example", example, "--dir", str(folder)).code == 0
    (folder / "show.yaml").write_text(config)
    ran = bakeoff("run", "show.yaml", cwd=folder)
    assert ran.code in (0, 1), ran.stderr  # 1: a model failed, as lda must
    return find_run(open_store(str(folder / ".bakeoff")), "latest")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    wine = tmp_path_factory.mktemp("wine")
    return {"classification": _run(tmp_path_factory.mktemp("showcase"), "breast-cancer", SHOWCASE),
            "regression": _run(tmp_path_factory.mktemp("diabetes"), "diabetes", REGRESSION),
            "multiclass": _run(wine, "wine", config_text("wine"))}


def _diagnostics(run: Run, model: str) -> tuple[records.ModelResult, dict, Outcome]:
    result = run.result(model)
    assert result is not None and result.ok, model
    outcome = records.load_outcome(run.store, result)
    assert outcome is not None
    return result, diagnostics.load(run.store, result), outcome


def _area(x: list[float], y: list[float]) -> float:
    return float(np.trapezoid(y, x))


# -- the data behind each chart ---------------------------------------------------------------------

def test_every_model_stores_the_diagnostics_it_can_have_listed_with_their_sha256(runs) -> None:  # noqa: ANN001
    run = runs["classification"]
    expected = {"logistic": {"roc", "pr", "confusion", "calibration", "features"},
                "svc": {"roc", "pr", "confusion"},  # margins: no calibration; RBF kernel: no coef_
                "tree": {"roc", "pr", "confusion", "calibration", "features", "search"}}
    for model, names in expected.items():
        result, found, _ = _diagnostics(run, model)
        assert set(found) == names, model
        for name in names:
            artifact = result.artifacts[diagnostics.PREFIX + name]
            assert artifact.key.endswith(f"/{result.attempt}/{name}.json")
            assert records.sha256(run.store.read_bytes(artifact.key)) == artifact.sha256
    assert records.verified(run.store, run.result("tree"))
    assert set(_diagnostics(runs["regression"], "ridge")[1]) == {"residuals", "features"}


def test_roc_auc_from_the_stored_curve_is_the_leaderboards(runs) -> None:  # noqa: ANN001
    run = runs["classification"]
    board = run.leaderboard()
    for row in (r for r in board.rows if r.status == "ok"):
        _, found, _ = _diagnostics(run, row.model)
        (curve,) = found["roc"]["curves"]
        assert _area(curve["fpr"], curve["tpr"]) == pytest.approx(row.primary, abs=1e-9), row.model
        assert curve["auc"] == pytest.approx(row.primary, abs=1e-12)
    assert _diagnostics(run, "svc")[1]["roc"]["scores"] == "margins"


def test_confusion_pr_and_calibration_agree_with_the_saved_predictions(runs) -> None:  # noqa: ANN001
    run = runs["classification"]
    for model in ("logistic", "svc", "tree"):
        result, found, o = _diagnostics(run, model)
        counts = np.array(found["confusion"]["counts"])
        assert counts.sum() == result.predict_rows == len(o.y_true)
        assert np.trace(counts) / counts.sum() == pytest.approx(result.metrics["test"]["accuracy"], abs=1e-12)
        assert found["confusion"]["labels"] == ["benign", "malignant"]
        (pr,) = found["pr"]["curves"]
        assert pr["average_precision"] == pytest.approx(skm.average_precision_score(o.y_true == 1, o.ranking[:, 1]))
        assert pr["base_rate"] == pytest.approx(np.mean(o.y_true == 1))
        if "calibration" in found:
            cal = found["calibration"]
            assert sum(cal["count"]) == len(o.y_true)
            assert np.dot(cal["observed"], cal["count"]) == pytest.approx(np.sum(o.y_true == 1), abs=1e-3)
            assert all(0 <= p <= 1 for p in cal["predicted"] + cal["observed"])


def test_regression_residuals_are_bounded_and_agree_with_the_scores(runs) -> None:  # noqa: ANN001
    run = runs["regression"]
    for model in ("ridge", "forest"):
        result, found, o = _diagnostics(run, model)
        res = found["residuals"]
        assert res["rows"] == len(o.y_true) == sum(res["histogram"]["counts"])
        assert len(res["actual"]) == len(res["predicted"]) == min(len(o.y_true), diagnostics.MAX_POINTS)
        assert res["mean"] == pytest.approx(np.mean(o.y_pred - o.y_true))
        assert np.hypot(res["mean"], res["std"]) == pytest.approx(result.metrics["test"]["rmse"], rel=1e-9)
        assert found["features"]["features"]  # Ridge's coef_, the forest's importances


def test_the_search_history_marks_the_best_so_far_and_what_mattered(runs) -> None:  # noqa: ANN001
    result, found, _ = _diagnostics(runs["classification"], "tree")
    history = found["search"]
    trials = result.search["trials"]
    assert [t["number"] for t in history["trials"]] == [t["number"] for t in trials] and len(trials) == 8
    scores = [t["score"] for t in trials]
    assert history["best_so_far"] == [max(s for s in scores[: i + 1] if s is not None) for i in range(len(scores))]
    assert history["best_so_far"][-1] == result.search["best"]["score"]
    assert set(history["importance"]) == {"max_depth", "criterion"}
    assert all(0 <= v <= 1 for v in history["importance"].values())
    assert history["tied_with_best"] >= 1 and history["nothing_to_choose"] == (history["tied_with_best"] > 4)


def test_a_search_whose_trials_mostly_tie_says_it_had_nothing_to_choose_between() -> None:
    """Like the issue's search (11 of 15 trials at a validation roc_auc of 1.0): here 10 of 14
    finished trials tie at 1.0, and a pruned one is marked."""
    trials = [{"number": i, "state": "complete", "score": 1.0 if i % 4 else 0.97, "params": {"C": 0.1 * (i + 1)}}
              for i in range(14)] + [{"number": 14, "state": "pruned", "score": None, "params": {"C": 9.0}}]
    history = diagnostics.search_history({"trials": trials, "best": {"number": 1, "score": 1.0}}, "max")
    assert history["tied_with_best"] == 10 and history["complete"] == 14 and history["nothing_to_choose"]
    assert history["best_so_far"] == [0.97] + [1.0] * 14 and history["trials"][-1]["state"] == "pruned"
    varied = [{**t, "score": 0.9 + 0.01 * t["number"]} for t in trials[:5]]
    spread = diagnostics.search_history({"trials": varied, "best": {"number": 4, "score": 0.94}}, "max")
    assert spread["tied_with_best"] == 1 and not spread["nothing_to_choose"]


def test_top_features_read_a_linear_svcs_sparse_coefficients() -> None:
    """A linear SVC fitted on one-hot (sparse) input keeps a sparse ``coef_``; reading it as an
    array raised, in the train step, after the model had fitted."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder
    from sklearn.svm import SVC

    X = np.array([["a"], ["b"], ["c"], ["a"], ["b"]] * 20)
    y = np.array([0, 1, 1, 0, 1] * 20)
    pipeline = Pipeline([("encode", OneHotEncoder()), ("model", SVC(kernel="linear"))]).fit(X, y)
    found = diagnostics.top_features(pipeline)
    assert found is not None and found["kind"] == "|coefficient|"
    dense = np.abs(pipeline[-1].coef_.toarray()).mean(axis=0)
    assert dict(zip(found["features"], found["values"])) == {f"x0_{c}": pytest.approx(v) for c, v in zip("abc", dense)}


def test_numpy_numbers_in_a_diagnostic_are_stored_as_json_numbers_not_text() -> None:
    from bakeoff.scalars import plain

    trials = [{"number": np.int64(0), "score": np.float32(0.5), "params": {"C": np.float64(0.25), "fit_intercept":
                                                                            np.bool_(True), "solver": "lbfgs"}}]
    assert diagnostics.encode({"trials": trials}) == (
        b'{"trials": [{"number": 0, "score": 0.5, "params": {"C": 0.25, "fit_intercept": true, "solver": "lbfgs"}}]}')
    assert [type(plain(v)) for v in (np.int64(3), np.float32(1.5), np.bool_(False), "3", [1])] == \
        [int, float, bool, str, list]


def test_multiclass_curves_are_one_vs_rest_and_average_to_the_metric() -> None:
    X, y = datasets.load_wine(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, random_state=0)
    model = LogisticRegression(max_iter=50).fit(Xtr, ytr)
    o = Outcome.of(yte, model.predict(Xte), model.predict_proba(Xte), model.classes_)
    found = diagnostics.compute(o, [0, 1, 2])
    curves = found["roc"]["curves"]
    assert [c["label"] for c in curves] == ["0", "1", "2"]
    assert np.mean([_area(c["fpr"], c["tpr"]) for c in curves]) == pytest.approx(REGISTRY["roc_auc"](o), abs=1e-9)
    assert found["calibration"]["of"] == "top class" and sum(found["calibration"]["count"]) == len(yte)
    assert np.array(found["confusion"]["counts"]).sum() == len(yte)
    json.dumps(found, allow_nan=False)  # plain JSON: every view can read it


# -- the score-versus-cost front ----------------------------------------------------------------------

def _row(model: str, rank: int, score: float, ms: float, fit: float, tied: bool | None):  # noqa: ANN202
    from bakeoff import leaderboard

    return leaderboard.Row(model, "X", "ok", rank=rank, primary=score, tied=tied, predict_ms_per_1k=ms,
                           fit_seconds=fit)


def test_the_front_keeps_the_non_dominated_and_names_the_cheap_tie() -> None:
    from bakeoff import leaderboard

    rows = [_row("boost", 1, 0.991, 400.0, 9.0, None), _row("logit", 2, 0.990, 20.0, 0.5, True),
            _row("slow", 3, 0.980, 500.0, 0.4, False), _row("knn", 4, 0.950, 10.0, 0.1, False)]
    predict = leaderboard.front(rows, "predict", "max")
    assert predict.models == ["knn", "logit", "boost"]  # slow: beaten on both by logit
    assert predict.pick == "logit"
    assert predict.note == "best within 20 ms per 1k rows: logit, tied with the leader boost (400 ms per 1k rows, 20.0× the cost)"
    fit = leaderboard.front(rows, "fit", "max")
    assert fit.models == ["knn", "slow", "logit", "boost"] and fit.pick == "logit"
    rows[1].predict_ms_per_1k = 250.0  # tied, but not half the leader's cost: timing noise, not named
    assert leaderboard.front(rows, "predict", "max").pick is None
    rows[1].predict_ms_per_1k, rows[1].tied = 20.0, False  # nothing cheaper ties the leader: nothing to name
    assert leaderboard.front(rows, "predict", "max").pick is None
    lower = [_row("a", 1, 50.0, 30.0, 1.0, None), _row("b", 2, 51.0, 5.0, 1.0, True)]  # rmse: lower is better
    assert leaderboard.front(lower, "predict", "min").models == ["b", "a"]


def test_the_runs_front_is_in_leaderboard_json_and_dominated_by_nothing(runs) -> None:  # noqa: ANN001
    from bakeoff.leaderboard import Leaderboard

    run = runs["classification"]
    stored = json.loads(run.store.read_bytes(run.key("leaderboard.json")))
    board = Leaderboard.from_dict(stored)
    assert set(stored["fronts"]) == {"predict", "fit"} and board.fronts["predict"].models
    ranked = [r for r in board.rows if r.rank]
    for name, front in board.fronts.items():
        cost = front.cost
        for r in ranked:
            beaten = any(o.primary >= r.primary and getattr(o, cost) <= getattr(r, cost)
                         and (o.primary > r.primary or getattr(o, cost) < getattr(r, cost)) for o in ranked)
            assert (r.model in front.models) == (not beaten), (name, r.model)
        assert [getattr(board_row(board, m), cost) for m in front.models] == sorted(
            getattr(board_row(board, m), cost) for m in front.models)


def board_classes(run: Run) -> list[str]:
    return [str(c) for c in run.prepared().table.classes]


def board_row(board, model: str):  # noqa: ANN001, ANN201
    return next(r for r in board.rows if r.model == model)


# -- every view draws the stored data ---------------------------------------------------------------

def _report(run: Run) -> str:
    return run.store.read_bytes(run.key("report.html")).decode()


def test_report_html_is_self_contained_and_draws_every_models_stored_data(runs) -> None:  # noqa: ANN001

    for run in runs.values():
        page = _report(run)
        assert "<script" not in page and not re.search(r'(?:src|href)="(?:https?:)?//', page)
        assert "<link" not in page and "@import" not in page
    run = runs["classification"]
    page = _report(run)
    roc = page[page.index("<h2>ROC curves"):page.index("<h2>Precision-recall")]
    assert roc.count('<polyline class="series"') == 4  # three models and the diagonal
    for model in ("logistic", "svc", "tree"):
        _, found, _ = _diagnostics(run, model)
        section = page[page.index(f'id="model-{model}"'):]
        section = section[:section.index("</section>")]
        cells = [int(n) for n in re.findall(r'<td class="count"[^>]*>(\d+)</td>', section)]
        assert cells == [n for row in found["confusion"]["counts"] for n in row]
        assert ("Calibration" in section) == ("calibration" in found)
        assert f"(AUC {found['roc']['curves'][0]['auc']:.3f})" in roc
        own = f"{model} (AUC {found['roc']['curves'][0]['auc']:.3f})", \
            f"{model} (AP {found['pr']['curves'][0]['average_precision']:.3f})"
        assert all(label in section for label in own)  # the model's own curves, as its MLflow run shows
    tree = page[page.index('id="model-tree"'):]
    history = _diagnostics(run, "tree")[1]["search"]
    assert json.dumps(history["best"]["params"]).replace('"', "&quot;") in tree
    assert f"{history['tied_with_best']} of {history['complete']} finished trials tied the best" in tree
    assert ("the search had nothing to choose between" in tree) == history["nothing_to_choose"]
    assert "Score against cost" in page and "front (nothing beats these on both)" in page
    for name, front in run.leaderboard().fronts.items():  # each chart's x axis names its own cost
        assert f">{name} cost, {front.unit} (log)</text>" in page, name
    regression = _report(runs["regression"])
    assert regression.count('aria-label="Predicted vs actual') == 2 and "Residuals (mean" in regression
    wine = _report(runs["multiclass"])
    board = runs["multiclass"].leaderboard()
    assert [wine.count(f'aria-label="{kind} · {c} vs rest"') for kind in ("ROC", "Precision-recall")
            for c in board_classes(runs["multiclass"])] == [1 + sum(r.status == "ok" for r in board.rows)] * 6
    assert wine.count('<section class="model"') == sum(r.status == "ok" for r in board.rows)


def test_kfp_classification_metrics_include_the_svcs_roc_from_margins(runs) -> None:  # noqa: ANN001
    from bakeoff.kfp.ui_metrics import classification_metrics

    run = runs["classification"]
    for model in ("logistic", "svc"):
        result, found, _ = _diagnostics(run, model)
        shown = classification_metrics(run.store, run.prepared().table, result)
        assert [r["row"] for r in shown["confusionMatrix"]["rows"]] == found["confusion"]["counts"]
        points = shown["confidenceMetrics"]
        fpr = [p["falsePositiveRate"] for p in points]
        tpr = [p["recall"] for p in points]
        assert fpr == sorted(fpr) and tpr == sorted(tpr) and (fpr[0], fpr[-1], tpr[-1]) == (0.0, 1.0, 1.0)
        assert all(np.isfinite(p["confidenceThreshold"]) for p in points)
        assert _area(fpr, tpr) == pytest.approx(found["roc"]["curves"][0]["auc"], abs=1e-9)


def test_kfp_draws_one_multiclass_roc_whose_area_is_the_leaderboards_macro_roc_auc(runs) -> None:  # noqa: ANN001
    """Wine (3 classes): KFP's UI takes one curve; it is the one-vs-rest macro average, as the
    leaderboard's ROC AUC is, not a micro average (whose area differs)."""
    from bakeoff.kfp.ui_metrics import classification_metrics

    run = runs["multiclass"]
    board = run.leaderboard()
    micro_differs = []
    for row in (r for r in board.rows if r.status == "ok"):
        result, _, outcome = _diagnostics(run, row.model)
        points = classification_metrics(run.store, run.prepared().table, result)["confidenceMetrics"]
        fpr, tpr = [p["falsePositiveRate"] for p in points], [p["recall"] for p in points]
        assert fpr == sorted(fpr) and tpr == sorted(tpr) and (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
        assert _area(fpr, tpr) == pytest.approx(row.test["roc_auc"], abs=1e-9), row.model
        assert all(0 <= p["confidenceThreshold"] <= 1 for p in points)  # probabilities: mean thresholds
        onehot = np.eye(3, dtype=bool)[outcome.y_true]
        micro_differs.append(abs(skm.roc_auc_score(onehot, outcome.ranking, average="micro") - row.test["roc_auc"]))
    assert max(micro_differs) > 1e-6, micro_differs  # the run tells the two averages apart


def _results_view(run_uri: str) -> None:
    from bakeoff.runs import Run
    from bakeoff.ui import results

    run = Run.from_uri(run_uri)
    results.leaderboard(run.leaderboard(), key="t", run=run)


def test_the_apps_results_view_draws_the_runs_and_each_models_stored_charts(runs) -> None:  # noqa: ANN001
    from streamlit.testing.v1 import AppTest

    run = runs["classification"]
    at = AppTest.from_function(_results_view, args=(run.uri,), default_timeout=60).run()
    assert not at.exception

    def html() -> str:
        return "".join(el.proto.body for el in at.get("html"))

    shown = html()
    _, found, _ = _diagnostics(run, "logistic")
    assert f"logistic (AUC {found['roc']['curves'][0]['auc']:.3f})" in shown
    assert 'alt="Test roc_auc against predict cost"' in shown and "<svg" not in shown  # st.html drops inline SVG
    assert 'id="model-logistic"' in shown  # the first model's section
    page = _report(run)  # the app's charts across models are the report's, each one
    across = set(re.findall(r'<svg[^>]*aria-label="([^"]*)"', page[page.index("<h2>ROC curves"):page.index("<h2>Each")]))
    alts = set(re.findall(r'<img class="chart" alt="([^"]*)"', shown)) - {""}  # "": legend keys
    assert across and across <= alts <= set(re.findall(r'<svg[^>]*aria-label="([^"]*)"', page)), (across, alts)
    import base64  # the score chart is the report's own SVG, as an image (no second rendering)

    chart = re.search(r'<svg[^>]*aria-label="Test roc_auc by model".*?</svg>', page, re.S).group(0)
    image = re.search(r'alt="Test roc_auc by model"[^>]*src="data:image/svg\+xml;base64,([^"]+)"', shown).group(1)
    assert base64.b64decode(image).decode() == chart and not at.get("vega_lite_chart")
    caption = " ".join(c.value for c in at.caption)
    assert caption.count("95% bootstrap") == 1, caption  # the board's caption says it once
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("did not finish: lda (LinearDiscriminantAnalysis) failed: ValueError") for w in warnings)
    at.selectbox(key="t:model").select("svc").run()
    section = html()
    counts = _diagnostics(run, "svc")[1]["confusion"]["counts"]
    assert 'id="model-svc"' in section and "Calibration" not in section.split('id="model-svc"')[1]
    assert all(f">{n}</td>" in section for row in counts for n in row)


# -- in a real browser ------------------------------------------------------------------------------

def _chromium(profile: Path, width: int):  # noqa: ANN202
    """Debian's headless Chromium through Debian's chromedriver (as tests/test_ui_browser.py)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from test_ui_browser import CHROMEDRIVER, CHROMIUM, FLAGS

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*(f for f in FLAGS if not f.startswith("--window-size")), f"--window-size={width},1000",
                 f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def screenshot_dir(tmp_path: Path) -> Path:
    """Where screenshots go: ``$BAKEOFF_ARTIFACTS`` when the CI keeps that folder, else the test's
    own tmp dir (pytest keeps the last few runs')."""
    import os

    folder = Path(os.environ.get("BAKEOFF_ARTIFACTS") or tmp_path) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.skipif(not Path("/usr/bin/chromium").is_file() or not Path("/usr/bin/chromedriver").is_file(),
                    reason="Debian's chromium and chromium-driver are not installed")
def test_report_html_reads_at_1200_px_without_sideways_scrolling(runs, tmp_path: Path) -> None:  # noqa: ANN001
    driver = _chromium(tmp_path / "profile", 1200)
    try:
        driver.set_page_load_timeout(30)
        for task, run in runs.items():
            page = tmp_path / f"{task}.html"
            page.write_text(_report(run))
            driver.get(page.as_uri())
            widths = driver.execute_script(
                "const s = document.scrollingElement, b = document.querySelector('.board');"
                "return [s.scrollWidth, s.clientWidth, b.scrollWidth, b.clientWidth,"
                " Math.max(...[...document.querySelectorAll('svg.chart, table')].map("
                "   e => e.getBoundingClientRect().right)),"
                " document.querySelectorAll('svg.chart').length, window.innerWidth];")
            scroll, client, board_scroll, board_client, rightmost, charts, inner = widths
            assert inner == 1200 or abs(inner - 1200) <= 20, widths
            assert scroll <= client and board_scroll <= board_client, widths  # nothing scrolls sideways
            assert rightmost <= client and charts >= {"classification": 7, "regression": 6, "multiclass": 8}[task], widths
            height = driver.execute_script("return document.scrollingElement.scrollHeight")
            driver.set_window_size(1200, min(height + 140, 8000))
            shot = screenshot_dir(tmp_path) / f"report-{task}-1200px.png"
            assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 20_000
            driver.set_window_size(1200, 1000)
    finally:
        driver.quit()


@pytest.mark.skipif(not Path("/usr/bin/chromium").is_file() or not Path("/usr/bin/chromedriver").is_file(),
                    reason="Debian's chromium and chromium-driver are not installed")
def test_the_apps_history_shows_the_runs_charts_in_chromium(runs, tmp_path: Path) -> None:  # noqa: ANN001
    """`bakeoff ui` on the run's config: its History tab draws the stored curves and fronts."""
    import time

    from selenium.webdriver.common.by import By

    from bakeoff.storage import local_path
    from test_ui_browser import ui_server

    run = runs["classification"]
    with ui_server(local_path(run.store.root).parent / "show.yaml", tmp_path / "cache") as url:
        driver = _chromium(tmp_path / "profile", 1200)
        try:
            driver.set_page_load_timeout(30)
            driver.get(url)
            deadline = time.monotonic() + 60
            charts: list[str] = []
            while time.monotonic() < deadline and "ROC · positive class malignant" not in charts:  # bounded
                tabs = [t for t in driver.find_elements(By.CSS_SELECTOR, "[role=tab]") if t.text == "History"]
                if tabs and tabs[0].get_attribute("aria-selected") != "true":
                    tabs[0].click()
                time.sleep(0.5)
                charts = driver.execute_script(  # the charts as drawn: images that decoded, by their titles
                    "return [...document.images].filter(i => i.src.startsWith('data:image/svg+xml') && i.complete"
                    " && i.naturalWidth > 0).map(i => i.alt)")
            text = driver.find_element(By.TAG_NAME, "body").text
            assert {"ROC · positive class malignant", "Precision-recall · positive class malignant",
                    "Test roc_auc against predict cost", "Test roc_auc against fit cost"} <= set(charts), charts
            assert "did not finish: lda (LinearDiscriminantAnalysis) failed" in text and "logistic (AUC 0.99" in text
            width = driver.execute_script("return [document.scrollingElement.scrollWidth,"
                                          " document.scrollingElement.clientWidth]")
            assert width[0] <= width[1], width
            time.sleep(1)  # fonts and charts settle before the picture
            assert driver.save_screenshot(str(screenshot_dir(tmp_path) / "app-history-1200px.png"))
        finally:
            driver.quit()

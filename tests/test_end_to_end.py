"""`bakeoff init` + `bakeoff run` as a user runs them: real data, real processes, real stores."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bakeoff.runs import Run
from bakeoff.storage import LocalStore
from conftest import ExampleRun, bakeoff

pytestmark = pytest.mark.slow

FLOORS = {"breast-cancer": ("roc_auc", 0.95), "wine": ("balanced_accuracy", 0.85), "diabetes": ("r2", 0.3)}


def runs_in(folder: Path) -> list[Path]:
    return sorted((folder / ".bakeoff" / "runs").iterdir())


def leaderboard(run: Path) -> dict:
    return json.loads((run / "leaderboard.json").read_text())


@pytest.mark.parametrize("example", list(FLOORS))
def test_example_runs_end_to_end(example_run: Callable[[str], ExampleRun], example: str) -> None:
    result = example_run(example)  # `bakeoff init --example`, then `bakeoff run --parallel 2` (exit 0)
    config = result.config
    [run] = runs_in(config.parent)
    board = leaderboard(run)
    exp = yaml.safe_load(config.read_text())
    assert [r["rank"] for r in board["rows"]] == list(range(1, len(exp["models"]) + 1))
    assert {r["model"] for r in board["rows"]} == {m["name"] for m in exp["models"]}
    metric, floor = FLOORS[example]
    leader = board["rows"][0]
    assert leader["test"][metric] > floor
    low, high = leader["ci"]
    assert low <= leader["primary"] <= high
    assert leader["model"] in result.stdout  # the table was printed
    html = (run / "report.html").read_text()
    assert "<svg" in html and all(m["name"] in html for m in exp["models"])
    assert (run / "report.md").read_text().count("\n| ") == len(exp["models"]) + 1
    # the saved artifact is the whole Pipeline: it predicts straight from raw CSV rows
    raw = pd.read_csv(config.parent / "data" / f"{example}.csv")
    pipeline = Run(LocalStore(run.parents[1]), run.name).pipeline(leader["model"])
    predictions = pipeline.predict(raw.drop(columns=[exp["dataset"]["target"]]).head(20))
    assert len(predictions) == 20
    record = json.loads((run / "models" / leader["model"] / "result.json").read_text())
    assert record["status"] == "ok" and record["fit_seconds"] > 0 and record["predict_seconds"] > 0
    assert record["versions"]["scikit-learn"] and len(record["job"]) == 64 and not record["cached"]
    # the artifacts live with the job, named and checksummed by the run's record
    assert record["artifacts"]["model"]["key"].startswith(f"jobs/{record['job']}/")


def test_rerun_reuses_data_and_results_until_something_changes(
        example_run: Callable[[str], ExampleRun], tmp_path: Path) -> None:
    config = example_run("diabetes").copy_to(tmp_path / "diabetes")  # run once, exit 0
    second = bakeoff("run", str(config), cwd=config.parent)
    assert second.code == 0 and "(reused)" in second.stderr
    first_run, second_run = runs_in(config.parent)
    assert {r["status"] for r in leaderboard(second_run)["rows"]} == {"ok"}
    assert all(r["cached"] for r in leaderboard(second_run)["rows"])
    assert leaderboard(first_run)["rows"] == [{**r, "cached": False} for r in leaderboard(second_run)["rows"]]

    exp = yaml.safe_load(config.read_text())
    exp["models"][0]["params"]["alpha"] = 3.0  # ridge changes; the others must not retrain
    config.write_text(yaml.safe_dump(exp))
    assert bakeoff("run", str(config), cwd=config.parent).code == 0
    cached = {r["model"]: r["cached"] for r in leaderboard(runs_in(config.parent)[-1])["rows"]}
    assert cached == {"ridge": False, "lasso": True, "forest": True, "boosting": True}

    assert bakeoff("run", str(config), "--no-cache", cwd=config.parent).code == 0
    assert not any(r["cached"] for r in leaderboard(runs_in(config.parent)[-1])["rows"])


def test_messy_table_with_gaps_and_text_columns(tmp_path: Path) -> None:
    from test_data import messy_wine

    messy_wine().to_parquet(tmp_path / "wine.parquet")
    config = tmp_path / "bakeoff.yaml"
    config.write_text(yaml.safe_dump({
        "experiment": "messy-wine",
        "dataset": {"uri": "wine.parquet", "target": "cultivar", "drop": ["proline"]},
        "models": [{"name": "logistic", "estimator": "LogisticRegression", "params": {"max_iter": 2000}},
                   {"name": "boosting", "estimator": "HistGradientBoostingClassifier"}],
    }))
    result = bakeoff("run", str(config), cwd=tmp_path)
    assert result.code == 0, result.stderr
    [run] = runs_in(tmp_path)
    assert {r["status"] for r in leaderboard(run)["rows"]} == {"ok"}
    table = json.loads((run / "prepared.json").read_text())["context"]["table"]
    assert table["categorical"] == ["colour"] and "proline" not in table["numeric"]


def test_failing_crashing_and_hanging_models_are_failed_rows(project, plugin_env) -> None:  # noqa: ANN001
    config = project("breast-cancer")
    exp = yaml.safe_load(config.read_text())
    exp["models"] = [
        {"name": "logistic", "estimator": "LogisticRegression", "params": {"max_iter": 2000}},
        # fails in its fit: two classes allow one component (its parameters alone are valid)
        {"name": "wrong-kind", "estimator": "LinearDiscriminantAnalysis", "params": {"n_components": 5}},
        {"name": "crash", "estimator": "CrashingClassifier"},  # SIGKILLs its own process
        {"name": "hang", "estimator": "SleepyClassifier", "params": {"seconds": 120}, "timeout": 3},
    ]
    config.write_text(yaml.safe_dump(exp))
    result = bakeoff("run", str(config), "--parallel", "2", cwd=config.parent, env=plugin_env, timeout=120)
    assert result.code == 0, result.stderr
    rows = {r["model"]: r for r in leaderboard(runs_in(config.parent)[0])["rows"]}
    assert rows["logistic"]["rank"] == 1 and rows["logistic"]["status"] == "ok"
    assert rows["wrong-kind"]["status"] == "failed" and "n_components cannot be larger" in rows["wrong-kind"]["error"]
    assert rows["crash"]["status"] == "failed" and "was killed by signal 9" in rows["crash"]["error"]
    assert rows["hang"]["status"] == "failed" and "timed out after 3 s" in rows["hang"]["error"]
    assert "3 model(s) failed" in result.stderr


@pytest.mark.parametrize(("change", "message"), [
    ({"dataset": {"uri": "data/missing.csv", "target": "diagnosis"}}, "data/missing.csv does not exist; check the path"),
    ({"dataset": {"uri": "data/breast-cancer.csv", "target": "diagnosys"}},
     "dataset.target: no column 'diagnosys' (did you mean diagnosis?)"),
    ({"dataset": {"uri": "data/breast-cancer.csv", "target": "diagnosis", "task": "regression"}},
     "models[0].estimator: LogisticRegression is a classifier but the task is regression"),
])
def test_prepare_errors_exit_2_and_leave_no_run(project, change: dict, message: str) -> None:  # noqa: ANN001
    config = project("breast-cancer")
    config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), **change}))
    result = bakeoff("run", str(config), cwd=config.parent)
    assert result.code == 2 and message in result.stderr and "Traceback" not in result.stderr
    assert all(line.startswith("error: ") for line in result.stderr.strip().splitlines())
    assert LocalStore(config.parent / ".bakeoff").list("runs") == []


def test_report_and_runs_reprint_past_runs(example_run: Callable[[str], ExampleRun], tmp_path: Path) -> None:
    config = example_run("wine").copy_to(tmp_path / "wine")  # run once, exit 0
    [run] = runs_in(config.parent)
    listed = bakeoff("runs", cwd=config.parent)
    assert listed.code == 0 and run.name in listed.stdout and "wine" in listed.stdout
    for ref in ("latest", run.name[:15], str(run.as_uri())):
        shown = bakeoff("report", ref, cwd=config.parent)
        assert shown.code == 0 and "balanced_accuracy" in shown.stdout, ref
    as_json = bakeoff("report", "--format", "json", cwd=config.parent)
    stored = leaderboard(run)
    assert len(stored.pop("record_sha256")) == 64  # the stored file is sealed; what report prints is its content
    assert json.loads(as_json.stdout) == stored
    missing = bakeoff("report", "nope", cwd=config.parent)
    assert missing.code == 2 and "no run matches 'nope'" in missing.stderr


@pytest.mark.parametrize(("change", "message"), [
    ({"dataset": {"uri": "data", "target": "diagnosis"}}, "dataset.uri: file://"),  # a folder, not a file
    ({"storage": "data/breast-cancer.csv"}, "storage: "),  # a file, not a folder
])
def test_paths_of_the_wrong_kind_are_one_line_errors(project, change: dict, message: str) -> None:  # noqa: ANN001
    config = project("breast-cancer")
    config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), **change}))
    result = bakeoff("run", str(config), cwd=config.parent)
    assert result.code == 2 and result.stderr.startswith(f"error: {message}") and "Traceback" not in result.stderr
    assert not (config.parent / ".bakeoff" / "runs").exists() or not any((config.parent / ".bakeoff" / "runs").iterdir())


def test_a_config_that_is_not_utf8_is_a_one_line_error(tmp_path: Path) -> None:
    config = tmp_path / "bakeoff.yaml"
    config.write_bytes(b"experiment: caf\xe9\n")
    result = bakeoff("validate", str(config))
    assert result.code == 2 and "not UTF-8 text (byte 15); save it as UTF-8" in result.stderr

"""MLflow tracking against a real MLflow server process whose artifacts live on the test S3 server.

The server (sqlite backend, artifacts proxied to s3://mlflow-artifacts/mlflow on moto) is
conftest's `mlflow_uri`, started once per session on a free loopback port.
One small bake-off (breast cancer: a tuned logistic regression, k-NN, and a model that died) runs
through the real steps, and its results go through the tracking functions as the steps hand them
over; the tests then read back what MLflow holds.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from bakeoff import records, steps, tracking
from bakeoff.data import read_split
from bakeoff.errors import UserError
from bakeoff.examples import EXAMPLES, config_text
from bakeoff.records import ModelResult, Prepared
from bakeoff.runs import Run, create_run
from bakeoff.spec import Experiment, parse_experiment
from bakeoff.storage import LocalStore
from bakeoff.supervise import record_failure

from conftest import MLFLOW_BUCKET, S3Server, _free_port, bakeoff

pytest.importorskip("mlflow", reason="the `mlflow` extra is not installed")

REGISTERED = "breast-cancer-champion"
# Stand-ins for credentials in the logging process: none may end up in MLflow.
SECRETS = {"AWS_ACCESS_KEY_ID": "AKIA-SENTINEL-KEY", "AWS_SECRET_ACCESS_KEY": "sentinel-secret-value",
           "MLFLOW_TRACKING_TOKEN": "sentinel-token"}


def _config(tmp: Path, tracking_spec: dict[str, Any] | None) -> Experiment:
    data = tmp / "breast-cancer.csv"
    if not data.exists():
        EXAMPLES["breast-cancer"]().to_csv(data, index=False)
    config = yaml.safe_load(config_text("breast-cancer"))
    config |= {"dataset": {**config["dataset"], "uri": str(data)}, "storage": (tmp / "store").as_uri()}
    config["models"] = [
        {"name": "logistic", "estimator": "LogisticRegression", "params": {"max_iter": 2000},
         "search": {"trials": 4, "sampler": "random", "space": {"C": {"float": [0.01, 10], "log": True}}}},
        {"name": "knn", "estimator": "KNeighborsClassifier", "params": {"n_neighbors": 7}},
        {"name": "broken", "estimator": "DecisionTreeClassifier"},  # never trains: its process "died"
    ]
    if tracking_spec:
        config["tracking"] = tracking_spec
    return parse_experiment(config)


@dataclass
class Tracked:
    exp: Experiment
    run: Run
    prepared: Prepared
    parent: str
    children: dict[str, str]
    results: dict[str, ModelResult]
    board: Any
    registered: dict[str, Any]
    X_raw: Any  # raw test rows, for predictions


@pytest.fixture(scope="module")
def tracked(mlflow_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracked]:
    """The bake-off through the real steps with tracking on: prepare starts the parent, each
    train logs its own run, a model whose process died is recorded as its supervisor does, and
    compare hangs the children under the parent and registers the champion."""
    tmp = tmp_path_factory.mktemp("tracked")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(tracking.ENV_URI, raising=False)
        for key, value in SECRETS.items():
            mp.setenv(key, value)
        exp = _config(tmp, {"mlflow_uri": mlflow_uri, "experiment": "bakeoff-tests", "register": REGISTERED})
        run = create_run(LocalStore(tmp / "store"), exp)
        prepared = steps.prepare(run.uri)
        assert prepared.mlflow_parent_run_id is not None
        results = {name: steps.train(run.store.root, prepared.jobs[name], name, threads=1)
                   for name in ("logistic", "knn")}
        results["broken"] = record_failure(run.store.root, prepared.jobs["broken"], "broken", "a1",
                                           "process killed (out of memory?)")
        board = steps.compare(run.uri)
        X_raw, _ = read_split(run.store, prepared.fingerprint, "test", prepared.table)
        children = {name: r.mlflow_run_id for name, r in results.items()}
        yield Tracked(exp, run, prepared, prepared.mlflow_parent_run_id, children, results, board,
                      board.registered, X_raw)


@pytest.fixture(scope="module")
def client(mlflow_uri: str):  # noqa: ANN201
    import mlflow

    return mlflow.MlflowClient(tracking_uri=mlflow_uri)


def test_parent_run_holds_the_leaderboard(tracked: Tracked, client) -> None:  # noqa: ANN001
    parent = client.get_run(tracked.parent)
    assert parent.info.run_name == tracked.run.run_id
    assert parent.info.status == "FINISHED"
    assert parent.data.tags[tracking.TAG_RUN_ID] == tracked.run.run_id
    assert parent.data.tags["bakeoff.leader"] == tracked.board.leader.model
    assert client.get_experiment(parent.info.experiment_id).name == "bakeoff-tests"
    metrics = parent.data.metrics
    assert metrics["leader_test_roc_auc"] == pytest.approx(tracked.board.leader.primary)
    assert (metrics["models_ok"], metrics["models_failed"], metrics["models_missing"]) == (2, 1, 0)
    files = {a.path for a in client.list_artifacts(tracked.parent)}
    assert {"leaderboard.json", "report.html", "report.md", "config.yaml"} <= files
    local = client.download_artifacts(tracked.parent, "leaderboard.json")
    assert json.loads(Path(local).read_text())["rows"][0]["model"] == tracked.board.leader.model


def test_each_model_is_a_child_run_with_params_and_metrics(tracked: Tracked, client) -> None:  # noqa: ANN001
    children = client.search_runs([client.get_run(tracked.parent).info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{tracked.parent}'")
    assert {c.info.run_id for c in children} == set(tracked.children.values())
    for name, run_id in tracked.children.items():
        child = client.get_run(run_id)
        assert child.info.run_name == name
        assert child.data.tags[tracking.TAG_RUN_ID] == tracked.run.run_id
        assert child.data.tags["mlflow.parentRunId"] == tracked.parent
        assert child.data.tags["bakeoff.model"] == name
    logistic = client.get_run(tracked.children["logistic"])
    result = tracked.results["logistic"]
    assert logistic.info.status == "FINISHED"
    assert logistic.data.tags[tracking.TAG_JOB] == tracked.prepared.jobs["logistic"]
    for split in ("valid", "test"):
        for metric, value in result.metrics[split].items():
            assert logistic.data.metrics[f"{split}_{metric}"] == pytest.approx(value)
    assert logistic.data.metrics["fit_seconds"] == pytest.approx(result.fit_seconds)
    assert logistic.data.metrics["test_roc_auc_ci_low"] == pytest.approx(result.ci[0])
    assert logistic.data.params["estimator"] == "LogisticRegression"
    assert float(logistic.data.params["C"]) == pytest.approx(result.params["C"])  # the tuned C
    assert logistic.data.params["max_iter"] == "2000"
    knn = client.get_run(tracked.children["knn"])
    assert knn.data.params["n_neighbors"] == "7"


def test_failed_model_is_a_failed_run_with_its_error(tracked: Tracked, client) -> None:  # noqa: ANN001
    broken = client.get_run(tracked.children["broken"])
    assert broken.info.status == "FAILED"
    assert broken.data.tags["bakeoff.error"] == "process killed (out of memory?)"
    assert broken.data.tags["bakeoff.estimator"] == "DecisionTreeClassifier"
    assert not (broken.outputs and broken.outputs.model_outputs)


def test_trial_history_is_an_artifact_and_a_metric_history(tracked: Tracked, client) -> None:  # noqa: ANN001
    run_id = tracked.children["logistic"]
    local = client.download_artifacts(run_id, tracking.TRIALS_ARTIFACT)
    trials = json.loads(Path(local).read_text())
    assert trials == json.loads(json.dumps(tracked.results["logistic"].search["trials"]))
    assert len(trials) == 4
    history = client.get_metric_history(run_id, "search_trial_score")
    assert sorted(m.step for m in history) == [t["number"] for t in trials if t["score"] is not None]
    assert client.get_run(run_id).data.metrics["search_trials"] == 4


def test_each_models_diagnostics_and_charts_are_run_artifacts(tracked: Tracked, client) -> None:  # noqa: ANN001
    """The data behind each chart, as the store holds it, and the charts report.html shows."""
    from bakeoff import diagnostics

    for name in ("logistic", "knn"):
        stored = diagnostics.load(tracked.run.store, tracked.results[name])
        run_id = tracked.children[name]
        listed = {a.path for a in client.list_artifacts(run_id, tracking.DIAGNOSTICS_DIR)}
        assert listed == {f"{tracking.DIAGNOSTICS_DIR}/{k}.json" for k in stored}
        artifacts = tracked.results[name].artifacts
        for key, data in stored.items():
            logged = client.download_artifacts(run_id, f"{tracking.DIAGNOSTICS_DIR}/{key}.json")
            assert json.loads(Path(logged).read_text()) == data
            assert Path(logged).read_bytes() == records.read_artifact(  # the store's bytes, exactly
                tracked.run.store, artifacts[diagnostics.PREFIX + key])
        charts = Path(client.download_artifacts(run_id, tracking.CHARTS_ARTIFACT)).read_text()
        assert f'id="model-{name}"' in charts and "<script" not in charts and "Confusion matrix" in charts
        assert f"{name} (AUC {stored['roc']['curves'][0]['auc']:.3f})" in charts  # its own ROC and PR curves
        assert f"{name} (AP {stored['pr']['curves'][0]['average_precision']:.3f})" in charts
    assert "search" in diagnostics.load(tracked.run.store, tracked.results["logistic"])


def test_models_are_skops_files_on_s3(tracked: Tracked, client, s3_server: S3Server) -> None:  # noqa: ANN001
    model_id = client.get_run(tracked.children["knn"]).outputs.model_outputs[0].model_id
    keys = {o.object_name for o in s3_server.client().list_objects(MLFLOW_BUCKET, prefix="mlflow/", recursive=True)}
    mine = {k.rsplit("/", 1)[-1] for k in keys if f"/models/{model_id}/" in k}
    assert {"MLmodel", "model.skops", "input_example.json", "requirements.txt"} <= mine
    assert "model.pkl" not in mine
    from mlflow.entities import LoggedModelStatus

    logged = client.get_logged_model(model_id)
    assert logged.status == LoggedModelStatus.READY
    assert logged.source_run_id == tracked.children["knn"]
    assert logged.experiment_id == client.get_run(tracked.parent).info.experiment_id


def test_champion_is_registered_with_alias_and_loads_without_pickle(
        tracked: Tracked, client, mlflow_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import mlflow
    import mlflow.sklearn

    leader = tracked.board.leader.model
    assert tracked.registered == {"registered_model": REGISTERED, "version": "1", "alias": "champion",
                                  "model": leader, "mlflow_run_id": tracked.children[leader]}
    version = client.get_model_version_by_alias(REGISTERED, "champion")
    assert version.version == "1"
    assert version.run_id == tracked.children[leader]
    assert version.tags["bakeoff.run_id"] == tracked.run.run_id

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a model was unpickled")

    import cloudpickle

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(cloudpickle, "load", refuse)
    monkeypatch.setattr(cloudpickle, "loads", refuse)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_uri)  # undone after the test, unlike set_tracking_uri
    # The trained model, as train logged it: the sklearn flavor in skops format. (The registered
    # version is the served pyfunc around the same file: tests/test_serving.py.)
    trained = f"models:/{client.get_run(tracked.children[leader]).outputs.model_outputs[0].model_id}"
    model = mlflow.sklearn.load_model(trained)
    saved = tracked.run.pipeline(leader)
    rows = tracked.X_raw.head(20)
    assert list(model.predict(rows)) == list(saved.predict(rows))
    assert np.allclose(model.predict_proba(rows), saved.predict_proba(rows))

    local = Path(mlflow.artifacts.download_artifacts(trained))
    flavor = yaml.safe_load((local / "MLmodel").read_text())["flavors"]["sklearn"]
    assert flavor["serialization_format"] == "skops"
    assert flavor["skops_trusted_types"] == ["numpy.dtype"]  # what a linear or k-NN Pipeline adds
    signature = yaml.safe_load((local / "MLmodel").read_text())["signature"]
    assert [c["name"] for c in json.loads(signature["inputs"])] == list(tracked.X_raw.columns)

    ours = tracking.load_champion(tracked.exp)
    assert list(ours.predict(rows)) == list(saved.predict(rows))


def test_reruns_reuse_the_parent_and_the_version(tracked: Tracked) -> None:
    assert tracking.start_parent(tracked.exp, tracked.run) == tracked.parent
    reports = {"report.md": b"# again\n"}
    again = tracking.log_leaderboard(tracked.exp, tracked.run, tracked.prepared, tracked.results, tracked.board,
                                     reports)
    assert again == tracked.registered


def test_no_secret_reaches_mlflow(tracked: Tracked, client) -> None:  # noqa: ANN001
    texts = []
    for run_id in [tracked.parent, *tracked.children.values()]:
        data = client.get_run(run_id).data
        texts += [*data.params.values(), *data.tags.values()]
    version = client.get_model_version_by_alias(REGISTERED, "champion")
    texts += [*version.tags.values(), version.description or ""]
    blob = "\n".join(texts)
    assert not [s for s in SECRETS.values() if s in blob]
    assert tracked.exp.tracking.mlflow_uri not in blob


def test_unreachable_server_is_a_one_line_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A config may not hold a password (spec refuses it); the environment may, and must not leak it.
    monkeypatch.setenv(tracking.ENV_URI, f"http://user:pw-s3cret@127.0.0.1:{_free_port()}")
    exp = _config(tmp_path, None)
    run = create_run(LocalStore(tmp_path / "store"), exp)
    started = time.monotonic()
    with pytest.raises(UserError) as err:
        tracking.start_parent(exp, run)
    assert time.monotonic() - started < 15
    (line,) = err.value.problems
    assert line.startswith("MLFLOW_TRACKING_URI: cannot reach MLflow at http://127.0.0.1:")
    assert "s3cret" not in line


def test_uri_comes_from_the_config_then_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(tracking.ENV_URI, raising=False)
    assert tracking.tracking_uri(_config(tmp_path, None).tracking) is None
    monkeypatch.setenv(tracking.ENV_URI, "http://env:5000")
    assert tracking.tracking_uri(_config(tmp_path, None).tracking) == "http://env:5000"
    assert tracking.tracking_uri(_config(tmp_path, {"mlflow_uri": "http://cfg:5000"}).tracking) == "http://cfg:5000"
    monkeypatch.setenv(tracking.ENV_URI, "")
    assert tracking.tracking_uri(_config(tmp_path, None).tracking) is None


def test_without_a_uri_nothing_is_imported_or_logged(tmp_path: Path) -> None:
    code = """
import sys
from bakeoff import tracking
from bakeoff.examples import config_text
from bakeoff.records import Context, Job, ModelResult, Schema
from bakeoff.runs import create_run
from bakeoff.spec import parse_yaml
from bakeoff.storage import LocalStore

exp = parse_yaml(config_text("breast-cancer"))
run = create_run(LocalStore(sys.argv[1]), exp)
job = Job(Context("fp", Schema("y", "regression", ["x"], [], None), "rmse", (), 0, "code"), exp.models[0].spec(), "e")
assert tracking.tracking_uri(exp.tracking) is None
assert tracking.start_parent(exp, run) is None
assert tracking.log_model(job, ModelResult("logistic", "LogisticRegression", "ok"), object(), None) is None
assert tracking.log_leaderboard(exp, run, None, {}, object(), {}) is None
assert "mlflow" not in sys.modules, "mlflow was imported"
"""
    env = {k: v for k, v in os.environ.items() if k != tracking.ENV_URI}
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "store")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_the_steps_track_a_run_end_to_end(mlflow_uri: str, client, tmp_path: Path,  # noqa: ANN001
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the steps are wired: prepare starts the parent, train logs the children, compare
    registers the champion, and the ids land in prepared.json and result.json."""
    monkeypatch.delenv(tracking.ENV_URI, raising=False)
    exp = _config(tmp_path, {"mlflow_uri": mlflow_uri, "experiment": "bakeoff-steps",
                             "register": "steps-champion"})
    exp = exp.model_copy(update={"models": [m for m in exp.models if m.name == "knn"]})
    run = create_run(LocalStore(tmp_path / "store"), exp)
    prepared = steps.prepare(run.uri)
    parent = prepared.mlflow_parent_run_id
    result = steps.train(run.store.root, prepared.jobs["knn"], "knn", threads=1)
    child = result.mlflow_run_id
    assert result.ok and "mlflow.parentRunId" not in client.get_run(child).data.tags  # train knows no run
    steps.compare(run.uri)
    assert client.get_run(child).data.tags["mlflow.parentRunId"] == parent
    assert run.result("knn").mlflow_run_id == child
    assert client.get_run(parent).info.status == "FINISHED"
    assert client.get_model_version_by_alias("steps-champion", "champion").run_id == child


def test_doctor_says_the_tracking_server_answers(mlflow_uri: str, tmp_path: Path) -> None:
    ran = bakeoff("doctor", "--store", str(tmp_path), env={tracking.ENV_URI: mlflow_uri, "KF_PIPELINES_ENDPOINT": ""})
    assert ran.code == 0, ran.stdout + ran.stderr
    assert f"ok      mlflow: MLflow at {mlflow_uri} answers" in ran.stdout

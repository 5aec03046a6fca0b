"""The champion from the registry to a service: MLflow's own scoring server, `bakeoff predict`,
and a KServe InferenceService checked offline.

A small bake-off (breast cancer, with a text column derived from the real data and missing
values) runs through the real steps against a real `mlflow server` (SQLite, artifacts on the moto
S3 server, both on 127.0.0.1), which registers the champion. `mlflow models serve`, as `bakeoff
deploy --to mlflow` prints it, then answers raw rows on /invocations, and the answers must equal
`bakeoff predict`'s for the same rows, exactly.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from bakeoff import predict, steps, tracking
from bakeoff.data import read_split
from bakeoff.examples import config_text
from bakeoff.runs import Run, create_run
from bakeoff.spec import parse_experiment
from bakeoff.storage import LocalStore

from conftest import BIN, MLFLOW_BUCKET, S3Server, _free_port, bakeoff, stop_group, wait_healthy
from tables import mixed_breast_cancer
from test_manifests import POLICY_CHECKS, check_schema

pytest.importorskip("mlflow", reason="the `mlflow` extra is not installed")

REGISTERED = "serving-champion"
# The champion's pod resources: its own in the config above, over kfp.resources' defaults.
RESOURCES = {"logistic": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
             "knn": {"requests": {"cpu": "1", "memory": "3Gi"}, "limits": {"cpu": "3", "memory": "4Gi"}}}
DESTINATION = f"s3://{MLFLOW_BUCKET}/mlflow"  # the test server's --artifacts-destination


@dataclass
class Served:
    run: Run
    env: dict[str, str]
    rows: pd.DataFrame  # raw rows as a client sends them
    folder: Path


@pytest.fixture(scope="module")
def served(mlflow_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("served")
    (tmp / "table.csv").write_text(mixed_breast_cancer().to_csv(index=False))
    config = yaml.safe_load(config_text("breast-cancer"))
    config |= {"dataset": {**config["dataset"], "uri": str(tmp / "table.csv")}, "storage": (tmp / "store").as_uri(),
               "models": [{"name": "logistic", "estimator": "LogisticRegression", "params": {"max_iter": 3000},
                           "resources": {"requests": {"cpu": "250m"}, "limits": {"memory": "2Gi"}}},
                          {"name": "knn", "estimator": "KNeighborsClassifier", "params": {"n_neighbors": 9},
                           "resources": {"requests": {"memory": "3Gi"}, "limits": {"cpu": "3"}}}],
               "tracking": {"mlflow_uri": mlflow_uri, "experiment": "bakeoff-serving", "register": REGISTERED}}
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv(tracking.ENV_URI, raising=False)
        run = create_run(LocalStore(tmp / "store"), parse_experiment(config))
        prepared = steps.prepare(run.uri)
        for name in ("logistic", "knn"):
            steps.train(run.store.root, prepared.jobs[name], name, threads=1)
        board = steps.compare(run.uri)
    assert board.registered and board.registered["registered_model"] == REGISTERED
    rows = read_split(run.store, prepared.fingerprint, "test", prepared.table, float32=False)[0].head(30).copy()
    rows.loc[rows.index[0], "texture band"] = "never seen in training"  # an unseen category
    rows.loc[rows.index[1], ["texture band", "mean radius", "worst area"]] = np.nan  # missing, as read from a file
    assert rows["texture band"].isna().any() and rows["mean radius"].isna().any()
    env = {tracking.ENV_URI: mlflow_uri, "MLFLOW_DISABLE_TELEMETRY": "true"}
    yield Served(run, env, rows, tmp)


def _records(rows: pd.DataFrame) -> list[list[Any]]:
    """Rows as JSON values, missing ones as null; floats keep every digit (json uses repr)."""
    return [[None if pd.isna(v) else v for v in row] for row in rows.astype(object).itertuples(index=False)]


def test_mlflow_scoring_server_answers_as_bakeoff_predict(served: Served) -> None:
    import requests

    port = _free_port()
    ran = bakeoff("deploy", served.run.uri, "--to", "mlflow", "--port", str(port), env=served.env)
    assert ran.code == 0, ran.stderr
    command = shlex.split(ran.stdout)
    assert command == ["mlflow", "models", "serve", "-m", f"models:/{REGISTERED}/1", "--env-manager", "local",
                       "--host", "127.0.0.1", "--port", str(port)]
    # The served model needs no unsafe deserialization: the switch that allows it is off.
    env = {**os.environ, **served.env, "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # as in an activated venv: it runs uvicorn
    log_path = served.folder / "scoring.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen([str(BIN / command[0]), *command[1:]], env=env, cwd=served.folder,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_healthy(f"http://127.0.0.1:{port}/ping", server, log_path, seconds=120)
            answer = requests.post(f"http://127.0.0.1:{port}/invocations", timeout=60, json={
                "dataframe_split": {"columns": list(served.rows.columns), "data": _records(served.rows)}})
        finally:
            stop_group(server)
    assert answer.status_code == 200, answer.text[:2000]
    online = pd.DataFrame(answer.json()["predictions"])

    served.rows.to_parquet(served.folder / "rows.parquet")
    batch = {}
    for ref in (served.run.uri, f"{REGISTERED}@champion"):
        out = served.folder / f"preds-{len(batch)}.parquet"
        ran = bakeoff("predict", ref, "--input", str(served.folder / "rows.parquet"), "-o", str(out), env=served.env)
        assert ran.code == 0, ran.stderr
        assert ran.stdout.strip() == f"wrote {out}: predictions for {len(served.rows)} rows"
        batch[ref] = pd.read_parquet(out)
    leader = served.run.finished_leaderboard().leader.model
    classes = list(served.run.pipeline(leader).classes_)
    assert list(online.columns) == ["prediction", *(f"proba_{c}" for c in classes)]
    for frame in batch.values():
        assert list(frame.columns) == list(online.columns)
        assert frame["prediction"].tolist() == online["prediction"].tolist()
        for c in classes:  # exactly: the same function computed both
            assert frame[f"proba_{c}"].tolist() == online[f"proba_{c}"].tolist()
    assert set(online["prediction"]) <= set(classes)


def test_registered_champion_is_a_pyfunc_from_code_loaded_without_pickle(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    import cloudpickle
    import mlflow
    import mlflow.pyfunc

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a model was unpickled")

    for module in (pickle, cloudpickle):
        monkeypatch.setattr(module, "load", refuse)
        monkeypatch.setattr(module, "loads", refuse)
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    monkeypatch.setenv(tracking.ENV_URI, served.env[tracking.ENV_URI])
    # Why the registered version is not the trained sklearn-flavor model: with that switch off,
    # MLflow refuses its skops file, whose trusted-type list is read from the model itself.
    leader = served.run.finished_leaderboard().leader.model
    trained = mlflow.MlflowClient(served.env[tracking.ENV_URI]).get_run(
        served.run.result(leader).mlflow_run_id).outputs.model_outputs[0].model_id
    with pytest.raises(mlflow.exceptions.MlflowException, match="MLFLOW_ALLOW_PICKLE_DESERIALIZATION"):
        mlflow.pyfunc.load_model(f"models:/{trained}")

    local = Path(mlflow.artifacts.download_artifacts(f"models:/{REGISTERED}@champion",
                                                     dst_path=str(served.folder / "downloaded")))
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    pyfunc = mlmodel["flavors"]["python_function"]
    assert set(mlmodel["flavors"]) == {"python_function"}
    assert Path(pyfunc["model_code_path"]).name == "served_model.py" and "python_model" not in pyfunc
    assert (local / pyfunc["artifacts"]["pipeline"]["path"]).name == "model.skops"
    inputs = {c["name"]: c["type"] for c in json.loads(mlmodel["signature"]["inputs"])}
    assert list(inputs) == list(served.rows.columns)
    assert inputs["texture band"] == "string" and inputs["mean radius"] == "double"
    assert (local / mlmodel["saved_input_example_info"]["artifact_path"]).exists()

    model = mlflow.pyfunc.load_model(f"models:/{REGISTERED}@champion")
    expected = predict.predictions(served.run.pipeline(leader), served.rows)
    pd.testing.assert_frame_equal(model.predict(served.rows), expected, check_exact=True)
    ours = tracking.load_champion(served.run.config())
    assert ours.predict(served.rows).tolist() == expected["prediction"].tolist()


def test_predict_names_missing_columns_and_writes_nothing(served: Served) -> None:
    dropped = list(served.rows.columns[:8])
    served.rows.drop(columns=dropped).to_csv(served.folder / "short.csv", index=False)
    out = served.folder / "never.parquet"
    ran = bakeoff("predict", served.run.uri, "--input", str(served.folder / "short.csv"), "-o", str(out))
    assert ran.code == 2
    shown = ", ".join(repr(c) for c in dropped[:5])
    assert ran.stderr.strip() == (f"error: --input: missing column(s) {shown} and 3 more; give the raw feature "
                                  f"columns the model was trained on ({len(served.rows.columns)} in all)")
    assert not out.exists()
    csv_out = served.folder / "p.csv"
    ran = bakeoff("predict", served.run.uri, "--input", str(served.folder / "short.csv"), "-o", str(csv_out))
    assert (ran.code, ran.stderr) == (2, f"error: --output: {csv_out} must end in .parquet; predictions are "
                                         "written as parquet\n")


def test_predict_reads_and_writes_s3(served: Served, s3_server: S3Server) -> None:
    s3_server.make_bucket("scoring")
    buffer = served.rows.to_parquet()
    s3_server.client().put_object("scoring", "in/rows.parquet", io.BytesIO(buffer), len(buffer))
    ran = bakeoff("predict", served.run.uri, "--input", "s3://scoring/in/rows.parquet",
                  "-o", "s3://scoring/out/preds.parquet", env=s3_server.env)
    assert ran.code == 0, ran.stderr
    written = s3_server.client().get_object("scoring", "out/preds.parquet").read()
    leader = served.run.finished_leaderboard().leader.model
    expected = predict.predictions(served.run.pipeline(leader), served.rows).reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(written)), expected, check_exact=True)


def test_large_files_are_scored_in_chunks_with_progress(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from bakeoff.progress import RowsProgress

    monkeypatch.setattr(predict, "CHUNK_ROWS", 7)
    pipeline = served.run.pipeline("logistic")
    seen: list[tuple[int, int]] = []
    chunked = predict.predictions_in_chunks(pipeline, served.rows, lambda done, total: seen.append((done, total)))
    assert seen == [(7, 30), (14, 30), (21, 30), (28, 30), (30, 30)]
    whole = predict.predictions(pipeline, served.rows)
    assert chunked["prediction"].tolist() == whole["prediction"].tolist()
    # Another batch shape may sum in another order inside BLAS: equal to the last bits or so.
    pd.testing.assert_frame_equal(chunked, whole, check_exact=False, rtol=1e-12, atol=1e-15)
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with RowsProgress(console) as show:
        predict.predictions_in_chunks(pipeline, served.rows, show)
    assert "30/30" in console.file.getvalue() and "predicting" in console.file.getvalue()
    small = Console(file=io.StringIO(), force_terminal=True)
    with RowsProgress(small) as show:
        show(30, 30)  # one chunk: no bar
    assert small.file.getvalue() == ""


def _inference_service(served: Served, ref: str) -> dict[str, Any]:
    out = served.folder / f"isvc-{len(list(served.folder.glob('isvc-*')))}.yaml"
    ran = bakeoff("deploy", ref, "--to", "kserve", "--store", str(served.run.store.root),
                  "--artifacts-destination", DESTINATION, "-o", str(out), env=served.env)
    assert ran.code == 0, ran.stderr
    assert ran.stdout.startswith(f"wrote {out}: InferenceService serving-champion for models:/{REGISTERED}/1")
    return yaml.safe_load(out.read_text())


def test_inference_service_validates_against_kserve_and_our_policy(served: Served, s3_server: S3Server) -> None:
    isvc = _inference_service(served, REGISTERED)
    assert check_schema([isvc]) == []
    for check in POLICY_CHECKS:
        assert check([isvc]) == [], check.__name__
    assert _inference_service(served, served.run.run_id) == isvc  # by run or by name: one version
    model = isvc["spec"]["predictor"]["model"]
    assert (model["modelFormat"], model["protocolVersion"]) == ({"name": "mlflow"}, "v2")
    assert isvc["spec"]["predictor"]["serviceAccountName"] == "bakeoff-serving"  # manifests/components/kserve
    leader = served.run.finished_leaderboard().leader.model
    assert model["resources"] == RESOURCES[leader]
    assert model["image"] == served.run.config().kfp.image
    # storageUri is where the registered version's files really are on S3, MLmodel at its root.
    bucket, _, prefix = model["storageUri"].removeprefix("s3://").partition("/")
    keys = {o.object_name.removeprefix(prefix + "/")
            for o in s3_server.client().list_objects(bucket, prefix=prefix + "/", recursive=True)}
    assert {"MLmodel", "served_model.py", "artifacts/model.skops", "input_example.json"} <= keys, keys


@pytest.mark.parametrize("change, expected", [
    (lambda m: m.update(protocolVersion=2), "spec.predictor.model.protocolVersion: 2 is not of type 'string'"),
    (lambda m: m.update(storageURI=m.pop("storageUri")), "Additional properties are not allowed ('storageURI'"),
    (lambda m: m["modelFormat"].pop("name"), "spec.predictor.model.modelFormat: 'name' is a required property"),
])
def test_schema_check_catches_a_broken_inference_service(served: Served, change: Any, expected: str) -> None:
    isvc = _inference_service(served, REGISTERED)
    change(isvc["spec"]["predictor"]["model"])
    (error,) = check_schema([isvc])
    assert error.startswith("InferenceService/serving-champion: ") and expected in error, error


def test_deploy_errors_are_one_line_with_the_fix(served: Served) -> None:
    ran = bakeoff("deploy", REGISTERED, "--to", "kserve", "--store", str(served.run.store.root),
                  env={**served.env, "MLFLOW_ARTIFACTS_DESTINATION": ""})
    assert ran.code == 2 and len(ran.stderr.splitlines()) == 1
    assert ran.stderr.startswith("error: --artifacts-destination: MLflow proxies this model's files (mlflow-artifacts:/")
    ran = bakeoff("deploy", "no-such-model", "--to", "mlflow", "--store", str(served.run.store.root), env=served.env)
    assert (ran.code, ran.stderr) == (2, f"error: no-such-model@champion: no such registered model version in MLflow "
                                         f"at {served.env[tracking.ENV_URI]}; check the name (tracking.register) "
                                         "and the alias or version\n")
    served.rows.to_parquet(served.folder / "few.parquet")
    ran = bakeoff("predict", "no-such-model@champion", "--input", str(served.folder / "few.parquet"),
                  "-o", str(served.folder / "never.parquet"), env=served.env)
    assert (ran.code, ran.stderr.split(";")[0]) == (2, "error: no-such-model@champion: no such registered model "
                                                       f"version in MLflow at {served.env[tracking.ENV_URI]}")
    assert not (served.folder / "never.parquet").exists()


def test_deploy_applies_the_inference_service_with_the_deployer_role(served: Served, tmp_path: Path) -> None:
    """`--apply` against the Kubernetes stand-in (tests/k8s_standin.py: it checks the object with
    the same CRD schema and holds the caller to its Role), as bakeoff-runner with the Role of
    manifests/components/kserve; then without it."""
    from k8s_standin import StandInKubernetes
    from test_manifests import MANIFESTS

    role = next(d for d in yaml.safe_load_all((MANIFESTS / "components/kserve/rbac.yaml").read_text())
                if d["kind"] == "Role")
    args = ("deploy", REGISTERED, "--to", "kserve", "--store", str(served.run.store.root),
            "--artifacts-destination", DESTINATION, "--apply")
    expected = _inference_service(served, REGISTERED)
    with StandInKubernetes(namespaces=("bakeoff",), roles={"bakeoff-runner": role["rules"]}) as k8s:
        env = {**served.env, "KUBECONFIG": str(k8s.kubeconfig(tmp_path / "kubeconfig", service_account="bakeoff-runner"))}
        ran = bakeoff(*args, env=env)
        assert (ran.code, ran.stdout) == (0, "created inferenceservice/serving-champion in bakeoff\n"), ran.stderr
        stored = k8s.objects[("InferenceService", "bakeoff", "serving-champion")]
        assert stored["spec"] == expected["spec"] and stored["metadata"]["labels"] == expected["metadata"]["labels"]
        ran = bakeoff(*args, "--image", "bakeoff-serving:0.2.0", env=env)
        assert (ran.code, ran.stdout) == (0, "updated inferenceservice/serving-champion in bakeoff\n"), ran.stderr
        stored = k8s.objects[("InferenceService", "bakeoff", "serving-champion")]
        assert stored["spec"]["predictor"]["model"]["image"] == "bakeoff-serving:0.2.0"
        assert k8s.used["bakeoff-runner"] == {("create", "serving.kserve.io", "inferenceservices"),
                                              ("patch", "serving.kserve.io", "inferenceservices")}
    with StandInKubernetes(namespaces=("bakeoff",), roles={"bakeoff-runner": []}) as k8s:
        env = {**served.env, "KUBECONFIG": str(k8s.kubeconfig(tmp_path / "kubeconfig", service_account="bakeoff-runner"))}
        ran = bakeoff(*args, env=env)
        assert ran.code == 2 and len(ran.stderr.splitlines()) == 1, ran.stderr
        assert ran.stderr.startswith("error: --namespace: Kubernetes refused a request in namespace bakeoff (HTTP 403")
        assert ran.stderr.rstrip().endswith("grant it the Role in manifests/components/kserve")

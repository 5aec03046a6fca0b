"""`bakeoff submit`, `bakeoff upload` and the KFP REST client, against STAND-INS for KFP.

No KFP API server can run on these machines. ``kfp_standin.StandInKfp`` is a stand-in that
implements the v2beta1 endpoints the client calls, on 127.0.0.1 only. Where a run must really
happen, the stand-in hands the uploaded YAML to ``kfp_standin.execute``.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from bakeoff.errors import UserError
from bakeoff.kfp.client import Auth, KfpClient, connect, content_name
from bakeoff.runners.base import RunOptions
from bakeoff.runners.cluster import KfpRunner
from bakeoff.spec import anchored, load_config
from conftest import ROOT, bakeoff
from kfp_standin import StandInKfp, execute, pod_env, team_config

GENERIC = (ROOT / "pipelines" / "generic.yaml").read_text()
KFP_ENV = ("KF_PIPELINES_ENDPOINT", "KF_PIPELINES_TOKEN", "KF_PIPELINES_COOKIE", "KF_PIPELINES_SA_TOKEN_PATH")


@pytest.fixture(autouse=True)
def no_kfp_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KFP_ENV:
        monkeypatch.delenv(name, raising=False)


def version_names(kfp: StandInKfp) -> list[str]:
    return [v["name"] for v in kfp.store.versions.values()]


def test_publish_names_versions_by_content_and_a_409_adds_a_version() -> None:
    with StandInKfp() as kfp:
        client = KfpClient(kfp.url, Auth())
        first = client.publish("bakeoff", GENERIC)
        assert first.created and first.name == content_name(GENERIC)
        # KFP names a new pipeline's first version after the pipeline; ours comes next to it.
        assert version_names(kfp) == ["bakeoff", first.name]

        again = client.publish("bakeoff", GENERIC)
        assert (again.created, again.version_id) == (False, first.version_id)
        assert len(kfp.store.versions) == 2

        changed = GENERIC + "# another build\n"
        second = client.publish("bakeoff", changed)
        assert second.created and second.pipeline_id == first.pipeline_id and second.name != first.name
        assert len(kfp.store.pipelines) == 1 and len(kfp.store.versions) == 3
        uploads = [p for m, p, _ in kfp.store.requests if m == "POST"]
        assert uploads.count("/apis/v2beta1/pipelines/upload") == 3  # two of them answered 409
        assert uploads.count("/apis/v2beta1/pipelines/upload_version") == 2


def test_bearer_token_cookie_service_account_token_and_endpoint_from_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with StandInKfp(token="tok-123", cookie="authservice_session=abc") as kfp:
        with pytest.raises(UserError, match=r"^--token: .* 401 Unauthorized to GET healthz; pass --token or "
                                            r"set KF_PIPELINES_TOKEN .*--cookie .*KF_PIPELINES_SA_TOKEN_PATH"):
            connect(kfp.url)
        connect(kfp.url, token="tok-123")
        connect(kfp.url, cookie="authservice_session=abc")
        monkeypatch.setenv("KF_PIPELINES_ENDPOINT", kfp.url)
        monkeypatch.setenv("KF_PIPELINES_TOKEN", "tok-123")
        assert connect(None).host == kfp.url
        monkeypatch.delenv("KF_PIPELINES_TOKEN")
        token_file = tmp_path / "token"
        token_file.write_text("tok-123\n")  # a projected service-account token
        monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token_file))
        connect(None)
        assert {h.get("Authorization") for _, _, h in kfp.store.requests} == {None, "Bearer tok-123"}
        monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(tmp_path / "missing"))
        with pytest.raises(UserError, match="KF_PIPELINES_SA_TOKEN_PATH: .*missing is not a file"):
            connect(None)
    monkeypatch.delenv("KF_PIPELINES_ENDPOINT")
    with pytest.raises(UserError, match="--host: no Kubeflow Pipelines endpoint; pass --host URL or set "
                                        "KF_PIPELINES_ENDPOINT"):
        KfpClient(None, Auth())


def test_a_rotated_service_account_token_is_read_again_for_every_request(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    current = {"token": "first"}
    with StandInKfp(token=lambda: current["token"]) as kfp:
        monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token_file))
        client = connect(kfp.url)
        token_file.write_text("second\n")  # the kubelet rotates a projected token
        current["token"] = "second"
        client.ensure_experiment("bakeoff")
        assert [h.get("Authorization") for _, _, h in kfp.store.requests] == [
            "Bearer first", "Bearer second", "Bearer second"]


@pytest.mark.parametrize("version", ["2.5.0", "2.14.4", "2.15.0", "2.16.1", "2.17.0"])
def test_every_supported_backend_takes_our_pipelines_and_creates_runs(version: str) -> None:
    """Upload decodes the spec strictly and run creation compiles it (from 2.14 decoding every
    executor's Kubernetes config strictly): both with that version's own schemas."""
    with StandInKfp(version=version) as kfp:
        client = connect(kfp.url)
        experiment = client.ensure_experiment("nightly")
        for path in sorted((ROOT / "pipelines").glob("*.yaml")):
            published = client.publish(path.stem, path.read_text())
            client.start_run(path.stem, experiment, published, {"config_uri": "s3://team/c.yaml"})
        assert len(kfp.store.runs) == 4


def test_submit_honours_parallel_with_a_loop_and_no_cache_with_train_tasks_that_retrain(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bakeoff.kfp import submit as kfp_submit
    from bakeoff.kfp.client import Version
    from bakeoff.runs import Run
    from bakeoff.storage import LocalStore

    packages: list[str] = []

    def submitted(exp: Any, client: Any, package: str, **_: Any) -> kfp_submit.Submitted:
        """Only the compiled package matters here; the slow test below stages a real one on S3."""
        packages.append(package)
        return kfp_submit.Submitted(Run(LocalStore(tmp_path), "r1"), "kfp-1", "http://kfp/#/runs/details/kfp-1",
                                    Version("p", "v", "sha256-x", True))

    monkeypatch.setattr(kfp_submit, "submit", submitted)
    config = team_config(tmp_path / "team", "s3://kfp-e2e/team")
    exp = anchored(load_config(config), config.parent)
    with StandInKfp() as kfp:
        outcome = KfpRunner(connect(kfp.url)).run(exp, RunOptions(parallel=2, use_cache=False))
    assert outcome.url == "http://kfp/#/runs/details/kfp-1" and outcome.board is None  # no --wait
    ir = yaml.safe_load(packages[0].split("\n---")[0])
    [loop] = [t for t in ir["components"]["comp-exit-handler-1"]["dag"]["tasks"].values() if "parameterIterator" in t]
    assert loop["iteratorPolicy"]["parallelismLimit"] == 2
    [train] = ir["components"][loop["componentRef"]["name"]]["dag"]["tasks"].values()
    assert not train["cachingOptions"].get("enableCache")
    assert ir["deploymentSpec"]["executors"]["exec-train"]["container"]["args"][-1] == "--no-cache"


def test_a_backend_older_than_2_5_is_refused_before_any_upload() -> None:
    with StandInKfp(version="2.4.0") as kfp:
        with pytest.raises(UserError, match=r"^--host: .* runs Kubeflow Pipelines 2.4.0, older than 2.5, the oldest "
                                            r"bakeoff supports .*; upgrade Kubeflow Pipelines$"):
            connect(kfp.url)
        assert [p for _, p, _ in kfp.store.requests] == ["/apis/v2beta1/healthz"]


class LoginPage(BaseHTTPRequestHandler):
    """What an auth proxy in front of Kubeflow answers to a request without a session."""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<html>Log in to Kubeflow</html>")

    def log_message(self, *args: Any) -> None:
        pass


def test_unreachable_host_forbidden_login_page_and_multi_user_are_one_line_errors() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before use: nothing listens there
    with pytest.raises(UserError, match=rf"^--host: cannot reach Kubeflow Pipelines at http://127.0.0.1:{port} "
                                        r"\(ConnectionError\); .*port-forward"):
        connect(f"127.0.0.1:{port}")
    with StandInKfp(forbid=True) as kfp:
        client = connect(kfp.url)
        with pytest.raises(UserError, match=r"^--namespace: .* refused POST pipelines/upload with HTTP 400 "
                                            r"\(Failed to create a pipeline\); that is how Kubeflow Pipelines "
                                            r"answers an identity without permission .*pass --namespace"):
            client.publish("bakeoff", GENERIC)
        with pytest.raises(UserError, match=r"^--namespace: .* 403 Forbidden to GET experiments \(PermissionDenied: "
                                            r"not in this namespace\); .*pass --namespace"):
            client.ensure_experiment("bakeoff")
    with StandInKfp(multi_user=True) as kfp:
        with pytest.raises(UserError, match="--namespace: this Kubeflow is multi-user"):
            connect(kfp.url)
        client = connect(kfp.url, namespace="team-a")
        assert client.ensure_experiment("bakeoff") == client.ensure_experiment("bakeoff")
        assert [e["namespace"] for e in kfp.store.experiments.values()] == ["team-a"]
        # pipeline names are unique per namespace (apiserver/model/pipeline.go)
        other = connect(kfp.url, namespace="team-b")
        assert client.publish("bakeoff", GENERIC).pipeline_id != other.publish("bakeoff", GENERIC).pipeline_id
    server = ThreadingHTTPServer(("127.0.0.1", 0), LoginPage)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        with pytest.raises(UserError, match=r"answered GET healthz with text/html, not JSON \(a login page\?\)"):
            connect(f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_wait_polls_until_the_run_ends_or_times_out_with_the_run_url() -> None:
    with StandInKfp() as kfp:
        client = connect(kfp.url)
        version = client.publish("bakeoff", GENERIC)
        experiment = client.ensure_experiment("nightly")
        run_id = client.start_run("nightly 1", experiment, version, {"config_uri": "s3://team/c.yaml"})
        slept: list[float] = []
        assert client.wait(run_id, timeout=60, sleep=slept.append) == "SUCCEEDED"
        assert slept == [1.0]  # RUNNING once, then SUCCEEDED
        stored = kfp.store.runs[run_id]
        assert stored["runtime_config"] == {"parameters": {"config_uri": "s3://team/c.yaml"}}
        assert stored["pipeline_version_reference"]["pipeline_version_id"] == version.version_id
    release = threading.Event()
    with StandInKfp(on_run=lambda run, package: "SUCCEEDED" if release.wait(30) else "FAILED") as kfp:
        client = connect(kfp.url)
        run_id = client.start_run("slow", client.ensure_experiment("e"), client.publish("p", GENERIC), {})
        try:
            with pytest.raises(UserError, match=rf"--timeout: the run is still RUNNING after 0.3 s; follow it at "
                                                rf"{kfp.url}/#/runs/details/{run_id}"):
                client.wait(run_id, timeout=0.3, first_poll=0.1)
        finally:
            release.set()


def test_upload_cli_is_the_idempotent_ci_step() -> None:
    with StandInKfp(token="ci-token") as kfp:
        env = {"KF_PIPELINES_ENDPOINT": kfp.url, "KF_PIPELINES_TOKEN": "ci-token"}
        first = bakeoff("upload", "pipelines/generic.yaml", "--name", "bakeoff", env=env, cwd=ROOT)
        assert first.code == 0, first.stderr
        assert first.stdout.startswith("uploaded: pipeline bakeoff") and content_name(GENERIC) in first.stdout
        second = bakeoff("upload", "pipelines/generic.yaml", "--name", "bakeoff", env=env, cwd=ROOT)
        assert second.code == 0 and second.stdout.startswith("unchanged: pipeline bakeoff")
        assert len(kfp.store.versions) == 2


@pytest.mark.slow
def test_submit_stages_config_and_data_runs_the_pipeline_and_prints_the_leaderboard(
        tmp_path: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    s3_server.make_bucket("kfp-e2e")
    config = team_config(tmp_path / "team", "s3://kfp-e2e/team",
                         kfp={"s3_endpoint": s3_server.endpoint})
    pods: dict[str, Any] = {}

    def run_in_pods(run: dict[str, Any], package: str) -> str:
        """The pods see S3 only through the compiled env and the (fake) Secret."""
        if pods:  # later runs: only their submission is under test
            return "SUCCEEDED"
        state, execution = execute(package, run["runtime_config"]["parameters"], workdir=tmp_path / "pods",
                                   env=pod_env(), job_id=run["run_id"],
                                   secrets={"mlpipeline-minio-artifact": {"accesskey": "testing", "secretkey": "testing"}})
        pods["tasks"] = execution.tasks
        return state

    with StandInKfp(token="tok-ci", on_run=run_in_pods) as kfp:
        env = {**s3_server.env, "KF_PIPELINES_TOKEN": "tok-ci"}
        result = bakeoff("submit", str(config), "--host", kfp.url, "--wait", "--timeout", "120", env=env)
        assert result.code == 0, result.stderr + "\n".join(t.stderr for t in pods.get("tasks", []))
        [run] = kfp.store.runs.values()
        assert f"{kfp.url}/#/runs/details/{run['run_id']}" in result.stdout
        assert "logistic" in result.stdout and "broken" in result.stdout
        # A failed model is a failed row; its train task and the run succeed.
        assert "the Kubeflow run ended" not in result.stderr and "1 model(s) failed: broken" in result.stderr
        assert sorted((t.display_name, t.state) for t in pods["tasks"]) == [
            ("broken", "SUCCEEDED"), ("compare", "SUCCEEDED"), ("logistic", "SUCCEEDED"), ("prepare", "SUCCEEDED")]

        run_uri = run["runtime_config"]["parameters"]["run_uri"]
        assert run_uri.startswith("s3://kfp-e2e/team/runs/")
        key = run_uri.removeprefix("s3://kfp-e2e/")
        client = s3_server.client()
        staged = yaml.safe_load(client.get_object("kfp-e2e", f"{key}/config.yaml").read())
        assert staged["dataset"]["uri"].startswith("s3://kfp-e2e/team/data/")
        assert staged["dataset"]["uri"].endswith("/breast-cancer.csv")
        board = json.loads(client.get_object("kfp-e2e", f"{key}/leaderboard.json").read())
        assert [r["status"] for r in board["rows"]] == ["ok", "failed"]
        [package] = {kfp.store.packages[v] for v in kfp.store.versions}
        assert "tok-ci" not in package and "testing" not in package
        assert all(h.get("Authorization") == "Bearer tok-ci" for _, _, h in kfp.store.requests)

        for key, value in env.items():  # the second submit in-process: only its uploads matter
            monkeypatch.setenv(key, value)
        exp = anchored(load_config(config), config.parent)
        KfpRunner(connect(kfp.url)).run(exp, RunOptions())
        assert len(kfp.store.runs) == 2 and len(kfp.store.versions) == 2 and len(kfp.store.experiments) == 1
        assert version_names(kfp) == ["bakeoff-breast-cancer", content_name(package)]
        data = [o.object_name for o in client.list_objects("kfp-e2e", prefix="team/data/", recursive=True)]
        assert len(data) == 1  # the same file is uploaded once

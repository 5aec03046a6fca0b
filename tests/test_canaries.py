"""No credential ever reaches output, a stored file or a compiled pipeline (issue 13, item 3).

Every credential variable holds a canary; the S3 endpoint, the MLflow server and the Kubeflow
host are one server on 127.0.0.1 that answers ``/health`` and fails everything else with HTTP 500
(the case that once printed the MLflow password in a traceback). Each command runs as a user
would run it; then its output, every file under the test's folder and the compiled pipeline are
searched for every canary.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from conftest import Result, bakeoff
from standin_http import QuietHandler

CANARIES = {
    "AWS_ACCESS_KEY_ID": "canary-aws-access-7f3e9a",
    "AWS_SECRET_ACCESS_KEY": "canary-aws-secret-51c0d2",
    "AWS_SESSION_TOKEN": "canary-aws-session-9b4e11",
    "BAKEOFF_S3_ACCESS_KEY_ID": "canary-own-access-2d8f60",
    "BAKEOFF_S3_SECRET_ACCESS_KEY": "canary-own-secret-a61c3e",
    "BAKEOFF_S3_SESSION_TOKEN": "canary-own-session-0e7b94",
    "KF_PIPELINES_TOKEN": "canary-kfp-token-c93a57",
    "MLFLOW_TRACKING_PASSWORD": "canary-mlflow-env-pw-4b1f08",
}
URI_PASSWORD = "canary-mlflow-uri-pw-e2d971"


class FailingServer(QuietHandler):
    """Healthy at /health, HTTP 500 for every other request, as a half-broken server is."""

    def _answer(self) -> None:
        if self.path.rstrip("/").endswith("/health"):
            self._text("OK")
        else:
            self._text("internal error", status=500)

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = _answer


@pytest.fixture(scope="module")
def failing_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FailingServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def outputs(failing_server: str, initialized: Callable[[str], Path],
            tmp_path_factory: pytest.TempPathFactory) -> dict[str, Result]:
    """Every command, run once with canary credentials against the failing server."""
    folder = tmp_path_factory.mktemp("canaries") / "wine"
    shutil.copytree(initialized("wine"), folder)  # as `bakeoff init --example wine` writes it
    config = yaml.safe_load((folder / "bakeoff.yaml").read_text())
    config["models"] = config["models"][:2]
    local, s3 = folder / "local.yaml", folder / "s3.yaml"
    local.write_text(yaml.safe_dump({**config, "storage": str(folder / "store")}))
    s3.write_text(yaml.safe_dump({**config, "storage": "s3://canary-bucket/store"}))
    host = failing_server.removeprefix("http://")
    env = {**CANARIES, "AWS_ENDPOINT_URL": failing_server, "BAKEOFF_S3_ENDPOINT_URL": failing_server,
           "KF_PIPELINES_ENDPOINT": failing_server, "MLFLOW_TRACKING_USERNAME": "canary-user",
           "MLFLOW_TRACKING_URI": f"http://canary-user:{URI_PASSWORD}@{host}",
           # MLflow retries an HTTP 500 with backoff for minutes; one try shows the same error
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    commands = {
        "validate": ("validate", str(local)),
        "run": ("run", str(local)),
        "step-prepare": ("step", "prepare", "--config-uri", str(local), "--run-id", "canary-run"),
        "runs": ("runs", str(folder / "store")),
        "doctor": ("doctor", str(s3)),
        "run-s3": ("run", str(s3)),
        "compile": ("compile", str(s3), "-o", str(folder / "pipeline.yaml")),
        "submit": ("submit", str(s3), "--host", failing_server),
    }
    results = {name: bakeoff(*args, cwd=folder, env=env, timeout=240) for name, args in commands.items()}
    results["files"] = Result(0, _every_file(folder), "")
    assert (folder / "pipeline.yaml").is_file(), results["compile"].stderr
    return results


def _every_file(folder: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in sorted(folder.rglob("*")) if p.is_file())


@pytest.mark.parametrize("name", ["validate", "run", "step-prepare", "runs", "doctor", "run-s3",
                                  "compile", "submit", "files"])
def test_no_canary_in_output_or_stored_files(outputs: dict[str, Result], name: str) -> None:
    text = outputs[name].stdout + outputs[name].stderr
    leaked = [var for var, value in {**CANARIES, "MLFLOW_TRACKING_URI": URI_PASSWORD}.items() if value in text]
    assert not leaked, f"{name} printed or stored {leaked}"


def test_the_failing_mlflow_api_was_reached(outputs: dict[str, Result]) -> None:
    """The run must have got past /health to a failing API call, where the password once leaked."""
    for name in ("run", "step-prepare"):
        result = outputs[name]
        assert result.code == 2
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: tracking.mlflow_uri: http://127.0.0.1:")
        assert line.endswith("answered /health but not the tracking API (MlflowException); check the URL "
                             "points at the tracking server")

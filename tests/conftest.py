"""Shared fixtures: a real S3 server process on loopback, a real MLflow server, a CLI runner,
example projects and their runs.

The S3 server is moto's standalone server (`moto_server`), started once per session on a free
port of 127.0.0.1 and stopped by its PID. The MLflow server is started once per session too, on
first use: test_tracking and test_serving each use their own experiment and registered name on
it, so they share the ten-odd seconds its start-up costs. Each bundled example is run once per
session too (`example_run`): the tests that only read a finished run read that one, and those that
go on from it (rerun, change, serve from cache) work on a copy.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PLUGIN_DIR = Path(__file__).parent / "plugins"


@pytest.fixture(autouse=True)
def _main_module_kept() -> Iterator[None]:
    """Streamlit's AppTest runs an app script as ``__main__`` and leaves it there. A model
    process the local runner later starts in the same pytest process (forkserver) re-runs the
    parent's ``__main__`` from its path, as multiprocessing does, and AppTest.from_function's
    script, run without its arguments, kills it. Each test gets back the ``__main__`` it had."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@dataclass
class S3Server:
    endpoint: str
    env: dict[str, str]

    def client(self):  # noqa: ANN201
        from minio import Minio

        return Minio(self.endpoint.removeprefix("http://"), access_key="testing",
                     secret_key="testing", secure=False)

    def make_bucket(self, name: str) -> None:
        client = self.client()
        if not client.bucket_exists(name):
            client.make_bucket(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(port: int) -> tuple[S3Server, subprocess.Popen]:
    """A moto server on 127.0.0.1:``port``, once it listens (the fault tests restart one on the
    same port); stop it by its PID."""
    proc = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    for _ in range(300):  # bounded in count and time
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("moto_server did not start")
            time.sleep(0.1)
    env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
    return S3Server(endpoint, env), proc


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    server, proc = start_moto(_free_port())
    try:
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The S3 server's endpoint and credentials in this process's environment."""
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    return s3_server


MLFLOW_BUCKET = "mlflow-artifacts"  # the MLflow server's --artifacts-destination is s3://MLFLOW_BUCKET/mlflow


@pytest.fixture(scope="session")
def mlflow_uri(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mlflow server` (SQLite, artifacts proxied to the S3 server) on a free loopback port, in its
    own process group, stopped by that id."""
    s3_server.make_bucket(MLFLOW_BUCKET)
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}, **s3_server.env,
           "MLFLOW_S3_ENDPOINT_URL": s3_server.endpoint, "MLFLOW_DISABLE_TELEMETRY": "true",
           # the job runner (huey consumers) serves GenAI features we do not use and slows start-up
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(BIN / "mlflow"), "server", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", f"s3://{MLFLOW_BUCKET}/mlflow", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{uri}/health", proc, folder / "server.log")
        yield uri
    finally:
        stop_group(proc)
        log.close()


def wait_healthy(url: str, proc: subprocess.Popen, log: Path, seconds: float = 75) -> None:
    """Until ``url`` answers 200, the server exits, or ``seconds`` pass (then its log's tail)."""
    import requests

    deadline = time.monotonic() + seconds
    for _ in range(int(seconds * 4)):  # bounded in count and time
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{proc.args[1:3]} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.25)
    raise RuntimeError(f"{proc.args[1:3]} did not start")


def stop_group(proc: subprocess.Popen) -> None:
    """A server that forks workers (uvicorn) runs in its own session (pgid = its PID): stop both."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def bakeoff(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 300) -> Result:
    """Run the installed `bakeoff` command as a user would."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    proc = subprocess.run([str(BIN / "bakeoff"), *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def plugin_env(tmp_path: Path) -> dict[str, str]:
    """An installed-looking distribution that registers test estimators under
    `bakeoff.estimators`, made visible to child processes through PYTHONPATH."""
    site = tmp_path / "site"
    dist = site / "bakeoff_test_plugins-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bakeoff-test-plugins\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[bakeoff.estimators]\n"
        "CrashingClassifier = bakeoff_test_plugins:CrashingClassifier\n"
        "SleepyClassifier = bakeoff_test_plugins:SleepyClassifier\n"
    )
    (site / "bakeoff_test_plugins.py").write_text((PLUGIN_DIR / "bakeoff_test_plugins.py").read_text())
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}


@pytest.fixture(scope="session")
def initialized(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``initialized(NAME)``: the folder `bakeoff init --example NAME` wrote, once per session on
    first use (each `bakeoff init` imports scikit-learn's datasets: seconds of start-up). Never
    written to: `project` and `example_run` work on copies."""

    @functools.cache
    def get(example: str) -> Path:
        folder = tmp_path_factory.mktemp(f"init-{example}") / example
        result = bakeoff("init", "--example", example, "--dir", str(folder))
        assert result.code == 0, result.stderr
        return folder

    return get


@pytest.fixture
def project(tmp_path: Path, initialized: Callable[[str], Path]) -> Callable[[str], Path]:
    """A folder holding `bakeoff init --example NAME` (a copy of the session's), returned with
    its config path."""

    def make(example: str) -> Path:
        folder = tmp_path / example
        shutil.copytree(initialized(example), folder)
        return folder / "bakeoff.yaml"

    return make


@dataclass(frozen=True)
class ExampleRun:
    """A folder as `bakeoff init --example NAME` leaves it, after one `bakeoff run` in it: its
    bakeoff.yaml, data/ and .bakeoff/ holding that one finished run. Read it; to change anything
    in it (run again, edit the config), work on `copy_to`'s copy."""

    folder: Path
    stdout: str  # the run's printed leaderboard
    stderr: str  # its live table and summary

    @property
    def config(self) -> Path:
        return self.folder / "bakeoff.yaml"

    def copy_to(self, folder: Path) -> Path:
        """The whole folder, store included, at ``folder`` (which must not exist); its config.
        The store is addressed relative to the config, so the copy's runs are its own."""
        shutil.copytree(self.folder, folder, symlinks=True)
        return folder / "bakeoff.yaml"


@pytest.fixture(scope="session")
def example_run(initialized: Callable[[str], Path],
                tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], ExampleRun]:
    """``example_run(NAME)``: the example run once per session, on first use, with two models at
    once (the default on a 2-core machine, said explicitly so that it holds on any)."""

    @functools.cache
    def get(example: str) -> ExampleRun:
        folder = tmp_path_factory.mktemp(f"run-{example}") / example
        shutil.copytree(initialized(example), folder)
        ran = bakeoff("run", "bakeoff.yaml", "--parallel", "2", cwd=folder)
        assert ran.code == 0, ran.stderr
        return ExampleRun(folder, ran.stdout, ran.stderr)

    return get

"""A real S3 server (moto, on 127.0.0.1) paused and killed in the middle of a run (issue 13,
item 9): a pause is ridden out, a death is `error:` lines and exit 2 with no traceback and no
process left behind. Every wait is bounded in count and time."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import BIN, S3Server, _free_port, bakeoff
from test_supervision import descendants, running, wait_for

BUCKET = "faults"


@pytest.fixture
def own_s3() -> Iterator[tuple[S3Server, subprocess.Popen]]:
    """A moto server of this test's own, which the test may pause or kill."""
    port = _free_port()
    proc = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            return False

    try:
        wait_for(answers, 30, "moto_server to listen")
        server = S3Server(endpoint, {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                                     "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"})
        server.make_bucket(BUCKET)
        yield server, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            proc.kill()
        proc.wait(timeout=30)


def start_run(project, server: S3Server) -> subprocess.Popen:  # noqa: ANN001
    config = project("wine")
    data = yaml.safe_load(config.read_text())
    data["storage"] = f"s3://{BUCKET}/store"
    config.write_text(yaml.safe_dump(data))
    return subprocess.Popen([str(BIN / "bakeoff"), "run", str(config), "--no-cache"],
                            env={**os.environ, **server.env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_until_training(runner: subprocess.Popen, server: S3Server) -> None:
    """Until the run has written its jobs to S3 (prepare is done, models are training)."""
    def jobs_written() -> bool:
        return any(o.object_name.endswith("job.json")
                   for o in server.client().list_objects(BUCKET, prefix="store/jobs/", recursive=True))
    wait_for(lambda: runner.poll() is not None or jobs_written(), 120, "the run to write its jobs")


def test_a_paused_s3_server_is_ridden_out(project, own_s3) -> None:  # noqa: ANN001
    server, proc = own_s3
    runner = start_run(project, server)
    wait_until_training(runner, server)
    assert runner.poll() is None, "the run ended before the pause"
    proc.send_signal(signal.SIGSTOP)
    time.sleep(3)
    proc.send_signal(signal.SIGCONT)

    out, err = runner.communicate(timeout=300)

    assert runner.returncode == 0, err
    assert "Traceback" not in out + err
    assert any(o.object_name.endswith("leaderboard.json")
               for o in server.client().list_objects(BUCKET, prefix="store/runs/", recursive=True))


def test_a_dead_s3_server_is_error_lines_and_exit_2_with_nothing_left_running(project, own_s3) -> None:  # noqa: ANN001
    server, proc = own_s3
    runner = start_run(project, server)
    wait_until_training(runner, server)
    assert runner.poll() is None, "the run ended before the kill"
    tree = descendants(runner.pid)
    proc.kill()
    started = time.monotonic()

    out, err = runner.communicate(timeout=300)

    assert runner.returncode == 2, out + err
    assert "Traceback" not in out + err
    lines = err.strip().splitlines()
    assert lines and all(line.startswith("error: ") for line in lines), err
    assert "cannot reach S3" in lines[-1]
    assert time.monotonic() - started < 240
    wait_for(lambda: not [p for p in tree if running(p)], 15, "every process of the run to end")

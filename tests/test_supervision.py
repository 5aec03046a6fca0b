"""Model processes outlive nothing (issue 13, item 8): they die with a runner killed by SIGKILL,
stop at their own deadline when the runner cannot stop them, and a dead forkserver is reported
as such, never as a model's failure. Every wait here is bounded in count and time."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import BIN, bakeoff

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree in /proc")


def descendants(pid: int) -> list[int]:
    """Every live process under ``pid`` (children listed by the kernel, thread by thread)."""
    found: list[int] = []
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            kids = [int(c) for c in children.read_text().split()]
        except OSError:
            continue
        for kid in kids:
            found += [kid, *descendants(kid)]
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for a reaper but runs nothing)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_for(condition, seconds: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.2) + 1):  # bounded in count and time
        if condition():
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    raise AssertionError(f"gave up waiting for {what} after {seconds:g} s")


def forked(runner: int) -> list[int]:
    """Processes forked by the forkserver (the server itself is the runner's child)."""
    server = [p for p in descendants(runner) if "forkserver" in cmdline(p) and running(p)]
    return [p for s in server for p in descendants(s) if running(p)]


def wait_for_models(runner: int, count: int) -> list[int]:
    """The ``count`` model processes, once the same ones have run for a second: the runner's
    warm-up child is forked from the same server but ends at once."""
    seen: list[list[int]] = []

    def settled() -> bool:
        seen.append(sorted(forked(runner)))
        return len(seen) > 5 and len(seen[-1]) == count and seen[-1] == seen[-6]

    wait_for(settled, 90, f"{count} model process(es)")
    return seen[-1]


@pytest.fixture
def sleepy(project, tmp_path: Path, plugin_env: dict[str, str]):  # noqa: ANN001, ANN201
    """A config of SleepyClassifier models (``name: (seconds, timeout)``), and a way to start
    `bakeoff run` on it in the background."""
    started: list[subprocess.Popen] = []

    def make(models: dict[str, tuple[float, float | None]]) -> tuple[Path, callable]:
        config = project("wine")
        data = yaml.safe_load(config.read_text())
        data["models"] = [{"name": name, "estimator": "SleepyClassifier", "params": {"seconds": seconds},
                           **({"timeout": timeout} if timeout else {})}
                          for name, (seconds, timeout) in models.items()]
        data["storage"] = str(tmp_path / "store")
        config.write_text(yaml.safe_dump(data))

        def start() -> subprocess.Popen:
            proc = subprocess.Popen([str(BIN / "bakeoff"), "run", str(config)], env={**os.environ, **plugin_env},
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            started.append(proc)
            return proc

        return config, start

    yield make
    # A failed test leaves nothing running: stop what it started (found by the PYTHONPATH only its
    # processes have, as an orphan is no longer under the runner), by pid.
    for pid in [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]:
        try:
            ours = plugin_env["PYTHONPATH"].encode() in Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if ours and running(pid):
            os.kill(pid, signal.SIGKILL)
    for proc in started:
        proc.communicate(timeout=30)


def test_a_runner_killed_mid_run_takes_its_models_along_and_the_rerun_resumes(sleepy, plugin_env, tmp_path: Path) -> None:  # noqa: ANN001
    config, start = sleepy({"quick": (0.5, None), "slow": (120, 8)})
    runner = start()
    store = tmp_path / "store"
    wait_for(lambda: any(json.loads(p.read_text()).get("status") == "ok"
                         for p in store.glob("jobs/*/result.json")), 120, "the quick model's result")
    wait_for_models(runner.pid, 1)
    tree = descendants(runner.pid)

    runner.send_signal(signal.SIGKILL)
    runner.communicate(timeout=30)

    wait_for(lambda: not [p for p in tree if running(p)], 15, "every process of the killed run to end")
    (killed,) = [p.parent for p in store.glob("runs/*/config.yaml")]
    assert not (killed / "leaderboard.json").exists()

    rerun = bakeoff("run", str(config), env=plugin_env, timeout=180)
    assert rerun.code == 0, rerun.stderr  # `slow` passes its timeout: a failed row beside an ok one
    assert "Traceback" not in rerun.stdout + rerun.stderr
    listed = " ".join(bakeoff("runs", "--store", str(store)).stdout.split())
    assert "unfinished" in listed and "or interrupted (its runner stopped); running its config again resumes it" in listed
    rows = board_rows(store)
    assert rows["quick"]["status"] == "ok" and rows["quick"]["cached"]
    assert rows["slow"]["status"] == "failed" and "timed out after 8 s" in rows["slow"]["error"]


def board_rows(store: Path) -> dict[str, dict]:
    (board,) = store.glob("runs/*/leaderboard.json")
    return {r["model"]: r for r in json.loads(board.read_text())["rows"]}


def test_a_model_stops_at_its_own_deadline_while_its_runner_is_stopped(sleepy, tmp_path: Path) -> None:  # noqa: ANN001
    _, start = sleepy({"slow": (120, 4)})
    runner = start()
    (model,) = wait_for_models(runner.pid, 1)
    runner.send_signal(signal.SIGSTOP)  # the runner can enforce nothing now
    try:
        wait_for(lambda: not running(model), 20, "the model to stop itself at its 4 s timeout")
    finally:
        runner.send_signal(signal.SIGCONT)
    out, err = runner.communicate(timeout=120)
    assert runner.returncode == 1, err  # its only model failed
    assert "Traceback" not in out + err
    assert "timed out after 4 s" in board_rows(tmp_path / "store")["slow"]["error"]


def test_a_dead_forkserver_is_reported_as_such_and_takes_its_models_along(sleepy, tmp_path: Path) -> None:  # noqa: ANN001
    _, start = sleepy({"slow": (120, None), "slower": (120, None)})
    runner = start()
    models = wait_for_models(runner.pid, 2)
    (server,) = [p for p in descendants(runner.pid) if "forkserver" in cmdline(p) and p not in models]

    os.kill(server, signal.SIGKILL)
    out, err = runner.communicate(timeout=60)

    assert runner.returncode == 2
    (line,) = err.strip().splitlines()
    assert line.startswith("error: train slow") and "the forkserver that model processes start from died" in line
    wait_for(lambda: not [p for p in models if running(p)], 15, "the models to end with their forkserver")
    assert not list((tmp_path / "store").glob("jobs/*/result.json")), "a model was recorded as failed"

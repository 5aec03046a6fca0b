"""`bakeoff run --runner kfp-docker`: the compiled pipeline under kfp.local's DockerRunner.

The end-to-end test needs a Docker engine and the project image (the container issue builds it).
It is skipped only when no Docker engine is reachable; with an engine and no image it fails, and
its message says how to build the image. Without an engine, kfp.local's own orchestration of the
compiled pipeline is still tested, with a STAND-IN for the Docker engine that runs each
container's `bakeoff` command in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bakeoff.errors import UserError
from bakeoff.examples import write_example
from bakeoff.runners import kfp_docker
from bakeoff.runners.base import RunOptions
from bakeoff.runners.kfp_docker import docker_args, docker_reachable
from bakeoff.spec import anchored, load_config, parse_experiment
from conftest import BIN, bakeoff
from kfp_standin import BROKEN

NO_DOCKER = docker_reachable()
IMAGE = os.environ.get("BAKEOFF_IMAGE", "bakeoff:0.1.0")


def test_local_folders_are_mounted_at_their_own_path_and_s3_settings_passed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    exp = parse_experiment({"experiment": "x", "dataset": {"uri": str(tmp_path / "data" / "t.csv"), "target": "y"},
                            "models": [{"name": "m", "estimator": "LinearRegression"}],
                            "storage": (tmp_path / "store").as_uri()})
    args = docker_args(exp)
    assert sorted((m["Source"], m["Target"], m["Type"]) for m in args["mounts"]) == [
        (str(tmp_path / "data"), str(tmp_path / "data"), "bind"),
        (str(tmp_path / "store"), str(tmp_path / "store"), "bind")]
    assert args["environment"]["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9000"
    assert "AWS_SESSION_TOKEN" not in args["environment"]
    assert args["network_mode"] == "host" and args["user"] == f"{os.getuid()}:{os.getgid()}"
    assert args["entrypoint"] == [""]  # the component's command replaces the image's, as in a pod


@pytest.mark.skipif(NO_DOCKER is None, reason="a Docker engine is reachable")
def test_without_a_docker_engine_kfp_docker_says_so_in_one_line(tmp_path: Path) -> None:
    config, _ = write_example("wine", tmp_path)
    with pytest.raises(UserError, match=r"^--runner: kfp-docker needs a Docker engine \(.*\); start Docker "
                                        r"or use --runner local$"):
        kfp_docker.KfpDockerRunner().run(anchored(load_config(config), tmp_path), RunOptions())
    assert not (tmp_path / ".bakeoff").exists()  # nothing was started


@pytest.mark.slow
@pytest.mark.docker
@pytest.mark.skipif(NO_DOCKER is not None, reason=f"no Docker engine reachable: {NO_DOCKER}")
def test_kfp_docker_runs_the_compiled_pipeline_in_the_project_image(project) -> None:  # noqa: ANN001
    import docker

    if not any(IMAGE in image.tags for image in docker.from_env().images.list()):
        pytest.fail(f"image {IMAGE} is missing; build it with `docker build -t {IMAGE} .`")
    config = project("breast-cancer")
    data = yaml.safe_load(config.read_text())
    data["models"] = data["models"][:2]
    data["kfp"] = {"image": IMAGE}
    config.write_text(yaml.safe_dump(data))
    result = bakeoff("run", str(config), "--runner", "kfp-docker", cwd=config.parent, timeout=600)
    assert result.code == 0, result.stderr
    [board] = config.parent.glob(".bakeoff/runs/*/leaderboard.json")
    assert [r["status"] for r in json.loads(board.read_text())["rows"]] == ["ok", "ok"]


class StandInDockerEngine:
    """Just what kfp.local's DockerTaskHandler asks of a Docker client."""

    def info(self) -> dict[str, Any]:
        return {"SecurityOptions": []}

    def close(self) -> None:
        pass


@pytest.fixture
def containers(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """kfp.local's DockerRunner with a STAND-IN engine: each container's `bakeoff …` command runs
    as a process of its own, with the container's environment; the list records every container."""
    import docker
    from kfp.local import docker_task_handler

    started: list[dict[str, Any]] = []

    def run_container(client: Any, image: str, command: list[str], volumes: dict[str, Any], **args: Any) -> int:
        started.append({"image": image, "command": command, **args})
        assert command[0] == "bakeoff"
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BAKEOFF_S3_"))},
               **args.get("environment", {})}
        return subprocess.run([str(BIN / "bakeoff"), *command[1:]], env=env, timeout=300).returncode

    monkeypatch.setattr(docker_task_handler, "run_docker_container", run_container)
    monkeypatch.setattr(docker, "from_env", lambda *a, **k: StandInDockerEngine())
    monkeypatch.setattr(kfp_docker, "docker_reachable", lambda: None)
    return started


def test_kfp_local_runs_the_compiled_pipeline_and_compare_survives_a_failed_model(
        tmp_path: Path, containers: list[dict[str, Any]]) -> None:
    config, _ = write_example("breast-cancer", tmp_path)
    data = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**data, "models": data["models"][:1] + [BROKEN]}))

    outcome = kfp_docker.KfpDockerRunner().run(anchored(load_config(config), tmp_path), RunOptions())
    assert [(r.model, r.status) for r in outcome.board.rows] == [("logistic", "ok"), ("broken", "failed")]
    assert [c["command"][:3] for c in containers] == [["bakeoff", "step", s] for s in
                                                      ("prepare", "train", "train", "compare")]
    assert {c["image"] for c in containers} == {"bakeoff:0.1.0"}
    assert {m["Target"] for m in containers[0]["mounts"]} == {str(tmp_path / ".bakeoff"), str(tmp_path / "data")}
    assert outcome.run.uri.startswith((tmp_path / ".bakeoff").as_uri())


def test_kfp_docker_honours_no_cache_and_refuses_parallel_with_the_reason(
        tmp_path: Path, containers: list[dict[str, Any]]) -> None:
    """--no-cache compiles train tasks that retrain, as it would for a cluster; --parallel cannot
    be honoured by kfp.local, and says so instead of being dropped."""
    config, _ = write_example("wine", tmp_path)
    config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()), "models": [
        {"name": "logistic", "estimator": "LogisticRegression"}, {"name": "naive-bayes", "estimator": "GaussianNB"}]}))
    exp = anchored(load_config(config), tmp_path)
    with pytest.raises(UserError, match=r"^--parallel: kfp.local runs a pipeline's tasks one at a time"):
        kfp_docker.KfpDockerRunner().run(exp, RunOptions(parallel=3))
    assert containers == []  # refused before anything ran
    first = kfp_docker.KfpDockerRunner().run(exp, RunOptions())
    assert {r.status for r in first.board.rows} == {"ok"} and not any(r.cached for r in first.board.rows)
    again = kfp_docker.KfpDockerRunner().run(exp, RunOptions())
    assert all(r.cached for r in again.board.rows)  # the store's results, reused
    containers.clear()
    fresh = kfp_docker.KfpDockerRunner().run(exp, RunOptions(use_cache=False))
    trains = [c["command"] for c in containers if c["command"][2] == "train"]
    assert len(trains) == 2 and all("--no-cache" in c for c in trains)
    assert not any(r.cached for r in fresh.board.rows)
    result = bakeoff("run", str(config), "--runner", "kfp-docker", "--parallel", "2")
    assert result.code == 2 and result.stderr.startswith("error: --parallel: kfp.local")

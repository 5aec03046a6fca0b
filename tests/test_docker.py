"""The project image, for real: its shape, the `docker run IMAGE step …` contract, and the compiled
pipeline under kfp.local's DockerRunner. Every container uses the host network and reaches the
S3 server (moto_server, from conftest) on 127.0.0.1, with credentials passed as environment only.

.ci/docker.sh starts a Docker engine, builds the image and runs the tests marked `docker` with
BAKEOFF_DOCKER_REQUIRED=1, which turns a missing engine or image into a failure. Anywhere else
these tests skip, saying why, when no Docker engine is reachable (the others here need no engine
and run with the rest of the suite).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from bakeoff import __version__
from bakeoff.runners.kfp_docker import docker_reachable
from boards import board_differences, differences
from conftest import S3Server, bakeoff

pytestmark = pytest.mark.slow

IMAGE = os.environ.get("BAKEOFF_IMAGE", f"bakeoff:{__version__}")
REQUIRED = os.environ.get("BAKEOFF_DOCKER_REQUIRED") == "1"
MAX_IMAGE_MB = 700
BUILD_HINT = "scripts/docker/build-image.sh (or: docker build -t IMAGE .)"


def docker(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image() -> str:
    problem = docker_reachable()
    if problem:
        if REQUIRED:
            pytest.fail(f"BAKEOFF_DOCKER_REQUIRED=1 but no Docker engine is reachable: {problem}")
        pytest.skip(f"no Docker engine reachable ({problem}); .ci/docker.sh starts one")
    if docker("image", "inspect", IMAGE, timeout=30).returncode != 0:
        pytest.fail(f"image {IMAGE} is missing; build it with {BUILD_HINT}")
    return IMAGE


def s3_project(project, s3: S3Server, example: str, store: str) -> Path:  # noqa: ANN001
    """An example project whose data and store are in S3, as they are for a pod."""
    config = project(example)
    data = yaml.safe_load(config.read_text())
    csv = config.parent / data["dataset"]["uri"]
    s3.make_bucket("docker-data")
    s3.make_bucket("docker-runs")
    s3.client().fput_object("docker-data", f"{example}/{csv.name}", str(csv))
    data["dataset"]["uri"] = f"s3://docker-data/{example}/{csv.name}"
    data["storage"] = f"s3://docker-runs/{store}"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def leaderboard(s3: S3Server, store: str) -> dict[str, Any]:
    """The one leaderboard below s3://docker-runs/<store>/."""
    client = s3.client()
    [key] = [o.object_name for o in client.list_objects("docker-runs", prefix=f"{store}/", recursive=True)
             if o.object_name.endswith("/leaderboard.json")]
    return json.loads(client.get_object("docker-runs", key).read())


@pytest.mark.docker
def test_image_is_small_non_root_labelled_and_runs_bakeoff(image: str) -> None:
    [info] = json.loads(docker("image", "inspect", image, timeout=30).stdout)
    config = info["Config"]
    assert config["Entrypoint"] == ["bakeoff"]
    assert config["User"] and config["User"].split(":")[0] not in ("0", "root")
    labels = config["Labels"] or {}
    assert labels["org.opencontainers.image.title"] == "bakeoff"
    assert labels["org.opencontainers.image.version"] == __version__
    assert not [e for e in config["Env"] or [] if e.startswith("AWS_")], "no credentials in the image"
    assert info["Size"] / 1e6 < MAX_IMAGE_MB, f"{image} is {info['Size'] / 1e6:.0f} MB"

    helped = docker("run", "--rm", image, "step", "--help", timeout=60)
    assert helped.returncode == 0 and "--run-uri" in helped.stdout, helped.stderr
    # Only what a step needs: no kfp SDK, no Streamlit, no test tools, no installer.
    probe = ("import importlib.util as u; print(' '.join(m for m in "
             "('kfp', 'streamlit', 'pytest', 'moto', 'pip') if u.find_spec(m)))")
    extras = docker("run", "--rm", "--entrypoint", "python", image, "-c", probe, timeout=60)
    assert extras.returncode == 0 and extras.stdout.strip() == "", extras.stdout + extras.stderr


@pytest.mark.docker
def test_docker_run_step_train_on_s3_with_credentials_from_env(image: str, project, s3_server: S3Server) -> None:  # noqa: ANN001
    """The documented contract: `docker run IMAGE step train --run-uri s3://… --model NAME`."""
    config = s3_project(project, s3_server, "wine", "steps")
    data = yaml.safe_load(config.read_text())
    data["models"] = data["models"][:2]
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    # `bakeoff step prepare --config-uri` makes the run inside the container; the run id is ours.
    s3_server.client().fput_object("docker-runs", "steps/configs/wine.yaml", str(config))
    run_uri = "s3://docker-runs/steps/runs/docker-steps"
    env_flags = [flag for key in s3_server.env for flag in ("-e", key)]  # values come from env, not argv

    def step(*args: str) -> subprocess.CompletedProcess[str]:
        return docker("run", "--rm", "--network=host", *env_flags, image, "step", *args, env=s3_server.env)

    prepared = step("prepare", "--config-uri", "s3://docker-runs/steps/configs/wine.yaml",
                    "--run-id", "docker-steps")
    assert prepared.returncode == 0, prepared.stderr
    assert json.loads(prepared.stdout.splitlines()[-1])["run_uri"] == run_uri
    for model in ("logistic", "forest"):
        trained = step("train", "--run-uri", run_uri, "--model", model)
        assert trained.returncode == 0, trained.stderr
        assert json.loads(trained.stdout.splitlines()[-1])["status"] == "ok"
    compared = step("compare", "--run-uri", run_uri)
    assert compared.returncode == 0, compared.stderr
    board = leaderboard(s3_server, "steps")
    assert sorted(r["model"] for r in board["rows"]) == ["forest", "logistic"]
    assert all(r["status"] == "ok" for r in board["rows"])

    unknown = step("train", "--run-uri", run_uri, "--model", "nope")
    assert unknown.returncode == 2 and unknown.stderr.startswith("error: ") and "Traceback" not in unknown.stderr


def test_differences_allow_1e_9_and_no_more() -> None:
    board = {"m": {"test": {"f1": 0.5, "log_loss": float("nan")}, "ci": [0.4, 0.6], "tied": True}}
    assert differences(board, {"m": {"test": {"f1": 0.5 + 1e-10, "log_loss": float("nan")},
                                     "ci": [0.4, 0.6], "tied": True}}) == []
    assert differences(board, {"m": {"test": {"f1": 0.5 + 1e-8, "log_loss": float("nan")},
                                     "ci": [0.4, 0.6], "tied": 1}}) == [
        f".m.test.f1: 0.5 != {0.5 + 1e-8!r}", ".m.tied: True != 1"]


@pytest.mark.docker
def test_kfp_docker_pipeline_equals_a_local_run_metric_for_metric(image: str, project, s3_server: S3Server) -> None:  # noqa: ANN001
    """The compiled pipeline of an example config, in containers, against `bakeoff run` in
    processes: the same data, config and seed must give the same leaderboard to 1e-9."""

    config = s3_project(project, s3_server, "breast-cancer", "kfp-docker")
    data = yaml.safe_load(config.read_text())

    def use_store(store: str) -> None:
        config.write_text(yaml.safe_dump({**data, "storage": f"s3://docker-runs/{store}", "kfp": {"image": image}},
                                         sort_keys=False))

    use_store("kfp-docker")
    piped = bakeoff("run", str(config), "--runner", "kfp-docker", cwd=config.parent, env=s3_server.env, timeout=900)
    assert piped.code == 0, piped.stdout[-3000:] + piped.stderr[-3000:]
    in_docker = leaderboard(s3_server, "kfp-docker")
    use_store("local")  # another store: nothing the pipeline cached can be reused
    local = bakeoff("run", str(config), cwd=config.parent, env=s3_server.env, timeout=900)
    assert local.code == 0, local.stderr
    in_process = leaderboard(s3_server, "local")
    assert [r["status"] for r in in_docker["rows"]] == ["ok"] * len(data["models"])
    assert [r["status"] for r in in_process["rows"]] == ["ok"] * len(data["models"])
    assert board_differences(in_docker, in_process) == []


@pytest.mark.docker
def test_k8s_runner_with_pods_as_containers_of_the_image_equals_a_local_run(
        image: str, project, s3_server: S3Server, tmp_path: Path) -> None:  # noqa: ANN001
    """`bakeoff run --runner k8s` against the Kubernetes STAND-IN, each pod a real container of
    the image (non-root, read-only root, credentials only from the stand-in's Secret), a failing
    model in the mix: the same leaderboard as `bakeoff run` to 1e-9."""
    from k8s_standin import StandInKubernetes, in_docker
    from test_k8s_runner import FAILING, NAMESPACE, SECRET

    config = s3_project(project, s3_server, "breast-cancer", "k8s")
    data = yaml.safe_load(config.read_text())
    data |= {"models": [*data["models"], FAILING["classification"]],
             "kfp": {"image": image, "s3_endpoint": s3_server.endpoint}}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    with StandInKubernetes(namespaces=(NAMESPACE,), secrets=SECRET, images={image: in_docker(image)}) as k8s:
        env = {**s3_server.env, "KUBECONFIG": str(k8s.kubeconfig(tmp_path / "kubeconfig"))}
        on_k8s = bakeoff("run", str(config), "--runner", "k8s", "--namespace", NAMESPACE, "--parallel", "2",
                         cwd=config.parent, env=env, timeout=900)
    assert on_k8s.code == 0, on_k8s.stdout[-3000:] + on_k8s.stderr[-3000:]
    in_pods = leaderboard(s3_server, "k8s")
    config.write_text(yaml.safe_dump({**data, "storage": "s3://docker-runs/k8s-local"}, sort_keys=False))
    local = bakeoff("run", str(config), cwd=config.parent, env=s3_server.env, timeout=900)
    assert local.code == 0, local.stderr
    assert board_differences(in_pods, leaderboard(s3_server, "k8s-local")) == []
    assert {r["model"]: r["status"] for r in in_pods["rows"]}["broken"] == "failed"


def test_compose_stack_binds_loopback_pins_images_and_holds_no_secret() -> None:
    """docker-compose.yml cannot be started here (its images cannot be pulled); check its shape."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "docker-compose.yml").read_text()
    services = yaml.safe_load(text)["services"]
    assert {"minio", "buckets", "mlflow", "bakeoff"} <= services.keys()
    for name, service in services.items():
        assert ":" in service["image"] and not service["image"].endswith(":latest"), name
        assert all(str(p).startswith("127.0.0.1:") for p in service.get("ports", [])), name
    assert "${MINIO_ROOT_PASSWORD:?" in text and "minioadmin" not in text

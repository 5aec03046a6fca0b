"""The kfp-docker runner: the compiled per-model pipeline, run by ``kfp.local.DockerRunner``.

Each step runs in the project image, exactly as it would in a pod. There are two differences.
kfp.local ignores the Kubernetes section (the Secret), so the S3 settings of this shell are passed
into the containers. And a store or dataset in a local folder is bind-mounted at the same path,
so run URIs mean the same thing inside and outside the containers.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from bakeoff.errors import UserError
from bakeoff.leaderboard import Leaderboard
from bakeoff.runs import Run, create_run
from bakeoff.spec import Experiment
from bakeoff.storage import S3_ENV, is_local, local_path, open_store

PASSED_ENV = tuple(name for e in S3_ENV for name in (e.own, e.aws))


def _local_dir(uri: str, *, is_file: bool) -> str | None:
    if not is_local(uri):
        return None
    path = local_path(uri)
    return str(path.parent if is_file else path)


def docker_args(exp: Experiment) -> dict[str, Any]:
    """``containers.run`` arguments: local folders mounted at their own path, this shell's S3
    settings, the host network (for an S3 server on localhost), and this user's uid.

    The image's ENTRYPOINT is cleared: kfp.local passes a component's command as the container's
    CMD, and a pod's command replaces the ENTRYPOINT; without this a task would run
    `bakeoff bakeoff step …`.
    """
    from docker.types import Mount

    folders = {d for d in (_local_dir(exp.storage, is_file=False), _local_dir(exp.dataset.uri, is_file=True)) if d}
    return {
        "entrypoint": [""],
        "mounts": [Mount(target=d, source=d, type="bind") for d in sorted(folders)],
        "environment": {k: os.environ[k] for k in PASSED_ENV if k in os.environ},
        "network_mode": "host",
        "user": f"{os.getuid()}:{os.getgid()}",
    }


def docker_reachable() -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        import docker

        docker.from_env(timeout=5).ping()
    except Exception as exc:  # docker raises many types for one cause: no engine
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:160]
    return None


def run_kfp_docker(exp: Experiment, *, console: Any = None) -> tuple[Run, Leaderboard]:
    from kfp import local
    from kfp.components import load_component_from_file

    from bakeoff.kfp.pipeline import compile_experiment

    problem = docker_reachable()
    if problem:
        raise UserError(f"--runner: kfp-docker needs a Docker engine ({problem}); start Docker or "
                        "use --runner local")
    # kfp.local replaces the runner's environment with a task's own env vars when it has any, so
    # the tasks get none: the containers then see this shell's S3 settings (docker_args).
    exp = exp.model_copy(update={"kfp": exp.kfp.model_copy(update={"s3_endpoint": ""})})
    run = create_run(open_store(exp.storage), exp)
    with tempfile.TemporaryDirectory(prefix="bakeoff-kfp-local-") as root:
        package = Path(root) / "pipeline.yaml"
        package.write_text(compile_experiment(exp).text, encoding="utf-8")
        pipeline = load_component_from_file(str(package))
        local.init(runner=local.DockerRunner(**docker_args(exp)), pipeline_root=str(Path(root) / "outputs"),
                   raise_on_error=False)
        if console is not None:
            console.print(f"[dim]kfp.local DockerRunner · image {exp.kfp.image} · run {run.uri} · "
                          "pod resources, retries and timeouts apply on a cluster only[/]")
        with warnings.catch_warnings():  # kfp.local says the line above once per task
            warnings.filterwarnings("ignore", message=".*have no effect in the current local runner")
            pipeline(run_uri=run.uri)
    board = run.leaderboard()
    if board is not None:
        return run, board
    raise UserError(f"--runner: the pipeline ended without a leaderboard in {run.uri}; read the "
                    "task logs above (is the image built? docker build -t "
                    f"{exp.kfp.image} .)")

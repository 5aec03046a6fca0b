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
from typing import Any, ClassVar

from bakeoff.errors import UserError
from bakeoff.runners.base import Outcome, RunOptions
from bakeoff.runs import create_run
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


class KfpDockerRunner:
    """The compiled pipeline under ``kfp.local.DockerRunner``; ``use_cache=False`` compiles train
    tasks that retrain. ``parallel`` is refused: kfp.local (2.17) runs a pipeline's tasks one at
    a time, and the one form that could run trains at once, a loop, reads upstream outputs
    wrongly in kfp.local's orchestrator (an iteration gets its loop item as the store)."""

    name: ClassVar[str] = "kfp-docker"

    def __init__(self, console: Any = None) -> None:
        self.console = console

    def run(self, exp: Experiment, options: RunOptions) -> Outcome:
        from kfp import local
        from kfp.components import load_component_from_file

        from bakeoff.kfp.pipeline import compile_experiment

        if options.parallel is not None:
            raise UserError("--parallel: kfp.local runs a pipeline's tasks one at a time, so the kfp-docker "
                            "runner cannot train models at once; drop --parallel, or use --runner local")
        problem = docker_reachable()
        if problem:
            raise UserError(f"--runner: kfp-docker needs a Docker engine ({problem}); start Docker or "
                            "use --runner local")
        # kfp.local replaces the runner's environment with a task's own env vars when it has any, so
        # the tasks get none: the containers then see this shell's S3 settings (docker_args).
        exp = exp.model_copy(update={"kfp": exp.kfp.model_copy(update={"s3_endpoint": ""})})
        compiled = compile_experiment(exp, reuse=options.use_cache)
        run = create_run(open_store(exp.storage), exp)
        with tempfile.TemporaryDirectory(prefix="bakeoff-kfp-local-") as root:
            package = Path(root) / "pipeline.yaml"
            package.write_text(compiled.text, encoding="utf-8")
            pipeline = load_component_from_file(str(package))
            local.init(runner=local.DockerRunner(**docker_args(exp)), pipeline_root=str(Path(root) / "outputs"),
                       raise_on_error=False)
            if self.console is not None:
                self.console.print(f"[dim]kfp.local DockerRunner · image {exp.kfp.image} · run {run.uri} · "
                                   "one task at a time · pod resources and retries apply on a cluster only[/]")
            with warnings.catch_warnings():  # kfp.local says the line above once per task
                warnings.filterwarnings("ignore", message=".*have no effect in the current local runner")
                pipeline(run_uri=run.uri)
        board = run.leaderboard()
        if board is not None:
            return Outcome(run, board)
        raise UserError(f"--runner: the pipeline ended without a leaderboard in {run.uri}; read the "
                        "task logs above (is the image built? docker build -t "
                        f"{exp.kfp.image} .)")

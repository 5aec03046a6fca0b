"""The forkserver that model processes fork from, started before anything heavy is imported.

Every train process needs scikit-learn, pandas, pyarrow and skops: seconds of imports. A
forkserver pays them once, and each model's process forks from it warm. Its imports run in a
process of their own, so the earlier it starts the more of them overlap with the rest of the
command (reading and checking the config, preparing the data). This module imports nothing of
bakeoff's but the estimator catalog's index and the bounded YAML reader, so the CLI can start the
server first thing.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from pathlib import Path
from typing import Any

from bakeoff import catalog


def start_context(modules: list[str]) -> Any:
    """The forkserver, importing bakeoff's train modules and ``modules``; spawn where there is
    no forkserver. Calling it again changes nothing: the server starts once per process."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    from multiprocessing import forkserver

    ctx = mp.get_context("forkserver")
    # "__main__" is multiprocessing's own default, kept: the server runs the main script once so
    # that no child runs it again. Python before 3.13 ignores it (CPython gh-126631), and each
    # child re-imports the CLI, 25 ms.
    ctx.set_forkserver_preload(["__main__", "bakeoff.runners.preload", *modules])
    forkserver.ensure_running()
    return ctx


def _server() -> Any:
    """multiprocessing's one forkserver of this process. There is no public handle on it: its
    pid is its only record, and its own tests stop it with ``_stop``."""
    from multiprocessing import forkserver

    return forkserver._forkserver  # type: ignore[attr-defined]


def stop() -> None:
    """Stop the forkserver this process started, at once, when no model will need it (a run
    served wholly from cache): it may still be importing, and until it exits it holds this
    process's stdout and stderr, so whatever reads them through a pipe (a CI log, ``| tee``)
    would wait for its imports to end. ``_stop`` closes the server's lifeline and reaps it."""
    server = _server()
    if server._forkserver_pid is None:
        return
    os.kill(server._forkserver_pid, signal.SIGKILL)  # mid-import it would not see its lifeline close
    server._stop()


def server_died() -> bool:
    """Whether the forkserver this process started has ended, looked at without reaping it
    (multiprocessing reaps and restarts it itself). Its children's sentinels read as exit code
    255 once it is gone, which a model's own exit could also be; this tells the two apart."""
    import time

    pid = _server()._forkserver_pid
    if pid is None or not hasattr(os, "waitid"):
        return False
    for _ in range(20):  # bounded: its pipes close a moment before it becomes a zombie
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        time.sleep(0.05)
    return False


def warm_start(estimators: list[str], *, tracked: bool) -> Any:
    """Start the forkserver with the modules of these estimators (and mlflow for a tracked run:
    seconds to import, paid once here instead of in every model's process)."""
    modules = {m for m in (catalog.module_of(name) for name in estimators) if m}
    return start_context(sorted(modules) + (["mlflow"] if tracked else []))


def sketch(path: str | Path) -> tuple[list[str], bool]:
    """The estimator names a config file asks for, and whether it tracks to MLflow, read without
    validating anything; empty when unreadable (validation will say why)."""
    from bakeoff.yamlfile import load_yaml
    from bakeoff.errors import UserError

    try:  # bounded like every config read: a hostile file must not hang the CLI here either
        data = load_yaml(Path(path).read_text(encoding="utf-8"))
        models = data.get("models") or []
        names = [m["estimator"] for m in models if isinstance(m, dict) and isinstance(m.get("estimator"), str)]
        tracked = bool((data.get("tracking") or {}).get("mlflow_uri") or os.environ.get("MLFLOW_TRACKING_URI"))
        return names, tracked
    except (OSError, ValueError, UserError, AttributeError, TypeError):
        return [], False

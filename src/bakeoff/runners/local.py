"""The local runner: prepare here, then one process per model (at most ``parallel`` at a time),
then compare here. Processes, not threads, so a model that crashes or leaks takes nobody down.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any
from collections.abc import Callable

from bakeoff import steps
from bakeoff.cpu import threads_per_model, usable_cpus
from bakeoff.leaderboard import Leaderboard
from bakeoff.runs import Run, create_run
from bakeoff.spec import Experiment
from bakeoff.storage import open_store

POLL_SECONDS = 0.2


def _start_context(exp: Experiment) -> Any:
    """A forkserver that starts preloading now, so its imports overlap with prepare."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    from multiprocessing import forkserver

    from bakeoff.tracking import tracking_uri

    ctx = mp.get_context("forkserver")
    # mlflow takes seconds to import; pay for it once, not in every model's process
    ctx.set_forkserver_preload(["bakeoff.runners.preload", *(["mlflow"] if tracking_uri(exp) else [])])
    forkserver.ensure_running()
    return ctx


def _train_in_child(run_uri: str, model: str, threads: int) -> None:
    # The cache was already consulted by the parent; a child always trains.
    result = steps.train(run_uri, model, threads=threads, use_cache=False)
    # result.json is committed, so nothing this process still holds matters: leave without
    # running finalizers that a library's stray worker could block forever.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if result["status"] == "ok" else 1)


@dataclass
class ModelState:
    name: str
    state: str = "queued"  # queued | running | ok | failed | cached
    started: float | None = None
    finished: float | None = None
    score: float | None = None
    error: str | None = None
    process: Any = field(default=None, repr=False)

    def elapsed(self, now: float) -> float | None:
        return None if self.started is None else (self.finished or now) - self.started


@dataclass
class RunProgress:
    """A snapshot for whoever displays the run: the CLI's live table, the Streamlit app."""

    run: Run
    states: list[ModelState]
    primary: str | None = None  # None while the data is being prepared
    data_note: str = ""


def _finish(run: Run, s: ModelState, primary: str) -> None:
    result = run.read_json("models", s.name, steps.RESULT)
    s.state = "cached" if result.get("cached_from") else result["status"]
    s.score = (result.get("metrics") or {}).get("test", {}).get(primary)
    s.error = result.get("error")


def run_local(exp: Experiment, *, parallel: int | None = None, use_cache: bool = True,
              on_progress: Callable[[RunProgress], None] | None = None) -> tuple[Run, Leaderboard]:
    """Run a whole bake-off on this machine and return the run and its leaderboard.

    ``on_progress`` gets a snapshot before prepare, after it, on every poll and at the end.
    """
    notify = on_progress or (lambda _: None)
    ctx = _start_context(exp)
    run = create_run(open_store(exp.storage), exp)
    states = [ModelState(name) for name in exp.model_names]
    progress = RunProgress(run, states)
    notify(progress)
    try:
        prepared = steps.prepare(run.uri)
    except Exception:
        run.store.delete(run.key("config.yaml"))  # a run that never started leaves no trace
        raise
    progress.primary, _ = exp.metric_names(prepared.schema.task)
    progress.data_note = f"data {prepared.fingerprint[:12]} ({'reused' if prepared.reused else 'prepared'})"
    if use_cache:
        for s in states:
            if steps.reuse_cached(run.uri, s.name) is not None:
                _finish(run, s, progress.primary)
    notify(progress)
    queue = [s for s in states if s.state == "queued"]
    parallel = max(1, min(parallel or exp.runtime.parallel or usable_cpus(), len(queue) or 1))
    threads = threads_per_model(parallel)
    running: list[ModelState] = []
    while queue or running:
        while queue and len(running) < parallel:
            s = queue.pop(0)
            s.process = ctx.Process(target=_train_in_child, args=(run.uri, s.name, threads),
                                    name=f"bakeoff-{s.name}")
            s.state, s.started = "running", time.perf_counter()
            s.process.start()
            running.append(s)
        wait([s.process.sentinel for s in running], timeout=POLL_SECONDS)
        for s in list(running):
            timeout = exp.model(s.name).timeout
            if s.process.is_alive() and timeout and time.perf_counter() - s.started > timeout:
                s.process.kill()
                s.process.join()
                steps.record_failure(run.uri, s.name, f"timed out after {timeout} s (models[].timeout)")
            if s.process.is_alive():
                continue
            s.process.join()
            s.finished = time.perf_counter()
            code = s.process.exitcode
            if code:  # a no-op when the step recorded its own failure (exit code 1 after result.json)
                how = (f"was killed by signal {-code} (out of memory?)" if code < 0 else
                       f"exited with code {code} before recording a result; see the log above")
                steps.record_failure(run.uri, s.name, f"the train process {how}")
            _finish(run, s, progress.primary)
            running.remove(s)
        notify(progress)
    board = steps.compare(run.uri)
    notify(progress)
    return run, board

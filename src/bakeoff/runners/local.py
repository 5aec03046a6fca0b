"""The local runner: prepare here, then one process per model (at most ``parallel`` at a time),
then compare here. Processes, not threads, so a model that crashes or leaks takes nobody down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Any

from bakeoff import steps
from bakeoff.cpu import threads_per_model, usable_cpus
from bakeoff.leaderboard import Leaderboard
from bakeoff.records import ModelResult
from bakeoff.runs import Run, create_run
from bakeoff.spec import Experiment
from bakeoff.storage import open_store
from bakeoff.supervise import Training, start_context

POLL_SECONDS = 0.2


@dataclass
class ModelState:
    name: str
    state: str = "queued"  # queued | running | ok | failed | cached
    started: float | None = None
    finished: float | None = None
    score: float | None = None
    error: str | None = None

    def elapsed(self, now: float) -> float | None:
        return None if self.started is None else (self.finished or now) - self.started


@dataclass
class RunProgress:
    """A snapshot for whoever displays the run: the CLI's live table, the Streamlit app."""

    run: Run
    states: list[ModelState]
    primary: str | None = None  # None while the data is being prepared
    data_note: str = ""


def _finish(s: ModelState, result: ModelResult | None, primary: str) -> None:
    s.state = "failed" if result is None else "cached" if result.cached else result.status
    s.score = None if result is None else result.score(primary)
    s.error = "no result was recorded" if result is None else result.error


def run_local(exp: Experiment, *, parallel: int | None = None, use_cache: bool = True,
              on_progress: Callable[[RunProgress], None] | None = None) -> tuple[Run, Leaderboard]:
    """Run a whole bake-off on this machine and return the run and its leaderboard.

    ``on_progress`` gets a snapshot before prepare, after it, on every poll and at the end.
    """
    from bakeoff.tracking import tracking_uri

    notify = on_progress or (lambda _: None)
    ctx = start_context(preload_mlflow=bool(tracking_uri(exp.tracking)))
    run = create_run(open_store(exp.storage), exp)
    states = [ModelState(name) for name in exp.model_names]
    progress = RunProgress(run, states)
    notify(progress)
    try:
        prepared = steps.prepare(run.uri)
    except Exception:
        run.store.delete(run.key("config.yaml"))  # a run that never started leaves no trace
        raise
    progress.primary = prepared.primary
    progress.data_note = f"data {prepared.fingerprint[:12]} ({'reused' if prepared.reused else 'prepared'})"
    if use_cache:
        for s in states:
            if steps.reusable(run.store.root, prepared.jobs[s.name]) is not None:
                _finish(s, steps.record(run, prepared, s.name), progress.primary)
    notify(progress)
    queue = [s for s in states if s.state == "queued"]
    parallel = max(1, min(parallel or exp.runtime.parallel or usable_cpus(), len(queue) or 1))
    threads = threads_per_model(parallel)
    running: list[tuple[ModelState, Training]] = []
    while queue or running:
        while queue and len(running) < parallel:
            s = queue.pop(0)
            training = Training(ctx, run.store.root, prepared.jobs[s.name], s.name, threads=threads,
                                timeout=exp.model(s.name).timeout).start()
            s.state, s.started = "running", time.perf_counter()
            running.append((s, training))
        wait([t.sentinel for _, t in running], timeout=POLL_SECONDS)
        for s, training in list(running):
            training.enforce_deadline()
            if training.alive():
                continue
            training.finish()
            s.finished = time.perf_counter()
            _finish(s, steps.record(run, prepared, s.name), progress.primary)
            running.remove((s, training))
        notify(progress)
    board = steps.compare(run.uri)
    notify(progress)
    return run, board

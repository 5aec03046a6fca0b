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

from bakeoff import steps
from bakeoff.cpu import thread_budget, usable_cpus
from bakeoff.errors import UserError
from bakeoff.leaderboard import Leaderboard
from bakeoff.runs import Run, create_run
from bakeoff.spec import Experiment
from bakeoff.storage import open_store

POLL_SECONDS = 0.2


def _context() -> Any:
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["bakeoff.runners.preload"])
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


class Progress:
    """A live table of every model's state and time; rendered by rich when it owns a terminal."""

    def __init__(self, states: list[ModelState], primary: str) -> None:
        self.states, self.primary = states, primary

    def __rich__(self) -> Any:
        from rich.table import Table

        styles = {"ok": "green", "cached": "cyan", "failed": "red", "running": "yellow", "queued": "dim"}
        table = Table(title="training", expand=False)
        for col in ("model", "state", "seconds", f"test {self.primary}"):
            table.add_column(col)
        now = time.perf_counter()
        for s in self.states:
            elapsed = s.elapsed(now)
            table.add_row(s.name, f"[{styles[s.state]}]{s.state}[/]",
                          "" if elapsed is None else f"{elapsed:.1f}",
                          "" if s.score is None else f"{s.score:.4f}" if s.state != "failed" else (s.error or "")[:60])
        return table


def _finish(run: Run, s: ModelState, primary: str) -> None:
    result = run.read_json("models", s.name, steps.RESULT)
    s.state = "cached" if result.get("cached_from") else result["status"]
    s.score = (result.get("metrics") or {}).get("test", {}).get(primary)
    s.error = result.get("error")


def run_local(exp: Experiment, *, parallel: int | None = None, use_cache: bool = True,
              console: Any = None) -> tuple[Run, Leaderboard]:
    """Run a whole bake-off on this machine and return the run and its leaderboard."""
    from rich.console import Console
    from rich.live import Live

    console = console or Console(stderr=True)
    run = create_run(open_store(exp.storage), exp)
    try:
        with console.status(f"preparing {exp.dataset.uri}"):
            prepared = steps.prepare(run.uri)
    except UserError:
        run.store.delete(run.key("config.yaml"))  # a run that never started leaves no trace
        raise
    console.print(f"[dim]data {prepared.fingerprint[:12]} "
                  f"({'reused' if prepared.reused else 'prepared'}) · run {run.uri}[/]")
    primary, _ = exp.metric_names(prepared.schema.task)
    states = [ModelState(name) for name in exp.model_names]
    if use_cache:
        for s in states:
            if steps.reuse_cached(run.uri, s.name) is not None:
                _finish(run, s, primary)
    queue = [s for s in states if s.state == "queued"]
    parallel = max(1, min(parallel or exp.runtime.parallel or usable_cpus(), len(queue) or 1))
    threads = thread_budget(parallel)
    ctx = _context()
    running: list[ModelState] = []
    with Live(Progress(states, primary), console=console, refresh_per_second=4, transient=False):
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
                if code not in (0, 1):  # 0 and 1 are "trained" and "failed, recorded by the step"
                    how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
                    steps.record_failure(run.uri, s.name, f"process {how} (out of memory?)")
                _finish(run, s, primary)
                running.remove(s)
    return run, steps.compare(run.uri)

"""The local runner: prepare here, then one process per model (at most ``parallel`` at a time),
then compare here. Processes, not threads, so a model that crashes or leaks takes nobody down.
"""

from __future__ import annotations

from multiprocessing.connection import wait
from typing import ClassVar

from bakeoff import steps
from bakeoff.cpu import threads_per_model, usable_cpus
from bakeoff.progress import ModelState, RunProgress
from bakeoff.runners.base import Outcome, RunOptions
from bakeoff.runs import create_run
from bakeoff.spec import Experiment
from bakeoff.storage import open_store
from bakeoff.supervise import Training, start_context

POLL_SECONDS = 0.2


class LocalRunner:
    """Prepare here, then one process per model, at most ``parallel`` at a time, then compare here."""

    name: ClassVar[str] = "local"

    def run(self, exp: Experiment, options: RunOptions) -> Outcome:
        """``options.on_progress`` gets a snapshot before prepare, after it, on every poll and at the end."""
        from bakeoff.tracking import tracking_uri

        notify = options.on_progress or (lambda _: None)
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
        if options.use_cache:
            for s in states:
                if steps.reusable(run.store.root, prepared.jobs[s.name]) is not None:
                    s.finish(steps.record(run, prepared, s.name), prepared.primary)
        notify(progress)
        queue = [s for s in states if s.state == "queued"]
        parallel = max(1, min(options.parallel or exp.runtime.parallel or usable_cpus(), len(queue) or 1))
        threads = threads_per_model(parallel)
        running: list[tuple[ModelState, Training]] = []
        while queue or running:
            while queue and len(running) < parallel:
                s = queue.pop(0)
                running.append((s, Training(ctx, run.store.root, prepared.jobs[s.name], s.name, threads=threads,
                                            timeout=exp.model(s.name).timeout).start()))
                s.start()
            wait([t.sentinel for _, t in running], timeout=POLL_SECONDS)
            for s, training in list(running):
                training.enforce_deadline()
                if training.alive():
                    continue
                training.finish()
                s.finish(steps.record(run, prepared, s.name), prepared.primary)
                running.remove((s, training))
            notify(progress)
        board = steps.compare(run.uri)
        notify(progress)
        return Outcome(run, board)

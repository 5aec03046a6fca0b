"""The local runner: prepare here, then one process per model (at most ``parallel`` at a time),
then compare here. Processes, not threads, so a model that crashes or leaks takes nobody down.
"""

from __future__ import annotations

import time
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, ClassVar

from bakeoff import costs, data, forkserver, schedule, steps
from bakeoff.cpu import usable_cpus
from bakeoff.progress import ModelState, RunProgress
from bakeoff.runners.base import Outcome, RunOptions
from bakeoff.runs import create_run
from bakeoff.schedule import Task
from bakeoff.spec import Experiment
from bakeoff.storage import open_store
from bakeoff.supervise import Training, warm_up

if TYPE_CHECKING:
    from bakeoff.data import TableInfo
    from bakeoff.records import Schema
    from bakeoff.storage import ObjectStore

POLL_SECONDS = 0.2


def tasks(exp: Experiment, store: ObjectStore, info: TableInfo, table: Schema, names: list[str]) -> list[Task]:
    """Each model to train with its expected cost on this run's data (costs.py)."""
    expected = costs.expected([exp.model(name) for name in names], store, data.shape(info, table, exp.split))
    return [Task(name, cost) for name, cost in expected.items()]


class LocalRunner:
    """Prepare here, then one process per model, then compare here. Which model starts when and on
    how many threads is schedule.py's: longest first, threads where they shorten the run, never
    more threads than the usable CPUs (or than ``parallel`` processes, when more are asked for)."""

    name: ClassVar[str] = "local"

    def plan(self, exp: Experiment, options: RunOptions) -> tuple[schedule.Plan, list[str]]:
        """What a run would do now, and which models it would reuse; nothing is written."""
        store = open_store(exp.storage)
        found = steps.survey(exp, store)
        cached = [name for name, job in found.jobs.items()
                  if options.use_cache and steps.reusable(store.root, job.id) is not None]
        todo = [name for name in exp.model_names if name not in cached]
        parallel = self._parallel(exp, options, len(todo))
        known = costs.phases(store)
        return (schedule.plan(tasks(exp, store, found.info, found.context.table, todo),
                              schedule.budget_for(usable_cpus(), parallel), parallel,
                              before=known.before if todo else 0.0,
                              after=known.compare_per_model * len(exp.models)), cached)

    @staticmethod
    def _parallel(exp: Experiment, options: RunOptions, models: int) -> int:
        return max(1, min(options.parallel or exp.runtime.parallel or usable_cpus(), models or 1))

    def run(self, exp: Experiment, options: RunOptions) -> Outcome:
        """``options.on_progress`` gets a snapshot before prepare, after it, on every poll and at the end."""
        from bakeoff.data import data_notes
        from bakeoff.tracking import tracking_uri

        began = options.began_at or time.monotonic()
        notify = options.on_progress or (lambda _: None)
        ctx = forkserver.warm_start([m.estimator for m in exp.models], tracked=bool(tracking_uri(exp.tracking)))
        run = create_run(open_store(exp.storage), exp)
        states = {name: ModelState(name) for name in exp.model_names}
        progress = RunProgress(run, list(states.values()))
        notify(progress)
        try:
            prepared = steps.prepare(run.uri)
        except Exception:
            run.store.delete(run.key("config.yaml"))  # a run that never started leaves no trace
            raise
        progress.primary = prepared.primary
        progress.data_note = " · ".join([f"data {prepared.fingerprint[:12]} ({'reused' if prepared.reused else 'prepared'})",
                                         *data_notes(prepared.unlabelled, prepared.id_like)])
        if options.use_cache:
            for s in states.values():
                if steps.reusable(run.store.root, prepared.jobs[s.name]) is not None:
                    s.finish(steps.record(run, prepared, s.name), prepared.primary)
        notify(progress)
        todo = [name for name, s in states.items() if s.state == "queued"]
        if todo:
            warm_up(ctx)
        else:
            forkserver.stop()  # still importing, for nothing: let the run end now
        info = data.stored_table(run.store, prepared.fingerprint)  # prepare checked the splits
        queue = schedule.longest_first(tasks(exp, run.store, info, prepared.table, todo))
        parallel = self._parallel(exp, options, len(queue))
        budget = schedule.budget_for(usable_cpus(), parallel)
        running: list[tuple[schedule.Task, Training]] = []
        clock = time.monotonic()
        while queue or running:
            while queue and len(running) < parallel and budget - sum(t.threads_in_use for _, t in running) >= 1:
                task = queue.pop(0)
                now = time.monotonic() - clock
                threads = schedule.threads_for(task, queue, [_expected(t, training, clock, now)
                                                             for t, training in running], now, budget, parallel)
                running.append((task, Training(ctx, run.store.root, prepared.jobs[task.name], task.name,
                                               threads=threads, timeout=exp.model(task.name).timeout).start()))
                states[task.name].start()
            # wake when a process ends, or when one says its threads are free for the next model
            wait([w for _, training in running for w in training.waitables], timeout=POLL_SECONDS)
            for task, training in list(running):
                training.enforce_deadline()
                if training.alive():
                    continue
                training.finish()
                states[task.name].finish(steps.record(run, prepared, task.name), prepared.primary)
                running.remove((task, training))
            notify(progress)
        compared = time.monotonic()
        board = steps.compare(run.uri)
        if todo:  # what a run costs besides its models, for the next plan
            costs.record_phases(run.store, costs.Phases(clock - began, (time.monotonic() - compared) / len(exp.models)))
        notify(progress)
        return Outcome(run, board)


def _expected(task: schedule.Task, training: Training, clock: float, now: float) -> schedule.Running:
    """A running model as the plan sees it: when its estimate says it ends, or a little after
    now when it has already run longer than that."""
    started = (training.started or clock) - clock
    expected = task.cost.seconds(training.threads)
    return schedule.Running(task.name, training.threads_in_use, max(started + expected, now + 0.1 * expected))

"""One model's training in a process of its own, under a deadline, so that its death is a row.

The local runner keeps several of these going at once; `bakeoff step train` (a Kubeflow pod, a
Docker container) runs one. Either way the fit happens in a child process and its parent only
watches: when the child is killed (the OOM killer picks the largest process in the container, the
one holding the data), crashes, or passes the model's ``timeout``, the parent is still there to
write the failed result, and the step ends normally. Only a failure of the store (the child exits
with ``EX_TEMPFAIL``) is passed on as an error, so that a Kubeflow retry can apply.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import select
import sys
import threading
import time
from typing import Any

from bakeoff import forkserver, records
from bakeoff.errors import UserError
from bakeoff.records import ModelResult
from bakeoff.storage import open_store

EX_TEMPFAIL = 75  # sysexits.h: the child's way to say "the store failed, not the model"
EX_TIMEOUT = 124  # as coreutils' timeout: the child stopped itself at the model's deadline
EX_ORPHANED = 125  # the runner died; nobody is left to read a result of this attempt
FORKSERVER_LOST = 255  # what multiprocessing reports for a child whose forkserver died
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _nothing() -> None:
    pass


def warm_up(ctx: Any) -> None:
    """Wait until the forkserver has imported what it preloads, so that no model's time counts
    the wait (one trivial child, started and joined)."""
    process = ctx.Process(target=_nothing, name="bakeoff-warm-up")
    process.start()
    process.join()


def lean_allocators() -> None:
    """Make the training process give freed memory back to the system, so that each stage of a
    train step (reading, preprocessing, fitting) starts from what is alive, not from the high
    water of the one before it (figures: README.md, Performance).

    * glibc raises its mmap threshold up to 32 MiB after the first large free, and the blocks
      allocated after that stay in its heap once freed: fixed at its 128 KiB default, every large
      block (a column, a preprocessed array) is unmapped when freed. Not glibc: nothing to do.
    * Arrow's default allocator (mimalloc) keeps the pages Parquet decoding used; its system pool
      is malloc, and so follows the rule above. The split's columns are Arrow buffers either way.
    """
    import ctypes
    import ctypes.util

    import pyarrow

    M_MMAP_THRESHOLD = -3  # malloc.h
    libc = ctypes.util.find_library("c")
    if libc and hasattr(ctypes.CDLL(libc), "mallopt"):
        ctypes.CDLL(libc).mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    pyarrow.set_memory_pool(pyarrow.system_memory_pool())


def _child(store_root: str, job: str, model: str, threads: int, attempt: str, placement: dict[str, Any],
           evaluated: Any, runner: int, timeout: float | None) -> None:
    lean_allocators()
    from bakeoff import steps

    _bound_to(runner, timeout)
    code = 0
    try:
        steps.train(store_root, job, model, threads=threads, attempt=attempt, placement=placement,
                    on_evaluated=lambda: evaluated.send(True))
    except UserError as exc:  # the store failed: the parent says so, in one line per problem
        with contextlib.suppress(OSError):
            evaluated.send(exc.problems)
        code = EX_TEMPFAIL
    # result.json is committed, so nothing this process still holds matters: leave without
    # running finalizers that a library's stray worker could block forever.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _bound_to(runner: int, timeout: float | None) -> None:
    """End this process with its parent, with the runner, and at its deadline, by itself.

    The runner's watch is not enough: a runner killed with SIGKILL enforces no timeout, and a
    process forked from the forkserver is not the runner's child, so nothing would stop it. The
    parent (the forkserver, the `step train` process, or the runner under spawn) takes this
    process down as it dies (PR_SET_PDEATHSIG); a thread waits on the runner (a pidfd) until the
    model's deadline.
    """
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    deadline = time.monotonic() + timeout if timeout else None
    threading.Thread(target=_watch, args=(runner, deadline), name="bakeoff-watch", daemon=True).start()


def _watch(runner: int, deadline: float | None) -> None:
    try:
        pidfd: int | None = os.pidfd_open(runner)  # readable once the runner has ended
    except ProcessLookupError:
        os._exit(EX_ORPHANED)
    except (AttributeError, OSError):  # no pidfd (not Linux 5.3+): look once a second
        pidfd = None
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            os._exit(EX_TIMEOUT)
        wait = left if pidfd is not None else min(left or 1.0, 1.0)
        ready, _, _ = select.select([pidfd] if pidfd is not None else [], [], [], wait)
        if ready or (pidfd is None and not _alive(runner)):
            os._exit(EX_ORPHANED)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class ForkserverDied(UserError):
    """The process model processes fork from died (killed, out of memory): no model's fault."""


class Training:
    """One job's training process. ``finish`` returns its result, recording a failed one when
    the process ended without committing its own."""

    def __init__(self, ctx: Any, store_root: str, job: str, model: str, *, threads: int,
                 timeout: float | None = None, placement: dict[str, Any] | None = None) -> None:
        self.store_root, self.job, self.model = store_root, job, model
        self.threads, self.timeout, self.placement = threads, timeout, placement or {}
        self.attempt = records.new_attempt()
        self.timed_out = False
        self.released = False
        self.store_problems: tuple[str, ...] = ()
        self.started: float | None = None
        # the child says when only one-thread work is left (True), or how the store failed (its
        # lines, printed once by whoever stops the run); the parent can wait on it like a sentinel
        self.evaluated, sender = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_child, name=f"bakeoff-{model}", args=(
            store_root, job, model, threads, self.attempt, self.placement, sender, os.getpid(), timeout))

    def start(self) -> Training:
        self.started = time.monotonic()
        self.process.start()
        return self

    @property
    def sentinel(self) -> int:
        return self.process.sentinel

    def alive(self) -> bool:
        return self.process.is_alive()

    @property
    def threads_in_use(self) -> int:
        """Its thread budget while it fits and predicts, one after that (scoring, saving): the
        scheduler may hand the rest to a model that starts now."""
        if not self.released:
            self._news()
        return 1 if self.released else self.threads

    def _news(self) -> None:
        """Take what the child said so far."""
        while self.evaluated.poll():
            try:
                message = self.evaluated.recv()
            except (EOFError, OSError):
                return
            if message is True:
                self.released = True
            else:
                self.store_problems = tuple(message)

    @property
    def waitables(self) -> list[Any]:
        """What to wait on for news of it: its end, and its threads coming free."""
        return [self.sentinel] if self.released or self.threads == 1 else [self.sentinel, self.evaluated]

    def remaining(self) -> float | None:
        if not self.timeout or self.started is None:
            return None
        return max(0.0, self.started + self.timeout - time.monotonic())

    def enforce_deadline(self) -> None:
        """Kill the process once the model's timeout has passed."""
        if self.alive() and self.remaining() == 0.0:
            self.timed_out = True
            self.process.kill()
            self.process.join()

    def wait(self) -> ModelResult:
        """Block until the process ends or its deadline passes, then ``finish``."""
        for _ in range(2):  # bounded: one wait up to the deadline, one after the kill
            self.process.join(self.remaining())
            self.enforce_deadline()
            if not self.alive():
                break
        return self.finish()

    def finish(self) -> ModelResult:
        self.process.join()
        self._news()
        if self.process.exitcode == EX_TEMPFAIL:  # nothing recorded: a retry trains it again
            raise UserError(*(f"train {self.model}: {line}" for line in self.store_problems
                              or ("the store failed while training",)))
        store = open_store(self.store_root)
        result = records.read_result(store, self.job)
        if result is not None and result.attempt == self.attempt:
            if result.ok and result.fit_seconds is not None:  # what it cost, for the next plan
                from bakeoff.costs import Observation, Shape, record

                shape = Shape(result.rows["train"], result.rows["valid"], result.rows["test"], result.features)
                wall = time.monotonic() - (self.started or time.monotonic())
                record(store, records.read_job(store, self.job).spec_digest, self.job,
                       Observation(shape, self.threads, result.fit_seconds, wall, records.now()))
            return result
        code = self.process.exitcode
        if code == FORKSERVER_LOST and forkserver.server_died():
            raise ForkserverDied(f"train {self.model}: the forkserver that model processes start from "
                                 "died (killed, or out of memory); nothing was recorded for this model: "
                                 "run the same command again, and finished models are reused")
        if self.timed_out or code == EX_TIMEOUT:
            why = f"timed out after {self.timeout:g} s (models[].timeout)"
        elif code is not None and code < 0:
            why = f"the train process was killed by signal {-code} (out of memory?)"
        else:
            why = f"the train process exited with code {code} before recording a result; see the log above"
        return record_failure(self.store_root, self.job, self.model, self.attempt, why, self.placement)


def record_failure(store_root: str, job: str, model: str, attempt: str, why: str,
                   placement: dict[str, Any] | None = None) -> ModelResult:
    """The failed result of an attempt whose process died before it could write one, logged to
    MLflow like any other failure."""
    from bakeoff import tracking

    store = open_store(store_root)
    spec = records.read_job(store, job)
    failed = ModelResult.failure(model, spec.spec.get("estimator", ""), job, attempt, why, placement=placement or {})
    failed.mlflow_run_id = tracking.log_model(spec, failed, None, None)
    records.write_result(store, failed)
    return failed


def train_or_reuse(store_root: str, job: str, model: str, *, use_cache: bool = True, threads: int | None = None,
                   timeout: float | None = None, placement: dict[str, Any] | None = None) -> ModelResult:
    """One job's result: an earlier one when it may be reused, else a fresh training in a
    supervised child process. What `bakeoff step train` does, in a pod or anywhere else."""
    from bakeoff import steps
    from bakeoff.cpu import usable_cpus

    if use_cache and (result := steps.reusable(store_root, job)) is not None:
        return result
    return Training(_one_child_context(), store_root, job, model, threads=threads or usable_cpus(),
                    timeout=timeout, placement=placement).start().wait()


def _one_child_context() -> Any:
    """How the one child of a `step train` starts. A warm forkserver would cost as much to start
    as the child itself. On Linux (every pod), a plain fork of this process, which holds no
    thread and no scikit-learn: the child shares the modules already imported here instead of
    importing them again, and no resource-tracker process is started beside it (spawn starts
    one), 12 MiB less in the pod. Elsewhere (macOS: fork is unsafe with its system libraries),
    spawn."""
    return mp.get_context("fork" if sys.platform.startswith("linux") else "spawn")

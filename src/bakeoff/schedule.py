"""Which model starts when, on how many threads: longest first, threads where they shorten the run.

One policy both plans a run (`bakeoff run --plan`) and drives it: the local runner asks
``threads_for`` at every launch, with what is really running then, so a plan is what the run
does, give or take its estimates (costs.py).

* Models start longest first (expected seconds on one thread), at most ``parallel`` at once.
* A model whose fit uses threads (forests, boosting, neighbours) gets the number of free cores
  that makes the whole run end soonest, found by simulating the rest of the run for each choice;
  the others get one thread. Threads in use never exceed the budget (the usable CPUs).
* As the queue empties, the models still to start get the cores the others freed. A model
  already fitting keeps its threads: growing a running fit is not possible, and shrinking the
  others to make room would oversubscribe.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from bakeoff.costs import Cost


@dataclass(frozen=True)
class Task:
    name: str
    cost: Cost


@dataclass(frozen=True)
class Running:
    name: str
    threads: int
    ends: float  # expected, in the plan's clock


@dataclass(frozen=True)
class Slot:
    name: str
    threads: int
    start: float
    end: float
    cost: Cost


@dataclass(frozen=True)
class Plan:
    slots: list[Slot]  # in launch order, times from the first launch
    budget: int  # threads that may run at once
    parallel: int  # processes that may run at once
    before: float = 0.0  # seconds before the first model starts
    after: float = 0.0  # seconds of compare, after the last one ends

    @property
    def training_seconds(self) -> float:
        return max((s.end for s in self.slots), default=0.0)

    @property
    def wall_seconds(self) -> float:
        return self.before + self.training_seconds + self.after


def budget_for(cpus: int, parallel: int) -> int:
    """Threads at once: the usable CPUs, or more processes when asked for explicitly (each
    process needs one)."""
    return max(cpus, parallel)


def longest_first(tasks: list[Task]) -> list[Task]:
    return sorted(tasks, key=lambda t: -t.cost.seconds(1))


def _inner_threads(task: Task, free: int, queued: int) -> int:
    """The rule the simulation applies to later launches: spare cores the queue cannot fill go
    to a model that can use them."""
    return 1 if task.cost.parallel == 0 else max(1, free - queued)


Choose = Callable[[Task, deque[Task], list[Running], float, int], int]  # threads for a launch


def _simulate(clock: float, running: list[Running], queue: deque[Task], budget: int, parallel: int,
              choose: Choose, launched: list[Slot] | None = None) -> float:
    """Run ``queue`` to its end on the estimates: launch while processes and threads are free,
    each with the threads ``choose`` gives it (recorded in ``launched``), then advance to the next
    end. The clock when the last model ends."""
    running, queue = list(running), deque(queue)
    for _ in range(2 * (len(queue) + len(running)) + 2):  # bounded: every turn launches or ends one
        free = budget - sum(r.threads for r in running)
        while queue and len(running) < parallel and free >= 1:
            task = queue.popleft()
            threads = choose(task, queue, running, clock, free)
            end = clock + task.cost.seconds(threads)
            running.append(Running(task.name, threads, end))
            if launched is not None:
                launched.append(Slot(task.name, threads, clock, end, task.cost))
            free -= threads
        if not running:
            break
        clock = min(r.ends for r in running)
        running = [r for r in running if r.ends > clock]
    return clock


def _makespan(now: float, running: list[Running], queue: deque[Task], budget: int, parallel: int) -> float:
    return _simulate(now, running, queue, budget, parallel,
                     lambda task, rest, _running, _clock, free: _inner_threads(task, free, len(rest)))


def threads_for(task: Task, queue: list[Task], running: list[Running], now: float, budget: int,
                parallel: int) -> int:
    """Threads for ``task``, launched now, with ``queue`` still to start after it."""
    free = budget - sum(r.threads for r in running)
    if free <= 1 or task.cost.parallel == 0:
        return 1
    rest = deque(queue)

    def makespan(threads: int) -> float:
        launched = Running(task.name, threads, now + task.cost.seconds(threads))
        return _makespan(now, [*running, launched], rest, budget, parallel)

    return min(range(1, free + 1), key=lambda threads: (round(makespan(threads), 6), threads))


def plan(tasks: list[Task], budget: int, parallel: int, *, before: float = 0.0, after: float = 0.0) -> Plan:
    """The whole run, simulated with the estimates; ``before`` and ``after`` are what it costs
    besides training (costs.Phases)."""
    slots: list[Slot] = []
    _simulate(0.0, [], deque(longest_first(tasks)), budget, parallel,
              lambda task, rest, running, clock, _free: threads_for(task, list(rest), running, clock, budget, parallel),
              slots)
    return Plan(slots, budget, parallel, before, after)


CPU_CHOICES = (1, 2, 4)
WORTH_A_CORE = 5.0  # seconds of fit below which another core is not worth asking for
EFFICIENCY = 0.75  # the least speedup per core a suggestion accepts


def suggested_cpus(cost: Cost) -> int:
    """CPUs for a model's own pod, where every model runs at once: the most of ``CPU_CHOICES``
    that still speeds the fit up by ``EFFICIENCY`` per core, for a fit long enough to matter."""
    if cost.parallel == 0 or cost.fit < WORTH_A_CORE:
        return 1
    one = cost.seconds(1)
    return max(t for t in CPU_CHOICES if t == 1 or one / cost.seconds(t) / t >= EFFICIENCY)

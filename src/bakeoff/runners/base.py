"""What every runner is: one method, ``run(exp, options)``, as each of kfp.local's task handlers
is one method (``ITaskHandler.run``). A runner decides only where the steps run; what a step does
is steps.py's.

The CLI resolves its flags into ``RunOptions`` once, and every runner honours every option (the
kfp runners compile the pipeline to match), so no flag is ever dropped on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from bakeoff.leaderboard import Leaderboard
    from bakeoff.progress import RunProgress
    from bakeoff.runs import Run
    from bakeoff.spec import Experiment


@dataclass(frozen=True)
class RunOptions:
    parallel: int | None = None  # models at once; None: the config's runtime.parallel, else the runner's default
    use_cache: bool = True  # reuse an identical model's earlier result
    on_progress: Callable[[RunProgress], None] | None = None  # snapshots, for runners that can watch
    began_at: float | None = None  # time.monotonic() when the user's command began (start-up included)


@dataclass(frozen=True)
class Outcome:
    run: Run
    board: Leaderboard | None  # None while the run goes on elsewhere
    url: str | None = None  # where to follow it, for a run on a cluster
    state: str | None = None  # the cluster's last word on it (SUCCEEDED, FAILED…)


class Runner(Protocol):
    name: ClassVar[str]

    def run(self, exp: Experiment, options: RunOptions) -> Outcome: ...

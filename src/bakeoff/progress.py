"""What a running bake-off looks like to whoever watches it: the progress model, one row per
model, and the CLI's live view of it. Runners fill the model in; the terminal and the app only
read it (the app through ``rows``, the terminal through ``LiveProgress``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bakeoff.records import ModelResult
    from bakeoff.runs import Run
    from bakeoff.schedule import Plan

STATES = ("queued", "running", "ok", "failed", "cached")
WALL = "wall s incl. start"  # a model's seconds since its process (or pod) was started, start-up included
WALL_NOTE = (f"{WALL}: since the model's process started, its start-up included; the leaderboard's "
             "fit s is the fit alone")
STYLES = {"ok": "green", "cached": "cyan", "failed": "red", "running": "yellow", "queued": "dim"}
ERROR_WIDTH = 60


@dataclass
class ModelState:
    name: str
    state: str = "queued"  # one of STATES
    started: float | None = None
    finished: float | None = None
    score: float | None = None
    error: str | None = None

    def elapsed(self, now: float) -> float | None:
        return None if self.started is None else (self.finished or now) - self.started

    def start(self) -> None:
        self.state, self.started = "running", time.perf_counter()

    def finish(self, result: ModelResult | None, primary: str) -> None:
        """The model's outcome, from its result (None: it recorded none)."""
        if self.started is not None:
            self.finished = time.perf_counter()
        self.state = "failed" if result is None else "cached" if result.cached else result.status
        self.score = None if result is None else result.score(primary)
        self.error = "no result was recorded" if result is None else result.error

    @property
    def done(self) -> bool:
        return self.state in ("ok", "failed", "cached")


@dataclass
class RunProgress:
    """A snapshot for whoever displays the run: the CLI's live table, the Streamlit app."""

    run: Run
    states: list[ModelState] = field(default_factory=list)
    primary: str | None = None  # None while the data is being prepared
    data_note: str = ""

    @property
    def finished(self) -> int:
        return sum(s.done for s in self.states)


def rows(progress: RunProgress, *, error_width: int | None = None) -> list[dict[str, str]]:
    """One row per model, as every view shows it: its state, the wall seconds of its process so
    far (start-up included), then its test score, or its error when it failed."""
    now = time.perf_counter()
    out = []
    for s in progress.states:
        elapsed = s.elapsed(now)
        error = (s.error or "")[:error_width] if error_width else (s.error or "")
        outcome = error if s.state == "failed" else "" if s.score is None else f"{s.score:.4f}"
        out.append({"model": s.name, "state": s.state, WALL: "" if elapsed is None else f"{elapsed:.1f}",
                    f"test {progress.primary or 'score'}": outcome})
    return out


def plan_rows(plan: Plan, cached: list[str]) -> list[dict[str, str]]:
    """The plan of a run, one row per model in launch order, as `bakeoff run --plan` and the app
    show it: threads, expected start and end (wall seconds from the first launch), and where the
    estimate came from (an earlier fit of the same model, or its family's prior)."""
    out = [{"model": s.name, "threads": str(s.threads), "start s": f"{s.start:.1f}", "end s": f"{s.end:.1f}",
            "fit s on 1 thread": f"{s.cost.fit:.1f}", "estimate": s.cost.source} for s in plan.slots]
    out += [{"model": name, "threads": "", "start s": "", "end s": "", "fit s on 1 thread": "",
             "estimate": "cached: not trained"} for name in cached]
    return out


def progress_table(p: RunProgress) -> Any:
    from rich.spinner import Spinner
    from rich.table import Table

    if p.primary is None:
        return Spinner("dots", text=f"preparing data for run {p.run.run_id}")
    table = Table(title="training", caption=" · ".join(filter(None, (p.data_note, WALL_NOTE))))
    shown = rows(p, error_width=ERROR_WIDTH)
    for col in shown[0] if shown else ("model",):
        table.add_column(col)
    for s, row in zip(p.states, shown):
        table.add_row(*(f"[{STYLES[s.state]}]{v}[/]" if k == "state" else v for k, v in row.items()))
    return table


class LiveProgress:
    """Context manager and ``on_progress`` callback in one:
    ``with LiveProgress(console) as show: runner.run(exp, RunOptions(on_progress=show))``."""

    def __init__(self, console: Any) -> None:
        from rich.live import Live

        self.live = Live(console=console, refresh_per_second=4, transient=False)

    def __enter__(self) -> LiveProgress:
        self.live.__enter__()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is not None:  # the error message is what matters now: leave no half-drawn table
            from rich.text import Text

            self.live.transient = True
            self.live.update(Text(""), refresh=False)
        self.live.__exit__(exc_type, *rest)
        if exc_type is None and not self.live.console.is_terminal:
            self.live.console.line()  # in a log, the last frame ends without a newline

    def __call__(self, progress: RunProgress) -> None:
        self.live.update(progress_table(progress), refresh=True)


class RowsProgress:
    """`bakeoff predict`'s progress bar, as an ``on_progress(done, total)`` callback. It appears
    only when a file takes more than one chunk (``predict.CHUNK_ROWS``): a small file is done
    before a bar would be read."""

    def __init__(self, console: Any) -> None:
        self.console = console
        self.bar: Any = None
        self.task: Any = None

    def __enter__(self) -> RowsProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if done >= total:
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("predicting"), BarColumn(), MofNCompleteColumn(), TextColumn("rows"),
                                TimeRemainingColumn(), console=self.console)
            self.task = self.bar.add_task("predict", total=total)
            self.bar.start()
        self.bar.update(self.task, completed=done)

"""The CLI's live view of a local run: a spinner while data is prepared, then a table of every
model's state and time. It is one observer of ``run_local``; the Streamlit app is another."""

from __future__ import annotations

import time
from typing import Any

from bakeoff.runners.local import RunProgress

STYLES = {"ok": "green", "cached": "cyan", "failed": "red", "running": "yellow", "queued": "dim"}


def progress_table(p: RunProgress) -> Any:
    from rich.console import Group
    from rich.spinner import Spinner
    from rich.table import Table

    if p.primary is None:
        return Spinner("dots", text=f"preparing data for run {p.run.run_id}")
    table = Table(title="training", caption=p.data_note)
    for col in ("model", "state", "seconds", f"test {p.primary}"):
        table.add_column(col)
    now = time.perf_counter()
    for s in p.states:
        elapsed = s.elapsed(now)
        note = (s.error or "")[:60] if s.state == "failed" else "" if s.score is None else f"{s.score:.4f}"
        table.add_row(s.name, f"[{STYLES[s.state]}]{s.state}[/]", "" if elapsed is None else f"{elapsed:.1f}", note)
    return Group(table)


class LiveProgress:
    """Context manager and ``on_progress`` callback in one: ``with LiveProgress(c) as show: run_local(..., on_progress=show)``."""

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

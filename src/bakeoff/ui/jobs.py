"""A local run in a background thread, observed by the app between reruns.

Streamlit reruns the whole script on every interaction, so the run cannot live in the script: it
lives in a thread that calls ``run_local`` (which itself starts one process per model), and the
script only reads the latest ``RunProgress`` snapshot. The thread never touches Streamlit.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from bakeoff.errors import UserError
from bakeoff.leaderboard import Leaderboard
from bakeoff.runners.local import RunProgress
from bakeoff.runs import Run
from bakeoff.spec import Experiment

log = logging.getLogger(__name__)


@dataclass
class RunJob:
    experiment: Experiment
    use_cache: bool = True
    progress: RunProgress | None = None
    run: Run | None = None
    board: Leaderboard | None = None
    problems: tuple[str, ...] = ()
    _thread: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> RunJob:
        self._thread = threading.Thread(target=self._work, name=f"bakeoff-ui-{self.experiment.experiment}",
                                        daemon=True)
        self._thread.start()
        return self

    def _work(self) -> None:
        from bakeoff.runners.local import run_local

        try:
            self.run, self.board = run_local(self.experiment, use_cache=self.use_cache, on_progress=self._seen)
        except UserError as exc:
            self.problems = exc.problems
        except Exception as exc:  # our bug: keep the traceback in the server log, show one line
            log.exception("local run failed")
            self.problems = (f"<run>: {type(exc).__name__}: {exc}",)

    def _seen(self, progress: RunProgress) -> None:
        self.progress = progress

    @property
    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def rows(self) -> list[dict[str, str]]:
        """One row per model for the progress table, as the CLI's live table: state, seconds so
        far, then the test score, or the error of a model that failed."""
        if self.progress is None:
            return []
        now = time.perf_counter()
        rows = []
        for s in self.progress.states:
            elapsed = s.elapsed(now)
            outcome = (s.error or "") if s.state == "failed" else "" if s.score is None else f"{s.score:.4f}"
            rows.append({"model": s.name, "state": s.state, "seconds": "" if elapsed is None else f"{elapsed:.1f}",
                         f"test {self.progress.primary or 'score'}": outcome})
        return rows

    @property
    def finished(self) -> int:
        """Models that have an outcome, for the progress bar."""
        states = self.progress.states if self.progress else []
        return sum(s.state in ("ok", "failed", "cached") for s in states)

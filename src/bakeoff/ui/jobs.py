"""A local run in a background thread, observed by the app between reruns.

Streamlit reruns the whole script on every interaction, so the run cannot live in the script: it
lives in a thread that calls the local runner (which itself starts one process per model), and the
script only reads the latest ``RunProgress`` snapshot. The thread never touches Streamlit.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from bakeoff.errors import UserError
from bakeoff.leaderboard import Leaderboard
from bakeoff.progress import RunProgress, rows
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
        from bakeoff.runners.base import RunOptions
        from bakeoff.runners.local import LocalRunner

        try:
            outcome = LocalRunner().run(self.experiment, RunOptions(use_cache=self.use_cache, on_progress=self._seen))
            self.run, self.board = outcome.run, outcome.board
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
        """One row per model for the progress table, as the CLI's live table shows it."""
        return [] if self.progress is None else rows(self.progress)

    @property
    def finished(self) -> int:
        """Models that have an outcome, for the progress bar."""
        return self.progress.finished if self.progress else 0

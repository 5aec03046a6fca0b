"""Runs as the app shows them: live progress of a local run, a leaderboard, and past runs.

A leaderboard is drawn from ``Leaderboard`` alone, whether it comes from a run that just ended or
from ``leaderboard.json`` of any run in the store, so both look the same.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from bakeoff import figures
from bakeoff.errors import UserError
from bakeoff.leaderboard import Leaderboard
from bakeoff.report import CAPTION, failures, front_notes, score_chart, to_html
from bakeoff.runs import Run, run_ids
from bakeoff.spec import Experiment
from bakeoff.storage import open_store
from bakeoff.ui.jobs import RunJob

POLL_SECONDS = 0.5


def board_frame(board: Leaderboard) -> pd.DataFrame:
    """One row per model with exactly the report's columns, so the app and the reports agree."""
    from bakeoff.report import columns

    cells = columns(board)
    return pd.DataFrame([{header: cell(r) for header, cell in cells} for r in board.rows])


def plan(exp: Experiment, use_cache: bool) -> None:
    """What a run would do now: the order, the threads of each model and the expected wall time,
    as `bakeoff run --plan` shows them."""
    from bakeoff.progress import plan_rows
    from bakeoff.runners.base import RunOptions
    from bakeoff.runners.local import LocalRunner

    with st.expander("Plan", icon=":material/schedule:"):
        try:
            schedule, cached = LocalRunner().plan(exp, RunOptions(use_cache=use_cache))
        except UserError as exc:
            for line in exc.problems:
                st.error(line)
            return
        st.caption(f"Expected wall time {schedule.wall_seconds:.1f} s, at most {schedule.parallel} models and "
                   f"{schedule.budget} threads at once; longest first, and threads where they end the run sooner.")
        st.dataframe(pd.DataFrame(plan_rows(schedule, cached)), hide_index=True)


def stored_diagnostics(run: Run, board: Leaderboard) -> dict[str, dict[str, Any]]:
    """Each finished model's diagnostics as its train step stored them (nothing recomputed)."""
    from bakeoff import diagnostics

    found = {}
    for r in board.rows:
        result = run.result(r.model) if r.status == "ok" else None
        if result is not None:
            found[r.model] = diagnostics.load(run.store, result)
    return found


def show(fragment: str) -> None:
    """Chart fragments as report.html has them; st.html drops inline SVG, so they go as images."""
    st.html(f"<style>{figures.STYLE}</style>" + figures.as_images(fragment))


def charts(board: Leaderboard, found: dict[str, dict[str, Any]], *, key: str) -> None:
    """The run's charts (curves across models, the fronts) and one model's, picked: the same
    HTML fragments report.html shows, drawn from the same stored data."""
    across, one = st.tabs(["Across models", "One model"])
    with across:
        for _, drawn in figures.across_models(board, found):
            show(f'<div class="blocks">{drawn}</div>')
    with one:
        names = [r.model for r in board.rows if r.model in found]
        if not names:
            st.info("No model of this run stored diagnostics (older runs did not).")
            return
        show(figures.per_model(board, found, st.selectbox("model", names, key=f"{key}:model")))


def leaderboard(board: Leaderboard, *, key: str, run: Run | None = None) -> None:
    arrow = "↑" if board.direction == "max" else "↓"
    st.subheader(f"Leaderboard · {board.experiment}")
    st.caption(f"run `{board.run_id}` · task {board.task} · ranked by test **{board.primary}** {arrow}"
               f" · {CAPTION}")
    for line in failures(board):
        st.warning(f"did not finish: {line}", icon=":material/error:")
    st.dataframe(board_frame(board), hide_index=True, column_config={"model": st.column_config.TextColumn(pinned=True)})
    if any(r.primary is not None for r in board.rows):
        show(score_chart(board))
    for note in front_notes(board):
        st.info(note, icon=":material/speed:")
    found = stored_diagnostics(run, board) if run is not None else {}
    if run is not None:
        charts(board, found, key=key)
    st.download_button("Download report.html", to_html(board, found), file_name=f"{board.experiment}-{board.run_id}.html",
                       mime="text/html", key=f"{key}:report", icon=":material/download:")


def summary(job: RunJob) -> str:
    if job.progress is None or job.progress.primary is None:
        return "preparing the data"
    return f"{job.finished} of {len(job.experiment.models)} models done · {job.progress.data_note}"


def _progress(job: RunJob) -> None:
    """The run's state as the CLI's live table shows it."""
    st.progress(job.finished / len(job.experiment.models), text=summary(job))
    if job.rows():
        st.dataframe(pd.DataFrame(job.rows()), hide_index=True)


def live(job: RunJob) -> None:
    """Redraw the progress every half second until the run ends, then rerun the whole app once
    so that the leaderboard (and History) take over."""

    @st.fragment(run_every=POLL_SECONDS)
    def poll() -> None:
        if job.done:
            st.rerun()
        _progress(job)

    poll()


LABELS = "history:labels"  # a finished run's label, per store and run: its leaderboard never changes


def _label(run: Run) -> str:
    """``history.label``, read once per finished run: a store of many runs is not read anew on
    every rerun of the app."""
    from bakeoff.history import label

    labels = st.session_state.setdefault(LABELS, {})
    key = (run.store.root, run.run_id)
    if key in labels:
        return labels[key]
    try:
        board = run.leaderboard()
        text = label(run, board)
    except UserError as exc:  # one damaged or half-written run hides no other (as `bakeoff runs`)
        return f"{run.run_id} · unreadable: {exc.problems[0]}"
    if board is not None:
        labels[key] = text
    return text


def history(store_uri: str) -> Run | None:
    """Pick a run of the store and show its leaderboard; return it, to open its config."""
    try:
        store = open_store(store_uri)
        ids = run_ids(store)[::-1]
    except UserError as exc:
        for line in exc.problems:
            st.error(line)
        return None
    st.caption(f"{len(ids)} run(s) in `{store.root}`, newest first")
    if not ids:
        st.info("No runs yet: run one from the Run tab.")
        return None
    labels = {i: _label(Run(store, i)) for i in ids}  # once per rerun: one label per run in a draw
    run_id = st.selectbox("run", ids, key="history:run", format_func=labels.__getitem__)
    run = Run(store, run_id or ids[0])
    try:
        board = run.leaderboard()
    except UserError as exc:
        for line in exc.problems:
            st.error(line)
        return None
    if board is None:
        st.info(f"Run {run.run_id} has no leaderboard yet: it is running, or it stopped before compare.")
    else:
        leaderboard(board, key=f"history:{run.run_id}", run=run)
    return run

"""The Streamlit app, run by ``ui/app.py``, the script ``bakeoff ui [CONFIG]`` gives ``streamlit run``.

Layout only. The config lives in session state as one plain mapping (``ui.state``), and widgets
bind to its field paths (``ui.widgets``). Every rerun judges it with the schema, then draws the
sidebar (open, save, problems) and the tabs: the form, its YAML, a local run, history, Kubeflow.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import streamlit as st

from bakeoff.errors import UserError
from bakeoff.examples import EXAMPLES
from bakeoff.spec import Experiment, KfpSettings, anchored
from bakeoff.ui import files, results, sections, state
from bakeoff.ui.jobs import RunJob
from bakeoff.ui.kubeflow import kubeflow_tab
from bakeoff.ui.widgets import (CFG, SOURCE, YAML_PROBLEM, Form, config, config_text, markdown_text,
                                replace_config)

BASE = "base"  # the folder relative paths in the config mean, as for `bakeoff run CONFIG`
JOB = "job"
YAML = "yaml"
SAVE_TO = "save:to"
OPEN_PROBLEMS = "open:problems"
SAVED = "saved"  # the config as last opened or saved: any difference is an unsaved edit
PENDING = "pending"  # a config waiting to replace unsaved edits until the user discards or keeps them
# A browser reload or a closed tab ends the session and its edits: while there are unsaved ones,
# the browser asks first (its own "Leave site?" dialog; a page may not word it).
_ASK_BEFORE_LEAVING = "<script>window.onbeforeunload = (e) => { e.preventDefault(); e.returnValue = ''; };</script>"
_LEAVE_FREELY = "<script>window.onbeforeunload = null;</script>"


def _start() -> None:
    """The first run of a session: open the config named on the command line, else the starter."""
    if CFG in st.session_state:
        return
    target = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else None
    base = target.parent if target else Path.cwd()
    st.session_state[SAVE_TO] = str(target or base / "bakeoff.yaml")
    _replace(copy.deepcopy(state.STARTER), "", base)
    if target and target.is_file():
        _open(str(target))


def _unsaved() -> bool:
    """Whether the form (or an unreadable YAML draft) holds edits that were never saved."""
    return config() != st.session_state.get(SAVED) or YAML_PROBLEM in st.session_state


def _replace(cfg: dict[str, Any], text: str, base: Path) -> None:
    """Put an opened config in the form, as saved, and forget any replacement waiting."""
    replace_config(cfg, text)
    st.session_state[SAVED] = copy.deepcopy(cfg)
    st.session_state[BASE] = base
    st.session_state.pop(PENDING, None)


def _load(cfg: dict[str, Any], text: str, base: Path, what: str) -> None:
    """Open a config, unless that would lose unsaved edits: then it waits for the user's word."""
    if _unsaved():
        st.session_state[PENDING] = (cfg, text, base, what)
    else:
        _replace(cfg, text, base)


def _open(uri: str) -> None:
    """Open a config into the form; why one could not be read stays in the sidebar until the next."""
    try:
        cfg, text, base = files.open_config(uri, st.session_state[BASE])
    except UserError as exc:
        st.session_state[OPEN_PROBLEMS] = exc.problems
        return
    _load(cfg, text, base, markdown_text(uri))  # escaped, so not in a code span: it would show the escapes
    st.session_state.pop(OPEN_PROBLEMS, None)


def _load_example() -> None:
    name = st.session_state.get("example")
    if name:
        _load(*files.example_config(name), st.session_state[BASE], f"the {name} example")
        st.session_state["example"] = None  # so that picking it again reloads it


def _pending() -> None:
    """The choice that stands between unsaved edits and the config about to replace them."""
    if PENDING not in st.session_state:
        return
    cfg, text, base, what = st.session_state[PENDING]
    st.warning(f"Your edits to **{markdown_text(str(state.get_in(config(), 'experiment') or 'this config'))}** "
               f"are not saved. Opening {what} replaces them.", icon=":material/warning:")
    discard, keep, _ = st.columns([1, 1, 3])
    discard.button("Discard my edits and open it", key="pending:discard", on_click=_replace, args=(cfg, text, base))
    keep.button("Keep editing", key="pending:keep", on_click=st.session_state.pop, args=(PENDING, None))


def _apply_yaml() -> None:
    """The YAML tab's callback: a readable mapping becomes the config, anything else waits."""
    try:
        text = st.session_state[YAML]
        replace_config(state.from_yaml(text), text)
    except UserError as exc:
        st.session_state[YAML_PROBLEM] = "\n".join(exc.problems)


def _sidebar(checked: state.Checked, text: str) -> None:
    base = st.session_state[BASE]
    with st.sidebar:
        st.title("bakeoff")
        st.caption(f"Relative paths are read from `{base}`.")
        st.selectbox("start from an example", list(EXAMPLES), index=None, key="example",
                     placeholder="breast-cancer, wine or diabetes", on_change=_load_example)
        where = st.text_input("open a config", key="open:uri", placeholder="bakeoff.yaml or s3://bucket/key.yaml")
        if st.button("Open", key="open:go", disabled=not where):
            _open(where)
            st.rerun()
        for line in st.session_state.get(OPEN_PROBLEMS, ()):
            st.error(markdown_text(line))
        st.divider()
        _status(checked)
        st.text_input("save to", key=SAVE_TO,
                      help="A path or s3://bucket/key.yaml. Only a valid config saves; it passes `bakeoff validate`.")
        save, download = st.columns(2)
        exp = checked.experiment
        if save.button("Save", key="save:go", disabled=exp is None, icon=":material/save:") and exp:
            try:
                where = files.save_config(config(), st.session_state.get(SOURCE, ""), st.session_state[SAVE_TO], base)
                st.session_state[SAVED] = copy.deepcopy(config())
                st.success(f"Saved to `{where}`")
            except UserError as exc:
                st.error(markdown_text("\n".join(exc.problems)))
        download.download_button("Download", text if exp else "", file_name="bakeoff.yaml",
                                 mime="application/yaml", disabled=exp is None, key="save:download",
                                 icon=":material/download:")
        if _unsaved():
            st.caption("Unsaved edits: opening another config or reloading the page asks first.")


def _status(checked: state.Checked) -> None:
    if checked.ok and checked.experiment:
        st.success(f"Valid · {len(checked.experiment.models)} model(s)", icon=":material/check_circle:")
        return
    lead = ("The config is valid, but its data disagrees:" if checked.experiment
            else f"{len(checked.problems)} problem(s); each is shown next to its field:")
    lines = (f"- `{path}`: {markdown_text(message)}" for path, message in map(state.split_problem, checked.problems))
    st.error("\n".join([lead, *lines]))


def _yaml_tab(checked: state.Checked, text: str) -> None:
    problem = st.session_state.get(YAML_PROBLEM)
    if not problem:
        st.session_state[YAML] = text
    st.text_area("config", key=YAML, height=520, on_change=_apply_yaml,
                 help="Paste or edit; the form follows when you leave the box (or press Ctrl+Enter).")
    if problem:
        st.error(markdown_text(problem))
    for line in checked.problems:
        st.caption(f":red[{markdown_text(line)}]")


def _run_tab(checked: state.Checked) -> None:
    job: RunJob | None = st.session_state.get(JOB)
    running = job is not None and not job.done
    if checked.ok and checked.experiment:
        st.checkbox("Reuse identical results of earlier runs", value=True, key="run:cache")
        if not running:
            results.plan(anchored(checked.experiment, st.session_state[BASE]), st.session_state["run:cache"])
        if st.button("Run locally", key="run:start", type="primary", disabled=running, icon=":material/play_arrow:"):
            exp = anchored(checked.experiment, st.session_state[BASE])
            st.session_state[JOB] = job = RunJob(exp, use_cache=st.session_state["run:cache"]).start()
            running = True
    else:
        st.info("Fix the problems in the sidebar first: only a valid config, with data that agrees, runs.")
    if job is None:
        return
    if running:
        results.live(job)
        return
    st.caption(results.summary(job))  # the leaderboard below says the rest, failures included
    for line in job.problems:
        st.error(markdown_text(line))
    if job.board:
        results.leaderboard(job.board, key="run", run=job.run)


def _history_tab(store: str) -> None:
    base = st.session_state[BASE]
    run = results.history(state.resolve_uri(store, base))
    if run and st.button("Open this run's config in the form", key="history:open"):
        _load(*files.open_run_config(run, base), base, f"the config of run `{run.run_id}`")
        st.rerun()


def main() -> None:
    st.set_page_config(page_title="bakeoff", page_icon=":material/leaderboard:", layout="wide")
    _start()
    preview, read_problems = sections.read_dataset(st.session_state[BASE])
    dataset = state.get_in(config(), "dataset", {})
    schema, data_problems = preview.inspect(dataset) if preview else (None, read_problems)
    checked = state.check(config(), schema.task if schema else None, data_problems)
    task = state.task_of(config(), schema.task if schema else None)
    form = Form(checked)
    text = config_text()  # a round trip of the config's own text: once per rerun
    _sidebar(checked, text)
    st.html(_ASK_BEFORE_LEAVING if _unsaved() else _LEAVE_FREELY, unsafe_allow_javascript=True)
    _pending()
    st.title(str(state.get_in(config(), "experiment") or "new experiment"))
    tabs = st.tabs(["Experiment", "YAML", "Run", "History", "Kubeflow"])
    with tabs[0]:
        form.text("experiment", "experiment", help=Experiment.model_fields["experiment"].description)
        sections.dataset_section(form, preview, schema)
        sections.models_section(form, task)
        sections.metrics_section(form, task)
        sections.settings_section(form)
    with tabs[1]:
        _yaml_tab(checked, text)
    with tabs[2]:
        _run_tab(checked)
    with tabs[3]:
        _history_tab(str(state.get_in(config(), "storage") or Experiment.model_fields["storage"].default))
    with tabs[4]:
        st.subheader("Cluster settings")
        form.fields(KfpSettings, "kfp")
        kubeflow_tab(checked.experiment, st.session_state[BASE])


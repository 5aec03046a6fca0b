"""The experiment form, one function per section of the config: dataset, models, metrics, the rest.

Each section draws its widgets through ``Form``, so every value lands in the config at the path
the schema uses, and every schema error lands under the widget of its path.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st
from pydantic import BaseModel

from bakeoff import measures
from bakeoff.catalog import Task
from bakeoff.records import Schema
from bakeoff.errors import UserError
from bakeoff.spec import DatasetSpec, Experiment, ModelSpec, SearchSpec
from bakeoff.ui import state, suggest
from bakeoff.ui.files import PREVIEW_ROWS, Preview, load_preview
from bakeoff.ui.widgets import UNSET, Form, config, markdown_text, update

PREVIEW = "preview"  # (uri, format, base) -> Preview or the problems reading it gave


def read_dataset(base: Path) -> tuple[Preview | None, tuple[str, ...]]:
    """The dataset the config names, read once per URI and format (the Reload button rereads)."""
    uri = str(state.get_in(config(), "dataset.uri") or "")
    fmt = str(state.get_in(config(), "dataset.format") or "auto")
    wanted = (uri, fmt, str(base))
    cached = st.session_state.get(PREVIEW)
    if cached is None or cached[0] != wanted:
        try:
            found: Preview | tuple[str, ...] = load_preview(uri, fmt, base)
        except UserError as exc:
            found = tuple(p if p.startswith("dataset.") else f"dataset.uri: {p}" for p in exc.problems)
        st.session_state[PREVIEW] = cached = (wanted, found)
    found = cached[1]
    return (found, ()) if isinstance(found, Preview) else (None, found)


def _field(model: type[Any], name: str) -> Any:
    return model.model_fields[name]


def dataset_section(form: Form, preview: Preview | None, schema: Schema | None) -> None:
    st.subheader("Dataset")
    form.text("dataset.uri", "uri", help=_field(DatasetSpec, "uri").description,
              placeholder="data/table.csv or s3://bucket/key.parquet")
    left, right = st.columns(2)
    with left:
        form.fields(DatasetSpec, "dataset", only=("format",))
    with right:
        form.fields(DatasetSpec, "dataset", only=("task",))
    dataset = state.get_in(config(), "dataset", {})
    dataset = dataset if isinstance(dataset, dict) else {}
    if preview is None:
        form.text("dataset.target", "target", help=_field(DatasetSpec, "target").description)
        form.value("dataset.drop", "drop", default=[], help=_field(DatasetSpec, "drop").description)
        return
    columns = preview.columns
    form.choice("dataset.target", "target", columns, help=_field(DatasetSpec, "target").description)
    form.many("dataset.drop", "drop", [c for c in columns if c != dataset.get("target")],
              help=_field(DatasetSpec, "drop").description)
    task = f" · task **{schema.task}**" if schema else ""
    st.caption(f"{len(preview.frame):,} rows · {len(columns)} columns{task} · read from `{preview.uri}`")
    rows, types = st.columns([2, 1])
    with rows:
        st.dataframe(preview.frame.head(PREVIEW_ROWS), height=260)
    with types:
        st.dataframe(preview.types(schema, dataset), hide_index=True, height=260)
    if st.button("Reload data", key="dataset:reload", help="Read the file again, if it has changed."):
        st.session_state.pop(PREVIEW, None)
        st.rerun()


def _add_model() -> None:
    estimator = st.session_state.get("new:estimator")
    if estimator:
        models = state.get_in(config(), "models")
        update("models", [*(models if isinstance(models, list) else []), state.new_model(estimator, models)])
        st.session_state["new:estimator"] = None


def _add_entry(path: str, key: str, choices: dict[str, Any], replaces: str | None) -> None:
    name = st.session_state.get(key)
    if name:
        update(f"{path}.{name}", choices[name])
        if replaces is not None and state.get_in(config(), f"{replaces}.{name}", UNSET) is not UNSET:
            update(f"{replaces}.{name}", UNSET)
        st.session_state[key] = None


def _entries(form: Form, path: str, choices: dict[str, Any], *, label: Callable[[str], str],
             default: Callable[[str], Any], help: str, pick: str, replaces: str | None = None) -> None:
    """A mapping of ``name: value`` rows under ``path``, each removable, and a picker that adds
    one of ``choices`` (name -> first value). Parameters and search dimensions are both this.
    An entry added here leaves the mapping at ``replaces`` (a fixed parameter, once searched)."""
    current = state.get_in(config(), path, {})
    for name in current if isinstance(current, dict) else {}:
        value, remove = st.columns([6, 1], vertical_alignment="bottom")
        with value:
            form.value(f"{path}.{name}", label(name), default=default(name), help=help, nested=True)
        with remove:
            st.button("Remove", key=f"unset:{path}.{name}", on_click=update, args=(f"{path}.{name}", UNSET))
    form.problems(path)
    key = f"add:{path}"
    left = [n for n in choices if not isinstance(current, dict) or n not in current]
    st.selectbox(pick, left, index=None, key=key, placeholder=f"choose one of {len(left)}",
                 format_func=lambda n: f"{n}: {state.value_text(choices[n])}",
                 on_change=_add_entry, args=(path, key, choices, replaces))


_EDITED_APART = ("name", "estimator", "params", "search")


def _model(form: Form, i: int, model: dict[str, Any], task: Task | None) -> None:
    path = f"models[{i}]"
    estimator = str(model.get("estimator", ""))
    troubled = bool(form.checked.at(path, nested=True))
    with st.expander(f"**{model.get('name', '?')}** · {estimator}", expanded=troubled,
                     icon=":material/error:" if troubled else None):
        name, pick, remove = st.columns([2, 3, 1], vertical_alignment="bottom")
        with name:
            form.text(f"{path}.name", "name", help=_field(ModelSpec, "name").description)
        with pick:
            form.choice(f"{path}.estimator", "estimator", state.estimator_names(task),
                        help="From the catalog: scikit-learn's estimators and registered plugins.")
        with remove:
            st.button("Remove", key=f"remove:{path}", icon=":material/delete:", on_click=update, args=(path, UNSET))
        params_tab, search_tab, more_tab = st.tabs(["Parameters", "Search space", "More fields"])
        defaults = state.param_defaults(estimator)
        with params_tab:
            _entries(form, f"{path}.params", defaults, pick="add a parameter, with its default",
                     label=lambda n: f"{n} :gray[default {markdown_text(state.value_text(defaults[n]))}]"
                     if n in defaults else n,
                     default=lambda n: defaults.get(n, UNSET), help=f"Passed to {estimator}; typed as YAML.")
        with search_tab:
            _search(form, path, model, estimator)
        with more_tab:
            form.fields(ModelSpec, path, only=[n for n in ModelSpec.model_fields if n not in _EDITED_APART])


def _search(form: Form, model_path: str, model: dict[str, Any], estimator: str) -> None:
    """The dimensions to tune, each suggested from the parameter's constraints around the value
    the model uses now (``suggest.space``), then the search's own settings once there is a search."""
    st.caption(_field(ModelSpec, "search").description)
    path = f"{model_path}.search"
    fixed = model.get("params") if isinstance(model.get("params"), dict) else {}
    _entries(form, f"{path}.space", suggest.space(estimator, fixed),
             pick="add a dimension (a parameter set under Parameters moves here)", label=str,
             default=lambda _: UNSET, replaces=f"{model_path}.params",
             help="{int: [low, high]}, {float: [low, high], log: true} or {choice: [a, b, …]}")
    if isinstance(state.get_in(config(), path), dict):
        form.fields(SearchSpec, path, only=[n for n in SearchSpec.model_fields if n != "space"])
    form.problems(path)


def models_section(form: Form, task: Task | None) -> None:
    st.subheader("Models")
    form.problems("models")
    models = state.get_in(config(), "models", [])
    for i, model in enumerate(models if isinstance(models, list) else []):
        _model(form, i, model if isinstance(model, dict) else {}, task)
    pick, add = st.columns([4, 1], vertical_alignment="bottom")
    with pick:
        which = f"{task} estimators" if task else "all estimators (set the task or the target to filter)"
        st.selectbox("estimator to add", state.estimator_names(task), index=None, key="new:estimator",
                     placeholder=f"choose from {which}")
    with add:
        st.button("Add model", key="new:add", icon=":material/add:", on_click=_add_model)


def metrics_section(form: Form, task: Task | None) -> None:
    st.subheader("Metrics")
    names = measures.for_task(task) if task else list(measures.CATALOG)
    primary, others = measures.DEFAULTS[task] if task else (None, [])
    left, right = st.columns(2)
    with left:
        form.choice("metrics.primary", "primary", [None, *names], default=None, help="Ranks the leaderboard.",
                    describe=lambda n: n or f"the task's default{f' ({primary})' if primary else ''}")
    with right:
        form.many("metrics.others", "others", names, help="Also reported. Empty: the task's defaults.",
                  placeholder=f"default: {', '.join(others)}" if others else "the task's defaults")


_DRAWN_APART = ("experiment", "dataset", "models", "metrics", "kfp")


def settings_section(form: Form) -> None:
    """Every other top-level field of the schema, two to a row: split, storage, runtime, and any
    section ``spec.py`` gains later, with no change here."""
    st.subheader("Split, storage, runtime and more")
    names = [n for n in Experiment.model_fields if n not in _DRAWN_APART]
    for row in range(0, len(names), 2):
        for column, name in zip(st.columns(2), names[row:row + 2]):
            with column:
                _setting(form, name)


def _setting(form: Form, name: str) -> None:
    field = Experiment.model_fields[name]
    key = field.alias or name
    section = field.annotation
    if isinstance(section, type) and issubclass(section, BaseModel):
        st.markdown(f"**{key}**")
        form.fields(section, key)
        form.problems(key)
    else:
        form.fields(Experiment, "", only=(name,))
    if key == "storage":
        st.caption(_credentials_note())


def _credentials_note() -> str:
    """Whether the S3 variables are set, never their values."""
    import os

    from bakeoff.storage import ACCESS_KEY, ENDPOINT, SECRET_KEY

    def state(name: str) -> str:
        return "set" if os.environ.get(name) else "not set"

    status = ", ".join(f"`{e.aws}` {state(e.aws)} (`{e.own}` {state(e.own)})" for e in (ENDPOINT, ACCESS_KEY, SECRET_KEY))
    return f"S3 settings come from the environment only: {status}."

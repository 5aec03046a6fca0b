"""Widgets bound to a field path of the session's config, each showing its own problems.

Binding goes both ways through the config. Before a widget renders, its session-state value is set
from the config, so the form always shows what the config (and so the YAML tab) says. When the
user changes it, its callback writes the value back into the config, before the script reruns.
The config is therefore the only state, and the form and the YAML cannot drift apart.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from bakeoff.ui.state import Checked, delete_in, get_in, parse_value, set_in, to_yaml, value_text

CFG = "cfg"
SOURCE = "source"  # the YAML text the config was read from, whose comments and layout saving keeps
YAML_PROBLEM = "yaml_problem"  # a pasted YAML that could not be read; the form keeps the last good one


class _Unset:
    """A field left out of the config, so the schema's default applies."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


_MARKDOWN = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>$#|~"})


def markdown_text(text: str) -> str:
    """Text shown literally where Streamlit renders Markdown: a message quoting ``a_b`` or ``$x``
    must not turn into italics or LaTeX."""
    return text.translate(_MARKDOWN)


def config() -> dict[str, Any]:
    return st.session_state[CFG]


def config_text() -> str:
    """The config as YAML, in the text it was read from (``state.to_yaml``)."""
    return to_yaml(config(), st.session_state.get(SOURCE, ""))


def replace_config(cfg: dict[str, Any], source: str = "") -> None:
    """Swap the whole config (YAML pasted, example or file opened), with the text it was read
    from; every widget follows."""
    st.session_state[CFG] = cfg
    st.session_state[SOURCE] = source
    st.session_state.pop(YAML_PROBLEM, None)


def update(path: str, value: Any) -> None:
    """Set or, with ``UNSET``, remove one field. A form edit also drops a YAML draft that could
    not be read, since the YAML tab shows the config again from now on."""
    if value is UNSET:
        delete_in(config(), path)
    else:
        set_in(config(), path, value)
    st.session_state.pop(YAML_PROBLEM, None)


def _commit(path: str, key: str, convert: Callable[[Any], Any]) -> None:
    update(path, convert(st.session_state[key]))


def _text_value(text: str | None) -> Any:
    return text.strip() if text and text.strip() else UNSET


def _yaml_value(text: str | None) -> Any:
    return parse_value(text) if text and text.strip() else UNSET


def _literal_options(annotation: Any) -> list[Any]:
    return list(typing.get_args(annotation)) if typing.get_origin(annotation) is typing.Literal else []


def _default(field: Any) -> Any:
    """A field's default as YAML would write it, or ``UNSET`` for a required field."""
    default = field.get_default(call_default_factory=True)
    if default is PydanticUndefined:
        return UNSET
    return default.model_dump(mode="json", exclude_none=True) if isinstance(default, BaseModel) else default


class Form:
    """Widget factory over the config: every widget is keyed and judged by its field path."""

    def __init__(self, checked: Checked) -> None:
        self.checked = checked

    def _bind(self, kind: str, path: str, shown: Any) -> str:
        key = f"{kind}:{path}"
        st.session_state[key] = shown
        return key

    def problems(self, path: str, *, nested: bool = False) -> None:
        """The schema's messages for ``path``, right where the field is."""
        for message in self.checked.at(path, nested=nested):
            st.error(markdown_text(message), icon=":material/error:")

    def text(self, path: str, label: str, *, help: str | None = None, placeholder: str | None = None) -> None:
        """A string field; emptied, it is removed, so a required one says so."""
        value = get_in(config(), path)
        key = self._bind("text", path, "" if value is None else str(value))
        st.text_input(label, key=key, help=help, placeholder=placeholder,
                      on_change=_commit, args=(path, key, _text_value))
        self.problems(path)

    def value(self, path: str, label: str, *, default: Any = UNSET, help: str | None = None,
              nested: bool = False) -> None:
        """Any field, typed as YAML (``0.3``, ``null``, ``[a, b]``); emptied, it falls back to the default."""
        value = get_in(config(), path, UNSET)
        key = self._bind("yaml", path, "" if value is UNSET else value_text(value))
        placeholder = ("required" if default is UNSET else "not set" if default is None
                       else f"default: {value_text(default)}")
        st.text_input(label, key=key, help=help, placeholder=placeholder,
                      on_change=_commit, args=(path, key, _yaml_value))
        self.problems(path, nested=nested)

    def choice(self, path: str, label: str, options: Sequence[Any], *, default: Any = UNSET,
               help: str | None = None, describe: Callable[[Any], str] = str) -> None:
        """One of ``options``. Picking the default removes the field; a value the options lack
        (from pasted YAML) is still shown, and the schema says what is wrong with it."""
        current = get_in(config(), path, default)
        choices = [*options, *([current] if current not in options and current is not UNSET else [])]
        key = self._bind("choice", path, current if current is not UNSET else None)

        def convert(picked: Any) -> Any:
            return UNSET if picked is None or picked == default else picked

        def shown(v: Any) -> str:
            return f"{describe(v)} (default)" if v == default and v is not None else describe(v)

        st.selectbox(label, choices, key=key, help=help, placeholder="choose one",
                     format_func=shown,
                     on_change=_commit, args=(path, key, convert))
        self.problems(path, nested=True)

    def many(self, path: str, label: str, options: Sequence[str], *, help: str | None = None,
             placeholder: str | None = None) -> None:
        """A list picked from ``options``; emptied, it is removed (the schema's default applies)."""
        current = get_in(config(), path)
        current = [str(v) for v in current] if isinstance(current, list) else []
        choices = [*options, *(v for v in current if v not in options)]
        key = self._bind("many", path, current)
        st.multiselect(label, choices, key=key, help=help, placeholder=placeholder or "none",
                       on_change=_commit, args=(path, key, lambda picked: list(picked) or UNSET))
        self.problems(path, nested=True)

    def fields(self, model: type[BaseModel], prefix: str, *, only: Sequence[str] | None = None) -> None:
        """Every field of a schema model, each with the widget its type calls for.

        This is what keeps the schema the single source of truth: a field added to ``spec.py``
        shows up here with its description and default, with no change to the app.
        """
        for attribute, field in model.model_fields.items():
            if only is not None and attribute not in only:
                continue
            name = field.alias or attribute  # the key YAML uses, and so the schema's error paths
            path = f"{prefix}.{name}" if prefix else name
            options = _literal_options(field.annotation)
            if options:
                self.choice(path, name, options, default=_default(field), help=field.description)
            elif field.annotation is str:
                default = _default(field)
                self.text(path, name, help=field.description,
                          placeholder=None if default is UNSET else f"default: {default}")
            else:
                self.value(path, name, default=_default(field), help=field.description, nested=True)

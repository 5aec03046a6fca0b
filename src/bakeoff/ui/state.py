"""The form's model: one plain config mapping, edited by field path, validated by the schema.

The app keeps the config as YAML would hold it, in one dict. Widgets read and write it by field
path, the same ``models[1].params.alpha`` paths that the schema's errors name. The YAML tab dumps
and loads it, and validation is ``spec.parse_experiment`` on it. So the schema stays the only
judge, and an error finds its widget by its path alone. Nothing here imports Streamlit, so all of
it is unit-tested without a browser.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bakeoff import catalog
from bakeoff.errors import UserError
from bakeoff.spec import Experiment, absolute_uri, load_yaml, parse_experiment, task_problems
from bakeoff.storage import is_local, local_path
from bakeoff.ui import roundtrip

Key = str | int
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")

# What the form starts from when the app opens without a config: the fields the schema requires.
STARTER: dict[str, Any] = {"experiment": "my-bakeoff", "dataset": {"uri": "", "target": ""}, "models": []}


def parse_path(path: str) -> tuple[Key, ...]:
    """``models[1].params.alpha`` -> ``("models", 1, "params", "alpha")``, as pydantic's ``loc``."""
    return tuple(int(index) if index else name for name, index in _PART.findall(path))


def get_in(cfg: Any, path: str, default: Any = None) -> Any:
    """The value at ``path``, or ``default`` when any step is missing or of the wrong type.

    A pasted YAML may hold anything; the form must still render, so a bad shape reads as missing
    and the schema's error names it.
    """
    node = cfg
    for part in parse_path(path):
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
        elif isinstance(part, str) and isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return default
    return node


def set_in(cfg: dict[str, Any], path: str, value: Any) -> None:
    """Set ``path``, creating the mappings on the way (list items must exist already)."""
    *parents, last = parse_path(path)
    node: Any = cfg
    for part, following in zip(parents, [*parents[1:], last]):
        if isinstance(part, int):
            node = node[part]
            continue
        if not isinstance(node.get(part), (dict, list)):
            node[part] = [] if isinstance(following, int) else {}
        node = node[part]
    node[last] = value


def delete_in(cfg: dict[str, Any], path: str) -> None:
    """Remove ``path`` (a key or a list item), then the mappings it leaves empty.

    Unset means "the schema's default", so a cleared field disappears from the YAML instead of
    turning into ``null`` or ``{}``.
    """
    parts = parse_path(path)
    for depth in range(len(parts), 0, -1):
        parent = get_in(cfg, _join(parts[:depth - 1])) if depth > 1 else cfg
        last = parts[depth - 1]
        if isinstance(parent, dict) and last in parent and (depth == len(parts) or parent[last] == {}):
            del parent[last]
        elif isinstance(parent, list) and isinstance(last, int) and last < len(parent) and depth == len(parts):
            del parent[last]
        else:
            return


def _join(parts: tuple[Key, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# -- YAML both ways ----------------------------------------------------------------------------

def to_yaml(cfg: dict[str, Any], source: str = "") -> str:
    """The config as the YAML tab shows it and Save writes it. With the ``source`` text it was
    read from, that text with only the edited values changed: comments, key order, layout and
    lines that restate a default stay the user's. Without one, in the form's order, the way a
    person writes it."""
    if source:
        return roundtrip.updated(source, cfg)
    return yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def from_yaml(text: str) -> dict[str, Any]:
    """A pasted config. Only its shape is checked here; the schema judges the rest, field by field."""
    data = load_yaml(text, "<yaml>")  # bad YAML: the same one-line message the CLI gives
    if not isinstance(data, dict):
        raise UserError("<yaml>: expected a mapping of fields such as `experiment:` and `models:`")
    return data


def plain(value: Any) -> Any:
    """A value YAML can hold: numpy scalars become Python numbers, tuples become lists."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        return value.item()
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return value


def value_text(value: Any) -> str:
    """One value as a text box shows it: YAML flow style: ``0.1``, ``l2``, ``[1, 2]``, ``null``."""
    return yaml.safe_dump(plain(value), default_flow_style=True, width=10_000).removesuffix("\n...\n").strip()


def parse_value(text: str) -> Any:
    """What a text box means: YAML, so ``10`` is an int and ``none`` a string; bad YAML stays text.

    ``yaml.safe_load`` builds plain data only, never objects, so a typed value cannot run code.
    """
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


# -- validation --------------------------------------------------------------------------------

def split_problem(line: str) -> tuple[str, str]:
    """``models[1].params.alpha: must be > 0`` -> (field path, message)."""
    path, sep, message = line.partition(":")
    return (path.strip(), message.strip()) if sep else ("<config>", line)


@dataclass(frozen=True)
class Checked:
    """The config judged by the schema, plus what the data says about it.

    ``experiment`` is set when the schema accepts the config, which is enough to save it;
    ``ok`` also needs the data to agree, which running needs.
    """

    experiment: Experiment | None
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.experiment is not None and not self.problems

    def at(self, path: str, *, nested: bool = False) -> list[str]:
        """Messages naming exactly ``path`` (or, with ``nested``, anything below it)."""
        found = []
        for line in self.problems:
            where, message = split_problem(line)
            if where == path or (nested and where.startswith((f"{path}.", f"{path}["))):
                found.append(message if where == path else f"{where.removeprefix(path).lstrip('.')}: {message}")
        return found


def check(cfg: dict[str, Any], task: catalog.Task | None = None, data_problems: tuple[str, ...] = ()) -> Checked:
    """Validate with the schema; with the task the data implies, also what prepare would reject.

    ``data_problems`` are what reading the dataset found (a missing target column, say); they
    are shown like schema errors, next to their field.
    """
    try:
        exp = parse_experiment(cfg)
    except UserError as exc:
        return Checked(None, exc.problems + data_problems)
    return Checked(exp, (tuple(task_problems(exp, task)) if task else ()) + data_problems)


# -- models ------------------------------------------------------------------------------------

def task_of(cfg: dict[str, Any], inferred: catalog.Task | None) -> catalog.Task | None:
    """The task that filters the estimator list: the config's, else the data's, else unknown."""
    task = get_in(cfg, "dataset.task")
    return task if task in ("classification", "regression") else inferred


def estimator_names(task: catalog.Task | None) -> list[str]:
    """Estimators the catalog offers for ``task`` (all of them when the task is unknown)."""
    return sorted(name for name, info in catalog.estimators().items() if task is None or info.task == task)


def param_defaults(estimator: str) -> dict[str, Any]:
    """Each parameter's default from the estimator's signature; empty for an unknown name."""
    info = catalog.estimators().get(estimator)
    return {name: plain(default) for name, default in info.params.items()} if info else {}


def model_name(estimator: str, taken: list[str]) -> str:
    """A schema-valid, unused name: ``RandomForestClassifier`` -> ``random-forest-classifier``."""
    base = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", estimator).lower()
    base = re.sub(r"[^a-z0-9-]+", "-", base).strip("-")[:36].strip("-") or "model"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def new_model(estimator: str, models: Any) -> dict[str, Any]:
    """A model section for ``estimator``, named so as not to clash with ``models``."""
    taken = [m.get("name") for m in models if isinstance(m, dict)] if isinstance(models, list) else []
    return {"name": model_name(estimator, taken), "estimator": estimator, "params": {}}


# -- paths -------------------------------------------------------------------------------------

def resolve_uri(uri: str, base: Path) -> str:
    """A dataset or store URI as the runner will read it: relative paths are next to the config."""
    return absolute_uri(uri, base)


_PATHS = ("dataset.uri", "storage")  # the config's fields that name local files or folders


def _with_paths(cfg: dict[str, Any], change: Callable[[str], str]) -> dict[str, Any]:
    out = copy.deepcopy(cfg)
    for path in _PATHS:
        if isinstance(uri := get_in(out, path), str):
            set_in(out, path, change(uri))
    return out


def anchored(cfg: dict[str, Any], base: Path) -> dict[str, Any]:
    """A copy of ``cfg`` whose data and store say where they are from anywhere: what a config
    saved away from ``base`` needs to still find them (``spec.anchored`` on the plain mapping)."""
    storage = {"storage": cfg.get("storage", Experiment.model_fields["storage"].default)}
    return _with_paths({**cfg, **storage}, lambda uri: absolute_uri(uri, base))


def relative(cfg: dict[str, Any], base: Path) -> dict[str, Any]:
    """A copy of ``cfg`` with local paths under ``base`` written relative to it, as a person
    writes them next to the config. A run stores its config anchored (its steps run elsewhere);
    reopened in the form, it should read as the user wrote it, not as the steps needed it."""
    root = base.resolve()

    def shorter(uri: str) -> str:
        if not is_local(uri) or not (path := local_path(uri)).is_absolute() or not path.is_relative_to(root):
            return uri
        return path.relative_to(root).as_posix()

    return _with_paths(cfg, shorter)

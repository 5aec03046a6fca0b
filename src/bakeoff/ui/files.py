"""What the app reads and writes: dataset previews, configs opened and saved, example projects.

Every read and write goes through the stores the steps use (``read_uri``, ``locate``), so a
path, a ``file://`` URI and an ``s3://`` URI behave in the app exactly as in a run. Credentials
stay in the environment, where the stores read them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from bakeoff.data import infer_schema, read_table
from bakeoff.records import Schema
from bakeoff.errors import UserError
from bakeoff.spec import DatasetSpec
from bakeoff.storage import is_local, local_path, locate, read_uri
from bakeoff.runs import Run
from bakeoff.ui.state import anchored, from_yaml, relative, resolve_uri, to_yaml

PREVIEW_ROWS = 20


@dataclass(frozen=True)
class Preview:
    """A dataset as read for the form: the columns to pick from and what prepare will infer."""

    uri: str
    frame: pd.DataFrame

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.frame.columns]

    def inspect(self, dataset: Any) -> tuple[Schema | None, tuple[str, ...]]:
        """The schema prepare would infer for this ``dataset:`` section, or why it cannot.

        A section the schema rejects gives no answer here: its errors are shown already.
        """
        try:
            spec = DatasetSpec.model_validate(dataset)
        except ValidationError:
            return None, ()
        try:
            return infer_schema(self.frame, spec), ()
        except UserError as exc:
            return None, exc.problems

    def types(self, schema: Schema | None, dataset: dict[str, Any]) -> pd.DataFrame:
        """Each column's pandas type and the role prepare gives it."""
        drop = dataset.get("drop") or []

        def role(column: str) -> str:
            if column == dataset.get("target"):
                return "target"
            if column in drop:
                return "dropped"
            if schema is None:
                return ""
            return "numeric" if column in schema.numeric else "categorical"

        return pd.DataFrame({"column": self.columns, "type": [str(t) for t in self.frame.dtypes],
                             "role": [role(c) for c in self.columns]})


def load_preview(uri: str, fmt: str, base: Path) -> Preview:
    """Read the whole table once (the task is inferred from all of the target's values)."""
    if not uri:
        raise UserError("dataset.uri: required; enter a path or an s3:// URI of a CSV or Parquet file")
    resolved = resolve_uri(uri, base)
    spec = DatasetSpec.model_construct(uri=resolved, format=fmt if fmt in ("csv", "parquet") else "auto")
    return Preview(resolved, read_table(read_uri(resolved), spec))


def open_config(uri: str, base: Path) -> tuple[dict[str, Any], str, Path]:
    """A config from a path or URI, its text, and the folder its relative paths mean from now on."""
    resolved = resolve_uri(uri, base)
    raw = read_uri(resolved, field="open a config")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{resolved}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    return from_yaml(text), text, (local_path(resolved).parent if is_local(resolved) else base)


def open_run_config(run: Run, base: Path) -> tuple[dict[str, Any], str]:
    """A past run's config for the form, and its text: its paths relative to ``base`` again
    where they are under it, and the folder relative paths mean stays ``base`` (not the run's)."""
    text = run.store.read_bytes(run.key("config.yaml")).decode("utf-8")
    return relative(from_yaml(text), base), text


def save_config(cfg: dict[str, Any], source: str, target: str, base: Path) -> str:
    """Write the config to a path or ``s3://`` URI, atomically, as ``source`` with only the edited
    values changed (``state.to_yaml``); return where it went.

    A local file saved away from ``base`` gets absolute paths, so that it still finds its data;
    an object keeps relative ones, which a KFP run reads next to the config.
    """
    resolved = resolve_uri(target.strip(), base)
    try:
        store, name = locate(resolved, field="save")
    except UserError:
        store, name = None, ""
    if store is None or not name or resolved.endswith("/"):
        raise UserError(f"save: {target!r} names no file; use a path such as bakeoff.yaml or s3://BUCKET/KEY.yaml")
    if is_local(resolved) and local_path(resolved).parent != base.resolve():
        cfg = anchored(cfg, base)
    store.write_bytes(name, to_yaml(cfg, source).encode("utf-8"))
    return store.uri(name)


def examples_dir() -> Path:
    """Where example data is written: the user's cache, so starting from one never overwrites
    a ``bakeoff.yaml`` or ``data/`` of the folder the app runs in."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "bakeoff" / "examples"


def example_config(name: str) -> tuple[dict[str, Any], str]:
    """A bundled example as a form config, its data written to the cache and named absolutely,
    and its text, comments included."""
    from bakeoff.examples import config_text, write_example

    _, data = write_example(name, examples_dir() / name, force=True)
    text = config_text(name)
    cfg = from_yaml(text)
    cfg["dataset"]["uri"] = str(data.resolve())
    return cfg, text

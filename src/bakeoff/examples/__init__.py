"""Example bake-offs on real datasets that ship inside scikit-learn (no download needed)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import pandas as pd

from bakeoff.errors import UserError


def _breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    ds = load_breast_cancer(as_frame=True)
    frame = ds.data.copy()
    frame["diagnosis"] = ds.target.map(dict(enumerate(ds.target_names)))
    return frame


def _wine() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    ds = load_wine(as_frame=True)
    frame = ds.data.copy()
    frame["cultivar"] = ds.target.map(dict(enumerate(ds.target_names)))
    return frame


def _diabetes() -> pd.DataFrame:
    from sklearn.datasets import load_diabetes

    ds = load_diabetes(as_frame=True, scaled=False)
    frame = ds.data.copy()
    frame["progression"] = ds.target
    return frame


EXAMPLES: dict[str, Callable[[], pd.DataFrame]] = {
    "breast-cancer": _breast_cancer,
    "wine": _wine,
    "diabetes": _diabetes,
}


def config_text(name: str) -> str:
    return files("bakeoff.examples").joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def write_example(name: str, directory: Path, *, force: bool = False) -> tuple[Path, Path]:
    """Write ``bakeoff.yaml`` and ``data/<name>.csv``; refuse to overwrite unless forced."""
    if name not in EXAMPLES:
        from bakeoff.errors import did_you_mean

        raise UserError(f"--example: unknown example {name!r}{did_you_mean(name, EXAMPLES)}; "
                        f"choose from {', '.join(EXAMPLES)}")
    config, data = directory / "bakeoff.yaml", directory / "data" / f"{name}.csv"
    existing = [p for p in (config, data) if p.exists()]
    if existing and not force:
        raise UserError(f"{existing[0]}: already exists; pass --force to overwrite it")
    data.parent.mkdir(parents=True, exist_ok=True)
    EXAMPLES[name]().to_csv(data, index=False)
    config.write_text(config_text(name), encoding="utf-8")
    return config, data

"""The estimator catalog: an allowlist that resolves a name without importing all of sklearn."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sklearn

from bakeoff import catalog
from bakeoff.errors import UserError


def python(code: str, cache: Path) -> str:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_warm_index_resolves_one_estimator_without_importing_the_rest(tmp_path: Path) -> None:
    python("from bakeoff import catalog; catalog.names()", tmp_path)  # builds the index
    assert (tmp_path / "bakeoff" / f"estimators-v{catalog.INDEX_LAYOUT}-sklearn-{sklearn.__version__}.json").is_file()
    out = python("import sys; from bakeoff import catalog; info = catalog.resolve('Ridge'); "
                 "print(info.cls.__name__, info.task, 'sklearn.ensemble._forest' in sys.modules)", tmp_path)
    assert out == "Ridge regression False"


def test_a_corrupt_index_is_rebuilt(tmp_path: Path) -> None:
    index = tmp_path / "bakeoff" / f"estimators-v{catalog.INDEX_LAYOUT}-sklearn-{sklearn.__version__}.json"
    index.parent.mkdir(parents=True)
    index.write_text("{not json")
    assert python("from bakeoff import catalog; print(catalog.resolve('SVC').task)", tmp_path) == "classification"
    assert "RandomForestRegressor" in json.loads(index.read_text())


def test_an_index_entry_outside_sklearn_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog, "_sklearn_index", lambda: {"Evil": {"module": "os", "class": "system", "task": "regression"}})
    with pytest.raises(RuntimeError, match="points outside scikit-learn"):
        catalog.resolve("Evil")


def test_names_cover_both_tasks_and_leave_out_meta_estimators() -> None:
    names = catalog.names()
    assert names["LogisticRegression"] == "classification" and names["Ridge"] == "regression"
    assert "StackingClassifier" not in names and "VotingRegressor" not in names
    with pytest.raises(UserError, match="did you mean LogisticRegression"):
        catalog.resolve("LogisticRegresion")


def test_plugins_are_in_the_catalog(plugin_env: dict[str, str], tmp_path: Path) -> None:
    code = "from bakeoff import catalog; print(catalog.names()['SleepyClassifier'], catalog.resolve('SleepyClassifier').cls.__module__)"
    env = {**os.environ, **plugin_env, "XDG_CACHE_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["classification", "bakeoff_test_plugins"]

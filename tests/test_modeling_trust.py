"""What a skops file may build when loaded (issue 13, item 2): types of scikit-learn, numpy,
scipy and registered plugins, and nothing from a module that merely starts with those names."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeClassifier

from bakeoff.errors import UserError
from bakeoff.modeling import dumps, loads

IMPOSTOR = '''
from pathlib import Path
Path(__file__).with_name("imported").write_text("code ran at load")

class Payload:
    def fit(self, X, y):
        return self
'''


@pytest.mark.parametrize("module", ["numpyevil", "sklearnx", "scipy_"])
def test_a_module_named_like_a_trusted_package_is_refused(module: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / f"{module}.py").write_text(IMPOSTOR)
    monkeypatch.syspath_prepend(str(tmp_path))
    payload = __import__(module).Payload()
    data = dumps(Pipeline([("model", payload)]))
    (tmp_path / "imported").unlink()
    monkeypatch.delitem(sys.modules, module)

    with pytest.raises(UserError, match=rf"^model.skops: refusing to load untrusted types \['{module}.Payload'\]"):
        loads(data)
    assert not (tmp_path / "imported").exists(), "the impostor module was imported"


def test_a_real_pipeline_still_loads() -> None:
    X, y = load_iris(return_X_y=True)
    fitted = Pipeline([("model", DecisionTreeClassifier(random_state=0))]).fit(X, y)
    assert (loads(dumps(fitted)).predict(X) == fitted.predict(X)).all()

"""Frozen constraints give scikit-learn's own verdict, word for word, for every estimator in the
catalog and every kind of value a YAML file can hold, and validation imports no estimator."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

from bakeoff import catalog, constraints

# Every kind YAML produces, on both sides of the usual bounds, and strings sklearn does and
# does not know.
PROBES = (-1, 0, 1, 2, 3, 10**6, -0.5, 0.0, 0.5, 1.0, 1.5, math.inf, math.nan, True, False, None,
          "auto", "sqrt", "l2", "lbfgs", "balanced", "squared_error", "best", "bogus", [1, 2], {"a": 1})


def _unordered(message: object) -> object:
    """sklearn lists a set's options in hash order, which differs between processes."""
    if not isinstance(message, str):
        return message
    return re.sub(r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", message)


def _sklearn_verdict(cls: type, param: str, value: object) -> str | None:
    try:
        cls(**{param: value})._validate_params()
    except (ValueError, TypeError) as exc:
        return str(exc)
    return None


def test_frozen_verdicts_are_sklearns_for_every_estimator_and_kind_of_value() -> None:
    decided = unsure = 0
    mismatches = []
    for name in catalog.names():
        facts = catalog.facts(name)
        if facts.constraints is None:
            continue  # a plugin
        cls = catalog.resolve(name).cls
        for param in facts.constraints:
            for value in PROBES:
                frozen = constraints.violation(name, facts.constraints, {param: value})
                if frozen is constraints.UNSURE:
                    unsure += 1
                    continue
                decided += 1
                if _unordered(frozen) != _unordered(_sklearn_verdict(cls, param, value)):
                    mismatches.append(f"{name}.{param}={value!r}: {frozen!r}")
    assert mismatches == []
    assert decided > 20 * unsure, (decided, unsure)  # the frozen form decides nearly everything


def test_validation_imports_no_estimator_and_still_reports_sklearns_words(tmp_path: Path) -> None:
    config = tmp_path / "bakeoff.yaml"
    config.write_text("experiment: x\ndataset: {uri: d.csv, target: y}\nmodels:\n"
                      "  - {name: a, estimator: LogisticRegression, params: {C: -1}}\n"
                      "  - {name: b, estimator: RandomForestClassifier, params: {max_features: bogus}}\n")
    code = ("import sys\nfrom bakeoff.spec import load_config\nfrom bakeoff.errors import UserError\n"
            f"try:\n    load_config({str(config)!r})\nexcept UserError as e:\n    print(*e.problems, sep='\\n')\n"
            "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(('sklearn', 'scipy', 'pandas'))}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ}).stdout.splitlines()
    assert out[0] == ("models[0].params.C: The 'C' parameter of LogisticRegression must be a float in the "
                      "range (0.0, inf]. Got -1 instead.")
    assert out[1].startswith("models[1].params.max_features: The 'max_features' parameter of "
                             "RandomForestClassifier must be an int in the range [1, inf), a float in the range "
                             "(0.0, 1.0], a str among {")
    assert out[-1] == "[]"

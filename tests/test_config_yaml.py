"""Hostile configs: alias bombs, duplicate keys, huge files and huge values each end in one short
line and exit 2, quickly (issue 13, items 1 and 10)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from bakeoff import yamlfile
from bakeoff.errors import UserError
from bakeoff.spec import parse_experiment, parse_yaml
from conftest import bakeoff

GOOD = """\
experiment: iris
dataset: {uri: iris.csv, target: species}
models:
  - {name: tree, estimator: DecisionTreeClassifier}
"""


def alias_bomb(depth: int = 10, width: int = 10) -> str:
    """The issue's 831-byte config: aliases nested ``depth`` deep, ``width`` wide."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, depth):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return GOOD.replace("models:", "params_bomb:\n  " + "\n  ".join(lines) + "\nmodels:")


def error_of(text: str) -> str:
    with pytest.raises(UserError) as info:
        parse_yaml(text, "cfg.yaml")
    assert len(info.value.problems) == 1
    return info.value.problems[0]


def test_an_alias_bomb_is_refused_in_one_line_quickly() -> None:
    start = time.perf_counter()
    line = error_of(alias_bomb())
    assert time.perf_counter() - start < 2
    assert line == ("cfg.yaml: YAML aliases expand to more than 100,000 values; "
                    "write the repeated parts out or use fewer aliases")


def test_a_few_aliases_are_still_fine() -> None:
    text = GOOD.replace("models:\n  - {name: tree, estimator: DecisionTreeClassifier}",
                        "models:\n  - &m {name: tree, estimator: DecisionTreeClassifier}\n"
                        "  - {<<: *m, name: tree-b}")
    assert parse_yaml(text).model_names == ["tree", "tree-b"]


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    assert error_of("experiment: x\nloop: &a [1, *a]\n") == (
        "cfg.yaml: line 2: a YAML alias refers to the value that contains it, which never ends; "
        "write the value out")


def test_a_duplicate_key_names_the_key_and_both_lines() -> None:
    text = GOOD + "dataset: {uri: other.csv, target: y}\n"
    assert error_of(text) == ("cfg.yaml: line 5: key 'dataset' is written twice in one mapping "
                              "(first on line 2); keep one")


def test_a_duplicate_key_inside_a_model_is_refused() -> None:
    text = GOOD.replace("{name: tree, estimator: DecisionTreeClassifier}",
                        "{name: tree, estimator: DecisionTreeClassifier, name: other}")
    assert "key 'name' is written twice" in error_of(text)


def test_a_merge_key_may_be_overridden() -> None:
    data = yamlfile.load_yaml("base: &b {a: 1, b: 2}\nx: {<<: *b, a: 3}\n")
    assert data["x"] == {"a": 3, "b": 2}


def test_a_config_over_the_size_limit_is_refused_before_parsing() -> None:
    text = GOOD + "# " + "x" * yamlfile.MAX_CONFIG_BYTES + "\n"
    start = time.perf_counter()
    line = error_of(text)
    assert time.perf_counter() - start < 1
    assert line.startswith("cfg.yaml: 1,000,") and "too big for a config (limit 1,000,000)" in line


def test_deep_nesting_is_one_line() -> None:
    assert error_of("a: " + "[" * 5000 + "]" * 5000 + "\n") == (
        "cfg.yaml: the YAML nests too deep to read; flatten it")


BASE = {"experiment": "iris", "dataset": {"uri": "iris.csv", "target": "species"},
        "models": [{"name": "tree", "estimator": "DecisionTreeClassifier"}]}
HUGE = "v" * 100_000


@pytest.mark.parametrize(("change", "field"), [
    ({"experiment": HUGE}, "experiment"),  # a pattern mismatch echoes the value
    ({"split": {"test_size": HUGE}}, "split.test_size"),  # pydantic's "got …"
    ({"models": [{"name": "tree", "estimator": "DecisionTreeClassifier",
                  "params": {"max_depth": [1] * 50_000}}]}, "models[0].params.max_depth"),  # sklearn's
    ({"metrics": {"primary": HUGE}}, "metrics.primary"),
    ({"dataset": {"uri": "x.csv", "target": "species", HUGE: 1}}, "dataset.vvvv"),  # an unknown key
])
def test_an_error_never_echoes_more_than_a_short_cut_value(change: dict, field: str) -> None:
    with pytest.raises(UserError) as info:
        parse_experiment({**BASE, **change})
    (line,) = info.value.problems
    assert line.startswith(field)
    assert len(line) < 400 and "more characters)" in line


def test_cli_validate_of_the_alias_bomb_exits_2_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bakeoff.yaml"
    config.write_text(alias_bomb())
    assert len(config.read_bytes()) < 1000
    result = bakeoff("validate", str(config), timeout=60)
    assert result.code == 2
    assert result.stderr.strip().count("\n") == 0 and "YAML aliases expand" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout

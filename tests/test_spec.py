"""Config validation: every problem names its field path and the fix; the CLI exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bakeoff.errors import UserError
from bakeoff.examples import EXAMPLES, config_text, write_example
from bakeoff.spec import json_schema, parse_experiment, parse_yaml
from conftest import bakeoff

BASE = {
    "experiment": "diamonds-price",
    "dataset": {"uri": "data/diamonds.csv", "target": "price"},
    "models": [{"name": "ridge", "estimator": "Ridge", "params": {"alpha": 1.0}},
               {"name": "forest", "estimator": "RandomForestRegressor", "params": {"n_estimators": 10}}],
}


def problems(data: dict) -> list[str]:
    with pytest.raises(UserError) as info:
        parse_experiment(data)
    return list(info.value.problems)


def with_model(**changes: object) -> dict:
    data = json.loads(json.dumps(BASE))
    data["models"][1].update(changes)
    return data


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_example_config_is_valid(name: str) -> None:
    exp = parse_yaml(config_text(name))
    assert exp.experiment == name and len(exp.models) >= 3


def test_the_issue_example_error_is_word_for_word() -> None:
    assert problems(with_model(params={"n_estimatorz": 200})) == [
        "models[1].params.n_estimatorz: unknown parameter of RandomForestRegressor (did you mean n_estimators?)"
    ]


@pytest.mark.parametrize(("data", "expected"), [
    (with_model(estimator="RandomForestRegresor"),
     "models[1].estimator: unknown estimator 'RandomForestRegresor' (did you mean RandomForestRegressor?)"),
    (with_model(params={"n_estimators": -3}),
     "models[1].params.n_estimators: The 'n_estimators' parameter of RandomForestRegressor must be"),
    (with_model(name="Forest"), "models[1].name: 'Forest' is not allowed; use lowercase letters"),
    ({**BASE, "models": [{"name": "self", "estimator": "SelfTrainingClassifier"}]},  # judged by the class
     "models[0].params: The 'estimator' parameter of SelfTrainingClassifier must be an object"),
    (with_model(name="ridge"), "models[1].name: 'ridge' is used twice"),
    ({**BASE, "experiment": "Bad Name"}, "experiment: 'Bad Name' is not allowed"),
    ({**BASE, "dataset": {"uri": "x.csv"}}, "dataset.target: required field is missing"),
    ({**BASE, "dataset": {"uri": "x.csv", "target": "y", "tsk": "auto"}},
     "dataset.tsk: unknown field (did you mean task?)"),
    ({**BASE, "split": {"test_size": 0.5, "valid_size": 0.45}}, "split: test_size + valid_size is 0.95"),
    ({**BASE, "split": {"test_size": 1.5}}, "split.test_size: Input should be less than 1"),
    ({**BASE, "metrics": {"primary": "rmsee"}}, "metrics.primary: unknown metric 'rmsee' (did you mean rmse?)"),
    ({**BASE, "dataset": {**BASE["dataset"], "task": "classification"}},
     "models[0].estimator: Ridge is a regressor but the task is classification"),
    ({**BASE, "dataset": {**BASE["dataset"], "task": "regression"}, "metrics": {"primary": "roc_auc"}},
     "metrics.primary: roc_auc is not a regression metric"),
    ({**BASE, "dataset": {**BASE["dataset"], "drop": ["price"]}}, "dataset.drop: it lists the target"),
    ({**BASE, "models": []}, "models: List should have at least 1 item"),
    ({**BASE, "runtime": {"parallel": 0}}, "runtime.parallel: Input should be greater than or equal to 1"),
    ({**BASE, "storage": "gs://bucket/x"}, "storage: unsupported scheme 'gs'"),
    ({**BASE, "tracking": {"mlflow_uri": "http://me:hunter2@127.0.0.1:5000"}},
     "tracking.mlflow_uri: it holds a password; remove it and set MLFLOW_TRACKING_USERNAME"),
])
def test_problem_names_the_field_and_the_fix(data: dict, expected: str) -> None:
    found = problems(data)
    assert any(p.startswith(expected) for p in found), found


def test_all_problems_are_reported_at_once() -> None:
    data = with_model(estimator="RandomForestRegresor")
    data["models"][0]["params"] = {"alpha": -1}
    data["metrics"] = {"others": ["maee"]}
    found = problems(data)
    assert [p.split(":")[0] for p in found] == ["models[0].params.alpha", "models[1].estimator", "metrics.others[0]"]


def test_a_broken_section_does_not_hide_the_problems_of_the_rest() -> None:
    data = {**BASE, "split": {"test_size": 1.5}, "metrics": {"primary": "rmsee"},
            "models": [{"name": "Knn", "estimator": "KNeighborsRegressor", "params": {"n_neighbors": 2}},
                       {"name": "knn", "estimator": "KNeighborsRegressor", "params": {"n_neighbors": -3},
                        "search": {"space": {"leaf_size": {"int": [9, 3]}}}},
                       {"name": "ridge", "estimator": "Ridge", "params": {"alpha": -1, "solver": "fast"}}]}
    assert [p.split(":")[0] for p in problems(data)] == [
        "split.test_size", "models[0].name", "models[1].search",  # the schema's, then the rest's
        "models[1].params.n_neighbors", "models[2].params.alpha", "models[2].params.solver", "metrics.primary"]


def test_a_refused_secret_is_not_repeated_in_the_error() -> None:
    found = problems({**BASE, "tracking": {"mlflow_uri": "http://me:hunter2@127.0.0.1:5000"}})
    assert found and not any("hunter2" in p for p in found)


def test_a_dotted_path_is_never_imported() -> None:
    found = problems(with_model(estimator="os.system"))
    assert found[0].startswith("models[1].estimator: unknown estimator 'os.system'")


def test_meta_estimators_needing_objects_are_not_in_the_catalog() -> None:
    assert problems(with_model(estimator="StackingRegressor"))[0].startswith("models[1].estimator: unknown")


def test_yaml_syntax_error_names_the_line() -> None:
    with pytest.raises(UserError, match=r"^cfg.yaml: line 2: not valid YAML"):
        parse_yaml("experiment: x\nmodels: a: b\n", "cfg.yaml")


def test_schema_lists_estimators_and_metrics() -> None:
    schema = json_schema()
    estimator = schema["$defs"]["ModelSpec"]["properties"]["estimator"]
    assert "RandomForestRegressor" in estimator["enum"] and "StackingRegressor" not in estimator["enum"]
    assert "rmse" in schema["$defs"]["MetricsSpec"]["properties"]["primary"]["anyOf"][0]["enum"]
    assert set(schema["required"]) == {"experiment", "dataset", "models"}


# -- through the CLI, as a user sees it ----------------------------------------------------------

def test_cli_validate_bad_config_is_one_line_exit_2_no_traceback(tmp_path: Path) -> None:
    config = tmp_path / "bakeoff.yaml"
    config.write_text(yaml.safe_dump(with_model(params={"n_estimatorz": 200})))
    result = bakeoff("validate", "--offline", str(config))  # its data file does not exist either
    assert result.code == 2
    assert result.stderr == ("error: models[1].params.n_estimatorz: unknown parameter of "
                             "RandomForestRegressor (did you mean n_estimators?)\n")


def test_cli_validate_reports_every_problem_at_once(tmp_path: Path) -> None:
    config, _ = write_example("breast-cancer", tmp_path)
    text = config.read_text()
    for before, after in [("test_size: 0.25", "test_size: 1.5"), ("n_neighbors: 7", "n_neighbors: -3"),
                          ("target: diagnosis", "target: diagnosys")]:
        assert before in text
        text = text.replace(before, after)
    config.write_text(text)
    result = bakeoff("validate", str(config))
    assert result.code == 2 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert [line.split(":")[1].strip() for line in lines] == [
        "split.test_size", "models[3].params.n_neighbors", "dataset.target"], lines
    assert "Input should be less than 1 (got 1.5)" in lines[0]
    assert "'n_neighbors' parameter of KNeighborsClassifier must be" in lines[1]
    assert "(did you mean diagnosis?)" in lines[2]


def test_cli_run_bad_config_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / "bakeoff.yaml"
    config.write_text(yaml.safe_dump({**with_model(estimator="Nope"), "storage": str(tmp_path / "store")}))
    result = bakeoff("run", str(config), cwd=tmp_path)
    assert result.code == 2 and "Traceback" not in result.stderr
    assert not (tmp_path / "store").exists()


def test_cli_missing_config_file(tmp_path: Path) -> None:
    result = bakeoff("run", str(tmp_path / "nope.yaml"))
    assert result.code == 2
    assert result.stderr.startswith("error: ") and "bakeoff init" in result.stderr


def test_cli_validate_ok_and_schema(project) -> None:  # noqa: ANN001
    config = project("wine")
    ok = bakeoff("validate", str(config))
    assert ok.code == 0 and "4 models" in ok.stdout
    schema = bakeoff("schema")
    assert schema.code == 0 and json.loads(schema.stdout)["title"] == "bakeoff experiment"


def test_cli_init_refuses_to_overwrite(project) -> None:  # noqa: ANN001
    config = project("diabetes")
    again = bakeoff("init", "--example", "diabetes", "--dir", str(config.parent))
    assert again.code == 2 and "--force" in again.stderr


def test_cli_help_teaches() -> None:
    result = bakeoff("--help")
    assert result.code == 0
    for command in ("init", "run", "validate", "schema", "step", "report", "runs"):
        assert command in result.stdout
    assert "bakeoff init --example breast-cancer" in result.stdout

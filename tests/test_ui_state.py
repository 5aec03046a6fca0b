"""The app's form model without Streamlit: field paths, YAML both ways, and schema errors mapped
to the field they name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bakeoff.errors import UserError
from bakeoff.examples import config_text
from bakeoff.spec import parse_yaml
from bakeoff.ui import state


def example(name: str = "breast-cancer") -> dict:
    return yaml.safe_load(config_text(name))


def test_paths_read_write_and_delete_like_the_schema_names_them() -> None:
    cfg = example()
    assert state.parse_path("models[1].params.n_estimators") == ("models", 1, "params", "n_estimators")
    assert state.get_in(cfg, "models[1].params.n_estimators") == 300
    assert state.get_in(cfg, "models[9].name", "none") == "none"
    assert state.get_in({"models": "not a list"}, "models[0].name") is None  # pasted nonsense still renders
    state.set_in(cfg, "models[3].params.weights", "distance")
    state.set_in(cfg, "runtime.parallel", 2)
    assert cfg["models"][3]["params"] == {"n_neighbors": 7, "weights": "distance"}
    assert cfg["runtime"] == {"parallel": 2}
    state.delete_in(cfg, "runtime.parallel")  # unset means "the default": no empty mapping left behind
    assert "runtime" not in cfg
    state.delete_in(cfg, "models[1]")
    assert [m["name"] for m in cfg["models"]] == ["logistic", "boosting", "knn"]


def test_values_are_yaml_both_ways_and_never_objects() -> None:
    for value in (0.1, 2000, "l2", None, True, [1, 2], {"a": 1}, "1.0"):
        assert state.parse_value(state.value_text(value)) == value
    assert state.parse_value("[1,") == "[1,"  # bad YAML stays text; the schema says what is wrong
    assert state.parse_value("!!python/object/apply:os.system [echo]") == "!!python/object/apply:os.system [echo]"


def test_yaml_round_trips_and_bad_yaml_names_its_line() -> None:
    cfg = example("wine")
    assert state.from_yaml(state.to_yaml(cfg)) == cfg
    with pytest.raises(UserError, match=r"<yaml>: line 3: not valid YAML"):
        state.from_yaml("experiment: x\nmodels: [a\nb: c\n")
    with pytest.raises(UserError, match="expected a mapping"):
        state.from_yaml("- a list")


def test_problems_land_on_the_field_they_name() -> None:
    cfg = example()
    cfg["models"][0]["params"]["C"] = -1
    checked = state.check(cfg)
    assert checked.experiment is None and not checked.ok
    assert any("'C' parameter of LogisticRegression" in m for m in checked.at("models[0].params.C"))
    assert checked.at("models[0]") == [] and checked.at("models[0]", nested=True)[0].startswith("params.C: ")
    cfg["split"]["test_size"] = 2
    assert state.check(cfg).at("split.test_size") and not state.check(cfg).at("split")


def test_the_data_adds_what_prepare_would_reject() -> None:
    cfg = example("diabetes")
    checked = state.check(cfg, "classification", ("dataset.target: no column 'x'",))
    assert checked.experiment is not None and not checked.ok  # savable, not runnable
    assert "is a regressor but the task is classification" in checked.at("models[0].estimator")[0]
    assert checked.at("dataset.target") == ["no column 'x'"]


def test_new_models_get_unique_schema_valid_names_and_signature_defaults() -> None:
    models = [{"name": "random-forest-classifier"}]
    assert state.new_model("RandomForestClassifier", models)["name"] == "random-forest-classifier-2"
    assert state.model_name("HistGradientBoostingRegressor", []) == "hist-gradient-boosting-regressor"
    assert state.model_name("SVC", []) == "svc"
    assert state.param_defaults("LogisticRegression")["C"] == 1.0
    assert isinstance(state.param_defaults("Lars")["eps"], float)  # numpy scalars become plain numbers
    assert state.param_defaults("NoSuchThing") == {}
    regressors = state.estimator_names("regression")
    assert "Ridge" in regressors and "LogisticRegression" not in regressors
    assert state.task_of({"dataset": {"task": "auto"}}, "regression") == "regression"
    assert state.task_of({"dataset": {"task": "classification"}}, "regression") == "classification"


def test_relative_paths_mean_next_to_the_config(tmp_path: Path) -> None:
    assert state.resolve_uri("data/x.csv", tmp_path) == (tmp_path / "data" / "x.csv").as_uri()
    assert state.resolve_uri("s3://bucket/x.csv", tmp_path) == "s3://bucket/x.csv"


def test_every_example_survives_the_form_model() -> None:
    for name in ("breast-cancer", "wine", "diabetes"):
        cfg = state.from_yaml(state.to_yaml(example(name)))
        assert state.check(cfg).ok
        assert parse_yaml(state.to_yaml(cfg)).experiment == name


def test_the_cli_imports_streamlit_only_to_launch_the_app() -> None:
    code = "import sys, bakeoff.cli, bakeoff.ui; assert 'streamlit' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


COMMENTED = """\
# our team's baseline; ask Ana before changing the split
experiment: breast-cancer
dataset:
  uri: data/breast-cancer.csv   # exported on Monday
  target: diagnosis
  format: auto                  # the default, written on purpose
split: {test_size: 0.25, valid_size: 0.2, seed: 42}
models:
  - name: logistic
    estimator: LogisticRegression
    params: {C: 1.0, max_iter: 2000, tol: 1.0e-4}
  # too slow on laptops
  - name: forest
    estimator: RandomForestClassifier
    params: {n_estimators: 300}
  - name: knn
    estimator: KNeighborsClassifier
    params:
      n_neighbors: 7   # odd: no ties
"""


def test_saving_changes_only_what_was_edited(tmp_path: Path) -> None:
    from bakeoff.ui import files

    (tmp_path / "bakeoff.yaml").write_text(COMMENTED)
    cfg, source, base = files.open_config("bakeoff.yaml", tmp_path)
    state.set_in(cfg, "models[0].params.C", 0.5)
    state.delete_in(cfg, "models[1]")
    state.set_in(cfg, "models[1].params.weights", "distance")
    state.set_in(cfg, "runtime.parallel", 2)
    assert state.check(cfg).ok
    files.save_config(cfg, source, "bakeoff.yaml", base)
    saved = (tmp_path / "bakeoff.yaml").read_text()
    forest = COMMENTED[COMMENTED.index("  # too slow"):COMMENTED.index("  - name: knn")]  # its comment too
    assert saved == (COMMENTED.replace("C: 1.0", "C: 0.5").replace(forest, "")
                     .replace("# odd: no ties\n", "# odd: no ties\n      weights: distance\n")
                     + "runtime: {parallel: 2}\n")
    assert yaml.safe_load(saved) == cfg


def test_an_edit_through_a_yaml_alias_changes_only_the_edited_place() -> None:
    source = "# shared\nbase: &p {C: 1.0}\nother: *p\n"
    data = {"base": {"C": 1.0}, "other": {"C": 0.5}}
    assert yaml.safe_load(state.to_yaml(data, source)) == data
    assert state.to_yaml({"base": {"C": 1.0}, "other": {"C": 1.0}, "new": 1}, source).startswith("# shared\n")


def test_saving_reads_the_source_within_the_loaders_bounds() -> None:
    cfg = example()
    with pytest.raises(UserError, match="key 'experiment' is written twice"):
        state.to_yaml(cfg, "experiment: a\nexperiment: b\n")
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 7))
    with pytest.raises(UserError, match="aliases expand to more than"):
        state.to_yaml(cfg, bomb)


def test_a_run_reopened_reads_as_the_user_wrote_it_and_is_named_in_words(tmp_path: Path) -> None:
    from bakeoff.history import label
    from bakeoff.runs import create_run
    from bakeoff.spec import anchored
    from bakeoff.storage import open_store
    from bakeoff.ui import files

    exp = anchored(parse_yaml(config_text("wine")), tmp_path)  # as `bakeoff run` stores it
    store = open_store(str(tmp_path / ".bakeoff"))
    run = create_run(store, exp, "20261202-073000-abcdef")
    cfg, text = files.open_run_config(run, tmp_path)
    assert (cfg["dataset"]["uri"], cfg["storage"]) == ("data/wine.csv", ".bakeoff")
    assert exp.dataset.uri in text  # the text is the run's; saving writes the form's relative paths
    elsewhere = files.open_run_config(run, tmp_path / "other")[0]
    assert elsewhere["dataset"]["uri"] == (tmp_path / "data" / "wine.csv").as_uri()  # not under: absolute
    assert label(run, None) == "wine · 4 models · not finished · 2026-12-02 07:30 UTC · 20261202-073000-abcdef"
    assert label(create_run(store, exp, "nightly"), None) == "wine · 4 models · not finished · nightly"

"""Search-space suggestions drawn from scikit-learn's own parameter constraints, checked against
real estimators and, for the whole catalog, against the validation a config gets."""

from __future__ import annotations

import pytest

from bakeoff import catalog
from bakeoff.spec import check, parse_experiment
from bakeoff.ui.suggest import NOT_TUNED, SENTINELS, space


def test_suggestions_follow_each_parameters_constraints() -> None:
    svc = space("SVC", {})
    assert svc["C"] == {"float": [0.1, 10.0], "log": True}  # (0, inf], around the default 1.0
    assert svc["kernel"] == {"choice": ["rbf", "linear", "poly", "sigmoid"]}  # no precomputed kernel
    assert "probability" not in svc  # its default is the `deprecated` sentinel
    forest = space("RandomForestClassifier", {})
    assert forest["max_features"] == {"choice": ["sqrt", "log2", None]}
    assert forest["max_depth"] == {"int": [1, 32]}  # unset: from the least value the constraint allows
    assert forest["min_samples_split"] == {"int": [2, 8]}  # an int from 2 up, around the default 2
    assert forest["min_weight_fraction_leaf"] == {"float": [0.0, 0.5]}  # [0, 0.5]
    assert forest["max_samples"] == {"float": [0.25, 1.0]}  # (0, inf) as a fraction, inside the open bound
    assert "oob_score" not in forest and "random_state" not in forest
    mlp = space("MLPClassifier", {})
    assert mlp["beta_2"] == {"float": [0.0999, 0.9995], "log": True}  # [0, 1): kept below 1
    logistic = space("LogisticRegression", {})
    assert "penalty" not in logistic and logistic["class_weight"] == {"choice": ["balanced", None]}
    assert space("KNeighborsClassifier", {})["n_neighbors"] == {"int": [1, 20]}


def test_a_parameter_set_under_params_is_offered_around_its_value() -> None:
    assert space("SVC", {"C": 0.5})["C"] == {"float": [0.05, 5.0], "log": True}
    assert space("SVC", {"kernel": "linear"})["kernel"]["choice"][0] == "linear"
    assert space("NoSuchEstimator", {}) == {}


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_suggestion_in_the_catalog_is_a_valid_search(task: str) -> None:
    def config(*models: dict) -> dict:
        return {"experiment": "all", "dataset": {"uri": "x.csv", "target": "y", "task": task}, "models": list(models)}

    names = sorted(n for n, info in catalog.estimators().items() if info.task == task)
    usable = [n for n in names if check(config({"name": "m", "estimator": n})).experiment is not None]
    # not usable at all, and refused by validate with the reason: SelfTrainingClassifier needs an
    # estimator object, which no config can give; CategoricalNB takes only category codes
    assert set(names) - set(usable) <= {"SelfTrainingClassifier", "CategoricalNB"}
    models, searched = [], 0
    for i, name in enumerate(usable):
        dims = space(name, {})
        for param, dim in dims.items():
            assert param not in NOT_TUNED and not param.startswith("copy"), (name, param)
            choices = dim.get("choice", [])
            assert not set(choices) & SENTINELS and choices != [None], (name, param, dim)
        searched += len(dims)
        if dims:
            models.append({"name": f"m{i}", "estimator": name, "search": {"space": dims}})
    assert searched > 10 * len(models) // 2  # most estimators have several tunable parameters
    parse_experiment(config(*models))  # raises, naming each, if any suggestion were refused

"""Search on the validation split, early stopping and pruning, on real datasets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.datasets import load_breast_cancer, load_diabetes

from bakeoff import data, search
from bakeoff.errors import UserError
from bakeoff.metrics import REGISTRY, Outcome
from bakeoff.spec import DatasetSpec, ModelSpec, SplitSpec, parse_experiment


def splits(loader, target: str) -> tuple[data.Schema, dict, dict]:  # noqa: ANN001
    frame = loader(as_frame=True).frame.rename(columns={"target": target})
    spec = DatasetSpec(uri="x.csv", target=target)
    schema = data.infer_schema(frame, spec)
    parts = data.split_frame(frame, schema, SplitSpec(seed=0))
    return schema, {k: v[schema.features] for k, v in parts.items()}, {k: v[target].to_numpy() for k, v in parts.items()}


@pytest.fixture(scope="module")
def cancer() -> tuple:
    return splits(load_breast_cancer, "malignant")


@pytest.fixture(scope="module")
def diabetes() -> tuple:
    return splits(load_diabetes, "progression")


def model(**kw: object) -> ModelSpec:
    return ModelSpec.model_validate({"name": "m", **kw})


def test_same_config_gives_the_same_trials(cancer: tuple) -> None:
    schema, X, y = cancer
    m = model(estimator="LogisticRegression", params={"max_iter": 500},
              search={"trials": 6, "space": {"C": {"float": [0.001, 100], "log": True}}})
    runs = [search.tune(m, schema, X, y, REGISTRY["roc_auc"], seed=3, threads=1) for _ in range(2)]
    assert [t["params"] for t in runs[0].record["trials"]] == [t["params"] for t in runs[1].record["trials"]]
    assert len(runs[0].record["trials"]) == 6 and runs[0].record["refit_on"] == "train+valid"
    best = runs[0].record["best"]
    assert best["score"] == max(t["score"] for t in runs[0].record["trials"])
    assert runs[0].params["C"] == best["params"]["C"]
    other = search.tune(m, schema, X, y, REGISTRY["roc_auc"], seed=4, threads=1)
    assert [t["params"] for t in other.record["trials"]] != [t["params"] for t in runs[0].record["trials"]]


def test_boosting_stops_early_and_is_refit_with_its_best_stage(diabetes: tuple) -> None:
    schema, X, y = diabetes
    m = model(estimator="HistGradientBoostingRegressor", params={"max_iter": 300, "early_stopping": False},
              search={"trials": 8, "patience": 10, "space": {"learning_rate": {"float": [0.05, 0.5], "log": True}}})
    tuned = search.tune(m, schema, X, y, REGISTRY["rmse"], seed=0, threads=1)
    best_epoch = tuned.record["best"]["best_epoch"]
    assert 1 <= best_epoch < 300  # a learning rate this high overfits long before 300 stages
    assert tuned.pipeline.named_steps["model"].n_iter_ == best_epoch == tuned.params["max_iter"]
    assert tuned.record["pruned"] >= 1  # the median pruner stopped some trials


def test_sgd_epochs_are_tunable_and_patience_stops_them(cancer: tuple) -> None:
    schema, X, y = cancer
    m = model(estimator="SGDClassifier", params={"loss": "log_loss", "random_state": 0},
              search={"trials": 5, "patience": 3, "space": {"epochs": {"int": [20, 200]},
                                                            "alpha": {"float": [1e-5, 1e-1], "log": True}}})
    tuned = search.tune(m, schema, X, y, REGISTRY["roc_auc"], seed=0, threads=1)
    for t in tuned.record["trials"]:
        if t["state"] == "complete":
            assert t["best_epoch"] <= t["params"]["epochs"]
    assert tuned.params["epochs"] == tuned.record["best"]["best_epoch"]
    assert tuned.pipeline.predict(X["test"]).shape == (len(X["test"]),)


def test_train_epochs_stop_after_patience() -> None:
    scores = iter([0.5, 0.7, 0.69, 0.68, 0.71, 0.6, 0.6, 0.6, 0.6, 0.6])

    class Counting(RegressorMixin, BaseEstimator):
        """Learns nothing; the scores above play the part of its validation curve."""

        def partial_fit(self, X, y):  # noqa: ANN001, ANN201
            return self

        def predict(self, X):  # noqa: ANN001, ANN201
            return X

    stopped = search.train_epochs("partial_fit", Counting(), np.zeros(2), np.zeros(2), np.zeros(2),
                                  lambda p, q: next(scores), REGISTRY["accuracy"], patience=3, epochs=10)
    assert (stopped.epoch, stopped.epochs_run, stopped.score) == (5, 8, 0.71)


def test_grid_is_exhaustive_and_valid_scores_are_the_winners_own(cancer: tuple) -> None:
    schema, X, y = cancer
    m = model(estimator="KNeighborsClassifier",
              search={"sampler": "grid", "space": {"n_neighbors": {"int": [3, 11], "step": 4},
                                                   "weights": {"choice": ["uniform", "distance"]}}})
    tuned = search.tune(m, schema, X, y, REGISTRY["accuracy"], seed=0, threads=1)
    seen = {(t["params"]["n_neighbors"], t["params"]["weights"]) for t in tuned.record["trials"]}
    assert seen == {(k, w) for k in (3, 7, 11) for w in ("uniform", "distance")}
    assert REGISTRY["accuracy"](tuned.valid) == pytest.approx(tuned.record["best"]["score"])


@pytest.mark.parametrize(("space", "message"), [
    ({"max_dept": {"int": [2, 8]}}, "models[0].search.space.max_dept: unknown parameter of RandomForestClassifier (did you mean max_depth?)"),
    ({"max_features": {"choice": ["sqrt", "sqrtt"]}}, "models[0].search.space.max_features: 'sqrtt' is not allowed"),
    ({"n_estimators": {"int": [10, 50]}}, "models[0].search.space.n_estimators: also fixed in params"),
    ({"epochs": {"int": [1, 5]}}, "models[0].search.space.epochs: unknown parameter of RandomForestClassifier"),
    ({"max_depth": {"int": [8, 2]}}, "models[0].search: Value error, space.max_depth: the lower bound 8 must be below"),
    ({"max_depth": {"intt": [2, 8]}}, "models[0].search.space.max_depth: write a dimension as {int: [low, high]}"),
])
def test_space_errors_name_the_field(space: dict, message: str) -> None:
    with pytest.raises(UserError) as info:
        parse_experiment({"experiment": "x", "dataset": {"uri": "d.csv", "target": "y"},
                          "models": [{"name": "forest", "estimator": "RandomForestClassifier",
                                      "params": {"n_estimators": 20}, "search": {"space": space}}]})
    assert any(p.startswith(message.replace("Value error, ", "")) for p in info.value.problems), info.value.problems


def test_grid_needs_discrete_floats() -> None:
    with pytest.raises(UserError, match="a grid needs discrete values; add step or use choice"):
        parse_experiment({"experiment": "x", "dataset": {"uri": "d.csv", "target": "y"},
                          "models": [{"name": "r", "estimator": "Ridge",
                                      "search": {"sampler": "grid", "space": {"alpha": {"float": [0.1, 1]}}}}]})


def test_every_failing_trial_reports_the_real_error(cancer: tuple) -> None:
    schema, X, y = cancer
    m = model(estimator="LogisticRegression",
              search={"trials": 2, "space": {"solver": {"choice": ["lbfgs"]}, "l1_ratio": {"choice": [0.5]}}})
    with pytest.raises(ValueError):
        search.tune(m, schema, X, {**y, "train": np.zeros_like(y["train"])}, REGISTRY["accuracy"], seed=0, threads=1)


def test_outcome_round_trips_through_npz() -> None:
    o = Outcome.of(np.array(["a", "b", "a"]), np.array(["a", "a", "a"]), np.array([[.9, .1], [.6, .4], [.8, .2]]),
                   np.array(["a", "b"]))
    back = Outcome.from_npz(o.to_npz())
    assert np.array_equal(back.y_true, o.y_true) and np.array_equal(back.proba, o.proba) and back.n_classes == 2
    assert pd.isna(Outcome.from_npz(Outcome.of(np.array([1.0]), np.array([2.0])).to_npz()).n_classes)

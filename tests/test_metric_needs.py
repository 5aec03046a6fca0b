"""Metrics say what they need: ROC AUC from margins when a model has no probabilities, and a
metric a model cannot give is a validation problem that names the fix, never an empty score."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn import datasets
from sklearn import metrics as skm
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import label_binarize
from sklearn.svm import SVC

from bakeoff.errors import UserError
from bakeoff.metrics import REGISTRY, Outcome, bootstrap_ci
from bakeoff.spec import parse_experiment


def svc_outcome(loader) -> tuple[np.ndarray, Outcome, np.ndarray]:  # noqa: ANN001
    X, y = loader(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, random_state=0)
    model = SVC().fit(Xtr, ytr)  # SVC's default: no predict_proba
    assert not hasattr(model, "predict_proba")
    decision = model.decision_function(Xte)
    return yte, Outcome.of(yte, model.predict(Xte), None, model.classes_, decision), decision


def test_roc_auc_from_margins_is_sklearns_binary() -> None:
    y, o, decision = svc_outcome(datasets.load_breast_cancer)
    assert REGISTRY["roc_auc"](o) == pytest.approx(skm.roc_auc_score(y, decision), rel=1e-12)
    low, high = bootstrap_ci(REGISTRY["roc_auc"], o, seed=1)
    assert low <= REGISTRY["roc_auc"](o) <= high
    assert np.isnan(REGISTRY["log_loss"](o))  # margins are not probabilities


def test_roc_auc_from_margins_is_sklearns_one_vs_rest_macro_multiclass() -> None:
    y, o, decision = svc_outcome(datasets.load_wine)
    expected = skm.roc_auc_score(label_binarize(y, classes=[0, 1, 2]), decision, average="macro")
    assert REGISTRY["roc_auc"](o) == pytest.approx(expected, rel=1e-12)


def test_margins_survive_the_saved_predictions() -> None:
    _, o, _ = svc_outcome(datasets.load_breast_cancer)
    back = Outcome.from_npz(o.to_npz())
    np.testing.assert_array_equal(back.decision, o.decision)
    assert back.proba is None and REGISTRY["roc_auc"](back) == REGISTRY["roc_auc"](o)


def test_one_vs_one_margins_cannot_rank_classes() -> None:
    """decision_function_shape='ovo' gives a column per pair of classes: no per-class ranking,
    even with 3 classes, where there are as many pairs as classes."""
    from bakeoff.modeling import class_scores

    X, y = datasets.load_digits(return_X_y=True)
    four = y < 4
    for keep, columns in ((four, 6), (y < 3, 3)):
        model = SVC(decision_function_shape="ovo").fit(X[keep], y[keep])
        assert model.decision_function(X[keep]).shape[1] == columns
        assert class_scores(model, X[keep]) == (None, None)
        o = Outcome.of(y[keep], model.predict(X[keep]), None, model.classes_, model.decision_function(X[keep]))
        assert (o.decision is None) == (columns != 3) and np.isnan(REGISTRY["roc_auc"](o)) == (columns != 3)


def config(estimator: str, primary: str, others: list[str] | None = None, **params: object) -> dict:
    return {"experiment": "cancer", "dataset": {"uri": "data.csv", "target": "y", "task": "classification"},
            "metrics": {"primary": primary, "others": others or []},
            "models": [{"name": "m", "estimator": estimator, "params": params}]}


@pytest.mark.parametrize(("estimator", "params", "metric", "fix"), [
    ("SVC", {}, "log_loss", "set params.probability: true, or drop log_loss from metrics"),
    ("NuSVC", {}, "log_loss", "params.probability: true"),
    ("SGDClassifier", {}, "log_loss", 'params.loss: "log_loss"'),
    ("RidgeClassifier", {}, "log_loss", "drop log_loss from metrics"),
])
def test_a_metric_the_model_cannot_give_is_a_problem_naming_the_fix(estimator: str, params: dict, metric: str,
                                                                    fix: str) -> None:
    with pytest.raises(UserError) as info:
        parse_experiment(config(estimator, "accuracy", [metric], **params))
    (problem,) = info.value.problems
    assert problem.startswith(f"models[0]: {estimator} cannot give {metric}") and fix in problem


@pytest.mark.parametrize(("estimator", "params", "metrics"), [
    ("SVC", {}, ["roc_auc"]),  # margins are enough
    ("SVC", {"probability": True}, ["roc_auc", "log_loss"]),
    ("RidgeClassifier", {}, ["roc_auc"]),
    ("SGDClassifier", {"loss": "log_loss"}, ["log_loss"]),
    ("KNeighborsClassifier", {}, ["log_loss"]),
])
def test_metrics_a_model_can_give_pass(estimator: str, params: dict, metrics: list[str]) -> None:
    parse_experiment(config(estimator, metrics[0], metrics[1:], **params))


def test_checking_what_a_model_can_give_imports_no_estimator() -> None:
    code = ("import sys; from bakeoff.spec import parse_experiment; from bakeoff import catalog; "
            "catalog.names(); "
            f"parse_experiment({config('SVC', 'roc_auc', ['accuracy'])!r}); "
            "print(sorted(m for m in sys.modules if m.startswith(('sklearn', 'numpy'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "[]"


def test_svc_trains_with_roc_auc_from_margins_and_a_missing_primary_fails_with_the_reason() -> None:
    from bakeoff.records import Schema
    from bakeoff.spec import ModelSpec
    from bakeoff.training import evaluate

    X, y = datasets.load_breast_cancer(return_X_y=True, as_frame=True)
    parts = np.array_split(np.random.default_rng(0).permutation(len(y)), 3)
    schema = Schema("target", "classification", list(X.columns), [], [0, 1])

    def splits() -> tuple[dict[str, pd.DataFrame], dict[str, np.ndarray]]:
        return ({s: X.iloc[p] for s, p in zip(("train", "valid", "test"), parts)},
                {s: y.to_numpy()[p] for s, p in zip(("train", "valid", "test"), parts)})

    svc = ModelSpec(name="svc", estimator="SVC")
    ev = evaluate(svc, schema, *splits(), metrics=["roc_auc", "accuracy", "log_loss"], seed=0, threads=1)
    assert ev.metrics["test"]["roc_auc"] == pytest.approx(
        skm.roc_auc_score(ev.test.y_true, ev.pipeline.decision_function(X.iloc[parts[2]])), rel=1e-12)
    assert ev.ci is not None and ev.metrics["test"]["log_loss"] is None
    with pytest.raises(ValueError, match=r"^log_loss needs predict_proba and this model has none"):
        evaluate(svc, schema, *splits(), metrics=["log_loss"], seed=0, threads=1)

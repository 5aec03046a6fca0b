"""Our numpy metrics against scikit-learn's own, on real datasets and real model outputs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import datasets
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split

from bakeoff.metrics import REGISTRY, Outcome, bootstrap_ci


def classifier_outcome(loader) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # noqa: ANN001
    X, y = loader(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.4, random_state=0)
    model = LogisticRegression(max_iter=50).fit(Xtr, ytr)  # deliberately imperfect
    return yte, model.predict(Xte), model.predict_proba(Xte), model.classes_


@pytest.mark.parametrize("loader", [datasets.load_breast_cancer, datasets.load_wine])
def test_classification_metrics_match_sklearn(loader) -> None:  # noqa: ANN001
    y, pred, proba, classes = classifier_outcome(loader)
    o = Outcome.of(y, pred, proba, classes)
    auc = (skm.roc_auc_score(y, proba[:, 1]) if proba.shape[1] == 2
           else skm.roc_auc_score(y, proba, multi_class="ovr", labels=classes))
    expected = {
        "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred),
        "f1_macro": skm.f1_score(y, pred, average="macro"),
        "roc_auc": auc,
        "log_loss": skm.log_loss(y, proba, labels=classes),
    }
    for name, value in expected.items():
        assert REGISTRY[name](o) == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_string_labels_and_ties_match_sklearn() -> None:
    y = np.array(["b", "a", "b", "c", "a", "c", "b", "a"])
    pred = np.array(["b", "b", "b", "c", "a", "a", "b", "a"])
    proba = np.array([[.2, .6, .2], [.5, .5, 0], [.2, .6, .2], [0, .1, .9],
                      [.7, .2, .1], [.5, .0, .5], [.1, .8, .1], [.6, .2, .2]])
    o = Outcome.of(y, pred, proba, np.array(["a", "b", "c"]))
    assert REGISTRY["roc_auc"](o) == pytest.approx(skm.roc_auc_score(y, proba, multi_class="ovr"))
    assert REGISTRY["f1_macro"](o) == pytest.approx(skm.f1_score(y, pred, average="macro"))


def test_regression_metrics_match_sklearn() -> None:
    X, y = datasets.load_diabetes(return_X_y=True)
    pred = Ridge(alpha=1.0).fit(X[:300], y[:300]).predict(X[300:])
    o = Outcome.of(y[300:], pred)
    assert REGISTRY["rmse"](o) == pytest.approx(np.sqrt(skm.mean_squared_error(y[300:], pred)))
    assert REGISTRY["mae"](o) == pytest.approx(skm.mean_absolute_error(y[300:], pred))
    assert REGISTRY["r2"](o) == pytest.approx(skm.r2_score(y[300:], pred))


def test_directions() -> None:
    assert {n for n, m in REGISTRY.items() if m.direction == "min"} == {"log_loss", "rmse", "mae"}


def test_bootstrap_interval_contains_the_estimate_and_is_reproducible() -> None:
    y, pred, proba, classes = classifier_outcome(datasets.load_breast_cancer)
    o = Outcome.of(y, pred, proba, classes)
    low, high = bootstrap_ci(REGISTRY["accuracy"], o, seed=7)
    assert low < REGISTRY["accuracy"](o) < high and high - low < 0.15
    assert bootstrap_ci(REGISTRY["accuracy"], o, seed=7) == (low, high)


def test_probability_metrics_are_none_without_probabilities() -> None:
    o = Outcome.of(np.array([0, 1, 1]), np.array([0, 1, 0]), None, np.array([0, 1]))
    assert np.isnan(REGISTRY["roc_auc"](o)) and bootstrap_ci(REGISTRY["roc_auc"], o) is None


def test_paired_draws_are_each_models_own_draws_on_one_set_of_resamples() -> None:
    """compare draws the resamples once for every model; each model's draws must be exactly
    what drawing for it alone gives (the leaderboard's intervals must not change)."""
    from bakeoff.metrics import bootstrap_draws, paired_draws

    y, pred, proba, classes = classifier_outcome(datasets.load_wine)
    rng = np.random.default_rng(1)
    flipped = np.where(rng.random(len(y)) < 0.2, np.roll(pred, 1), pred)
    outcomes = [Outcome.of(y, pred, proba, classes), Outcome.of(y, flipped, None, classes)]
    for name in ("balanced_accuracy", "roc_auc"):
        metric = REGISTRY[name]
        paired = paired_draws(metric, outcomes, resamples=700, seed=3)
        for o, draws in zip(outcomes, paired):
            np.testing.assert_array_equal(draws, bootstrap_draws(metric, o, resamples=700, seed=3))
    assert np.isnan(paired[1]).all()  # no probabilities: roc_auc is undefined on every draw
    with pytest.raises(ValueError, match="same rows"):
        paired_draws(REGISTRY["accuracy"], [outcomes[0], Outcome.of(y[:-1], pred[:-1], None, classes)])


@pytest.mark.parametrize("loader", [datasets.load_breast_cancer, datasets.load_wine])
def test_every_bootstrap_draw_of_the_probability_metrics_is_sklearns_on_that_resample(loader) -> None:  # noqa: ANN001
    """ROC AUC and log loss score a whole block of resamples at once; each draw must be
    scikit-learn's value on that resample's rows (ties included: the probabilities are rounded)."""
    from bakeoff.metrics import bootstrap_draws

    y, pred, proba, classes = classifier_outcome(loader)
    proba = np.round(proba, 1) + 0.01  # many tied scores
    proba /= proba.sum(axis=1, keepdims=True)  # rows that sum to 1, as sklearn's multi-class AUC needs
    o = Outcome.of(y, pred, proba, classes)
    auc, loss = (bootstrap_draws(REGISTRY[name], o, resamples=40, seed=5) for name in ("roc_auc", "log_loss"))
    rows = np.random.default_rng(5).integers(0, len(y), (40, len(y)))  # the draws' own resamples
    for i, r in enumerate(rows):
        if len(np.unique(y[r])) < len(classes):
            assert np.isnan(auc[i])
            continue
        expected = (skm.roc_auc_score(y[r], proba[r, 1]) if len(classes) == 2
                    else skm.roc_auc_score(y[r], proba[r], multi_class="ovr", labels=classes))
        assert auc[i] == pytest.approx(expected, rel=1e-12), i
        assert loss[i] == pytest.approx(skm.log_loss(y[r], proba[r], labels=classes), rel=1e-9), i

"""Estimators that misbehave on purpose, registered as a bakeoff plugin by tests/conftest.py."""

import os
import signal
import time

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.dummy import DummyClassifier


class CrashingClassifier(ClassifierMixin, BaseEstimator):
    """Kills its own process in fit, as a segfault or the OOM killer would."""

    def fit(self, X, y):  # noqa: ANN001, ANN201
        os.kill(os.getpid(), signal.SIGKILL)

    def predict_proba(self, X):  # noqa: ANN001, ANN201
        """Never reached (fit kills the process): it says the model gives probabilities, so that
        validation, which checks every model can give the config's metrics, lets it run."""
        raise NotImplementedError


class SleepyClassifier(ClassifierMixin, BaseEstimator):
    """Takes `seconds` to fit, then predicts the majority class."""

    def __init__(self, seconds: float = 60.0) -> None:
        self.seconds = seconds

    def fit(self, X, y):  # noqa: ANN001, ANN201
        time.sleep(self.seconds)
        self.model_ = DummyClassifier().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):  # noqa: ANN001, ANN201
        return self.model_.predict(X)

    def predict_proba(self, X):  # noqa: ANN001, ANN201
        return self.model_.predict_proba(X)

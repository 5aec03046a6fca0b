"""Estimator names a config may use, mapped to classes.

The allowlist is scikit-learn's public classifiers and regressors plus classes registered under
the entry-point group ``bakeoff.estimators``. A config names an estimator; it can never make us
import an arbitrary dotted path.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Literal

from bakeoff.errors import UserError, did_you_mean

Task = Literal["classification", "regression"]
ENTRY_POINT_GROUP = "bakeoff.estimators"


@dataclass(frozen=True)
class EstimatorInfo:
    name: str
    cls: type
    task: Task

    @property
    def params(self) -> dict[str, Any]:
        """Constructor parameters and their defaults, as scikit-learn's ``get_params`` sees them."""
        signature = inspect.signature(self.cls.__init__)
        return {
            p.name: (None if p.default is inspect.Parameter.empty else p.default)
            for p in signature.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }


def _constructible_without_arguments(cls: type) -> bool:
    # Meta-estimators (Stacking, Voting, OneVsRest...) need estimator objects as arguments,
    # which a YAML file cannot express safely, so they are left out of the catalog.
    signature = inspect.signature(cls.__init__)
    return all(
        p.default is not inspect.Parameter.empty
        for p in signature.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    )


@cache
def estimators() -> dict[str, EstimatorInfo]:
    """All estimators a config may name, built once per process."""
    from sklearn.base import is_classifier, is_regressor
    from sklearn.utils.discovery import all_estimators

    found: dict[str, EstimatorInfo] = {}
    for task, type_filter in (("classification", "classifier"), ("regression", "regressor")):
        for name, cls in all_estimators(type_filter=type_filter):
            if _constructible_without_arguments(cls):
                found[name] = EstimatorInfo(name, cls, task)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        cls = ep.load()
        if is_classifier(cls()):
            found[ep.name] = EstimatorInfo(ep.name, cls, "classification")
        elif is_regressor(cls()):
            found[ep.name] = EstimatorInfo(ep.name, cls, "regression")
        else:
            raise TypeError(
                f"plugin {ep.value!r} registered as {ep.name!r} in {ENTRY_POINT_GROUP!r} is neither "
                "a classifier nor a regressor; set _estimator_type or inherit a sklearn mixin"
            )
    return found


def resolve(name: str) -> EstimatorInfo:
    """Look an estimator up by name; a miss is the user's to fix, so say what was meant."""
    catalog = estimators()
    if name not in catalog:
        raise UserError(
            f"unknown estimator {name!r}{did_you_mean(name, catalog)}; "
            "run `bakeoff schema` for the list, or register a plugin under "
            f"the entry-point group {ENTRY_POINT_GROUP!r}"
        )
    return catalog[name]

"""scikit-learn's parameter constraints as data, so a config's values are checked by sklearn's own
rules, in sklearn's own words, without importing the estimator: that import (scipy and friends)
was most of a second of every `bakeoff validate`.

``freeze`` turns an estimator's ``_parameter_constraints`` into JSON once, when the estimator index
is built (catalog.py, per scikit-learn version); ``violation`` checks values against it. A value
from YAML is a bool, int, float, str, list, dict or None, so a constraint that looks only at a
value's type is kept as the set of those kinds it accepts; intervals and options keep their bounds
and members, and sklearn's composite constraints their parts. Anything else is not frozen, and then
``violation`` answers ``UNSURE``: the caller asks scikit-learn itself.
"""

from __future__ import annotations

import math
from typing import Any

from bakeoff.errors import cut
from bakeoff.scalars import plain

# One value of every kind YAML produces: a type-only constraint is frozen as the kinds it accepts.
KINDS: dict[str, Any] = {"bool": True, "int": 1, "float": 0.5, "str": "a", "list": [1], "dict": {"a": 1},
                         "None": None}
UNSURE = object()  # the frozen constraints cannot decide; ask scikit-learn


class _Unfrozen(Exception):
    """A constraint whose verdict depends on more than what is frozen."""


def freeze(parameter_constraints: dict[str, Any]) -> dict[str, Any]:
    """``{param: {"must": sklearn's description, "any": [frozen constraint, ...]}}``; a param whose
    constraints cannot all be frozen maps to None; ``no_validation`` params are left out."""
    from sklearn.utils._param_validation import make_constraint

    frozen: dict[str, Any] = {}
    for param, raw in parameter_constraints.items():
        if isinstance(raw, str) and raw == "no_validation":
            continue
        made = [make_constraint(c) for c in raw]
        try:
            frozen[param] = {"must": _must(made), "any": [_frozen(c) for c in made]}
        except _Unfrozen:
            frozen[param] = None
    return frozen


def _must(made: list[Any]) -> str:
    """The words sklearn's ``validate_parameter_constraints`` uses: hidden constraints left out."""
    shown = [c for c in made if not c.hidden]
    return f"{shown[0]}" if len(shown) == 1 else f"{', '.join(str(c) for c in shown[:-1])} or {shown[-1]}"


def _kinds_of(kind: type) -> list[str]:
    return [name for name, sample in KINDS.items() if isinstance(sample, kind)]


def _frozen_value(value: Any) -> Any:
    """A bound or an option as JSON keeps it (numpy's scalars as Python's), or _Unfrozen."""
    value = plain(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise _Unfrozen(value)


def _frozen(constraint: Any) -> dict[str, Any]:
    from sklearn.utils._param_validation import Interval, Options, _NanConstraint

    if hasattr(constraint, "_constraints"):  # random_state, verbose, cv_object, booleans, missing values
        return {"any": [_frozen(c) for c in constraint._constraints]}
    if isinstance(constraint, Interval):
        return {"kinds": _kinds_of(constraint.type), "left": _frozen_value(constraint.left),
                "right": _frozen_value(constraint.right), "closed": constraint.closed}
    if isinstance(constraint, Options):
        return {"kinds": _kinds_of(constraint.type), "options": [_frozen_value(o) for o in constraint.options]}
    if isinstance(constraint, _NanConstraint):
        return {"nan": True}
    # What is left looks at the value's type (or its methods) only: try one value of each kind.
    return {"kinds": [name for name, sample in KINDS.items() if constraint.is_satisfied_by(sample)]}


def _kind(value: Any) -> str | None:
    name = "None" if value is None else type(value).__name__
    return name if name in KINDS else None


def _satisfies(value: Any, frozen: dict[str, Any]) -> bool:
    if "any" in frozen:
        return any(_satisfies(value, f) for f in frozen["any"])
    if "nan" in frozen:
        return isinstance(value, float) and math.isnan(value)
    if _kind(value) not in frozen["kinds"]:
        return False
    if "options" in frozen:
        return value in frozen["options"]
    if "closed" in frozen:  # sklearn's Interval.__contains__
        if isinstance(value, float) and math.isnan(value):
            return False
        left = -math.inf if frozen["left"] is None else frozen["left"]
        right = math.inf if frozen["right"] is None else frozen["right"]
        closed = frozen["closed"]
        above = value >= left if closed in ("left", "both") else value > left
        below = value <= right if closed in ("right", "both") else value < right
        return above and below
    return True


def violation(estimator: str, frozen: dict[str, Any], params: dict[str, Any]) -> str | None | object:
    """sklearn's error for the first value that breaks its constraints, None when all hold, or
    UNSURE when a value or constraint is outside what was frozen."""
    for param, value in params.items():
        if param not in frozen:
            continue
        if frozen[param] is None or _kind(value) is None:
            return UNSURE
        if not _satisfies(value, frozen[param]):
            return f"The {param!r} parameter of {estimator} must be {frozen[param]['must']}. Got {cut(value)} instead."
    return None

"""First search ranges for an estimator's parameters, drawn from scikit-learn's own constraints.

The picker's suggestion is where a user starts tuning, so it must be a range worth searching:
values the estimator accepts (each bound passes the same frozen constraints `validate` applies,
``constraints.violation``), around the value the model uses now, and never a sentinel
(``deprecated``, ``warn``), a choice of ``null`` alone, or a parameter that changes logging,
seeding, parallelism or memory rather than the model (``verbose``, ``random_state``, ``n_jobs``,
``copy_X``). A parameter with nothing worth searching gets no suggestion.
"""

from __future__ import annotations

import math
from typing import Any

from bakeoff import catalog, constraints
from bakeoff.scalars import plain

# Parameters that change how a fit runs or what it reports, not what it learns: tuning them
# finds nothing.
NOT_TUNED = frozenset({"verbose", "random_state", "n_jobs", "warm_start", "memory", "cache_size",
                       "pre_dispatch", "callbacks", "oob_score"})
# Option values that stand for "the old default, going away", not a setting of the model, and
# options a config cannot use (a kernel matrix or a Python function in place of the data).
SENTINELS = frozenset({"deprecated", "warn", "precomputed", "pyfunc"})


def space(estimator: str, params: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A suggested dimension for each of ``estimator``'s tunable parameters, in signature order:
    around its value in ``params`` where the model sets one (picking it moves it to the search),
    else around its default. Empty for an unknown estimator."""
    info = catalog.estimators().get(estimator)
    if info is None:
        return {}
    facts = catalog.facts(estimator)
    found = {}
    for name, default in info.params.items():
        current = params.get(name, default)
        frozen = (facts.constraints or {}).get(name)
        if (dim := dimension(name, plain(current), frozen)) is not None:
            found[name] = dim
    return found


def dimension(name: str, current: Any, frozen: dict[str, Any] | None) -> dict[str, Any] | None:
    """A dimension for parameter ``name`` around ``current`` within its ``frozen`` constraints
    (``constraints.freeze``'s; None when they could not be frozen), or None."""
    if name in NOT_TUNED or name.startswith("copy") or current in SENTINELS:
        return None
    alternatives = _alternatives(frozen) if frozen else []
    if current is None:  # unset: named options (max_features: sqrt, log2) say more than a range
        dim = _choice(current, alternatives) or _numeric(current, alternatives)
    else:
        dim = _numeric(current, alternatives) or _choice(current, alternatives)
    if dim is None or frozen is None:
        return dim
    values = dim["choice"] if "choice" in dim else next(v for k, v in dim.items() if k in ("int", "float"))
    judged = {name: frozen}
    return dim if all(constraints.violation(name, judged, {name: v}) is None for v in values) else None


def _alternatives(frozen: dict[str, Any]) -> list[dict[str, Any]]:
    """Every constraint a value may satisfy, sklearn's composite ones taken apart."""
    out = []
    for alternative in frozen["any"]:
        out += _alternatives(alternative) if set(alternative) == {"any"} else [alternative]
    return out


def _numeric(current: Any, alternatives: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A range around a number (any number, with no constraints known); True/False for a bool."""
    if isinstance(current, bool):
        accepts_bool = not alternatives or any(a.get("kinds") == ["bool"] for a in alternatives)
        return {"choice": [True, False]} if accepts_bool else None
    kind = "int" if isinstance(current, int) else "float" if isinstance(current, float) else None
    intervals = [a for a in alternatives if "closed" in a]
    if current is None and intervals:  # max_depth: an int from 1 up; max_samples: a fraction
        chosen = next((a for a in intervals if "float" in a["kinds"]), intervals[0])
        kind = "float" if "float" in chosen["kinds"] else "int"
        return _range(kind, None, chosen)
    if kind is None:
        return None
    if not alternatives:
        return _range(kind, current, None)
    chosen = next((a for a in intervals if kind in a["kinds"]), None)
    return _range(kind, current, chosen) if chosen else None


def _range(kind: str, center: float | None, interval: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{int: [low, high]}`` from a quarter to four times ``center`` (up to 32 times the least
    value without one), or ``{float: [low, high], log: true}`` from a tenth to ten times it (0 to
    1 without one), moved inside ``interval``."""
    left, right = (interval.get("left"), interval.get("right")) if interval else (None, None)
    closed = interval.get("closed", "neither") if interval else "neither"
    if kind == "int":
        lowest = -math.inf if left is None else left + (closed not in ("left", "both"))
        highest = math.inf if right is None else right - (closed not in ("right", "both"))
        if center is None or center < 1:
            start = max(1, int(lowest)) if math.isfinite(lowest) else 1
            low, high = start, start * 32
        else:
            low, high = max(int(center) // 4, 1), max(int(center) * 4, int(center) + 1)
        low, high = max(low, lowest), min(high, highest)
        return {"int": [int(low), int(high)]} if low < high else None
    if center is None or center == 0:
        low, high, toward = 0.0, 1.0, 0.5
    else:
        low, high, toward = sorted((center / 10, center * 10)) + [center]
    low, high = (float(f"{_inside(v, left, right, closed, toward):.6g}") for v in (low, high))
    if low >= high:
        return None
    return {"float": [low, high], "log": True} if low > 0 and center else {"float": [low, high]}


def _inside(value: float, left: float | None, right: float | None, closed: str, toward: float) -> float:
    """``value`` within the interval: on a closed bound it passed, or halfway from an open one
    toward ``toward``."""
    if left is not None and (value < left or (value == left and closed not in ("left", "both"))):
        value = left if closed in ("left", "both") else (left + toward) / 2
    if right is not None and (value > right or (value == right and closed not in ("right", "both"))):
        value = right if closed in ("right", "both") else (right + toward) / 2
    return value


def _choice(current: Any, alternatives: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The named options (the current one first), with ``null`` when the parameter takes it, or
    None when fewer than two real values are left."""
    options = sorted({o for a in alternatives for o in a.get("options", ())
                      if isinstance(o, str) and o not in SENTINELS}, key=lambda o: (o != current, o))
    takes_none = any(a.get("kinds") == ["None"] for a in alternatives)
    values: list[Any] = [*options, *([None] if takes_none and options else [])]
    return {"choice": values} if len(values) >= 2 else None

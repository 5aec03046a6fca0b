"""Comparing two leaderboards as JSON: the same data, config and seed must give the same board to
1e-9 wherever the models ran (a process, a container, a pod)."""

from __future__ import annotations

import math
from typing import Any

TOLERANCE = 1e-9
# What must not differ between runners: everything but timings, ids and cache flags.
COMPARED = ("model", "estimator", "status", "rank", "primary", "ci", "vs_leader", "tied",
            "valid_primary", "overfit", "test", "params")


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Where two JSON values differ; numbers may differ by TOLERANCE."""
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        if isinstance(a, dict) and isinstance(b, dict):
            return [d for k in sorted(a.keys() | b.keys()) for d in differences(a.get(k), b.get(k), f"{where}.{k}")]
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{where}[{i}]")]
        return [] if type(a) is type(b) and a == b else [f"{where}: {a!r} != {b!r}"]
    if math.isnan(a) and math.isnan(b):
        return []
    return [] if abs(a - b) <= TOLERANCE else [f"{where}: {a!r} != {b!r}"]


def board_differences(board: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """Where two leaderboard.json documents differ in what every runner must agree on."""
    found = differences({"primary": board["primary"], "metrics": board["metrics"]},
                        {"primary": expected["primary"], "metrics": expected["metrics"]})
    rows = {r["model"]: {k: r.get(k) for k in COMPARED} for r in board["rows"]}
    wanted = {r["model"]: {k: r.get(k) for k in COMPARED} for r in expected["rows"]}
    return found + differences(rows, wanted)

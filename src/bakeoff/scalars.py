"""numpy's scalars as Python's own, for every writer that knows only Python's kinds.

A search's parameters, an estimator's constraint bounds and a fitted value often arrive as
``np.int64(3)`` or ``np.float32(0.5)``: JSON cannot write them, and ``str`` would turn the number
3 into the text "3". One rule here, so a value is the same number in the store, in MLflow, in
the estimator index and in the app's YAML.
"""

from __future__ import annotations

from typing import Any


def plain(value: Any) -> Any:
    """A numpy scalar (or 0-d array) as the Python number or bool it holds; anything else as it
    is. Duck-typed on ``item`` and an empty ``shape``, so this imports no numpy."""
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "shape", None) == () else value

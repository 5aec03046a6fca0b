"""A generated table shaped like the real ones that broke a single preprocessor: numbers with
gaps, a low- and a high-cardinality text column, an ID-like column, dates as text, a boolean, and
rows without a target. The regression target is non-linear in ``x2`` and ``when``'s month."""

from __future__ import annotations

import numpy as np
import pandas as pd


def messy_table(rows: int = 3000, *, task: str = "regression", seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    when = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365 * 24, rows), unit="h")
    frame = pd.DataFrame({
        "x1": rng.normal(size=rows),
        "x2": rng.uniform(-3, 3, size=rows),
        "colour": rng.choice(["red", "green", "blue", None], size=rows, p=[0.4, 0.3, 0.2, 0.1]),
        "shop": rng.choice([f"shop-{i}" for i in range(rows * 2 // 3)], size=rows),  # high cardinality
        "customer": [f"c{i:07d}" for i in rng.permutation(rows)],  # an ID: one value per row
        "when": when.strftime("%Y-%m-%d %H:%M"),
        "member": rng.random(rows) > 0.5,
    })
    signal = np.sin(2 * frame["x2"]) * 2 + (frame["colour"] == "red") + np.cos(when.month.to_numpy() / 2)
    frame.loc[rng.random(rows) < 0.1, "x1"] = np.nan
    if task == "regression":
        target = signal + rng.normal(scale=0.2, size=rows)
    else:
        target = np.where(signal + rng.normal(scale=0.5, size=rows) > signal.median(), "yes", "no")
    frame["target"] = pd.Series(target).where(rng.random(rows) > 0.03)  # about 3% unlabelled
    return frame

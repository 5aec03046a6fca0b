"""Real tables with what raw rows bring to a served model: text, and missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bakeoff.examples import EXAMPLES


def mixed_breast_cancer() -> pd.DataFrame:
    """Breast cancer with a text feature (its mean texture in three bands) and 5% missing values
    in that column and in ``mean radius``."""
    frame = EXAMPLES["breast-cancer"]()
    frame.insert(0, "texture band", pd.qcut(frame["mean texture"], 3, labels=["low", "mid", "high"]).astype(str))
    rng = np.random.default_rng(0)
    for column in ("texture band", "mean radius"):
        frame.loc[rng.random(len(frame)) < 0.05, column] = None
    return frame

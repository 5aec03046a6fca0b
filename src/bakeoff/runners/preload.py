"""Imported once by the local runner's forkserver, so every model process starts warm. The runner
adds the modules of the run's own estimators (``catalog.module_of``), not all of scikit-learn's.

Each model gets a fresh process (a crash or a leak cannot touch the others), forked from a server
that has already paid for the imports a train step makes and for building the estimator catalog.
The steps import these lazily, to start fast in a pod; here we import them eagerly on purpose.
"""

import io

import joblib  # noqa: F401
import pandas as pd
import pyarrow.parquet  # noqa: F401
import skops.io  # noqa: F401
import threadpoolctl  # noqa: F401
from sklearn.compose import ColumnTransformer

from bakeoff import data, metrics, modeling, runs, search, steps, tracking, training, versions  # noqa: F401


def _first_calls() -> None:
    """What a train step's first calls import on their own, done once here: reading Parquet
    loads pyarrow's dataset layer, and selecting a DataFrame's columns loads narwhals' pandas
    backend (0.1 s of imports that every model's process would otherwise repeat)."""
    frame = pd.DataFrame({"number": [0.0, 1.0], "text": ["a", "b"]})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    frame = pd.read_parquet(io.BytesIO(buffer.getvalue()))
    ColumnTransformer([("number", "passthrough", ["number"])]).fit_transform(frame)


_first_calls()

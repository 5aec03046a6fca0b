"""Imported once by the local runner's forkserver, so every model process starts warm. The runner
adds the modules of the run's own estimators (``catalog.module_of``), not all of scikit-learn's.

Each model gets a fresh process (a crash or a leak cannot touch the others), forked from a server
that has already paid for the imports a train step makes and for building the estimator catalog.
The steps import these lazily, to start fast in a pod; here we import them eagerly on purpose.
"""

import joblib  # noqa: F401
import pyarrow.parquet  # noqa: F401
import skops.io  # noqa: F401
import sklearn.compose  # noqa: F401
import threadpoolctl  # noqa: F401

from bakeoff import data, metrics, modeling, runs, search, steps, training  # noqa: F401

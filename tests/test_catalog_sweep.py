"""Every classifier and regressor of the catalog, at its defaults, on a tiny table with numbers
with gaps, low- and high-cardinality text, an ID, dates and a boolean (tests/messy.py).

What cannot fit such data at all is listed in EXPECTED with the words the user sees in its failed
row; everything else must fit and predict. A new scikit-learn that adds an estimator puts it
under test with no change here.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from bakeoff import catalog, data, modeling
from bakeoff.records import Schema
from bakeoff.spec import DatasetSpec, ModelSpec
from messy import messy_table

ROWS = 240  # tiny: the sweep checks that each estimator takes the data, not how well it learns
MULTI_TASK = "For mono-task outputs"  # MultiTask*: they need several target columns
EXPECTED = {
    "QuadraticDiscriminantAnalysis": "Increase the value of `reg_param`",  # one-hot columns are collinear
    "SelfTrainingClassifier": "wraps another estimator, which a config cannot give",
    "CategoricalNB": "takes only category codes, not numbers",
    "CCA": "Reduce `n_components`",  # two components need two targets
    "PLSCanonical": "Reduce `n_components`",
    "IsotonicRegression": "2d array with 1 feature",  # one feature only
    "MultiTaskElasticNet": MULTI_TASK, "MultiTaskElasticNetCV": MULTI_TASK,
    "MultiTaskLasso": MULTI_TASK, "MultiTaskLassoCV": MULTI_TASK,
}


def _split(task: str) -> tuple[Schema, pd.DataFrame, np.ndarray]:
    frame = messy_table(ROWS, task=task, seed=3)
    spec = DatasetSpec(uri="t.csv", target="target")
    schema = data.schema_for(data.describe(frame, spec), spec)
    labelled = frame[frame["target"].notna()]
    y = labelled["target"].to_numpy()
    if task == "regression":  # positive, so that Poisson and Gamma regression apply too
        y = y - y.min() + 1
    return schema, labelled[schema.features], y


TABLES = {task: _split(task) for task in ("classification", "regression")}


@pytest.mark.parametrize("name", sorted(catalog.names()))
def test_estimator_takes_a_real_looking_table(name: str) -> None:
    schema, X, y = TABLES[catalog.names()[name]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence on 240 rows is not the question here
        if name in EXPECTED:
            with pytest.raises(Exception, match=re.escape(EXPECTED[name])):
                modeling.build_pipeline(ModelSpec(name="m", estimator=name), schema).fit(X, y)
            return
        pipeline = modeling.build_pipeline(ModelSpec(name="m", estimator=name), schema).fit(X, y)
        predictions = pipeline.predict(X.head(20))
    assert len(predictions) == 20 and not pd.isna(predictions).any()


def test_expected_failures_are_catalog_estimators() -> None:
    assert set(EXPECTED) <= set(catalog.names())  # a renamed estimator must not hide here

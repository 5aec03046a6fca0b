"""The hand-rolled baselines bakeoff is measured against: a workload's fits done one after another
in one process (the notebook loop) or with joblib.Parallel(n_jobs=2).

    python bench/fits.py sequential|joblib WORKLOAD DATA.csv

Each fit builds the same Pipeline bakeoff builds, fits on the same share of rows, and predicts
the validation and test rows, so both sides do the same model work.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import pandas as pd
from joblib import Parallel, delayed
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.discovery import all_estimators

from workloads import WORKLOADS

CLASSES = dict(all_estimators(type_filter="classifier"))


def fit_one(frame: pd.DataFrame, estimator: str, params: dict[str, Any]) -> float:
    X, y = frame.drop(columns=["label"]), frame["label"]
    rest_X, test_X, rest_y, _ = train_test_split(X, y, test_size=0.2, random_state=42, stratify=y)
    train_X, valid_X, train_y, _ = train_test_split(rest_X, rest_y, test_size=0.25, random_state=42, stratify=rest_y)
    pre = ColumnTransformer([("numeric", Pipeline([("impute", SimpleImputer(strategy="median")),
                                                   ("scale", StandardScaler())]), list(X.columns))])
    model = Pipeline([("preprocess", pre), ("model", CLASSES[estimator](**params))])
    model.fit(train_X, train_y)
    return float(model.predict_proba(valid_X).sum() + model.predict_proba(test_X).sum())


def main(mode: str, workload: str, path: str) -> None:
    frame = pd.read_csv(path)
    models = WORKLOADS[workload]["models"]
    start = time.perf_counter()
    if mode == "sequential":
        for _, estimator, params in models:
            fit_one(frame, estimator, params)
    else:
        Parallel(n_jobs=2)(delayed(fit_one)(frame, estimator, params) for _, estimator, params in models)
    print(f"{mode} {workload} fits: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main(*sys.argv[1:4])

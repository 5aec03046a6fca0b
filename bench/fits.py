"""The hand-rolled baselines bakeoff is measured against: the same four forest fits, done
one after another in one process (the notebook loop) or with joblib.Parallel(n_jobs=2).

    python bench/fits.py sequential|joblib DATA.csv

Each fit builds the same Pipeline bakeoff builds, fits on the same share of rows, and predicts
the validation and test rows, so both sides do the same model work.
"""

from __future__ import annotations

import sys
import time

import pandas as pd
from joblib import Parallel, delayed
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

SEEDS = (0, 1, 2, 3)
TREES = 100


def fit_one(frame: pd.DataFrame, seed: int) -> float:
    X, y = frame.drop(columns=["label"]), frame["label"]
    rest_X, test_X, rest_y, _ = train_test_split(X, y, test_size=0.2, random_state=42, stratify=y)
    train_X, valid_X, train_y, _ = train_test_split(rest_X, rest_y, test_size=0.25, random_state=42, stratify=rest_y)
    pre = ColumnTransformer([("numeric", Pipeline([("impute", SimpleImputer(strategy="median")),
                                                   ("scale", StandardScaler())]), list(X.columns))])
    model = Pipeline([("preprocess", pre), ("model", RandomForestClassifier(n_estimators=TREES, random_state=seed))])
    model.fit(train_X, train_y)
    return float(model.predict_proba(valid_X).sum() + model.predict_proba(test_X).sum())


def main(mode: str, path: str) -> None:
    frame = pd.read_csv(path)
    start = time.perf_counter()
    if mode == "sequential":
        for seed in SEEDS:
            fit_one(frame, seed)
    else:
        Parallel(n_jobs=2)(delayed(fit_one)(frame, seed) for seed in SEEDS)
    print(f"{mode} fits: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main(*sys.argv[1:3])

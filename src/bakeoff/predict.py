"""A fitted Pipeline's answers on raw rows, and `bakeoff predict`'s file in, parquet out.

``predictions`` is the one definition of what a model answers: `bakeoff predict` writes it, and
the served model (``served_model.py``, behind MLflow's scoring server or KServe) returns it. So a
row scored in batch and the same row posted to the service give the same numbers, by
construction rather than by two implementations kept in step.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pandas as pd

from bakeoff.errors import UserError
from bakeoff.modeling import answers

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

PREDICTION = "prediction"
PROBA_PREFIX = "proba_"
# Rows per predict call on a large file: each call is one step of the progress bar, and bounds
# the memory of the intermediate (one-hot encoded) matrix.
CHUNK_ROWS = 50_000
SHOWN_MISSING = 5

Progress = Callable[[int, int], None]  # (rows done, rows in all)


def predictions(pipeline: Pipeline, rows: pd.DataFrame, field: str = "--input") -> pd.DataFrame:
    """``prediction``, and for a classifier one ``proba_<class>`` column per class, row for row.

    Extra columns are ignored and the order of columns does not matter; a missing one is a
    UserError naming it, since the Pipeline would otherwise fail deep inside scikit-learn.
    """
    columns = list(pipeline.feature_names_in_)
    missing = [c for c in columns if c not in rows.columns]
    if missing:
        shown = ", ".join(repr(c) for c in missing[:SHOWN_MISSING])
        more = f" and {len(missing) - SHOWN_MISSING} more" if len(missing) > SHOWN_MISSING else ""
        raise UserError(f"{field}: missing column(s) {shown}{more}; give the raw feature columns the "
                        f"model was trained on ({len(columns)} in all)")
    if rows.empty:
        raise UserError(f"{field}: has no rows to predict")
    y_pred, proba = answers(pipeline, rows[columns])
    out = pd.DataFrame({PREDICTION: y_pred}, index=rows.index)
    if proba is not None:  # a classifier that gives probabilities
        for i, label in enumerate(pipeline[-1].classes_):
            out[f"{PROBA_PREFIX}{label}"] = proba[:, i]
    return out


def predictions_in_chunks(pipeline: Pipeline, rows: pd.DataFrame, on_progress: Progress | None = None,
                          field: str = "--input") -> pd.DataFrame:
    """``predictions`` of a large table in chunks of ``CHUNK_ROWS``, reporting after each."""
    parts = []
    for start in range(0, max(len(rows), 1), CHUNK_ROWS):
        parts.append(predictions(pipeline, rows.iloc[start:start + CHUNK_ROWS], field))
        if on_progress is not None:
            on_progress(min(start + CHUNK_ROWS, len(rows)), len(rows))
    return pd.concat(parts)


def predict_file(pipeline: Pipeline, input_uri: str, output_uri: str,
                 on_progress: Progress | None = None) -> int:
    """Score a CSV or parquet file (a path or s3://) and write the predictions as parquet.

    The output is written once, after every row is scored: a failure leaves nothing behind.
    Returns the number of rows scored.
    """
    from bakeoff.data import read_frame
    from bakeoff.storage import locate, read_uri

    if PurePosixPath(urlparse(output_uri).path).suffix.lower() not in (".parquet", ".pq"):
        raise UserError(f"--output: {output_uri} must end in .parquet; predictions are written as parquet")
    out_store, out_key = locate(output_uri, "--output")  # an unusable output fails before the work
    raw = read_uri(input_uri, "--input", "check the path (a relative one is read from the current folder)")
    rows = read_frame(raw, input_uri, "auto", "--input", "give a .csv or .parquet file")
    scored = predictions_in_chunks(pipeline, rows, on_progress)
    buffer = io.BytesIO()
    scored.to_parquet(buffer, index=False)
    out_store.write_bytes(out_key, buffer.getvalue())
    return len(scored)

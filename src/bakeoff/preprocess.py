"""Preprocessing chosen from the estimator: one place decides how each kind of column reaches it.

One preprocessor for every estimator fails on real tables: one-hot encoding a column with
thousands of levels gives sparse output that HistGradientBoosting, GaussianNB or LDA refuse,
and a date read as text becomes thousands of columns. So the estimator's own tags decide:

* sparse or dense output: scikit-learn's ``input_tags.sparse`` (never a fit that fails for want
  of ``.toarray()``), and whether missing numbers may stay NaN: ``input_tags.allow_nan``;
* text columns: HistGradientBoosting's native categorical support (ordinal codes plus
  ``categorical_features``), ordinal codes for other trees, and for everything else (linear
  models, SVMs, neighbours, neural nets) one-hot encoding bounded by ``max_categories``;
* scaling for estimators that are not trees (a tree's splits do not care about the scale), to
  [0, 1] for those that take only non-negative input (``input_tags.positive_only``: the
  multinomial and complement naive Bayes), standardized for the rest;
* dates: numeric parts (year, month, day, weekday, hour), or dropped.

A config may override each choice (``preprocess:``, spec.py); ``plan`` is the pure decision and
``build`` turns it into a ColumnTransformer (which a train step fits without the copy that
stacking its blocks costs: ``fit_unstacked`` and ``stack``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (FunctionTransformer, MinMaxScaler, OneHotEncoder, OrdinalEncoder,
                                   StandardScaler)
from sklearn.utils import get_tags

from bakeoff import catalog
from bakeoff.records import Schema
from bakeoff.spec import PreprocessSpec

Encoding = Literal["onehot", "ordinal", "native"]
# One-hot keeps this many columns per text column unless told otherwise: enough for the common
# levels of a real column, bounded for an ID-like one. Ordinal codes keep HistGradientBoosting's
# limit (max_bins), which bounds its native categories.
ONEHOT_MAX_CATEGORIES = 32
ORDINAL_MAX_CATEGORIES = 255
DATE_PARTS = ("year", "month", "day", "day_of_week", "hour")
# Features of trees are float32 (Plan.float32): half the memory of float64. Date parts are too:
# years, months and hours are exact in float32.
FEATURE_DTYPE = np.float32
# The most float64 cells' bytes a block of numeric columns is imputed and scaled in (see
# _dense_blocks).
NUMERIC_BLOCK_BYTES = 16 * 2**20


@dataclass(frozen=True)
class Plan:
    """How one estimator's columns are prepared; recorded in result.json and the leaderboard."""

    categorical: Encoding
    max_categories: int
    scale: bool
    impute: bool  # missing numbers filled with the median (False: the estimator takes NaN)
    sparse: bool  # one-hot output may stay sparse (the estimator accepts sparse input)
    dates: Literal["parts", "drop"]
    positive: bool = False  # the estimator takes only non-negative input: numbers scaled to [0, 1]
    # numbers read, and codes written, as float32: only for trees, which split float32 values
    # whatever they are given (scikit-learn's tree DTYPE), so their scores cannot change. Not for
    # HistGradientBoosting: its bin edges move with the rounding (diabetes' r2 0.4520 -> 0.4519).
    # Not for the others: a float32 fit's last digits follow the machine's SIMD and libm, and a
    # leaderboard must be the same to 1e-9 in a pod and on a laptop (tests/test_docker.py).
    float32: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One short cell for the leaderboard, e.g. ``onehot≤32 · scaled · sparse``."""
        parts = [f"{self.categorical}≤{self.max_categories}"]
        parts += ["scaled to [0, 1]" if self.positive else "scaled"] if self.scale else []
        parts += ["median-filled"] if self.impute else ["NaN kept"]
        parts += ["sparse"] if self.sparse else []
        parts += ["dates dropped"] if self.dates == "drop" else []
        parts += [] if self.float32 else ["float64"]
        return " · ".join(parts)


def _is_tree_model(estimator: BaseEstimator) -> bool:
    """Trees and their ensembles (forests, boosting, bagging of trees): splits on thresholds, so
    they need neither scaling nor one-hot columns."""
    return type(estimator).__module__.startswith(("sklearn.tree", "sklearn.ensemble"))


def _has_native_categories(estimator: BaseEstimator) -> bool:
    return "categorical_features" in estimator.get_params(deep=False)


def plan(estimator: BaseEstimator, settings: PreprocessSpec | None = None) -> Plan:
    """The preprocessing ``estimator`` gets: its tags and family decide ``auto``, ``settings``
    (the config's ``preprocess:``) override."""
    settings = settings or PreprocessSpec()
    try:
        tags = get_tags(estimator).input_tags
    except AttributeError:  # a meta-estimator describes itself through the estimator it wraps
        raise ValueError(f"{type(estimator).__name__} wraps another estimator, which a config cannot "
                         "give; use that estimator directly") from None
    if tags.categorical:  # CategoricalNB: every column must be codes, and numbers are not
        raise ValueError(f"{type(estimator).__name__} {catalog.CODES_ONLY}")
    tree = _is_tree_model(estimator)
    categorical: Encoding
    if settings.categorical != "auto":
        categorical = settings.categorical
    elif _has_native_categories(estimator):
        categorical = "native"
    else:  # a code of -1 for an unseen category would be negative: one-hot for positive-only input
        categorical = "ordinal" if tree and not tags.positive_only else "onehot"
    if categorical == "native" and not _has_native_categories(estimator):
        categorical = "ordinal"  # a top-level native means "where supported" (spec.py refuses a model's own)
    default_width = ONEHOT_MAX_CATEGORIES if categorical == "onehot" else ORDINAL_MAX_CATEGORIES
    width = settings.max_categories or default_width
    if categorical == "native":
        width = min(width, int(estimator.get_params().get("max_bins", ORDINAL_MAX_CATEGORIES)))
    scale = (not tree) if settings.scale == "auto" else bool(settings.scale)
    return Plan(categorical, width, scale, impute=not tags.allow_nan,
                sparse=categorical == "onehot" and tags.sparse, dates=settings.dates,
                positive=tags.positive_only, float32=tree and not _has_native_categories(estimator))


def date_parts(X: Any) -> np.ndarray:
    """Each date column as its numeric parts (``DATE_PARTS``); a value that is not a date is NaN.

    Module-level and stateless, so the saved pipeline refers to it by name (skops trusts exactly
    this function, modeling.loads)."""
    frame = pd.DataFrame(X)
    out = np.empty((len(frame), len(frame.columns) * len(DATE_PARTS)), dtype=FEATURE_DTYPE)
    for i, name in enumerate(frame.columns):
        when = pd.to_datetime(frame[name], errors="coerce", utc=True, format="mixed")
        for j, part in enumerate(DATE_PARTS):
            out[:, i * len(DATE_PARTS) + j] = getattr(when.dt, part).to_numpy(dtype=FEATURE_DTYPE, na_value=np.nan)
    return out


def _numeric_steps(p: Plan) -> list[tuple[str, Any]]:
    steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))] if p.impute else []
    if not p.scale:
        return steps
    # in place when the imputer's fresh array comes first (one copy of the numbers less); clip:
    # a test value outside the training range must not turn negative
    copy = not p.impute
    return steps + [("scale", MinMaxScaler(clip=True, copy=copy) if p.positive else StandardScaler(copy=copy))]


def _dtype(p: Plan) -> type:
    return FEATURE_DTYPE if p.float32 else np.float64


def _categorical_encoder(p: Plan) -> Any:
    if p.categorical == "onehot":
        return OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=p.max_categories,
                             sparse_output=p.sparse, dtype=_dtype(p))
    # An unseen category: NaN for HistGradientBoosting, which routes it as missing; -1, below
    # every real code, for trees that may not accept NaN.
    unknown = np.nan if p.categorical == "native" else -1
    return OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=unknown,
                          max_categories=p.max_categories, dtype=_dtype(p))


def _numeric_block_size(p: Plan, schema: Schema, rows: int | None) -> int:
    """How many numeric columns one imputer and scaler take. Imputing and scaling work column
    by column, but scikit-learn's median (a masked sort) makes about four temporary copies of
    whatever it is given, so on a large table the columns go in blocks of at most
    ``NUMERIC_BLOCK_BYTES`` (same numbers; LogisticRegression's train step on the 1,000,000-row
    table of README.md held 60 MiB more with 4 columns at a time than with 1). Each block is a
    branch of the ColumnTransformer that every prediction walks, about a millisecond each, so a
    small table, whose copies cost nothing, keeps its numbers in one block (README.md has the
    figures: one column per block made breast-cancer's served LogisticRegression many times slower).
    Without ``rows`` (a pipeline built outside a train step), one block; passed through, one."""
    if rows is None or not _numeric_steps(p):
        return max(1, len(schema.numeric))
    return max(1, NUMERIC_BLOCK_BYTES // (np.dtype(np.float64).itemsize * max(rows, 1)))


def _dense_width(p: Plan, schema: Schema) -> int:
    """How many columns the numeric and date transformers output (the native categories come
    after them)."""
    return len(schema.numeric) + (len(schema.dates) * len(DATE_PARTS) if schema.dates and p.dates == "parts" else 0)


def _dense_blocks(p: Plan, schema: Schema, rows: int | None) -> list[tuple[str, Any, list[str]]]:
    """The numeric and date transformers."""
    blocks: list[tuple[str, Any, list[str]]] = []
    steps = bool(_numeric_steps(p))
    size = _numeric_block_size(p, schema, rows)
    for start in range(0, len(schema.numeric), size):
        columns = schema.numeric[start:start + size]
        blocks.append((f"numeric-{start // size}", Pipeline(_numeric_steps(p)) if steps else "passthrough", columns))
    if schema.dates and p.dates == "parts":
        date_steps = [("parts", FunctionTransformer(date_parts)), *_numeric_steps(p)]
        blocks.append(("dates", Pipeline(date_steps), schema.dates))
    return blocks


def fit_unstacked(pre: ColumnTransformer, X: pd.DataFrame, y: Any = None) -> list[Any]:
    """Fit ``pre`` as ``fit_transform`` does, but return the blocks it would stack, in order (a
    sparse output: the one matrix, stacked as scikit-learn stacks it).

    ``fit_transform`` stacks the blocks (numbers, date parts, codes) into a new array while the
    blocks and the caller's frame are all still alive: three copies of the data at once, in a
    train step. Unstacked, the caller can drop its frame first, then ``stack`` the blocks. The
    stacking is ``_hstack``, the hook scikit-learn documents for subclasses; it is replaced on
    this one object for this one call, and not by a subclass, so that the saved model is a plain
    ColumnTransformer that loads wherever scikit-learn does (an MLflow sklearn model too)."""

    def unstacked(Xs: list[Any], *, n_samples: int) -> list[Any]:
        return [ColumnTransformer._hstack(pre, Xs, n_samples=n_samples)] if pre.sparse_output_ else Xs

    pre._hstack = unstacked  # type: ignore[method-assign]
    try:
        return pre.fit_transform(X, y)
    finally:
        del pre._hstack


def stack(blocks: list[Any]) -> Any:
    """The blocks side by side, as ``np.hstack`` gives them (same values, same dtype, C order),
    emptying ``blocks``: each block is released once it is copied, and a passed-through frame
    column by column, so that the caller's columns go as soon as they are in the result (a
    row-major result is touched whole by its first column: what this saves is the caller's
    frame, not the blocks). A lone sparse matrix is returned as is."""
    if len(blocks) == 1 and sparse.issparse(blocks[0]):
        return blocks.pop()
    dtypes = [dt for b in blocks for dt in (b.dtypes if isinstance(b, pd.DataFrame) else [b.dtype])]
    out = np.empty((blocks[0].shape[0], sum(b.shape[1] for b in blocks)), dtype=np.result_type(*dtypes))
    start = 0
    while blocks:
        block = blocks.pop(0)
        if isinstance(block, pd.DataFrame):  # passed through: the caller's columns, one at a time
            for name in list(block.columns):
                out[:, start] = block.pop(name).to_numpy()
                start += 1
        else:
            width = block.shape[1]
            out[:, start:start + width] = block.toarray() if sparse.issparse(block) else block
            start += width
        del block
    return out


def build(p: Plan, schema: Schema, rows: int | None = None) -> ColumnTransformer:
    """The ColumnTransformer for ``p``: numbers, date parts, then text columns, in that order;
    ``rows``, the rows it will be fitted on, sizes its numeric blocks (``_numeric_block_size``)."""
    blocks = _dense_blocks(p, schema, rows)
    if schema.categorical:
        # a missing text value is a category of its own: "missing" is often informative
        text = Pipeline([("impute", SimpleImputer(strategy="constant", fill_value="missing")),
                         ("encode", _categorical_encoder(p))])
        blocks.append(("categorical", text, schema.categorical))
    # sparse_threshold 0 unless the estimator takes sparse input: a dense estimator never gets a
    # sparse matrix, whatever the density of the one-hot block
    return ColumnTransformer(blocks, remainder="drop", sparse_threshold=0.3 if p.sparse else 0.0)


def native_categories(p: Plan, schema: Schema) -> list[int] | None:
    """The output columns HistGradientBoosting should treat as categories (``categorical_features``),
    or None when this plan encodes none natively."""
    if p.categorical != "native" or not schema.categorical:
        return None
    start = _dense_width(p, schema)
    return list(range(start, start + len(schema.categorical)))

"""Loading, schema inference, fingerprinting and splitting of the raw table.

A prepared dataset is content-addressed: its key is the sha256 of the raw bytes plus everything
that shapes the split (split spec, target, task). It is written once to
``datasets/<fingerprint>/`` and its ``manifest.json`` is written last, so a manifest's presence
means the splits beside it are complete.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from bakeoff.catalog import Task
from bakeoff.costs import Shape
from bakeoff.records import Schema
from bakeoff.errors import UserError
from bakeoff.header import column_problems, table_format
from bakeoff.spec import DatasetSpec, SplitSpec
from bakeoff.storage import ObjectStore

SPLITS = ("train", "valid", "test")
# An integer target with at most this many distinct values is read as class labels.
MAX_CLASSES_FOR_AUTO = 20


def read_table(raw: bytes, spec: DatasetSpec) -> pd.DataFrame:
    return read_frame(raw, spec.uri, spec.format, "dataset.uri", "check dataset.format")


def read_frame(raw: bytes, uri: str, fmt: str, field: str, fix: str) -> pd.DataFrame:
    """A CSV or parquet table from its bytes; ``auto`` tells them apart by the parquet magic
    number, then by ``uri``'s suffix. The datasets and `bakeoff predict`'s input are read here."""
    fmt = table_format(uri, fmt, raw)
    try:
        if fmt == "parquet":
            return pd.read_parquet(io.BytesIO(raw))
        return pd.read_csv(io.BytesIO(raw))
    except Exception as exc:  # pandas raises many types for one cause: the bytes are not that format
        raise UserError(f"{field}: cannot read {uri} as {fmt} ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}); {fix}") from None


def _infer_task(y: pd.Series) -> Task:
    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return "classification"
    values = y.dropna()
    integral = bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))
    return "classification" if integral and values.nunique() <= MAX_CLASSES_FOR_AUTO else "regression"


@dataclass(frozen=True)
class TableInfo:
    """The facts about a raw table that follow from its bytes and the target alone. They are
    stored in the prepared dataset's manifest, so a run on known data never parses it again."""

    target: str
    task: Task
    columns: dict[str, str]  # name -> "numeric" | "categorical", in the table's order
    classes: list[str | int | float] | None
    rows: int = 0  # rows with a target value: what the split divides


def describe(df: pd.DataFrame, spec: DatasetSpec) -> TableInfo:
    columns = list(df.columns)
    if problems := column_problems(spec, columns):
        raise UserError(*problems)
    y = df[spec.target]
    if y.isna().all():
        raise UserError(f"dataset.target: every value of {spec.target!r} is empty; pick the column "
                        "that holds the labels")
    task: Task = _infer_task(y) if spec.task == "auto" else spec.task
    if task == "regression" and not pd.api.types.is_numeric_dtype(y):
        raise UserError(f"dataset.task: regression needs a numeric target but {spec.target!r} "
                        f"holds text; set dataset.task: classification")
    kinds = {c: "numeric" if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])
             else "categorical" for c in columns}
    classes = sorted(y.dropna().unique().tolist()) if task == "classification" else None
    return TableInfo(spec.target, task, kinds, classes, int(y.notna().sum()))


def schema_for(info: TableInfo, spec: DatasetSpec) -> Schema:
    """This run's view of the table: the target, and the features left after ``drop``."""
    if problems := column_problems(spec, list(info.columns)):  # drop is not part of the fingerprint
        raise UserError(*problems)
    features = [c for c in info.columns if c != info.target and c not in spec.drop]
    if len(info.columns) == 1:
        raise UserError(f"dataset.uri: the table has no columns besides the target {info.target!r}")
    if not features:
        raise UserError("dataset.drop: no feature columns are left; drop fewer columns")
    numeric = [c for c in features if info.columns[c] == "numeric"]
    categorical = [c for c in features if info.columns[c] == "categorical"]
    return Schema(info.target, info.task, numeric, categorical, info.classes)


def infer_schema(df: pd.DataFrame, spec: DatasetSpec) -> Schema:
    return schema_for(describe(df, spec), spec)


def fingerprint(raw: bytes, dataset: DatasetSpec, split: SplitSpec) -> str:
    """Identity of a prepared dataset: the raw bytes, every setting that shapes the split, and
    the code that splits. The task is taken as configured: an inferred task is a function of
    these same bytes and code."""
    from bakeoff.versions import code_identity

    h = hashlib.sha256(raw)
    h.update(json.dumps({"split": split.model_dump(), "target": dataset.target, "task": dataset.task,
                         "format": dataset.format, "code": code_identity()}, sort_keys=True).encode())
    return h.hexdigest()


def split_sizes(rows: int, split: SplitSpec) -> tuple[int, int, int]:
    """Rows of train, valid and test for a table of ``rows`` labelled rows."""
    n_test = max(1, round(rows * split.test_size))
    n_valid = max(1, round(rows * split.valid_size))
    if rows - n_test - n_valid < 2:
        raise UserError(f"dataset.uri: {rows} labelled rows are too few to split; add rows")
    return rows - n_test - n_valid, n_valid, n_test


def shape(info: TableInfo, table: Schema, split: SplitSpec) -> Shape:
    """The shape a model of this run trains on, without splitting anything."""
    train, valid, test = split_sizes(info.rows, split)
    return Shape(train, valid, test, len(table.features))


def split_frame(df: pd.DataFrame, schema: Schema, split: SplitSpec) -> dict[str, pd.DataFrame]:
    """Deterministic train/valid/test split, stratified on the target for classification."""
    from sklearn.model_selection import train_test_split

    df = df[df[schema.target].notna()].reset_index(drop=True)
    stratify = schema.task == "classification"
    if stratify:
        counts = df[schema.target].value_counts()
        if counts.min() < 3:
            raise UserError(f"dataset.target: class {counts.idxmin()!r} has {counts.min()} row(s); a "
                            "stratified three-way split needs at least 3 per class; drop or merge it")
    _, n_valid, n_test = split_sizes(len(df), split)
    try:
        rest, test = train_test_split(df, test_size=n_test, random_state=split.seed,
                                      stratify=df[schema.target] if stratify else None)
        train, valid = train_test_split(rest, test_size=n_valid, random_state=split.seed,
                                        stratify=rest[schema.target] if stratify else None)
    except ValueError as exc:  # too few rows per class for the requested sizes
        raise UserError(f"split: cannot stratify ({exc}); lower test_size/valid_size or add rows") from None
    return {"train": train, "valid": valid, "test": test}


def _to_parquet(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def prepared_prefix(fp: str) -> str:
    return f"datasets/{fp}"


def write_prepared(store: ObjectStore, fp: str, splits: dict[str, pd.DataFrame], info: TableInfo) -> None:
    prefix = prepared_prefix(fp)
    for name, frame in splits.items():
        store.write_bytes(f"{prefix}/{name}.parquet", _to_parquet(frame))
    manifest = {"fingerprint": fp, "table": asdict(info),
                "rows": {name: len(frame) for name, frame in splits.items()}}
    store.write_bytes(f"{prefix}/manifest.json", json.dumps(manifest, indent=2, default=str).encode())


def prepared_table(store: ObjectStore, fp: str) -> TableInfo | None:
    """The stored facts of a prepared dataset, or None when it was never (fully) prepared."""
    from bakeoff.storage import MissingObject

    try:
        manifest = json.loads(store.read_bytes(f"{prepared_prefix(fp)}/manifest.json"))
    except MissingObject:
        return None
    return TableInfo(**manifest["table"]) if "table" in manifest else None


def read_split(store: ObjectStore, fp: str, name: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(store.read_bytes(f"{prepared_prefix(fp)}/{name}.parquet")))

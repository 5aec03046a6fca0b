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
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from bakeoff.catalog import Task
from bakeoff.costs import Shape
from bakeoff import records
from bakeoff.records import Schema
from bakeoff.errors import UserError, cut, listing, shorten
from bakeoff.header import column_problems, table_format
from bakeoff.spec import DatasetSpec, SplitSpec
from bakeoff.storage import ObjectStore

if TYPE_CHECKING:  # imported where a table is read or described: a run on known data needs neither
    import numpy as np
    import pandas as pd
    import pyarrow as pa

SPLITS = ("train", "valid", "test")
# An integer target with at most this many distinct values is read as class labels.
MAX_CLASSES_FOR_AUTO = 20
# A text column is ID-like when it has more distinct values than this, and more than this share
# of its rows: encoding it teaches a model nothing that generalizes to new rows.
ID_LIKE_MIN_DISTINCT = 100
ID_LIKE_SHARE = 0.9
# Text values looked at to decide whether a column holds dates.
DATE_SAMPLE = 200


def read_table(raw: bytes, spec: DatasetSpec) -> pd.DataFrame:
    return read_frame(raw, spec.uri, spec.format, "dataset.uri", "check dataset.format")


def read_frame(raw: bytes, uri: str, fmt: str, field: str, fix: str) -> pd.DataFrame:
    """A CSV or parquet table from its bytes; ``auto`` tells them apart by the parquet magic
    number, then by ``uri``'s suffix. The datasets and `bakeoff predict`'s input are read here."""
    import pandas as pd

    fmt = table_format(uri, fmt, raw)
    try:
        if fmt == "parquet":
            df = pd.read_parquet(io.BytesIO(raw))
            header = [str(c) for c in df.columns]
        else:
            df = pd.read_csv(io.BytesIO(raw))
            # pandas renames a repeated header `y` to `y.1`: read the header as written
            header = [str(c) for c in pd.read_csv(io.BytesIO(raw), header=None, nrows=1).iloc[0]]
    except Exception as exc:  # pandas raises many types for one cause: the bytes are not that format
        raise UserError(f"{field}: cannot read {uri} as {fmt} ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}); {fix}") from None
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:  # `y,y,a` would make a feature `y.1` of the target: a leak, never a fair score
        raise UserError(f"{field}: column {cut(repeated[0])} appears {header.count(repeated[0])} times "
                        "in the header; rename or remove the copies")
    return df


def _infer_task(y: pd.Series) -> Task:
    import numpy as np
    import pandas as pd

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
    columns: dict[str, str]  # name -> "numeric" | "categorical" | "date", in the table's order
    classes: list[str | int | float] | None
    rows: int = 0  # rows with a target value: what the split divides
    unlabelled: int = 0  # rows without a target value: dropped before the split
    id_like: list[str] = field(default_factory=list)  # text columns with about one value per row


def _looks_like_dates(col: pd.Series) -> bool:
    """A text column whose sampled values all parse as dates (and hold a digit, so that month or
    weekday names stay text)."""
    import pandas as pd

    sample = col.dropna().astype(str).head(DATE_SAMPLE)
    if sample.empty or not sample.str.contains(r"\d").all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", utc=True, format="mixed")
    return bool(parsed.notna().all())


def data_notes(unlabelled: int, id_like: list[str]) -> list[str]:
    """What prepare did to the table that a reader of the results should know, one line each."""
    notes = [f"{unlabelled:,} rows without a target value were dropped"] if unlabelled else []
    notes += [f"column {name!r} looks like an ID (about one value per row): it is encoded with a bounded "
              "number of levels; add it to dataset.drop if it carries no signal" for name in id_like]
    return notes


def column_kind(col: pd.Series) -> str:
    """numeric, date or categorical: how the model step reads a column."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(col):
        return "date"
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return "numeric"
    if (pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col)) and _looks_like_dates(col):
        return "date"
    return "categorical"


def id_like_columns(df: pd.DataFrame, kinds: dict[str, str]) -> list[str]:
    """Text columns with nearly one distinct value per row, such as ids and free text."""
    found = []
    for name, kind in kinds.items():
        if kind != "categorical":
            continue
        values = df[name].dropna()
        distinct = values.nunique()
        if distinct > ID_LIKE_MIN_DISTINCT and distinct > ID_LIKE_SHARE * len(values):
            found.append(name)
    return found


def describe(df: pd.DataFrame, spec: DatasetSpec) -> TableInfo:
    import pandas as pd

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
    kinds = {c: column_kind(df[c]) for c in columns}
    _refuse_infinities(df, [c for c, kind in kinds.items() if kind == "numeric"])
    labels = y.dropna()
    if labels.nunique() < 2:  # every model would "win" at a perfect score on one value
        what = "class" if task == "classification" else "value"
        raise UserError(f"dataset.target: {cut(spec.target)} has one {what} ({cut(labels.iloc[:1].tolist()[0])}) in "
                        f"all {len(labels)} labelled rows; a bake-off needs a target that varies: "
                        "check the column or the file")
    classes = sorted(labels.unique().tolist()) if task == "classification" else None
    labelled = int(y.notna().sum())
    features = {c: k for c, k in kinds.items() if c != spec.target}
    return TableInfo(spec.target, task, kinds, classes, labelled, len(df) - labelled,
                     id_like_columns(df, features))


def _refuse_infinities(df: pd.DataFrame, numeric: list[str]) -> None:
    """Refuse ``inf``/``-inf`` in numeric columns, naming the rows: scikit-learn rejects them in
    every fit, so each model would fail for the data's sake. An empty cell is the way to say
    "unknown" (it is imputed); the user decides what an infinity should become."""
    import numpy as np

    infinite = np.isinf(df[numeric].to_numpy(dtype=float, na_value=np.nan)) if numeric else np.zeros((len(df), 0), bool)
    rows = np.flatnonzero(infinite.any(axis=1))
    if rows.size:
        columns = [c for c, bad in zip(numeric, infinite.any(axis=0)) if bad]
        shown = listing((r + 1 for r in rows), limit=5)
        raise UserError(f"dataset.uri: {rows.size} row(s) hold inf or -inf (data rows {shown}, counted "
                        f"from 1 after the header; columns {shorten(', '.join(map(str, columns)))}); "
                        "empty those cells (they are imputed) or drop the rows")


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
    dates = [c for c in features if info.columns[c] == "date"]
    return Schema(info.target, info.task, numeric, categorical, info.classes, dates)


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
    digests = {}
    for name, frame in splits.items():
        store.write_bytes(f"{prefix}/{name}.parquet", parquet := _to_parquet(frame))
        digests[name] = records.sha256(parquet)
    manifest = {"schema": records.SCHEMA, "fingerprint": fp, "table": asdict(info),
                "rows": {name: len(frame) for name, frame in splits.items()}, "splits_sha256": digests}
    store.write_bytes(f"{prefix}/manifest.json", records.dumps(manifest))


PREPARE_AGAIN = "prepare the data again: `bakeoff run` does, or `bakeoff step prepare`"


def _manifest(store: ObjectStore, fp: str) -> dict[str, Any]:
    """A prepared dataset's manifest; ``MissingObject`` when it was never (fully) prepared,
    ``records.Damaged`` when it is not what was written."""
    from bakeoff.storage import MissingObject

    key = f"{prepared_prefix(fp)}/manifest.json"
    manifest = records.load(store, key, PREPARE_AGAIN)
    if manifest is None:  # absent, or written by another layout version
        raise MissingObject(store.uri(key))
    return manifest


def _split_bytes(store: ObjectStore, fp: str, name: str, manifest: dict[str, Any]) -> bytes:
    """A split's Parquet bytes, refused (``records.Damaged``) unless they are what the manifest says."""
    key = f"{prepared_prefix(fp)}/{name}.parquet"
    raw = store.read_bytes(key)
    if records.sha256(raw) != manifest["splits_sha256"][name]:
        raise records.Damaged(store.uri(key), "its sha256 does not match manifest.json", PREPARE_AGAIN)
    return raw


def stored_table(store: ObjectStore, fp: str) -> TableInfo:
    """The table facts a prepared dataset's manifest holds, the manifest checked but not the
    splits: for a runner that plans right after prepare checked or wrote them (hashing them
    again would read the whole dataset, from S3 on a cluster, for a row count)."""
    return TableInfo(**_manifest(store, fp)["table"])


def prepared_table(store: ObjectStore, fp: str) -> TableInfo | None:
    """The stored facts of a prepared dataset, or None when it was never (fully) prepared, or
    its manifest or any split is not what was written: then it is prepared again, with one
    warning line (a truncated split once failed every model, even with --no-cache)."""
    from bakeoff.storage import MissingObject

    try:
        manifest = _manifest(store, fp)
        for name in manifest["splits_sha256"]:
            _split_bytes(store, fp, name, manifest)
    except MissingObject:
        return None
    except records.Damaged as exc:
        records.warn(f"{exc.uri}: damaged ({exc.why}); the data is prepared again")
        return None
    return TableInfo(**manifest["table"])


def read_split(store: ObjectStore, fp: str, name: str, schema: Schema,
               float32: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    """A split's features and target, as a train step needs them and no more.

    Column by column, so that the Parquet bytes, Arrow's copy and pandas' are never all held at
    once; only the schema's columns (not those dropped); with ``float32``, float64 features as
    float32, half the memory, for estimators whose scores it leaves unchanged
    (preprocess.Plan.float32). The target keeps its type."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    raw = _split_bytes(store, fp, name, _manifest(store, fp))
    table = pq.ParquetFile(io.BytesIO(raw))
    features = {}
    for column in schema.features:
        values = table.read(columns=[column]).column(0)
        if float32 and pa.types.is_float64(values.type):
            values = values.cast(pa.float32())
        text = pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
        features[column] = pd.Series(_shared_text(values), dtype=object) if text else values.to_pandas()
    y = table.read(columns=[schema.target]).column(0).to_pandas().to_numpy()
    del raw, table
    pa.default_memory_pool().release_unused()  # Arrow's allocator keeps freed pages otherwise
    return pd.DataFrame(features, copy=False), y


def _shared_text(values: pa.ChunkedArray) -> np.ndarray:
    """A text column as an object array in which equal values are one Python string, and a
    missing one NaN. scikit-learn's imputer and encoders turn text into such an array anyway,
    but from pandas' strings they make a new string object for every row (about 70 MiB for
    600,000 rows of one column, at the train step's peak); from this array, only pointers."""
    import numpy as np

    encoded = values.dictionary_encode().combine_chunks()
    levels = np.append(encoded.dictionary.to_numpy(zero_copy_only=False), np.nan)
    return levels[encoded.indices.fill_null(len(levels) - 1).to_numpy()]


class Splits:
    """A prepared dataset's splits, each read when first asked for (``features`` and ``targets``
    are mappings by split name): a train step holds only the training split while it fits, and
    the validation and test splits join it for predicting."""

    def __init__(self, store: ObjectStore, fp: str, schema: Schema, *, float32: bool = True) -> None:
        self._store, self._fp, self._schema, self._float32 = store, fp, schema, float32
        self._features: dict[str, pd.DataFrame] = {}
        self._targets: dict[str, np.ndarray] = {}
        # ``features.pop("train")`` hands the training frame over: once its taker drops it, its
        # memory is free for the estimator's fit (training.evaluate)
        self.features: MutableMapping[str, pd.DataFrame] = _Lazy(lambda name: self._read(name, self._features),
                                                                  self._features.pop)
        self.targets: Mapping[str, np.ndarray] = _Lazy(lambda name: self._read(name, self._targets))

    def _read(self, name: str, cache: dict[str, Any]) -> Any:
        if name not in cache:
            try:
                X, y = read_split(self._store, self._fp, name, self._schema, self._float32)
            except UserError as exc:  # the store failed, whenever the split is read: never the model
                raise StoreFailed(*exc.problems) from exc
            self._features[name], self._targets[name] = X, y
        return cache[name]

    def example(self, rows: int = 5) -> pd.DataFrame:
        """The training split's first rows with float64 numbers, as users send them: an MLflow
        signature built from float32 columns would refuse float64 input."""
        head = self.features["train"].head(rows)
        return head.astype({c: "float64" for c, kind in head.dtypes.items() if kind == "float32"})

    def rows(self) -> dict[str, int]:
        """Rows of each split, from the manifest prepare wrote (no split is read)."""
        manifest = _manifest(self._store, self._fp)
        return {name: int(manifest["rows"][name]) for name in SPLITS}


class StoreFailed(UserError):
    """A split could not be read from the store: the step fails (a retry can apply), never the
    model, even when the split is first read in the middle of evaluating it."""


class _Lazy(MutableMapping):
    """A mapping over the split names whose values are read on access; deleting one forgets it
    (``forget``), so that its memory can be freed. Nothing can be set."""

    def __init__(self, get: Callable[[str], Any], forget: Callable[[str], Any] | None = None) -> None:
        self._get, self._forget = get, forget

    def __setitem__(self, name: str, value: Any) -> None:
        raise TypeError("the splits are read from the store; they cannot be set")

    def __delitem__(self, name: str) -> None:
        if self._forget is None:
            raise TypeError("only the features of a split can be forgotten")
        self._forget(name)

    def __getitem__(self, name: str) -> Any:
        if name not in SPLITS:
            raise KeyError(name)
        return self._get(name)

    def __iter__(self) -> Iterator[str]:
        return iter(SPLITS)

    def __len__(self) -> int:
        return len(SPLITS)

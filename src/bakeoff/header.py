"""A dataset's column names, read from its first bytes (CSV) or its footer (Parquet) and nothing
more, so `bakeoff validate` checks ``target`` and ``drop`` in a fraction of a second, even for a
table of gigabytes in S3, and without pandas.

The names are pandas' names for the same file (a repeated name gets ``.1``, an empty one
``Unnamed: i``), so what validate accepts is what prepare finds.
"""

from __future__ import annotations

import csv
import io
from pathlib import PurePosixPath
from urllib.parse import urlparse

from bakeoff.errors import UserError, did_you_mean, listing
from bakeoff.spec import DatasetSpec
from bakeoff.storage import ObjectStore, located

PARQUET_MAGIC = b"PAR1"
FIRST_READ = 64 * 1024  # doubled until the header row ends, up to MAX_HEADER
MAX_HEADER = 16 * 1024 * 1024


def table_format(uri: str, fmt: str, first_bytes: bytes) -> str:
    """csv or parquet: ``fmt`` unless it is auto, else Parquet's magic bytes or the file's suffix."""
    if fmt != "auto":
        return fmt
    suffix = PurePosixPath(urlparse(uri).path).suffix.lower()
    return "parquet" if first_bytes[:4] == PARQUET_MAGIC or suffix in (".parquet", ".pq") else "csv"


def column_names(spec: DatasetSpec) -> list[str]:
    """The table's columns, in order, as pandas would name them."""
    with located(spec.uri) as (store, key):
        fmt = table_format(spec.uri, spec.format, store.read_part(key, 0, len(PARQUET_MAGIC)))
        try:
            return _parquet_names(store, key) if fmt == "parquet" else _csv_names(store, key)
        except (ValueError, OSError) as exc:  # pyarrow and csv say "not this format" in these
            raise UserError(f"dataset.uri: cannot read the header of {spec.uri} as {fmt} ({type(exc).__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}); check dataset.format") from None


def _csv_names(store: ObjectStore, key: str) -> list[str]:
    size = FIRST_READ
    while True:
        chunk = store.read_part(key, 0, size)
        # A character cut in two at the end of the chunk is replaced; it is never in the header row.
        rows = csv.reader(io.StringIO(chunk.decode("utf-8-sig", errors="replace")))
        header = next(rows, [])
        if len(chunk) < size or next(rows, None) is not None or size >= MAX_HEADER:
            return _as_pandas_names(header)
        size *= 4


def _as_pandas_names(header: list[str]) -> list[str]:
    names: list[str] = []
    for i, name in enumerate(header):
        name = name or f"Unnamed: {i}"
        base, n = name, 0
        while name in names:
            n += 1
            name = f"{base}.{n}"
        names.append(name)
    return names


def _parquet_names(store: ObjectStore, key: str) -> list[str]:
    """From the footer alone: its length is in the last 8 bytes, before the magic."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    end = store.read_part(key, -8, 8)
    if len(end) < 8 or end[4:] != PARQUET_MAGIC:
        raise ValueError("no Parquet footer at the end of the file")
    length = int.from_bytes(end[:4], "little")
    schema = pq.read_schema(pa.py_buffer(PARQUET_MAGIC + store.read_part(key, -(length + 8), length + 8)))
    index = {c for c in (schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
    return [name for name in schema.names if name not in index]  # a saved pandas index is not a column


def column_problems(spec: DatasetSpec, columns: list[str]) -> list[str]:
    """``target`` and every ``drop`` must name a column: what validate checks from the header and
    prepare from the table."""
    problems = []
    if spec.target not in columns:
        problems.append(f"dataset.target: no column {spec.target!r}{did_you_mean(spec.target, columns)}; "
                        f"columns are {listing(columns)}")
    problems += [f"dataset.drop[{i}]: no column {col!r}{did_you_mean(col, columns)}; remove it or fix the name"
                 for i, col in enumerate(spec.drop) if col not in columns]
    return problems

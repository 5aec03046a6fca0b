"""`bakeoff validate` reads a dataset's header only (CSV first row, Parquet footer), locally and in
S3, and names the columns as pandas does, so it accepts exactly what prepare accepts."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_breast_cancer

from bakeoff.errors import UserError, listing
from bakeoff.header import column_names, column_problems
from bakeoff.spec import DatasetSpec
from bakeoff.storage import LocalStore, open_store
from conftest import bakeoff


def cancer() -> pd.DataFrame:
    return load_breast_cancer(as_frame=True).frame


def awkward() -> pd.DataFrame:
    """Names pandas rewrites (a repeat, an empty one), a quoted comma and a newline in a name."""
    frame = cancer().iloc[:50, :4]
    frame.columns = ["mean radius", "mean radius", "", 'a "quoted", name\nover two lines']
    return frame.assign(target=cancer()["target"].iloc[:50])


def parquet(frame: pd.DataFrame, index: bool = False) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=index)
    return buf.getvalue()


@pytest.mark.parametrize(("name", "raw", "read"), [
    ("cancer.csv", lambda: cancer().to_csv(index=False).encode(), pd.read_csv),
    ("awkward.csv", lambda: awkward().to_csv(index=False).encode(), pd.read_csv),
    ("cancer.parquet", lambda: parquet(cancer()), pd.read_parquet),
    ("indexed-no-suffix", lambda: parquet(cancer().set_index("target"), index=True), pd.read_parquet),
])
def test_header_names_are_pandas_names(tmp_path: Path, name: str, raw, read) -> None:  # noqa: ANN001
    path = tmp_path / name
    path.write_bytes(raw())
    assert column_names(DatasetSpec(uri=str(path), target="target")) == [str(c) for c in read(path).columns]


def test_a_wide_csv_header_is_read_past_the_first_chunk(tmp_path: Path) -> None:
    names = [f"feature_{i:05d}_{'x' * 20}" for i in range(5000)]  # a header row of about 150 kB
    path = tmp_path / "wide.csv"
    path.write_text(",".join(names) + "\n" + ",".join("1" for _ in names) + "\n")
    assert column_names(DatasetSpec(uri=str(path), target="feature_00000")) == names


def test_only_the_ends_of_a_big_file_are_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 30 MB CSV and its Parquet: the header comes from a few kilobytes of each."""
    frame = pd.concat([cancer()] * 300, ignore_index=True)
    store = LocalStore(tmp_path)
    store.write_bytes("big.csv", frame.to_csv(index=False).encode())
    store.write_bytes("big.parquet", parquet(frame))
    read: list[int] = []
    original = LocalStore.read_part

    def counted(self: LocalStore, key: str, offset: int, length: int) -> bytes:
        part = original(self, key, offset, length)
        read.append(len(part))
        return part

    monkeypatch.setattr(LocalStore, "read_part", counted)
    for key in ("big.csv", "big.parquet"):
        read.clear()
        assert column_names(DatasetSpec(uri=store.uri(key), target="target")) == list(frame.columns)
        assert (tmp_path / key).stat().st_size > 1_000_000 and sum(read) < 100_000, (key, read)


def test_header_from_s3(s3_env) -> None:  # noqa: ANN001
    s3_env.make_bucket("header-test")
    store = open_store("s3://header-test/data")
    store.write_bytes("cancer.csv", cancer().to_csv(index=False).encode())
    store.write_bytes("cancer.parquet", parquet(cancer()))
    for key in ("cancer.csv", "cancer.parquet"):
        assert column_names(DatasetSpec(uri=store.uri(key), target="target")) == list(cancer().columns)
    with pytest.raises(UserError, match="^dataset.uri: s3://header-test/data/gone.csv does not exist"):
        column_names(DatasetSpec(uri=store.uri("gone.csv"), target="target"))


def test_a_file_that_is_not_parquet_says_so(tmp_path: Path) -> None:
    path = tmp_path / "fake.parquet"
    path.write_bytes(b"a,b\n1,2\n")
    with pytest.raises(UserError, match=r"^dataset.uri: cannot read the header of .* as parquet .*check dataset.format"):
        column_names(DatasetSpec(uri=str(path), target="a"))


def test_problems_name_the_field_and_list_every_column_count() -> None:
    columns = [f"c{i}" for i in range(31)]
    [target, drop] = column_problems(DatasetSpec(uri="x.csv", target="c_1", drop=["c3", "c99"]), columns)
    assert target.startswith("dataset.target: no column 'c_1' (did you mean c1?); columns are c0, c1,")
    assert target.endswith("c19 … and 11 more")
    assert drop.startswith("dataset.drop[1]: no column 'c99'")
    assert listing(["a", "b"]) == "a, b" and listing(range(3), limit=2) == "0, 1 … and 1 more"


def test_validate_catches_a_misspelt_target_unless_offline(project) -> None:  # noqa: ANN001
    config = project("breast-cancer")
    ok = bakeoff("validate", str(config))
    assert ok.code == 0 and "31 columns, target diagnosis" in ok.stdout
    config.write_text(config.read_text().replace("target: diagnosis", "target: diagnosys"))
    bad = bakeoff("validate", str(config))
    assert bad.code == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.splitlines() == [bad.stderr.strip()]  # one line
    assert bad.stderr.startswith("error: dataset.target: no column 'diagnosys' (did you mean diagnosis?)")
    assert bad.stderr.strip().endswith("… and 11 more")
    assert bakeoff("validate", "--offline", str(config)).code == 0
    config.write_text(yaml.safe_dump({**yaml.safe_load(config.read_text()),
                                      "dataset": {"uri": "data/missing.csv", "target": "diagnosis"}}))
    missing = bakeoff("validate", str(config))
    assert missing.code == 2 and missing.stderr.startswith("error: dataset.uri: ") and "does not exist" in missing.stderr

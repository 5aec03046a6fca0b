"""Loading, task inference, fingerprints and splits, on real data with gaps and text columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_diabetes, load_wine

from bakeoff import data
from bakeoff.errors import UserError
from bakeoff.spec import DatasetSpec, SplitSpec
from bakeoff.storage import LocalStore


def messy_wine() -> pd.DataFrame:
    """The wine data with a text column and missing values, as real tables come."""
    ds = load_wine(as_frame=True)
    frame = ds.data.copy()
    frame["colour"] = pd.cut(frame["color_intensity"], 3, labels=["pale", "medium", "deep"]).astype(str)
    rng = np.random.default_rng(0)
    for col in ("alcohol", "magnesium", "colour"):
        frame.loc[rng.random(len(frame)) < 0.1, col] = None
    frame["cultivar"] = ds.target.map(dict(enumerate(ds.target_names)))
    return frame


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    import io

    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


@pytest.mark.parametrize(("encode", "uri"), [(csv_bytes, "wine.csv"), (parquet_bytes, "wine.parquet"),
                                              (parquet_bytes, "no-suffix")])
def test_csv_and_parquet_read_to_the_same_schema(encode, uri: str) -> None:  # noqa: ANN001
    spec = DatasetSpec(uri=uri, target="cultivar")
    frame = data.read_table(encode(messy_wine()), spec)
    schema = data.infer_schema(frame, spec)
    assert schema.task == "classification"
    assert schema.categorical == ["colour"] and "alcohol" in schema.numeric
    assert schema.classes == ["class_0", "class_1", "class_2"]
    assert frame["alcohol"].isna().sum() > 0


def test_task_inference() -> None:
    ds = load_diabetes(as_frame=True, scaled=False)
    frame = ds.frame
    assert data.infer_schema(frame, DatasetSpec(uri="d.csv", target="target")).task == "regression"
    frame = frame.assign(label=(frame["target"] > 140).astype(int))
    assert data.infer_schema(frame, DatasetSpec(uri="d.csv", target="label")).task == "classification"
    forced = data.infer_schema(frame, DatasetSpec(uri="d.csv", target="label", task="regression"))
    assert forced.task == "regression"


def test_split_is_deterministic_stratified_and_disjoint() -> None:
    frame = messy_wine()
    spec, split = DatasetSpec(uri="w.csv", target="cultivar"), SplitSpec(test_size=0.25, valid_size=0.2, seed=3)
    schema = data.infer_schema(frame, spec)
    a, b = data.split_frame(frame, schema, split), data.split_frame(frame, schema, split)
    for name in data.SPLITS:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert sum(len(a[n]) for n in data.SPLITS) == len(frame)
    assert len(a["test"]) == round(len(frame) * 0.25) and len(a["valid"]) == round(len(frame) * 0.2)
    overall = frame["cultivar"].value_counts(normalize=True)
    for name in data.SPLITS:
        share = a[name]["cultivar"].value_counts(normalize=True)
        assert (share - overall).abs().max() < 0.06, name
    other = data.split_frame(frame, schema, split.model_copy(update={"seed": 4}))
    assert not a["test"].index.equals(other["test"].index)


def test_fingerprint_changes_with_bytes_and_split_only() -> None:
    raw = csv_bytes(messy_wine())
    spec, split = DatasetSpec(uri="w.csv", target="cultivar"), SplitSpec()
    base = data.fingerprint(raw, spec, split)
    assert base == data.fingerprint(raw, spec.model_copy(update={"drop": ["hue"]}), split)
    assert base != data.fingerprint(raw + b"\n", spec, split)
    assert base != data.fingerprint(raw, spec, split.model_copy(update={"seed": 1}))
    assert base != data.fingerprint(raw, spec.model_copy(update={"target": "hue"}), split)


def test_prepared_splits_round_trip_with_manifest_last(tmp_path) -> None:  # noqa: ANN001
    store = LocalStore(tmp_path)
    frame = messy_wine()
    spec = DatasetSpec(uri="w.csv", target="cultivar")
    info = data.describe(frame, spec)
    assert data.prepared_table(store, "fp") is None
    schema = data.schema_for(info, spec)
    data.write_prepared(store, "fp", data.split_frame(frame, schema, SplitSpec()), info)
    assert store.list("datasets/fp") == ["datasets/fp/manifest.json", "datasets/fp/test.parquet",
                                         "datasets/fp/train.parquet", "datasets/fp/valid.parquet"]
    train, target = data.read_split(store, "fp", "train", schema)
    assert train["colour"].isna().sum() > 0 and list(train.columns) == schema.features
    assert len(target) == len(train) and schema.target not in train.columns
    # a later run reads the table's facts back instead of parsing it, and applies its own drop
    stored = data.prepared_table(store, "fp")
    assert stored == info
    dropped = data.schema_for(stored, spec.model_copy(update={"drop": ["colour", "hue"]}))
    assert dropped == data.infer_schema(frame, spec.model_copy(update={"drop": ["colour", "hue"]}))
    assert "colour" not in dropped.features and dropped.categorical == []


@pytest.mark.parametrize(("spec", "raw", "message"), [
    (DatasetSpec(uri="w.csv", target="cultivr"), None, "dataset.target: no column 'cultivr' (did you mean cultivar?)"),
    (DatasetSpec(uri="w.csv", target="cultivar", drop=["hew"]), None, "dataset.drop[0]: no column 'hew' (did you mean hue?)"),
    (DatasetSpec(uri="w.csv", target="colour", task="regression"), None, "dataset.task: regression needs a numeric target"),
    (DatasetSpec(uri="w.parquet", target="x", format="parquet"), b"a,b\n1,2\n", "dataset.uri: cannot read w.parquet as parquet"),
])
def test_data_errors_name_the_field(spec: DatasetSpec, raw: bytes | None, message: str) -> None:
    with pytest.raises(UserError) as info:
        frame = data.read_table(raw, spec) if raw else messy_wine()
        data.infer_schema(frame, spec)
    assert str(info.value).startswith(message)


def test_a_class_too_small_to_stratify_is_a_clear_error() -> None:
    frame = messy_wine()
    frame.loc[0, "cultivar"] = "class_rare"
    schema = data.infer_schema(frame, DatasetSpec(uri="w.csv", target="cultivar"))
    with pytest.raises(UserError, match="class 'class_rare' has 1 row"):
        data.split_frame(frame, schema, SplitSpec())

"""What keeps a train step's memory near its table's (the figure itself: bench/memory_bench.py):
only the schema's columns are read, float features as float32, the validation and test splits
only when asked for, the preprocessed blocks stacked without a copy beside them, and the
supervising process does not import scikit-learn."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from bakeoff import data, modeling, records, steps
from bakeoff.predict import predictions
from bakeoff.runs import create_run
from bakeoff.spec import parse_experiment
from bakeoff.storage import LocalStore
from messy import messy_table


def _prepared_run(tmp_path: Path):  # noqa: ANN202
    frame = messy_table(1200, task="classification")
    frame.to_parquet(tmp_path / "messy.parquet", index=False)
    exp = parse_experiment({
        "experiment": "memory", "dataset": {"uri": str(tmp_path / "messy.parquet"), "target": "target",
                                            "drop": ["customer"]},
        "models": [{"name": "logistic", "estimator": "LogisticRegression", "timeout": 77}],
        "storage": str(tmp_path / "store")})
    run = create_run(LocalStore(tmp_path / "store"), exp)
    return run, steps.prepare(run.uri)


def test_a_split_is_read_as_the_schema_says_and_only_when_needed(tmp_path: Path) -> None:
    run, prepared = _prepared_run(tmp_path)
    schema = prepared.table
    splits = data.Splits(run.store, prepared.fingerprint, schema)
    X = splits.features["train"]
    assert list(X.columns) == schema.features and "customer" not in X.columns  # dropped: never read
    assert {str(X[c].dtype) for c in schema.numeric} == {"float32"}
    # text as pandas reads it, but each level one Python string (not one per row), missing as NaN
    stored = pd.read_parquet(tmp_path / "store" / data.prepared_prefix(prepared.fingerprint) / "train.parquet")
    text = [c for c in schema.categorical if str(stored[c].dtype) == "str"]
    assert text and {str(X[c].dtype) for c in text} == {"object"}
    pd.testing.assert_frame_equal(X[text], stored[text].astype(object))
    for column in text:
        assert len({id(v) for v in X[column]}) <= X[column].nunique() + 1
    # MLflow's signature example keeps float64, so that serving accepts what users send
    assert {str(splits.example()[c].dtype) for c in schema.numeric} == {"float64"}
    assert set(splits.targets["train"]) == {"no", "yes"}  # the target keeps its type
    assert list(splits._features) == ["train"]  # valid and test wait until they are asked for
    rows = splits.rows()
    assert sum(rows.values()) == 1200 - prepared.unlabelled > 0  # rows without a target were dropped
    assert len(splits.features["test"]) == rows["test"] and set(splits._features) == {"train", "test"}
    assert splits.features.pop("train") is X  # handed over: the splits hold it no more
    assert set(splits._features) == {"test"} and len(splits.targets["train"]) == rows["train"]


class _Probe(BaseEstimator):
    """Notes, when fitted, whether the training frame is still alive somewhere."""

    def __init__(self, frame: weakref.ref | None = None) -> None:
        self.frame = frame

    def fit(self, X: np.ndarray, y: np.ndarray) -> _Probe:
        gc.collect()
        self.frame_alive_ = self.frame() is not None
        return self


def test_the_training_frame_is_freed_before_the_estimator_fits() -> None:
    X = {"train": pd.DataFrame({"a": np.arange(50.0), "b": np.arange(50.0) % 7})}
    probe = _Probe(weakref.ref(X["train"]))
    pipeline = Pipeline([("preprocess", ColumnTransformer([("scale", StandardScaler(), ["a", "b"])])),
                         ("model", probe)])
    fitted = modeling.fit(pipeline, X.pop("train"), np.arange(50) % 2, threads=1)
    assert fitted.pipeline.named_steps["model"].frame_alive_ is False
    assert fitted.pipeline.named_steps["preprocess"].transform(pd.DataFrame({"a": [1.0], "b": [2.0]})).shape == (1, 2)


def test_a_split_the_store_cannot_give_mid_evaluation_fails_the_step_not_the_model(tmp_path: Path) -> None:
    run, prepared = _prepared_run(tmp_path)
    # the store loses the test split after prepare: train reads, the split read after the fit fails
    (tmp_path / "store" / data.prepared_prefix(prepared.fingerprint) / "test.parquet").unlink()
    job = prepared.jobs["logistic"]
    with pytest.raises(data.StoreFailed, match="test.parquet"):
        steps.train(run.store.root, job, "logistic")
    assert records.read_result(run.store, job) is None  # nothing recorded: a retry trains it again


def test_the_supervising_process_reads_the_timeout_without_scikit_learn(tmp_path: Path) -> None:
    run, _ = _prepared_run(tmp_path)
    probe = ("import sys; from bakeoff.runs import Run; run = Run.from_uri(sys.argv[1]); "
             "print(run.model_timeout('logistic'), "
             "sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'pandas', 'pyarrow'}))")
    out = subprocess.run([sys.executable, "-c", probe, run.uri], capture_output=True, text=True, check=True)
    assert out.stdout.split(None, 1) == ["77", "[]\n"]


class _CountingScaler(StandardScaler):
    """Counts the passes of preprocessing at predict time."""

    passes = 0

    def transform(self, X, copy=None):  # noqa: ANN001, ANN201
        type(self).passes += 1
        return super().transform(X, copy=copy)


def test_a_split_is_preprocessed_once_for_its_predictions_and_probabilities() -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    columns = list(X.columns)
    pipeline = Pipeline([("preprocess", ColumnTransformer([("scale", _CountingScaler(), columns)])),
                         ("model", LogisticRegression(max_iter=500))])
    fitted = modeling.fit(pipeline, X.iloc[:400], y.to_numpy()[:400], threads=1).pipeline
    _CountingScaler.passes = 0
    outcome, seconds = modeling.predict(fitted, X.iloc[400:], y.to_numpy()[400:])
    assert _CountingScaler.passes == 1 and seconds > 0
    # the same answers as the Pipeline's own predict and predict_proba (which preprocess twice)
    np.testing.assert_array_equal(outcome.y_pred, np.searchsorted(fitted.classes_, fitted.predict(X.iloc[400:])))
    np.testing.assert_array_equal(outcome.proba, fitted.predict_proba(X.iloc[400:]))
    served = predictions(fitted, X.iloc[400:])  # what bakeoff predict and the served model answer
    np.testing.assert_array_equal(served["proba_1"].to_numpy(), outcome.proba[:, 1])


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            found += children
            todo += children
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a pod's process tree: Linux's /proc")
def test_a_train_step_is_two_processes_and_nothing_beside_them(tmp_path: Path) -> None:
    """`bakeoff step train` forks its one child: no resource-tracker process beside them (spawn
    starts one, 12 MiB in a pod), and the child trains and records its result as before."""
    import time

    run, prepared = _prepared_run(tmp_path)
    step = subprocess.Popen([str(Path(sys.executable).parent / "bakeoff"), "step", "train", "--run-uri", run.uri,
                             "--model", "logistic", "--no-cache"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    while step.poll() is None and time.monotonic() < deadline:
        for pid in _descendants(step.pid):
            try:
                seen.add(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                pass
        time.sleep(0.02)
    assert step.wait(timeout=10) == 0, step.stderr.read() if step.stderr else ""
    assert seen and not any("resource_tracker" in cmd for cmd in seen), seen
    assert records.read_result(run.store, prepared.jobs["logistic"]).ok

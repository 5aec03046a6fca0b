"""What keeps a train step's memory near its table's (the figure itself: bench/memory_bench.py):
only the schema's columns are read, float features as float32, the validation and test splits
only when asked for, and the supervising process does not import scikit-learn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bakeoff import data, steps
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
    # MLflow's signature example keeps float64, so that serving accepts what users send
    assert {str(splits.example()[c].dtype) for c in schema.numeric} == {"float64"}
    assert set(splits.targets["train"]) == {"no", "yes"}  # the target keeps its type
    assert list(splits._read) == ["train"]  # valid and test wait until they are asked for
    rows = splits.rows()
    assert sum(rows.values()) == 1200 - prepared.unlabelled > 0  # rows without a target were dropped
    assert len(splits.features["test"]) == rows["test"] and set(splits._read) == {"train", "test"}


def test_the_supervising_process_reads_the_timeout_without_scikit_learn(tmp_path: Path) -> None:
    run, _ = _prepared_run(tmp_path)
    probe = ("import sys; from bakeoff.runs import Run; run = Run.from_uri(sys.argv[1]); "
             "print(run.model_timeout('logistic'), "
             "sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'pandas', 'pyarrow'}))")
    out = subprocess.run([sys.executable, "-c", probe, run.uri], capture_output=True, text=True, check=True)
    assert out.stdout.split(None, 1) == ["77", "[]\n"]

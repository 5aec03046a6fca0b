"""What the bounds and integrity checks of issue 13 cost: the time to refuse hostile configs,
the time a run spends checking a prepared dataset's splits against their sha256, and how long a
run takes to end once its S3 server (moto, 127.0.0.1) is killed mid-run, with the default retry
budget (BAKEOFF_S3_RETRY_SECONDS unset).

    .venv/bin/python bench/hostile_bench.py

Prints the median of REPEATS runs of each (OUTAGES of the outage).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bakeoff import data
from bakeoff.errors import UserError
from bakeoff.spec import DatasetSpec, SplitSpec, parse_yaml
from bakeoff.storage import LocalStore
from predict_bench import median_of  # which puts tests/ on the path, for conftest's moto server

from conftest import BIN, _free_port, start_moto  # noqa: E402, I001

REPEATS = 5
OUTAGES = 3


def refused(text: str) -> None:
    try:
        parse_yaml(text)
    except UserError:
        return
    raise AssertionError("accepted")


def main() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    bomb = "experiment: x\nbomb:\n  " + "\n  ".join(lines) + "\n"
    print(f"alias bomb ({len(bomb)} bytes) refused: {median_of(REPEATS, lambda: refused(bomb)) * 1000:.1f} ms")
    huge = "experiment: x\n# " + "x" * 200_000_000 + "\n"
    print(f"200 MB config refused: {median_of(REPEATS, lambda: refused(huge)) * 1e6:.0f} µs")
    del huge

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(500_000, 20)), columns=[f"x{i}" for i in range(20)])
    frame["y"] = rng.integers(0, 2, size=len(frame))
    spec = DatasetSpec(uri="bench.csv", target="y")
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(tmp)
        info = data.describe(frame, spec)
        splits = data.split_frame(frame, data.schema_for(info, spec), SplitSpec())
        data.write_prepared(store, "fp", splits, info)
        size = sum(p.stat().st_size for p in store.path.rglob("*.parquet")) / 1e6
        seconds = median_of(REPEATS, lambda: data.prepared_table(store, "fp"))
        print(f"prepared dataset of 500,000 x 21 ({size:.0f} MB of parquet) verified: {seconds * 1000:.1f} ms")

    print(f"S3 killed mid-run, to the run's one-line error: median {statistics.median(outage() for _ in range(OUTAGES)):.1f} s "
          f"of {OUTAGES}")


def outage() -> float:
    """Seconds from killing the store's S3 server (once prepare has written the jobs) to the end
    of `bakeoff run` on breast-cancer with two quick models."""
    server, proc = start_moto(_free_port())
    try:
        server.make_bucket("outage")
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([str(BIN / "bakeoff"), "init", "--example", "breast-cancer", "--dir", tmp], check=True,
                           capture_output=True)
            config = Path(tmp) / "bakeoff.yaml"
            text = config.read_text().split("models:")[0]
            config.write_text(text + "models:\n  - {name: prior, estimator: DummyClassifier}\n"
                              "  - {name: logistic, estimator: LogisticRegression}\nstorage: s3://outage/store\n")
            env = {k: v for k, v in os.environ.items() if k != "BAKEOFF_S3_RETRY_SECONDS"}
            run = subprocess.Popen([str(BIN / "bakeoff"), "run", str(config), "--no-cache"], env={**env, **server.env},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            client, deadline = server.client(), time.monotonic() + 120
            while run.poll() is None and time.monotonic() < deadline and not any(
                    o.object_name.endswith("job.json") for o in client.list_objects("outage", "store/jobs/", True)):
                time.sleep(0.1)
            proc.kill()
            killed = time.monotonic()
            _, err = run.communicate(timeout=600)
            assert run.returncode == 2 and len(err.strip().splitlines()) == 1, err
            return time.monotonic() - killed
    finally:
        proc.kill()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()

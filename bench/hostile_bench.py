"""What the bounds and integrity checks of issue 13 cost: the time to refuse hostile configs,
and the time a run spends checking a prepared dataset's splits against their sha256.

    .venv/bin/python bench/hostile_bench.py

Prints the median of REPEATS runs of each.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from bakeoff import data
from bakeoff.errors import UserError
from bakeoff.spec import DatasetSpec, SplitSpec, parse_yaml
from bakeoff.storage import LocalStore

REPEATS = 5


def median_seconds(work: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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
    print(f"alias bomb ({len(bomb)} bytes) refused: {median_seconds(lambda: refused(bomb)) * 1000:.1f} ms")
    huge = "experiment: x\n# " + "x" * 200_000_000 + "\n"
    print(f"200 MB config refused: {median_seconds(lambda: refused(huge)) * 1000:.1f} ms")
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
        seconds = median_seconds(lambda: data.prepared_table(store, "fp"))
        print(f"prepared dataset of 500,000 x 21 ({size:.0f} MB of parquet) verified: {seconds * 1000:.1f} ms")


if __name__ == "__main__":
    main()

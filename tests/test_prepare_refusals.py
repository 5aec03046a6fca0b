"""Data that cannot make a fair bake-off is refused by prepare in one line naming the fix
(issue 13, items 6 and 10): one class, a constant target, infinities (with their rows), a
repeated header column; and a seed numpy cannot take is refused by validation."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.datasets import load_diabetes, load_wine

from bakeoff.data import describe, read_table
from bakeoff.errors import UserError
from bakeoff.spec import DatasetSpec
from conftest import bakeoff
from test_spec import BASE, problems


def wine() -> pd.DataFrame:
    return load_wine(as_frame=True).frame


def refusal(df: pd.DataFrame, target: str = "target", csv: bytes | None = None) -> str:
    spec = DatasetSpec(uri="data.csv", target=target)
    raw = csv if csv is not None else df.to_csv(index=False).encode()
    with pytest.raises(UserError) as info:
        describe(read_table(raw, spec), spec)
    (line,) = info.value.problems
    return line


def test_a_single_class_target_is_refused() -> None:
    df = wine()
    assert refusal(df[df.target == 1]) == (
        "dataset.target: 'target' has one class (1) in all 71 labelled rows; a bake-off needs a "
        "target that varies: check the column or the file")


def test_a_constant_regression_target_is_refused() -> None:
    df = load_diabetes(as_frame=True).frame.assign(target=151.5)
    spec = DatasetSpec(uri="d.csv", target="target", task="regression")
    with pytest.raises(UserError, match=r"^dataset.target: 'target' has one value \(151.5\) in all 442"):
        describe(read_table(df.to_csv(index=False).encode(), spec), spec)


def test_infinities_are_refused_naming_their_rows_and_columns() -> None:
    df = wine()
    df.loc[[3, 16], "alcohol"] = np.inf
    df.loc[90, "magnesium"] = -np.inf
    assert refusal(df) == (
        "dataset.uri: 3 row(s) hold inf or -inf (data rows 4, 17, 91, counted from 1 after the "
        "header; columns alcohol, magnesium); empty those cells (they are imputed) or drop the rows")


def test_many_infinite_rows_are_summarised() -> None:
    df = wine()
    df.loc[:19, "proline"] = np.inf
    assert "20 row(s) hold inf or -inf (data rows 1, 2, 3, 4, 5 … and 15 more" in refusal(df)


def test_a_repeated_header_column_is_refused_not_renamed() -> None:
    df = wine()
    text = df.to_csv(index=False)
    header, body = text.split("\n", 1)
    lines = [f"{line.split(',')[-1]},{line}" for line in body.strip().split("\n")]
    csv = ("target," + header + "\n" + "\n".join(lines) + "\n").encode()
    assert pd.read_csv(io.BytesIO(csv)).columns[-1] == "target.1"  # what pandas would have made
    assert refusal(df, csv=csv) == ("dataset.uri: column 'target' appears 2 times in the header; "
                                    "rename or remove the copies")


def test_empty_cells_are_still_fine() -> None:
    df = wine()
    df.loc[[3, 16], "alcohol"] = np.nan
    spec = DatasetSpec(uri="data.csv", target="target")
    info = describe(read_table(df.to_csv(index=False).encode(), spec), spec)
    assert info.classes == [0, 1, 2]


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_numpy_cannot_take_is_refused_at_validation(seed: int) -> None:
    (line,) = problems({**BASE, "split": {"seed": seed}})
    assert line.startswith("split.seed: Input should be ")


def test_run_on_a_single_class_table_exits_2_with_no_winner(project, tmp_path: Path) -> None:  # noqa: ANN001
    config = project("wine")
    data = yaml.safe_load(config.read_text())
    csv = config.parent / data["dataset"]["uri"]
    df = pd.read_csv(csv)
    df[df[data["dataset"]["target"]] == df[data["dataset"]["target"]].iloc[0]].to_csv(csv, index=False)
    data["storage"] = str(tmp_path / "store")
    config.write_text(yaml.safe_dump(data))

    result = bakeoff("run", str(config), timeout=180)

    assert result.code == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: dataset.target: ") and "has one class" in line
    assert not list((tmp_path / "store").glob("runs/*/leaderboard.json"))

"""The leaderboard never cuts a number or a model name, at any terminal width from 60 columns up
and in a pipe: it drops lower-priority columns (and says which) before anything is shortened.

The boards are real: each bundled example as the session ran it (conftest's `example_run`), and
a stress board reuses one of them with the longest model names the schema allows and a failed
row with a long error.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from bakeoff.leaderboard import Leaderboard
from bakeoff.report import PROSE, columns, layout
from bakeoff.runs import find_run
from bakeoff.storage import open_store
from conftest import BIN, ExampleRun, bakeoff

WIDTHS = (60, 80, 100, 110, 120, 140, 180, 240)
EXAMPLES = ("breast-cancer", "wine", "diabetes")


@pytest.fixture(scope="module")
def example_stores(example_run: Callable[[str], ExampleRun]) -> dict[str, Path]:
    """Each example's folder (holding bakeoff.yaml and .bakeoff/), as the session ran it."""
    return {example: example_run(example).folder for example in EXAMPLES}


def _board(folder: Path) -> Leaderboard:
    return find_run(open_store(str(folder / ".bakeoff")), "latest").finished_leaderboard()


def _stress(board: Leaderboard) -> Leaderboard:
    """The same board with 40-character model names (the schema's longest) and a failed row."""
    rows = [dataclasses.replace(r, model=f"{r.model}-{'x' * 40}"[:39] + str(i)) for i, r in enumerate(board.rows)]
    failed = dataclasses.replace(rows[-1], model="f" * 40, status="failed", rank=None, primary=None, ci=None,
                                 vs_leader=None, error="ValueError: Input X contains NaN; impute it or drop "
                                 "the rows: /a/very/long/path/that/is/one/word/in/the/error/message.csv")
    return dataclasses.replace(board, rows=[*rows, failed])


def _boards(stores: dict[str, Path]) -> dict[str, Leaderboard]:
    boards = {name: _board(folder) for name, folder in stores.items()}
    return {**boards, "stress": _stress(boards["breast-cancer"])}


def _render(board: Leaderboard, width: int) -> str:
    console = Console(width=width, record=True, file=open(os.devnull, "w"), force_terminal=True)  # noqa: SIM115
    console.print(board)
    console.file.close()
    return console.export_text()


def _row_line(text: str, cells: list[str]) -> str | None:
    """The line that holds these cells whole, in order, each bounded by space or a box edge."""
    pattern = r"(?:^|[\s│┃])" + r"(?:[\s│┃]+.*?[\s│┃]|[\s│┃]+)".join(map(re.escape, cells)) + r"(?:[\s│┃]|$)"
    return next((line for line in text.splitlines() if re.search(pattern, line)), None)


def _whole_cells(board: Leaderboard, text: str, shown: list[str]) -> list[str]:
    """Problems: a row whose model name or numbers are not all whole on one line."""
    cells = [(h, c) for h, c in columns(board) if h in shown and h not in PROSE]
    problems = []
    for row in board.rows:
        values = [c(row) for _, c in cells]
        if _row_line(text, values) is None:
            problems.append(f"{row.model}: {values} not whole on one line")
    return problems


@pytest.mark.slow
def test_every_example_fits_every_width_without_cutting(example_stores: dict[str, Path]) -> None:
    for name, board in _boards(example_stores).items():
        every = [h for h, _ in columns(board)]
        for width in WIDTHS:
            text = _render(board, width)
            fitted = layout(board, width)
            shown = [h for h, _ in fitted.cells]
            where = f"{name} at {width} columns"
            assert max(cell_len(line) for line in text.splitlines()) <= width, where
            assert _whole_cells(board, text, shown) == [], where
            assert shown[:2] == ["#", "model"] and any(h.startswith(board.primary) for h in shown), where
            flat = " ".join(text.split())
            if fitted.dropped:
                assert f"not shown at this width: {', '.join(fitted.dropped)}" in flat, where
                assert f"bakeoff report {board.run_id} --wide" in flat, where
            else:
                assert shown == every and "not shown" not in flat, where
        assert layout(board, 240).dropped == [] or name == "stress"
        assert layout(board, 60).dropped, f"{name}: 60 columns cannot hold every column"


@pytest.mark.slow
def test_a_pipe_shows_every_column_and_wraps_nothing(example_stores: dict[str, Path]) -> None:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    for name, folder in example_stores.items():
        board = _board(folder)
        for args in (["report"], ["report", "--wide"]):
            out = subprocess.run([str(BIN / "bakeoff"), *args], cwd=folder, env=env, capture_output=True,
                                 text=True, timeout=60)
            assert out.returncode == 0, out.stderr
            every = [h for h, _ in columns(board)]
            header = _row_line(out.stdout, every)
            assert header is not None, f"{name}: the header is not one line in a pipe"
            for row in board.rows:  # every cell, notes too, on the row's one line
                assert _row_line(out.stdout, [c(row) for _, c in columns(board)]) is not None, (name, row.model)
            assert "not shown" not in out.stdout
    narrow = bakeoff("report", "--wide", cwd=example_stores["wine"], env={"COLUMNS": "60"})
    assert "not shown" not in narrow.stdout and "predict ms/1k rows" in narrow.stdout

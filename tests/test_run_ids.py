"""A run id or key from the command line never writes outside the store (issue 13, item 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bakeoff.errors import UserError
from bakeoff.storage import LocalStore
from conftest import bakeoff


def files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("run_id", ["../../x", "x\n", "x" * 200, "..", "x/../../y"])
def test_step_prepare_refuses_a_bad_run_id_before_writing(run_id: str, project, tmp_path: Path) -> None:  # noqa: ANN001
    config = project("wine")
    data = yaml.safe_load(config.read_text())
    data["storage"] = str(tmp_path / "deep" / "er" / "store")
    config.write_text(yaml.safe_dump(data))
    before = files_under(tmp_path)

    result = bakeoff("step", "prepare", "--config-uri", str(config), "--run-id", run_id)

    assert result.code == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: --run-id: ") and "is not a run id" in line and len(line) < 250
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("key", ["runs/../../x/config.yaml", "/etc/bakeoff-x", "../x"])
def test_the_local_store_refuses_a_key_that_leaves_it(key: str, tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    with pytest.raises(UserError, match="leaves the store"):
        store.write_bytes(key, b"x")
    assert files_under(tmp_path) == set()

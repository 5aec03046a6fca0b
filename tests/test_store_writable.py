"""A store that cannot be written is one line and exit 2 from `validate` and `run`, with nothing
written (issue 13, item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import bakeoff


@pytest.mark.parametrize(("store", "expected", "fix"), [
    ("/proc/bakeoff-store", "storage: cannot ", "a folder"),
    ("{tmp}/a-file/store", "storage: ", "a folder"),
    ("~bakeoff-no-such-user/store", "~bakeoff-no-such-user/store: ", "write the path out in full"),
])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_an_unwritable_store_is_one_line_and_exit_2(command: str, store: str, expected: str, fix: str,
                                                    project, tmp_path: Path) -> None:  # noqa: ANN001
    config = project("wine")
    (tmp_path / "a-file").write_text("not a folder")
    data = yaml.safe_load(config.read_text())
    data["storage"] = store.format(tmp=tmp_path)
    config.write_text(yaml.safe_dump(data))
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}

    result = bakeoff(command, str(config), timeout=120)

    assert result.code == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {expected}") and fix in line
    assert "Traceback" not in result.stdout
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before

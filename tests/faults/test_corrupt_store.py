"""Every file of the store corrupted in turn (issue 13, item 7): the next run serves nothing
damaged or edited, prints no traceback, and `--no-cache` always recovers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import bakeoff


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    """A finished run of two quick models on wine, and its test scores."""
    folder = tmp_path_factory.mktemp("finished")
    assert bakeoff("init", "--example", "wine", "--dir", str(folder)).code == 0
    config = folder / "bakeoff.yaml"
    data = yaml.safe_load(config.read_text())
    data["models"] = [m for m in data["models"] if m["name"] in ("logistic", "naive-bayes")]
    data["storage"] = str(folder / "store")
    config.write_text(yaml.safe_dump(data))
    result = bakeoff("run", str(config), timeout=300)
    assert result.code == 0, result.stderr
    return folder, scores(folder / "store")


def scores(store: Path) -> dict[str, float]:
    """The newest run's test score of each model."""
    board = sorted(store.glob("runs/*/leaderboard.json"))[-1]
    data = json.loads(board.read_text())
    return {r["model"]: r["test"][data["primary"]] for r in data["rows"]}


def store_files(store: Path) -> list[str]:
    return sorted(p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file())


def copy_of(finished: tuple[Path, dict[str, float]], tmp_path: Path) -> Path:
    folder, _ = finished
    shutil.copytree(folder, tmp_path / "copy")
    config = tmp_path / "copy" / "bakeoff.yaml"
    data = yaml.safe_load(config.read_text())
    data["storage"] = str(tmp_path / "copy" / "store")
    config.write_text(yaml.safe_dump(data))
    return config


KINDS = ["datasets/*/train.parquet", "datasets/*/test.parquet", "datasets/*/manifest.json",
         "jobs/*/job.json", "jobs/*/result.json", "jobs/*/*/model.skops", "jobs/*/*/test_predictions.npz",
         "runs/*/config.yaml", "runs/*/prepared.json", "runs/*/models/*/result.json",
         "runs/*/leaderboard.json", "costs/*/*.json"]


@pytest.mark.parametrize("pattern", KINDS)
@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_a_corrupt_store_file_is_never_served_and_no_cache_recovers(finished, tmp_path: Path,  # noqa: ANN001
                                                                    pattern: str, damage: str) -> None:
    config = copy_of(finished, tmp_path)
    store = config.parent / "store"
    victims = sorted(store.glob(pattern))
    assert victims, f"no {pattern} in the store: {store_files(store)}"
    for victim in victims:
        raw = victim.read_bytes()
        victim.write_bytes(raw[: len(raw) // 2] if damage == "truncated" else b"\x00garbage" * 7)

    again = bakeoff("run", str(config), timeout=300)
    assert "Traceback" not in again.stdout + again.stderr, again.stderr
    assert again.code == 0, again.stderr
    assert scores(store) == finished[1]

    fresh = bakeoff("run", str(config), "--no-cache", timeout=300)
    assert fresh.code == 0 and "Traceback" not in fresh.stdout + fresh.stderr, fresh.stderr
    assert scores(store) == finished[1]


def test_an_edited_metric_in_a_cached_result_is_not_served(finished, tmp_path: Path) -> None:  # noqa: ANN001
    config = copy_of(finished, tmp_path)
    store = config.parent / "store"
    for path in store.glob("jobs/*/result.json"):
        result = json.loads(path.read_text())
        for split in result["metrics"].values():
            for metric in split:
                split[metric] = 0.999
        path.write_text(json.dumps(result, indent=2))

    again = bakeoff("run", str(config), timeout=300)

    assert again.code == 0, again.stderr
    assert scores(store) == finished[1]


def test_a_damaged_leaderboard_is_one_line_from_report(finished, tmp_path: Path) -> None:  # noqa: ANN001
    config = copy_of(finished, tmp_path)
    (board,) = (config.parent / "store").glob("runs/*/leaderboard.json")
    board.write_bytes(board.read_bytes()[:100])

    result = bakeoff("report", board.parent.as_uri())

    assert result.code == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "leaderboard.json: damaged (not a leaderboard); write it again with `bakeoff step compare" in line

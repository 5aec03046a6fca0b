"""Every kind of file read back from the store, truncated or replaced by garbage (issue 13, item
7): nothing damaged or edited is served, no traceback, one `warning:` line per file set aside,
and `--no-cache` always recovers. Files compare writes, which nothing else can redo, are a
one-line error naming the file and the command that writes it again.

Cheap by design: one finished run of nine fast models on breast-cancer, copied per case. The
nine models are independent jobs, so one rerun checks each job file kind on a model of its own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from conftest import bakeoff

# model name -> (the job file damaged, how); one model per case: jobs share nothing
MODELS = {
    "prior": ("DummyClassifier", {"strategy": "prior"}),
    "most-frequent": ("DummyClassifier", {"strategy": "most_frequent"}),
    "stratified": ("DummyClassifier", {"strategy": "stratified", "random_state": 0}),
    "uniform": ("DummyClassifier", {"strategy": "uniform", "random_state": 0}),
    "logistic-c01": ("LogisticRegression", {"C": 0.1, "max_iter": 500}),
    "logistic-c1": ("LogisticRegression", {"C": 1.0, "max_iter": 500}),
    "logistic-c10": ("LogisticRegression", {"C": 10.0, "max_iter": 500}),
    "naive-bayes": ("GaussianNB", {}),
    "tree": ("DecisionTreeClassifier", {"max_depth": 2, "random_state": 0}),
}
JOB_DAMAGE = {  # model -> (file under its job, damage); "edited" rewrites its test metrics
    "prior": ("result.json", "truncated"),
    "most-frequent": ("result.json", "garbage"),
    "stratified": ("result.json", "edited"),
    "uniform": ("model.skops", "truncated"),
    "logistic-c01": ("model.skops", "garbage"),
    "logistic-c1": ("test_predictions.npz", "truncated"),
    "logistic-c10": ("test_predictions.npz", "garbage"),
    "naive-bayes": ("job.json", "truncated"),
    "tree": ("job.json", "garbage"),
}
RETRAINED = {m for m, (name, _) in JOB_DAMAGE.items() if name != "job.json"}  # prepare rewrites job.json


def damage(path: Path, how: str) -> None:
    raw = path.read_bytes()
    if how == "truncated":
        path.write_bytes(raw[: len(raw) // 2])
    elif how == "garbage":
        path.write_bytes(b"\x00\xffgarbage" * 11)
    else:  # edited: every test metric made perfect, the JSON still valid
        record = json.loads(raw)
        record["metrics"]["test"] = dict.fromkeys(record["metrics"]["test"], 1.0)
        path.write_text(json.dumps(record, indent=2))


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project folder holding a finished run of the nine models."""
    folder = tmp_path_factory.mktemp("finished")
    assert bakeoff("init", "--example", "breast-cancer", "--dir", str(folder)).code == 0
    config = folder / "bakeoff.yaml"
    data = yaml.safe_load(config.read_text())
    data["models"] = [{"name": name, "estimator": est, "params": params} for name, (est, params) in MODELS.items()]
    data["metrics"] = {"primary": "roc_auc", "others": ["accuracy"]}
    config.write_text(yaml.safe_dump(data))
    result = bakeoff("run", str(config), timeout=300)
    assert result.code == 0, result.stderr
    return folder


def board(store: Path, run: str = "latest") -> dict[str, tuple]:
    """Each model's status, test scores and interval in a run's leaderboard (the newest by default)."""
    path = sorted(store.glob("runs/*/leaderboard.json"))[-1] if run == "latest" else store / "runs" / run / "leaderboard.json"
    return {r["model"]: (r["status"], r["test"], r["ci"]) for r in json.loads(path.read_text())["rows"]}


def cached(store: Path) -> set[str]:
    newest = sorted(store.glob("runs/*/leaderboard.json"))[-1]
    return {r["model"] for r in json.loads(newest.read_text())["rows"] if r["cached"]}


FEW = ["prior", "logistic-c1"]  # where one model is as good a witness as nine, and cheaper


def copy_of(finished: Path, tmp_path: Path, models: list[str] | None = None) -> tuple[Path, Path]:
    """A copy of the finished project (its storage is relative: ./.bakeoff), its config and store;
    the config keeps only ``models`` when given (the store keeps them all)."""
    shutil.copytree(finished, tmp_path / "copy")
    config = tmp_path / "copy" / "bakeoff.yaml"
    if models:
        data = yaml.safe_load(config.read_text())
        data["models"] = [m for m in data["models"] if m["name"] in models]
        config.write_text(yaml.safe_dump(data))
    return config, tmp_path / "copy" / ".bakeoff"


def clean(result) -> str:  # noqa: ANN001
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    return output


def warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning: ")]


def test_damaged_job_files_are_retrained_with_one_warning_each(finished: Path, tmp_path: Path) -> None:
    config, store = copy_of(finished, tmp_path)
    before = board(store)
    (job_of,) = [json.loads(p.read_text())["jobs"] for p in store.glob("runs/*/prepared.json")]
    for model, (name, how) in JOB_DAMAGE.items():
        (victim,) = store.glob(f"jobs/{job_of[model]}/**/{name}")
        damage(victim, how)
    for victim in store.glob("costs/**/*.json"):  # the plan's hints: ignored when unreadable
        damage(victim, "garbage")

    again = bakeoff("run", str(config), timeout=300)

    clean(again)
    assert again.code == 0, again.stderr
    assert board(store) == before  # the edited metric is not served
    assert cached(store) == set(MODELS) - RETRAINED
    lines = warnings(again.stderr)
    assert len(lines) == len(RETRAINED), again.stderr
    for model in RETRAINED:
        name, _ = JOB_DAMAGE[model]
        (line,) = [line for line in lines if f"/jobs/{job_of[model]}/" in line]
        assert line.endswith("; the model is trained again") and f"/{name}: damaged (" in line, line


@pytest.mark.parametrize("name", ["train.parquet", "valid.parquet", "test.parquet", "manifest.json"])
@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_a_damaged_prepared_dataset_is_prepared_again(finished: Path, tmp_path: Path, name: str, how: str) -> None:
    config, store = copy_of(finished, tmp_path, FEW)
    before = {model: row for model, row in board(store).items() if model in FEW}
    (victim,) = store.glob(f"datasets/*/{name}")
    damage(victim, how)

    again = bakeoff("run", str(config), timeout=300)

    clean(again)
    assert again.code == 0, again.stderr
    (line,) = warnings(again.stderr)
    assert f"/{name}: damaged (" in line and line.endswith("; the data is prepared again"), line
    assert board(store) == before
    assert cached(store) == set(FEW)  # same data, same jobs: the models are still reused
    assert victim.read_bytes()[:4] == (b"PAR1" if name.endswith(".parquet") else b"{\n  ")


def test_no_cache_recovers_from_every_dataset_and_job_file_damaged_at_once(finished: Path, tmp_path: Path) -> None:
    config, store = copy_of(finished, tmp_path, FEW)
    before = {model: row for model, row in board(store).items() if model in FEW}
    for victim in [*store.glob("datasets/**/*.*"), *store.glob("jobs/**/*.*")]:
        damage(victim, "garbage")

    fresh = bakeoff("run", str(config), "--no-cache", timeout=300)

    clean(fresh)
    assert fresh.code == 0, fresh.stderr
    assert board(store) == before
    assert cached(store) == set()


def test_a_damaged_file_of_a_finished_run_is_one_line_naming_it_and_the_fix(finished: Path, tmp_path: Path) -> None:
    """What prepare and compare wrote for one run, which no cache lookup can redo."""
    _, store = copy_of(finished, tmp_path)
    (run,) = [p.name for p in (store / "runs").iterdir()]
    folder, run_uri = store / "runs" / run, (store / "runs" / run).as_uri()
    before = board(store, run)
    compare_again = f"write it again with `bakeoff step compare --run-uri {run_uri}`"
    damage(folder / "leaderboard.json", "truncated")

    shown = bakeoff("report", run, "--store", str(store))
    listed = bakeoff("runs", "--store", str(store))

    clean(shown), clean(listed)
    assert shown.code == 2 and shown.stderr.splitlines() == [
        f"error: {run_uri}/leaderboard.json: damaged (not a leaderboard); {compare_again}"]
    assert listed.code == 0 and "damaged: not a leaderboard" in listed.stdout, listed.stdout + listed.stderr
    assert bakeoff("step", "compare", "--run-uri", run_uri).code == 0  # the fix the error names
    assert board(store, run) == before

    edited = json.loads((folder / "leaderboard.json").read_text())  # valid JSON, a score made perfect
    edited["rows"][-1]["primary"] = 1.0
    (folder / "leaderboard.json").write_text(json.dumps(edited))
    shown = bakeoff("report", run, "--store", str(store))
    clean(shown)
    assert shown.code == 2 and shown.stderr.splitlines() == [
        f"error: {run_uri}/leaderboard.json: damaged (its content does not match its record_sha256: "
        f"edited or cut); {compare_again}"]
    assert bakeoff("step", "compare", "--run-uri", run_uri).code == 0
    assert board(store, run) == before

    damage(folder / "models" / "prior" / "result.json", "garbage")
    across = bakeoff("compare", run, run, "--store", str(store))
    clean(across)
    assert across.code == 2 and across.stderr.splitlines() == [
        f"error: {run_uri}/models/prior/result.json: damaged (not JSON); {compare_again}"]
    assert bakeoff("step", "compare", "--run-uri", run_uri).code == 0
    assert bakeoff("compare", run, run, "--store", str(store)).code == 0

    damage(folder / "prepared.json", "truncated")
    unprepared = bakeoff("step", "compare", "--run-uri", run_uri)
    clean(unprepared)
    assert unprepared.code == 2 and unprepared.stderr.splitlines() == [
        f"error: {run_uri}/prepared.json: damaged (not JSON); prepare it again with "
        f"`bakeoff step prepare --run-uri {run_uri}`"]
    assert bakeoff("step", "prepare", "--run-uri", run_uri).code == 0
    assert bakeoff("step", "compare", "--run-uri", run_uri).code == 0
    assert board(store, run) == before

    config = (folder / "config.yaml").read_text()
    for how, why in [("garbage", "not UTF-8 text (byte 1)"), ("truncated", "line ")]:
        (folder / "config.yaml").write_text(config)
        damage(folder / "config.yaml", how)
        refused = bakeoff("step", "compare", "--run-uri", run_uri)
        clean(refused)
        (line,) = refused.stderr.splitlines()
        assert refused.code == 2 and line.startswith(f"error: {run_uri}/config.yaml: damaged ({why}"), line
        assert line.endswith("; start a new run with `bakeoff run CONFIG`"), line

"""The S3 path end to end against a real S3 server process (moto_server on 127.0.0.1)."""

from __future__ import annotations

import json

import pytest
import yaml

from bakeoff.runs import create_run
from bakeoff.spec import load_config
from bakeoff.storage import open_store
from conftest import bakeoff

pytestmark = pytest.mark.slow


def test_run_reads_data_from_s3_and_writes_the_leaderboard_to_s3(project, s3_server) -> None:  # noqa: ANN001
    config = project("wine")
    s3_server.make_bucket("bakeoff-data")
    s3_server.make_bucket("bakeoff-store")
    s3_server.client().fput_object("bakeoff-data", "tables/wine.csv", str(config.parent / "data" / "wine.csv"))
    exp = yaml.safe_load(config.read_text())
    exp |= {"dataset": {**exp["dataset"], "uri": "s3://bakeoff-data/tables/wine.csv"},
            "storage": "s3://bakeoff-store/team-a"}
    config.write_text(yaml.safe_dump(exp))

    result = bakeoff("run", str(config), cwd=config.parent, env=s3_server.env)
    assert result.code == 0, result.stderr
    assert not (config.parent / ".bakeoff").exists()
    names = [o.object_name for o in s3_server.client().list_objects("bakeoff-store", recursive=True)]
    [board_key] = [n for n in names if n.endswith("leaderboard.json")]
    assert board_key.startswith("team-a/runs/")
    board = json.loads(s3_server.client().get_object("bakeoff-store", board_key).read())
    assert [r["status"] for r in board["rows"]] == ["ok"] * 4
    assert sum(n.startswith("team-a/datasets/") for n in names) == 4  # manifest + 3 splits
    listed = bakeoff("runs", "--store", "s3://bakeoff-store/team-a", env=s3_server.env)
    assert listed.code == 0 and board["run_id"] in listed.stdout


def test_step_contract_on_s3(project, s3_env) -> None:  # noqa: ANN001
    """What a container or KFP pod does: three `bakeoff step` calls sharing only the run URI."""
    config = project("breast-cancer")
    s3_env.make_bucket("steps")
    store = open_store("s3://steps/p")
    store.write_bytes("in/bc.csv", (config.parent / "data" / "breast-cancer.csv").read_bytes())
    exp = load_config(config).model_copy(update={"storage": "s3://steps/p"})
    exp = exp.model_copy(update={"dataset": exp.dataset.model_copy(update={"uri": "s3://steps/p/in/bc.csv"}),
                                 "models": exp.models[:2]})
    run = create_run(store, exp)

    prepared = bakeoff("step", "prepare", "--run-uri", run.uri, env=s3_env.env)
    assert prepared.code == 0, prepared.stderr
    out = json.loads(prepared.stdout)
    assert out["models"] == ["logistic", "forest"] and len(out["fingerprint"]) == 64

    trained = bakeoff("step", "train", "--run-uri", run.uri, "--model", "logistic", "--threads", "1",
                      env=s3_env.env)
    assert trained.code == 0, trained.stderr
    assert json.loads(trained.stdout)["status"] == "ok"
    # What a KFP train task passes instead: the store and the job's two digests, never the run.
    context = run.prepared().context.digest()
    spec = exp.model("forest").digest()
    trained = bakeoff("step", "train", "--store", "s3://steps/p", "--context", context, "--spec", spec,
                      "--model", "forest", "--threads", "1", env=s3_env.env)
    assert trained.code == 0, trained.stderr
    assert json.loads(trained.stdout)["status"] == "ok"
    stale = bakeoff("step", "train", "--store", "s3://steps/p", "--context", context, "--spec", "0" * 64,
                    "--model", "forest", env=s3_env.env)
    assert stale.code == 2 and "recompile the pipeline" in stale.stderr
    compared = bakeoff("step", "compare", "--run-uri", run.uri, env=s3_env.env)
    assert compared.code == 0 and "logistic" in compared.stdout
    assert store.exists(run.key("leaderboard.json")) and store.exists(run.key("report.html"))

    unknown = bakeoff("step", "train", "--run-uri", run.uri, "--model", "logistik", env=s3_env.env)
    assert unknown.code == 2 and "did you mean logistic?" in unknown.stderr


def test_bad_run_uri_is_a_user_error() -> None:
    result = bakeoff("step", "compare", "--run-uri", "s3://bucket/nothing-here")
    assert result.code == 2 and "is not a run URI" in result.stderr

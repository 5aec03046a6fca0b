"""Compiled pipelines run on the STAND-IN backend, KFP's cache, and the KFP side of `bakeoff step`.

``kfp_standin.execute`` stands in for the Argo Workflow, driver and launcher of a given backend
version (its docstring cites the source of each behaviour). It runs the real compiled YAML, each
task as a `bakeoff step` subprocess with the placeholders resolved.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bakeoff import records
from bakeoff.errors import UserError
from bakeoff.examples import write_example
from bakeoff.kfp import stepio
from bakeoff.kfp.pipeline import compile_experiment
from bakeoff.spec import parse_experiment
from bakeoff.storage import next_to
from conftest import ROOT, bakeoff
from kfp_standin import FAKE_SECRETS, Cache, execute, pod_env, team_config

CRASH = {"name": "crash", "estimator": "CrashingClassifier"}  # SIGKILLs itself, as the OOM killer would
TRAINS = ("logistic", "broken", "crash")


def board_of(store: Path, run_id: str) -> dict[str, dict[str, Any]]:
    board = json.loads((store / "runs" / run_id / "leaderboard.json").read_text())
    return {r["model"]: r for r in board["rows"]}


def compiled(config: Path, env: dict[str, str]) -> str:
    """`bakeoff compile`, as CI runs it (a plugin estimator needs the plugin's environment)."""
    out = config.parent / "pipeline.yaml"
    result = bakeoff("compile", str(config), "-o", str(out), env=env)
    assert result.code == 0, result.stderr
    return out.read_text()


def assert_compare_ran_once_after_every_train(run: Any, names: tuple[str, ...]) -> None:
    [compare] = run.runs_of("compare")
    trains = [t for t in run.tasks if t.display_name in names or t.inputs.get("model") in names]
    assert sorted(t.inputs["model"] for t in trains) == sorted(names)
    assert all(t.succeeded for t in trains), [(t.inputs["model"], t.stderr[-300:]) for t in trains if not t.succeeded]
    assert compare.succeeded and compare.started >= max(t.ended for t in trains)


def assert_every_model_ranked(store: Path, run_id: str) -> None:
    rows = board_of(store, run_id)
    assert set(rows) == set(TRAINS)
    assert rows["logistic"]["status"] == "ok" and rows["logistic"]["rank"] == 1
    assert rows["broken"]["status"] == "failed" and "n_neighbors" in rows["broken"]["error"]
    assert rows["crash"]["status"] == "failed" and "killed by signal 9" in rows["crash"]["error"]


@pytest.mark.slow
@pytest.mark.parametrize("version", ["2.5.0", "2.14.4", "2.17.0"])
def test_per_model_pipeline_compares_once_after_every_train_with_failures_as_rows(
        tmp_path: Path, plugin_env: dict[str, str], version: str) -> None:
    store = tmp_path / "store"
    config = team_config(tmp_path / "team", store.as_uri())
    data = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**data, "models": [*data["models"], CRASH]}))
    state, run = execute(compiled(config, plugin_env), {"config_uri": config.as_uri()}, workdir=tmp_path / "kfp",
                         env={**pod_env(), **plugin_env}, secrets=FAKE_SECRETS, job_id="0c6f7d1e-kfp-run",
                         version=version)
    # A model's own failure is a result: its train task succeeds, and so does the run.
    assert state == "SUCCEEDED", [(t.display_name, t.stderr[-300:]) for t in run.tasks]
    assert_compare_ran_once_after_every_train(run, TRAINS)
    assert_every_model_ranked(store, "0c6f7d1e-kfp-run")
    [prepare] = run.runs_of("prepare")
    assert prepare.outputs["run"] == f"{store.as_uri()}/runs/0c6f7d1e-kfp-run"
    [compare] = run.runs_of("compare")
    assert "broken" in compare.artifacts["html"].read_text() and "<html" in compare.artifacts["html"].read_text()
    assert compare.artifacts["markdown"].read_text() == (store / "runs" / "0c6f7d1e-kfp-run" / "report.md").read_text()
    [logistic] = run.runs_of("logistic")
    metrics = logistic.executor_output["artifacts"]["metrics"]["artifacts"][0]
    assert metrics["uri"] == str(logistic.artifacts["metrics"])
    assert 0.9 < metrics["metadata"]["test_roc_auc"] <= 1 and metrics["metadata"]["fit_seconds"] > 0
    matrix = logistic.executor_output["artifacts"]["classification_metrics"]["artifacts"][0]["metadata"]["confusionMatrix"]
    assert [a["displayName"] for a in matrix["annotationSpecs"]] == ["benign", "malignant"]
    [broken] = run.runs_of("broken")
    assert broken.executor_output == {"artifacts": {}}  # a failed model publishes nothing


@pytest.mark.slow
def test_generic_pipeline_runs_a_config_from_its_uri_and_compares_once_after_the_loop(
        tmp_path: Path, plugin_env: dict[str, str]) -> None:
    store = tmp_path / "store"
    config = team_config(tmp_path / "team", store.as_uri())
    data = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**data, "models": [*data["models"], CRASH]}))
    # The launcher's own credentials for the pipeline root (fromEnv) share the container.
    launcher = {"AWS_ACCESS_KEY_ID": "launcher-key", "AWS_SECRET_ACCESS_KEY": "launcher-secret",
                "AWS_ENDPOINT_URL": "http://minio-service.kubeflow:9000"}
    state, run = execute((ROOT / "pipelines" / "generic.yaml").read_text(), {"config_uri": config.as_uri()},
                         workdir=tmp_path / "kfp", env={**pod_env(), **plugin_env}, secrets=FAKE_SECRETS,
                         job_id="5e1f-generic", launcher_env=launcher)
    assert state == "SUCCEEDED", [(t.display_name, t.stderr[-300:]) for t in run.tasks]
    assert_compare_ran_once_after_every_train(run, TRAINS)
    assert_every_model_ranked(store, "5e1f-generic")
    [prepare] = run.runs_of("prepare")
    assert [m["model"] for m in prepare.outputs["models"]] == list(TRAINS)
    assert all(t.env[k] == v for t in run.tasks for k, v in launcher.items())


def test_a_pod_env_that_replaces_the_launchers_credentials_fails_in_the_stand_in(tmp_path: Path) -> None:
    """The stand-in's launcher check can fail: the same pipeline wired with AWS_* names does."""
    package = (ROOT / "pipelines" / "generic.yaml").read_text().replace("BAKEOFF_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")
    state, run = execute(package, {"config_uri": "s3://x/c.yaml"}, workdir=tmp_path, env=pod_env(),
                         secrets=FAKE_SECRETS, launcher_env={"AWS_ENDPOINT_URL": "http://pipeline-root.example:9000"})
    [prepare] = run.runs_of("prepare")
    assert state == "FAILED" and "launcher: the task's env replaces AWS_ENDPOINT_URL" in prepare.stderr


@pytest.mark.slow
def test_resubmitting_an_unchanged_config_starts_no_train_pod_and_each_change_misses(tmp_path: Path) -> None:
    """KFP's cache key (the stand-in ports backend cacheutils) of a train task is its job's
    content and its placement, so only what changed trains again."""
    store = tmp_path / "store"
    config, _ = write_example("breast-cancer", tmp_path / "team")
    data = yaml.safe_load(config.read_text())
    data |= {"storage": store.as_uri(), "models": [data["models"][0], data["models"][3]]}  # logistic, knn
    cache = Cache()

    def submit(job_id: str) -> dict[str, str]:
        config.write_text(yaml.safe_dump(data))
        package = compile_experiment(parse_experiment(data)).text
        state, run = execute(package, {"config_uri": config.as_uri()}, workdir=tmp_path / job_id, env=pod_env(),
                             secrets=FAKE_SECRETS, job_id=job_id, cache=cache)
        assert state == "SUCCEEDED", [(t.display_name, t.stderr[-300:]) for t in run.tasks]
        rows = board_of(store, job_id)
        assert {r["status"] for r in rows.values()} == {"ok"}  # a hit still has its result
        return {t.display_name: t.state for t in run.tasks if t.display_name in ("logistic", "knn")}

    assert submit("first") == {"logistic": "SUCCEEDED", "knn": "SUCCEEDED"}
    assert submit("unchanged") == {"logistic": "CACHED", "knn": "CACHED"}
    assert all(r["cached"] for r in board_of(store, "unchanged").values())
    data["models"][0]["params"]["C"] = 0.5  # the model's spec
    assert submit("new-params") == {"logistic": "SUCCEEDED", "knn": "CACHED"}
    data["models"][1]["timeout"] = 900  # what decides whether it can finish
    assert submit("new-timeout") == {"logistic": "CACHED", "knn": "SUCCEEDED"}
    data["models"][1]["resources"] = {"limits": {"memory": "8Gi"}}
    assert submit("new-memory") == {"logistic": "CACHED", "knn": "SUCCEEDED"}
    csv = config.parent / "data" / "breast-cancer.csv"
    csv.write_text("".join(csv.read_text().splitlines(keepends=True)[:-5]))  # five rows fewer
    assert submit("new-data") == {"logistic": "SUCCEEDED", "knn": "SUCCEEDED"}


def test_a_backend_older_than_2_5_gets_a_one_line_error_and_no_run(tmp_path: Path) -> None:
    store = tmp_path / "store"
    config = team_config(tmp_path / "team", store.as_uri())
    state, run = execute((ROOT / "pipelines" / "generic.yaml").read_text(), {"config_uri": config.as_uri()},
                         workdir=tmp_path / "kfp", env=pod_env(), secrets=FAKE_SECRETS, version="2.4.0")
    [prepare] = run.runs_of("prepare")
    assert state == "FAILED" and prepare.stderr.strip() == (
        "error: --run-id: '{{$.pipeline_job_uuid}}' is a Kubeflow placeholder the backend did not substitute; "
        "{{$.pipeline_job_uuid}} needs Kubeflow Pipelines 2.5 or newer")
    assert not (store / "runs").exists()


def test_regression_publishes_scalar_metrics_and_no_classification_metrics(tmp_path: Path) -> None:
    config, _ = write_example("diabetes", tmp_path)
    data = yaml.safe_load(config.read_text())
    data |= {"storage": (tmp_path / "store").as_uri(), "models": [{"name": "ols", "estimator": "LinearRegression"}]}
    config.write_text(yaml.safe_dump(data))
    exp = parse_experiment(data)
    run_uri = stepio.resolve_run(None, str(config), "r1", stepio.expected_models(exp))
    from bakeoff import steps
    from bakeoff.runs import Run

    prepared = steps.prepare(run_uri)
    result = steps.train(Run.from_uri(run_uri).store.root, prepared.jobs["ols"], "ols", threads=1)
    executor_input = {"outputs": {"outputFile": str(tmp_path / "kfp" / "out.json"), "artifacts": {
        name: {"artifacts": [{"name": name, "uri": str(tmp_path / "kfp" / name)}]}
        for name in ("metrics", "classification_metrics")}}}
    stepio.publish_train(json.dumps(executor_input), Run.from_uri(run_uri).store, prepared.table, result)
    written = json.loads((tmp_path / "kfp" / "out.json").read_text())["artifacts"]
    assert set(written) == {"metrics"}
    assert set(written["metrics"]["artifacts"][0]["metadata"]) >= {"test_rmse", "test_mae", "test_r2", "valid_rmse"}


def test_step_kfp_flags_fail_with_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"--kfp-output: step prepare has no output 'stores' \(did you mean store\?\)"):
        stepio.parse_outputs("prepare", ["stores=/tmp/x"])
    with pytest.raises(UserError, match="is not NAME=PATH"):
        stepio.parse_outputs("compare", ["html"])
    with pytest.raises(UserError, match="step train has no output 'html'; its outputs: none"):
        stepio.parse_outputs("train", ["html=/tmp/x"])
    with pytest.raises(UserError, match="config_uri: empty"):
        stepio.resolve_run(None, None, None, None)
    with pytest.raises(UserError, match="--executor-input: not KFP's executor input"):
        stepio.write_executor_output("{}", {"metrics": {"a": 1.0}})
    with pytest.raises(UserError, match="--placement: .* is not a JSON object"):
        stepio.parse_placement("[1]")
    relative = team_config(tmp_path / "a", "file://./.bakeoff")
    with pytest.raises(UserError, match="storage: 'file://./.bakeoff' is relative to each pod"):
        stepio.resolve_run(None, relative.as_uri(), "r", None)
    config = team_config(tmp_path / "b", (tmp_path / "store").as_uri())
    with pytest.raises(UserError, match="models: the config has broken, logistic but this pipeline was compiled "
                                        "for forest, logistic; recompile"):
        stepio.resolve_run(None, config.as_uri(), "r", "logistic=x,forest=y")
    exp = parse_experiment(yaml.safe_load(config.read_text()))
    changed = stepio.expected_models(exp).replace(exp.model("broken").digest(), "0" * 64)
    with pytest.raises(UserError, match=r"models: broken changed \(estimator, params or search\) since this "
                                        "pipeline was compiled; recompile"):
        stepio.resolve_run(None, config.as_uri(), "r", changed)
    with pytest.raises(UserError, match="models: the config's models .* are not those this pipeline was compiled for"):
        stepio.resolve_run(None, config.as_uri(), "r", "sha256:" + "0" * 64)
    with pytest.raises(UserError, match=r"--run-id: '\.\./\.\./x' is not a run id"):
        stepio.resolve_run(None, config.as_uri(), "../../x", None)
    assert not (tmp_path / "store").exists()  # nothing was written before the checks


def test_a_train_task_for_a_job_prepare_never_wrote_says_to_recompile(tmp_path: Path) -> None:
    result = bakeoff("step", "train", "--store", str(tmp_path), "--context", "c" * 64, "--spec", "d" * 64,
                     "--model", "logistic")
    assert result.code == 2 and "job: " in result.stderr and "recompile the pipeline" in result.stderr
    job = records.job_id("c" * 64, "d" * 64)
    assert job in result.stderr and "Traceback" not in result.stderr


def test_a_relative_dataset_is_read_next_to_the_config_wherever_it_is_stored() -> None:
    assert next_to("s3://team/configs/bc.yaml", "data/bc.csv") == "s3://team/configs/data/bc.csv"
    assert next_to("s3://team/configs/bc.yaml", "../data/bc.csv") == "s3://team/data/bc.csv"
    assert next_to("file:///srv/bc.yaml", "./bc.csv") == "file:///srv/bc.csv"
    assert next_to("s3://team/bc.yaml", "s3://other/bc.csv") == "s3://other/bc.csv"

"""Compiled pipelines executed task by task, KFP cache keys, and the KFP side of `bakeoff step`.

``kfp_standin.execute`` stands in for KFP's driver and launcher (see its docstring): it runs the
real committed YAML, each task as a `bakeoff step` subprocess, with the placeholders resolved.
"""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from bakeoff import steps
from bakeoff.errors import UserError
from bakeoff.examples import write_example
from bakeoff.kfp import stepio
from bakeoff.kfp.pipeline import compile_experiment
from bakeoff.spec import parse_experiment
from conftest import ROOT
from kfp_standin import FAKE_SECRETS, execute, pod_env, team_config

def test_generic_pipeline_runs_a_config_from_its_uri_and_ranks_the_failed_model(tmp_path: Path) -> None:
    store = tmp_path / "store"
    config = team_config(tmp_path / "team", store.as_uri())
    package = (ROOT / "pipelines" / "generic.yaml").read_text()
    state, run = execute(package, {"config_uri": config.as_uri()}, workdir=tmp_path / "kfp",
                         env=pod_env(), secrets=FAKE_SECRETS, job_id="0c6f7d1e-kfp-run")

    assert state == "FAILED"  # as KFP reports a run with a failed task
    tasks = {t.inputs.get("model", t.display_name): t for t in run.tasks}
    prepare, logistic, broken, compare = (tasks[n] for n in ("prepare", "logistic", "broken", "compare"))
    assert prepare.outputs["run"] == f"{store.as_uri()}/runs/0c6f7d1e-kfp-run"
    assert prepare.outputs["models"] == ["logistic", "broken"]
    assert (logistic.state, broken.state, len(run.tasks)) == ("SUCCEEDED", "FAILED", 4)
    assert logistic.inputs["fingerprint"] == broken.inputs["fingerprint"] == prepare.outputs["fingerprint"]
    assert compare.state == "SUCCEEDED"  # it ran although a train task failed

    run_dir = store / "runs" / "0c6f7d1e-kfp-run"
    board = json.loads((run_dir / "leaderboard.json").read_text())
    assert {r["model"]: r["status"] for r in board["rows"]} == {"logistic": "ok", "broken": "failed"}
    assert "broken" in compare.artifacts["html"].read_text() and "<html" in compare.artifacts["html"].read_text()
    assert compare.artifacts["markdown"].read_text() == (run_dir / "report.md").read_text()

    outputs = logistic.executor_output["artifacts"]
    metrics = outputs["metrics"]["artifacts"][0]
    assert metrics["uri"] == str(logistic.artifacts["metrics"])
    assert 0.9 < metrics["metadata"]["test_roc_auc"] <= 1 and metrics["metadata"]["fit_seconds"] > 0
    ui = outputs["classification_metrics"]["artifacts"][0]["metadata"]
    matrix = ui["confusionMatrix"]
    assert [a["displayName"] for a in matrix["annotationSpecs"]] == ["benign", "malignant"]
    test_rows = json.loads(next(store.glob("datasets/*/manifest.json")).read_text())["rows"]["test"]
    assert sum(map(sum, (r["row"] for r in matrix["rows"]))) == test_rows
    roc = ui["confidenceMetrics"]
    assert (roc[0]["falsePositiveRate"], roc[0]["recall"]) == (0.0, 0.0)
    assert (roc[-1]["falsePositiveRate"], roc[-1]["recall"]) == (1.0, 1.0)
    assert all(a["falsePositiveRate"] <= b["falsePositiveRate"] for a, b in pairwise(roc))
    assert broken.executor_output == {}  # a failed model publishes nothing


def test_a_changed_dataset_or_config_changes_every_train_tasks_cache_key(tmp_path: Path) -> None:
    """KFP keys its cache on a task's inputs and command. The data and config are not inputs;
    prepare's fingerprint and config digest are, and they change with the data and the config."""
    from kfp.local.cache import LocalCache

    store = tmp_path / "store"
    config = team_config(tmp_path / "team", store.as_uri())
    spec = json_format.ParseDict(next(yaml.safe_load_all(compile_experiment(
        parse_experiment(yaml.safe_load(config.read_text()))))), pipeline_spec_pb2.PipelineSpec())
    executors = json_format.MessageToDict(spec.deployment_spec)["executors"]
    trains = [t for t in spec.root.dag.tasks.values() if t.component_ref.name.startswith("comp-train")]
    run_uri = f"{store.as_uri()}/runs/same-run"  # the dangerous case: the same run, new content
    cache = LocalCache(str(tmp_path / "cache"))

    def cache_keys(*, seen: tuple[str, ...] = ("fingerprint", "config_digest", "run_uri", "model")) -> list[str]:
        stepio.resolve_run(run_uri, config.as_uri(), None, None)
        p = steps.prepare(run_uri)
        produced = {"run": run_uri, "fingerprint": p.fingerprint, "config_digest": p.config_digest}
        keys = []
        for task in trains:
            args = {name: produced[src.task_output_parameter.output_parameter_key]
                    if src.HasField("task_output_parameter") else src.runtime_value.constant.string_value
                    for name, src in task.inputs.parameters.items() if name in seen}
            c = executors[spec.components[task.component_ref.name].executor_label]["container"]
            keys.append(cache.compute_key("train", c["image"], c["command"] + c["args"], args))
        return keys

    base = cache_keys()
    assert cache_keys() == base and len(set(base)) == 2  # unchanged content: the cache can hit
    csv = config.parent / "data" / "breast-cancer.csv"
    csv.write_text("".join(csv.read_text().splitlines(keepends=True)[:-5]))  # five rows fewer
    changed_data = cache_keys()
    assert not set(changed_data) & set(base)
    without_prepare_inputs = cache_keys(seen=("run_uri", "model"))
    data = yaml.safe_load(config.read_text())
    config.write_text(yaml.safe_dump({**data, "split": {**data["split"], "seed": 7}}))
    changed_config = cache_keys()
    assert not set(changed_config) & (set(base) | set(changed_data))
    # What KFP would see without the two inputs: nothing changed, so stale results would be served.
    assert cache_keys(seen=("run_uri", "model")) == without_prepare_inputs


def test_regression_publishes_scalar_metrics_and_no_classification_metrics(tmp_path: Path) -> None:
    config, _ = write_example("diabetes", tmp_path)
    data = yaml.safe_load(config.read_text())
    data |= {"storage": (tmp_path / "store").as_uri(), "models": [{"name": "ols", "estimator": "LinearRegression"}]}
    config.write_text(yaml.safe_dump(data))
    run_uri = stepio.resolve_run(None, str(config), "r1", "ols")
    steps.prepare(run_uri)
    result = steps.train(run_uri, "ols", threads=1)
    executor_input = {"outputs": {"outputFile": str(tmp_path / "kfp" / "out.json"), "artifacts": {
        name: {"artifacts": [{"name": name, "uri": str(tmp_path / "kfp" / name)}]}
        for name in ("metrics", "classification_metrics")}}}
    stepio.publish_train(json.dumps(executor_input), run_uri, "ols", result)
    written = json.loads((tmp_path / "kfp" / "out.json").read_text())["artifacts"]
    assert set(written) == {"metrics"}
    assert set(written["metrics"]["artifacts"][0]["metadata"]) >= {"test_rmse", "test_mae", "test_r2", "valid_rmse"}


def test_step_kfp_flags_fail_with_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"--kfp-output: step prepare has no output 'fingerprints' \(did you mean fingerprint\?\)"):
        stepio.parse_outputs("prepare", ["fingerprints=/tmp/x"])
    with pytest.raises(UserError, match="is not NAME=PATH"):
        stepio.parse_outputs("compare", ["html"])
    with pytest.raises(UserError, match="step train has no output 'html'; its outputs: none"):
        stepio.parse_outputs("train", ["html=/tmp/x"])
    with pytest.raises(UserError, match="config_uri: empty"):
        stepio.resolve_run(None, None, None, None)
    with pytest.raises(UserError, match="--run-uri: empty.*prepare step failed"):
        stepio.require_run_uri("")
    with pytest.raises(UserError, match="--executor-input: not KFP's executor input"):
        stepio.write_executor_output("{}", {"metrics": {"a": 1.0}})
    relative = team_config(tmp_path / "a", "file://./.bakeoff")
    with pytest.raises(UserError, match="storage: 'file://./.bakeoff' is relative to each pod"):
        stepio.resolve_run(None, relative.as_uri(), "r", None)
    config = team_config(tmp_path / "b", (tmp_path / "store").as_uri())
    with pytest.raises(UserError, match="models: the config has broken, logistic but this pipeline was compiled "
                                        "for forest, logistic; recompile"):
        stepio.resolve_run(None, config.as_uri(), "r", "logistic,forest")


def test_a_relative_dataset_is_read_next_to_the_config_wherever_it_is_stored() -> None:
    assert stepio._dataset_next_to("s3://team/configs/bc.yaml", "data/bc.csv") == "s3://team/configs/data/bc.csv"
    assert stepio._dataset_next_to("s3://team/configs/bc.yaml", "../data/bc.csv") == "s3://team/data/bc.csv"
    assert stepio._dataset_next_to("file:///srv/bc.yaml", "./bc.csv") == "file:///srv/bc.csv"
    assert stepio._dataset_next_to("s3://team/bc.yaml", "s3://other/bc.csv") == "s3://other/bc.csv"

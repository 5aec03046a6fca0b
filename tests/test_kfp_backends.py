"""The supported-backend matrix: every pipeline bakeoff compiles, checked with each backend's own
strict schemas (tests/kfp_schemas.py), and the shapes each backend's compiler needs.

Not the SDK that wrote a file decides here, but the protos of the backend that will read it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import kfp_schemas
from bakeoff import steps
from bakeoff.examples import EXAMPLES, config_text
from bakeoff.kfp import backends, stepio
from bakeoff.kfp.pipeline import (SPEC_BUDGET, compile_components, compile_experiment, compile_generic,
                                  compile_yaml, estimated_bytes, per_model_pipeline, text_bytes)
from bakeoff.runs import Run
from bakeoff.spec import KfpSettings, parse_experiment, parse_yaml
from conftest import ROOT
from kfp_standin import FAKE_SECRETS, execute, kubernetes_configs, pod_env

LINES = list(kfp_schemas.LINES)
ALL_UPSTREAM = "ALL_UPSTREAM_TASKS_COMPLETED"


def many_models(n: int, **changes: Any) -> dict[str, Any]:
    config = yaml.safe_load(config_text("breast-cancer"))
    config["models"] = [{"name": f"model-{i}", "estimator": "LogisticRegression", "params": {"C": 1.0 + i}}
                        for i in range(n)]
    return {**config, **changes}


@pytest.fixture(scope="module")
def packages() -> dict[str, str]:
    """Every kind of pipeline and component bakeoff writes."""
    placed = yaml.safe_load(config_text("breast-cancer"))
    placed["models"][0] |= {"resources": {"limits": {"memory": "1Gi"}}, "timeout": 60, "retries": 1,
                            "node_selector": {"pool": "ml"}, "image": "registry.example.com/b:1",
                            "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]}
    found = {f"pipelines/{p.name}": p.read_text() for p in (ROOT / "pipelines").glob("*.yaml")}
    found |= {f"components/{step}": text for step, text in compile_components("bakeoff:0.1.0").items()}
    found["placed"] = compile_experiment(parse_experiment(placed)).text
    found["loop form, 1000 models"] = compile_experiment(parse_experiment(many_models(1000))).text
    found["generic, custom"] = compile_generic(KfpSettings(parallelism=2, secret_name="s3", s3_endpoint=""))
    assert len(found) == 10
    return found


@pytest.mark.parametrize("line", LINES)
def test_every_compiled_pipeline_decodes_strictly_with_each_supported_backends_schemas(
        packages: dict[str, str], line: str) -> None:
    refused = {name: kfp_schemas.problems(line, text) for name, text in packages.items()}
    assert {name: p for name, p in refused.items() if p} == {}


def test_the_strict_decoders_refuse_what_their_backend_does_not_know() -> None:
    """The check can fail: kfp-kubernetes 2.17's `optional` is unknown before 2.15."""
    docs = list(yaml.safe_load_all((ROOT / "pipelines" / "generic.yaml").read_text()))
    for config in docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"].values():
        for secret in config["secretAsEnv"]:
            secret["optional"] = False  # what kfp-kubernetes 2.17's use_secret_as_env writes
    text = yaml.safe_dump_all(docs)
    for line in LINES:
        refused = kfp_schemas.problems(line, text)
        knows_optional = backends.version_of(kfp_schemas.LINES[line].backend) >= (2, 15, 0)
        assert bool(refused) is not knows_optional, (line, refused)
        assert all("optional" in error for error in refused.values())


def test_2_5_keeps_every_pods_labels_that_the_network_policies_admit(packages: dict[str, str]) -> None:
    """2.5 ignores an executor config it cannot decode and drops the pod's labels."""
    for name, text in packages.items():
        if name.startswith("components/"):
            continue
        configs = kubernetes_configs("2.5.0", text)
        assert configs and all(c["podMetadata"]["labels"] == {"app.kubernetes.io/part-of": "bakeoff"}
                               for c in configs.values()), name


def _dags(ir: dict[str, Any]) -> list[dict[str, Any]]:
    return [ir["root"]["dag"], *(c["dag"] for c in ir["components"].values() if "dag" in c)]


def test_no_task_waits_on_several_upstreams_or_a_loop_with_all_upstream_completed(packages: dict[str, str]) -> None:
    """ALL_UPSTREAM_TASKS_COMPLETED becomes one exit hook per upstream and none on a loop
    (backend/src/v2/compiler/argocompiler/dag.go): only one plain upstream runs it once."""
    waiting = 0
    for name, text in packages.items():
        ir = next(yaml.safe_load_all(text))
        if "root" not in ir or "dag" not in ir["root"]:
            continue
        for dag in _dags(ir):
            for task_name, task in dag["tasks"].items():
                if task.get("triggerPolicy", {}).get("strategy") != ALL_UPSTREAM:
                    continue
                waiting += 1
                [upstream] = task["dependentTasks"]
                assert "parameterIterator" not in dag["tasks"][upstream], (name, task_name)
    assert waiting == 7  # compare, in each of the seven pipelines


def test_a_hundred_models_compile_per_model_and_two_hundred_or_a_thousand_in_the_loop_form() -> None:
    """How long compiling takes is bench/compile_bench.py's figure, not an assertion here."""
    for n, loops in ((100, False), (200, True), (1000, True)):
        exp = parse_experiment(many_models(n))
        compiled = compile_experiment(exp)
        assert compiled.loops is loops, n
        assert (compiled.per_model_bytes > SPEC_BUDGET) is loops
        assert text_bytes(compiled.text) <= SPEC_BUDGET  # what is written always fits
        ir = next(yaml.safe_load_all(compiled.text))
        if loops:  # one placement: one loop over the models, written in as NAME=SPEC items
            [loop] = [t for t in ir["components"]["comp-exit-handler-1"]["dag"]["tasks"].values()
                      if "parameterIterator" in t]
            assert json.loads(loop["parameterIterator"]["items"]["raw"]) == stepio.expected_models(exp).split(",")
            expect = ir["components"]["comp-exit-handler-1"]["dag"]["tasks"]["prepare"]["inputs"]["parameters"]
            assert expect["expect_models"]["runtimeValue"]["constant"] == stepio.expected_models(exp, compact=True)


def test_past_the_written_loops_limit_one_placement_loops_over_prepares_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """Written items cost about 240 bytes a model: some thousands would not fit either."""
    from bakeoff.errors import UserError
    from bakeoff.kfp import pipeline

    monkeypatch.setattr(pipeline, "SPEC_BUDGET", 60 * 1024)  # as if 200 were thousands
    ir = next(yaml.safe_load_all(compile_experiment(parse_experiment(many_models(200))).text))
    [loop] = [t for t in ir["components"]["comp-exit-handler-1"]["dag"]["tasks"].values() if "parameterIterator" in t]
    assert loop["parameterIterator"]["items"]["inputParameter"] == "pipelinechannel--prepare-models"
    placed = many_models(200)
    placed["models"][0]["resources"] = {"limits": {"memory": "8Gi"}}
    with pytest.raises(UserError, match=r"^models: 200 models in 2 placements make a pipeline over Argo's size limit"):
        compile_experiment(parse_experiment(placed))


def test_the_size_estimate_matches_the_per_model_compile() -> None:
    exp = parse_experiment(many_models(90))
    actual = text_bytes(compile_yaml(per_model_pipeline(exp)))
    assert abs(estimated_bytes(exp) - actual) / actual < 0.02


@pytest.mark.slow
def test_the_loop_form_with_several_placements_runs_every_model_once(tmp_path: Path) -> None:
    from bakeoff.examples import write_example

    config, _ = write_example("wine", tmp_path / "team")
    data = yaml.safe_load(config.read_text())
    data |= {"storage": (tmp_path / "store").as_uri()}
    data["models"][1]["resources"] = {"limits": {"memory": "2Gi"}}  # a second placement group
    config.write_text(yaml.safe_dump(data))
    exp = parse_experiment(data)
    package = compile_yaml(per_model_pipeline(exp, loops=True))
    state, run = execute(package, {"config_uri": config.as_uri()}, workdir=tmp_path / "kfp", env=pod_env(),
                         secrets=FAKE_SECRETS, job_id="loops")
    assert state == "SUCCEEDED", [(t.display_name, t.stderr[-300:]) for t in run.tasks]
    # a written loop item is NAME=SPEC_DIGEST (pipeline.py says why)
    trained = sorted(t.inputs["model"].partition("=")[0] for t in run.tasks if "model" in t.inputs)
    assert trained == sorted(exp.model_names)
    board = json.loads((tmp_path / "store" / "runs" / "loops" / "leaderboard.json").read_text())
    assert {r["model"]: r["status"] for r in board["rows"]} == {n: "ok" for n in exp.model_names}
    assert len(run.runs_of("compare")) == 1


def test_a_real_train_steps_executor_output_decodes_with_every_backend(tmp_path: Path) -> None:
    from bakeoff.examples import write_example

    config, _ = write_example("wine", tmp_path)
    data = yaml.safe_load(config.read_text())
    data |= {"storage": (tmp_path / "store").as_uri(), "models": data["models"][:1]}
    config.write_text(yaml.safe_dump(data))
    run = Run.from_uri(stepio.resolve_run(None, str(config), "r1", None))
    prepared = steps.prepare(run.uri)
    result = steps.train(run.store.root, prepared.jobs["logistic"], "logistic", threads=1)
    out = tmp_path / "kfp" / "executor_output.json"
    executor_input = {"outputs": {"outputFile": str(out), "artifacts": {
        name: {"artifacts": [{"name": name, "uri": f"s3://root/{name}"}]}
        for name in ("metrics", "classification_metrics")}}}
    stepio.publish_train(json.dumps(executor_input), run.store, prepared.table, result)
    written = json.loads(out.read_text())
    assert set(written["artifacts"]) == {"metrics", "classification_metrics"}
    for line in LINES:
        assert kfp_schemas.decode(line, {"out": ("executor_output", written)}) == {"out": None}, line


def test_the_supported_lines_start_at_2_5_and_a_server_below_is_refused() -> None:
    assert backends.TESTED_LINES == tuple(kfp_schemas.LINES) and backends.MINIMUM == (2, 5)
    assert backends.version_of("2.14.3") == (2, 14, 3) and backends.version_of("v2.5.0") == (2, 5, 0)
    assert backends.version_of("unknown") is None and backends.version_of("2.15.0-rc.1") == (2, 15, 0)
    for tag in ("2.5.0", "2.14.3", "2.17.0", "2.18.0", "unknown", "master"):
        backends.check_supported(tag, "http://kfp")
    from bakeoff.errors import UserError

    with pytest.raises(UserError, match=r"^--host: http://kfp runs Kubeflow Pipelines 2.4.1, older than 2.5, the "
                                        r"oldest bakeoff supports"):
        backends.check_supported("2.4.1", "http://kfp")


def test_every_example_config_is_covered() -> None:
    assert sorted(p.stem for p in (ROOT / "pipelines").glob("*.yaml")) == sorted([*EXAMPLES, "generic"])
    for name in EXAMPLES:
        assert compile_experiment(parse_yaml(config_text(name), name)).text == (ROOT / "pipelines" / f"{name}.yaml").read_text()

"""Compiled KFP pipelines: their structure as KFP's own protos see it, validation, and drift.

Every pipeline here is compiled from a real bundled example config and parsed back with
``kfp-pipeline-spec`` (``PipelineSpec``, ``PlatformSpec``) through ``google.protobuf.json_format``.
"""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from bakeoff.errors import UserError
from bakeoff.examples import config_text
from bakeoff.kfp import generate
from bakeoff.kfp.pipeline import compile_experiment, compile_for, compile_generic
from bakeoff.kfp.submit import read_package
from bakeoff.kfp.validate import InvalidPipeline, validate
from bakeoff.spec import POD_DEADLINE_GRACE, KfpSettings, parse_experiment
from conftest import ROOT, bakeoff

ALL_UPSTREAM = pipeline_spec_pb2.PipelineTaskSpec.TriggerPolicy.TriggerStrategy.ALL_UPSTREAM_TASKS_COMPLETED
SECRET_ENV = ["AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]


def example(name: str = "breast-cancer", **changes: Any) -> dict[str, Any]:
    return {**yaml.safe_load(config_text(name)), **changes}


def parse(text: str) -> tuple[pipeline_spec_pb2.PipelineSpec, dict[str, dict[str, Any]]]:
    """The IR as protos, and each executor's Kubernetes config (a Struct in PlatformSpec) as a dict."""
    docs = list(yaml.safe_load_all(text))
    spec = json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec())
    platform = json_format.ParseDict(docs[1], pipeline_spec_pb2.PlatformSpec())
    executors = platform.platforms["kubernetes"].deployment_spec.executors
    return spec, {label: json_format.MessageToDict(cfg) for label, cfg in executors.items()}


def is_train(task: pipeline_spec_pb2.PipelineTaskSpec) -> bool:
    return task.component_ref.name.startswith("comp-train")  # one component per distinct placement


def container(spec: pipeline_spec_pb2.PipelineSpec, task: pipeline_spec_pb2.PipelineTaskSpec) -> Any:
    label = spec.components[task.component_ref.name].executor_label
    executor = json_format.MessageToDict(spec.deployment_spec)["executors"][label]
    return label, executor["container"]


def handled(spec: pipeline_spec_pb2.PipelineSpec) -> Any:
    """The tasks inside the pipeline's ExitHandler: prepare and the trains."""
    return spec.components["comp-exit-handler-1"].dag.tasks


def constant(task: pipeline_spec_pb2.PipelineTaskSpec, name: str) -> Any:
    return json_format.MessageToDict(task.inputs.parameters[name].runtime_value.constant)


@pytest.fixture(scope="module")
def placed() -> str:
    """breast-cancer with every kind of per-model placement on its models."""
    config = example()
    logistic, forest, boosting, knn = config["models"]
    logistic["resources"] = {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}
    forest |= {"image": "registry.example.com/bakeoff:gpu", "retries": 2, "timeout": 600}
    boosting |= {"node_selector": {"pool": "highmem"},
                 "tolerations": [{"key": "dedicated", "value": "ml", "effect": "NoSchedule"}]}
    return compile_experiment(parse_experiment(config)).text


def test_compare_is_the_exit_task_and_runs_once_after_prepare_and_every_train(placed: str) -> None:
    spec, _ = parse(placed)
    root = spec.root.dag.tasks
    assert set(root) == {"exit-handler-1", "compare"}
    compare = root["compare"]
    # One upstream, a plain DAG: the backend attaches its exit hook once (argocompiler/dag.go).
    assert list(compare.dependent_tasks) == ["exit-handler-1"] and compare.trigger_policy.strategy == ALL_UPSTREAM
    assert {k: v.component_input_parameter for k, v in compare.inputs.parameters.items() if k != "run_id"} == {
        "config_uri": "config_uri", "run_uri": "run_uri"}
    assert constant(compare, "run_id") == "{{$.pipeline_job_uuid}}"
    tasks = handled(spec)
    trains = {k: t for k, t in tasks.items() if is_train(t)}
    assert sorted(t.task_info.name for t in trains.values()) == ["boosting", "forest", "knn", "logistic"]
    assert set(tasks) == {"prepare", *trains}
    for t in trains.values():
        assert list(t.dependent_tasks) == ["prepare"]
        assert t.trigger_policy.strategy != ALL_UPSTREAM
    assert spec.pipeline_info.name == "bakeoff-breast-cancer"
    assert set(spec.root.input_definitions.parameters) == {"config_uri", "run_uri"}
    exp = parse_experiment(example())
    assert constant(tasks["prepare"], "expect_models") == ",".join(f"{m.name}={m.digest()}" for m in exp.models)
    assert constant(tasks["prepare"], "run_id") == "{{$.pipeline_job_uuid}}"


def test_a_train_tasks_inputs_name_its_job_by_content_never_the_run(placed: str) -> None:
    """KFP's cache key is the task's input values, image and unresolved command (backend
    cacheutils.GenerateCacheKey): no input may change from one run to the next."""
    spec, _ = parse(placed)
    tasks = handled(spec)
    assert not tasks["prepare"].caching_options.enable_cache  # prepare has its own content cache
    assert not spec.root.dag.tasks["compare"].caching_options.enable_cache
    exp = parse_experiment(example())
    for task in tasks.values():
        if not is_train(task):
            continue
        assert task.caching_options.enable_cache
        inputs = task.inputs.parameters
        assert set(inputs) == {"store", "context", "spec", "model", "timeout", "placement"}
        for name in ("store", "context"):
            assert inputs[name].task_output_parameter.producer_task == "prepare"
            assert inputs[name].task_output_parameter.output_parameter_key == name
        model = exp.model(task.task_info.name)
        assert constant(task, "model") == model.name and constant(task, "spec") == model.digest()
        _, c = container(spec, task)
        assert "--run-uri" not in c["args"] and c["args"][c["args"].index("--spec") + 1] == "{{$.inputs.parameters['spec']}}"


def test_each_model_gets_its_resources_image_retries_timeout_and_node_placement(placed: str) -> None:
    spec, k8s = parse(placed)
    by_model = {t.task_info.name: t for t in handled(spec).values()}
    _, logistic = container(spec, by_model["logistic"])
    assert logistic["resources"] == {  # own values, the rest from kfp.resources
        "cpuRequest": 0.5, "resourceCpuRequest": "500m", "cpuLimit": 2.0, "resourceCpuLimit": "2",
        "memoryRequest": 0.536870912, "resourceMemoryRequest": "512Mi",
        "memoryLimit": 1.073741824, "resourceMemoryLimit": "1Gi"}
    assert json.loads(constant(by_model["logistic"], "placement"))["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
    label, forest = container(spec, by_model["forest"])
    assert forest["image"] == "registry.example.com/bakeoff:gpu"
    assert forest["resources"]["resourceMemoryLimit"] == "4Gi"
    assert by_model["forest"].retry_policy.max_retry_count == 2
    assert constant(by_model["forest"], "timeout") == 600  # the step stops the model itself...
    assert k8s[label]["activeDeadlineSeconds"] == str(600 + POD_DEADLINE_GRACE)  # ...the pod only as a backstop
    label, boosting = container(spec, by_model["boosting"])
    assert boosting["image"] == "bakeoff:0.1.0"
    assert k8s[label]["nodeSelector"]["labels"] == {"pool": "highmem"}
    assert k8s[label]["tolerations"] == [{"key": "dedicated", "operator": "Equal", "value": "ml",
                                          "effect": "NoSchedule"}]
    assert json.loads(constant(by_model["boosting"], "placement"))["node_selector"] == {"pool": "highmem"}
    label, knn = container(spec, by_model["knn"])
    assert by_model["knn"].retry_policy.max_retry_count == 0 and constant(by_model["knn"], "timeout") == 0
    assert "activeDeadlineSeconds" not in k8s[label] and "nodeSelector" not in k8s[label]


def test_every_pod_gets_the_endpoint_and_credentials_from_the_secret_never_values(
        placed: str, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, k8s = parse(placed)
    tasks = [*handled(spec).values(), spec.root.dag.tasks["compare"]]
    labels = {container(spec, t)[0] for t in tasks}
    assert labels == set(k8s) and len(labels) == 6
    for label in labels:
        # No `optional`: backends before 2.15 have no such field and refuse the run (kfp_schemas.py).
        assert k8s[label]["secretAsEnv"] == [{
            "secretName": "mlpipeline-minio-artifact",
            "secretNameParameter": {"runtimeValue": {"constant": "mlpipeline-minio-artifact"}},
            "keyToEnv": [{"secretKey": "accesskey", "envVar": "BAKEOFF_S3_ACCESS_KEY_ID"},
                         {"secretKey": "secretkey", "envVar": "BAKEOFF_S3_SECRET_ACCESS_KEY"}]}]
        assert k8s[label]["podMetadata"]["labels"] == {"app.kubernetes.io/part-of": "bakeoff"}
    for task in tasks:  # never AWS_*: KFP's launcher reads those in the same container
        assert container(spec, task)[1]["env"] == [
            {"name": "BAKEOFF_S3_ENDPOINT_URL", "value": "http://minio-service.kubeflow:9000"}]
    # Credentials in the compiling shell never reach the YAML...
    values = {"AWS_ACCESS_KEY_ID": "AKIA-sentinel-access", "AWS_SECRET_ACCESS_KEY": "sentinel/secret+value",
              "BAKEOFF_S3_SECRET_ACCESS_KEY": "sentinel-own-secret"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    text = compile_experiment(parse_experiment(example())).text
    assert not any(v in text for v in values.values())
    # ...and a setting that would carry one there is refused.
    with pytest.raises(UserError, match=r"AWS_SECRET_ACCESS_KEY.*Kubernetes Secret"):
        compile_experiment(parse_experiment(example(kfp={"image": "bakeoff:sentinel/secret+value"})))


def test_the_kfp_section_and_cli_flags_set_endpoint_secret_and_keys(tmp_path: Path) -> None:
    custom = {"s3_endpoint": "http://minio.bakeoff.svc:9000", "secret_name": "bakeoff-s3",
              "access_key_field": "AWS_ACCESS_KEY_ID", "secret_key_field": "AWS_SECRET_ACCESS_KEY"}
    spec, k8s = parse(compile_experiment(parse_experiment(example("diabetes", kfp=custom))).text)
    expected = [{"secretKey": "AWS_ACCESS_KEY_ID", "envVar": "BAKEOFF_S3_ACCESS_KEY_ID"},
                {"secretKey": "AWS_SECRET_ACCESS_KEY", "envVar": "BAKEOFF_S3_SECRET_ACCESS_KEY"}]
    assert len(k8s) == 6  # prepare, four trains, compare: an empty section would pass the lines below
    assert all(cfg["secretAsEnv"][0]["secretName"] == "bakeoff-s3" for cfg in k8s.values())
    assert all(cfg["secretAsEnv"][0]["keyToEnv"] == expected for cfg in k8s.values())
    assert container(spec, handled(spec)["prepare"])[1]["env"][0]["value"] == custom["s3_endpoint"]

    out = tmp_path / "generic.yaml"
    result = bakeoff("compile", "--generic", "-o", str(out), "--secret-name", "other", "--access-key-field", "ak",
                     "--secret-key-field", "sk", "--s3-endpoint", "http://s3.internal:9000", "--parallelism", "2",
                     "--image", "ghcr.io/x/bakeoff:1.2")
    assert result.code == 0, result.stderr
    spec, k8s = parse(out.read_text())
    assert {cfg["secretAsEnv"][0]["secretName"] for cfg in k8s.values()} == {"other"}
    assert handled(spec)["for-loop-2"].iterator_policy.parallelism_limit == 2
    assert "ghcr.io/x/bakeoff:1.2" in out.read_text() and "http://s3.internal:9000" in out.read_text()


def test_generic_pipeline_fans_out_over_prepares_model_list_with_a_parallelism_limit() -> None:
    spec, k8s = parse(compile_generic(KfpSettings(parallelism=3)))
    assert set(spec.root.dag.tasks) == {"exit-handler-1", "compare"}
    tasks = handled(spec)
    assert set(tasks) == {"prepare", "for-loop-2"}
    loop = tasks["for-loop-2"]
    assert loop.iterator_policy.parallelism_limit == 3
    assert loop.parameter_iterator.items.input_parameter == "pipelinechannel--prepare-models"
    assert loop.inputs.parameters["pipelinechannel--prepare-models"].task_output_parameter.output_parameter_key == "models"
    assert constant(tasks["prepare"], "expect_models") == ""
    train = spec.components[loop.component_ref.name].dag.tasks["train"]
    assert train.caching_options.enable_cache
    for name in ("model", "spec", "timeout"):  # each loop item's own
        assert train.inputs.parameters[name].component_input_parameter == "pipelinechannel--prepare-models-loop-item"
        assert train.inputs.parameters[name].parameter_expression_selector == f'parseJson(string_value)["{name}"]'
    for name in ("store", "context"):
        channel = train.inputs.parameters[name].component_input_parameter
        assert loop.inputs.parameters[channel].task_output_parameter.producer_task == "prepare"
    assert len(k8s) == 3 and all(cfg["secretAsEnv"][0]["secretName"] == "mlpipeline-minio-artifact"
                                 for cfg in k8s.values())
    params = spec.root.input_definitions.parameters
    assert "s3://bucket/configs/bakeoff.yaml" in params["config_uri"].description
    assert "<KFP run id>" in params["run_uri"].description


def test_validation_rejects_what_kfp_would_reject(tmp_path: Path) -> None:
    good = compile_generic(KfpSettings())
    validate(good)
    with pytest.raises(InvalidPipeline, match="no pipelineInfo"):
        validate("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n")
    with pytest.raises(InvalidPipeline, match="deploymentSpecc"):
        validate(good.replace("deploymentSpec:", "deploymentSpecc:", 1))
    with pytest.raises(InvalidPipeline, match="secretAsEnvv"):
        validate(good.replace("secretAsEnv:", "secretAsEnvv:", 1))
    bad = tmp_path / "bad.yaml"  # what `bakeoff upload` reads before it connects
    bad.write_text(good.replace("schemaVersion: 2.1.0", "schemaVersion: [2]"))
    with pytest.raises(UserError, match=r"bad.yaml: not a valid KFP pipeline: .*schemaVersion"):
        read_package(bad)


def test_bad_placement_is_a_one_line_error_naming_the_model() -> None:
    config = example()
    config["models"][1]["resources"] = {"limits": {"cpu": "two"}}
    with pytest.raises(UserError, match=r"^models\[1\]: .*cpu"):
        compile_experiment(parse_experiment(config))


def test_compile_cli_writes_a_validated_per_model_pipeline(tmp_path: Path) -> None:
    config = tmp_path / "bakeoff.yaml"  # no data next to it: compiling never reads the data
    config.write_text(config_text("wine"))
    out = tmp_path / "out" / "wine.yaml"
    result = bakeoff("compile", str(config), "-o", str(out))
    assert result.code == 0, result.stderr
    assert "bakeoff-wine" in result.stdout and "one train pod per model (4)" in result.stdout
    assert out.read_text() == (ROOT / "pipelines" / "wine.yaml").read_text()  # data is not baked in
    with pytest.raises(UserError, match="CONFIG: required unless --generic"):
        compile_for(None, generic=False, overrides={})


def test_committed_components_and_pipelines_match_the_code(tmp_path: Path) -> None:
    """Drift: regenerate into a temporary tree and compare. Fix: python -m bakeoff.kfp.generate."""
    files = generate.generated()
    generate.write(tmp_path, files)
    assert sorted(files) == sorted(
        [f"components/{s}/component.yaml" for s in ("compare", "prepare", "train")]
        + [f"pipelines/{p}.yaml" for p in ("breast-cancer", "diabetes", "generic", "wine")])
    drifted = [rel for rel in files if not (ROOT / rel).is_file()
               or (ROOT / rel).read_text() != (tmp_path / rel).read_text()]
    assert drifted == [], f"regenerate with `{generate.REGENERATE}`"
    assert generate.drifted(ROOT, files) == []


def test_committed_components_are_reusable_in_another_pipeline(tmp_path: Path) -> None:
    from kfp import compiler, components, dsl

    train = components.load_component_from_file(str(ROOT / "components" / "train" / "component.yaml"))
    prepare = components.load_component_from_file(str(ROOT / "components" / "prepare" / "component.yaml"))

    @dsl.pipeline(name="two-models")
    def two_models(config_uri: str) -> None:
        p = prepare(config_uri=config_uri, run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER)
        for model, spec in (("logistic", "a" * 64), ("forest", "b" * 64)):
            train(store=p.outputs["store"], context=p.outputs["context"], spec=spec, model=model)

    out = tmp_path / "two.yaml"
    compiler.Compiler().compile(two_models, str(out))
    validate(out.read_text())
    assert "--executor-input" in out.read_text()

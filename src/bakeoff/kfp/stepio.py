"""What `bakeoff step` does for Kubeflow Pipelines beyond the step itself. It never imports kfp.

A KFP container component talks to its container through files. Inputs arrive on the command
line. Output parameters and artifact files go to paths that KFP substitutes into the arguments.
Artifact *metadata* goes into the executor output file, whose path is part of the executor
input (``{{$}}``): KFP's launcher reads that file after the command exits and records the metadata
with the artifact. The Visualizations tab shows that metadata.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bakeoff.errors import UserError, did_you_mean
from bakeoff.runs import Run, checked_run_id, create_run, new_run_id
from bakeoff.storage import is_absolute, next_to, open_store, read_uri, resolve

if TYPE_CHECKING:
    from bakeoff.records import ModelResult, Prepared, Schema
    from bakeoff.spec import Experiment
    from bakeoff.storage import ObjectStore

# What each step can hand back to KFP, by the output names its component declares.
OUTPUTS: dict[str, tuple[str, ...]] = {
    "prepare": ("run", "store", "context", "models"),
    "train": (),
    "compare": ("html", "markdown"),
}


def parse_outputs(step: str, pairs: list[str]) -> dict[str, Path]:
    """``["fingerprint=/tmp/out", …]`` from ``--kfp-output`` flags, checked against the step's outputs."""
    paths: dict[str, Path] = {}
    for pair in pairs:
        name, sep, path = pair.partition("=")
        if not sep or not path:
            raise UserError(f"--kfp-output: {pair!r} is not NAME=PATH; write it like fingerprint=/tmp/fp")
        if name not in OUTPUTS[step]:
            choices = ", ".join(OUTPUTS[step]) or "none"
            raise UserError(f"--kfp-output: step {step} has no output {name!r}"
                            f"{did_you_mean(name, OUTPUTS[step])}; its outputs: {choices}")
        paths[name] = Path(path)
    return paths


def write_outputs(paths: dict[str, Path], values: dict[str, Any]) -> None:
    """Write each requested output: text as is, lists and mappings as JSON (what KFP parses)."""
    for name, path in paths.items():
        value = values[name]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value if isinstance(value, str) else json.dumps(value), encoding="utf-8")


def require_run_uri(run_uri: str | None) -> str:
    if not run_uri:
        raise UserError("--run-uri: required; pass <store>/runs/<run_id> (a pipeline's train task "
                        "passes --store, --context and --spec instead)")
    return run_uri


def _config_at(config_uri: str) -> Experiment:
    """The config at ``config_uri``, validated, its relative dataset made to mean "next to it"."""
    from bakeoff.spec import parse_config_bytes

    config_uri = resolve(config_uri, Path.cwd())
    exp = parse_config_bytes(read_uri(config_uri, field="--config-uri"), config_uri)
    return exp.model_copy(update={"dataset": exp.dataset.model_copy(
        update={"uri": next_to(config_uri, exp.dataset.uri)})})


def _run_in_storage(exp: Experiment, run_id: str) -> Run:
    if not is_absolute(exp.storage):
        raise UserError(f"storage: {exp.storage!r} is relative to each pod; set storage: "
                        "s3://BUCKET/PREFIX (or a path every pod mounts), or pass run_uri")
    return Run(open_store(exp.storage), checked_run_id(run_id))


def expected_models(exp: Experiment, *, compact: bool = False) -> str:
    """What a per-model pipeline was compiled for: each model's name and spec digest, or (for
    a pipeline of a thousand models, where every byte is stored several times) their digest."""
    pairs = ",".join(f"{m.name}={m.digest()}" for m in exp.models)
    return f"sha256:{hashlib.sha256(pairs.encode()).hexdigest()}" if compact else pairs


def _check_expected(exp: Experiment, expect_models: str) -> None:
    """A per-model pipeline trains the models it was compiled for: refuse a config with others."""
    if expect_models.startswith("sha256:"):
        if expect_models != expected_models(exp, compact=True):
            raise UserError("models: the config's models (names, estimators, params or searches) are not "
                            "those this pipeline was compiled for; recompile it with `bakeoff compile` "
                            "or use the generic pipeline")
        return
    expected = dict(pair.partition("=")[::2] for pair in expect_models.split(","))
    actual = {m.name: m.digest() for m in exp.models}
    if sorted(expected) != sorted(actual):
        raise UserError(f"models: the config has {', '.join(sorted(actual))} but this pipeline was "
                        f"compiled for {', '.join(sorted(expected))}; recompile it with `bakeoff compile` "
                        "or use the generic pipeline")
    changed = [name for name, spec in expected.items() if spec and spec != actual[name]]
    if changed:
        raise UserError(f"models: {', '.join(changed)} changed (estimator, params or search) since this "
                        "pipeline was compiled; recompile it with `bakeoff compile` or use the generic pipeline")


def resolve_run(run_uri: str | None, config_uri: str | None, run_id: str | None,
                expect_models: str | None) -> str:
    """The run a pipeline works in, with its config written into it.

    Given ``config_uri``, the config is validated and written into the run first: into
    ``run_uri`` when given, else into ``<config storage>/runs/<run_id>`` (KFP passes its own run
    id). Given only ``run_uri``, the run must already hold its config (``bakeoff submit`` does that).
    ``expect_models`` guards a per-model pipeline against a config with other models.
    """
    if config_uri:  # everything is checked before anything is written
        exp = _config_at(config_uri)
        if expect_models:
            _check_expected(exp, expect_models)
        run = Run.from_uri(run_uri) if run_uri else _run_in_storage(exp, run_id or new_run_id())
        create_run(run.store, exp, run.run_id)
    elif run_uri:
        run = Run.from_uri(run_uri)
        if expect_models:
            _check_expected(run.config(), expect_models)
    else:
        raise UserError("config_uri: empty; set it to your config, such as "
                        "s3://bucket/configs/bakeoff.yaml (or pass run_uri of an existing run)")
    return run.uri


def locate_run(run_uri: str | None, config_uri: str | None, run_id: str | None) -> Run:
    """The run ``resolve_run`` made from the same pipeline parameters, without writing anything:
    compare runs as the pipeline's exit task, which may take pipeline parameters only."""
    if run_uri:
        return Run.from_uri(run_uri)
    if not config_uri or not run_id:
        raise UserError("config_uri: empty; set it to your config (or pass run_uri of an existing run)")
    return _run_in_storage(_config_at(config_uri), run_id)


def parse_placement(text: str | None) -> dict[str, Any]:
    """The pod's placement as the pipeline wrote it (``ModelSpec.placement``)."""
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise UserError(f"--placement: {(text or '')[:60]!r} is not a JSON object; a pipeline passes "
                        "the pod's resources, node selector and tolerations as one")
    return value


def prepare_outputs(run: Run, exp: Experiment, prepared: Prepared) -> dict[str, Any]:
    """What train tasks take from prepare: where the store is, the job context, and (for a loop
    over the models) each model's name, spec digest and timeout."""
    return {"run": run.uri, "store": run.store.root, "context": prepared.context.digest(),
            "models": [{"model": m.name, "spec": m.digest(), "timeout": m.timeout or 0} for m in exp.models]}


def compare_outputs(run: Run) -> dict[str, str]:
    """The reports compare wrote into the run, as KFP HTML and Markdown artifacts."""
    return {"html": run.store.read_bytes(run.key("report.html")).decode("utf-8"),
            "markdown": run.store.read_bytes(run.key("report.md")).decode("utf-8")}


def write_executor_output(executor_input: str, metadata: dict[str, dict[str, Any]]) -> None:
    """Record ``metadata`` on the named output artifacts, as KFP's own Python executor does.

    Artifacts the component does not declare, or with empty metadata, are left out.
    """
    try:
        outputs = json.loads(executor_input)["outputs"]
        output_file = Path(outputs["outputFile"])
    except (ValueError, KeyError, TypeError):
        raise UserError("--executor-input: not KFP's executor input; pass the {{$}} placeholder") from None
    declared = outputs.get("artifacts", {})
    artifacts = {}
    for name, meta in metadata.items():
        runtime = declared.get(name, {}).get("artifacts", [])
        if runtime and meta:
            first = runtime[0]
            artifacts[name] = {"artifacts": [{"name": first.get("name", ""), "uri": first.get("uri", ""),
                                              "metadata": meta}]}
    output_file.parent.mkdir(parents=True, exist_ok=True)
    output_file.write_text(json.dumps({"artifacts": artifacts}), encoding="utf-8")


def publish_train(executor_input: str, store: ObjectStore, table: Schema, result: ModelResult) -> None:
    """Give the train component's ``metrics`` and ``classification_metrics`` their UI metadata.

    A failed model publishes nothing (the file then says so, as KFP's launcher expects a file
    it can decode strictly: backend/src/v2/component/launcher_v2.go, getExecutorOutputFile)."""
    from bakeoff.kfp import ui_metrics

    write_executor_output(executor_input, {
        "metrics": ui_metrics.scalar_metrics(result) if result.ok else {},
        "classification_metrics": ui_metrics.classification_metrics(store, table, result) if result.ok else {},
    })

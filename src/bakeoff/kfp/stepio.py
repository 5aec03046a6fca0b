"""What `bakeoff step` does for Kubeflow Pipelines beyond the step itself. It never imports kfp.

A KFP container component talks to its container through files. Inputs arrive on the command
line. Output parameters and artifact files go to paths that KFP substitutes into the arguments.
Artifact *metadata* goes into the executor output file, whose path is part of the executor
input (``{{$}}``): KFP's launcher reads that file after the command exits and records the metadata
with the artifact. The Visualizations tab shows that metadata.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from bakeoff.errors import UserError, did_you_mean

# What each step can hand back to KFP, by the output names its component declares.
OUTPUTS: dict[str, tuple[str, ...]] = {
    "prepare": ("run", "fingerprint", "config_digest", "models"),
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
    """Train and compare need the run prepare resolved. KFP passes '' when prepare failed."""
    if not run_uri:
        raise UserError("--run-uri: empty; pass <store>/runs/<run_id> (in a pipeline this means "
                        "the prepare step failed: read its log)")
    return run_uri


def _dataset_next_to(config_uri: str, dataset_uri: str) -> str:
    """A relative ``dataset.uri`` means "next to the config", wherever the config is stored."""
    if "://" in dataset_uri or dataset_uri.startswith("/"):
        return dataset_uri
    scheme, _, rest = config_uri.partition("://")
    # urljoin resolves "../" only for schemes it knows, so resolve as http and put the scheme back.
    return f"{scheme}://" + urljoin(f"http://{rest}", dataset_uri).removeprefix("http://")


def resolve_run(run_uri: str | None, config_uri: str | None, run_id: str | None,
                expect_models: str | None) -> str:
    """The run a pipeline works in.

    Given ``config_uri``, the config is validated and written into the run first: into
    ``run_uri`` when given, else into ``<config storage>/runs/<run_id>`` (KFP passes its own run
    id). Given only ``run_uri``, the run must already hold its config (``bakeoff submit`` does that).
    ``expect_models`` guards a per-model pipeline against a config with other models.
    """
    from bakeoff.runs import Run, create_run, new_run_id
    from bakeoff.spec import parse_config_bytes
    from bakeoff.storage import open_store, read_uri

    if config_uri:
        if "://" not in config_uri:
            config_uri = Path(config_uri).resolve().as_uri()
        exp = parse_config_bytes(read_uri(config_uri, field="--config-uri"), config_uri)
        exp = exp.model_copy(update={"dataset": exp.dataset.model_copy(
            update={"uri": _dataset_next_to(config_uri, exp.dataset.uri)})})
        if run_uri:
            run = Run.from_uri(run_uri)
        elif exp.storage.startswith(("s3://", "file:///", "/")):
            run = Run(open_store(exp.storage), run_id or new_run_id())
        else:
            raise UserError(f"storage: {exp.storage!r} is relative to each pod; set storage: "
                            "s3://BUCKET/PREFIX (or a path every pod mounts), or pass run_uri")
        create_run(run.store, exp, run.run_id)
    elif run_uri:
        run = Run.from_uri(run_uri)
    else:
        raise UserError("config_uri: empty; set it to your config, such as "
                        "s3://bucket/configs/bakeoff.yaml (or pass run_uri of an existing run)")
    if expect_models:
        expected, actual = sorted(expect_models.split(",")), sorted(run.config().model_names)
        if expected != actual:
            raise UserError(f"models: the config has {', '.join(actual)} but this pipeline was "
                            f"compiled for {', '.join(expected)}; recompile it with `bakeoff compile` "
                            "or use the generic pipeline")
    return run.uri


def compare_outputs(run_uri: str) -> dict[str, str]:
    """The reports compare wrote into the run, as KFP HTML and Markdown artifacts."""
    from bakeoff.runs import Run

    run = Run.from_uri(run_uri)
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


def publish_train(executor_input: str, run_uri: str, model: str, result: dict[str, Any]) -> None:
    """Give the train component's ``metrics`` and ``classification_metrics`` their UI metadata."""
    from bakeoff.kfp import ui_metrics

    write_executor_output(executor_input, {
        "metrics": ui_metrics.scalar_metrics(result),
        "classification_metrics": ui_metrics.classification_metrics(run_uri, model),
    })

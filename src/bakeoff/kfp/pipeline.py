"""Two pipelines over the same three components, compiled to validated KFP IR YAML.

* per-model (``bakeoff compile CONFIG``): one train task per model of the config, placed as the
  model asks (resources, image, retries, timeout, node selector, tolerations).
* generic (``bakeoff compile --generic``): prepare outputs the model names and a ``ParallelFor``
  fans out train over them, so one uploaded pipeline serves any config.

In both, compare runs after every train task even when some failed: a failed model is a row on
the leaderboard, not a reason to lose the other models' results. Caching is correct by
construction. prepare and compare are never cached, because they read what KFP cannot see.
Every train task takes prepare's data fingerprint and config digest as inputs, so KFP's cache
key changes whenever the data or the config does.
(No ``from __future__ import annotations`` here: kfp reads the pipeline's annotations.)
"""

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bakeoff.errors import UserError
from bakeoff.kfp.components import Components, build
from bakeoff.spec import Experiment, KfpSettings, ModelSpec, ResourceAmounts, Resources
from bakeoff.storage import ENV_ACCESS_KEY, ENV_ENDPOINT, ENV_SECRET_KEY

GENERIC_NAME = "bakeoff"
POD_LABEL = ("app.kubernetes.io/part-of", "bakeoff")  # what manifests/ NetworkPolicies admit

# One line per argument: kfp keeps a docstring's line breaks in the UI's descriptions.
PARAMETERS_DOC = """{summary}

    Args:
        config_uri: The bakeoff config to run, such as s3://bucket/configs/bakeoff.yaml; prepare copies it into the run, and a relative dataset.uri is read next to it.
        run_uri: An existing run <store>/runs/<run_id> that holds its config.yaml (bakeoff submit makes one). Leave it empty with config_uri: the run is then <config storage>/runs/<KFP run id>.
"""  # noqa: E501


def pipeline_name(exp: Experiment) -> str:
    return f"bakeoff-{exp.experiment}"


def _merged(default: Resources, own: Resources) -> Resources:
    """A model's resources, each field falling back to the pipeline-wide default."""

    def amounts(d: ResourceAmounts, o: ResourceAmounts) -> ResourceAmounts:
        return ResourceAmounts(cpu=o.cpu or d.cpu, memory=o.memory or d.memory)

    return Resources(requests=amounts(default.requests, own.requests), limits=amounts(default.limits, own.limits))


def _pod(task: Any, settings: KfpSettings, resources: Resources) -> Any:
    """What every pod needs: the store endpoint, credentials from the Secret, resources, a label."""
    from kfp import kubernetes

    if settings.s3_endpoint:  # empty: the image's or platform's own (AWS S3 itself needs none)
        task.set_env_variable(ENV_ENDPOINT, settings.s3_endpoint)
    kubernetes.use_secret_as_env(task, secret_name=settings.secret_name, secret_key_to_env={
        settings.access_key_field: ENV_ACCESS_KEY, settings.secret_key_field: ENV_SECRET_KEY})
    kubernetes.add_pod_label(task, *POD_LABEL)
    for value, setter in ((resources.requests.cpu, task.set_cpu_request),
                          (resources.limits.cpu, task.set_cpu_limit),
                          (resources.requests.memory, task.set_memory_request),
                          (resources.limits.memory, task.set_memory_limit)):
        if value:
            setter(value)
    return task


def _place(task: Any, model: ModelSpec) -> None:
    """A model's own placement, beyond resources."""
    from kfp import kubernetes

    task.set_display_name(model.name)
    if model.image:
        task.set_container_image(model.image)
    if model.retries:
        task.set_retry(num_retries=model.retries)
    if model.timeout:
        kubernetes.set_timeout(task, model.timeout)
    for key, value in model.node_selector.items():
        kubernetes.add_node_selector(task, key, value)
    for t in model.tolerations:
        kubernetes.add_toleration(task, key=t.key, operator=t.operator, value=t.value, effect=t.effect)


def _prepare(c: Components, settings: KfpSettings, config_uri: Any, run_uri: Any, expect_models: str) -> Any:
    from kfp import dsl

    task = c.prepare(config_uri=config_uri, run_uri=run_uri, run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                     expect_models=expect_models)
    task.set_caching_options(False)  # it reads a config and data KFP cannot see; it has its own cache
    return _pod(task, settings, settings.resources)


def _train(c: Components, settings: KfpSettings, prepared: Any, model: Any, resources: Resources) -> Any:
    task = c.train(run_uri=prepared.outputs["run"], model=model,
                   fingerprint=prepared.outputs["fingerprint"],
                   config_digest=prepared.outputs["config_digest"])
    task.set_caching_options(True)
    return _pod(task, settings, _merged(settings.resources, resources))


def _compare(c: Components, settings: KfpSettings, prepared: Any, after: list[Any]) -> Any:
    task = c.compare(run_uri=prepared.outputs["run"]).after(*after).ignore_upstream_failure()
    task.set_caching_options(False)  # it ranks whatever results the run holds now
    return _pod(task, settings, settings.resources)


def _settings_error(where: str, exc: ValueError) -> UserError:
    """kfp checks quantities such as "500m" and "4Gi" when a task is made; say which field."""
    return UserError(f"{where}: {str(exc).splitlines()[0]}")


def _decorate(name: str, func: Callable[..., None]) -> Callable[..., Any]:
    """``dsl.pipeline`` runs ``func`` to build the graph: settings errors surface here."""
    from kfp import dsl

    try:
        return dsl.pipeline(name=name)(func)
    except ValueError as exc:
        raise _settings_error("kfp", exc) from None


def per_model_pipeline(exp: Experiment) -> Callable[..., Any]:
    settings = exp.kfp
    c = build(settings.image)

    def pipeline(config_uri: str = "", run_uri: str = "") -> None:
        prepared = _prepare(c, settings, config_uri, run_uri, ",".join(exp.model_names))
        trains = []
        for i, model in enumerate(exp.models):
            try:
                task = _train(c, settings, prepared, model.name, model.resources)
                _place(task, model)
            except ValueError as exc:
                raise _settings_error(f"models[{i}]", exc) from None
            trains.append(task)
        _compare(c, settings, prepared, trains)

    pipeline.__doc__ = PARAMETERS_DOC.format(
        summary=f"bakeoff {exp.experiment}: prepare, one train pod per model "
                f"({', '.join(exp.model_names)}), then compare.")
    return _decorate(pipeline_name(exp), pipeline)


def generic_pipeline(settings: KfpSettings) -> Callable[..., Any]:
    from kfp import dsl

    c = build(settings.image)

    def pipeline(config_uri: str = "", run_uri: str = "") -> None:
        prepared = _prepare(c, settings, config_uri, run_uri, "")
        with dsl.ParallelFor(prepared.outputs["models"], parallelism=settings.parallelism) as model:
            task = _train(c, settings, prepared, model, Resources())
        _compare(c, settings, prepared, [task])

    pipeline.__doc__ = PARAMETERS_DOC.format(
        summary=f"bakeoff for any config: prepare, one train pod per model "
                f"(at most {settings.parallelism} at once), then compare.")
    return _decorate(GENERIC_NAME, pipeline)


def compile_yaml(func: Any) -> str:
    """Compile a pipeline or a component to IR YAML, and validate it before anyone sees it."""
    from kfp import compiler

    from bakeoff.kfp.validate import validate

    with tempfile.TemporaryDirectory(prefix="bakeoff-compile-") as tmp:
        path = Path(tmp) / "pipeline.yaml"
        compiler.Compiler().compile(func, str(path))
        text = path.read_text(encoding="utf-8")
    validate(text)
    return text


def compile_experiment(exp: Experiment) -> str:
    return compile_yaml(per_model_pipeline(exp))


def compile_generic(settings: KfpSettings) -> str:
    return compile_yaml(generic_pipeline(settings))


def compile_components(image: str) -> dict[str, str]:
    """Each step's component on its own, for reuse in other pipelines."""
    c = build(image)
    return {name: compile_yaml(getattr(c, name)) for name in ("prepare", "train", "compare")}


def with_overrides(settings: KfpSettings, **overrides: Any) -> KfpSettings:
    """The settings with the command line's flags applied; a flag left out (None) keeps the value."""
    return KfpSettings.model_validate(
        {**settings.model_dump(), **{k: v for k, v in overrides.items() if v is not None}})


def compile_for(config: Path | None, *, generic: bool, overrides: dict[str, Any]) -> tuple[str, str]:
    """What `bakeoff compile` writes, and one line saying what it is."""
    from bakeoff.spec import load_config

    if config is None and not generic:
        raise UserError("CONFIG: required unless --generic; pass the experiment YAML")
    exp = load_config(config) if config is not None else None
    settings = with_overrides(exp.kfp if exp else KfpSettings(), **overrides)
    if exp is None or generic:
        return (compile_generic(settings),
                f"generic pipeline {GENERIC_NAME!r}, at most {settings.parallelism} train pods at once")
    exp = exp.model_copy(update={"kfp": settings})
    return compile_experiment(exp), f"pipeline {pipeline_name(exp)!r}, one train pod per model ({len(exp.models)})"

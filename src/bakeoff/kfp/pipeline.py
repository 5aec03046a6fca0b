"""Two pipelines over the same three components, compiled to validated KFP IR YAML.

* per-model (``bakeoff compile CONFIG``): one train task per model of the config, placed as the
  model asks (resources, image, retries, timeout, node selector, tolerations). A config too big for
  one Argo Workflow object gets the *loop form* instead: one ParallelFor per distinct placement,
  its models carried as loop items (see ``workflow_bytes``).
* generic (``bakeoff compile --generic``): prepare outputs the models and a ``ParallelFor`` fans
  out train over them, so one uploaded pipeline serves any config.

compare runs exactly once, after every train task has ended, whatever their outcome: it is the
exit task of an ``ExitHandler`` around prepare and the trains. Why not a downstream task with
``ignore_upstream_failure()``: that compiles to ``triggerPolicy: ALL_UPSTREAM_TASKS_COMPLETED``,
which the backend (≥ 2.4) turns into an Argo exit hook on *each* upstream task and drops on a
ParallelFor (backend/src/v2/compiler/argocompiler/dag.go, ``DAG`` and ``addExitTask`` in
common.go): compare ran N+1 times, or once too early. An ExitHandler's exit task has exactly one
upstream, the handler's own DAG, so its one hook fires once when that DAG ends (same files; the
SDK compiles it in kfp/compiler/pipeline_spec_builder.py, ``build_exit_handler_groups_recursively``).
And since a model's own failure is a successful train task (a failed row), the DAG normally
succeeds; compare still runs when a pod fails for the platform's reasons.

Caching: prepare and compare are never cached (they read what KFP cannot see). A train task's
inputs name its job by content (store, context, spec) plus the model's placement, so an unchanged
model on unchanged data is a KFP cache hit that starts no pod.
(No ``from __future__ import annotations`` here: kfp reads the pipeline's annotations.)
"""

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakeoff.errors import UserError, listing
from bakeoff.kfp.components import Components, build
from bakeoff.spec import POD_DEADLINE_GRACE, POD_LABEL, Experiment, KfpSettings, ModelSpec
from bakeoff.storage import ACCESS_KEY, ENDPOINT, SECRET_KEY

GENERIC_NAME = "bakeoff"

# Argo refuses a Workflow object whose JSON exceeds 1 MiB (argo-workflows workflow/packer/packer.go,
# MAX_WORKFLOW_SIZE; only status.nodes is ever compressed). Half of it is kept for the status.
WORKFLOW_LIMIT = 1024 * 1024
SPEC_BUDGET = WORKFLOW_LIMIT // 2

# One line per argument: kfp keeps a docstring's line breaks in the UI's descriptions.
PARAMETERS_DOC = """{summary}

    Args:
        config_uri: The bakeoff config to run, such as s3://bucket/configs/bakeoff.yaml; prepare copies it into the run, and a relative dataset.uri is read next to it.
        run_uri: An existing run <store>/runs/<run_id> that holds its config.yaml (bakeoff submit makes one). Leave it empty with config_uri: the run is then <config storage>/runs/<KFP run id>.
"""  # noqa: E501


def pipeline_name(exp: Experiment) -> str:
    return f"bakeoff-{exp.experiment}"


def _secret_as_env(task: Any, secret_name: str, key_to_env: dict[str, str]) -> None:
    """``kfp.kubernetes.use_secret_as_env`` without its ``optional`` field.

    kfp-kubernetes 2.17 always writes ``optional``, which exists only from backend 2.15
    (kubernetes_platform/proto/kubernetes_executor_config.proto); 2.14's API server decodes each
    executor's config strictly when it compiles a run (backend/src/v2/compiler/argocompiler/
    container.go, ``protojson.Unmarshal``) and fails every run with "Failed to compile job". Left
    unset, ``optional`` means what ``false`` means. The deprecated ``secretName`` is kept beside
    ``secretNameParameter``, as kfp-kubernetes does: the driver takes either (backend/src/v2/driver).
    """
    from google.protobuf import json_format
    from kfp.kubernetes import common
    from kfp.kubernetes import kubernetes_executor_config_pb2 as pb

    config = common.get_existing_kubernetes_config_as_message(task)
    entry = pb.SecretAsEnv(secret_name=secret_name, key_to_env=[
        pb.SecretAsEnv.SecretKeyToEnvMap(secret_key=key, env_var=env) for key, env in key_to_env.items()])
    entry.secret_name_parameter.CopyFrom(common.parse_k8s_parameter_input(secret_name, task))
    config.secret_as_env.append(entry)
    task.platform_config["kubernetes"] = json_format.MessageToDict(config)


def _pod(task: Any, settings: KfpSettings, resources: dict[str, Any]) -> Any:
    """What every pod needs: the store endpoint, credentials from the Secret, resources, a label.

    The variables are bakeoff's own (``BAKEOFF_S3_*``), never ``AWS_*``: KFP's launcher runs in the
    same container and reads ``AWS_*`` for its pipeline root (storage.py says where)."""
    from kfp import kubernetes

    if settings.s3_endpoint:  # empty: the image's or platform's own (AWS S3 itself needs none)
        task.set_env_variable(ENDPOINT.own, settings.s3_endpoint)
    _secret_as_env(task, settings.secret_name, {settings.access_key_field: ACCESS_KEY.own,
                                                settings.secret_key_field: SECRET_KEY.own})
    kubernetes.add_pod_label(task, *POD_LABEL)
    requests, limits = resources.get("requests", {}), resources.get("limits", {})
    for value, setter in ((requests.get("cpu"), task.set_cpu_request), (limits.get("cpu"), task.set_cpu_limit),
                          (requests.get("memory"), task.set_memory_request),
                          (limits.get("memory"), task.set_memory_limit)):
        if value:
            setter(value)
    return task


def _place(task: Any, placement: dict[str, Any], image: str | None, retries: int) -> None:
    """A model's own placement, beyond resources."""
    from kfp import kubernetes

    if image:
        task.set_container_image(image)
    if retries:
        task.set_retry(num_retries=retries)
    if placement["timeout"]:
        kubernetes.set_timeout(task, placement["timeout"] + POD_DEADLINE_GRACE)
    for key, value in placement["node_selector"].items():
        kubernetes.add_node_selector(task, key, value)
    for t in placement["tolerations"]:
        kubernetes.add_toleration(task, key=t.get("key"), operator=t["operator"], value=t.get("value"),
                                  effect=t.get("effect"))


def _placement_input(placement: dict[str, Any]) -> str:
    """The pod's placement as the train task's ``placement`` input: in KFP's cache key, which
    sees neither resources nor node selectors on its own (cacheutils.GenerateCacheKey)."""
    return json.dumps({k: v for k, v in placement.items() if k != "timeout"}, sort_keys=True)


def _prepare(c: Components, settings: KfpSettings, config_uri: Any, run_uri: Any, expect_models: str) -> Any:
    from kfp import dsl

    task = c.prepare(config_uri=config_uri, run_uri=run_uri, run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER,
                     expect_models=expect_models)
    task.set_caching_options(False)  # it reads a config and data KFP cannot see; it has its own cache
    return _pod(task, settings, settings.resources.model_dump(mode="json", exclude_none=True))


def _train(c: Components, settings: KfpSettings, prepared: Any, model: Any, spec: Any, timeout: Any,
           placement: dict[str, Any], reuse: bool) -> Any:
    task = c.train(store=prepared.outputs["store"], context=prepared.outputs["context"], spec=spec,
                   model=model, timeout=timeout, placement=_placement_input(placement))
    task.set_caching_options(reuse)
    return _pod(task, settings, placement["resources"])


def _compare(c: Components, settings: KfpSettings, config_uri: Any, run_uri: Any) -> Any:
    from kfp import dsl

    task = c.compare(config_uri=config_uri, run_uri=run_uri, run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER)
    task.set_caching_options(False)  # it ranks whatever results the run holds now
    return _pod(task, settings, settings.resources.model_dump(mode="json", exclude_none=True))


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


@dataclass(frozen=True)
class Group:
    """Models that share one placement, and so one loop in the loop form."""

    placement: dict[str, Any]
    image: str | None
    retries: int
    models: list[ModelSpec]

    @property
    def items(self) -> list[str]:
        """NAME=SPEC_DIGEST strings, not mappings: the KFP SDK (2.17) passes a literal loop item's
        fields up to the enclosing ExitHandler as inputs the backend cannot resolve."""
        return [f"{m.name}={m.digest()}" for m in self.models]


def placement_groups(exp: Experiment) -> list[Group]:
    groups: dict[str, Group] = {}
    for m in exp.models:
        placement = m.placement(exp.kfp.resources)
        key = json.dumps([placement, m.image, m.retries], sort_keys=True)
        groups.setdefault(key, Group(placement, m.image, m.retries, [])).models.append(m)
    return list(groups.values())


def per_model_pipeline(exp: Experiment, *, loops: bool = False, reuse: bool = True,
                       items_from_prepare: bool = False) -> Callable[..., Any]:
    """One train task per model, or (``loops``) one ParallelFor per placement group, at most
    ``kfp.parallelism`` pods at once. ``reuse=False``: neither KFP's cache nor the store's results
    serve a train task.

    A loop's items are written into the pipeline, which costs about 80 bytes a model, three times
    over (a loop's task JSON is stored thrice). ``items_from_prepare`` (one placement only) loops
    over prepare's own list of models instead, so the spec stays the same size for any number."""
    from kfp import dsl

    from bakeoff.kfp.stepio import expected_models

    settings = exp.kfp
    c = build(settings.image, reuse=reuse)

    def per_model(prepared: Any) -> None:
        for i, model in enumerate(exp.models):
            placement = model.placement(settings.resources)
            try:
                task = _train(c, settings, prepared, model.name, model.digest(), placement["timeout"] or 0,
                              placement, reuse)
                task.set_display_name(model.name)
                _place(task, placement, model.image, model.retries)
            except ValueError as exc:
                raise _settings_error(f"models[{i}]", exc) from None

    def looped(prepared: Any) -> None:
        for group in placement_groups(exp):
            first = exp.model_names.index(group.models[0].name)
            items = prepared.outputs["models"] if items_from_prepare else group.items
            with dsl.ParallelFor(items, parallelism=settings.parallelism) as item:
                model, spec = (item.model, item.spec) if items_from_prepare else (item, "")
                try:
                    task = _train(c, settings, prepared, model, spec, group.placement["timeout"] or 0,
                                  group.placement, reuse)
                    _place(task, group.placement, group.image, group.retries)
                except ValueError as exc:
                    raise _settings_error(f"models[{first}]", exc) from None

    def pipeline(config_uri: str = "", run_uri: str = "") -> None:
        with dsl.ExitHandler(_compare(c, settings, config_uri, run_uri)):
            prepared = _prepare(c, settings, config_uri, run_uri, expected_models(exp, compact=loops))
            (looped if loops else per_model)(prepared)

    how = (f"{len(placement_groups(exp))} loop(s) of train pods, one per distinct placement" if loops
           else "one train pod per model")
    pipeline.__doc__ = PARAMETERS_DOC.format(
        summary=f"bakeoff {exp.experiment}: prepare, {how} ({listing(exp.model_names)}), then compare.")
    return _decorate(pipeline_name(exp), pipeline)


def generic_pipeline(settings: KfpSettings) -> Callable[..., Any]:
    from kfp import dsl

    c = build(settings.image)
    placement = settings.placement()

    def pipeline(config_uri: str = "", run_uri: str = "") -> None:
        with dsl.ExitHandler(_compare(c, settings, config_uri, run_uri)):
            prepared = _prepare(c, settings, config_uri, run_uri, "")
            with dsl.ParallelFor(prepared.outputs["models"], parallelism=settings.parallelism) as item:
                _train(c, settings, prepared, item.model, item.spec, item.timeout, placement, True)

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


def _json_size(obj: Any) -> int:
    return len(json.dumps(obj, separators=(",", ":")))


def workflow_bytes(ir: dict[str, Any], platform: dict[str, Any] | None = None) -> int:
    """An estimate of the Argo Workflow spec that KFP's API server compiles from a pipeline.

    From backend/src/v2/compiler/argocompiler (2.5.0 to 2.17.0): a component and its container
    are stored once per distinct container as workflow arguments (argo.go, ``saveComponentSpec``
    keyed by ``hashComponentContainer``); each executor's Kubernetes config once per executor
    (spec_patch.go, ``saveKubernetesSpec``); each container task adds a driver and an executor
    DAG task (about 1 KB) and its task-spec JSON twice, as the driver's argument and inside its
    DAG's component (dag.go, ``task``); a loop adds its templates (a few KB) and its task JSON
    three times (``iterationItemTask``). The shared driver and executor templates are about 8 KB,
    measured on 2.17.0's test_data/compiled-workflows/hello_world.yaml.
    """
    executors = ir.get("deploymentSpec", {}).get("executors", {})
    distinct: dict[str, int] = {}
    for name, component in ir.get("components", {}).items():
        container = executors.get(component.get("executorLabel", ""), {})
        key = json.dumps(container, sort_keys=True) if container else name
        distinct.setdefault(key, _json_size(component) + _json_size(container))
    total = 8 * 1024 + sum(distinct.values())
    k8s = ((platform or {}).get("platforms", {}).get("kubernetes", {}).get("deploymentSpec", {})
           .get("executors", {}))
    total += sum(_json_size(config) for config in k8s.values())
    dags = [ir["root"]["dag"], *(c["dag"] for c in ir.get("components", {}).values() if "dag" in c)]
    for dag in dags:
        for task in dag.get("tasks", {}).values():
            loop = "parameterIterator" in task or "artifactIterator" in task
            total += (3000 + 3 * _json_size(task)) if loop else (1000 + 2 * _json_size(task))
    return total


def text_bytes(text: str) -> int:
    """``workflow_bytes`` of a compiled pipeline's YAML."""
    import yaml

    docs = list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    return workflow_bytes(docs[0], docs[1] if len(docs) > 1 else None)


def estimated_bytes(exp: Experiment) -> int:
    """``workflow_bytes`` of the per-model form without compiling it: from the forms of its first
    one and two models, every further model adds what the second one added."""
    one, two = (text_bytes(compile_yaml(per_model_pipeline(exp.model_copy(update={"models": exp.models[:n]}))))
                for n in (1, 2))
    return two + (two - one) * (len(exp.models) - 2)


@dataclass(frozen=True)
class Compiled:
    text: str
    loops: bool  # the loop form: the per-model form would not fit one Argo Workflow
    per_model_bytes: int  # the per-model form's estimated workflow spec size


# Below this many models the per-model form always fits (a train task is a few KB), so there is
# nothing to estimate before compiling it.
ALWAYS_PER_MODEL = 64


def compile_experiment(exp: Experiment, *, parallel: int | None = None, reuse: bool = True) -> Compiled:
    """The per-model pipeline, or the loop form when the per-model one would not fit.

    ``parallel`` asks for at most that many train pods at once, which only a loop can say, so it
    chooses the loop form; ``reuse=False`` retrains every model (see ``per_model_pipeline``)."""
    if parallel is not None:
        exp = exp.model_copy(update={"kfp": exp.kfp.model_copy(update={"parallelism": parallel})})
    if parallel is None and len(exp.models) <= ALWAYS_PER_MODEL:
        text = compile_yaml(per_model_pipeline(exp, reuse=reuse))
        return Compiled(text, False, text_bytes(text))
    estimate = estimated_bytes(exp)
    loops = parallel is not None or estimate > SPEC_BUDGET
    text = compile_yaml(per_model_pipeline(exp, loops=loops, reuse=reuse))
    if loops and text_bytes(text) > SPEC_BUDGET:
        if len(placement_groups(exp)) > 1:
            raise UserError(f"models: {len(exp.models)} models in {len(placement_groups(exp))} placements make a "
                            "pipeline over Argo's size limit; give them fewer distinct resources, images, "
                            "node selectors, tolerations and timeouts, or use the generic pipeline")
        text = compile_yaml(per_model_pipeline(exp, loops=True, reuse=reuse, items_from_prepare=True))
    return Compiled(text, loops, estimate)


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


def compile_for(config: Path | None, *, generic: bool, overrides: dict[str, Any]) -> tuple[str, str, str | None]:
    """What `bakeoff compile` writes, one line saying what it is, and a warning when a run started
    from it with ``config_uri`` would write where no pod can read it back."""
    from bakeoff.runs import UNREACHABLE
    from bakeoff.spec import load_config
    from bakeoff.storage import is_local

    if config is None and not generic:
        raise UserError("CONFIG: required unless --generic; pass the experiment YAML")
    exp = load_config(config) if config is not None else None
    settings = with_overrides(exp.kfp if exp else KfpSettings(), **overrides)
    if exp is None or generic:
        return (compile_generic(settings),
                f"generic pipeline {GENERIC_NAME!r}, at most {settings.parallelism} train pods at once", None)
    exp = exp.model_copy(update={"kfp": settings})
    compiled = compile_experiment(exp)
    if compiled.loops:
        what = (f"{len(placement_groups(exp))} loop(s) over {len(exp.models)} models, at most "
                f"{settings.parallelism} train pods at once per loop: one task per model would make an "
                f"Argo Workflow of about {compiled.per_model_bytes // 1024} KiB, and Argo refuses "
                f"objects over {WORKFLOW_LIMIT // 1024} KiB")
    else:
        what = f"one train pod per model ({len(exp.models)})"
    warning = (f"storage: {exp.storage!r} {UNREACHABLE}; until then only a run_uri on S3 (as `bakeoff "
               "submit` passes) makes this pipeline's results last" if is_local(exp.storage) else None)
    return compiled.text, f"pipeline {pipeline_name(exp)!r}, {what}", warning


def resource_plan(exp: Experiment) -> list[dict[str, str]]:
    """The CPUs each model's pod could ask for, from the same estimates the local runner plans
    with (schedule.suggested_cpus); a model whose config sets its CPUs keeps them."""
    from bakeoff import costs, data, steps
    from bakeoff.schedule import suggested_cpus
    from bakeoff.storage import open_store

    store = open_store(exp.storage)
    found = steps.survey(exp, store)
    expected = costs.expected(exp.models, store, data.shape(found.info, found.context.table, exp.split))
    rows = []
    for m in exp.models:
        cost = expected[m.name]
        own = m.resources.limits.cpu or m.resources.requests.cpu
        cpus = suggested_cpus(cost)
        rows.append({"model": m.name, "estimator": m.estimator, "fit s on 1 cpu": f"{cost.fit:.1f}",
                     "estimate": cost.source, "cpu": own or str(cpus),
                     "expected s": "" if own else f"{cost.seconds(cpus):.1f}",
                     "cpu from": "the config" if own else "suggested"})
    return rows

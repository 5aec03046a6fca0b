"""The experiment schema: the single source for validation, the JSON Schema, CLI errors and the UI.

``parse_experiment`` is the only way in. It runs pydantic's structural checks, then checks that
make sense only across fields (estimator names, their parameters, metric names), and reports
every problem at once as ``field.path: problem (fix)`` lines.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from urllib.parse import urlparse
from pydantic import (BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError,
                      field_validator, model_validator)

from bakeoff import catalog, constraints, measures
from bakeoff.errors import UserError, cut, did_you_mean, field_path, shorten
from bakeoff.storage import DEFAULT_ROOT
from bakeoff.yamlfile import load_yaml

NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"
POD_LABEL = ("app.kubernetes.io/part-of", "bakeoff")  # what manifests/ NetworkPolicies admit
# A pod outlives its model's timeout by this much before Kubernetes stops it: the step enforces
# the timeout itself (a failed row); this only stops a pod stuck outside the fit.
POD_DEADLINE_GRACE = 600


class _Strict(BaseModel):
    # Unknown keys are typos far more often than intent, so they are errors.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, serialize_by_alias=True)


class DatasetSpec(_Strict):
    uri: str = Field(description="A path, file://…, or s3://bucket/key of a CSV or Parquet file.")
    format: Literal["auto", "csv", "parquet"] = "auto"
    target: str = Field(description="The column to predict.")
    task: Literal["auto", "classification", "regression"] = "auto"
    drop: list[str] = Field(default_factory=list, description="Columns to ignore, such as ids.")


class SplitSpec(_Strict):
    test_size: float = Field(0.2, gt=0, lt=1)
    valid_size: float = Field(0.2, gt=0, lt=1)
    seed: int = Field(42, ge=0, le=2**32 - 1, description="numpy's seeds are 0 to 2**32 - 1.")

    @model_validator(mode="after")
    def _leaves_rows_to_train_on(self) -> SplitSpec:
        if self.test_size + self.valid_size >= 0.9:
            raise ValueError(
                f"test_size + valid_size is {self.test_size + self.valid_size:g}; "
                "keep it below 0.9 so that training gets at least 10% of the rows"
            )
        return self


class MetricsSpec(_Strict):
    primary: str | None = Field(None, description="Ranks the leaderboard; defaults by task.")
    others: list[str] | None = Field(None, description="Also reported; defaults by task.")


class ResourceAmounts(_Strict):
    cpu: str | None = Field(None, examples=["500m", "2"])
    memory: str | None = Field(None, examples=["512Mi", "4Gi"])


class Resources(_Strict):
    requests: ResourceAmounts = Field(default_factory=ResourceAmounts)
    limits: ResourceAmounts = Field(default_factory=ResourceAmounts)


class Toleration(_Strict):
    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


class IntDimension(_Strict):
    """``{int: [2, 32], log: true}``: integers between the bounds, inclusive."""

    bounds: tuple[int, int] = Field(alias="int")
    log: bool = False
    step: int | None = Field(None, gt=0)


class FloatDimension(_Strict):
    """``{float: [0.001, 0.3], log: true}``: reals between the bounds."""

    bounds: tuple[float, float] = Field(alias="float")
    log: bool = False
    step: float | None = Field(None, gt=0)


class ChoiceDimension(_Strict):
    """``{choice: [sqrt, log2, null]}``: one of the listed values."""

    choice: list[Any] = Field(min_length=1)


def _dimension_kind(value: Any) -> str | None:
    keys = value.keys() if isinstance(value, dict) else ()
    kinds = {IntDimension: "int", FloatDimension: "float", ChoiceDimension: "choice"}
    return next((k for k in ("int", "float", "choice") if k in keys), kinds.get(type(value)))


Dimension = Annotated[
    Annotated[IntDimension, Tag("int")] | Annotated[FloatDimension, Tag("float")]
    | Annotated[ChoiceDimension, Tag("choice")],
    Discriminator(_dimension_kind, custom_error_type="dimension",
                  custom_error_message="write a dimension as {int: [low, high]}, "
                                       "{float: [low, high]} or {choice: [a, b, ...]}"),
]


class SearchSpec(_Strict):
    trials: int | None = Field(None, ge=1, le=100_000,
                               description="Trial budget; default 20, or the grid's size for grid.")
    timeout: float | None = Field(None, gt=0, description="Seconds for the whole search.")
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    space: dict[str, Dimension] = Field(min_length=1, description="Parameter name → dimension.")
    patience: int = Field(5, ge=1, description="Epochs without a better validation score before "
                                                "an iterative estimator stops.")

    @model_validator(mode="after")
    def _dimensions_make_sense(self) -> SearchSpec:
        for name, dim in self.space.items():
            if isinstance(dim, ChoiceDimension):
                continue
            low, high = dim.bounds
            if low >= high:
                raise ValueError(f"space.{name}: the lower bound {low} must be below the upper {high}")
            if dim.log and (low <= 0 or dim.step is not None):
                raise ValueError(f"space.{name}: log: true needs a positive lower bound and no step")
            if self.sampler == "grid" and isinstance(dim, FloatDimension) and dim.step is None:
                raise ValueError(f"space.{name}: a grid needs discrete values; add step or use choice")
        return self


class PreprocessSpec(_Strict):
    """How text, numbers and dates reach the estimator; ``auto`` lets the estimator's own tags and
    family decide (preprocess.py). Top level for every model, or per model, field by field."""

    categorical: Literal["auto", "onehot", "ordinal", "native"] = Field(
        "auto", description="Text columns: one-hot, ordinal codes, or native (HistGradientBoosting's "
                            "own categorical support); auto picks by estimator.")
    max_categories: int | None = Field(None, ge=2, le=100_000,
                                       description="Levels kept per text column; the rest are one "
                                                   "'infrequent' level. Default 32 one-hot, 255 codes.")
    scale: Literal["auto", True, False] = Field("auto", description="Standardize numbers; auto: all but trees.")
    dates: Literal["parts", "drop"] = Field("parts", description="Date columns: numeric parts "
                                                                 "(year, month, day, weekday, hour) or dropped.")


class ModelSpec(_Strict):
    name: str = Field(pattern=NAME_PATTERN, max_length=40,
                      description="Unique; lowercase letters, digits and '-'.")
    estimator: str = Field(description="A scikit-learn classifier or regressor name, or a plugin.")
    params: dict[str, Any] = Field(default_factory=dict)
    search: SearchSpec | None = Field(None, description="Tune on the validation split, then refit.")
    preprocess: PreprocessSpec | None = Field(None, description="Overrides the top-level "
                                                                "preprocess, field by field.")
    # Where the model runs on a cluster; the local runner ignores all but timeout.
    resources: Resources = Field(default_factory=Resources)
    image: str | None = Field(None, description="Container image for this model's pod.")
    retries: int = Field(0, ge=0, le=10)
    timeout: int | None = Field(None, gt=0, description="Seconds before the model is stopped.")
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)

    def spec(self) -> dict[str, Any]:
        """What this model computes; its name and placement (resources, image…) are left out."""
        return self.model_dump(mode="json", include={"estimator", "params", "search", "preprocess"})

    def digest(self) -> str:
        return digest(self.spec())

    def placement(self, default: Resources) -> dict[str, Any]:
        """Where and how long this model's pod runs: resources (each field falling back to
        ``default``), node selector, tolerations and timeout. It decides whether the model can
        finish (memory, deadline), so it is part of a Kubeflow train task's cache key."""
        def amounts(d: ResourceAmounts, o: ResourceAmounts) -> ResourceAmounts:
            return ResourceAmounts(cpu=o.cpu or d.cpu, memory=o.memory or d.memory)

        resources = Resources(requests=amounts(default.requests, self.resources.requests),
                              limits=amounts(default.limits, self.resources.limits))
        return {"resources": resources.model_dump(mode="json", exclude_none=True),
                "node_selector": self.node_selector,
                "tolerations": [t.model_dump(mode="json", exclude_none=True) for t in self.tolerations],
                "timeout": self.timeout}


class RuntimeSpec(_Strict):
    parallel: int | None = Field(None, ge=1, le=256,
                                 description="Models trained at once; defaults to usable CPUs.")


def _default_pod_resources() -> Resources:
    return Resources(requests=ResourceAmounts(cpu="1", memory="1Gi"),
                     limits=ResourceAmounts(cpu="2", memory="4Gi"))


class KfpSettings(_Strict):
    """How the compiled Kubeflow pipeline reaches the store. Names only: values stay in the Secret."""

    image: str = Field("bakeoff:0.1.0", description="Image that runs every step.")
    s3_endpoint: str = Field("http://minio-service.kubeflow:9000",
                             description="S3 endpoint as the pods see it (AWS_ENDPOINT_URL); "
                                         "empty for AWS S3.")
    secret_name: str = Field("mlpipeline-minio-artifact",
                             description="Kubernetes Secret holding the S3 credentials.")
    access_key_field: str = Field("accesskey", description="Key in the Secret for AWS_ACCESS_KEY_ID.")
    secret_key_field: str = Field("secretkey", description="Key in the Secret for AWS_SECRET_ACCESS_KEY.")
    parallelism: int = Field(4, ge=1, description="Train pods at once in the generic pipeline.")
    resources: Resources = Field(default_factory=_default_pod_resources,
                                 description="Pod resources of every step; a model's own resources "
                                             "override them field by field.")

    def placement(self) -> dict[str, Any]:
        """Where a step that is no one model's runs (prepare, compare, the generic pipeline's
        loop), in the shape of ModelSpec.placement: the default resources, anywhere, no timeout."""
        return {"resources": self.resources.model_dump(mode="json", exclude_none=True),
                "node_selector": {}, "tolerations": [], "timeout": None}


class TrackingSpec(_Strict):
    mlflow_uri: str | None = Field(None, description="MLflow tracking URI; MLFLOW_TRACKING_URI "
                                                     "is used when this is unset.")

    @field_validator("mlflow_uri")
    @classmethod
    def _no_password_in_the_uri(cls, uri: str | None) -> str | None:
        # The config is copied into every run, and into MLflow: a password in it would be too.
        if uri and urlparse(uri).password:
            raise ValueError("it holds a password; remove it and set MLFLOW_TRACKING_USERNAME and "
                             "MLFLOW_TRACKING_PASSWORD in the environment instead")
        return uri
    experiment: str | None = Field(None, description="MLflow experiment; defaults to `experiment`.")
    register_as: str | None = Field(None, alias="register",
                                    description="Register the champion under this model name and "
                                                "move its `champion` alias.")


class Experiment(_Strict):
    experiment: str = Field(pattern=NAME_PATTERN, max_length=63)
    dataset: DatasetSpec
    split: SplitSpec = Field(default_factory=SplitSpec)
    metrics: MetricsSpec = Field(default_factory=MetricsSpec)
    models: list[ModelSpec] = Field(min_length=1)
    storage: str = Field(DEFAULT_ROOT, description="Store root: a folder or s3://bucket/prefix.")
    runtime: RuntimeSpec = Field(default_factory=RuntimeSpec)
    kfp: KfpSettings = Field(default_factory=KfpSettings)
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)
    preprocess: PreprocessSpec = Field(default_factory=PreprocessSpec,
                                       description="How columns reach every model; a model's own "
                                                   "preprocess overrides it field by field.")

    @model_validator(mode="after")
    def _models_carry_their_preprocessing(self) -> Experiment:
        """Merge the top-level preprocess into each model's, so that a model's spec (its job's
        id, its Kubeflow cache key) holds the preprocessing it gets."""
        top = self.preprocess.model_dump(exclude_unset=True)
        if not top:
            return self
        for m in self.models:
            own = m.preprocess.model_dump(exclude_unset=True) if m.preprocess else {}
            m.preprocess = PreprocessSpec.model_validate({**top, **own})
        return self

    def model(self, name: str) -> ModelSpec:
        for m in self.models:
            if m.name == name:
                return m
        raise UserError(f"--model: no model named {cut(name)}{did_you_mean(name, self.model_names)}")

    @property
    def model_names(self) -> list[str]:
        return [m.name for m in self.models]

    def metric_names(self, task: catalog.Task) -> tuple[str, list[str]]:
        primary, others = measures.DEFAULTS[task]
        primary = self.metrics.primary or primary
        others = self.metrics.others if self.metrics.others is not None else others
        return primary, [m for m in others if m != primary]

    def digest(self) -> str:
        return digest(self.model_dump(mode="json"))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json", exclude_defaults=True), sort_keys=False)


def digest(obj: Any) -> str:
    """sha256 of a JSON-able value, independent of key order: the identity of configs, model
    specs, job contexts and placements."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


# -- validation ---------------------------------------------------------------------------------

def _allowed_keys(loc: tuple[str | int, ...]) -> list[str]:
    """The field names valid at ``loc``, for "did you mean" on unknown keys."""
    model: Any = Experiment
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
    return list(model.model_fields) if model else []


def _pydantic_problems(err: ValidationError) -> list[str]:
    problems = []
    for e in err.errors():
        loc = tuple(e["loc"])
        if e["type"] == "extra_forbidden":
            hint = did_you_mean(str(loc[-1]), _allowed_keys(loc[:-1]))
            problems.append(f"{field_path(loc)}: unknown field{hint or '; remove it'}")
        elif e["type"] == "missing":
            problems.append(f"{field_path(loc)}: required field is missing; add it")
        elif e["type"] == "string_pattern_mismatch":
            problems.append(f"{field_path(loc)}: {cut(e['input'])} is not allowed; use lowercase "
                            "letters, digits and '-', starting and ending with a letter or digit")
        elif e["type"] == "value_error":  # our own validators: the message says it all, and the
            # rejected value is not repeated (it may be the very secret that was refused)
            problems.append(f"{field_path(loc)}: {e['msg'].removeprefix('Value error, ')}")
        else:
            shown = "" if isinstance(e.get("input"), dict) or "input" not in e else f" (got {cut(e['input'])})"
            problems.append(f"{field_path(loc)}: {e['msg']}{shown}")
    return problems


def _param_problems(i: int, model: ModelSpec, info: catalog.Facts) -> list[str]:
    """Each unknown parameter and each refused value, one line apiece: sklearn's constraints are
    per parameter, so every value is judged on its own. Without frozen constraints the class
    judges them all together, its defaults included (SelfTrainingClassifier's ``estimator=None``
    fails), and says only the first."""
    known = info.params
    problems = [f"models[{i}].params.{name}: unknown parameter of {info.name}{did_you_mean(name, known)}"
                for name in model.params if name not in known]
    given = {name: value for name, value in model.params.items() if name in known}
    if info.constraints is None:
        if (bad := _value_problem(info, given)) is not None:
            name = next((p for p in given if f"'{p}' parameter" in bad), None)
            problems.append(f"models[{i}].params{'.' + name if name else ''}: {bad}")
        return problems
    return problems + [f"models[{i}].params.{name}: {bad}" for name, value in given.items()
                       if (bad := _value_problem(info, {name: value})) is not None]


def _value_problem(info: catalog.Facts, params: dict[str, Any]) -> str | None:
    """sklearn's own verdict on parameter values, or None when it accepts them (or can't say):
    from the constraints frozen in the estimator index when they can decide, else from the class."""
    if info.constraints is not None:
        verdict = constraints.violation(info.name, info.constraints, params)
        if verdict is not constraints.UNSURE:
            return verdict  # type: ignore[return-value]
    # scikit-learn checks parameter values only at fit; ask it now so a bad value fails before
    # any training starts. `_validate_params` is how sklearn's own `fit` does it (>=1.2).
    # Plugins may inherit `_validate_params` without declaring constraints; skip those.
    estimator = catalog.resolve(info.name).cls(**params)
    if not hasattr(estimator, "_parameter_constraints"):
        return None
    try:
        estimator._validate_params()
    except (ValueError, TypeError) as exc:  # its message repeats the whole value: cut it
        return shorten(str(exc), limit=200)
    return None


def _metric_problems(i: int, model: ModelSpec, info: catalog.Facts, named: list[str]) -> list[str]:
    """A metric the config names that this model cannot produce (log_loss without
    ``predict_proba``), with the parameter that gives it; from the index's facts, so no estimator
    is imported. A searched parameter that changes the answer leaves it to the train step."""
    problems = []
    for metric in (measures.CATALOG[n] for n in named if n in measures.CATALOG):
        methods = metric.methods
        if metric.task != info.task or not methods or any(info.has(m, model.params) for m in methods):
            continue
        turning = {p: v for m in methods for p, vs in info.turned_by(m).items() for v in vs[:1]}
        if model.search is not None and turning.keys() & model.search.space.keys():
            continue
        fix = " or ".join(f"params.{p}: {json.dumps(v)}" for p, v in turning.items())
        problems.append(f"models[{i}]: {model.estimator} cannot give {metric.name} (it needs "
                        f"{' or '.join(methods)}); {'set ' + fix + ', or ' if fix else ''}"
                        f"drop {metric.name} from metrics")
    return problems


def _space_problems(i: int, model: ModelSpec, info: catalog.Facts) -> list[str]:
    assert model.search is not None
    where = f"models[{i}].search.space"
    pseudo = info.pseudo_params
    known = set(info.params) | pseudo
    # frozen constraints judge each value alone; a class judges it with the model's other params
    fixed = {} if info.constraints is not None else {n: v for n, v in model.params.items() if n in info.params}
    problems = []
    for name, dim in model.search.space.items():
        if name not in known:
            problems.append(f"{where}.{name}: unknown parameter of {info.name}{did_you_mean(name, known)}")
        elif name in model.params:
            problems.append(f"{where}.{name}: also fixed in params; remove it from one of them")
        elif name not in pseudo:
            values = dim.choice if isinstance(dim, ChoiceDimension) else list(dim.bounds)
            for value in values:
                if (bad := _value_problem(info, {**fixed, name: value})) is not None:
                    problems.append(f"{where}.{name}: {cut(value)} is not allowed: {bad}")
                    break
    return problems


def task_problems(exp: Experiment, task: catalog.Task) -> list[str]:
    """Problems that depend on the task, so run at validation (task given) or at prepare (auto)."""
    problems = []
    for i, m in enumerate(exp.models):
        estimator_task = catalog.names().get(m.estimator)
        if estimator_task and estimator_task != task:
            kind = "classifier" if estimator_task == "classification" else "regressor"
            problems.append(f"models[{i}].estimator: {m.estimator} is a {kind} but the task is "
                            f"{task}; pick a {task} estimator or set dataset.task")
    allowed = measures.for_task(task)
    primary, others = exp.metric_names(task)
    for where, name in [("metrics.primary", primary)] + [
        (f"metrics.others[{j}]", n) for j, n in enumerate(exp.metrics.others or [])
    ]:
        if name in measures.CATALOG and name not in allowed:
            problems.append(f"{where}: {name} is not a {task} metric; use one of {', '.join(allowed)}")
    return problems


def _semantic_problems(exp: Experiment) -> list[str]:
    problems: list[str] = []
    seen: set[str] = set()
    for i, m in enumerate(exp.models):
        if m.name in seen:
            problems.append(f"models[{i}].name: {m.name!r} is used twice; model names must be unique")
        seen.add(m.name)
        try:
            info = catalog.facts(m.estimator)
        except UserError as exc:
            problems.append(f"models[{i}].estimator: {exc}")
            continue
        if info.codes_only:
            problems.append(f"models[{i}].estimator: {m.estimator} {catalog.CODES_ONLY}")
            continue
        problems += _param_problems(i, m, info)
        problems += _metric_problems(i, m, info, [n for n in [exp.metrics.primary, *(exp.metrics.others or [])] if n])
        own_native = m.preprocess is not None and m.preprocess.categorical == "native" \
            and exp.preprocess.categorical != "native"  # a top-level native means "where supported"
        if own_native and "categorical_features" not in info.params:
            problems.append(f"models[{i}].preprocess.categorical: {m.estimator} has no native categorical "
                            "support (HistGradientBoosting has); use onehot, ordinal or auto")
        if m.search is not None:
            problems += _space_problems(i, m, info)
    for where, name in [("metrics.primary", exp.metrics.primary)] + [
        (f"metrics.others[{j}]", n) for j, n in enumerate(exp.metrics.others or [])
    ]:
        if name is not None and name not in measures.CATALOG:
            problems.append(f"{where}: unknown metric {cut(name)}{did_you_mean(name, measures.CATALOG)}; "
                            f"choose from {', '.join(measures.CATALOG)}")
    try:  # the store's URI is checked here too, so `validate` catches what `run` would
        from bakeoff.storage import open_store

        open_store(exp.storage)
    except UserError as exc:
        problems += exc.problems
    if exp.dataset.target in exp.dataset.drop:
        problems.append(f"dataset.drop: it lists the target {cut(exp.dataset.target)}; remove it")
    if exp.dataset.task != "auto":
        problems += task_problems(exp, exp.dataset.task)
    return problems


_UNREAD_DATASET = {"uri": "", "target": ""}  # stands in for a broken dataset: no task, no drop
_MODEL_AT = re.compile(r"^models\[(\d+)\]")


@dataclass(frozen=True)
class _Rest:
    """What of an invalid config holds: ``experiment`` is the config with every part pydantic
    rejected left out, its models at ``positions`` in the original; ``broken`` names the top-level
    sections left out."""

    experiment: Experiment
    positions: list[int]
    broken: set[str]

    def problems(self) -> list[str]:
        """The checks of a valid config on what holds, each model named by its place in the file."""
        return [_MODEL_AT.sub(lambda m: f"models[{self.positions[int(m[1])]}]", p)
                for p in _semantic_problems(self.experiment)]


def _what_holds(data: Mapping[str, Any], err: ValidationError) -> _Rest | None:
    """An invalid config without its broken parts, or None when too little is left to check.

    A section with a default falls back to it, a broken field of a model is dropped (the whole
    model when it is its name or estimator), and a broken dataset reads as one of unknown task.
    So `test_size: 1.5` does not hide `n_neighbors: -3`: the rest is judged as a valid config is.
    """
    broken: set[tuple[Any, ...]] = set()
    for e in err.errors():
        loc = tuple(e["loc"])
        if loc[:1] == ("models",) and len(loc) > 2 and loc[2] not in ("name", "estimator"):
            broken.add(loc[:3])
        else:
            broken.add(loc[:2] if loc[:1] == ("models",) else loc[:1])
    models = data.get("models")
    if ("models",) in broken or not isinstance(models, list):
        return None
    positions = [i for i in range(len(models)) if ("models", i) not in broken]
    if not positions:
        return None
    rest = {k: v for k, v in data.items() if (k,) not in broken}
    rest["models"] = [{k: v for k, v in models[i].items() if ("models", i, k) not in broken} for i in positions]
    rest.setdefault("experiment", "unnamed")  # required, and judged already
    rest.setdefault("dataset", _UNREAD_DATASET)
    try:
        experiment = Experiment.model_validate(rest)
    except ValidationError:  # parts that hold alone may still break a check across parts
        return None
    return _Rest(experiment, positions, {str(loc[0]) for loc in broken if len(loc) == 1})


@dataclass(frozen=True)
class Verdict:
    """Every problem of a config at once, and what of it holds.

    ``experiment`` is set only when the config is valid; ``dataset`` and ``storage`` whenever
    their own sections are, so that `validate` also reads the data's header and probes the store
    of a config with problems elsewhere.
    """

    experiment: Experiment | None
    problems: tuple[str, ...]
    dataset: DatasetSpec | None
    storage: str | None


def check(data: Any) -> Verdict:
    """Judge a config mapping: the schema's problems and, on the parts that hold, every other."""
    if not isinstance(data, Mapping):
        return Verdict(None, ("<config>: expected a mapping of fields such as `experiment:` and `models:`",),
                       None, None)
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as err:
        rest = _what_holds(data, err)
        if rest is None:
            return Verdict(None, tuple(_pydantic_problems(err)), None, None)
        return Verdict(None, tuple(_pydantic_problems(err) + rest.problems()),
                       None if "dataset" in rest.broken else rest.experiment.dataset,
                       None if "storage" in rest.broken else rest.experiment.storage)
    problems = tuple(_semantic_problems(exp))
    return Verdict(None if problems else exp, problems, exp.dataset, exp.storage)


def parse_experiment(data: Any) -> Experiment:
    """Validate a config mapping; raise ``UserError`` listing every problem found."""
    verdict = check(data)
    if verdict.experiment is None:
        raise UserError(*verdict.problems)
    return verdict.experiment


def parse_yaml(text: str, source: str = "<config>") -> Experiment:
    return parse_experiment(load_yaml(text, source))


def _config_data(raw: bytes, source: str) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{source}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    return load_yaml(text, source)


def parse_config_bytes(raw: bytes, source: str) -> Experiment:
    """A config as stored anywhere (a file, an S3 object, a run): UTF-8 YAML, validated."""
    return parse_experiment(_config_data(raw, source))


def read_config(path: str | Path) -> Any:
    """A config file as plain data, not yet judged: a missing file, text that is not UTF-8 and
    YAML that cannot be read are each one line, and stop everything (nothing else can be said)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: config file not found; create one with `bakeoff init`")
    return _config_data(path.read_bytes(), str(path))


def load_config(path: str | Path) -> Experiment:
    return parse_experiment(read_config(path))


def json_schema() -> dict[str, Any]:
    """The JSON Schema editors use for autocomplete, with the estimator and metric names listed."""
    schema = Experiment.model_json_schema()
    schema["$defs"]["ModelSpec"]["properties"]["estimator"]["enum"] = sorted(catalog.names())
    names = sorted(measures.CATALOG)
    metric_props = schema["$defs"]["MetricsSpec"]["properties"]
    metric_props["primary"]["anyOf"][0]["enum"] = names
    metric_props["others"]["anyOf"][0]["items"]["enum"] = names
    schema["title"] = "bakeoff experiment"
    return schema


def absolute_uri(uri: str, base: Path) -> str:
    """A local path or file:// URI made absolute against ``base``; remote URIs are left alone.

    A config means "next to me" when it says ``data/x.csv``, wherever the command runs from.
    """
    from bakeoff.storage import resolve

    return resolve(uri, base)


def anchored(exp: Experiment, base: Path) -> Experiment:
    """Resolve relative local paths against the config's folder. The copy stored with a run must
    say where its data is explicitly, because the steps read it from elsewhere."""
    return exp.model_copy(update={
        "dataset": exp.dataset.model_copy(update={"uri": absolute_uri(exp.dataset.uri, base)}),
        "storage": absolute_uri(exp.storage, base),
    })

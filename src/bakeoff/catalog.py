"""Estimator names a config may use, mapped to classes.

The allowlist is scikit-learn's public classifiers and regressors plus classes registered under
the entry-point group ``bakeoff.estimators``. A config names an estimator; it can never make us
import an arbitrary dotted path.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import tempfile
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal

from bakeoff.errors import UserError, did_you_mean

Task = Literal["classification", "regression"]
IterationKind = Literal["partial_fit", "staged", "warm_start"]
ENTRY_POINT_GROUP = "bakeoff.estimators"

# Parameters a search may tune that are not constructor arguments of the estimator.
PSEUDO_PARAMS: dict[IterationKind, frozenset[str]] = {"partial_fit": frozenset({"epochs"})}


def pseudo_params(kind: IterationKind | None) -> frozenset[str]:
    """What a search may tune beyond the constructor's parameters, such as ``epochs``."""
    return PSEUDO_PARAMS.get(kind, frozenset()) if kind else frozenset()


@dataclass(frozen=True)
class EstimatorInfo:
    name: str
    cls: type
    task: Task

    @property
    def params(self) -> dict[str, Any]:
        """Constructor parameters and their defaults, as scikit-learn's ``get_params`` sees them."""
        signature = inspect.signature(self.cls.__init__)
        return {
            p.name: (None if p.default is inspect.Parameter.empty else p.default)
            for p in signature.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }

    @property
    def iteration_kind(self) -> IterationKind | None:
        """How the estimator can be trained a step at a time (for early stopping), if at all."""
        if hasattr(self.cls, "staged_predict"):  # GradientBoosting, HistGradientBoosting, AdaBoost
            return "staged"
        if "warm_start" in self.params and "n_estimators" in self.params:  # forests, bagging
            return "warm_start"
        if hasattr(self.cls, "partial_fit") and "max_iter" in self.params:  # SGD, MLP, Perceptron
            return "partial_fit"
        return None

    @property
    def pseudo_params(self) -> frozenset[str]:
        return pseudo_params(self.iteration_kind)


def _constructible_without_arguments(cls: type) -> bool:
    # Meta-estimators (Stacking, Voting, OneVsRest...) need estimator objects as arguments,
    # which a YAML file cannot express safely, so they are left out of the catalog.
    signature = inspect.signature(cls.__init__)
    return all(
        p.default is not inspect.Parameter.empty
        for p in signature.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    )


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bakeoff"


INDEX_LAYOUT = 5  # bumped when an entry gains a field: an older file is rebuilt, not misread
# Why an estimator whose tags say it takes only category codes (CategoricalNB) cannot be in a
# bake-off: a table's numbers are not codes. Validation says so before anything runs
# (spec.py), and the preprocessing planner refuses it the same way (preprocess.plan).
CODES_ONLY = "takes only category codes, not numbers; use GaussianNB, or MultinomialNB for counts"


@dataclass(frozen=True)
class Facts:
    """What validating a config needs to know about an estimator, without importing it: read from
    the index for scikit-learn's (frozen constraints included), from the class for a plugin's."""

    name: str
    task: Task
    params: tuple[str, ...]
    iteration: IterationKind | None
    constraints: dict[str, Any] | None  # constraints.freeze's; None: only the class can tell
    outputs: dict[str, Any] = field(default_factory=dict)  # _outputs': which prediction methods, when
    codes_only: bool = False  # its tags say it takes only category codes (CODES_ONLY)

    @property
    def pseudo_params(self) -> frozenset[str]:
        return pseudo_params(self.iteration)

    def has(self, method: str, params: dict[str, Any]) -> bool:
        """Whether the estimator built with ``params`` has ``method`` (``predict_proba``…): its
        default, turned over by a parameter set to one of the values recorded as turning it."""
        fact = self.outputs.get(method, {"default": False, "turned_by": {}})
        turned = any(name in params and params[name] in values for name, values in fact["turned_by"].items())
        return fact["default"] != turned

    def turned_by(self, method: str) -> dict[str, list[Any]]:
        """The parameter values that give (or take away) ``method``: the fix a message can name."""
        return self.outputs.get(method, {}).get("turned_by", {})


OUTPUT_METHODS = ("predict_proba", "decision_function")  # what a metric may need beyond predict


def _outputs(cls: type) -> dict[str, Any]:
    """For each of ``OUTPUT_METHODS``: whether the estimator has it with its defaults, and which
    values of which parameters turn that over (SVC's ``probability``, SGDClassifier's ``loss``).
    sklearn decides with ``available_if`` on the unfitted estimator, so building one with each
    option of each boolean or option-valued parameter tells, and validation need not import it."""
    from sklearn.utils._param_validation import Options, make_constraint

    def has(method: str, params: dict[str, Any]) -> bool | None:
        try:
            return hasattr(_built_quietly(cls, **params), method)
        except Exception:  # an option this class refuses at construction: not a way to get the method
            return None

    options: dict[str, list[Any]] = {}
    for param, raw in getattr(cls, "_parameter_constraints", {}).items():
        if isinstance(raw, str):  # "no_validation"
            continue
        made = [make_constraint(c) for c in raw]
        values = [o for c in made if isinstance(c, Options) for o in c.options if isinstance(o, (bool, str))]
        if "boolean" in raw or bool in raw:
            values += [True, False]
        if values:
            options[param] = values
    outputs = {}
    for method in OUTPUT_METHODS:
        default = bool(has(method, {}))
        turned = {p: sorted({v for v in vs if has(method, {p: v}) not in (None, default)}, key=str)
                  for p, vs in options.items()}
        outputs[method] = {"default": default, "turned_by": {p: vs for p, vs in turned.items() if vs}}
    return outputs


def _index_entry(info: EstimatorInfo) -> dict[str, Any]:
    return {"module": info.cls.__module__, "class": info.cls.__qualname__, "task": info.task,
            "params": list(info.params), "iteration": info.iteration_kind, "constraints": _frozen(info.cls),
            "outputs": _outputs(info.cls),
            "codes_only": _codes_only(info.cls)}


def _codes_only(cls: type) -> bool:
    """Whether the estimator's own tags say it takes only category codes (``input_tags.categorical``)."""
    from sklearn.utils import get_tags

    try:
        return bool(get_tags(_built_quietly(cls)).input_tags.categorical)
    except (AttributeError, TypeError, ValueError):  # a meta-estimator describes itself only when it wraps one
        return False


def _built_quietly(cls: type, **params: Any) -> Any:
    """The class built with ``params``, without the warning a deprecated estimator or option
    gives when built."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(**params)


def _frozen(cls: type) -> dict[str, Any] | None:
    """The class's constraints as data; None when its own defaults fail them (SelfTrainingClassifier's
    ``estimator=None``): sklearn checks every parameter, so only the class can give its verdict."""
    from bakeoff.constraints import freeze

    if not hasattr(cls, "_parameter_constraints"):
        return {}
    try:
        _built_quietly(cls)._validate_params()
    except (ValueError, TypeError):
        return None
    return freeze(cls._parameter_constraints)


def _discover_sklearn() -> dict[str, dict[str, Any]]:
    """Ask scikit-learn itself for its classifiers and regressors, and what each accepts. This
    imports every estimator module (about 2 s), which is why the answer is cached."""
    from sklearn.utils.discovery import all_estimators

    return {
        name: _index_entry(EstimatorInfo(name, cls, task))
        for task, type_filter in (("classification", "classifier"), ("regression", "regressor"))
        for name, cls in all_estimators(type_filter=type_filter)
        if _constructible_without_arguments(cls)
    }


@cache
def _sklearn_index() -> dict[str, dict[str, Any]]:
    """name -> its index entry, cached on disk per scikit-learn version, so that a pod or a CLI
    call imports only the estimators it uses, and validation none at all."""
    from importlib.metadata import version

    # the distribution's version, read without importing scikit-learn (half a second)
    path = _cache_dir() / f"estimators-v{INDEX_LAYOUT}-sklearn-{version('scikit-learn')}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    index = _discover_sklearn()
    try:  # best effort: a read-only home only means the next process discovers again
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(index, f)
        os.replace(tmp, path)
    except OSError:
        pass
    return index


@cache
def plugin_entry_points() -> tuple[Any, ...]:
    """The entry points of the group, read once per process: each scan reads the metadata of
    every installed distribution (tens of milliseconds in a full environment)."""
    return tuple(entry_points(group=ENTRY_POINT_GROUP))


@cache
def plugins() -> dict[str, EstimatorInfo]:
    """Estimators registered under the entry-point group; they win over same-named sklearn ones."""
    found = {}
    for ep in plugin_entry_points():
        from sklearn.base import is_classifier, is_regressor  # only when there is a plugin: it costs 0.9 s

        cls = ep.load()
        if is_classifier(cls()):
            found[ep.name] = EstimatorInfo(ep.name, cls, "classification")
        elif is_regressor(cls()):
            found[ep.name] = EstimatorInfo(ep.name, cls, "regression")
        else:
            raise TypeError(
                f"plugin {ep.value!r} registered as {ep.name!r} in {ENTRY_POINT_GROUP!r} is neither "
                "a classifier nor a regressor; set the estimator type or inherit a sklearn mixin"
            )
    return found


def names() -> dict[str, Task]:
    """Every estimator name a config may use, with its task, without importing the estimators."""
    return {**{name: entry["task"] for name, entry in _sklearn_index().items()},
            **{name: info.task for name, info in plugins().items()}}


def module_of(name: str) -> str | None:
    """The module that defines estimator ``name``, without importing it or scikit-learn (None:
    unknown): a plugin's from its entry point's value, scikit-learn's from the cached index."""
    for ep in plugin_entry_points():
        if ep.name == name:
            return ep.value.partition(":")[0]
    entry = _sklearn_index().get(name)
    return entry["module"] if entry else None


def _unknown(name: str) -> UserError:
    return UserError(f"unknown estimator {name!r}{did_you_mean(name, names())}; run `bakeoff schema` for "
                     f"the list, or register a plugin under the entry-point group {ENTRY_POINT_GROUP!r}")


def facts(name: str) -> Facts:
    """An estimator's parameters and constraints by name; scikit-learn's without importing it."""
    if name in plugins():
        info = plugins()[name]
        return Facts(name, info.task, tuple(info.params), info.iteration_kind, None, _outputs(info.cls),
                     _codes_only(info.cls))
    entry = _sklearn_index().get(name)
    if entry is None:
        raise _unknown(name)
    return Facts(name, entry["task"], tuple(entry["params"]), entry["iteration"], entry["constraints"],
                 entry["outputs"], entry["codes_only"])


def resolve(name: str) -> EstimatorInfo:
    """Look an estimator up by name and import it; a miss is the user's to fix, so say what was meant."""
    if name in plugins():
        return plugins()[name]
    entry = _sklearn_index().get(name)
    if entry is None:
        raise _unknown(name)
    module, qualname = entry["module"], entry["class"]
    if not module.startswith("sklearn."):  # the index is ours, built from sklearn; never follow anything else
        raise RuntimeError(f"estimator index entry {name!r} points outside scikit-learn: {module}")
    return EstimatorInfo(name, getattr(importlib.import_module(module), qualname), entry["task"])


def estimators() -> dict[str, EstimatorInfo]:
    """Every estimator, imported: for catalogs shown to people (the UI) and for warming up."""
    return {name: resolve(name) for name in names()}

"""What a model's training costs before it runs, so that the scheduler can plan.

A cost has two parts: the fit, in seconds on one thread, of which a fraction ``parallel`` speeds
up with more threads (Amdahl); and everything else a train process does (start, load, predict,
score, save), which does not.

Estimates come from the store first: each finished training records what it cost
(``costs/<spec digest>/<job>.json``: its data's shape, threads, fit and wall seconds), and an
earlier fit of the same estimator and params is scaled to this data by its cells (rows times
features; train rows times predicted rows for nearest neighbours, squared rows for SVMs). Without
history, a prior for the estimator's family says how many seconds a unit of work takes. The priors
were measured on a 2-core machine (2026-12-02, 30,000 x 20 table, scikit-learn 1.8): they only
need to rank models and split cores sensibly, and the first run of a model replaces them.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass
from typing import Any

from bakeoff.spec import ModelSpec
from bakeoff.storage import MissingObject, ObjectStore

DEFAULT_OTHER = 0.6  # seconds of a train process besides its fit, before any history
RECENT = 3  # observations an estimate uses: the newest, as code and machines change


@dataclass(frozen=True)
class Shape:
    """The data a model trains on: rows of each split, and feature columns."""

    train: int
    valid: int
    test: int
    features: int

    @property
    def predicted(self) -> int:
        return self.valid + self.test


@dataclass(frozen=True)
class Family:
    """How an estimator family's fit grows with the data, and how much of it uses threads."""

    name: str
    seconds_per_unit: float
    parallel: float  # the fraction of the fit that more threads speed up
    scale: str = "cells"  # cells: rows x features; knn: train x predicted x features; svm: rows^2 x features
    per: str | None = None  # the parameter the cost is proportional to (trees, boosting stages)
    per_default: int = 1


# Matched by estimator class name, first match wins. Units: seconds per million cells (per tree or
# stage where ``per`` is set); for knn, per 1e10 distance terms; for svm, per 1e10 squared cells.
FAMILIES: list[tuple[tuple[str, ...], Family]] = [
    (("RandomForest",), Family("forest", 0.13, 0.97, per="n_estimators", per_default=100)),
    (("ExtraTrees",), Family("extra-trees", 0.035, 0.97, per="n_estimators", per_default=100)),
    (("HistGradientBoosting",), Family("hist-boosting", 0.008, 0.6, per="max_iter", per_default=100)),
    (("GradientBoosting", "AdaBoost"), Family("boosting", 0.05, 0.0, per="n_estimators", per_default=100)),
    (("Bagging",), Family("bagging", 0.15, 0.95, per="n_estimators", per_default=10)),
    (("KNeighbors", "RadiusNeighbors"), Family("neighbors", 2.0, 0.95, scale="knn")),
    (("DecisionTree", "ExtraTree"), Family("tree", 1.1, 0.0)),
    (("SVC", "SVR", "NuSVC", "NuSVR"), Family("svm", 3.0, 0.0, scale="svm")),
    (("MLP",), Family("neural-net", 2.0, 0.3)),
    (("NB",), Family("naive-bayes", 0.03, 0.0)),
]
GENERIC = Family("other", 0.1, 0.0)  # linear models and the rest: fast, one thread


def family(estimator: str) -> Family:
    return next((f for names, f in FAMILIES if any(n in estimator for n in names)), GENERIC)


@dataclass(frozen=True)
class Cost:
    fit: float  # seconds of the fit on one thread
    other: float  # seconds of the rest of the train process
    parallel: float  # fraction of the fit that more threads speed up
    source: str  # history | prior

    def seconds(self, threads: int) -> float:
        return self.other + self.fit * ((1 - self.parallel) + self.parallel / max(1, threads))


@dataclass(frozen=True)
class Observation:
    """What one training cost, as recorded in the store."""

    shape: Shape
    threads: int
    fit_seconds: float
    wall_seconds: float  # the whole train process, start-up included, as its supervisor saw it
    recorded_at: str = ""  # UTC, ISO 8601


def _units(fam: Family, spec: ModelSpec, shape: Shape) -> float:
    if fam.scale == "knn":
        size = shape.train * shape.predicted * shape.features / 1e10
    elif fam.scale == "svm":
        size = shape.train ** 2 * shape.features / 1e10
    else:
        size = shape.train * shape.features / 1e6
    if fam.per:
        per = spec.params.get(fam.per, fam.per_default)
        size *= per if isinstance(per, (int, float)) else fam.per_default
    trials = spec.search.trials if spec.search and spec.search.trials else 20 if spec.search else 1
    return size * trials


def estimate(spec: ModelSpec, shape: Shape, history: list[Observation]) -> Cost:
    """The cost of ``spec`` on data of ``shape``: scaled from ``history`` when there is any."""
    fam = family(spec.estimator)
    units = _units(fam, spec, shape)
    if not history:
        return Cost(fam.seconds_per_unit * units, DEFAULT_OTHER, fam.parallel, "prior")

    def one_thread(o: Observation) -> float:
        return o.fit_seconds / ((1 - fam.parallel) + fam.parallel / max(1, o.threads))

    fits = [one_thread(o) * units / max(_units(fam, spec, o.shape), 1e-12) for o in history]
    others = [max(0.0, o.wall_seconds - o.fit_seconds) for o in history]
    return Cost(statistics.median(fits), statistics.median(others), fam.parallel, "history")



def expected(models: list[ModelSpec], store: ObjectStore, shape: Shape) -> dict[str, Cost]:
    """Each model's expected cost on data of ``shape``: from its fits recorded in ``store``, else
    from its family's prior. What every planner (local, Kubernetes, `compile --plan`) starts from."""
    return {m.name: estimate(m, shape, history(store, m.digest())) for m in models}

def _prefix(spec_digest: str) -> str:
    return f"costs/{spec_digest}"


def record(store: ObjectStore, spec_digest: str, job: str, observation: Observation) -> None:
    """One file per job, so concurrent trainings never overwrite each other's record."""
    store.write_bytes(f"{_prefix(spec_digest)}/{job}.json",
                      json.dumps({**asdict(observation), "shape": asdict(observation.shape)}).encode())


def history(store: ObjectStore, spec_digest: str) -> list[Observation]:
    """The newest recorded costs of one spec (one per data and code it was trained with);
    unreadable ones are left out."""
    found = []
    for key in store.list(_prefix(spec_digest)):
        try:
            data: dict[str, Any] = json.loads(store.read_bytes(key))
            found.append(Observation(Shape(**data["shape"]), int(data["threads"]), float(data["fit_seconds"]),
                                     float(data["wall_seconds"]), str(data.get("recorded_at", ""))))
        except (MissingObject, ValueError, KeyError, TypeError):
            continue
    return sorted(found, key=lambda o: o.recorded_at)[-RECENT:]


@dataclass(frozen=True)
class Phases:
    """What a run costs besides its models: everything before the first model starts (process
    start-up, checking the config, preparing the data, the model processes' imports), and compare."""

    before: float = 2.5
    compare_per_model: float = 0.1


def record_phases(store: ObjectStore, phases: Phases) -> None:
    store.write_bytes("costs/run-phases.json", json.dumps(asdict(phases)).encode())


def phases(store: ObjectStore) -> Phases:
    """The last run's, or the defaults (2026-12-02, 2-core machine) before there was one."""
    try:
        return Phases(**json.loads(store.read_bytes("costs/run-phases.json")))
    except (MissingObject, ValueError, TypeError):
        return Phases()

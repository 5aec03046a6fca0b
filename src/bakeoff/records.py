"""What the steps write to the store and read back: typed records, and the only code that parses them.

Store layout (one root URI: a folder or ``s3://bucket/prefix``)::

    datasets/<fingerprint>/       the prepared splits of one table (content-addressed; data.py)
    jobs/<job>/job.json           one model's training, content-addressed: everything train reads
    jobs/<job>/result.json        the latest outcome of that job (its commit marker, written last)
    jobs/<job>/<attempt>/         model.skops and test_predictions.npz of one attempt
    runs/<run>/config.yaml        the exact config of a run
    runs/<run>/prepared.json      the run's data, context and the job of each model
    runs/<run>/models/<name>/result.json   the run's view of each model's outcome (written by compare)
    runs/<run>/leaderboard.json, report.html, report.md

Why jobs and not runs: a train step knows nothing run-specific, so that the same model on the
same data with the same code is the same job in every run. That is what lets Kubeflow's own cache
skip a train pod (its key is every input value of the task, so a run URI among them would make
every key new), and what lets the local runner reuse a result. A job's id is the sha256 of its
*context* (the data fingerprint, the feature schema, the metrics, the bootstrap seed and the
preparing code) and of the model's *spec* (estimator, params, search).

Every record carries ``schema``, the version of its own layout, and ``record_sha256``, the sha256
of its own content. One of another version is treated as absent. One that fails to parse, does not
match its sha256, or names an artifact whose sha256 does not match is ``Damaged``: a cache lookup
redoes the work (with one warning line), any other reader names the file and the fix. Nothing
damaged or edited is served.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sys
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from bakeoff.errors import UserError
from bakeoff.spec import digest
from bakeoff.storage import MissingObject, ObjectStore

if TYPE_CHECKING:
    from bakeoff.catalog import Task
    from bakeoff.metrics import Outcome
    from bakeoff.spec import ModelSpec

SCHEMA = 2  # 2: records carry their own sha256 (record_sha256); those of 1 are simply redone
JOB = "job.json"
RESULT = "result.json"
MODEL = "model.skops"
PREDICTIONS = "test_predictions.npz"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def job_id(context: str, spec: str) -> str:
    """The id of a model's job from the two digests that make it: a Kubeflow train task knows
    both (the context from prepare, the spec from the config it was compiled for)."""
    return hashlib.sha256(f"{context}:{spec}".encode()).hexdigest()


@dataclass(frozen=True)
class Schema:
    """What the model step needs to know about the columns, decided once at prepare."""

    target: str
    task: Task
    numeric: list[str]
    categorical: list[str]
    classes: list[str | int | float] | None
    dates: list[str] = field(default_factory=list)  # dates and datetimes (Parquet or parsed text)

    @property
    def features(self) -> list[str]:
        return self.numeric + self.categorical + self.dates

    @classmethod
    def from_dict(cls, d: dict) -> Schema:
        return cls(**d)


def _fields_of(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """The known fields only: a record from a newer bakeoff still reads."""
    known = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in known}


@dataclass(frozen=True)
class Context:
    """Everything at run level that decides a model's result, besides the model's own spec."""

    fingerprint: str
    table: Schema
    primary: str
    others: tuple[str, ...]
    seed: int
    code: str  # versions.code_identity() of whoever prepared

    @property
    def metrics(self) -> list[str]:
        return [self.primary, *self.others]

    def digest(self) -> str:
        return digest(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "others": list(self.others)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Context:
        return cls(**{**_fields_of(cls, d), "table": Schema.from_dict(d["table"]), "others": tuple(d["others"])})


@dataclass(frozen=True)
class Job:
    """One model's training. ``spec`` is the model's ``estimator``, ``params`` and ``search``
    exactly as ``ModelSpec.digest`` hashes them. ``experiment`` and ``tracking`` say where to log
    it and are not part of the id: they change no number the job produces."""

    context: Context
    spec: dict[str, Any]
    experiment: str
    tracking: dict[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA

    @property
    def spec_digest(self) -> str:
        return digest(self.spec)

    @property
    def id(self) -> str:
        return job_id(self.context.digest(), self.spec_digest)

    def model_spec(self, name: str) -> ModelSpec:
        from bakeoff.spec import ModelSpec

        return ModelSpec.model_validate({"name": name, **self.spec})

    def to_dict(self) -> dict[str, Any]:
        return {"schema": self.schema, "context": self.context.to_dict(), "spec": self.spec,
                "experiment": self.experiment, "tracking": self.tracking}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Job:
        return cls(**{**_fields_of(cls, d), "context": Context.from_dict(d["context"])})


@dataclass(frozen=True)
class Artifact:
    """A file a result names, with the checksum it must still have when read back."""

    key: str
    sha256: str
    size: int


@dataclass
class ModelResult:
    """The outcome of one job (``jobs/<job>/result.json``), and a run's view of it
    (``runs/<run>/models/<name>/result.json``, where ``model`` is the run's name for it and
    ``cached`` says it was trained before the run was prepared)."""

    model: str
    estimator: str
    status: str  # ok | failed
    job: str = ""
    attempt: str = ""
    code: str = ""  # versions.code_identity() of the process that trained
    finished_at: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    effective_params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)  # valid, test
    ci: tuple[float, float] | None = None
    fit_seconds: float | None = None
    predict_seconds: float | None = None  # the test split's predict alone: the serving latency
    predict_rows: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # train, valid, test
    features: int = 0
    step_seconds: float | None = None
    timings: dict[str, float] = field(default_factory=dict)  # load, fit, predict, score, save
    threads: int | None = None
    placement: dict[str, Any] = field(default_factory=dict)  # what the process ran with (timeout…)
    versions: dict[str, str] = field(default_factory=dict)
    search: dict[str, Any] | None = None
    preprocessing: dict[str, Any] = field(default_factory=dict)  # preprocess.Plan, and its "summary"
    error: str | None = None
    traceback: str | None = None
    mlflow_run_id: str | None = None
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    cached: bool = False
    schema: int = SCHEMA

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def score(self, metric: str, split: str = "test") -> float | None:
        return (self.metrics.get(split) or {}).get(metric)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelResult:
        known = _fields_of(cls, d)
        known["artifacts"] = {k: Artifact(**v) for k, v in (d.get("artifacts") or {}).items()}
        known["ci"] = tuple(d["ci"]) if d.get("ci") else None
        return cls(**known)

    @classmethod
    def failure(cls, model: str, estimator: str, job: str, attempt: str, error: str, **more: Any) -> ModelResult:
        from bakeoff.versions import code_identity

        return cls(model, estimator, "failed", job=job, attempt=attempt, code=code_identity(),
                   finished_at=now(), error=error, **more)


@dataclass(frozen=True)
class Prepared:
    """What prepare decided for a run (``runs/<run>/prepared.json``): nobody works it out again."""

    fingerprint: str
    config_digest: str
    context: Context
    jobs: dict[str, str]  # model name -> job id
    reused: bool  # the data was prepared before, by this run's fingerprint
    prepared_at: str
    mlflow_parent_run_id: str | None = None
    unlabelled: int = 0  # rows without a target, dropped before the split
    id_like: list[str] = field(default_factory=list)  # text columns with about one value per row
    schema: int = SCHEMA

    @property
    def table(self) -> Schema:
        return self.context.table

    @property
    def primary(self) -> str:
        return self.context.primary

    @property
    def models(self) -> list[str]:
        return list(self.jobs)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "context": self.context.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Prepared:
        return cls(**{**_fields_of(cls, d), "context": Context.from_dict(d["context"])})


# -- reading and writing ----------------------------------------------------------------------------

INTEGRITY = "record_sha256"


def dumps(obj: dict[str, Any]) -> bytes:
    """A record as stored: its JSON and the sha256 of its own content, so that ``load`` can
    tell a damaged or hand-edited record (a metric changed in a cached result.json) from a whole one."""
    return json.dumps({**obj, INTEGRITY: digest(obj)}, indent=2, default=str).encode()


class Damaged(UserError):
    """A record or artifact in the store that is not what was written (truncated, overwritten,
    edited by hand). Each reader decides what follows: a cache lookup redoes the work, with one
    ``warning:`` line; a reader with nothing to redo it from names the file and the fix."""

    def __init__(self, uri: str, why: str, fix: str) -> None:
        super().__init__(f"{uri}: damaged ({why}); {fix}")
        self.uri, self.why = uri, why


def load(store: ObjectStore, key: str, fix: str) -> dict[str, Any] | None:
    """A record's JSON, or None when it is absent or of another layout version; ``Damaged``
    (ending in ``fix``) when it does not parse or does not match its own sha256."""
    try:
        data = json.loads(store.read_bytes(key))
    except MissingObject:
        return None
    except ValueError:  # truncated or overwritten (bad UTF-8 is a ValueError too)
        raise Damaged(store.uri(key), "not JSON", fix) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return None
    return unsealed(data, store.uri(key), fix)


def unsealed(data: dict[str, Any], uri: str, fix: str, *, required: bool = True) -> dict[str, Any]:
    """``data`` without its ``record_sha256``; ``Damaged`` when that does not match the rest.
    Not ``required`` (a leaderboard, read across bakeoff versions), a record written before
    records carried one is taken as it is."""
    if INTEGRITY not in data and not required:
        return data
    if data.pop(INTEGRITY, None) != digest(data):
        raise Damaged(uri, "its content does not match its record_sha256: edited or cut", fix)
    return data


def warn(message: str) -> None:
    """One line on stderr about something the store held that was set aside, not served."""
    print(f"warning: {message}", file=sys.stderr, flush=True)


def job_key(job: str, *parts: str) -> str:
    return "/".join(("jobs", job, *parts))


def write_job(store: ObjectStore, job: Job) -> str:
    store.write_bytes(job_key(job.id, JOB), dumps(job.to_dict()))
    return job.id


def read_job(store: ObjectStore, job: str) -> Job:
    data = load(store, job_key(job, JOB), "run prepare again, which writes it")
    if data is None:
        raise UserError(f"job: {store.uri(job_key(job, JOB))} is missing or unreadable; prepare writes "
                        "one for every model of the config: run prepare again (or recompile the "
                        "pipeline if the config's models changed)")
    return Job.from_dict(data)


def new_attempt() -> str:
    """Time-sortable and unique without coordination, like run ids."""
    return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"


def save_artifact(store: ObjectStore, job: str, attempt: str, name: str, data: bytes) -> Artifact:
    key = job_key(job, attempt, name)
    store.write_bytes(key, data)
    return Artifact(key, sha256(data), len(data))


RETRAIN = "retrain it with --no-cache"


def read_artifact(store: ObjectStore, artifact: Artifact) -> bytes:
    """An artifact's bytes, refused (``Damaged``) when they are not what the result recorded."""
    data = store.read_bytes(artifact.key)
    if sha256(data) != artifact.sha256:
        raise Damaged(store.uri(artifact.key), "its sha256 does not match its result.json", RETRAIN)
    return data


def verified(store: ObjectStore, result: ModelResult) -> bool:
    """Every artifact the result names is there, whole and unchanged; raises ``Damaged`` for
    the first one that is not."""
    try:
        for artifact in result.artifacts.values():
            read_artifact(store, artifact)
    except MissingObject:
        return False
    return True


def write_result(store: ObjectStore, result: ModelResult) -> None:
    store.write_bytes(job_key(result.job, RESULT), dumps(result.to_dict()))


def read_result(store: ObjectStore, job: str) -> ModelResult | None:
    data = load(store, job_key(job, RESULT), RETRAIN)
    return None if data is None else ModelResult.from_dict(data)


def load_outcome(store: ObjectStore, result: ModelResult) -> Outcome | None:
    """The test predictions a result saved, for paired comparisons and curves; None when they
    are gone or damaged (the row then goes without them rather than with wrong ones)."""
    from bakeoff.metrics import Outcome

    artifact = result.artifacts.get("predictions")
    try:
        return None if artifact is None else Outcome.from_npz(read_artifact(store, artifact))
    except (UserError, ValueError, OSError):  # missing, damaged, or not an npz
        return None

"""MLflow tracking and the model registry. When no tracking URI is set, this does nothing.

The steps already write everything to the object store; MLflow is a second, optional view of the
same facts for teams that live in its UI and registry. So every function here starts by asking
``tracking_uri(...)`` and returns None at once when there is none, before MLflow is even imported
(it takes seconds to import, and a train pod should not pay that for nothing).

The shape in MLflow: one parent run per bake-off run (named after the run id, started by prepare
and ended by compare), one child run per trained model (started and ended inside its train step),
and, when ``tracking.register`` is set, a new version of that registered model for the champion
with the alias ``champion`` moved to it. That version is the champion made servable: a pyfunc
model from code (served_model.py) around the skops file its train step logged. A train step
knows no run (records.py says why), so it logs its child run on its own; compare then hangs the
children trained for this run under the run's parent. A result reused from an earlier run keeps
its first parent.

Only ``MlflowClient`` calls are used, with one client per process: MLflow's fluent API keeps the
active run in global state, which is unsafe with threads and easy to leave dangling. The one
exception is ``mlflow.sklearn.log_model`` (there is no client method that builds an MLflow Model);
it is given the run and the logged model explicitly, so no run is ever made active.

Models are stored with skops, never pickle: loading one builds only allowed types instead of
running whatever the file says, and only the types our own Pipeline holds beyond skops' defaults
(such as ``numpy.dtype`` or ``sklearn.tree._tree.Tree``) are listed as trusted.

Nothing from the environment is logged: no tracking URI, no credentials, only the config (which
holds names, never secrets) and the results.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from bakeoff.errors import UserError

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient
    from sklearn.pipeline import Pipeline

    from bakeoff.leaderboard import Leaderboard
    from bakeoff.records import Job, ModelResult, Prepared
    from bakeoff.runs import Run
    from bakeoff.spec import Experiment, TrackingSpec

ENV_URI = "MLFLOW_TRACKING_URI"
ALIAS = "champion"
MODEL_ARTIFACT = "model"
DIAGNOSTICS_DIR = "diagnostics"  # each diagnostic's data, as the store holds it
CHARTS_ARTIFACT = "charts.html"
# The registered champion is a pyfunc model from code (served_model.py) beside the skops file.
SERVED_ARTIFACT = "served"
SERVED_PIPELINE = "pipeline"
SERVED_CODE = Path(__file__).with_name("served_model.py")
TRIALS_ARTIFACT = "search/trials.json"

# Tags that tie MLflow back to the store; `bakeoff.role` tells parents from children in searches.
TAG_RUN_ID = "bakeoff.run_id"
TAG_JOB = "bakeoff.job"
TAG_ROLE = "bakeoff.role"
TAG_PARENT = "mlflow.parentRunId"

_MAX_PARAM = 6000  # MLflow's limits on one value and on one log_batch call
_MAX_TAG = 8000
_BATCH = 100


# -- the interface the steps call ---------------------------------------------------------------

def tracking_uri(settings: TrackingSpec) -> str | None:
    """The config's ``tracking.mlflow_uri``, else ``MLFLOW_TRACKING_URI``, else None (no tracking)."""
    return settings.mlflow_uri or os.environ.get(ENV_URI) or None


def start_parent(exp: Experiment, run: Run) -> str | None:
    """Find or create the parent run of this bake-off run and return its MLflow id.

    Find first: a retried or re-run prepare must not leave a second parent behind.
    """
    client = _client_for(exp.tracking)
    if client is None:
        return None
    experiment_id = _experiment_id(client, exp.tracking, exp.experiment)
    found = client.search_runs([experiment_id], max_results=1, filter_string=(
        f"tags.`{TAG_RUN_ID}` = '{run.run_id}' and tags.`{TAG_ROLE}` = 'parent'"))
    if found:
        return found[0].info.run_id
    parent = client.create_run(experiment_id, run_name=run.run_id, tags={
        TAG_RUN_ID: run.run_id, TAG_ROLE: "parent", "bakeoff.run_uri": run.uri,
        "bakeoff.config_digest": exp.digest(),
    })
    run_id = parent.info.run_id
    _log_batch(client, run_id, params={
        "experiment": exp.experiment, "dataset.target": exp.dataset.target,
        "dataset.task": exp.dataset.task, "split.test_size": exp.split.test_size,
        "split.valid_size": exp.split.valid_size, "split.seed": exp.split.seed,
        "models": ",".join(exp.model_names),
    })
    client.log_text(run_id, exp.to_yaml(), "config.yaml")
    return run_id


def log_model(job: Job, result: ModelResult, pipeline: Pipeline | None,
              X_example: pd.DataFrame | None, found: dict[str, Any] | None = None) -> str | None:
    """Log one job's training as a run of its own and return its MLflow id.

    ``pipeline`` is None for a failed model: the run is then marked FAILED with the error as a
    tag, so failures show in MLflow as they do on the leaderboard. ``X_example`` is a few raw
    feature rows (the columns the Pipeline takes); it becomes the model's input example and, with
    the Pipeline's predictions on it, its signature. ``found`` is the model's diagnostics
    (diagnostics.compute): logged as ``diagnostics/<name>.json`` and drawn in ``charts.html``, the
    same charts report.html shows for the model.
    """
    from bakeoff.spec import TrackingSpec

    settings = TrackingSpec.model_validate(job.tracking)
    client = _client_for(settings)
    if client is None:
        return None
    experiment_id = _experiment_id(client, settings, job.experiment)
    ok = result.ok and pipeline is not None
    tags = {TAG_JOB: result.job, TAG_ROLE: "model", "bakeoff.model": result.model,
            "bakeoff.estimator": result.estimator, "bakeoff.status": result.status,
            "bakeoff.fingerprint": job.context.fingerprint}
    if not ok:
        tags["bakeoff.error"] = result.error or "no pipeline was given"
    child = client.create_run(experiment_id, run_name=result.model,
                              tags={k: str(v)[:_MAX_TAG] for k, v in tags.items() if v is not None})
    run_id = child.info.run_id
    try:
        _log_batch(client, run_id, params=_params(result), metrics=_metrics(result, job.context.primary))
        trials = (result.search or {}).get("trials")
        if trials is not None:
            client.log_text(run_id, json.dumps(trials, indent=2, default=str), TRIALS_ARTIFACT)
            _log_batch(client, run_id, metrics=_trial_metrics(trials))
        if result.traceback:
            client.log_text(run_id, result.traceback, "error.txt")
        if found:
            _log_diagnostics(client, run_id, result, found, job.context.primary)
        if ok:
            _log_pipeline(client, experiment_id, run_id, result.model, pipeline, X_example)
    except BaseException:
        _end(client, run_id, "FAILED")
        raise
    _end(client, run_id, "FINISHED" if ok else "FAILED")
    return run_id


def _log_diagnostics(client: MlflowClient, run_id: str, result: ModelResult, found: dict[str, Any],
                     primary: str) -> None:
    from bakeoff import diagnostics, figures
    from bakeoff.measures import CATALOG

    for name, data in found.items():  # the bytes the store holds (diagnostics.save's)
        client.log_text(run_id, diagnostics.encode(data).decode(), f"{DIAGNOSTICS_DIR}/{name}.json")
    section = figures.model_section(result.model, result.estimator, found, CATALOG[primary].direction, primary)
    client.log_text(run_id, figures.page(f"{result.model} · bakeoff", section), CHARTS_ARTIFACT)


def log_leaderboard(exp: Experiment, run: Run, prepared: Prepared, results: dict[str, ModelResult | None],
                    board: Leaderboard, reports: dict[str, bytes]) -> dict[str, Any] | None:
    """Hang this run's newly trained models under its parent run, attach the leaderboard,
    register the champion if asked, and end the parent.

    Returns what was registered (``registered_model``, ``version``, ``alias``, ``model``,
    ``mlflow_run_id``) or None when nothing was.
    """
    client = _client_for(exp.tracking)
    if client is None:
        return None
    parent = prepared.mlflow_parent_run_id or start_parent(exp, run)
    assert parent is not None
    for result in results.values():
        if result is not None and result.mlflow_run_id and not result.cached:
            _log_batch(client, result.mlflow_run_id, tags={TAG_PARENT: parent, TAG_RUN_ID: run.run_id})
    with tempfile.TemporaryDirectory(prefix="bakeoff-reports-") as tmp:
        for filename, data in reports.items():
            (Path(tmp) / filename).write_bytes(data)
        client.log_artifacts(parent, tmp)
    leader = board.leader
    counts = {s: sum(r.status == s for r in board.rows) for s in ("ok", "failed", "missing")}
    _log_batch(client, parent,
               metrics={f"models_{s}": n for s, n in counts.items()}
               | ({f"leader_test_{board.primary}": leader.primary} if leader else {}),
               tags={"bakeoff.leader": leader.model} if leader else {})
    registered = None
    if exp.tracking.register_as and leader is not None:
        try:
            registered = _register_champion(client, exp.tracking.register_as, run, board, results[leader.model])
        except BaseException:
            _end(client, parent, "FAILED")
            raise
        _log_batch(client, parent, tags={"bakeoff.registered":
                                         f"{registered['registered_model']}/{registered['version']}"})
    _end(client, parent, "FINISHED")
    return registered


def health(settings: TrackingSpec) -> str:
    """One line saying MLflow answers, or a UserError saying what to fix (`bakeoff doctor`)."""
    uri = tracking_uri(settings)
    if uri is None:
        raise UserError("tracking.mlflow_uri: not set, nor MLFLOW_TRACKING_URI")
    client = _client_for(settings)
    assert client is not None
    with _answering_as_mlflow(uri):
        client.search_experiments(max_results=1)
    return f"MLflow at {_redacted(uri)} answers"


@contextlib.contextmanager
def _answering_as_mlflow(uri: str) -> Iterator[None]:
    """A server that answered /health but fails the tracking API is one line, not MLflow's
    traceback (which repeats the URL, and once held its password)."""
    try:
        yield
    except UserError:
        raise
    except Exception as exc:  # mlflow raises many types for one cause: it did not answer as MLflow
        raise UserError(f"tracking.mlflow_uri: {_redacted(uri)} answered /health but not the tracking API "
                        f"({type(exc).__name__}); check the URL points at the tracking server") from None


def load_champion(exp: Experiment, alias: str = ALIAS) -> Pipeline:
    """The Pipeline that ``<tracking.register>@champion`` points to (``load_registered``)."""
    name = exp.tracking.register_as
    if tracking_uri(exp.tracking) is None or not name:
        raise UserError("tracking: set tracking.mlflow_uri (or MLFLOW_TRACKING_URI) and "
                        "tracking.register to load a registered champion")
    return load_registered(exp.tracking, name, alias)


def load_registered(settings: TrackingSpec, name: str, alias: str = ALIAS) -> Pipeline:
    """The Pipeline of the registered model version ``models:/<name>@<alias>``.

    It is loaded from its skops file with bakeoff's own allowlist (``modeling.loads``), not with
    the trusted-type list stored beside it in the MLmodel file: that list is data from the
    server, and whoever can write a model version could widen it.
    """
    client = _client_for(settings)
    if client is None:
        raise UserError(f"{name}@{alias}: set MLFLOW_TRACKING_URI to the tracking server that holds it")
    import mlflow
    from mlflow.exceptions import MlflowException

    from bakeoff.modeling import loads

    with tempfile.TemporaryDirectory(prefix="bakeoff-model-") as tmp, _quiet():
        try:
            local = Path(mlflow.artifacts.download_artifacts(
                f"models:/{name}@{alias}", dst_path=tmp, tracking_uri=client.tracking_uri))
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            raise _not_registered(client, f"{name}@{alias}") from None
        return loads(_skops_file(local, f"models:/{name}@{alias}").read_bytes())


def registered_version(settings: TrackingSpec, name: str, alias: str = ALIAS,
                       version: str | None = None) -> dict[str, str]:
    """What ``models:/<name>@<alias>`` (or ``/<version>``) is: ``version``, ``artifacts`` (where
    its files are, as MLflow names it: ``s3://…`` or ``mlflow-artifacts:/…``), and the bake-off
    ``run_id`` that registered it and the champion's ``model`` name there (from its tags)."""
    client = _client_for(settings)
    which = f"{name}/{version}" if version else f"{name}@{alias}"
    if client is None:
        raise UserError(f"{which}: set MLFLOW_TRACKING_URI to the tracking server that holds it")
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_model_version(name, version) if version else client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise
        raise _not_registered(client, which) from None
    return {"version": str(found.version), "run_id": found.tags.get(TAG_RUN_ID, ""),
            "model": found.tags.get("bakeoff.model", ""),
            "artifacts": client.get_model_version_download_uri(name, found.version)}


# -- the pieces ---------------------------------------------------------------------------------

def _not_registered(client: MlflowClient, which: str) -> UserError:
    return UserError(f"{which}: no such registered model version in MLflow at {_redacted(client.tracking_uri)}; "
                     "check the name (tracking.register) and the alias or version")


def _client_for(settings: TrackingSpec) -> MlflowClient | None:
    uri = tracking_uri(settings)
    if uri is None:
        return None
    where = "tracking.mlflow_uri" if settings.mlflow_uri else ENV_URI
    return _client(uri, where)


@lru_cache(maxsize=None)
def _client(uri: str, where: str) -> MlflowClient:
    """One client per process and URI, made once the server has answered.

    The check is a plain GET with a short timeout: MLflow's own client retries a dead server
    with backoff for minutes before it gives up, which reads as a hang.
    """
    # bakeoff does not send usage data on its user's behalf; MLFLOW_DISABLE_TELEMETRY=false opts in.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        import mlflow
    except ImportError:
        raise UserError(f"{where}: tracking is on but MLflow is not installed; "
                        "pip install 'bakeoff[mlflow]', or unset it") from None
    if urlsplit(uri).scheme in ("http", "https"):
        import requests

        try:
            requests.get(f"{uri.rstrip('/')}/health", timeout=10)
        except requests.exceptions.SSLError:
            pass  # it answered; TLS settings are MLflow's own (MLFLOW_TRACKING_SERVER_CERT_PATH…)
        except requests.RequestException as exc:
            raise UserError(f"{where}: cannot reach MLflow at {_redacted(uri)} ({type(exc).__name__}); "
                            "check the URL and that the tracking server is running") from None
    return mlflow.MlflowClient(tracking_uri=_credentials_moved_to_env(uri))


def _credentials_moved_to_env(uri: str) -> str:
    """``uri`` without its user and password, which go where MLflow reads them instead
    (MLFLOW_TRACKING_USERNAME/PASSWORD, sent as the same basic auth).

    MLflow repeats its tracking URI in errors ("API request to http://user:pass@host/… failed"),
    and those reach tracebacks and logs: a URI that holds no password cannot leak it.
    """
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    os.environ["MLFLOW_TRACKING_USERNAME"] = unquote(parts.username or "")
    os.environ["MLFLOW_TRACKING_PASSWORD"] = unquote(parts.password or "")
    return _redacted(uri)


def _redacted(uri: str) -> str:
    """The URI without a user or password, which may be embedded in it."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc)) if parts.username or parts.password else uri


def _experiment_id(client: MlflowClient, settings: TrackingSpec, experiment: str) -> str:
    """The MLflow experiment (``tracking.experiment``, else the bake-off's ``experiment``), created if new."""
    from mlflow.exceptions import MlflowException

    name = settings.experiment or experiment
    with _answering_as_mlflow(client.tracking_uri):  # the first call of every tracked step
        found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            raise UserError(f"tracking.experiment: the MLflow experiment {name!r} is deleted; "
                            "restore it in MLflow or choose another name")
        return found.experiment_id
    try:
        return client.create_experiment(name)
    except MlflowException as exc:  # another step created it first
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return client.get_experiment_by_name(name).experiment_id


def _param_value(value: Any) -> str:
    """As Python prints it (``None``, ``True``), as MLflow's own autologging does; JSON for
    containers so that they stay parseable."""
    text = json.dumps(value, default=str) if isinstance(value, (dict, list, tuple)) else str(value)
    return text[:_MAX_PARAM]


def _params(result: ModelResult) -> dict[str, str]:
    """The estimator's parameters as fitted, with the config's (or the search's) on top, so that
    pseudo-parameters such as ``epochs`` are kept too."""
    return {"estimator": result.estimator, **result.effective_params, **result.params}


def _metrics(result: ModelResult, primary: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {f"{split}_{name}": value
                                    for split in ("valid", "test")
                                    for name, value in (result.metrics.get(split) or {}).items()}
    if result.ci:
        out |= {f"test_{primary}_ci_low": result.ci[0], f"test_{primary}_ci_high": result.ci[1]}
    search = result.search or {}
    out |= {"fit_seconds": result.fit_seconds, "predict_seconds": result.predict_seconds,
            "step_seconds": result.step_seconds}
    out |= {"search_seconds": search.get("seconds"), "search_trials": len(search["trials"])
            if "trials" in search else None}
    return out


def _trial_metrics(trials: Sequence[dict[str, Any]]) -> list[tuple[str, float, int]]:
    """Each finished trial's validation score as the history of ``search_trial_score``
    (step = trial number), which MLflow charts as the course of the search."""
    return [("search_trial_score", t["score"], int(t["number"])) for t in trials
            if isinstance(t.get("score"), (int, float))]


def _log_batch(client: MlflowClient, run_id: str, *,
               metrics: dict[str, float | None] | list[tuple[str, float, int]] | None = None,
               params: dict[str, Any] | None = None, tags: dict[str, str] | None = None) -> None:
    """``log_batch`` in chunks within MLflow's per-call limits. Metrics come as a name → value
    mapping (step 0) or as (name, value, step) rows; missing and NaN values are left out."""
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    rows = [(k, v, 0) for k, v in metrics.items()] if isinstance(metrics, dict) else metrics or []
    metric_list = [Metric(k, float(v), now, step) for k, v, step in rows
                   if isinstance(v, (int, float)) and not math.isnan(v)]
    param_list = [Param(k, _param_value(v)) for k, v in (params or {}).items()]
    tag_list = [RunTag(k, str(v)[:_MAX_TAG]) for k, v in (tags or {}).items()]
    while metric_list or param_list or tag_list:
        client.log_batch(run_id, metrics=metric_list[:_BATCH], params=param_list[:_BATCH],
                         tags=tag_list[:_BATCH])
        metric_list, param_list, tag_list = metric_list[_BATCH:], param_list[_BATCH:], tag_list[_BATCH:]


def _requirements(pipeline: Pipeline) -> list[str]:
    """Pinned requirements to serve the model: what a Pipeline of ours needs, plus the
    distribution of a plugin estimator. Given explicitly because MLflow's inference of them
    loads the model in a subprocess, which costs a train step several seconds."""
    from importlib import metadata

    dists = ["scikit-learn", "skops", "numpy", "scipy", "pandas"]
    top = type(pipeline.steps[-1][1]).__module__.split(".")[0]
    if top != "sklearn":
        dists += metadata.packages_distributions().get(top, [])
    pins = []
    for dist in dict.fromkeys(dists):
        try:
            pins.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:  # a plugin module outside any distribution
            continue
    return pins


def _log_pipeline(client: MlflowClient, experiment_id: str, run_id: str, name: str,
                  pipeline: Pipeline, X_example: pd.DataFrame | None) -> None:
    """The whole Pipeline as an MLflow Model in skops format, linked to the child run.

    The logged model is created here with the client, so that it lands in the run's experiment;
    ``log_model`` then fills it. It resolves its client from the global tracking URI, so that is
    set for the call and put back afterwards.
    """
    import mlflow
    import mlflow.sklearn
    import skops.io

    from bakeoff.modeling import dumps

    signature = None
    if X_example is not None:
        signature = mlflow.models.infer_signature(X_example, pipeline.predict(X_example))
    logged = client.create_logged_model(experiment_id, name=name, source_run_id=run_id,
                                        model_type="sklearn")
    with _quiet(), _global_tracking_uri(client.tracking_uri):
        mlflow.sklearn.log_model(
            pipeline, name=MODEL_ARTIFACT, serialization_format="skops",
            # exactly the types this Pipeline holds beyond what skops trusts by default
            skops_trusted_types=sorted(skops.io.get_untrusted_types(data=dumps(pipeline))),
            signature=signature, input_example=X_example, pip_requirements=_requirements(pipeline),
            run_id=run_id, model_id=logged.model_id,
        )


@contextlib.contextmanager
def _global_tracking_uri(uri: str) -> Iterator[None]:
    """``log_model`` resolves its client from MLflow's global tracking URI, which falls back to
    MLFLOW_TRACKING_URI while nobody has called ``set_tracking_uri`` (bakeoff never does: that
    call would pin the URI for the rest of the process). Set the variable for this call only."""
    before = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = before


def _register_champion(client: MlflowClient, registered: str, run: Run, board: Leaderboard,
                       result: ModelResult | None) -> dict[str, Any]:
    """A new version of ``registered`` from the leader's logged model, with the alias moved.

    A re-run compare reuses the version it already made for the same child run.
    """
    from mlflow.exceptions import MlflowException

    leader = board.leader
    assert leader is not None
    child = result.mlflow_run_id if result else None
    if not child:
        raise UserError(f"tracking.register: the champion {leader.model!r} has no MLflow run (its "
                        "result was trained without tracking, or reused from such a run); "
                        "re-run with --no-cache to train and log it")
    outputs = client.get_run(child).outputs
    model_ids = [o.model_id for o in (outputs.model_outputs if outputs else [])]
    if not model_ids:
        raise UserError(f"tracking.register: the MLflow run {child} of {leader.model!r} logged no "
                        "model; re-run with --no-cache to train and log it")
    try:
        client.create_registered_model(registered, tags={"bakeoff.experiment": board.experiment})
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    existing = [v for v in client.search_model_versions(f"run_id = '{child}'") if v.name == registered]
    served = None if existing else _log_served(client, child, model_ids[-1], leader.model)
    version = existing[0] if existing else client.create_model_version(
        registered, source=f"models:/{served}", run_id=child, model_id=served,
        description=f"Champion of bake-off run {run.run_id}: {leader.model} ({leader.estimator}), "
                    f"test {board.primary} = {leader.primary}",
        tags={TAG_RUN_ID: run.run_id, "bakeoff.model": leader.model,
              "bakeoff.estimator": leader.estimator, f"test_{board.primary}": str(leader.primary)},
    )
    client.set_registered_model_alias(registered, ALIAS, version.version)
    return {"registered_model": registered, "version": str(version.version), "alias": ALIAS,
            "model": leader.model, "mlflow_run_id": child}


def _log_served(client: MlflowClient, run_id: str, model_id: str, name: str) -> str:
    """Log the champion as MLflow's scoring server and KServe load it, and return its model id:
    a pyfunc model from code (served_model.py says why) holding the skops file that train logged.

    Its signature takes the input columns from the trained model's and describes the outputs of
    ``predict.predictions``; the input example is the trained model's too.
    """
    from importlib import metadata

    import mlflow
    import mlflow.pyfunc
    from mlflow.models import Model, ModelSignature, infer_signature

    from bakeoff.modeling import loads
    from bakeoff.predict import predictions

    # ``models:/<model id>`` is looked up through the global tracking URI, whatever the call is given
    with tempfile.TemporaryDirectory(prefix="bakeoff-served-") as tmp, _quiet(), \
            _global_tracking_uri(client.tracking_uri):
        local = Path(mlflow.artifacts.download_artifacts(f"models:/{model_id}", dst_path=tmp))
        trained = Model.load(local)
        skops_file = _skops_file(local, f"models:/{model_id}")
        pipeline = loads(skops_file.read_bytes())
        example = trained.load_input_example(local)
        signature = None if example is None or trained.signature is None else ModelSignature(
            trained.signature.inputs, infer_signature(example, predictions(pipeline, example)).outputs)
        logged = client.create_logged_model(client.get_run(run_id).info.experiment_id,
                                            name=f"{name}-served", source_run_id=run_id, model_type="pyfunc")
        mlflow.pyfunc.log_model(
            name=SERVED_ARTIFACT, python_model=str(SERVED_CODE),
            artifacts={SERVED_PIPELINE: str(skops_file)}, signature=signature, input_example=example,
            pip_requirements=[*_requirements(pipeline), f"mlflow=={mlflow.__version__}",
                              f"bakeoff=={metadata.version('bakeoff')}"],
            model_id=logged.model_id,  # which names its run: pyfunc's log_model takes no run_id
        )
    return logged.model_id


def _end(client: MlflowClient, run_id: str, status: str) -> None:
    with _quiet():
        client.set_terminated(run_id, status)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Swallow what MLflow prints to stdout ("View run … at <server URL>"): the step's stdout is
    its machine-readable output, and the URL is not ours to print."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield


def _skops_file(local: Path, uri: str) -> Path:
    """The skops file of a downloaded MLflow model: the served pyfunc's artifact, or the sklearn
    flavor's file (a model trained and logged by bakeoff, or a version registered before the
    served pyfunc existed). Anything else is refused: bakeoff loads only skops."""
    import yaml

    flavors = (yaml.safe_load((local / "MLmodel").read_text()) or {}).get("flavors", {})
    served = flavors.get("python_function", {}).get("artifacts", {}).get(SERVED_PIPELINE)
    if served:
        return local / served["path"]
    sklearn = flavors.get("sklearn", {})
    if sklearn.get("serialization_format") == "skops":
        return local / sklearn["pickled_model"]
    raise UserError(f"{uri}: holds no skops Pipeline (flavors: {', '.join(flavors) or 'none'}, sklearn "
                    f"format {sklearn.get('serialization_format')!r}); bakeoff loads only skops models")

"""The three steps. Each is a function of a run URI and nothing else; every runner calls these.

The steps share no memory and no process: only the object store. That is what lets one step run
in a local process, the next in a Docker container and the next in a Kubeflow pod.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from bakeoff.data import Schema

if TYPE_CHECKING:
    from bakeoff.spec import Experiment

RESULT = "result.json"
MODEL = "model.skops"
PREDICTIONS = "test_predictions.npz"  # for paired comparisons in compare


@dataclass(frozen=True)
class Prepared:
    """What prepare hands to the train tasks; on KFP these become their cache-key inputs."""

    fingerprint: str
    config_digest: str
    models: list[str]
    schema: Schema
    reused: bool
    mlflow_parent_run_id: str | None = None


def prepare(run_uri: str) -> Prepared:
    from bakeoff import data, tracking
    from bakeoff.errors import UserError
    from bakeoff.runs import Run
    from bakeoff.spec import task_problems
    from bakeoff.storage import read_uri

    run = Run.from_uri(run_uri)
    exp = run.config()
    raw = read_uri(exp.dataset.uri)
    fp = data.fingerprint(raw, exp.dataset, exp.split)
    info = data.prepared_table(run.store, fp)  # known data: no need to parse the table again
    reused = info is not None
    frame = None if reused else data.read_table(raw, exp.dataset)
    info = info or data.describe(frame, exp.dataset)
    schema = data.schema_for(info, exp.dataset)
    problems = task_problems(exp, schema.task)
    if problems:
        raise UserError(*problems)
    if frame is not None:
        data.write_prepared(run.store, fp, data.split_frame(frame, schema, exp.split), info)
    parent = tracking.start_parent(exp, run)  # first, so an unreachable server fails before training
    prepared = Prepared(fp, exp.digest(), exp.model_names, schema, reused, parent)
    run.write_json(asdict(prepared), "prepared.json")
    return prepared


def cache_key(exp: Experiment, prepared: dict[str, Any], model_name: str) -> str:
    """Same model spec, same data, same features, same metrics, same code: same result."""
    from bakeoff.versions import code_identity

    schema = Schema.from_dict(prepared["schema"])
    primary, others = exp.metric_names(schema.task)
    blob = json.dumps([exp.model(model_name).digest(), prepared["fingerprint"], schema.features,
                       [primary, *others], code_identity()])
    return hashlib.sha256(blob.encode()).hexdigest()


def reuse_cached(run_uri: str, model_name: str) -> dict[str, Any] | None:
    """Copy an earlier run's successful result for an identical model into this run, if any.

    The model files are copied before result.json, so the copy commits exactly like a fresh train.
    """
    from bakeoff.runs import Run
    from bakeoff.storage import MissingObject

    run = Run.from_uri(run_uri)
    exp = run.config()
    prepared = run.read_json("prepared.json")
    key = cache_key(exp, prepared, model_name)
    try:
        pointer = json.loads(run.store.read_bytes(f"cache/models/{key}.json"))
        source = Run(run.store, pointer["run_id"])
        result = source.read_json("models", pointer["model"], RESULT)
        if result.get("cache_key") != key or result["status"] != "ok":
            return None
        for name in (MODEL, PREDICTIONS):
            run.store.write_bytes(run.key("models", model_name, name),
                                  source.store.read_bytes(source.key("models", pointer["model"], name)))
    except MissingObject:
        return None
    result = {**result, "model": model_name, "cached_from": result.get("cached_from") or source.run_id,
              "fingerprint": prepared["fingerprint"], "config_digest": prepared["config_digest"]}
    run.write_json(result, "models", model_name, RESULT)
    return result


def train(run_uri: str, model_name: str, *, threads: int | None = None, use_cache: bool = True,
          fingerprint: str | None = None, config_digest: str | None = None) -> dict[str, Any]:
    """Fit, evaluate and save one model. Any failure of the model itself becomes a failed result.

    ``fingerprint`` and ``config_digest``, when given (KFP passes them so that its cache key sees
    the data), must match what prepare recorded; a mismatch means a stale pipeline and is refused.
    """
    from bakeoff import data, modeling, tracking, versions
    from bakeoff.cpu import usable_cpus
    from bakeoff.errors import UserError
    from bakeoff.metrics import REGISTRY, bootstrap_ci, scores
    from bakeoff.runs import Run

    started = time.perf_counter()
    run = Run.from_uri(run_uri)
    exp = run.config()
    model = exp.model(model_name)
    prepared = run.read_json("prepared.json")
    for name, given in (("fingerprint", fingerprint), ("config_digest", config_digest)):
        if given is not None and given != prepared[name]:
            raise UserError(f"--{name.replace('_', '-')}: {given[:12]}… does not match this run's "
                            f"prepared {name} {prepared[name][:12]}…; re-run prepare")
    if use_cache and (cached := reuse_cached(run_uri, model_name)) is not None:
        return cached

    schema = Schema.from_dict(prepared["schema"])
    primary, others = exp.metric_names(schema.task)
    threads = threads or usable_cpus()
    result: dict[str, Any] = {
        "model": model_name, "estimator": model.estimator, "params": model.params,
        "fingerprint": prepared["fingerprint"], "config_digest": prepared["config_digest"],
        "cache_key": cache_key(exp, prepared, model_name),
        "threads": threads, "versions": versions.libraries(),
    }
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name] = time.perf_counter() - clock
        clock = time.perf_counter()

    try:
        splits = {name: data.read_split(run.store, prepared["fingerprint"], name) for name in data.SPLITS}
        X = {name: frame[schema.features] for name, frame in splits.items()}
        y = {name: frame[schema.target].to_numpy() for name, frame in splits.items()}
        lap("load")
        if model.search is None:
            fitted = modeling.fit(modeling.build_pipeline(model, schema), X["train"], y["train"], threads)
            pipeline, fit_seconds = fitted.pipeline, fitted.fit_seconds
            with modeling.thread_budget(threads):
                valid, _ = modeling.predict(pipeline, X["valid"], y["valid"])
        else:  # tune on valid, refit the winner on train+valid; valid scores are the winner's own
            from bakeoff.search import tune

            tuned = tune(model, schema, X, y, REGISTRY[primary], seed=exp.split.seed, threads=threads)
            pipeline, fit_seconds, valid = tuned.pipeline, tuned.fit_seconds, tuned.valid
            result |= {"search": tuned.record, "params": tuned.params}
        lap("fit")
        with modeling.thread_budget(threads):
            test, predict_seconds = modeling.predict(pipeline, X["test"], y["test"])
        lap("predict")
        names = [primary, *others]
        ci = bootstrap_ci(REGISTRY[primary], test, seed=exp.split.seed)
        metrics = {"valid": scores(names, valid), "test": scores(names, test)}
        lap("score")
        run.store.write_bytes(run.key("models", model_name, MODEL), modeling.dumps(pipeline))
        run.store.write_bytes(run.key("models", model_name, PREDICTIONS), test.to_npz())
        lap("save")
        result |= {
            "status": "ok",
            "effective_params": modeling.effective_params(pipeline),
            "metrics": metrics,
            "ci": list(ci) if ci else None,
            "fit_seconds": fit_seconds,
            "predict_seconds": predict_seconds,  # test-split predict alone: the serving latency
            "predict_rows": len(X["test"]),
        }
    except Exception as exc:  # the model failed, not the bake-off: record it as a failed row
        result |= {"status": "failed", "error": f"{type(exc).__name__}: {exc}".splitlines()[0],
                   "traceback": traceback.format_exc(limit=-8)}
    result["step_seconds"] = time.perf_counter() - started
    result["timings"] = timings  # where the step's seconds went: load, fit, predict, score, save
    ok = result["status"] == "ok"
    result["mlflow_run_id"] = tracking.log_model(exp, run, prepared.get("mlflow_parent_run_id"), result,
                                                 pipeline if ok else None, X["train"].head(5) if ok else None)
    run.write_json(result, "models", model_name, RESULT)  # written last: the commit marker
    if result["status"] == "ok":
        run.store.write_bytes(f"cache/models/{result['cache_key']}.json",
                              json.dumps({"run_id": run.run_id, "model": model_name}).encode())
    return result


def compare(run_uri: str) -> Any:
    """Rank every model of the run; failed and missing ones are reported, not hidden."""
    from bakeoff import leaderboard, report, tracking
    from bakeoff.metrics import Outcome
    from bakeoff.runs import Run
    from bakeoff.storage import MissingObject

    run = Run.from_uri(run_uri)
    exp = run.config()
    prepared = run.read_json("prepared.json")
    schema = Schema.from_dict(prepared["schema"])
    primary, others = exp.metric_names(schema.task)
    results, outcomes = [], {}
    for m in exp.models:
        try:
            result = run.read_json("models", m.name, RESULT)
        except MissingObject:
            result = None
        results.append((m.name, m.estimator, result))
        if result and result["status"] == "ok":
            try:
                outcomes[m.name] = Outcome.from_npz(run.store.read_bytes(run.key("models", m.name, PREDICTIONS)))
            except MissingObject:  # a result cached from before predictions were kept
                pass
    board = leaderboard.build(run.run_id, exp.experiment, schema.task, primary, others, results, outcomes,
                              seed=exp.split.seed)
    reports = {"report.md": report.to_markdown(board).encode(), "report.html": report.to_html(board).encode()}
    for name, body in reports.items():
        run.store.write_bytes(run.key(name), body)
    reports["leaderboard.json"] = json.dumps(board.to_dict(), indent=2, default=str).encode()
    board.registered = tracking.log_leaderboard(exp, run, prepared.get("mlflow_parent_run_id"), board, reports)
    run.write_json(board.to_dict(), "leaderboard.json")  # last: a leaderboard means a finished compare
    return board


def record_failure(run_uri: str, model_name: str, error: str) -> None:
    """Mark a model failed when its process died before it could say so itself (crash, timeout)."""
    from bakeoff.runs import Run

    run = Run.from_uri(run_uri)
    if not run.store.exists(run.key("models", model_name, RESULT)):
        run.write_json({"model": model_name, "status": "failed", "error": error},
                       "models", model_name, RESULT)

"""The three steps. Every runner calls these; none of them knows where it runs.

* ``prepare(run_uri)`` reads the run's config, prepares its data once per content, and writes one
  job per model (records.py explains jobs).
* ``train(store, job, model)`` trains one job and writes its result. It knows no run, so the same
  model on the same data with the same code is the same train step in every run.
* ``compare(run_uri)`` records each model's outcome in the run and ranks them.

The steps share no memory and no process: only the object store. That is what lets one step run
in a local process, the next in a Docker container and the next in a Kubeflow pod.

A model's own failure (its fit raised, it was killed, it ran past its timeout) is a *result*: a
failed row. Only the infrastructure (the store, a missing job) raises, so that a retry can apply.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, replace
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bakeoff import records
from bakeoff.errors import shorten
from bakeoff.records import Context, Job, ModelResult, Prepared

if TYPE_CHECKING:
    import pandas as pd

    from bakeoff.data import TableInfo
    from bakeoff.spec import Experiment
    from bakeoff.storage import ObjectStore


@dataclass(frozen=True)
class Survey:
    """What prepare finds out before it writes anything; a plan of the run needs the same."""

    fingerprint: str
    info: TableInfo
    frame: pd.DataFrame | None  # the parsed table, when these data were never prepared
    context: Context
    jobs: dict[str, Job]  # by model name

    @property
    def reused(self) -> bool:
        return self.frame is None


def survey(exp: Experiment, store: ObjectStore) -> Survey:
    """Fingerprint the data, read what is known of it (or parse it), and make each model's job."""
    from bakeoff import data
    from bakeoff.errors import UserError
    from bakeoff.spec import task_problems
    from bakeoff.storage import read_uri
    from bakeoff.versions import code_identity

    raw = read_uri(exp.dataset.uri)
    fp = data.fingerprint(raw, exp.dataset, exp.split)
    info = data.prepared_table(store, fp)  # known data: no need to parse the table again
    frame = None if info is not None else data.read_table(raw, exp.dataset)
    info = info or data.describe(frame, exp.dataset)
    table = data.schema_for(info, exp.dataset)
    problems = task_problems(exp, table.task)
    if problems:
        raise UserError(*problems)
    primary, others = exp.metric_names(table.task)
    context = Context(fp, table, primary, tuple(others), exp.split.seed, code_identity())
    tracking_settings = exp.tracking.model_dump(mode="json", by_alias=True, exclude_none=True)
    jobs = {m.name: Job(context, m.spec(), exp.experiment, tracking_settings) for m in exp.models}
    return Survey(fp, info, frame, context, jobs)


def prepare(run_uri: str) -> Prepared:
    from bakeoff import data, tracking
    from bakeoff.runs import Run

    run = Run.from_uri(run_uri)
    exp = run.config()
    found = survey(exp, run.store)
    if found.frame is not None:
        data.write_prepared(run.store, found.fingerprint,
                            data.split_frame(found.frame, found.context.table, exp.split), found.info)
    jobs = {name: records.write_job(run.store, job) for name, job in found.jobs.items()}
    parent = tracking.start_parent(exp, run)  # first, so an unreachable server fails before training
    prepared = Prepared(found.fingerprint, exp.digest(), found.context, jobs, found.reused, records.now(), parent,
                        unlabelled=found.info.unlabelled, id_like=found.info.id_like)
    run.write_prepared(prepared)
    return prepared


def reusable(store_root: str, job: str) -> ModelResult | None:
    """A job's result that may be served instead of training: it succeeded, the same code made
    it, and it and every artifact it names are still whole (else it is trained again, with one
    warning line)."""
    from bakeoff.storage import open_store
    from bakeoff.versions import code_identity

    store = open_store(store_root)
    try:
        result = records.read_result(store, job)
        if result is None or not result.ok or result.code != code_identity():
            return None
        return result if records.verified(store, result) else None
    except records.Damaged as exc:
        records.warn(f"{exc.uri}: damaged ({exc.why}); the model is trained again")
        return None


def train(store_root: str, job_id: str, model: str, *, threads: int | None = None,
          attempt: str | None = None, placement: dict[str, Any] | None = None,
          on_evaluated: Callable[[], None] | None = None) -> ModelResult:
    """Fit, evaluate and save one job; write its result last (the commit marker).

    ``attempt`` names this try, so that whoever supervises the process can tell its result from
    an older one. ``on_evaluated`` is called once the threaded work (fit, predict) is over: what is
    left runs on one thread. The store failing raises; the model failing is a failed result.
    """
    from bakeoff import data, diagnostics, modeling, tracking, training, versions
    from bakeoff.measures import CATALOG
    from bakeoff.cpu import usable_cpus
    from bakeoff.storage import open_store

    started = time.perf_counter()
    store = open_store(store_root)
    job = records.read_job(store, job_id)
    spec = job.model_spec(model)
    context = job.context
    threads = threads or usable_cpus()
    attempt = attempt or records.new_attempt()
    try:
        chosen = modeling.preprocessing(spec)
    except Exception:  # an estimator that cannot even be planned for fails in evaluate, recorded
        chosen = None
    clock = time.perf_counter()
    splits = data.Splits(store, context.fingerprint, context.table,
                         float32=chosen.float32 if chosen else True)
    X, y = splits.features, splits.targets
    example = splits.example()  # reads train now, so that its time is the load's; valid and test when needed
    load_seconds = time.perf_counter() - clock
    result = ModelResult(model, spec.estimator, "failed", job=job_id, attempt=attempt,
                         code=versions.code_identity(), params=spec.params, threads=threads,
                         placement=placement or {}, versions=versions.libraries(),
                         rows=splits.rows(),
                         features=len(context.table.features))
    if chosen is not None:
        result.preprocessing = {**chosen.to_dict(), "summary": chosen.describe()}
    try:
        evaluation = training.evaluate(spec, context.table, X, y, metrics=context.metrics,
                                       seed=context.seed, threads=threads)
    except data.StoreFailed:  # a split unreadable halfway: the store's failure, for a retry
        raise
    except Exception as exc:  # the model failed, not the bake-off: record it as a failed row
        evaluation = None
        result.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        result.traceback = traceback.format_exc(limit=-8)
        result.timings = {"load": load_seconds}
    if on_evaluated is not None:
        on_evaluated()
    found: dict[str, Any] = {}
    if evaluation is not None:
        clock = time.perf_counter()
        try:  # a chart that cannot be drawn is missing from the views; the model still counts
            found = diagnostics.compute(evaluation.test, context.table.classes, pipeline=evaluation.pipeline,
                                        search=evaluation.search, direction=CATALOG[context.primary].direction,
                                        seed=context.seed)
        except Exception as exc:  # noqa: BLE001 - any bug here must not cost the fitted model
            records.warn(f"{spec.name}: diagnostics skipped ({type(exc).__name__}: {shorten(str(exc))})")
        result.artifacts = {
            "model": records.save_artifact(store, job_id, attempt, records.MODEL,
                                           modeling.dumps(evaluation.pipeline)),
            "predictions": records.save_artifact(store, job_id, attempt, records.PREDICTIONS,
                                                 evaluation.test.to_npz()),
            **diagnostics.save(store, job_id, attempt, found),
        }
        result.status, result.params, result.search = "ok", evaluation.params, evaluation.search
        result.effective_params = modeling.effective_params(evaluation.pipeline)
        result.metrics, result.ci = evaluation.metrics, evaluation.ci
        result.fit_seconds, result.predict_seconds = evaluation.fit_seconds, evaluation.predict_seconds
        result.predict_rows = len(X["test"])
        result.timings = {"load": load_seconds, **evaluation.timings, "save": time.perf_counter() - clock}
    result.step_seconds = time.perf_counter() - started
    result.finished_at = records.now()
    result.mlflow_run_id = tracking.log_model(job, result, evaluation.pipeline if evaluation else None,
                                              example, found)
    records.write_result(store, result)  # written last: the commit marker
    return result


def record(run: Any, prepared: Prepared, model: str, result: ModelResult | None = None) -> ModelResult | None:
    """Write the run's view of one model's outcome, from its job's result (``result``, when the
    caller holds it, else read); None while it has none.

    ``cached`` means the result was made before this run was prepared, by an earlier run (or a
    Kubeflow cache hit, which starts no pod at all).
    """
    if result is None:
        result = records.read_result(run.store, prepared.jobs[model])
    if result is None:
        return None
    view = replace(result, model=model, cached=result.finished_at < prepared.prepared_at)
    run.write_result(view)
    return view


def compare(run_uri: str) -> Any:
    """Record every model's outcome in the run and rank them; failed and missing ones are
    reported, not hidden."""
    from bakeoff import diagnostics, leaderboard, report, tracking
    from bakeoff.data import data_notes
    from bakeoff.runs import Run

    run = Run.from_uri(run_uri)
    exp, prepared = run.prepared_config()
    results: dict[str, ModelResult | None] = {m: record(run, prepared, m) for m in prepared.models}
    outcomes = {name: outcome for name, result in results.items()
                if result is not None and result.ok and (outcome := records.load_outcome(run.store, result))}
    board = leaderboard.build(run.run_id, exp.experiment, prepared.table.task, prepared.context.metrics,
                              [(m.name, m.estimator, results[m.name]) for m in exp.models], outcomes,
                              seed=exp.split.seed)
    board.data_notes = data_notes(prepared.unlabelled, prepared.id_like)
    found = {name: diagnostics.load(run.store, result) for name, result in results.items()
             if result is not None and result.ok}
    reports = {"report.md": report.to_markdown(board).encode(),
               "report.html": report.to_html(board, found).encode()}
    for name, body in reports.items():
        run.store.write_bytes(run.key(name), body)
    reports["leaderboard.json"] = records.dumps(board.to_dict())
    board.registered = tracking.log_leaderboard(exp, run, prepared, results, board, reports)
    run.write_leaderboard(board)
    return board

"""The `bakeoff` command. Thin: it parses arguments, calls a step or a runner, and prints.

User mistakes (``UserError``) become one line on stderr and exit code 2; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from bakeoff.errors import UserError

app = typer.Typer(
    name="bakeoff",
    help="Train many models on one table, each as its own job, and rank them on one leaderboard.\n\n"
    "Start here:  bakeoff init --example breast-cancer  &&  bakeoff run bakeoff.yaml",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

STORE_ENV = "BAKEOFF_STORE"
StoreOption = Annotated[Optional[str], typer.Option(
    "--store", envvar=STORE_ENV, show_default=False,
    help="Store root holding the runs: a folder or s3://bucket/prefix (default: the storage of "
         "./bakeoff.yaml, else ./.bakeoff).")]


# Wide enough that nothing wraps: a log or a pipe has no width of its own, and a leaderboard in it
# should show every column and cut nothing.
UNWRAPPED = 10_000


def _console(stderr: bool = False, *, wide: bool = False):  # noqa: ANN202 - rich is imported lazily to keep steps fast
    """The terminal at its own width; a file, pipe or CI log (or ``wide``) at a width that wraps
    nothing, unless COLUMNS says otherwise."""
    from rich.console import Console

    console = Console(stderr=stderr)
    if wide or (not console.is_terminal and "COLUMNS" not in os.environ):
        console = Console(stderr=stderr, width=UNWRAPPED)
    return console


def _store_with_runs(store: str | None):  # noqa: ANN202 - types stay lazy
    """The store runs, report and compare read, found as `run` finds it; one that holds no run is
    a one-line error saying where we looked and how to point elsewhere."""
    from bakeoff.runs import choose_store, no_runs, run_ids
    from bakeoff.storage import open_store

    here = Path.cwd()
    choice = choose_store(store, STORE_ENV if os.environ.get(STORE_ENV) == store else "--store", here)
    opened = open_store(choice.root)
    ids = run_ids(opened)
    if not ids:
        raise UserError(no_runs(choice, opened, here))
    return opened, ids


def _find_runs(refs: list[str], store: str | None) -> list:  # noqa: ANN202 - types stay lazy
    """Runs named by URI need no store; the others are looked up in the store `run` would use."""
    from bakeoff.runs import Run, find_run

    opened = _store_with_runs(store)[0] if any("/runs/" not in ref for ref in refs) else None
    return [Run.from_uri(ref) if opened is None or "/runs/" in ref else find_run(opened, ref) for ref in refs]


class Example(str, Enum):
    breast_cancer = "breast-cancer"
    wine = "wine"
    diabetes = "diabetes"


@app.command()
def init(
    example: Annotated[Example, typer.Option(help="Which bundled real dataset to start from.")] = Example.breast_cancer,
    directory: Annotated[Path, typer.Option("--dir", help="Where to write bakeoff.yaml and data/.")] = Path("."),
    force: Annotated[bool, typer.Option(help="Overwrite existing files.")] = False,
) -> None:
    """Write bakeoff.yaml and a CSV of a real dataset bundled with scikit-learn."""
    from bakeoff.examples import write_example

    config, data = write_example(example.value, directory, force=force)
    typer.echo(f"wrote {config} and {data}\nnext: bakeoff run {config}")


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="The experiment YAML file.")],
    offline: Annotated[bool, typer.Option("--offline", help="Do not read the dataset's header (its columns are then checked by `run`).")] = False,
) -> None:
    """Check a config without training anything: schema, estimators and their parameters, and
    (from the dataset's header only) that the target and dropped columns exist."""
    from bakeoff.spec import absolute_uri, check, read_config
    from bakeoff.storage import check_writable

    base = config.resolve().parent
    verdict = check(read_config(config))
    problems = list(verdict.problems)
    seen = "not read (--offline)"
    if verdict.storage is not None:
        try:
            check_writable(absolute_uri(verdict.storage, base))
        except UserError as exc:
            problems += exc.problems
    if verdict.dataset is not None and not offline:
        from bakeoff.header import column_names, column_problems

        dataset = verdict.dataset.model_copy(update={"uri": absolute_uri(verdict.dataset.uri, base)})
        try:
            names = column_names(dataset)
        except UserError as exc:
            problems += exc.problems
        else:
            problems += column_problems(dataset, names)
            seen = f"{len(names)} columns, target {dataset.target}"
    if problems:
        raise UserError(*problems)
    exp = verdict.experiment
    assert exp is not None  # no problems: the schema accepted it
    typer.echo(f"{config}: ok · experiment {exp.experiment} · {len(exp.models)} models "
               f"({', '.join(exp.model_names)}) · dataset: {seen}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the config, for editor autocomplete (yaml-language-server)."""
    from bakeoff.spec import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


class RunnerName(str, Enum):
    local = "local"
    kfp_docker = "kfp-docker"
    k8s = "k8s"


NamespaceK8sOption = Annotated[Optional[str], typer.Option("--namespace", help="Kubernetes namespace of the Jobs (k8s; default: the kube context's, else default).")]
ContextOption = Annotated[Optional[str], typer.Option(help="kubeconfig context (k8s; default: the current one, or in-cluster).")]
StartTimeoutOption = Annotated[float, typer.Option(min=1, help="Seconds a pod may wait to start (image pull, scheduling) before its model is a failed row (k8s).")]


ParallelOption = Annotated[Optional[int], typer.Option(
    min=1, help="Models at once (default: runtime.parallel, else usable CPUs; on Kubeflow it compiles a "
                "loop of train pods with that parallelism).")]
NoCacheOption = Annotated[bool, typer.Option(
    "--no-cache", help="Retrain every model even if an identical result exists.")]


class PlanFormat(str, Enum):
    table = "table"
    json = "json"


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="The experiment YAML file.")],
    parallel: ParallelOption = None,
    no_cache: NoCacheOption = False,
    runner: Annotated[RunnerName, typer.Option(help="local: a process per model here. kfp-docker: the compiled KFP pipeline under kfp.local's DockerRunner, in the project image. k8s: a Kubernetes Job per step, on any cluster.")] = RunnerName.local,
    plan: Annotated[bool, typer.Option("--plan", help="Show the schedule (order, threads per model, expected wall time) and run nothing.")] = False,
    fmt: Annotated[PlanFormat, typer.Option("--format", help="How --plan prints the schedule.")] = PlanFormat.table,
    namespace: NamespaceK8sOption = None,
    context: ContextOption = None,
    detach: Annotated[bool, typer.Option("--detach", help="Return the run URI at once; a driver Job runs the rest in the cluster (k8s).")] = False,
    store: Annotated[Optional[str], typer.Option(help="s3://bucket/prefix for the run (k8s; default: the config's storage).")] = None,
    start_timeout: StartTimeoutOption = 300,
) -> None:
    """Run a bake-off: prepare the data, train every model in parallel, rank them.

    Here by default; --runner k8s runs a Kubernetes Job per step on any cluster, and
    --runner kfp-docker the compiled Kubeflow pipeline in Docker.

    Models start longest first; one that can use threads (a forest, boosting, neighbours) gets
    several cores when that ends the run sooner. --plan shows what a run would do now.
    """
    import time

    from bakeoff.cpu import process_age

    began = time.monotonic() - process_age()
    if runner is RunnerName.local and not plan:  # first: its imports overlap with all that follows
        from bakeoff.forkserver import sketch, warm_start

        estimators, tracked = sketch(config)
        warm_start(estimators, tracked=tracked)
    from bakeoff.progress import LiveProgress
    from bakeoff.runners.base import RunOptions
    from bakeoff.spec import anchored, load_config

    exp = anchored(load_config(config), config.resolve().parent)
    err = _console(stderr=True)
    if plan:
        if runner is not RunnerName.local:
            raise UserError("--plan: only the local runner plans its schedule; drop --runner")
        _print_plan(exp, RunOptions(parallel, not no_cache), fmt)
        return
    k8s_only = [flag for flag, given in (("--namespace", namespace), ("--context", context),
                                         ("--detach", detach), ("--store", store),
                                         ("--start-timeout", start_timeout != 300)) if given]
    if runner is not RunnerName.k8s and k8s_only:
        raise UserError(f"{', '.join(k8s_only)}: only the k8s runner takes {'it' if len(k8s_only) == 1 else 'them'}; "
                        "add --runner k8s")
    if runner is RunnerName.k8s:
        from bakeoff.runners.k8s import KubernetesRunner, connect

        k8s = KubernetesRunner(*connect(namespace, context, start_timeout), store=store, detach=detach, log=err.print)
        if detach:
            outcome = k8s.run(exp, RunOptions(parallel, not no_cache))
            typer.echo(f"run {outcome.run.uri}\nfollow it: kubectl -n {k8s.cluster.namespace} get jobs -l "
                       f"bakeoff.run-id={outcome.run.run_id}; read it: bakeoff report {outcome.run.uri}")
            return
        with LiveProgress(err) as show:
            outcome = k8s.run(exp, RunOptions(parallel, not no_cache, show))
    elif runner is RunnerName.kfp_docker:
        from bakeoff.runners.kfp_docker import KfpDockerRunner

        outcome = KfpDockerRunner(console=err).run(exp, RunOptions(parallel, not no_cache))
    else:
        from bakeoff.runners.local import LocalRunner

        with LiveProgress(err) as show:
            outcome = LocalRunner().run(exp, RunOptions(parallel, not no_cache, show, began))
    assert outcome.board is not None  # every runner waits for the leaderboard, but for --detach
    _show_leaderboard(outcome.board, outcome.run.store.uri(outcome.run.key("report.html")), err)


def _print_plan(exp, options, fmt: PlanFormat) -> None:  # noqa: ANN001 - types stay lazy
    from rich.table import Table

    from bakeoff.progress import plan_rows
    from bakeoff.runners.local import LocalRunner

    schedule, cached = LocalRunner().plan(exp, options)
    if fmt is PlanFormat.json:
        typer.echo(json.dumps({"wall_seconds": schedule.wall_seconds, "threads": schedule.budget,
                               "parallel": schedule.parallel, "cached": cached,
                               "models": [{"model": s.name, "threads": s.threads, "start": s.start, "end": s.end,
                                           "fit_one_thread": s.cost.fit, "other": s.cost.other,
                                           "estimate": s.cost.source} for s in schedule.slots]}, indent=2))
        return
    rows = plan_rows(schedule, cached)
    table = Table(title=f"plan · {exp.experiment} · at most {schedule.parallel} models and {schedule.budget} "
                        f"threads at once", caption=f"expected wall time {schedule.wall_seconds:.1f} s, "
                                                    "start-up of each process included")
    for column in rows[0] if rows else ("model",):
        table.add_column(column, justify="left" if column in ("model", "estimate") else "right")
    for row in rows:
        table.add_row(*row.values())
    _console().print(table)


def _show_leaderboard(board, report_uri: str, err) -> None:  # noqa: ANN001 - rich types stay lazy
    """Print the board, name the failed models, and exit 1 when no model succeeded."""
    _console().print(board)
    err.print(f"[dim]report: {report_uri}[/]")
    failed = [r.model for r in board.rows if r.status != "ok"]
    if failed:
        err.print(f"[red]{len(failed)} model(s) failed: {', '.join(failed)}[/]")
    if len(failed) == len(board.rows):
        raise typer.Exit(1)


class StepName(str, Enum):
    prepare = "prepare"
    train = "train"
    compare = "compare"
    drive = "drive"


@app.command()
def step(
    name: Annotated[StepName, typer.Argument(help="Which step to run.")],
    run_uri: Annotated[Optional[str], typer.Option("--run-uri", help="<store>/runs/<run_id>; the step reads its config there (prepare, compare: optional with --config-uri and --run-id).")] = None,
    model: Annotated[Optional[str], typer.Option(help="The model to train (train).")] = None,
    threads: Annotated[Optional[int], typer.Option(min=1, help="Thread budget (train; default: usable CPUs of this container).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Train even if an identical result exists (train).")] = False,
    config_uri: Annotated[Optional[str], typer.Option(help="Copy this config into the run first (prepare; compare finds the same run; KFP).")] = None,
    run_id: Annotated[Optional[str], typer.Option(help="Run id when --config-uri comes without --run-uri (prepare, compare; KFP passes its run id).")] = None,
    expect_models: Annotated[Optional[str], typer.Option(help="NAME=SPEC_DIGEST,… the config must have (prepare; a per-model KFP pipeline).")] = None,
    store: Annotated[Optional[str], typer.Option(help="Store root, instead of --run-uri (train; KFP: a train task knows no run).")] = None,
    context: Annotated[Optional[str], typer.Option(help="Job context digest from prepare (train, with --store).")] = None,
    spec: Annotated[Optional[str], typer.Option(help="The model's spec digest (train, with --store).")] = None,
    timeout: Annotated[Optional[float], typer.Option(min=0, help="Seconds before the model is stopped; 0 for none (train, with --store).")] = None,
    parallel: Annotated[Optional[int], typer.Option(min=1, help="Train Jobs at once (drive).")] = None,
    namespace: Annotated[Optional[str], typer.Option("--namespace", help="Kubernetes namespace of the run's Jobs (drive; default: the pod's own).")] = None,
    start_timeout: Annotated[float, typer.Option(min=1, help="Seconds a pod may wait to start (drive).")] = 300,
    placement: Annotated[Optional[str], typer.Option(help="The pod's placement as JSON, recorded with the result (train, with --store).")] = None,
    kfp_output: Annotated[Optional[list[str]], typer.Option(help="NAME=PATH: also write output NAME to PATH, for KFP (prepare, compare; repeatable).")] = None,
    executor_input: Annotated[Optional[str], typer.Option(help="KFP's executor input, {{$}}: publish metrics to the Kubeflow UI (train).")] = None,
) -> None:
    """Run one step of a run. This is the contract container images and KFP components call.

    A model that fails is a result (a failed row), not an error: train exits 0 once it has
    recorded the outcome. Only the store failing, or a mistake in the arguments, exits non-zero.
    drive is the Kubernetes runner itself, in a pod (`bakeoff run --runner k8s --detach`).
    """
    from bakeoff.kfp import stepio

    outputs = stepio.parse_outputs(name.value, kfp_output or [])
    if name is StepName.prepare:
        from bakeoff import steps
        from bakeoff.data import data_notes
        from bakeoff.runs import Run

        run = Run.from_uri(stepio.resolve_run(run_uri, config_uri, run_id, expect_models))
        p = steps.prepare(run.uri)
        typer.echo(json.dumps({"run_uri": run.uri, "fingerprint": p.fingerprint, "models": p.models,
                               "reused": p.reused, "notes": data_notes(p.unlabelled, p.id_like)}))
        stepio.write_outputs(outputs, stepio.prepare_outputs(run, run.config(), p))
    elif name is StepName.drive:
        from bakeoff.runners.base import RunOptions
        from bakeoff.runners.k8s import KubernetesRunner, connect
        from bakeoff.runs import Run

        run = Run.from_uri(stepio.require_run_uri(run_uri))
        runner = KubernetesRunner(*connect(namespace, None, start_timeout), log=typer.echo)
        _console().print(runner.drive(run, RunOptions(parallel, not no_cache)).board)
    elif name is StepName.train:
        _train_step(run_uri, model, store, context, spec, timeout, placement, threads=threads,
                    use_cache=not no_cache, executor_input=executor_input)
    else:
        from bakeoff import steps

        run = stepio.locate_run(run_uri or None, config_uri or None, run_id or None)
        _console().print(steps.compare(run.uri))
        if outputs:
            stepio.write_outputs(outputs, stepio.compare_outputs(run))


def _train_step(run_uri: str | None, model: str | None, store: str | None, context: str | None,
                spec: str | None, timeout: float | None, placement: str | None, *, threads: int | None,
                use_cache: bool, executor_input: str | None) -> None:
    """`step train` in either form: a model of a run, or (KFP) a job named by its digests."""
    from bakeoff import records, steps
    from bakeoff.kfp import stepio
    from bakeoff.runs import Run
    from bakeoff.storage import open_store
    from bakeoff.supervise import train_or_reuse

    if not model:
        raise UserError("--model: required by `bakeoff step train`; name one of the config's models")
    if store is not None:  # a KFP train task: no run, a job
        if not spec and "=" in model:  # a loop over literal items passes NAME=SPEC_DIGEST
            model, _, spec = model.partition("=")
        if not context or not spec:
            raise UserError("--context, --spec: required with --store; a pipeline passes prepare's context "
                            "and the model's spec digest")
        job = records.job_id(context, spec)
        opened = open_store(store)
        pod = stepio.parse_placement(placement)
        result = train_or_reuse(opened.root, job, model, use_cache=use_cache, threads=threads,
                                timeout=timeout or None, placement={**pod, "timeout": timeout or None})
        if executor_input:
            stepio.publish_train(executor_input, opened, records.read_job(opened, job).context.table, result)
    else:
        run = Run.from_uri(stepio.require_run_uri(run_uri))
        prepared = run.prepared()
        if model not in prepared.jobs:
            from bakeoff.errors import did_you_mean

            raise UserError(f"--model: no model named {model!r} in run {run.run_id}"
                            f"{did_you_mean(model, prepared.jobs)}")
        limit = run.model_timeout(model)
        result = steps.record(run, prepared, model, train_or_reuse(
            run.store.root, prepared.jobs[model], model, use_cache=use_cache, threads=threads, timeout=limit,
            placement={"timeout": limit}))
        assert result is not None  # train_or_reuse always returns one
    typer.echo(json.dumps({"model": model, "status": result.status, "error": result.error,
                           "metrics": result.metrics, "cached": result.cached, "job": result.job}))


WideOption = Annotated[bool, typer.Option(
    "--wide", help="Every column, however wide the terminal; lines are not wrapped.")]


class Format(str, Enum):
    table = "table"
    md = "md"
    html = "html"
    json = "json"


@app.command()
def report(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="A run id, a unique prefix of one, 'latest', or a run URI.")] = "latest",
    store: StoreOption = None,
    fmt: Annotated[Format, typer.Option("--format", help="How to print it.")] = Format.table,
    wide: WideOption = False,
) -> None:
    """Reprint the leaderboard of a past run."""
    [found] = _find_runs([run_ref], store)
    board = found.finished_leaderboard()
    if fmt is Format.json:
        typer.echo(json.dumps(board.to_dict(), indent=2, default=str))
    elif fmt is Format.table:
        _console(wide=wide).print(board)
    else:
        typer.echo(found.store.read_bytes(found.key(f"report.{fmt.value}")).decode(), nl=False)


@app.command()
def compare(
    run_refs: Annotated[list[str], typer.Argument(metavar="RUN...", help="Two or more run ids, prefixes, or run URIs.")],
    store: StoreOption = None,
    wide: WideOption = False,
) -> None:
    """One leaderboard over several runs, showing only the params that differ between them."""
    from bakeoff.history import compare_runs

    if len(run_refs) < 2:
        raise UserError("RUN: give at least two runs to compare; `bakeoff report RUN` shows one")
    _console(wide=wide).print(compare_runs(_find_runs(run_refs, store)))


@app.command()
def runs(store: StoreOption = None) -> None:
    """List past runs in a store, newest last, with their leader."""
    from rich.table import Table

    from bakeoff.records import Damaged
    from bakeoff.runs import Run

    opened, ids = _store_with_runs(store)
    table = Table(title=f"runs in {opened.root}")
    for col in ("run", "experiment", "models", "leader", "score"):
        table.add_column(col)
    for run_id in ids:
        r = Run(opened, run_id)
        try:
            board = r.leaderboard()
        except Damaged as exc:  # one damaged run does not hide the others
            table.add_row(run_id, "", "", f"[red]damaged[/]: {exc.why}", "")
            continue
        if board is None:
            table.add_row(run_id, "", "", "[yellow]unfinished[/]", "")
            table.caption = ("unfinished: still running, or interrupted (its runner stopped); running its "
                             "config again resumes it, every finished model served from the cache")
            continue
        leader = board.leader
        table.add_row(run_id, board.experiment, str(len(board.rows)),
                      leader.model if leader else "[red]none[/]",
                      f"{board.primary} {leader.primary:.4f}" if leader else "")
    _console().print(table)


class DeployTarget(str, Enum):
    kserve = "kserve"
    mlflow = "mlflow"


@app.command()
def deploy(
    ref: Annotated[str, typer.Argument(metavar="RUN|REGISTERED_NAME", help="A run whose compare registered its champion (id, prefix, 'latest' or run URI), or a registered model name.")],
    to: Annotated[DeployTarget, typer.Option("--to", help="kserve: an InferenceService (KServe's MLflow format, v2 protocol). mlflow: the `mlflow models serve` command.")],
    alias: Annotated[str, typer.Option(help="The alias of REGISTERED_NAME to deploy.")] = "champion",
    store: StoreOption = "./.bakeoff",
    host: Annotated[str, typer.Option(help="Address the MLflow scoring server listens on (mlflow).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Its port (mlflow).")] = 5000,
    artifacts_destination: Annotated[Optional[str], typer.Option(envvar="MLFLOW_ARTIFACTS_DESTINATION", help="The MLflow server's --artifacts-destination (s3://…), when it proxies artifacts (kserve).")] = None,
    image: Annotated[Optional[str], typer.Option(help="Serving image with MLServer's MLflow runtime and bakeoff (kserve; default: the run's kfp.image).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write the InferenceService YAML here instead of stdout (kserve).")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Create or update the InferenceService in the cluster (kserve).")] = False,
    namespace: Annotated[Optional[str], typer.Option("--namespace", help="Namespace of the InferenceService (kserve; default: the kube context's).")] = None,
    context: ContextOption = None,
) -> None:
    """Serve a registered champion: print the exact `mlflow models serve` command, or write (and
    with --apply, apply) a KServe InferenceService for it. Set MLFLOW_TRACKING_URI."""
    import shlex

    import yaml

    from bakeoff import deploy as serving
    from bakeoff.spec import KfpSettings
    from bakeoff.storage import open_store

    target = serving.resolve(ref, alias, open_store(store))
    if to is DeployTarget.mlflow:
        typer.echo(shlex.join(serving.serve_command(target, host, port)))
        return
    kfp = target.config.kfp if target.config else KfpSettings()
    manifest = serving.inference_service(target, serving.storage_uri(target.artifacts, artifacts_destination),
                                         image or kfp.image, namespace)
    text = yaml.safe_dump(manifest, sort_keys=False)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}: InferenceService {manifest['metadata']['name']} for {target.model_uri}")
    elif not apply:
        typer.echo(text, nl=False)
    if apply:
        typer.echo(serving.apply(manifest, namespace, context))


@app.command()
def predict(
    ref: Annotated[str, typer.Argument(metavar="RUN|NAME@ALIAS", help="A run's champion from --store (id, prefix, 'latest' or run URI), or a registered version from MLflow (MLFLOW_TRACKING_URI).")],
    input_uri: Annotated[str, typer.Option("--input", "-i", help="Rows to score with their raw feature columns: .csv or .parquet, a path or s3://.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Where to write the predictions: .parquet, a path or s3://.")],
    store: StoreOption = "./.bakeoff",
) -> None:
    """Score a file with a champion: one row of predictions (and class probabilities) per input row."""
    from bakeoff.deploy import champion_pipeline
    from bakeoff.predict import predict_file
    from bakeoff.progress import RowsProgress
    from bakeoff.storage import open_store

    pipeline = champion_pipeline(ref, open_store(store))
    with RowsProgress(_console(stderr=True)) as show:
        rows = predict_file(pipeline, input_uri, output, show)
    typer.echo(f"wrote {output}: predictions for {rows} rows")


@app.command()
def doctor(
    config: Annotated[Optional[Path], typer.Argument(help="The experiment YAML: its store, Secret, image and MLflow are checked.")] = None,
    namespace: Annotated[Optional[str], typer.Option("--namespace", help="Check Kubernetes: this namespace, its Secret, and (--in-cluster) the image.")] = None,
    context: ContextOption = None,
    in_cluster: Annotated[bool, typer.Option("--in-cluster", help="Start a short-lived Job of the image that checks the store from inside the cluster.")] = False,
    kfp_host: Annotated[Optional[str], typer.Option("--kfp-host", envvar="KF_PIPELINES_ENDPOINT", help="Check Kubeflow Pipelines at this URL: reachable, and a supported version.")] = None,
    store: Annotated[Optional[str], typer.Option(help="The store to check (default: the config's storage).")] = None,
    store_only: Annotated[bool, typer.Option("--store-only", hidden=True, help="Only the store: what the in-cluster pod checks.")] = False,
    start_timeout: Annotated[float, typer.Option(min=1, help="Seconds the --in-cluster check's pod may wait to start (image pull, scheduling).")] = 60,
) -> None:
    """Check that everything a run needs is there, one line per check with the fix; exit 2 if not.

    Always: the store (reachable, its bucket there) and MLflow when tracking is set. With
    --namespace or --context: the kube context and namespace, the S3 Secret and its two keys
    (names only), and with --in-cluster the image and the store as a pod sees them. With
    --kfp-host: Kubeflow Pipelines, and that its version is supported.
    """
    from bakeoff import doctor as checks
    from bakeoff.spec import anchored, load_config

    exp = anchored(load_config(config), config.resolve().parent) if config else None
    found = checks.store_checks(exp, store)
    if not store_only:
        if namespace or context or in_cluster:
            found += checks.kubernetes_checks(exp, namespace, context, start_timeout, in_cluster=in_cluster)
        else:
            found.append(checks.Check("kubernetes", "skipped", "pass --namespace (and --context) to check a cluster"))
        found += checks.kfp_checks(kfp_host) + checks.mlflow_checks(exp)
    from rich.markup import escape

    marks = {"ok": "[green]ok[/]     ", "failed": "[red]failed[/] ", "skipped": "[dim]skipped[/]"}
    console = _console()
    for check in found:
        console.print(f"{marks[check.status]} {check.name}: {escape(check.detail)}", markup=True, highlight=False,
                      soft_wrap=True)  # one line per check, whatever the width
    if any(c.status == "failed" for c in found):
        raise typer.Exit(2)


@app.command()
def ui(
    config: Annotated[Optional[Path], typer.Argument(help="An experiment YAML to open; a new path is written on save.")] = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port on 127.0.0.1.")] = 8501,
) -> None:
    """Build, validate, run and compare experiments in a browser (a Streamlit app on localhost)."""
    import importlib.util
    import signal
    import subprocess

    from bakeoff.ui import APP

    if importlib.util.find_spec("streamlit") is None:
        raise UserError("bakeoff ui: Streamlit is not installed; pip install 'bakeoff[ui]'")
    typer.echo(f"bakeoff ui: http://127.0.0.1:{port}  (Ctrl+C stops it)")
    server = subprocess.Popen([
        sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
        "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal", "--", *([str(config.resolve())] if config else [])])
    # Stopping `bakeoff ui` must stop the server too, not leave it serving as an orphan.
    signal.signal(signal.SIGTERM, lambda *_: server.terminate())
    raise typer.Exit(server.wait())


def main() -> None:
    try:
        app()
    except UserError as exc:
        for line in exc.problems:
            print(f"error: {line}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:  # `bakeoff schema | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)


# -- Kubeflow Pipelines: the logic lives in bakeoff.kfp -----------------------------------------

HostOption = Annotated[Optional[str], typer.Option(
    "--host", envvar="KF_PIPELINES_ENDPOINT", help="Kubeflow Pipelines URL, such as http://localhost:8080.")]
TokenOption = Annotated[Optional[str], typer.Option(
    "--token", envvar="KF_PIPELINES_TOKEN", show_envvar=True,
    help="Bearer token (in a pod: KF_PIPELINES_SA_TOKEN_PATH names a token file instead).")]
CookieOption = Annotated[Optional[str], typer.Option(
    "--cookie", envvar="KF_PIPELINES_COOKIE", help="Session cookie: oauth2_proxy_kubeflow=… (Kubeflow 1.9 and newer) or authservice_session=… (before).")]
NamespaceOption = Annotated[Optional[str], typer.Option(
    "--namespace", help="Profile namespace (multi-user Kubeflow).")]
ImageOption = Annotated[Optional[str], typer.Option(help="Image of every step (default: kfp.image).")]


@app.command("compile")
def compile_(
    config: Annotated[Optional[Path], typer.Argument(help="The experiment YAML; optional with --generic.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the pipeline.")] = Path("pipeline.yaml"),
    generic: Annotated[bool, typer.Option("--generic", help="One pipeline for any config: train fans out over the models prepare finds.")] = False,
    image: ImageOption = None,
    s3_endpoint: Annotated[Optional[str], typer.Option(help="S3 endpoint as pods see it (default: kfp.s3_endpoint).")] = None,
    secret_name: Annotated[Optional[str], typer.Option(help="Secret with the S3 credentials (default: kfp.secret_name).")] = None,
    access_key_field: Annotated[Optional[str], typer.Option(help="Key of the access key in that Secret.")] = None,
    secret_key_field: Annotated[Optional[str], typer.Option(help="Key of the secret key in that Secret.")] = None,
    parallelism: Annotated[Optional[int], typer.Option(min=1, help="Train pods at once (--generic).")] = None,
    plan: Annotated[bool, typer.Option("--plan", help="Show the CPUs each model's pod could ask for, from the estimated cost of its fit, and write nothing.")] = False,
) -> None:
    """Compile a Kubeflow pipeline (one pod per model), validate it, then write it."""
    from bakeoff.kfp.pipeline import compile_for

    if plan:
        from rich.table import Table

        from bakeoff.kfp.pipeline import resource_plan
        from bakeoff.spec import anchored, load_config

        if config is None:
            raise UserError("CONFIG: --plan needs the experiment YAML, to estimate its models on its data")
        rows = resource_plan(anchored(load_config(config), config.resolve().parent))
        table = Table(title="CPUs per train pod", caption="every model's pod runs at once on a cluster; "
                      "a long fit that uses threads is worth more than one CPU")
        for column in rows[0]:
            table.add_column(column, justify="right" if column in ("fit s on 1 cpu", "cpu", "expected s") else "left")
        for row in rows:
            table.add_row(*row.values())
        _console().print(table)
        return

    text, what, warning = compile_for(config, generic=generic, overrides={
        "image": image, "s3_endpoint": s3_endpoint, "secret_name": secret_name,
        "access_key_field": access_key_field, "secret_key_field": secret_key_field, "parallelism": parallelism})
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}: {what}")
    if warning:
        typer.echo(f"warning: {warning}", err=True)


@app.command()
def submit(
    config: Annotated[Path, typer.Argument(help="The experiment YAML file.")],
    host: HostOption = None,
    experiment: Annotated[Optional[str], typer.Option(help="KFP experiment (default: the config's experiment).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the run, then print its leaderboard.")] = False,
    timeout: Annotated[float, typer.Option(min=1, help="Seconds --wait waits at most.")] = 3600,
    store: Annotated[Optional[str], typer.Option(help="s3://bucket/prefix for the run (default: the config's storage).")] = None,
    image: ImageOption = None,
    parallel: ParallelOption = None,
    no_cache: NoCacheOption = False,
    token: TokenOption = None,
    cookie: CookieOption = None,
    namespace: NamespaceOption = None,
) -> None:
    """Run a bake-off on Kubeflow: upload config and data, publish the pipeline, start a run."""
    from bakeoff.kfp.client import connect
    from bakeoff.kfp.pipeline import with_overrides
    from bakeoff.runners.base import RunOptions
    from bakeoff.runners.cluster import KfpRunner
    from bakeoff.spec import anchored, load_config

    from bakeoff.runs import cluster_store

    exp = anchored(load_config(config), config.resolve().parent)
    exp = exp.model_copy(update={"kfp": with_overrides(exp.kfp, image=image)})
    cluster_store(exp, store)  # refused before connecting: pods cannot reach a folder here
    runner = KfpRunner(connect(host, token, cookie, namespace), store=store, experiment=experiment,
                       wait=timeout if wait else None)
    outcome = runner.run(exp, RunOptions(parallel, not no_cache))
    typer.echo(f"run {outcome.run.uri}\n{outcome.url}")
    if outcome.board is None:
        return
    err = _console(stderr=True)
    if outcome.state != "SUCCEEDED":
        err.print(f"[yellow]the Kubeflow run ended {outcome.state}[/]")
    _show_leaderboard(outcome.board, outcome.run.store.uri(outcome.run.key("report.html")), err)


@app.command()
def upload(
    pipeline: Annotated[Path, typer.Argument(help="A compiled pipeline YAML.")],
    name: Annotated[str, typer.Option(help="Pipeline name in Kubeflow.")],
    host: HostOption = None,
    description: Annotated[str, typer.Option(help="Pipeline description.")] = "",
    token: TokenOption = None,
    cookie: CookieOption = None,
    namespace: NamespaceOption = None,
) -> None:
    """Publish a pipeline as a version named by its content hash (the CI step); idempotent."""
    from bakeoff.kfp.client import connect
    from bakeoff.kfp.submit import read_package

    package = read_package(pipeline)
    version = connect(host, token, cookie, namespace).publish(name, package, description)
    typer.echo(f"{'uploaded' if version.created else 'unchanged'}: pipeline {name} ({version.pipeline_id}) "
               f"version {version.name} ({version.version_id})")

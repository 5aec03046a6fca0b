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
StoreOption = Annotated[str, typer.Option(
    "--store", envvar=STORE_ENV, help="Store root holding the runs: a folder or s3://bucket/prefix.")]


def _console(stderr: bool = False):  # noqa: ANN202 - rich is imported lazily to keep steps fast
    """A console that is wide enough for the leaderboard when output goes to a file or CI log."""
    from rich.console import Console

    console = Console(stderr=stderr)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(stderr=stderr, width=140)
    return console


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
def validate(config: Annotated[Path, typer.Argument(help="The experiment YAML file.")]) -> None:
    """Check a config without training anything: schema, estimators and their parameters."""
    from bakeoff.spec import load_config

    exp = load_config(config)
    typer.echo(f"{config}: ok · experiment {exp.experiment} · {len(exp.models)} models "
               f"({', '.join(exp.model_names)})")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the config, for editor autocomplete (yaml-language-server)."""
    from bakeoff.spec import json_schema

    typer.echo(json.dumps(json_schema(), indent=2))


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="The experiment YAML file.")],
    parallel: Annotated[Optional[int], typer.Option(min=1, help="Models at once (default: runtime.parallel, else usable CPUs).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Retrain every model even if an identical result exists.")] = False,
) -> None:
    """Run a bake-off on this machine: prepare the data, train every model in parallel, rank them."""
    from bakeoff.runners.local import run_local
    from bakeoff.spec import anchored, load_config

    exp = anchored(load_config(config), config.resolve().parent)
    err = _console(stderr=True)
    run_, board = run_local(exp, parallel=parallel, use_cache=not no_cache, console=err)
    _console().print(board)
    err.print(f"[dim]report: {run_.store.uri(run_.key('report.html'))}[/]")
    failed = [r.model for r in board.rows if r.status != "ok"]
    if failed:
        err.print(f"[red]{len(failed)} model(s) failed: {', '.join(failed)}[/]")
    if len(failed) == len(board.rows):
        raise typer.Exit(1)


class StepName(str, Enum):
    prepare = "prepare"
    train = "train"
    compare = "compare"


@app.command()
def step(
    name: Annotated[StepName, typer.Argument(help="Which step to run.")],
    run_uri: Annotated[str, typer.Option("--run-uri", help="<store>/runs/<run_id>; the step reads its config there.")],
    model: Annotated[Optional[str], typer.Option(help="The model to train (train only).")] = None,
    threads: Annotated[Optional[int], typer.Option(min=1, help="Thread budget (train; default: usable CPUs of this container).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Train even if an identical result exists (train).")] = False,
    fingerprint: Annotated[Optional[str], typer.Option(help="Expected data fingerprint (train; KFP cache key).")] = None,
    config_digest: Annotated[Optional[str], typer.Option(help="Expected config digest (train; KFP cache key).")] = None,
) -> None:
    """Run one step of a run. This is the contract container images and KFP components call."""
    from bakeoff import steps

    if name is StepName.prepare:
        p = steps.prepare(run_uri)
        typer.echo(json.dumps({"fingerprint": p.fingerprint, "config_digest": p.config_digest,
                               "models": p.models, "reused": p.reused}))
    elif name is StepName.train:
        if not model:
            raise UserError("--model: required by `bakeoff step train`; name one of the config's models")
        result = steps.train(run_uri, model, threads=threads, use_cache=not no_cache,
                             fingerprint=fingerprint, config_digest=config_digest)
        typer.echo(json.dumps({k: result.get(k) for k in ("model", "status", "error", "metrics", "cached_from")}))
        if result["status"] != "ok":
            raise typer.Exit(1)
    else:
        _console().print(steps.compare(run_uri))


class Format(str, Enum):
    table = "table"
    md = "md"
    html = "html"
    json = "json"


@app.command()
def report(
    run_ref: Annotated[str, typer.Argument(metavar="RUN", help="A run id, a unique prefix of one, 'latest', or a run URI.")] = "latest",
    store: StoreOption = "./.bakeoff",
    fmt: Annotated[Format, typer.Option("--format", help="How to print it.")] = Format.table,
) -> None:
    """Reprint the leaderboard of a past run."""
    from bakeoff.leaderboard import Leaderboard
    from bakeoff.runs import find_run
    from bakeoff.storage import MissingObject, open_store

    found = find_run(open_store(store), run_ref)
    try:
        data = found.read_json("leaderboard.json")
    except MissingObject:
        raise UserError(f"RUN: run {found.run_id} has no leaderboard yet; run "
                        f"`bakeoff step compare --run-uri {found.uri}`") from None
    if fmt is Format.json:
        typer.echo(json.dumps(data, indent=2))
    elif fmt is Format.table:
        _console().print(Leaderboard.from_dict(data))
    else:
        typer.echo(found.store.read_bytes(found.key(f"report.{fmt.value}")).decode(), nl=False)


@app.command()
def runs(store: StoreOption = "./.bakeoff") -> None:
    """List past runs in a store, newest last, with their leader."""
    from rich.table import Table

    from bakeoff.runs import Run, run_ids
    from bakeoff.storage import MissingObject, open_store

    opened = open_store(store)
    table = Table(title=f"runs in {opened.root}")
    for col in ("run", "experiment", "models", "leader", "score"):
        table.add_column(col)
    for run_id in run_ids(opened):
        r = Run(opened, run_id)
        try:
            board = r.read_json("leaderboard.json")
        except MissingObject:
            table.add_row(run_id, "", "", "[yellow]unfinished[/]", "")
            continue
        leader = next((row for row in board["rows"] if row["rank"] == 1), None)
        table.add_row(run_id, board["experiment"], str(len(board["rows"])),
                      leader["model"] if leader else "[red]none[/]",
                      f"{board['primary']} {leader['primary']:.4f}" if leader else "")
    _console().print(table)


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

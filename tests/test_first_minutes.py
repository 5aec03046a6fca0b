"""A newcomer's first commands: runs, report and compare find the store as `run` does and say
where they looked; cluster commands refuse or warn on a store pods cannot reach; every runner
honours an option or refuses it in one line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from conftest import ExampleRun, bakeoff


@pytest.fixture(scope="module")
def demo(example_run: Callable[[str], ExampleRun], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """As `make demo` leaves it: <root>/demo/bakeoff.yaml, run once, its store demo/.bakeoff (a
    copy of the session's breast-cancer run: the last test here runs it again)."""
    ran = example_run("breast-cancer")
    folder = tmp_path_factory.mktemp("root") / "demo"
    ran.copy_to(folder)
    (folder / "run.out").write_text(ran.stdout)
    (folder / "run.err").write_text(ran.stderr)
    return folder


@pytest.mark.slow
def test_times_say_what_they_measure(demo: Path) -> None:
    live, board = (demo / "run.err").read_text(), " ".join((demo / "run.out").read_text().split())
    assert "wall s incl. start" in live  # the live table's header
    assert "wall s incl. start: since the model's process started, its start-up included" in " ".join(live.split())
    assert "fit s: the fit alone (a search: all its trials), without process start-up" in board


def _one_line_error(result, start: str) -> str:  # noqa: ANN001
    assert result.code == 2 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith(f"error: {start}"), result.stderr
    return result.stderr


@pytest.mark.slow
def test_runs_report_and_compare_use_the_store_of_the_config_here(demo: Path) -> None:
    [run_id] = [p.name for p in (demo / ".bakeoff" / "runs").iterdir()]
    listed = bakeoff("runs", cwd=demo)
    assert listed.code == 0 and run_id in listed.stdout and f"runs in {(demo / '.bakeoff').as_uri()}" in listed.stdout
    assert bakeoff("report", cwd=demo).stdout.count(f"run {run_id}") == 1  # the board's title
    compared = bakeoff("compare", run_id, "latest", cwd=demo)
    assert compared.code == 0 and compared.stdout.count(run_id) >= 2
    # a config whose storage is elsewhere: its store is used, not ./.bakeoff
    elsewhere = demo.parent / "elsewhere"
    elsewhere.mkdir()
    config = yaml.safe_load((demo / "bakeoff.yaml").read_text())
    (elsewhere / "bakeoff.yaml").write_text(yaml.safe_dump({**config, "storage": "../demo/.bakeoff"}))
    assert run_id in bakeoff("runs", cwd=elsewhere).stdout


@pytest.mark.slow
def test_an_empty_store_says_where_it_looked_and_names_the_stores_below(demo: Path) -> None:
    root = demo.parent
    for command in (["runs"], ["report"], ["compare", "a", "b"]):
        said = _one_line_error(bakeoff(*command, cwd=root), "no runs in ")
        assert f"{(root / '.bakeoff').as_uri()} (the default; there is no ./bakeoff.yaml here)" in said
        assert "--store PATH or BAKEOFF_STORE=PATH" in said and "--store demo/.bakeoff" in said
    named = bakeoff("runs", cwd=root, env={"BAKEOFF_STORE": str(root / "nothing")})
    assert "(from BAKEOFF_STORE)" in _one_line_error(named, "no runs in ")
    assert "demo" in bakeoff("runs", "--store", "demo/.bakeoff", cwd=root).stdout


def test_compile_warns_and_submit_refuses_a_store_pods_cannot_reach(project, tmp_path: Path) -> None:  # noqa: ANN001
    config = project("breast-cancer")
    compiled = bakeoff("compile", str(config), "-o", str(tmp_path / "p.yaml"))
    assert compiled.code == 0 and (tmp_path / "p.yaml").is_file()
    assert compiled.stderr.startswith("warning: storage: 'file://./.bakeoff' is a folder on this machine")
    assert "s3://BUCKET/PREFIX" in compiled.stderr
    # refused before it connects: the host below answers nothing
    refused = bakeoff("submit", str(config), "--host", "http://127.0.0.1:9")
    assert "storage: 'file://" in _one_line_error(refused, "storage: ") and "s3://BUCKET/PREFIX" in refused.stderr
    config.write_text(config.read_text().replace("storage: file://./.bakeoff", "storage: s3://bucket/prefix"))
    assert bakeoff("compile", str(config), "-o", str(tmp_path / "q.yaml")).stderr == ""


@pytest.mark.parametrize(("flags", "start"), [
    (["--runner", "kfp-docker", "--parallel", "2"], "--parallel: kfp.local runs a pipeline's tasks one at a time"),
    (["--runner", "kfp-docker", "--plan"], "--plan: only the local runner plans"),
    (["--namespace", "x"], "--namespace: only the k8s runner takes it"),
    (["--detach", "--store", "s3://b/p"], "--detach, --store: only the k8s runner takes them"),
])
def test_an_option_a_runner_cannot_honour_is_refused_in_one_line(project, flags: list[str], start: str) -> None:  # noqa: ANN001
    config = project("wine")
    _one_line_error(bakeoff("run", str(config), *flags, cwd=config.parent), start)
    assert not (config.parent / ".bakeoff" / "runs").exists()


@pytest.mark.slow
def test_reading_commands_import_no_heavy_library(demo: Path) -> None:
    """What keeps runs, report and validate under half a second (bench/startup_bench.py times them)."""
    import json
    import subprocess
    import sys

    def imported(*args: str) -> list[str]:
        code = ("import atexit, json, sys\natexit.register(lambda: print(json.dumps(sorted({m.split('.')[0] for m in "
                "sys.modules} & {'sklearn', 'scipy', 'pandas', 'pyarrow', 'numpy'})), file=sys.stderr))\n"
                f"sys.argv = ['bakeoff', *{list(args)!r}]\nfrom bakeoff.cli import main\nmain()")
        done = subprocess.run([sys.executable, "-c", code], cwd=demo, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stderr.strip().splitlines()[-1])

    assert imported("runs") == [] and imported("report") == []
    assert imported("validate", "bakeoff.yaml") == []  # no estimator, no pandas, no numpy


@pytest.mark.slow
def test_a_run_served_from_cache_leaves_nothing_holding_its_output(demo: Path) -> None:
    """The forkserver starts first thing and imports for a second or two; a run that needs no
    model must stop it, or a pipe reading the run's output (a CI log, `| tee`) stays open until
    those imports end, long after `bakeoff run` itself has exited."""
    import os
    import select
    import subprocess
    import time

    from conftest import BIN

    proc = subprocess.Popen([str(BIN / "bakeoff"), "run", "bakeoff.yaml"], cwd=demo, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "200"})
    try:
        assert proc.wait(timeout=120) == 0
        output, fd, deadline = b"", proc.stdout.fileno(), time.monotonic() + 0.5
        while time.monotonic() < deadline:  # bounded: what is left, then EOF once every writer is gone
            if select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                output += chunk
        else:
            pytest.fail("half a second after `bakeoff run` ended, a process it started still holds its output")
        assert b"cached" in output
    finally:
        proc.kill()
        proc.stdout.close()

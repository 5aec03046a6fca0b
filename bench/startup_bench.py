"""How long the commands that should answer at once take: whole processes, start-up included.

    .venv/bin/python bench/startup_bench.py [--repeats 9]

In a scratch folder holding the quickstart (`bakeoff init --example breast-cancer`) and one
finished run of it, each command below runs ``--repeats`` times after one untimed warm-up (which
builds the estimator index once per scikit-learn version, as any first use does). Reported per
command: the median wall time, the median CPU time of the process (user + system: on a shared
machine the wall time also counts waiting for a core), and which heavy libraries it imported
(``python -X importtime``). Targets: validate, runs and report <= 0.5 s; re-running the unchanged
quickstart, everything served from cache, <= 1.0 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "startup"
BIN = Path(sys.executable).parent
HEAVY = ("sklearn", "scipy", "pandas", "pyarrow", "numpy", "kfp", "mlflow")
COMMANDS = {  # name: (arguments, target seconds)
    "validate": (["validate", "bakeoff.yaml"], 0.5),
    "validate --offline": (["validate", "--offline", "bakeoff.yaml"], 0.5),
    "runs": (["runs"], 0.5),
    "report": (["report"], 0.5),
    # last: each adds a run to the store. Every model and the prepared data are reused.
    "run (all cached)": (["run", "bakeoff.yaml"], 1.0),
}


def timed(args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one whole `bakeoff` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([str(BIN / "bakeoff"), *args], cwd=cwd, check=True, capture_output=True,
                   env={**os.environ, "COLUMNS": "120"})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def heavy_imports(args: list[str], cwd: Path) -> list[str]:
    """The heavy top-level packages the command imported."""
    code = f"import sys; sys.argv = ['bakeoff', *{args!r}]; from bakeoff.cli import main; main()"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "120"})
    found = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in done.stderr.splitlines()
             if line.startswith("import time:")}
    return sorted(found & set(HEAVY))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    subprocess.run([str(BIN / "bakeoff"), "init", "--example", "breast-cancer", "--dir", str(OUT)],
                   check=True, capture_output=True)
    subprocess.run([str(BIN / "bakeoff"), "run", "bakeoff.yaml"], cwd=OUT, check=True, capture_output=True)

    figures = {}
    for name, (command, target) in COMMANDS.items():
        timed(command, OUT)  # warm-up: the estimator index, the OS's file cache
        runs = [timed(command, OUT) for _ in range(args.repeats)]
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        figures[name] = {"wall_median_s": round(wall, 3), "cpu_median_s": round(cpu, 3), "target_s": target,
                         "wall_all_s": [round(w, 3) for w, _ in runs], "heavy_imports": heavy_imports(command, OUT)}
        print(f"bakeoff {name:<20} wall {wall:5.2f} s  cpu {cpu:5.2f} s  (target <= {target} s)  "
              f"imports {', '.join(figures[name]['heavy_imports']) or 'none of ' + '/'.join(HEAVY)}", file=sys.stderr)
    summary = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"), "repeats": args.repeats,
               "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} "
                          f"{platform.python_version()}",
               "load_average_1m": os.getloadavg()[0], "commands": figures}
    (OUT / "startup.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

"""`make demo` from a clean clone, as a newcomer runs it: the install, then the rest.

    .venv/bin/python bench/demo_bench.py

The committed HEAD is cloned into a scratch folder; there `make .venv/.demo-installed` (a new
venv with the project and its run-time dependencies, from pip's cache) and then `make demo` (the
example written and run, the next commands printed) are timed as whole processes. The load
average is printed with them: on a shared machine the wall time also counts waiting for a core.
Target: the whole `make demo` under a minute on a warm package cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out" / "demo.json"


def timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bakeoff-demo-bench-") as scratch:
        clone = Path(scratch) / "bakeoff"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        load_before = os.getloadavg()[0]
        install = timed(["make", ".venv/.demo-installed"], clone)
        rest = timed(["make", "demo"], clone)
        said = (clone / "demo" / "bakeoff.yaml").is_file() and any((clone / "demo" / ".bakeoff" / "runs").iterdir())
    figures = {"when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "install_s": round(install, 1), "init_run_and_next_steps_s": round(rest, 1),
               "make_demo_s": round(install + rest, 1), "finished_a_run": said,
               "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)], "cpus": os.cpu_count()}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2), file=sys.stderr)


if __name__ == "__main__":
    main()

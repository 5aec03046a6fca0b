"""`bakeoff compile` of big configs: wall time of the whole command, and what it wrote.

    .venv/bin/python bench/compile_bench.py [--repeats 3]

For each size, a config of that many LogisticRegression models is compiled by the installed
`bakeoff` command, as CI would; the median of the repeats is reported, with the form chosen
(one task per model, or loops) and the estimated size of the Argo Workflow the backend makes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "compile"
BIN = Path(sys.executable).parent
SIZES = (4, 120, 200, 1000)


def config(models: int) -> Path:
    sys.path.insert(0, str(HERE.parent / "src"))
    from bakeoff.examples import config_text

    data = yaml.safe_load(config_text("breast-cancer"))
    data["models"] = [{"name": f"model-{i}", "estimator": "LogisticRegression", "params": {"C": 1.0 + i}}
                      for i in range(models)]
    path = OUT / f"models-{models}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    from bakeoff.kfp.pipeline import text_bytes

    figures = {}
    for models in SIZES:
        source, target = config(models), OUT / f"pipeline-{models}.yaml"
        seconds, said = [], ""
        for _ in range(args.repeats):
            start = time.perf_counter()
            done = subprocess.run([str(BIN / "bakeoff"), "compile", str(source), "-o", str(target)],
                                  check=True, capture_output=True, text=True)
            seconds.append(time.perf_counter() - start)
            said = done.stdout.strip()
        text = target.read_text()
        figures[models] = {"seconds_median": statistics.median(seconds), "loops": "loop(s)" in said,
                           "yaml_kib": len(text.encode()) / 1024, "workflow_kib": text_bytes(text) / 1024}
        print(f"{models} models: {figures[models]}", file=sys.stderr)
    print(json.dumps(figures, indent=2))
    (OUT / "figures.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

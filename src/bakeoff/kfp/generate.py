"""Regenerate the committed KFP files, or check that they match the code.

    python -m bakeoff.kfp.generate           # rewrite components/ and pipelines/
    python -m bakeoff.kfp.generate --check   # exit 1 and name each file that drifted

``components/<step>/component.yaml`` holds each step on its own, for reuse in other pipelines.
``pipelines/<example>.yaml`` holds the per-model pipeline of each bundled example, and
``pipelines/generic.yaml`` holds the pipeline for any config. All of them use the default settings.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REGENERATE = "python -m bakeoff.kfp.generate"


def generated() -> dict[str, str]:
    """Every committed KFP file, by its path relative to the repository root."""
    from bakeoff.examples import EXAMPLES, config_text
    from bakeoff.kfp.pipeline import compile_components, compile_experiment, compile_generic
    from bakeoff.spec import KfpSettings, parse_yaml

    settings = KfpSettings()
    files = {f"components/{step}/component.yaml": text
             for step, text in compile_components(settings.image).items()}
    files |= {f"pipelines/{name}.yaml": compile_experiment(parse_yaml(config_text(name), name)).text
              for name in EXAMPLES}
    files["pipelines/generic.yaml"] = compile_generic(settings)
    return files


def drifted(root: Path, files: dict[str, str]) -> list[str]:
    """The files under ``root`` that are missing or differ from ``files``."""
    return [rel for rel, text in files.items()
            if not (root / rel).is_file() or (root / rel).read_text(encoding="utf-8") != text]


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=REGENERATE, description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="the repository root")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on drift")
    args = parser.parse_args(argv)
    files = generated()
    stale = drifted(args.root, files)
    if args.check:
        for rel in stale:
            print(f"drift: {rel} differs from the code; run `{REGENERATE}`", file=sys.stderr)
        return 1 if stale else 0
    write(args.root, files)
    print(f"wrote {len(files)} files ({len(stale)} changed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

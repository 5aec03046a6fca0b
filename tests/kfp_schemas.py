"""Each supported Kubeflow Pipelines backend's own protobuf schemas, for strict decoding in tests.

A KFP backend decodes what bakeoff sends with the protos compiled into it, and strictly:
* the API server, on upload, parses ``PipelineSpec`` and ``PlatformSpec`` with plain
  ``protojson.Unmarshal`` (backend/src/apiserver/template/v2_template.go, ``NewV2SpecTemplate``);
* from 2.14 it also decodes every executor's Kubernetes config into ``KubernetesExecutorConfig``
  when it compiles a run, and fails the run ("Failed to compile job") on an unknown field
  (backend/src/v2/compiler/argocompiler/container.go). 2.5 decodes it too, ignores the error and
  drops the pod's labels and annotations instead;
* the launcher parses the executor output file into ``ExecutorOutput`` with plain
  ``protojson.Unmarshal`` (backend/src/v2/component/launcher_v2.go, ``getExecutorOutputFile``).

The same protos ship on PyPI as kfp-pipeline-spec and kfp-kubernetes. The versions below are the
ones whose messages match the .proto files at each backend tag field for field (compared at tags
2.5.0, 2.14.0-4, 2.15.0, 2.16.0-1 and 2.17.0). No kfp-pipeline-spec matches 2.5.0 exactly: 0.6.0
lacks three ``PipelineConfig`` fields of 2.5.0 that bakeoff never writes, so it is only stricter.

Lines cannot share one process: their modules have the same names and register the same proto
files in protobuf's default pool. So each line gets a folder holding just its two ``_pb2``
modules (with empty package markers that shadow the installed kfp), fetched once from PyPI into
the user's cache, and decodes in a subprocess of its own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bakeoff.kfp.backends import TESTED_LINES


@dataclass(frozen=True)
class Line:
    backend: str  # the backend release these schemas are checked against
    pipeline_spec: str  # kfp-pipeline-spec version
    kubernetes: str  # kfp-kubernetes version

    @property
    def strict_executor_configs(self) -> bool:
        """Whether run creation fails on an executor config its schema cannot decode."""
        return tuple(map(int, self.backend.split(".")[:2])) >= (2, 14)


LINES = {
    "2.5": Line("2.5.0", "0.6.0", "1.5.0"),
    "2.14": Line("2.14.4", "2.14.6", "2.14.6"),
    "2.15": Line("2.15.0", "2.15.2", "2.15.2"),
    "2.16": Line("2.16.1", "2.16.1", "2.16.1"),
    "2.17": Line("2.17.0", "2.17.3", "2.17.3"),
}
assert tuple(LINES) == TESTED_LINES, "the tested lines and bakeoff.kfp.backends must agree"

MODULES = {"kfp-pipeline-spec": "kfp/pipeline_spec/pipeline_spec_pb2.py",
           "kfp-kubernetes": "kfp/kubernetes/kubernetes_executor_config_pb2.py"}


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "bakeoff-tests" / "kfp-schemas"


def _extract(archive: Path, member_suffix: str, target: Path) -> None:
    """Copy the one module out of a wheel or an sdist (kfp-kubernetes 1.5.0 has no wheel)."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            name = next(n for n in z.namelist() if n.endswith(member_suffix))
            target.write_bytes(z.read(name))
        return
    with tarfile.open(archive) as t:
        member = next(m for m in t.getmembers() if m.name.endswith(member_suffix))
        target.write_bytes(t.extractfile(member).read())  # type: ignore[union-attr]


def install(line: str) -> Path:
    """The folder of ``line``'s schema modules, downloaded on first use (pip, no dependencies)."""
    folder = cache_root() / line
    if (folder / "ready").is_file():
        return folder
    spec = LINES[line]
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{line}-"))
    try:
        for package, version in (("kfp-pipeline-spec", spec.pipeline_spec), ("kfp-kubernetes", spec.kubernetes)):
            downloads = staging / "downloads" / package
            subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                            "--dest", str(downloads), f"{package}=={version}"],
                           check=True, capture_output=True, timeout=300)
            module = staging / MODULES[package]
            module.parent.mkdir(parents=True, exist_ok=True)
            _extract(next(downloads.iterdir()), MODULES[package], module)
        for package_dir in ("kfp", "kfp/pipeline_spec", "kfp/kubernetes"):
            (staging / package_dir / "__init__.py").touch()
        shutil.rmtree(staging / "downloads")
        (staging / "ready").write_text(json.dumps(spec.__dict__))
        if folder.exists():  # another process finished first
            shutil.rmtree(staging)
        else:
            staging.rename(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


# Runs inside a line's folder: strict decoding as the backend does, one message per check.
DECODER = r"""
import json, sys
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2 as spec_pb2
from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s_pb2

def strict(doc, message):
    try:
        json_format.ParseDict(doc, message)  # no ignore_unknown_fields: protojson.Unmarshal
        return None
    except json_format.ParseError as exc:
        return str(exc).splitlines()[0]

request = json.load(sys.stdin)
errors = {}
for name, (kind, doc) in request.items():
    message = {"pipeline_spec": spec_pb2.PipelineSpec, "platform_spec": spec_pb2.PlatformSpec,
               "executor_config": k8s_pb2.KubernetesExecutorConfig,
               "executor_output": spec_pb2.ExecutorOutput}[kind]()
    errors[name] = strict(doc, message)
json.dump(errors, sys.stdout)
"""


def decode(line: str, checks: dict[str, tuple[str, Any]]) -> dict[str, str | None]:
    """Strictly decode each ``name: (kind, document)`` with ``line``'s schemas; None means it
    decoded. Kinds: pipeline_spec, platform_spec, executor_config, executor_output."""
    folder = install(line)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(folder)
    proc = subprocess.run([sys.executable, "-c", DECODER], input=json.dumps(checks), env=env,
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"the {line} decoder failed: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout)


def pipeline_checks(package: str) -> dict[str, tuple[str, Any]]:
    """What a backend decodes of a compiled pipeline: the spec, the platform spec, and each
    executor's Kubernetes config."""
    import yaml

    docs = [d for d in yaml.safe_load_all(package) if d]
    checks: dict[str, tuple[str, Any]] = {"pipeline_spec": ("pipeline_spec", docs[0])}
    if len(docs) > 1:
        checks["platform_spec"] = ("platform_spec", docs[1])
        executors = docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
        checks |= {f"executor {label}": ("executor_config", config) for label, config in executors.items()}
    return checks


@cache
def problems(line: str, package: str) -> dict[str, str]:
    """Every part of ``package`` that ``line``'s backend would refuse, with the decoder's reason."""
    return {name: error for name, error in decode(line, pipeline_checks(package)).items() if error}

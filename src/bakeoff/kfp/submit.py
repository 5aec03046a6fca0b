"""`bakeoff submit` and `bakeoff upload`: from a laptop or from CI to a Kubeflow cluster.

Submit puts everything a pod needs into the store first: the dataset, when it is a local file,
and the run's config.yaml. Only then does it start a KFP run, which gets nothing but the run URI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bakeoff.errors import UserError
from bakeoff.kfp.client import KfpClient, Version
from bakeoff.runs import Run, create_cluster_run
from bakeoff.spec import Experiment


@dataclass(frozen=True)
class Submitted:
    run: Run  # where the steps write: <store>/runs/<run_id>
    kfp_run_id: str
    url: str
    version: Version


def submit(exp: Experiment, client: KfpClient, package: str, *, store: str | None = None,
           experiment: str | None = None) -> Submitted:
    """Stage the run, publish the compiled ``package`` (a no-op when unchanged) and start one KFP run."""
    from bakeoff.kfp.pipeline import pipeline_name

    run = create_cluster_run(exp, store)
    version = client.publish(pipeline_name(exp), package,
                             description=f"bakeoff {exp.experiment}: {', '.join(exp.model_names)}")
    experiment_id = client.ensure_experiment(experiment or exp.experiment)
    kfp_run_id = client.start_run(f"{exp.experiment} {run.run_id}", experiment_id, version,
                                  {"run_uri": run.uri})
    return Submitted(run, kfp_run_id, client.run_url(kfp_run_id), version)


def read_package(path: Path) -> str:
    """A pipeline file to upload, validated first: a broken file never reaches the cluster."""
    from bakeoff.kfp.validate import InvalidPipeline, validate

    if not path.is_file():
        raise UserError(f"{path}: no such file; compile one with `bakeoff compile`")
    package = path.read_text(encoding="utf-8")
    try:
        validate(package)
    except InvalidPipeline as exc:
        raise UserError(f"{path}: not a valid KFP pipeline: {exc}") from None
    return package

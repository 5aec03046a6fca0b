"""Checks that a compiled pipeline or component is what KFP will accept, and holds no secret.

The IR is parsed with the protos KFP's backend itself uses (``kfp-pipeline-spec``):
``PipelineSpec`` for the pipeline, ``PlatformSpec`` for the Kubernetes section, and
``KubernetesExecutorConfig`` (``kfp-kubernetes``) for each executor in that section. The result
must then load back as a component. These are the checks a KFP API server makes on upload.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from bakeoff.errors import UserError
from bakeoff.storage import SECRET_ENV as S3_SECRET_ENV

# Values that must never reach a compiled file, whatever the compiling process has in its env.
SECRET_ENV = (*S3_SECRET_ENV, "KF_PIPELINES_TOKEN")
MIN_SECRET_LENGTH = 4  # shorter values would match by accident


class InvalidPipeline(Exception):
    """The text is not a valid KFP pipeline or component."""


def validate(text: str) -> None:
    from google.protobuf import json_format
    from kfp.components import load_component_from_file
    from kfp.kubernetes import kubernetes_executor_config_pb2 as k8s_pb2
    from kfp.pipeline_spec import pipeline_spec_pb2

    try:
        docs = [d for d in yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
                if d is not None]
    except yaml.YAMLError as exc:
        raise InvalidPipeline(f"not YAML ({exc})".splitlines()[0]) from None
    if not docs or not isinstance(docs[0], dict) or "pipelineInfo" not in docs[0]:
        raise InvalidPipeline("not KFP IR: no pipelineInfo; compile it with `bakeoff compile`")
    try:
        json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec())
        for doc in docs[1:]:
            platform = json_format.ParseDict(doc, pipeline_spec_pb2.PlatformSpec())
            for name, spec in platform.platforms.items():
                if name != "kubernetes":
                    raise InvalidPipeline(f"unknown platform {name!r}; only kubernetes is used")
                for executor in spec.deployment_spec.executors.values():
                    json_format.ParseDict(json_format.MessageToDict(executor),
                                          k8s_pb2.KubernetesExecutorConfig())
    except json_format.ParseError as exc:
        raise InvalidPipeline(str(exc).splitlines()[0]) from None
    with tempfile.TemporaryDirectory(prefix="bakeoff-validate-") as tmp:
        path = Path(tmp) / "pipeline.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            load_component_from_file(str(path))
        except Exception as exc:  # kfp raises many types for one cause: it is not a component
            raise InvalidPipeline(f"kfp cannot load it ({type(exc).__name__}: {exc})".splitlines()[0]) from None
    leaked = [name for name in SECRET_ENV
              if len(os.environ.get(name, "")) >= MIN_SECRET_LENGTH and os.environ[name] in text]
    if leaked:  # only a setting the user wrote can carry it there: their mistake, not ours
        raise UserError(f"kfp: the pipeline would hold the value of ${leaked[0]}; secrets belong in "
                        "the Kubernetes Secret (kfp.secret_name), never in a setting")

"""From the registry to a service: which registered version a RUN or NAME means, the exact
`mlflow models serve` command for it, and a KServe InferenceService for it.

The model served is the registered version itself (a pyfunc from code, see served_model.py), so
both targets answer with ``predict.predictions``. Building the objects is pure; only ``apply``
talks to a cluster. The InferenceService is checked offline against KServe's CRD schema by the
tests (tests/schemas/); no cluster runs there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from bakeoff.errors import UserError

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from bakeoff.runs import Run
    from bakeoff.spec import Experiment
    from bakeoff.storage import ObjectStore

KSERVE_GROUP, KSERVE_VERSION, KSERVE_PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
SERVING_ACCOUNT = "bakeoff-serving"  # manifests/components/kserve: it lists the S3 Secret for KServe
MLSERVER_PORT = 8080  # MLServer's HTTP port, where KServe's v2 protocol answers


@dataclass(frozen=True)
class Target:
    """One registered model version, and the bake-off that made it when the store has it."""

    name: str
    version: str
    artifacts: str  # where MLflow keeps its files: s3://… or mlflow-artifacts:/…
    config: Experiment | None  # the run's config: resources and the Secret's name
    model: str | None  # the champion's name in that config

    @property
    def model_uri(self) -> str:
        """Pinned to the version: a moved alias must not change what a running service loads."""
        return f"models:/{self.name}/{self.version}"


def resolve(ref: str, alias: str, store: ObjectStore) -> Target:
    """A run (id, prefix, ``latest`` or run URI in ``store``): the version its compare registered.
    Anything else: the registered model ``ref``, at ``alias``; its run's config is read when
    ``store`` holds that run (else the resources are ``kfp``'s defaults)."""
    from bakeoff.runs import Run
    from bakeoff.spec import TrackingSpec
    from bakeoff.tracking import registered_version

    run = _find(ref, store)
    if run is not None:
        registered = run.finished_leaderboard().registered
        if not registered:
            raise UserError(f"RUN: run {run.run_id} registered no champion; set tracking.register (and an "
                            "MLflow tracking URI) in its config and run it again")
        name = registered["registered_model"]
        found = registered_version(TrackingSpec(), name, version=registered["version"])
    else:
        name, found = ref, registered_version(TrackingSpec(), ref, alias)
        run = Run(store, found["run_id"]) if found["run_id"] else None
    try:
        config = run.config() if run else None
    except UserError:  # the run that registered it is in another store
        config = None
    return Target(name, found["version"], found["artifacts"], config, found["model"] or None)


def _find(ref: str, store: ObjectStore) -> Run | None:
    from bakeoff.runs import Run, find_run

    if "/runs/" in ref:
        return Run.from_uri(ref)
    try:
        return find_run(store, ref)
    except UserError:
        return None


def champion_pipeline(ref: str, store: ObjectStore) -> Pipeline:
    """The Pipeline `bakeoff predict` scores with: ``NAME@ALIAS`` (or ``models:/NAME@ALIAS``) from
    the MLflow registry, else the champion of a run in ``store``. Both load through skops with
    bakeoff's allowlist, never pickle."""
    from bakeoff.spec import TrackingSpec
    from bakeoff.tracking import load_registered

    if "@" in ref:
        name, _, alias = ref.removeprefix("models:/").rpartition("@")
        return load_registered(TrackingSpec(), name, alias)
    run = _find(ref, store)
    if run is None:
        raise UserError(f"RUN: no run {ref!r} in {store.root}; give a run id (`bakeoff runs`) or "
                        "NAME@ALIAS of a registered model")
    leader = run.finished_leaderboard().leader
    if leader is None:
        raise UserError(f"RUN: run {run.run_id} has no champion (no model succeeded)")
    return run.pipeline(leader.model)


def serve_command(target: Target, host: str = "127.0.0.1", port: int = 5000) -> list[str]:
    """MLflow's own scoring server for the version, in this Python environment (``local``: the
    served model imports bakeoff, which a fresh virtualenv would have to install)."""
    return ["mlflow", "models", "serve", "-m", target.model_uri, "--env-manager", "local",
            "--host", host, "--port", str(port)]


def storage_uri(artifacts: str, destination: str | None) -> str:
    """The S3 prefix KServe's storage initializer downloads. A server that proxies artifacts
    names them ``mlflow-artifacts:/<path>``, stored under its ``--artifacts-destination``."""
    parsed = urlparse(artifacts)
    if parsed.scheme == "s3":
        return artifacts
    if parsed.scheme != "mlflow-artifacts":
        raise UserError(f"--to kserve: the model's files are at {artifacts}; KServe reads them from S3 "
                        "here, so log to an MLflow server whose artifacts are in S3")
    if not destination:
        raise UserError(f"--artifacts-destination: MLflow proxies this model's files ({artifacts}); give "
                        "the server's --artifacts-destination (s3://…, MLFLOW_ARTIFACTS_DESTINATION in "
                        "the bakeoff-config ConfigMap)")
    if urlparse(destination).scheme != "s3":
        raise UserError(f"--artifacts-destination: {destination!r} is not s3://BUCKET/PREFIX")
    return f"{destination.rstrip('/')}/{parsed.path.lstrip('/')}"


def inference_service(target: Target, storage: str, image: str, namespace: str | None = None) -> dict[str, Any]:
    """A KServe InferenceService serving the version with KServe's MLflow format over the v2
    protocol. Resources are the champion's pod resources from the run's config (its own, over
    ``kfp.resources``); the image must hold MLServer's MLflow runtime and bakeoff (the served
    model's code imports it). Locked down as every bakeoff pod is."""
    from bakeoff.runners.k8s import dns_name, label_value
    from bakeoff.spec import KfpSettings

    config = target.config
    kfp = config.kfp if config else KfpSettings()
    resources = (config.model(target.model).placement(kfp.resources) if config and target.model
                 else kfp.placement())["resources"]
    metadata: dict[str, Any] = {
        "name": dns_name(target.name if target.name[:1].isalpha() else f"m-{target.name}"),
        "labels": {"app.kubernetes.io/part-of": "bakeoff", "bakeoff.registered-model": label_value(target.name),
                   "bakeoff.model-version": label_value(target.version)},
        "annotations": {"bakeoff.model-uri": target.model_uri},
    }
    if namespace:
        metadata["namespace"] = namespace
    health = {"ready": "/v2/health/ready", "live": "/v2/health/live"}
    return {
        "apiVersion": f"{KSERVE_GROUP}/{KSERVE_VERSION}", "kind": "InferenceService", "metadata": metadata,
        "spec": {"predictor": {
            # KServe's storage initializer reads the S3 credentials from this account's Secret.
            "serviceAccountName": SERVING_ACCOUNT,
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [{"name": "tmp", "emptyDir": {}}],
            "model": {
                "modelFormat": {"name": "mlflow"}, "protocolVersion": "v2", "storageUri": storage,
                "image": image, "resources": resources,
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                "readinessProbe": {"httpGet": {"path": health["ready"], "port": MLSERVER_PORT}},
                "livenessProbe": {"httpGet": {"path": health["live"], "port": MLSERVER_PORT},
                                  "initialDelaySeconds": 30},
            },
        }},
    }


def apply(manifest: dict[str, Any], namespace: str | None, context: str | None) -> str:
    """Create the InferenceService, or replace the spec of the one of that name. Returns what it did."""
    from kubernetes import client

    from bakeoff.runners.k8s import connect, refusals

    api_client, cluster = connect(namespace or manifest["metadata"].get("namespace"), context)
    api = client.CustomObjectsApi(api_client)
    manifest = {**manifest, "metadata": {**manifest["metadata"], "namespace": cluster.namespace}}
    name = manifest["metadata"]["name"]
    args = (KSERVE_GROUP, KSERVE_VERSION, cluster.namespace, KSERVE_PLURAL)
    with refusals(cluster, role="manifests/components/kserve"):
        try:
            api.create_namespaced_custom_object(*args, manifest)
            return f"created inferenceservice/{name} in {cluster.namespace}"
        except client.ApiException as exc:
            if exc.status != 409:
                raise
        api.patch_namespaced_custom_object(*args, name, {"metadata": manifest["metadata"],
                                                         "spec": manifest["spec"]})
        return f"updated inferenceservice/{name} in {cluster.namespace}"

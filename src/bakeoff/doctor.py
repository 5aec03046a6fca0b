"""`bakeoff doctor`: is everything a run needs there? One line per check, with the fix.

The checks read, never write (but for ``--in-cluster``, whose short-lived pod is deleted after):
the kube context and namespace, the S3 Secret and its two keys (names only: values are never
read into a message), the store and its bucket, the image (pulled by a short-lived pod that runs
the store check from inside the cluster), the Kubeflow Pipelines API and its version, and MLflow.
Each check says ``ok``, ``failed`` (with the fix) or ``skipped`` (with why), and the command
exits 2 when one failed.
"""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bakeoff.errors import UserError

if TYPE_CHECKING:
    from bakeoff.runners.k8s import Cluster
    from bakeoff.spec import Experiment

POD_SECONDS = 120  # how long the in-cluster check may run once its pod started


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | failed | skipped
    detail: str


def _run(name: str, check: Callable[[], str],
         guard: Callable[[], AbstractContextManager[None]] = contextlib.nullcontext) -> Check:
    """One check's line; ``guard`` turns its service's own errors into a UserError."""
    try:
        with guard():
            return Check(name, "ok", check())
    except UserError as exc:
        return Check(name, "failed", "; ".join(exc.problems))
    except Skip as skip:
        return Check(name, "skipped", str(skip))


class Skip(Exception):
    """Nothing to check, and why."""


def kubernetes_checks(exp: Experiment | None, namespace: str | None, context: str | None, start_timeout: float, *,
                      in_cluster: bool) -> list[Check]:
    from bakeoff.runners.k8s import connect, refusals
    from bakeoff.spec import KfpSettings

    settings = exp.kfp if exp else KfpSettings()
    found: list[Check] = []
    try:
        api, cluster = connect(namespace, context, start_timeout)
    except UserError as exc:
        return [Check("kubernetes", "failed", "; ".join(exc.problems))]
    from kubernetes import client

    def guard() -> AbstractContextManager[None]:
        return refusals(cluster)

    def context() -> str:
        version = client.VersionApi(api).get_code()
        try:
            client.CoreV1Api(api).read_namespace(cluster.namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                raise UserError(f"--namespace: namespace {cluster.namespace!r} does not exist; create it "
                                f"(kubectl create namespace {cluster.namespace}) or pass another") from None
            if exc.status != 403:  # namespaces are cluster-scoped: a namespaced Role cannot read them
                raise UserError(f"--namespace: reading namespace {cluster.namespace!r} answered HTTP "
                                f"{exc.status}: {exc.reason}") from None
        return f"Kubernetes {version.git_version}, namespace {cluster.namespace}"

    found.append(_run("kubernetes", context, guard))
    if found[-1].status != "ok":
        return found

    def secret() -> str:
        try:
            data = client.CoreV1Api(api).read_namespaced_secret(settings.secret_name, cluster.namespace).data or {}
        except client.ApiException as exc:
            if exc.status == 404:
                raise UserError(f"kfp.secret_name: no Secret {settings.secret_name!r} in namespace {cluster.namespace}; "
                                f"kubectl -n {cluster.namespace} create secret generic {settings.secret_name} "
                                f"--from-literal={settings.access_key_field}=… --from-literal={settings.secret_key_field}=…"
                                ) from None
            raise UserError(f"kfp.secret_name: cannot read Secret {settings.secret_name!r} (HTTP {exc.status}); "
                            "your identity needs get on secrets to check it") from None
        missing = [k for k in (settings.access_key_field, settings.secret_key_field) if k not in data]
        if missing:
            raise UserError(f"kfp.access_key_field/secret_key_field: Secret {settings.secret_name!r} has no key "
                            f"{', '.join(missing)} (it has {', '.join(sorted(data)) or 'none'}); add it or set "
                            "the field to the key it has")
        empty = [k for k in (settings.access_key_field, settings.secret_key_field) if not base64.b64decode(data[k])]
        if empty:
            raise UserError(f"kfp.secret_name: key {', '.join(empty)} of Secret {settings.secret_name!r} is empty")
        return f"Secret {settings.secret_name} has keys {settings.access_key_field} and {settings.secret_key_field}"

    found.append(_run("secret", secret, guard))
    found.append(_run("image (in the cluster)", lambda: _in_cluster(api, exp, cluster) if in_cluster else
                      _skip("pass --in-cluster to pull the image and check the store from a pod"), guard))
    return found


def _skip(why: str) -> str:
    raise Skip(why)


def _in_cluster(api: Any, exp: Experiment | None, cluster: Cluster) -> str:
    """A short-lived Job of the project image that checks the store from inside the cluster,
    started and followed as the runner does its steps (and so with the runner's permissions)."""
    from bakeoff.runners.k8s import KubernetesRunner, job_manifest
    from bakeoff.runs import Run
    from bakeoff.storage import open_store

    if exp is None:
        raise Skip("needs a CONFIG: its image and its store")
    probe = Run(open_store(exp.storage), f"doctor-{int(time.time())}")
    runner = KubernetesRunner(api, cluster)
    step = runner.start(job_manifest(probe, exp.kfp, "doctor", ["doctor", "--store-only", "--store", exp.storage]),
                        None)
    try:
        deadline = time.monotonic() + cluster.start_timeout + POD_SECONDS
        while step.outcome is None and time.monotonic() < deadline:
            runner.wait([step], probe)
        if step.outcome == "Complete":
            return f"image {exp.kfp.image} runs, and reaches the store from the cluster"
        if step.outcome == "NeverStarted":
            raise UserError(f"kfp.image: the check pod never started ({step.reason}); push {exp.kfp.image} "
                            "where the cluster pulls from, or set kfp.image")
        if step.outcome is None:
            raise UserError(f"kfp.image: the check pod did not finish within {cluster.start_timeout + POD_SECONDS:g} s; "
                            f"kubectl -n {cluster.namespace} describe job {step.name}")
        log = runner.logs(step)
        raise UserError(f"store (from the cluster): {log[-1] if log else 'the check pod failed'}; "
                        "check kfp.s3_endpoint as pods see it, and the Secret's values")
    finally:
        from kubernetes import client

        with contextlib.suppress(client.ApiException):  # never hides the check's own outcome
            runner.delete(step)


def store_checks(exp: Experiment | None, store: str | None) -> list[Check]:
    from bakeoff.storage import open_store

    root = store or (exp.storage if exp else None)

    def reach() -> str:
        if root is None:
            raise Skip("needs a CONFIG or --store")
        opened = open_store(root)
        opened.list("runs")  # lists a prefix: the bucket must exist and the keys must allow reading
        return f"{opened.root} is reachable"

    return [_run("store", reach)]


def kfp_checks(host: str | None) -> list[Check]:
    def reach() -> str:
        if not host:
            raise Skip("pass --kfp-host (or set KF_PIPELINES_ENDPOINT) to check Kubeflow Pipelines")
        from bakeoff.kfp.client import connect

        client = connect(host)
        return f"Kubeflow Pipelines {client.healthz().get('tag_name', 'unknown')} at {client.host}"

    return [_run("kubeflow pipelines", reach)]


def mlflow_checks(exp: Experiment | None) -> list[Check]:
    def reach() -> str:
        from bakeoff.spec import TrackingSpec
        from bakeoff.tracking import health, tracking_uri

        settings = exp.tracking if exp else TrackingSpec()
        if tracking_uri(settings) is None:
            raise Skip("no tracking.mlflow_uri or MLFLOW_TRACKING_URI")
        return health(settings)

    return [_run("mlflow", reach)]

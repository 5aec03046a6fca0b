"""The Kubernetes runner: the three steps as Jobs on any cluster, no Kubeflow needed.

One Job runs prepare, then one Job per model (at most ``parallel`` at once, longest first), then
one Job runs compare once every train Job has ended, whatever its outcome. Each pod runs the
same container contract as a Kubeflow pod (`bakeoff step … --run-uri`), with the S3 credentials
taken by reference from the Secret the ``kfp:`` section names, as a non-root user on a
read-only root filesystem.

Every Job is owned by a ConfigMap named after the run, so deleting that ConfigMap deletes the
run's Jobs and their pods (Kubernetes' garbage collector, ``ownerReferences``), and so does
Ctrl+C. A pod that cannot start (its image cannot be pulled, nothing can schedule it, its Secret
is missing) is a failed row with Kubernetes' reason once ``start_timeout`` has passed, not a
hang. The runner follows its Jobs with a watch, and reads each model's outcome from the store.

``--detach`` runs this same loop in a pod of the cluster (a *driver* Job, `bakeoff step drive`),
so the command returns the run's URI at once.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from bakeoff import costs, schedule, steps
from bakeoff.errors import UserError
from bakeoff.progress import ModelState, RunProgress
from bakeoff.runners.base import Outcome, RunOptions
from bakeoff.runs import Run, create_cluster_run
from bakeoff.spec import POD_DEADLINE_GRACE, POD_LABEL, Experiment, KfpSettings, ModelSpec
from bakeoff.storage import ACCESS_KEY, ENDPOINT, SECRET_KEY

if TYPE_CHECKING:
    from bakeoff.records import Prepared

UID = 10001  # the image's user (Dockerfile)
TTL_SECONDS = 24 * 3600  # finished Jobs and their logs stay a day, then Kubernetes removes them
LOG_LINES = 12
WATCH_SECONDS = 2  # one watch window; the pods are looked at between windows
WAITING = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError",
           "CreateContainerError"}


@dataclass(frozen=True)
class Cluster:
    """Where and how the runner works; the flags of `bakeoff run --runner k8s`."""

    namespace: str = "default"
    context: str | None = None  # a kubeconfig context; None: the current one, or in-cluster
    start_timeout: float = 300.0  # seconds a pod may wait to start before its model is a failed row
    service_account: str = "bakeoff-runner"  # the driver's, with the Role in manifests/components/runner


IN_CLUSTER_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def connect(namespace: str | None, context: str | None = None, start_timeout: float = 300.0) -> tuple[Any, Cluster]:
    """An ApiClient from the in-cluster config inside a pod, else the kubeconfig (``context``, or
    its current one), and the Cluster it works in: ``namespace``, else the context's namespace
    (or the pod's own), else ``default``, as kubectl chooses. One line on failure."""
    try:
        from kubernetes import client, config
    except ImportError:
        raise UserError("--runner: k8s needs the kubernetes client; pip install 'bakeoff[k8s]'") from None
    import yaml
    from kubernetes.config.config_exception import ConfigException

    try:
        config.load_incluster_config()
        found = Path(IN_CLUSTER_NAMESPACE).read_text().strip() if Path(IN_CLUSTER_NAMESPACE).exists() else None
    except ConfigException:
        try:
            # KUBECONFIG as it is now: the client reads it once, when it is imported.
            files = os.environ.get("KUBECONFIG") or None
            config.load_kube_config(config_file=files, context=context)
            contexts, active = config.list_kube_config_contexts(config_file=files)
            chosen = active if context is None else next(c for c in contexts if c["name"] == context)
            found = chosen["context"].get("namespace")
        except (ConfigException, OSError, yaml.YAMLError) as exc:
            raise UserError(f"--context: no usable kubeconfig ({str(exc).splitlines()[0]}); set KUBECONFIG, "
                            "or pass --context of `kubectl config get-contexts`") from None
    return client.ApiClient(), Cluster(namespace or found or "default", context, start_timeout)


# -- what the runner creates: plain manifests, checked offline by the tests ---------------------------

def label_value(text: str) -> str:
    """A valid label value (63 characters of [A-Za-z0-9._-], alphanumeric at both ends)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:63].strip("-._")
    return cleaned or "x"


def dns_name(text: str, limit: int = 63) -> str:
    """A valid object name (RFC 1123 label): lowercase letters, digits and '-'."""
    cleaned = re.sub(r"[^a-z0-9-]", "-", text.lower())
    cleaned = re.sub(r"-+", "-", cleaned)[:limit].strip("-")
    return cleaned or "x"


def owner_name(run: Run) -> str:
    return dns_name(f"bakeoff-run-{run.run_id}", 253)


def labels(run: Run, component: str, model: str | None = None) -> dict[str, str]:
    found = {"app.kubernetes.io/name": "bakeoff", POD_LABEL[0]: POD_LABEL[1],
             "app.kubernetes.io/component": component, "app.kubernetes.io/managed-by": "bakeoff",
             "bakeoff.run-id": label_value(run.run_id)}
    if model is not None:
        found["bakeoff.model"] = label_value(model)
    return found


def owner_manifest(run: Run) -> dict[str, Any]:
    """The object a run's Jobs belong to: delete it and Kubernetes deletes them."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": owner_name(run), "labels": labels(run, "run")},
            "data": {"run-uri": run.uri}}


def _container_env(settings: KfpSettings) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [{"name": "HOME", "value": "/tmp"}]  # caches; the root filesystem is read-only
    if settings.s3_endpoint:
        env.append({"name": ENDPOINT.own, "value": settings.s3_endpoint})
    env += [{"name": name, "valueFrom": {"secretKeyRef": {"name": settings.secret_name, "key": key}}}
            for name, key in ((ACCESS_KEY.own, settings.access_key_field), (SECRET_KEY.own, settings.secret_key_field))]
    return env


def job_manifest(run: Run, settings: KfpSettings, component: str, args: list[str], *, index: int = 0,
                 model: ModelSpec | None = None, owner_uid: str | None = None,
                 service_account: str | None = None) -> dict[str, Any]:
    """One step's Job: what `kubectl apply` would take."""
    placement = model.placement(settings.resources) if model is not None else settings.placement()
    tags = labels(run, component, model.name if model else None)
    name = dns_name(f"bakeoff-{run.run_id}-{component}{f'-{index:03d}' if model is not None else ''}")
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": service_account is not None,  # only the driver calls the API
        "securityContext": {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{
            "name": "step",
            "image": (model.image if model is not None and model.image else settings.image),
            "command": ["bakeoff"],
            "args": args,
            "env": _container_env(settings),
            "resources": placement["resources"],
            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        }],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    if service_account is not None:
        pod["serviceAccountName"] = service_account
    if placement["node_selector"]:
        pod["nodeSelector"] = placement["node_selector"]
    if placement["tolerations"]:
        pod["tolerations"] = placement["tolerations"]
    spec: dict[str, Any] = {"backoffLimit": model.retries if model is not None else 0,
                            "ttlSecondsAfterFinished": TTL_SECONDS,
                            # In a Kubeflow profile namespace an Istio sidecar would keep the Job from completing.
                            "template": {"metadata": {"labels": tags, "annotations": {"sidecar.istio.io/inject": "false"}},
                                         "spec": pod}}
    if placement["timeout"]:
        spec["activeDeadlineSeconds"] = placement["timeout"] + POD_DEADLINE_GRACE
    metadata: dict[str, Any] = {"name": name, "labels": tags}
    if owner_uid is not None:
        metadata["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": owner_name(run),
                                        "uid": owner_uid}]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": spec}


@dataclass(frozen=True)
class StepJobs:
    """Every Job of a run: prepare, one per model (by model name), compare."""

    prepare: dict[str, Any]
    trains: dict[str, dict[str, Any]]
    compare: dict[str, Any]

    def in_order(self) -> list[dict[str, Any]]:
        """In the order they start."""
        return [self.prepare, *self.trains.values(), self.compare]


def step_jobs(exp: Experiment, run: Run, owner_uid: str | None = None, *, reuse: bool = True) -> StepJobs:
    settings = exp.kfp
    retrain = [] if reuse else ["--no-cache"]
    return StepJobs(
        job_manifest(run, settings, "prepare", ["step", "prepare", "--run-uri", run.uri], owner_uid=owner_uid),
        {m.name: job_manifest(run, settings, "train", ["step", "train", "--run-uri", run.uri, "--model", m.name, *retrain],
                              index=i, model=m, owner_uid=owner_uid) for i, m in enumerate(exp.models)},
        job_manifest(run, settings, "compare", ["step", "compare", "--run-uri", run.uri], owner_uid=owner_uid))


def driver_manifest(exp: Experiment, run: Run, cluster: Cluster, options: RunOptions,
                    owner_uid: str | None = None) -> dict[str, Any]:
    """The Job that runs this runner inside the cluster (`--detach`), with the same options."""
    args = ["step", "drive", "--run-uri", run.uri, "--namespace", cluster.namespace,
            "--start-timeout", f"{cluster.start_timeout:g}",
            *(["--parallel", str(options.parallel)] if options.parallel else []),
            *([] if options.use_cache else ["--no-cache"])]
    return job_manifest(run, exp.kfp, "driver", args, owner_uid=owner_uid, service_account=cluster.service_account)


# -- the runner ----------------------------------------------------------------------------------------

@dataclass
class Step:
    """A Job the runner started, and what it knows of it."""

    name: str
    model: str | None
    started: float = field(default_factory=time.monotonic)
    outcome: str | None = None  # Complete | Failed (Kubernetes' condition), or why it never started
    reason: str = ""


class KubernetesRunner:
    name: ClassVar[str] = "k8s"

    def __init__(self, api: Any, cluster: Cluster, *, store: str | None = None, detach: bool = False,
                 log: Callable[[str], None] = lambda _: None) -> None:
        """``api`` and ``cluster`` as `connect` makes them."""
        self.api, self.cluster, self.store, self.detach, self.log = api, cluster, store, detach, log

    def run(self, exp: Experiment, options: RunOptions) -> Outcome:
        """Stage the run where pods reach it, then drive its Jobs here, or (``detach``) from a
        driver Job in the cluster."""
        run = create_cluster_run(exp, self.store)
        with refusals(self.cluster):
            owner_uid = self._create_owner(run)
            if self.detach:
                self._create(driver_manifest(run.config(), run, self.cluster, options, owner_uid))
                return Outcome(run, None)
        return self.drive(run, options, owner_uid)

    def drive(self, run: Run, options: RunOptions, owner_uid: str | None = None) -> Outcome:
        """Prepare, train every model, compare: each a Job, followed until it ends."""
        with refusals(self.cluster):
            return self._drive(run, options, owner_uid)

    def _drive(self, run: Run, options: RunOptions, owner_uid: str | None) -> Outcome:
        exp = run.config()
        owner_uid = owner_uid or self._owner_uid(run)
        notify = options.on_progress or (lambda _: None)
        states = {name: ModelState(name) for name in exp.model_names}
        progress = RunProgress(run, list(states.values()))
        jobs = step_jobs(exp, run, owner_uid, reuse=options.use_cache)
        try:
            notify(progress)
            self._until_done(self.start(jobs.prepare, None), run, lambda: notify(progress), "prepare")
            prepared = run.prepared()
            progress.primary = prepared.primary
            progress.data_note = f"data {prepared.fingerprint[:12]} · Kubernetes namespace {self.cluster.namespace}"
            self._train(exp, run, prepared, jobs.trains, states, options, lambda: notify(progress))
            self._until_done(self.start(jobs.compare, None), run, lambda: notify(progress), "compare")
        except KeyboardInterrupt:
            self.delete_run(run)
            self.log(f"stopped: deleted the Jobs and pods of run {run.run_id} in namespace {self.cluster.namespace}")
            raise
        board = run.leaderboard()
        if board is None:
            raise UserError(f"--runner: compare ended without a leaderboard in {run.uri}; read its log: "
                            f"kubectl -n {self.cluster.namespace} logs job/{jobs.compare['metadata']['name']}")
        notify(progress)
        return Outcome(run, board)

    def delete_run(self, run: Run) -> None:
        """Delete the run's owner, and so (Background propagation) its Jobs and their pods; and
        each Job by name too, in case the garbage collector is slow or the owner is gone."""
        from kubernetes import client

        self._delete(client.CoreV1Api(self.api).delete_namespaced_config_map, owner_name(run))
        batch = client.BatchV1Api(self.api)
        for job in batch.list_namespaced_job(self.cluster.namespace,
                                             label_selector=f"bakeoff.run-id={label_value(run.run_id)}").items:
            self._delete(batch.delete_namespaced_job, job.metadata.name)

    def delete(self, step: Step) -> None:
        """Delete a step's Job and its pods."""
        from kubernetes import client

        self._delete(client.BatchV1Api(self.api).delete_namespaced_job, step.name)

    def _delete(self, method: Callable[..., Any], name: str) -> None:
        from kubernetes import client

        try:
            method(name, self.cluster.namespace, body=client.V1DeleteOptions(propagation_policy="Background"))
        except client.ApiException as exc:
            if exc.status != 404:  # already gone is what we wanted
                raise

    # -- the train phase ---------------------------------------------------------------------------

    def _train(self, exp: Experiment, run: Run, prepared: Prepared, trains: dict[str, dict[str, Any]],
               states: dict[str, ModelState], options: RunOptions, notify: Callable[[], None]) -> None:
        from bakeoff import data

        info = data.stored_table(run.store, prepared.fingerprint)  # prepare checked the splits
        expected = costs.expected(exp.models, run.store, data.shape(info, prepared.table, exp.split))
        queue = [t.name for t in schedule.longest_first([schedule.Task(n, c) for n, c in expected.items()])]
        parallel = max(1, options.parallel or exp.runtime.parallel or exp.kfp.parallelism)
        running: list[Step] = []
        while queue or running:
            while queue and len(running) < parallel:
                name = queue.pop(0)
                running.append(self.start(trains[name], name))
                states[name].start()
            for step in self.wait(running, run):
                running.remove(step)
                result = self._outcome(run, prepared, step)
                states[step.model].finish(result, prepared.primary)  # type: ignore[index]
            notify()

    def _outcome(self, run: Run, prepared: Prepared, step: Step) -> Any:
        """The model's result: what its pod recorded, or a failed row saying why there is none."""
        from bakeoff.supervise import record_failure

        assert step.model is not None
        result = steps.record(run, prepared, step.model)
        if result is not None and (step.outcome == "Complete" or result.ok):
            return result  # what its pod recorded, or an identical model's earlier result
        tail = " · ".join(self.logs(step)[-3:])
        why = f"its Kubernetes Job ended {step.outcome}: {step.reason}" + (f" (log: {tail})" if tail else "")
        failed = record_failure(run.store.root, prepared.jobs[step.model], step.model, "kubernetes", why)
        return steps.record(run, prepared, step.model, failed)

    # -- Jobs ---------------------------------------------------------------------------------------

    def _create(self, manifest: dict[str, Any]) -> None:
        from kubernetes import client

        client.BatchV1Api(self.api).create_namespaced_job(self.cluster.namespace, manifest)

    def start(self, manifest: dict[str, Any], model: str | None) -> Step:
        self._create(manifest)
        return Step(manifest["metadata"]["name"], model)

    def _create_owner(self, run: Run) -> str:
        from kubernetes import client

        return client.CoreV1Api(self.api).create_namespaced_config_map(self.cluster.namespace,
                                                                       owner_manifest(run)).metadata.uid

    def _owner_uid(self, run: Run) -> str:
        from kubernetes import client

        return client.CoreV1Api(self.api).read_namespaced_config_map(owner_name(run), self.cluster.namespace).metadata.uid

    def _until_done(self, step: Step, run: Run, notify: Callable[[], None], what: str) -> None:
        """Follow prepare or compare until it ends; its failure ends the run, with its log."""
        pending = [step]
        while pending:
            for step in self.wait(pending, run):
                pending.remove(step)
                if step.outcome != "Complete":
                    for line in self.logs(step):
                        self.log(line)
                    raise UserError(f"{what}: its Kubernetes Job ended {step.outcome} ({step.reason}); its last "
                                    f"log lines are above; kubectl -n {self.cluster.namespace} logs job/{step.name}")
            notify()

    def wait(self, running: list[Step], run: Run) -> list[Step]:
        """One watch window on the run's Jobs; the steps that ended in it (or never started)."""
        from kubernetes import client, watch

        names = {s.name: s for s in running}
        ended: list[Step] = []
        stream = watch.Watch().stream(client.BatchV1Api(self.api).list_namespaced_job, self.cluster.namespace,
                                      label_selector=f"bakeoff.run-id={label_value(run.run_id)}",
                                      timeout_seconds=WATCH_SECONDS)
        with contextlib.closing(stream):  # closing ends the HTTP request of a window left early
            for event in stream:
                job = event["object"]
                step = names.get(job.metadata.name)
                if step is None or step.outcome is not None:
                    continue
                for condition in (job.status.conditions or []) if job.status else []:
                    if condition.type in ("Complete", "Failed") and condition.status == "True":
                        step.outcome, step.reason = condition.type, condition.reason or condition.type
                        ended.append(step)
                if ended:  # back to the caller at once, so a free slot is filled without waiting
                    break
        ended += self._never_started([s for s in running if s.outcome is None])
        return ended

    def _never_started(self, running: list[Step]) -> list[Step]:
        """Steps whose pod has waited to start longer than ``start_timeout``, and why: their Jobs
        are deleted and they count as ended."""
        from kubernetes import client

        core = client.CoreV1Api(self.api)
        stuck = []
        for step in running:
            if time.monotonic() - step.started < self.cluster.start_timeout:
                continue
            why = self._waiting_reason(core.list_namespaced_pod(self.cluster.namespace,
                                                                label_selector=f"job-name={step.name}").items)
            if why:
                step.outcome, step.reason = "NeverStarted", why
                self.delete(step)
                stuck.append(step)
        return stuck

    @staticmethod
    def _waiting_reason(pods: list[Any]) -> str | None:
        """Why a Job's pod has not started, in Kubernetes' words; None when it has (or may yet)."""
        if not pods:
            return "no pod was created (check the namespace's quotas and events)"
        for pod in pods:
            for status in (pod.status.container_statuses or []) if pod.status else []:
                waiting = status.state.waiting if status.state else None
                if waiting is not None and waiting.reason in WAITING:
                    return f"{waiting.reason}: {waiting.message or ''}".strip(": ")
            for condition in (pod.status.conditions or []) if pod.status else []:
                if condition.type == "PodScheduled" and condition.status == "False":
                    return f"{condition.reason}: {condition.message or ''}".strip(": ")
        return None

    def logs(self, step: Step) -> list[str]:
        from kubernetes import client

        core = client.CoreV1Api(self.api)
        try:
            pods = core.list_namespaced_pod(self.cluster.namespace, label_selector=f"job-name={step.name}").items
            if not pods:
                return []
            text = core.read_namespaced_pod_log(pods[-1].metadata.name, self.cluster.namespace, tail_lines=LOG_LINES)
        except client.ApiException:
            return []
        return [line for line in str(text).splitlines() if line.strip()]


@contextlib.contextmanager
def refusals(cluster: Cluster, role: str = "manifests/components/runner") -> Iterator[None]:
    """The API server refusing a request, or not answering, as one line with the fix (a 403:
    grant the Role in ``role``)."""
    import urllib3
    from kubernetes import client

    try:
        yield
    except client.ApiException as exc:
        fix = (f"grant it the Role in {role}" if exc.status == 403 else
               "check the namespace (kubectl get namespace)" if exc.status == 404 else
               "check your kubeconfig's credentials" if exc.status == 401 else "see the message")
        field = "--context" if exc.status == 401 else "--namespace"
        raise UserError(f"{field}: Kubernetes refused a request in namespace {cluster.namespace} "
                        f"(HTTP {exc.status}: {_message(exc)}); {fix}") from None
    except urllib3.exceptions.HTTPError as exc:  # the client's retries are spent: no answer
        raise UserError(f"--context: cannot reach the Kubernetes API ({type(exc).__name__}); check "
                        "`kubectl config current-context` and the network") from None


def _message(exc: Any) -> str:
    import json

    try:
        return str(json.loads(exc.body).get("message", "")).splitlines()[0][:200]
    except (ValueError, TypeError, AttributeError, IndexError):
        return str(exc.reason or "")

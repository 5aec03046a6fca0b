"""STAND-IN for a Kubernetes API server, its Job controller and a kubelet, for tests only.

No API server can run on these machines. ``StandInKubernetes`` is a small HTTP server on
127.0.0.1 that serves the subset of the API the kubernetes Python client calls for bakeoff's
runner and `bakeoff doctor`, and behaves as Kubernetes documents wherever the runner depends on it:

* What we create is checked with the OpenAPI schemas of every Kubernetes version we support,
  strictly (``schema_problems``), and refused with 422 Invalid, as an API server refuses an
  invalid object.
* Objects: Jobs (batch/v1), Pods, ConfigMaps, Secrets and Namespaces (v1), and KServe's
  InferenceServices (serving.kserve.io/v1beta1, a custom resource checked against its CRD's
  schema vendored from KServe v0.20.0, the one version we generate for; stored only, no
  controller serves them), with ``uid``,
  ``resourceVersion`` and ``creationTimestamp``; PATCH as a JSON merge patch only (RFC 7386, what
  the client sends for a custom object: ``MERGE_PATCH``; any other type is 415); list with
  ``labelSelector`` (equality terms),
  and ``watch=true`` on Jobs: a chunked stream of ``{"type", "object"}`` lines, the current
  objects first as ADDED, until ``timeoutSeconds`` (API concepts, "Efficient detection of changes").
* The Job controller (concepts/workloads/controllers/job): a Job's pod gets the label
  ``job-name``; a pod that fails is replaced until more than ``backoffLimit`` have failed, then
  the Job gets the condition ``Failed`` with reason ``BackoffLimitExceeded``; a Job that is still
  active ``activeDeadlineSeconds`` after it started has its pods killed and ``Failed`` with reason
  ``DeadlineExceeded``; one pod succeeding gives ``Complete``.
* The kubelet (concepts/workloads/pods/pod-lifecycle, "Container states"): an image it does not
  have stays Waiting with ``ErrImagePull``, then ``ImagePullBackOff``; a ``secretKeyRef`` to a
  missing Secret or key stays Waiting with ``CreateContainerConfigError``; a ``nodeSelector`` no
  node matches leaves the pod Pending with condition ``PodScheduled=False``, reason
  ``Unschedulable``. Otherwise the container's command runs (as a local process, or through a
  container runner such as Docker) with its env resolved, and its output is the pod's log.
* Garbage collection (concepts/architecture/garbage-collection): deleting an object deletes, or
  with ``propagationPolicy: Orphan`` orphans, the objects whose ``ownerReferences`` name its uid;
  a Job's pods name it. A Job deleted with no policy orphans its pods (batch/v1's default).
* Namespaces (the NamespaceLifecycle admission plugin): creating in a namespace that does not
  exist is 404; listing there is an empty list.
* RBAC (reference/access-authn-authz/rbac): the kubeconfig's token is an admin; a pod whose
  ServiceAccount has a token mounted calls the API as that account, held to the Role rules given
  for it (``roles``), and every verb it used is recorded in ``used``. Deviation, named: such a pod
  is a process, so it finds the API through a kubeconfig (KUBECONFIG) rather than the in-cluster
  token files.

Each image the stand-in "has" maps to how its container runs; an image it lacks cannot be pulled.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import kubernetes_validate
import yaml

from standin_http import QuietHandler

BIN = Path(sys.executable).parent
Runner = Callable[[list[str], dict[str, str], "Container"], subprocess.Popen]
PULL_BACKOFF_AFTER = 0.3  # seconds of ErrImagePull before ImagePullBackOff
KUBERNETES_VERSIONS = ("1.30.0", "1.33.0", "1.37.0")  # the oldest we support, a middle one, the newest schemas
SA_TOKEN = "serviceaccount:"  # the stand-in's tokens for ServiceAccounts: serviceaccount:NAMESPACE:NAME


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Container:
    """What a running container is, to the stand-in's kubelet."""

    pod: dict[str, Any]
    process: subprocess.Popen | None = None
    log: list[str] = field(default_factory=list)


def local_process(command: list[str], env: dict[str, str], container: Container) -> subprocess.Popen:
    """Run a container's command here: `bakeoff` resolves to this venv's."""
    full = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BAKEOFF_S3_"))}, **env,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    full["HOME"] = os.environ.get("HOME", "/tmp")  # the pod's emptyDir /tmp is this machine's /tmp
    return subprocess.Popen(command, env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def in_docker(image: str) -> Runner:
    """Run a container's command as a real container of ``image``: the pod's user, a read-only
    root filesystem with /tmp writable (its emptyDir), the host network (our S3 server listens
    on 127.0.0.1). Env values reach `docker run` through its environment, never its argv."""
    def run(command: list[str], env: dict[str, str], container: Container) -> subprocess.Popen:
        spec = container.pod["spec"]
        box = spec["containers"][0]
        user = spec.get("securityContext", {}).get("runAsUser")
        flags = ["--rm", "--network=host", "--name", container.pod["metadata"]["name"],
                 *(["--user", f"{user}:{user}"] if user is not None else []),
                 *(["--read-only"] if box.get("securityContext", {}).get("readOnlyRootFilesystem") else []),
                 *[flag for mount in box.get("volumeMounts", []) for flag in ("--tmpfs", mount["mountPath"])],
                 *[flag for name in env for flag in ("-e", name)]]
        return subprocess.Popen(["docker", "run", *flags, "--entrypoint", command[0], image, *command[1:]],
                                env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
    return run


def exits_with(code: int) -> Runner:
    """An image whose container exits at once with ``code`` (a broken entrypoint, say)."""
    return lambda command, env, container: subprocess.Popen(
        [sys.executable, "-c", f"import sys; print('this image is broken'); sys.exit({code})"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def schema_problems(obj: dict[str, Any]) -> list[str]:
    """Why an object we create is not valid in every Kubernetes version we support, by that
    version's own OpenAPI schema (kubernetes-validate, strict: an unknown field is an error).

    Stricter than an API server, which by default drops an unknown field with a warning
    (reference/using-api/api-concepts, "Field validation"): a field we send must exist everywhere.
    """
    from test_manifests import CRD_SCHEMAS, crd_validator

    if (obj.get("apiVersion"), obj.get("kind")) in CRD_SCHEMAS:  # a custom resource: its CRD's schema
        return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
                for e in crd_validator(obj["apiVersion"], obj["kind"]).iter_errors(obj)]
    found = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            found.append(f"Kubernetes {version}: {'.'.join(map(str, exc.path))}: {exc.message}")
    return found


def _matches(obj: dict[str, Any], selector: str | None) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in filter(None, (selector or "").split(",")):
        key, _, value = term.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


class StandInKubernetes:
    def __init__(self, *, namespaces: tuple[str, ...] = ("bakeoff",),
                 secrets: dict[tuple[str, str], dict[str, str]] | None = None,
                 images: dict[str, Runner] | None = None, node_labels: dict[str, str] | None = None,
                 token: str = "stand-in-token", env: dict[str, str] | None = None,
                 roles: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.namespaces = set(namespaces)
        # ServiceAccount name -> the rules of the Role bound to it. The kubeconfig's token is a
        # cluster admin; a pod of a ServiceAccount gets its own token, held to these rules.
        self.roles = roles or {}
        self.used: dict[str, set[tuple[str, str, str]]] = {}  # ServiceAccount -> (verb, group, resource)
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (kind, namespace, name)
        self.versions = itertools.count(1)
        for (namespace, name), values in (secrets or {}).items():
            self._store("Secret", namespace, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                                              "data": {k: base64.b64encode(v.encode()).decode()
                                                       for k, v in values.items()}})
        self.images = images if images is not None else {}
        self.node_labels = node_labels or {"kubernetes.io/os": "linux"}
        self.token, self.env = token, env or {}
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.events: list[tuple[int, str, dict[str, Any]]] = []  # (resourceVersion, type, Job)
        self.containers: dict[str, Container] = {}
        self.requests: list[tuple[str, str]] = []
        self.threads: list[threading.Thread] = []
        self.stopping = False
        self.scratch = tempfile.TemporaryDirectory(prefix="k8s-standin-")
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def kubeconfig(self, path: Path, namespace: str = "bakeoff", service_account: str | None = None) -> Path:
        """A kubeconfig for the stand-in: as its admin, or as ``service_account`` of ``namespace``."""
        token = self.token if service_account is None else f"{SA_TOKEN}{namespace}:{service_account}"
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "stand-in",
            "clusters": [{"name": "stand-in", "cluster": {"server": self.url}}],
            "users": [{"name": "stand-in", "user": {"token": token}}],
            "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "stand-in",
                                                         "namespace": namespace}}]}))
        return path

    def __enter__(self) -> StandInKubernetes:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.stopping = True
            self.changed.notify_all()
        for container in list(self.containers.values()):
            if container.process and container.process.poll() is None:
                container.process.kill()
        for thread in self.threads:
            thread.join(timeout=30)
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        self.scratch.cleanup()

    # -- objects --------------------------------------------------------------------------------------

    def _store(self, kind: str, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now())
        meta["namespace"] = namespace
        meta["resourceVersion"] = str(next(self.versions))
        self.objects[(kind, namespace, meta["name"])] = obj
        return obj

    def jobs(self, namespace: str = "bakeoff") -> list[dict[str, Any]]:
        with self.lock:
            return [o for (k, ns, _), o in self.objects.items() if k == "Job" and ns == namespace]

    def pods(self, namespace: str = "bakeoff") -> list[dict[str, Any]]:
        with self.lock:
            return [o for (k, ns, _), o in self.objects.items() if k == "Pod" and ns == namespace]

    def _job_event(self, kind: str, job: dict[str, Any]) -> None:
        """Record a change of a Job for watchers (callers hold the lock)."""
        job["metadata"]["resourceVersion"] = str(next(self.versions))
        self.events.append((int(job["metadata"]["resourceVersion"]), kind, json.loads(json.dumps(job))))
        self.changed.notify_all()

    def _delete(self, kind: str, namespace: str, name: str, policy: str | None) -> dict[str, Any] | None:
        """Delete an object, and its dependents as ``policy`` (a DeleteOptions' propagationPolicy) says.

        Without a policy, a batch/v1 Job orphans its pods, "for backwards compatibility"
        (kubernetes pkg/registry/batch/job/strategy.go, ``DefaultGarbageCollectionPolicy``), and
        other kinds delete theirs in the background. Orphaned dependents lose the ownerReference
        and live on (concepts/architecture/garbage-collection, "Cascading deletion").
        """
        obj = self.objects.pop((kind, namespace, name), None)
        if obj is None:
            return None
        uid = obj["metadata"]["uid"]
        if kind == "Job":
            self._job_event("DELETED", obj)
        if kind == "Pod":
            container = self.containers.get(name)
            if container and container.process and container.process.poll() is None:
                container.process.kill()
        policy = policy or ("Orphan" if kind == "Job" else "Background")
        for (k, ns, n), other in list(self.objects.items()):
            owners = other["metadata"].get("ownerReferences") or []
            if ns != namespace or not any(r.get("uid") == uid for r in owners):
                continue
            if policy == "Orphan":
                other["metadata"]["ownerReferences"] = [r for r in owners if r.get("uid") != uid]
            else:  # the garbage collector deletes a dependent with the owner's policy
                self._delete(k, ns, n, policy)
        return obj

    # -- the Job controller and the kubelet -------------------------------------------------------------

    def _run_job(self, namespace: str, name: str) -> None:
        """Create pods for a Job until it completes, fails, or passes its deadline."""
        with self.lock:
            job = self.objects[("Job", namespace, name)]
            spec = job["spec"]
            job["status"] = {"startTime": now(), "active": 0}
            self._job_event("MODIFIED", job)
        started = time.monotonic()
        deadline = spec.get("activeDeadlineSeconds")
        failed = 0
        for attempt in range(int(spec.get("backoffLimit", 6)) + 1):
            pod = self._make_pod(namespace, job, attempt)
            while True:  # bounded by the deadline, the process, or the stand-in stopping
                state = self._kubelet_step(namespace, pod)
                with self.lock:
                    if self.stopping or ("Job", namespace, name) not in self.objects:
                        return
                    if deadline and time.monotonic() - started > float(deadline):
                        self._kill(pod, "DeadlineExceeded")
                        return self._finish(job, "Failed", "DeadlineExceeded",
                                            "Job was active longer than specified deadline")
                if state in ("Succeeded", "Failed"):
                    break
                time.sleep(0.05)
            with self.lock:
                if state == "Succeeded":
                    job["status"]["succeeded"] = 1
                    return self._finish(job, "Complete", None, None)
                failed += 1
                job["status"]["failed"] = failed
                self._job_event("MODIFIED", job)
        with self.lock:
            self._finish(job, "Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")

    def _finish(self, job: dict[str, Any], condition: str, reason: str | None, message: str | None) -> None:
        status = job["status"]
        status["active"] = 0
        status["completionTime" if condition == "Complete" else "failedTime"] = now()
        status["conditions"] = [{"type": condition, "status": "True", "lastProbeTime": now(),
                                 "lastTransitionTime": now(), **({"reason": reason} if reason else {}),
                                 **({"message": message} if message else {})}]
        self._job_event("MODIFIED", job)

    def _make_pod(self, namespace: str, job: dict[str, Any], attempt: int) -> dict[str, Any]:
        template = job["spec"]["template"]
        name = f"{job['metadata']['name']}-{uuid.uuid4().hex[:5]}"
        with self.lock:
            pod = self._store("Pod", namespace, {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "labels": {**template.get("metadata", {}).get("labels", {}),
                                                      "job-name": job["metadata"]["name"],
                                                      "batch.kubernetes.io/job-name": job["metadata"]["name"]},
                             "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job",
                                                  "name": job["metadata"]["name"], "uid": job["metadata"]["uid"]}]},
                "spec": json.loads(json.dumps(template["spec"])),
                "status": {"phase": "Pending", "conditions": []}})
            job["status"]["active"] = 1
            self._job_event("MODIFIED", job)
            self.containers[name] = Container(pod)
        return pod

    def _env(self, namespace: str, pod: dict[str, Any], container: dict[str, Any]) -> tuple[dict[str, str], str | None]:
        env: dict[str, str] = dict(self.env)
        if pod["spec"].get("serviceAccountName") and pod["spec"].get("automountServiceAccountToken", True):
            # A pod with a token mounted reaches the API server; the kubernetes client finds it
            # with load_incluster_config(). Here the pod is a process, so it gets a kubeconfig
            # for the stand-in instead: a deviation, named.
            account = pod["spec"]["serviceAccountName"]
            env["KUBECONFIG"] = str(self.kubeconfig(Path(self.scratch.name) / f"{namespace}-{account}", namespace,
                                                    account))
        for item in container.get("env") or []:
            if "value" in item:
                env[item["name"]] = item["value"]
                continue
            ref = item.get("valueFrom", {}).get("secretKeyRef", {})
            secret = self.objects.get(("Secret", namespace, ref.get("name", "")))
            if secret is None:
                return env, f'secret "{ref.get("name")}" not found'
            if ref.get("key") not in secret.get("data", {}):
                return env, f"couldn't find key {ref.get('key')} in Secret {namespace}/{ref.get('name')}"
            env[item["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
        return env, None

    def _kubelet_step(self, namespace: str, pod: dict[str, Any]) -> str:
        """Move a pod along its lifecycle; its phase."""
        with self.lock:
            status, spec = pod["status"], pod["spec"]
            box = self.containers[pod["metadata"]["name"]]
            if status["phase"] in ("Succeeded", "Failed"):
                return status["phase"]
            selector = spec.get("nodeSelector") or {}
            if any(self.node_labels.get(k) != v for k, v in selector.items()):
                status["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                         "message": "0/1 nodes are available: 1 node(s) didn't match Pod's node "
                                                    "affinity/selector"}]
                return "Pending"
            status["conditions"] = [{"type": "PodScheduled", "status": "True"}]
            container = spec["containers"][0]
            if box.process is None:
                image = container["image"]
                if image not in self.images:
                    age = time.monotonic() - box.__dict__.setdefault("pulling", time.monotonic())
                    reason = "ErrImagePull" if age < PULL_BACKOFF_AFTER else "ImagePullBackOff"
                    status["containerStatuses"] = [{"name": container["name"], "ready": False, "restartCount": 0,
                                                    "image": image, "imageID": "", "state": {"waiting": {
                                                        "reason": reason,
                                                        "message": f'Back-off pulling image "{image}"'}}}]
                    return "Pending"
                env, problem = self._env(namespace, pod, container)
                if problem:
                    status["containerStatuses"] = [{"name": container["name"], "ready": False, "restartCount": 0,
                                                    "image": image, "imageID": "", "state": {"waiting": {
                                                        "reason": "CreateContainerConfigError", "message": problem}}}]
                    return "Pending"
                command = [*(container.get("command") or []), *(container.get("args") or [])]
                box.process = self.images[image](command, env, box)
                reader = threading.Thread(target=self._read_log, args=(box,), daemon=True)
                reader.start()
                box.__dict__["reader"] = reader
                status["phase"] = "Running"
                status["containerStatuses"] = [{"name": container["name"], "ready": True, "restartCount": 0,
                                                "image": image, "imageID": "", "state": {"running": {"startedAt": now()}}}]
                return "Running"
            code = box.process.poll()
        if code is None:
            return "Running"
        box.__dict__["reader"].join(timeout=10)
        with self.lock:
            reason = "OOMKilled" if code == -9 else "Completed" if code == 0 else "Error"
            status["phase"] = "Succeeded" if code == 0 else "Failed"
            status["containerStatuses"][0]["state"] = {"terminated": {"exitCode": code if code >= 0 else 128 - code,
                                                                      "reason": reason}}
            return status["phase"]

    @staticmethod
    def _read_log(box: Container) -> None:
        assert box.process is not None and box.process.stdout is not None
        for line in box.process.stdout:
            box.log.append(line.rstrip("\n"))

    def _kill(self, pod: dict[str, Any], reason: str) -> None:
        box = self.containers.get(pod["metadata"]["name"])
        if box and box.process and box.process.poll() is None:
            box.process.kill()
        pod["status"].update({"phase": "Failed", "reason": reason})

    # -- HTTP -----------------------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        k8s = self

        class Handler(QuietHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self, method: str) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                k8s.requests.append((method, url.path))
                denied = k8s.authorize(self.headers.get("Authorization", ""), method, url.path, query)
                if denied is not None:
                    return self._reply(*denied)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else {}
                if method == "PATCH" and self.headers.get("Content-Type") != MERGE_PATCH:
                    return self._reply(415, _status(415, "UnsupportedMediaType", (
                        f"the body of the request was in an unknown format - accepted media types "
                        f"include: {MERGE_PATCH} (this stand-in; the API server also takes JSON and "
                        "apply patches, and strategic merge only for built-in kinds)")))
                if query.get("watch") in ("1", "t", "T", "true", "True", "TRUE"):  # Go's strconv.ParseBool
                    return k8s.watch(self, url.path, query)
                result = k8s.route(method, url.path, query, body)
                if isinstance(result, str):
                    return self._text(result)
                self._reply(*result)

            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

            def do_DELETE(self) -> None:  # noqa: N802
                self._serve("DELETE")

            def do_PATCH(self) -> None:  # noqa: N802
                self._serve("PATCH")

        return Handler

    def authorize(self, header: str, method: str, path: str, q: dict[str, str]) -> tuple[int, dict[str, Any]] | None:
        """None when the bearer may make this request; else 401 or 403 as the API server answers.

        RBAC as documented (reference/access-authn-authz/authorization, "Determine the request
        verb"; and rbac): GET of a collection is ``list``, with ``watch=true`` it is ``watch``, of
        one object ``get``; POST ``create``; DELETE ``delete``. A subresource is ``pods/log``.
        A Role's rule allows when its apiGroups, resources and verbs hold the request's, and its
        resourceNames (if any) the object's name. /version is open to every authenticated user.
        """
        token = header.removeprefix("Bearer ")
        if token == self.token:
            return None
        if not token.startswith(SA_TOKEN):
            return 401, _status(401, "Unauthorized", "Unauthorized")
        namespace_of_account, _, account = token.removeprefix(SA_TOKEN).partition(":")
        parts = path.strip("/").split("/")
        if path.rstrip("/") == "/version":
            return None
        core = parts[0] == "api"
        group = "" if core else parts[1]
        rest = parts[(2 if core else 3):]
        namespace = rest[1] if len(rest) > 1 and rest[0] == "namespaces" else None
        resource_parts = rest[2:] if namespace else rest
        if namespace and not resource_parts:
            resource, name = "namespaces", namespace
            namespace = None
        else:
            resource = "/".join(resource_parts[:1] + resource_parts[2:3])
            name = resource_parts[1] if len(resource_parts) > 1 else None
        watching = q.get("watch") in ("1", "t", "T", "true", "True", "TRUE")
        verb = {"POST": "create", "DELETE": "delete", "PATCH": "patch"}.get(method) or (
            "watch" if watching else "get" if name else "list")
        self.used.setdefault(account, set()).add((verb, group, resource))
        rules = self.roles.get(account, []) if namespace == namespace_of_account else []
        for rule in rules:
            if group in rule.get("apiGroups", []) and resource in rule.get("resources", []) \
                    and verb in rule.get("verbs", []) and (not rule.get("resourceNames") or name in rule["resourceNames"]):
                return None
        where = f' in the namespace "{namespace}"' if namespace else ""
        kind = f"{resource}.{group}" if group else resource
        return 403, _status(403, "Forbidden", f'{kind}{f" {name!r}" if name else ""} is forbidden: User '
                                              f'"system:serviceaccount:{namespace_of_account}:{account}" cannot '
                                              f'{verb} resource "{resource}" in API group "{group}"{where}')

    def route(self, method: str, path: str, q: dict[str, str], body: dict[str, Any]) -> Any:
        parts = path.strip("/").split("/")
        if path.rstrip("/") == "/version":  # the client asks for /version/
            return 200, {"major": "1", "minor": "30", "gitVersion": "v1.30.0-stand-in", "gitCommit": "0" * 40,
                         "gitTreeState": "clean", "buildDate": "2024-04-17T17:27:03Z", "goVersion": "go1.22.2",
                         "compiler": "gc", "platform": "linux/amd64"}  # every field of apimachinery's version.Info
        if len(parts) >= 4 and parts[2] == "namespaces" or len(parts) >= 5 and parts[3] == "namespaces":
            core = parts[0] == "api"
            ns_index = 2 if core else 3
            namespace = parts[ns_index + 1]
            rest = parts[ns_index + 2:]
            if not rest:  # GET /api/v1/namespaces/NS
                if namespace in self.namespaces:
                    return 200, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace},
                                 "status": {"phase": "Active"}}
                return 404, _status(404, "NotFound", f'namespaces "{namespace}" not found')
            kind = {"jobs": "Job", "pods": "Pod", "configmaps": "ConfigMap", "secrets": "Secret",
                    "inferenceservices": "InferenceService"}.get(rest[0])
            # Listing in a namespace that does not exist is an empty list; creating in it is 404
            # (the NamespaceLifecycle admission plugin, on by default).
            if namespace not in self.namespaces and not (len(rest) == 1 and method == "GET"):
                return 404, _status(404, "NotFound", f'namespaces "{namespace}" not found')
            if kind is None:
                return 404, _status(404, "NotFound", f"the server could not find the requested resource {path}")
            with self.lock:
                if len(rest) == 1 and method == "GET":
                    items = [o for (k, ns, _), o in self.objects.items()
                             if k == kind and ns == namespace and _matches(o, q.get("labelSelector"))]
                    return 200, {"apiVersion": "batch/v1" if kind == "Job" else "v1", "kind": f"{kind}List",
                                 "metadata": {"resourceVersion": str(next(self.versions))}, "items": items}
                if len(rest) == 1 and method == "POST":
                    invalid = schema_problems(body)
                    if invalid:
                        return 422, _status(422, "Invalid", "; ".join(invalid))
                    name = body.get("metadata", {}).get("name", "")
                    if (kind, namespace, name) in self.objects:
                        return 409, _status(409, "AlreadyExists", f'{rest[0]} "{name}" already exists')
                    obj = self._store(kind, namespace, body)
                    if kind == "Job":
                        self._job_event("ADDED", obj)
                        worker = threading.Thread(target=self._run_job, args=(namespace, name), daemon=True)
                        self.threads.append(worker)
                        worker.start()
                    return 201, obj
                name = rest[1]
                obj = self.objects.get((kind, namespace, name))
                if len(rest) == 3 and rest[2] == "log" and kind == "Pod":
                    box = self.containers.get(name)
                    if obj is None or box is None:
                        return 404, _status(404, "NotFound", f'pods "{name}" not found')
                    tail = int(q.get("tailLines") or 0)
                    return "\n".join(box.log[-tail:] if tail else box.log) + "\n"
                if method == "DELETE":
                    return (200, self._delete(kind, namespace, name, body.get("propagationPolicy"))) if obj else \
                        (404, _status(404, "NotFound", f'{rest[0]} "{name}" not found'))
                if obj is None:
                    return 404, _status(404, "NotFound", f'{rest[0]} "{name}" not found')
                if method == "PATCH":
                    patched = _merge_patch(json.loads(json.dumps(obj)), body)
                    invalid = schema_problems(patched)
                    if invalid:
                        return 422, _status(422, "Invalid", "; ".join(invalid))
                    return 200, self._store(kind, namespace, patched)
                return 200, obj
        return 404, _status(404, "NotFound", f"the server could not find the requested resource {path}")

    def watch(self, handler: BaseHTTPRequestHandler, path: str, q: dict[str, str]) -> None:
        """A chunked stream of Job events: the current Jobs first, then each change."""
        parts = path.strip("/").split("/")
        namespace = parts[4]
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()

        def send(kind: str, obj: dict[str, Any]) -> None:
            line = (json.dumps({"type": kind, "object": obj}) + "\n").encode()
            handler.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
            handler.wfile.flush()

        end = time.monotonic() + float(q.get("timeoutSeconds") or 30)
        with self.lock:
            seen = self.events[-1][0] if self.events else 0
            current = [json.loads(json.dumps(j)) for j in self.jobs(namespace) if _matches(j, q.get("labelSelector"))]
        try:
            for job in current:
                send("ADDED", job)
            for _ in range(100_000):  # bounded: the window ends at timeoutSeconds
                with self.lock:
                    remaining = end - time.monotonic()
                    if remaining <= 0 or self.stopping:
                        break
                    fresh = [(rv, kind, job) for rv, kind, job in self.events if rv > seen]
                    if not fresh:
                        self.changed.wait(timeout=min(remaining, 0.5))
                        continue
                for rv, kind, job in fresh:
                    seen = rv
                    if job["metadata"].get("namespace") == namespace and _matches(job, q.get("labelSelector")):
                        send(kind, job)
            handler.wfile.write(b"0\r\n\r\n")
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client stopped watching
            pass


# What the official client sends for a custom object's patch: CustomObjectsApi.
# patch_namespaced_custom_object_with_http_info sets exactly this Content-Type
# (kubernetes/client/api/custom_objects_api.py, client 29-30). A custom resource takes no strategic
# merge patch: the API server answers 415 ("Update API Objects in Place Using kubectl patch",
# kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/), which is
# what this stand-in answers for any other type.
MERGE_PATCH = "application/merge-patch+json"


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: a dict patch merges key by key, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}

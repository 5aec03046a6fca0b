"""STAND-INS for Kubeflow Pipelines, for tests only. No KFP API server can run on these machines.

``StandInKfp`` is a small HTTP server. It is not KFP. It implements the v2beta1 REST endpoints
that ``bakeoff.kfp.client`` calls, with KFP's paths, fields and status codes, and it behaves as
one given backend version (``version``) does wherever bakeoff depends on it. Each behaviour below
names the kubeflow/pipelines source it mirrors (read at tags 2.5.0, 2.14.x, 2.15.0, 2.16.x, 2.17.0):

* healthz reports ``tag_name`` and ``multi_user`` (backend/src/apiserver/main.go).
* Upload decodes the pipeline and platform spec strictly with that version's schemas
  (apiserver/template/v2_template.go, ``NewV2SpecTemplate``); pipeline names are unique per
  namespace (apiserver/model/pipeline.go, ``uniqueIndex:namespace_name``); an identity without
  permission gets HTTP 400 on upload (apiserver/server/pipeline_upload_server.go, ``uploadPipeline``)
  and 403 elsewhere.
* Creating a run compiles it: from 2.14 every executor's Kubernetes config is decoded strictly
  and a failure is HTTP 500 "Failed to compile job" (compiler/argocompiler/container.go; an error
  that is not a util.UserError maps to codes.Internal in common/util/error.go, ``ToGRPCError``);
  2.5 ignores the error and drops the pod's labels.

``execute`` stands in for the compiled Argo Workflow, KFP's driver and its launcher. It runs the
real compiled YAML, each container task as a subprocess (in a Docker container when given an
image runner), with these semantics:

* A task with ``triggerPolicy: ALL_UPSTREAM_TASKS_COMPLETED`` is no task of the DAG: it becomes
  an exit hook on *each* of its upstream tasks and runs once per upstream as that one ends,
  whatever its state; a hook on a ParallelFor task is dropped, and of two exit tasks on one
  upstream only the alphabetically last is kept (compiler/argocompiler/dag.go, ``DAG``, and
  common.go, ``addExitTask``; ``iteratorTask`` takes no exit template).
* Any other task runs once all its upstream tasks succeeded, else it is omitted
  (dag.go, ``depends``: "upstream.Succeeded && …").
* A ParallelFor runs one DAG per item, at most ``parallelismLimit`` at once, and fails when any
  iteration failed (Argo's default: the compiler sets no ContinueOn).
* Inputs: ``{{$.pipeline_job_uuid}}`` is substituted only as a whole constant and only from 2.5
  (driver/resolve.go, ``resolveInputParameter``); ``parseJson(string_value)["key"]`` selects a
  loop item's field.
* Caching: a container task with caching on is looked up by KFP's fingerprint (cacheutils/cache.go,
  ``GenerateCacheKey``: input parameter values, output specs, image and the *unresolved* command
  and args; PVC names from 2.15), scoped by pipeline name and namespace (driver/cache.go). A hit
  starts no process and reuses the outputs.
* Secrets: ``secretAsEnv`` is resolved from ``secretNameParameter``, else ``secretName``
  (driver/k8s.go); values come from a dict of fake Secrets.
* The launcher shares the container: with ``launcher_env`` (the pipeline root's ``fromEnv``
  credentials), a task whose own env replaces any of those variables fails, as the launcher's
  upload of its outputs would (objectstore/object_store.go reads the AWS SDK's default chain).
* The executor output file is decoded strictly with that version's schema (component/
  launcher_v2.go, ``getExecutorOutputFile``); a task whose file does not decode fails.
* ``activeDeadlineSeconds`` fails a task as DeadlineExceeded; ``retryPolicy`` retries it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import yaml

import kfp_schemas
from bakeoff.examples import write_example
from standin_http import QuietHandler

API = "/apis/v2beta1/"
BIN = Path(sys.executable).parent
TASK_TIMEOUT = 180  # seconds per task subprocess, when the task sets no deadline of its own
ALL_UPSTREAM = "ALL_UPSTREAM_TASKS_COMPLETED"
SELECTOR = re.compile(r'^parseJson\(string_value\)\["([^"]+)"\]$')


def version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def line_of(version: str) -> str:
    """The schema line of a backend version: 2.14.3 -> 2.14."""
    return ".".join(version.split(".")[:2])


# -- the executor (Argo + driver + launcher stand-in) -----------------------------------------

@dataclass
class TaskRun:
    name: str  # the task's name in its DAG (an exit hook: "<exit task>@<upstream>")
    display_name: str
    state: str  # SUCCEEDED | FAILED | CACHED (succeeded without a process)
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    executor_output: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    stderr: str = ""
    started: float = 0.0
    ended: float = 0.0
    fingerprint: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.state in ("SUCCEEDED", "CACHED")


@dataclass
class Cache:
    """KFP's execution cache: outputs by (pipeline name, namespace, fingerprint)."""

    entries: dict[tuple[str, str, str], TaskRun] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def cache_fingerprint(version: str, inputs: dict[str, Any], component: dict[str, Any],
                      container: dict[str, Any], pvcs: list[str]) -> str:
    """``GenerateCacheKey`` + ``GenerateFingerPrint`` (backend/src/v2/cacheutils/cache.go).

    The key holds the input parameter values, each output artifact's type (its name too from
    2.15, which fills the name in ``provisionOutputs``), each output parameter's type, the image
    and the command and args as the component spec has them, placeholders unresolved; from 2.15
    the PVC names. Env vars and resources are not in it. Go hashes protojson passed through
    encoding/json (sorted keys); sorted compact JSON here hashes the same fields, not the same bytes.
    """
    outputs = component.get("outputDefinitions", {})
    key: dict[str, Any] = {
        "inputArtifactNames": {},
        "inputParameterValues": inputs,
        "outputArtifactsSpec": {name: {"name": name if version_tuple(version) >= (2, 15) else "",
                                       "type": spec["artifactType"]}
                                for name, spec in outputs.get("artifacts", {}).items()},
        "outputParametersSpec": {name: spec["parameterType"] for name, spec in outputs.get("parameters", {}).items()},
        "containerSpec": {"image": container["image"],
                          "cmdArgs": container.get("command", []) + container.get("args", []),
                          **({"pvcNames": sorted(set(pvcs))} if pvcs and version_tuple(version) >= (2, 15) else {})},
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class Execution:
    def __init__(self, package: str, job_id: str, workdir: Path, env: dict[str, str],
                 secrets: dict[str, dict[str, str]], *, version: str = "2.17.0", namespace: str = "",
                 cache: Cache | None = None, launcher_env: dict[str, str] | None = None,
                 k8s: dict[str, dict[str, Any]] | None = None,
                 container_runner: Callable[[list[str], dict[str, str], float], subprocess.CompletedProcess]
                 | None = None) -> None:
        docs = [d for d in yaml.safe_load_all(package) if d]
        self.spec = docs[0]
        self.platform = k8s if k8s is not None else (
            docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"] if len(docs) > 1 else {})
        self.job_id, self.workdir, self.env, self.secrets = job_id, workdir, env, secrets
        self.version, self.namespace = version, namespace
        self.cache, self.launcher_env = cache or Cache(), launcher_env or {}
        self.container_runner = container_runner or _subprocess
        self.pipeline_name = self.spec["pipelineInfo"]["name"]
        self.tasks: list[TaskRun] = []
        self.lock = threading.Lock()

    def run(self, parameters: dict[str, Any]) -> str:
        root = self.spec["root"]
        inputs = {k: v["defaultValue"] for k, v in root.get("inputDefinitions", {}).get("parameters", {}).items()
                  if "defaultValue" in v}
        return self._dag(root["dag"], {**inputs, **parameters})

    def runs_of(self, name: str) -> list[TaskRun]:
        """Every run of a task, by its display name (hooks included), in start order."""
        return sorted((t for t in self.tasks if t.display_name == name), key=lambda t: t.started)

    def _dag(self, dag: dict[str, Any], scope: dict[str, Any]) -> str:
        tasks = dag["tasks"]
        exit_tasks = sorted(n for n, t in tasks.items() if t.get("triggerPolicy", {}).get("strategy") == ALL_UPSTREAM)
        hooks: dict[str, str] = {}
        for name in exit_tasks:  # dag.go: taskToExitTemplate[dep] = name, the later one wins
            for dep in tasks[name].get("dependentTasks", []):
                hooks[dep] = name
        pending = {n for n in tasks if n not in exit_tasks}
        states: dict[str, str] = {}
        outputs: dict[str, dict[str, Any]] = {}
        failed_hooks: list[str] = []
        with ThreadPoolExecutor(max_workers=64) as pool:
            running: dict[Future, tuple[str, bool]] = {}

            def launch_ready() -> None:
                for name in sorted(pending):
                    deps = tasks[name].get("dependentTasks", [])
                    if all(d in states for d in deps):
                        pending.discard(name)
                        if all(states[d] == "SUCCEEDED" for d in deps):
                            running[pool.submit(self._task, name, tasks[name], scope, outputs)] = (name, False)
                        else:
                            states[name] = "OMITTED"

            launch_ready()
            for _ in range(10 * len(tasks) + 10):  # bounded: every turn ends at least one task
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    name, is_hook = running.pop(future)
                    state, produced = future.result()
                    if is_hook:
                        if state != "SUCCEEDED":
                            failed_hooks.append(name)
                        continue
                    states[name], outputs[name] = state, produced
                    if name in hooks and not _is_loop(tasks[name]):
                        hook = hooks[name]
                        running[pool.submit(self._task, hook, tasks[hook], scope, outputs)] = (hook, True)
                launch_ready()
        ended = [s for s in states.values() if s != "OMITTED"]
        ok = all(s == "SUCCEEDED" for s in ended) and not failed_hooks
        return "SUCCEEDED" if ok else "FAILED"

    def _task(self, name: str, task: dict[str, Any], scope: dict[str, Any],
              outputs: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        component = self.spec["components"][task["componentRef"]["name"]]
        inputs = self._inputs(task, component, scope, outputs)
        if _is_loop(task):
            iterator = task["parameterIterator"]
            source = iterator["items"]
            items = json.loads(source["raw"]) if "raw" in source else inputs[source["inputParameter"]]
            if isinstance(items, str):
                items = json.loads(items)
            limit = task.get("iteratorPolicy", {}).get("parallelismLimit") or len(items) or 1
            with ThreadPoolExecutor(max_workers=limit) as pool:
                results = list(pool.map(lambda item: self._dag(component["dag"], {**inputs, iterator["itemInput"]: item}),
                                        items))
            return ("SUCCEEDED" if all(r == "SUCCEEDED" for r in results) else "FAILED"), {}
        if "dag" in component:
            return self._dag(component["dag"], inputs), {}
        done = self._container(name, task, component, inputs)
        return ("SUCCEEDED" if done.succeeded else "FAILED"), done.outputs

    def _inputs(self, task: dict[str, Any], component: dict[str, Any], scope: dict[str, Any],
                outputs: dict[str, dict[str, Any]]) -> dict[str, Any]:
        values = {k: v["defaultValue"] for k, v in component.get("inputDefinitions", {}).get("parameters", {}).items()
                  if "defaultValue" in v}
        for key, source in task.get("inputs", {}).get("parameters", {}).items():
            if "componentInputParameter" in source:
                value = scope[source["componentInputParameter"]]
                if "parameterExpressionSelector" in source:
                    field_name = SELECTOR.match(source["parameterExpressionSelector"])[1]  # type: ignore[index]
                    value = (json.loads(value) if isinstance(value, str) else value)[field_name]
                values[key] = value
            elif "taskOutputParameter" in source:
                ref = source["taskOutputParameter"]
                produced = outputs.get(ref["producerTask"], {})
                if ref["outputParameterKey"] in produced:  # else the default stays (upstream failed)
                    values[key] = produced[ref["outputParameterKey"]]
            else:
                constant = source["runtimeValue"]["constant"]
                if constant == "{{$.pipeline_job_uuid}}" and version_tuple(self.version) >= (2, 5):
                    constant = self.job_id
                values[key] = constant
        return values

    def _container(self, name: str, task: dict[str, Any], component: dict[str, Any],
                   inputs: dict[str, Any]) -> TaskRun:
        label = component["executorLabel"]
        container = self.spec["deploymentSpec"]["executors"][label]["container"]
        config = self.platform.get(label, {})
        display = task.get("taskInfo", {}).get("name", name)
        done = TaskRun(name, display, "FAILED", inputs=inputs, started=time.monotonic())
        pvcs = [m.get("pvcName") or m.get("constant", "") for m in config.get("pvcMount", [])]
        if task.get("cachingOptions", {}).get("enableCache"):
            done.fingerprint = cache_fingerprint(self.version, inputs, component, container, pvcs)
            with self.cache.lock:
                hit = self.cache.entries.get((self.pipeline_name, self.namespace, done.fingerprint))
            if hit is not None:
                done.state, done.outputs, done.executor_output = "CACHED", hit.outputs, hit.executor_output
                done.ended = time.monotonic()
                with self.lock:
                    self.tasks.append(done)
                return done
        folder = self.workdir / f"{name}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        out_defs = component.get("outputDefinitions", {})
        params = {n: folder / n for n in out_defs.get("parameters", {})}
        artifacts = {n: folder / "artifacts" / n for n in out_defs.get("artifacts", {})}
        done.artifacts = artifacts
        executor_input = {
            "inputs": {"parameterValues": inputs},
            "outputs": {
                "parameters": {n: {"outputFile": str(p)} for n, p in params.items()},
                "artifacts": {n: {"artifacts": [{"name": n, "uri": str(p),
                                                 "type": out_defs["artifacts"][n]["artifactType"]}]}
                              for n, p in artifacts.items()},
                "outputFile": str(folder / "executor_output.json"),
            },
        }
        subs = {"{{$}}": json.dumps(executor_input)}
        subs |= {f"{{{{$.inputs.parameters['{k}']}}}}": _placeholder(v) for k, v in inputs.items()}
        subs |= {f"{{{{$.outputs.parameters['{k}'].output_file}}}}": str(p) for k, p in params.items()}
        subs |= {f"{{{{$.outputs.artifacts['{k}'].path}}}}": str(p) for k, p in artifacts.items()}

        def resolve(arg: str) -> str:
            for placeholder, value in subs.items():
                arg = arg.replace(placeholder, value)
            return arg

        done.command = [resolve(a) for a in container["command"] + container.get("args", [])]
        env = {**self.env, **self.launcher_env, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        env |= {e["name"]: e["value"] for e in container.get("env", [])}
        for secret in config.get("secretAsEnv", []):
            secret_name = (secret.get("secretNameParameter", {}).get("runtimeValue", {}).get("constant")
                           or secret.get("secretName"))
            for pair in secret["keyToEnv"]:
                env[pair["envVar"]] = self.secrets[secret_name][pair["secretKey"]]
        done.env = env
        replaced = sorted(k for k, v in self.launcher_env.items() if env.get(k) != v)
        if replaced:
            done.stderr = (f"launcher: the task's env replaces {', '.join(replaced)}, which the launcher reads "
                           "for the pipeline root (fromEnv); its uploads would use the wrong credentials")
        else:
            deadline = float(config.get("activeDeadlineSeconds") or TASK_TIMEOUT)
            for _ in range(1 + int(task.get("retryPolicy", {}).get("maxRetryCount", 0))):
                proc = self.container_runner(done.command, env, deadline)
                done.stderr = proc.stderr
                if proc.returncode == 0:
                    done.state = "SUCCEEDED"
                    break
        if done.state == "SUCCEEDED":
            for n, p in params.items():
                text = p.read_text()
                kind = out_defs["parameters"][n]["parameterType"]
                done.outputs[n] = text if kind == "STRING" else json.loads(text)
            output_file = Path(executor_input["outputs"]["outputFile"])
            if output_file.is_file():
                done.executor_output = json.loads(output_file.read_text())
                error = kfp_schemas.decode(line_of(self.version), {
                    "out": ("executor_output", done.executor_output)})["out"]
                if error:
                    done.state, done.stderr = "FAILED", f"launcher: failed to unmarshall ExecutorOutput: {error}"
        if done.state == "SUCCEEDED" and done.fingerprint:
            with self.cache.lock:
                self.cache.entries[(self.pipeline_name, self.namespace, done.fingerprint)] = done
        done.ended = time.monotonic()
        with self.lock:
            self.tasks.append(done)
        return done


def _is_loop(task: dict[str, Any]) -> bool:
    return "parameterIterator" in task or "artifactIterator" in task


def _placeholder(value: Any) -> str:
    """How the launcher renders an input parameter in a command (launcher_v2.go, getPlaceholders)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # strconv.FormatFloat(v, 'f', -1, 64)
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _subprocess(command: list[str], env: dict[str, str], deadline: float) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=deadline)
    except subprocess.TimeoutExpired as exc:
        return subprocess.CompletedProcess(command, 1, "", f"DeadlineExceeded after {deadline:g} s: {exc}")


def execute(package: str, parameters: dict[str, Any], *, workdir: Path, env: dict[str, str],
            secrets: dict[str, dict[str, str]], job_id: str | None = None, **options: Any) -> tuple[str, Execution]:
    """Run a compiled pipeline; returns KFP's final run state and what each task did."""
    execution = Execution(package, job_id or str(uuid.uuid4()), workdir, env, secrets, **options)
    return execution.run(parameters), execution


def compile_problems(version: str, package: str) -> dict[str, str]:
    """What creating a run of ``package`` on ``version`` fails on (empty: it compiles)."""
    found = kfp_schemas.problems(line_of(version), package)
    if not kfp_schemas.LINES[line_of(version)].strict_executor_configs:
        found = {k: v for k, v in found.items() if not k.startswith("executor ")}
    return found


def kubernetes_configs(version: str, package: str) -> dict[str, dict[str, Any]]:
    """Each executor's Kubernetes config as the backend applies it: 2.5 drops the pod metadata
    of a config its schema cannot decode (argocompiler/container.go ignores the error there)."""
    docs = [d for d in yaml.safe_load_all(package) if d]
    configs = docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"] if len(docs) > 1 else {}
    undecodable = {k.removeprefix("executor ") for k in kfp_schemas.problems(line_of(version), package)
                   if k.startswith("executor ")}
    return {label: {k: v for k, v in config.items() if not (label in undecodable and k == "podMetadata")}
            for label, config in configs.items()}


# -- the API server ---------------------------------------------------------------------------

@dataclass
class Store:
    pipelines: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)  # version id -> uploaded YAML
    experiments: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def _matches(item: dict[str, Any], flt: str | None) -> bool:
    for p in json.loads(flt)["predicates"] if flt else []:
        assert p["operation"] in ("EQUALS", 1), p
        if item.get(p["key"]) != p.get("string_value", p.get("stringValue")):
            return False
    return True


class StandInKfp:
    """See the module docstring. ``on_run(run, package)`` is called in a thread for each new run
    and returns the run's final state; without it a run goes PENDING, RUNNING, SUCCEEDED.
    ``token`` may be a callable, so a test can rotate it."""

    def __init__(self, *, version: str = "2.17.0", token: str | Callable[[], str] | None = None,
                 cookie: str | None = None, forbid: bool = False, multi_user: bool = False,
                 on_run: Callable[[dict[str, Any], str], str] | None = None) -> None:
        self.version = version
        self.token, self.cookie, self.forbid, self.multi_user, self.on_run = token, cookie, forbid, multi_user, on_run
        self.store = Store()
        self.lock = threading.Lock()
        self.workers: list[threading.Thread] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StandInKfp:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self.workers:
            worker.join(timeout=TASK_TIMEOUT * 4)
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def _authorized(self, headers: Any) -> bool:
        if self.token is None:
            return True
        token = self.token() if callable(self.token) else self.token
        return headers.get("Authorization") == f"Bearer {token}" or bool(
            self.cookie and headers.get("Cookie") == self.cookie)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        kfp = self

        class Handler(QuietHandler):
            def _serve(self, method: str) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                kfp.store.requests.append((method, url.path, dict(self.headers)))
                # A token or cookie is checked by the auth proxy in front of Kubeflow (oauth2-proxy,
                # Istio), which guards every path, healthz included; KFP's own healthz checks none.
                if not kfp._authorized(self.headers):
                    return self._reply(401, {"error": "Unauthenticated", "code": 16, "message": "no valid token"})
                if kfp.forbid and url.path.startswith(API + "pipelines/upload"):
                    return self._reply(400, {"error_message": "Failed to create a pipeline",
                                             "error_details": "PermissionDenied: not in this namespace"})
                if kfp.forbid and url.path != API + "healthz":
                    return self._reply(403, {"code": 7, "message": "PermissionDenied: not in this namespace"})
                if not url.path.startswith(API):
                    return self._reply(404, {"message": "not found"})
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with kfp.lock:
                    status, reply = kfp.route(method, url.path[len(API):], query, body,
                                              self.headers.get("Content-Type", ""))
                self._reply(status, reply)

            def do_GET(self) -> None:  # noqa: N802
                self._serve("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._serve("POST")

        return Handler

    @staticmethod
    def _uploaded(body: bytes, content_type: str) -> str:
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body)
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "uploadfile":
                return part.get_payload(decode=True).decode()
        raise ValueError("no uploadfile part")

    def route(self, method: str, path: str, q: dict[str, str], body: bytes,
              content_type: str) -> tuple[int, dict[str, Any]]:
        s = self.store
        parts = path.split("/")
        if (method, path) == ("GET", "healthz"):
            return 200, {"commit_sha": "stand-in", "tag_name": self.version, "multi_user": self.multi_user}
        if method == "POST" and path in ("pipelines/upload", "pipelines/upload_version"):
            package = self._uploaded(body, content_type)
            if "pipelineInfo" not in (yaml.safe_load(package.split("\n---")[0]) or {}):
                return 400, {"error_message": "Failed to read a pipeline spec file"}
            refused = {k: v for k, v in kfp_schemas.problems(line_of(self.version), package).items()
                       if k in ("pipeline_spec", "platform_spec")}
            if refused:
                return 400, {"error_message": f"invalid v2 pipeline spec: {'; '.join(refused.values())}"}
            if path == "pipelines/upload":
                namespace = q.get("namespace", "")
                if any(p["name"] == q["name"] and p["namespace"] == namespace for p in s.pipelines.values()):
                    return 409, {"error_message": f"The name {q['name']} already exists"}
                pipeline = {"pipeline_id": str(uuid.uuid4()), "name": q["name"],
                            "display_name": q.get("display_name") or q["name"],
                            "description": q.get("description", ""), "namespace": namespace}
                s.pipelines[pipeline["pipeline_id"]] = pipeline
                self._add_version(pipeline["pipeline_id"], pipeline["name"], package)
                return 200, pipeline
            if q.get("pipelineid") not in s.pipelines:
                return 400, {"error_message": "Failed to create a pipeline version"}
            if any(v["pipeline_id"] == q["pipelineid"] and v["name"] == q["name"] for v in s.versions.values()):
                return 409, {"error_message": "Failed to create a pipeline version"}
            return 200, self._add_version(q["pipelineid"], q["name"], package)
        if (method, path) == ("GET", "pipelines"):
            found = [p for p in s.pipelines.values() if _matches(p, q.get("filter"))
                     and p["namespace"] == q.get("namespace", "")]
            return 200, {"pipelines": found, "total_size": len(found)} if found else {}
        if method == "GET" and len(parts) == 3 and parts[0] == "pipelines" and parts[2] == "versions":
            found = [v for v in s.versions.values() if v["pipeline_id"] == parts[1] and _matches(v, q.get("filter"))]
            return 200, {"pipeline_versions": found, "total_size": len(found)} if found else {}
        if path == "experiments":
            if method == "GET":
                found = [e for e in s.experiments.values() if _matches(e, q.get("filter"))
                         and e["namespace"] == q.get("namespace", "")]
                return 200, {"experiments": found} if found else {}
            request = json.loads(body)
            experiment = {"experiment_id": str(uuid.uuid4()), "display_name": request["display_name"],
                          "namespace": request.get("namespace", "")}
            s.experiments[experiment["experiment_id"]] = experiment
            return 200, experiment
        if (method, path) == ("POST", "runs"):
            request = json.loads(body)
            ref = request["pipeline_version_reference"]
            if request["experiment_id"] not in s.experiments or ref["pipeline_version_id"] not in s.versions:
                return 404, {"message": "NotFound: experiment or pipeline version"}
            package = s.packages[ref["pipeline_version_id"]]
            problems = compile_problems(self.version, package)
            if problems:
                message = "Internal error: Failed to compile job: failed to unmarshal kubernetes config: " + \
                          "; ".join(problems.values())
                return 500, {"error": message, "code": 13, "message": message}
            run = {**request, "run_id": str(uuid.uuid4()), "state": "PENDING", "polls": 0}
            s.runs[run["run_id"]] = run
            if self.on_run:
                worker = threading.Thread(target=self._finish, args=(run, package))
                self.workers.append(worker)
                worker.start()
            return 200, {k: v for k, v in run.items() if k != "polls"}
        if method == "GET" and len(parts) == 2 and parts[0] == "runs" and parts[1] in s.runs:
            run = s.runs[parts[1]]
            run["polls"] += 1
            if not self.on_run:
                run["state"] = {1: "RUNNING"}.get(run["polls"], "SUCCEEDED")
            return 200, {k: v for k, v in run.items() if k != "polls"}
        return 404, {"message": f"NotFound: {method} {path}"}

    def _add_version(self, pipeline_id: str, name: str, package: str) -> dict[str, Any]:
        version = {"pipeline_id": pipeline_id, "pipeline_version_id": str(uuid.uuid4()),
                   "name": name, "display_name": name}
        self.store.versions[version["pipeline_version_id"]] = version
        self.store.packages[version["pipeline_version_id"]] = package
        return version

    def _finish(self, run: dict[str, Any], package: str) -> None:
        with self.lock:
            run["state"] = "RUNNING"
        assert self.on_run is not None
        state = self.on_run(run, package)
        with self.lock:
            run["state"] = state


# -- what the KFP tests share ----------------------------------------------------------------

FAKE_SECRETS = {"mlpipeline-minio-artifact": {"accesskey": "unused-here", "secretkey": "unused-here"}}
BROKEN = {"name": "broken", "estimator": "KNeighborsClassifier", "params": {"n_neighbors": 5000}}


def pod_env() -> dict[str, str]:
    """A pod's environment: nothing from this shell's S3 settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BAKEOFF_S3_"))}


def team_config(folder: Path, storage: str, **changes: Any) -> Path:
    """breast-cancer as a user keeps it, config and data/ side by side; a model that fails added."""
    config, _ = write_example("breast-cancer", folder)
    data = yaml.safe_load(config.read_text())
    data |= {"storage": storage, "models": data["models"][:1] + [BROKEN], **changes}
    config.write_text(yaml.safe_dump(data))
    return config

"""STAND-INS for Kubeflow Pipelines, for tests only. No KFP API server can run on these machines.

``StandInKfp`` is a small HTTP server. It is not KFP. It implements the KFP v2beta1 REST endpoints
that ``bakeoff.kfp.client`` calls, with KFP's paths, fields and status codes: healthz;
pipelines/upload and pipelines/upload_version (multipart, 409 on an existing name);
pipelines?filter=… and pipelines/{id}/versions?filter=…; experiments; runs and runs/{id}. It keeps
its state in memory and binds 127.0.0.1 only.

``execute`` stands in for KFP's driver and launcher. It runs a compiled pipeline's tasks as
subprocesses, each as soon as its upstream tasks are done (train tasks run at once, as pods do),
and resolves the placeholders that bakeoff's components use. It honours ``ParallelFor``, ``ALL_UPSTREAM_TASKS_COMPLETED``, container env vars and
``secretAsEnv`` (resolved from a dict of fake Secrets). It reads the executor output file the way
the launcher does. That is enough to run the real compiled YAML end to end without a cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import yaml

from bakeoff.examples import write_example

API = "/apis/v2beta1/"
BIN = Path(sys.executable).parent
TASK_TIMEOUT = 120  # seconds per task subprocess


# -- the executor (driver + launcher stand-in) ------------------------------------------------

@dataclass
class TaskRun:
    display_name: str
    state: str  # SUCCEEDED | FAILED | SKIPPED
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    executor_output: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)
    stderr: str = ""


class Execution:
    def __init__(self, package: str, job_id: str, workdir: Path, env: dict[str, str],
                 secrets: dict[str, dict[str, str]]) -> None:
        docs = [d for d in yaml.safe_load_all(package) if d]
        self.spec = docs[0]
        self.platform = (docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
                         if len(docs) > 1 else {})
        self.job_id, self.workdir, self.env, self.secrets = job_id, workdir, env, secrets
        self.tasks: list[TaskRun] = []
        self.lock = threading.Lock()

    def run(self, parameters: dict[str, Any]) -> str:
        root = self.spec["root"]
        inputs = {k: v["defaultValue"] for k, v in root.get("inputDefinitions", {}).get("parameters", {}).items()
                  if "defaultValue" in v}
        return self._dag(root["dag"], {**inputs, **parameters})

    def _dag(self, dag: dict[str, Any], scope: dict[str, Any]) -> str:
        """Run a DAG in waves: every task whose upstream tasks are done runs at once, as pods do."""
        tasks = dag["tasks"]
        states: dict[str, str] = {}
        outputs: dict[str, dict[str, Any]] = {}
        for _ in range(len(tasks)):  # bounded: every wave finishes at least one task
            ready = [n for n, t in tasks.items()
                     if n not in states and all(d in states for d in t.get("dependentTasks", []))]
            if not ready:
                break
            with ThreadPoolExecutor(max_workers=len(ready)) as pool:
                done = list(pool.map(lambda n: self._task(n, tasks[n], scope, states, outputs), ready))
            for name, (state, produced) in zip(ready, done, strict=True):
                states[name], outputs[name] = state, produced
        assert len(states) == len(tasks), "cycle in the DAG"
        return "SUCCEEDED" if all(s == "SUCCEEDED" for s in states.values()) else "FAILED"

    def _task(self, name: str, task: dict[str, Any], scope: dict[str, Any], states: dict[str, str],
              outputs: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        upstream_ok = all(states[d] == "SUCCEEDED" for d in task.get("dependentTasks", []))
        runs_anyway = task.get("triggerPolicy", {}).get("strategy") == "ALL_UPSTREAM_TASKS_COMPLETED"
        if not upstream_ok and not runs_anyway:
            return "SKIPPED", {}
        component = self.spec["components"][task["componentRef"]["name"]]
        inputs = self._inputs(task, component, scope, outputs)
        if "parameterIterator" in task:
            it = task["parameterIterator"]
            items = inputs[it["items"]["inputParameter"]]
            limit = task.get("iteratorPolicy", {}).get("parallelismLimit") or len(items) or 1
            with ThreadPoolExecutor(max_workers=limit) as pool:
                results = list(pool.map(lambda item: self._dag(component["dag"], {**inputs, it["itemInput"]: item}),
                                        items))
            return ("SUCCEEDED" if all(r == "SUCCEEDED" for r in results) else "FAILED"), {}
        if "dag" in component:
            return self._dag(component["dag"], inputs), {}
        done = self._container(name, task, component, inputs)
        return done.state, done.outputs

    def _inputs(self, task: dict[str, Any], component: dict[str, Any], scope: dict[str, Any],
                outputs: dict[str, dict[str, Any]]) -> dict[str, Any]:
        values = {k: v["defaultValue"] for k, v in component.get("inputDefinitions", {}).get("parameters", {}).items()
                  if "defaultValue" in v}
        for key, source in task.get("inputs", {}).get("parameters", {}).items():
            if "componentInputParameter" in source:
                values[key] = scope[source["componentInputParameter"]]
            elif "taskOutputParameter" in source:
                ref = source["taskOutputParameter"]
                produced = outputs.get(ref["producerTask"], {})
                if ref["outputParameterKey"] in produced:  # else the default stays (upstream failed)
                    values[key] = produced[ref["outputParameterKey"]]
            else:
                values[key] = source["runtimeValue"]["constant"].replace("{{$.pipeline_job_uuid}}", self.job_id)
        return values

    def _container(self, name: str, task: dict[str, Any], component: dict[str, Any],
                   inputs: dict[str, Any]) -> TaskRun:
        label = component["executorLabel"]
        container = self.spec["deploymentSpec"]["executors"][label]["container"]
        folder = self.workdir / f"{name}-{uuid.uuid4().hex[:8]}"
        folder.mkdir(parents=True)
        out_defs = component.get("outputDefinitions", {})
        params = {n: folder / n for n in out_defs.get("parameters", {})}
        artifacts = {n: folder / "artifacts" / n for n in out_defs.get("artifacts", {})}
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
        subs |= {f"{{{{$.inputs.parameters['{k}']}}}}": v if isinstance(v, str) else json.dumps(v)
                 for k, v in inputs.items()}
        subs |= {f"{{{{$.outputs.parameters['{k}'].output_file}}}}": str(p) for k, p in params.items()}
        subs |= {f"{{{{$.outputs.artifacts['{k}'].path}}}}": str(p) for k, p in artifacts.items()}

        def resolve(arg: str) -> str:
            for placeholder, value in subs.items():
                arg = arg.replace(placeholder, value)
            return arg

        command = [resolve(a) for a in container["command"] + container.get("args", [])]
        env = {**self.env, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        env |= {e["name"]: e["value"] for e in container.get("env", [])}
        for secret in self.platform.get(label, {}).get("secretAsEnv", []):
            for pair in secret["keyToEnv"]:
                env[pair["envVar"]] = self.secrets[secret["secretName"]][pair["secretKey"]]
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TASK_TIMEOUT)
        done = TaskRun(task["taskInfo"]["name"], "SUCCEEDED" if proc.returncode == 0 else "FAILED",
                       inputs=inputs, artifacts=artifacts, command=command, stderr=proc.stderr)
        if done.state == "SUCCEEDED":
            for n, p in params.items():
                text = p.read_text()
                kind = out_defs["parameters"][n]["parameterType"]
                done.outputs[n] = text if kind == "STRING" else json.loads(text)
            output_file = Path(executor_input["outputs"]["outputFile"])
            if output_file.is_file():
                done.executor_output = json.loads(output_file.read_text())
        with self.lock:
            self.tasks.append(done)
        return done


def execute(package: str, parameters: dict[str, Any], *, workdir: Path, env: dict[str, str],
            secrets: dict[str, dict[str, str]], job_id: str | None = None) -> tuple[str, Execution]:
    """Run a compiled pipeline; returns KFP's final run state and what each task did."""
    execution = Execution(package, job_id or str(uuid.uuid4()), workdir, env, secrets)
    return execution.run(parameters), execution


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
    and returns the run's final state; without it a run goes PENDING, RUNNING, SUCCEEDED."""

    def __init__(self, *, token: str | None = None, cookie: str | None = None, forbid: bool = False,
                 multi_user: bool = False, on_run: Callable[[dict[str, Any], str], str] | None = None) -> None:
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

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        kfp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _serve(self, method: str) -> None:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                kfp.store.requests.append((method, url.path, dict(self.headers)))
                if kfp.token and self.headers.get("Authorization") != f"Bearer {kfp.token}" and not (
                        kfp.cookie and self.headers.get("Cookie") == kfp.cookie):
                    return self._reply(401, {"error": "Unauthenticated", "code": 16, "message": "no valid token"})
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
            return 200, {"commit_sha": "stand-in", "tag_name": "stand-in", "multi_user": self.multi_user}
        if method == "POST" and path in ("pipelines/upload", "pipelines/upload_version"):
            package = self._uploaded(body, content_type)
            if "pipelineInfo" not in (yaml.safe_load(package.split("\n---")[0]) or {}):
                return 400, {"error_message": "Failed to read a pipeline spec file"}
            if path == "pipelines/upload":
                if any(p["name"] == q["name"] for p in s.pipelines.values()):
                    return 409, {"error_message": "Failed to create a pipeline and a pipeline version"}
                pipeline = {"pipeline_id": str(uuid.uuid4()), "name": q["name"],
                            "display_name": q.get("display_name") or q["name"],
                            "description": q.get("description", ""), "namespace": q.get("namespace", "")}
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
                     and p["namespace"] in ("", q.get("namespace", ""))]
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
            run = {**request, "run_id": str(uuid.uuid4()), "state": "PENDING", "polls": 0}
            s.runs[run["run_id"]] = run
            if self.on_run:
                worker = threading.Thread(target=self._finish, args=(run, s.packages[ref["pipeline_version_id"]]))
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
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}


def team_config(folder: Path, storage: str, **changes: Any) -> Path:
    """breast-cancer as a user keeps it, config and data/ side by side; a model that fails added."""
    config, _ = write_example("breast-cancer", folder)
    data = yaml.safe_load(config.read_text())
    data |= {"storage": storage, "models": data["models"][:1] + [BROKEN], **changes}
    config.write_text(yaml.safe_dump(data))
    return config

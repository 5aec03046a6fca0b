"""A small client for the Kubeflow Pipelines v2beta1 REST API: only the calls bakeoff makes.

The user-facing methods (``publish``, ``ensure_experiment``, ``start_run``, ``wait``) sit on one
transport method, ``_call``. Only ``_call`` knows HTTP: it sets the auth headers and timeouts,
and it turns each failure into one line that says what to set. A 409 is not a failure here: it
means "exists already", and the callers look the object up instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bakeoff.errors import UserError

API = "/apis/v2beta1"
ENV_ENDPOINT = "KF_PIPELINES_ENDPOINT"
ENV_TOKEN = "KF_PIPELINES_TOKEN"
ENV_COOKIE = "KF_PIPELINES_COOKIE"
ENV_SA_TOKEN_PATH = "KF_PIPELINES_SA_TOKEN_PATH"  # the variable kfp.Client reads, too
DEFAULT_SA_TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"
TERMINAL_STATES = ("SUCCEEDED", "FAILED", "SKIPPED", "CANCELED")
CONNECT_SECONDS = 10.0


class Conflict(Exception):
    """HTTP 409: the name exists already."""


@dataclass(frozen=True)
class Auth:
    """A bearer token (or the file that holds one) and/or a session cookie. Never logged, never
    written anywhere."""

    token: str | None = None
    cookie: str | None = None
    token_path: Path | None = None

    @classmethod
    def resolve(cls, token: str | None = None, cookie: str | None = None) -> Auth:
        """``--token``, else $KF_PIPELINES_TOKEN, else the in-cluster service-account token file."""
        token = token or os.environ.get(ENV_TOKEN)
        path = None
        if not token:
            named = os.environ.get(ENV_SA_TOKEN_PATH)
            if named and not Path(named).is_file():
                raise UserError(f"{ENV_SA_TOKEN_PATH}: {named} is not a file; mount the projected "
                                "service-account token there or unset the variable")
            path = Path(named) if named else Path(DEFAULT_SA_TOKEN_PATH) if Path(DEFAULT_SA_TOKEN_PATH).is_file() else None
        return cls(token or None, cookie or os.environ.get(ENV_COOKIE) or None, path)

    def headers(self) -> dict[str, str]:
        """Read for every request: the kubelet rotates a projected service-account token, and
        kfp.Client reads the file again for every call too (kfp/client/set_volume_credentials.py,
        ``refresh_api_key_hook``)."""
        headers = {}
        token = self.token or (self.token_path.read_text(encoding="utf-8").strip() if self.token_path else None)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self.cookie:
            headers["Cookie"] = self.cookie
        return headers


@dataclass(frozen=True)
class Version:
    pipeline_id: str
    version_id: str
    name: str
    created: bool


def content_name(package: str) -> str:
    """A version's name is its content hash: uploading the same pipeline twice adds nothing."""
    return "sha256-" + hashlib.sha256(package.encode("utf-8")).hexdigest()[:16]


def _message(body: bytes) -> str:
    """The error text of a KFP response: grpc-gateway says `message`, the upload server `error_message`."""
    try:
        data = json.loads(body)
        text = data.get("message") or data.get("error_message") or data.get("error") or ""
    except (ValueError, AttributeError):
        text = body.decode("utf-8", "replace")
    return " ".join(str(text).split())[:200] or "no message"


class KfpClient:
    def __init__(self, host: str | None, auth: Auth, namespace: str | None = None,
                 timeout: float = 60.0) -> None:
        import requests

        host = host or os.environ.get(ENV_ENDPOINT)
        if not host:
            raise UserError(f"--host: no Kubeflow Pipelines endpoint; pass --host URL or set {ENV_ENDPOINT}")
        self.host = (host if "://" in host else f"http://{host}").rstrip("/")
        self.namespace = namespace or None
        self.timeout = timeout
        self.auth = auth
        self.session = requests.Session()

    # -- transport ----------------------------------------------------------------------------

    def _call(self, method: str, path: str, *, params: dict[str, str] | None = None,
              body: dict[str, Any] | None = None, package: str | None = None) -> dict[str, Any]:
        import requests

        files = {"uploadfile": ("pipeline.yaml", package.encode("utf-8"), "application/x-yaml")} if package else None
        try:
            response = self.session.request(method, f"{self.host}{API}/{path}", params=params, json=body,
                                            files=files, headers=self.auth.headers(),
                                            timeout=(CONNECT_SECONDS, self.timeout))
        except requests.RequestException as exc:
            reason = type(exc).__name__
            raise UserError(f"--host: cannot reach Kubeflow Pipelines at {self.host} ({reason}); check the "
                            "URL, or port-forward the UI: kubectl -n kubeflow port-forward "
                            "svc/ml-pipeline-ui 8080:80 and pass --host http://localhost:8080") from None
        status, what = response.status_code, f"{method} {path.split('?')[0]}"
        if status == 409:
            raise Conflict(_message(response.content))
        if status == 401:
            raise UserError(f"--token: {self.host} answered 401 Unauthorized to {what}; pass --token or set "
                            f"{ENV_TOKEN} (a bearer token), pass --cookie or set {ENV_COOKIE} (your session "
                            f"cookie: oauth2_proxy_kubeflow=… on Kubeflow 1.9 and newer, authservice_session=… "
                            f"before), or in a pod set {ENV_SA_TOKEN_PATH}")
        if status == 400 and path.startswith("pipelines/upload"):
            # The upload server answers a failed permission check with 400, not 403
            # (backend/src/apiserver/server/pipeline_upload_server.go, uploadPipeline); the file
            # itself was validated before it was sent, so that is what a 400 means here.
            raise UserError(f"--namespace: {self.host} refused {what} with HTTP 400 "
                            f"({_message(response.content)}); that is how Kubeflow Pipelines answers an "
                            f"identity without permission in namespace {self.namespace or '(none: shared)'}: "
                            "pass --namespace of a profile you belong to, or ask an admin for access")
        if status == 403:
            raise UserError(f"--namespace: {self.host} answered 403 Forbidden to {what} "
                            f"({_message(response.content)}); this identity may not do that in namespace "
                            f"{self.namespace or '(none: shared)'}: pass --namespace of a profile you "
                            "belong to, or ask an admin for access")
        if status >= 400:
            raise UserError(f"--host: {what} failed with HTTP {status}: {_message(response.content)}")
        kind = response.headers.get("Content-Type", "")
        if response.content and "json" not in kind:
            raise UserError(f"--host: {self.host} answered {what} with {kind or 'no content type'}, not "
                            "JSON (a login page?); pass --token or --cookie, or point --host at the KFP API")
        return response.json() if response.content else {}

    # -- API ------------------------------------------------------------------------------------

    def _ns(self) -> dict[str, str]:
        return {"namespace": self.namespace} if self.namespace else {}

    def _find(self, path: str, key: str, name: str, params: dict[str, str] | None = None) -> dict[str, Any] | None:
        flt = json.dumps({"predicates": [{"key": "display_name", "operation": "EQUALS", "string_value": name}]})
        found = self._call("GET", path, params={"filter": flt, **(params or {})}).get(key) or []
        return found[0] if found else None

    def healthz(self) -> dict[str, Any]:
        return self._call("GET", "healthz")

    def find_pipeline(self, name: str) -> dict[str, Any] | None:
        return self._find("pipelines", "pipelines", name, self._ns())

    def find_version(self, pipeline_id: str, name: str) -> dict[str, Any] | None:
        return self._find(f"pipelines/{pipeline_id}/versions", "pipeline_versions", name)

    def publish(self, name: str, package: str, description: str = "") -> Version:
        """Make sure pipeline ``name`` has a version with this exact content, named by its hash.

        A new pipeline is created by upload; KFP names its first version after the pipeline, and
        the content-named version is added next to it. An existing name (409) gets a version.
        """
        version_name = content_name(package)
        try:
            pipeline = self._call("POST", "pipelines/upload", package=package, params={
                "name": name, "display_name": name, "description": description, **self._ns()})
        except Conflict:
            pipeline = self.find_pipeline(name)
            if pipeline is None:
                raise UserError(f"--name: {name!r} exists but is not visible here; pass the --namespace "
                                "it lives in, or another --name") from None
        pipeline_id = pipeline["pipeline_id"]
        if (found := self.find_version(pipeline_id, version_name)) is not None:
            return Version(pipeline_id, found["pipeline_version_id"], version_name, created=False)
        try:
            made = self._call("POST", "pipelines/upload_version", package=package, params={
                "pipelineid": pipeline_id, "name": version_name, "display_name": version_name,
                "description": description})
            return Version(pipeline_id, made["pipeline_version_id"], version_name, created=True)
        except Conflict:  # another upload of the same content won the race
            found = self.find_version(pipeline_id, version_name)
            if found is None:
                raise
            return Version(pipeline_id, found["pipeline_version_id"], version_name, created=False)

    def ensure_experiment(self, name: str) -> str:
        if (found := self._find("experiments", "experiments", name, self._ns())) is not None:
            return found["experiment_id"]
        try:
            return self._call("POST", "experiments", body={"display_name": name, **self._ns()})["experiment_id"]
        except Conflict:
            found = self._find("experiments", "experiments", name, self._ns())
            if found is None:
                raise
            return found["experiment_id"]

    def start_run(self, display_name: str, experiment_id: str, version: Version,
                  parameters: dict[str, Any]) -> str:
        run = self._call("POST", "runs", body={
            "display_name": display_name,
            "experiment_id": experiment_id,
            "pipeline_version_reference": {"pipeline_id": version.pipeline_id,
                                           "pipeline_version_id": version.version_id},
            "runtime_config": {"parameters": parameters},
        })
        return run["run_id"]

    def run_state(self, run_id: str) -> str:
        return self._call("GET", f"runs/{run_id}").get("state") or "RUNTIME_STATE_UNSPECIFIED"

    def wait(self, run_id: str, timeout: float, first_poll: float = 1.0, max_poll: float = 5.0,
             sleep: Callable[[float], None] = time.sleep) -> str:
        """Poll until the run ends: soon at first, then every ``max_poll`` s; bounded in polls and time."""
        deadline = time.monotonic() + timeout
        interval, state = first_poll, "RUNTIME_STATE_UNSPECIFIED"
        for _ in range(int(timeout / first_poll) + 2):
            state = self.run_state(run_id)
            if state in TERMINAL_STATES:
                return state
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            sleep(min(interval, remaining))
            interval = min(interval * 2, max_poll)
        raise UserError(f"--timeout: the run is still {state} after {timeout:g} s; follow it at "
                        f"{self.run_url(run_id)}")

    def run_url(self, run_id: str) -> str:
        return f"{self.host}/#/runs/details/{run_id}"


def connect(host: str | None, token: str | None = None, cookie: str | None = None,
            namespace: str | None = None) -> KfpClient:
    """A client that has reached the API once, so a bad host, auth or backend version fails
    before any upload. healthz reports the version (backend/src/apiserver/main.go: tag_name)."""
    from bakeoff.kfp.backends import check_supported

    client = KfpClient(host, Auth.resolve(token, cookie), namespace)
    health = client.healthz()
    check_supported(str(health.get("tag_name") or "unknown"), client.host)
    if health.get("multi_user") and not client.namespace:
        raise UserError("--namespace: this Kubeflow is multi-user; pass your profile's namespace, "
                        "such as --namespace kubeflow-user-example-com")
    return client

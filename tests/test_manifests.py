"""Offline checks of manifests/: render every kustomization, validate it, enforce our policy.

No API server runs here, so: `kubectl kustomize` renders, `kubernetes-validate --strict`
checks every object against the schemas of a pinned Kubernetes version, and the policy
checks below read the rendered YAML. Each check is a plain function returning violations;
`test_checks_catch_*` feed them broken objects to prove they can fail.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from bakeoff.spec import KfpSettings

K8S_VERSION = "1.30.0"  # oldest Kubernetes we support; kubernetes-validate ships its schemas
CONFIG_MAP = "bakeoff-config"  # read by the pipeline pods and `bakeoff submit`
CONFIG_KEYS = {"BAKEOFF_STORE", "AWS_ENDPOINT_URL", "AWS_REGION", "MLFLOW_TRACKING_URI",
               "MLFLOW_S3_ENDPOINT_URL", "MLFLOW_ARTIFACTS_DESTINATION"}
BUCKET = "bakeoff"
# Who may reach MinIO and MLflow: bakeoff's own pods, and KFP v2 pipeline pods.
ALLOWED_PEER_LABELS = {("app.kubernetes.io/part-of", "bakeoff"),
                       ("pipelines.kubeflow.org/v2_component", "true")}

MANIFESTS = Path(__file__).resolve().parents[1] / "manifests"
KUSTOMIZATIONS = sorted(p.parent.relative_to(MANIFESTS).as_posix()
                        for p in MANIFESTS.rglob("kustomization.yaml"))
OVERLAYS = sorted(p for p in KUSTOMIZATIONS if p.startswith("overlays/"))
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod", "InferenceService"}
LONG_RUNNING = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "InferenceService"}
# Custom resources, checked against their CRD's vendored OpenAPI schema (tests/schemas/README.md).
CRD_SCHEMAS = {("serving.kserve.io/v1beta1", "InferenceService"):
               Path(__file__).parent / "schemas" / "kserve-inferenceservice-v1beta1.json"}
SECRET_ENV = re.compile(r"KEY|SECRET|PASSWORD|TOKEN|CREDENTIAL", re.I)
URI_WITH_PASSWORD = re.compile(r"://[^/\s:@]+:[^/\s@]+@")


# ---------------------------------------------------------------- rendering

def kubectl() -> str:
    path = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not path:
        pytest.fail("kubectl not found on PATH (or $KUBECTL): it renders manifests/ with "
                    "`kubectl kustomize`. Install kubectl >= 1.27; CI installs it.")
    return path


@functools.lru_cache(maxsize=None)
def _render(relpath: str) -> tuple[dict, ...]:
    proc = subprocess.run([kubectl(), "kustomize", str(MANIFESTS / relpath)],
                          capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        pytest.fail(f"kubectl kustomize manifests/{relpath} failed:\n{proc.stderr}")
    return tuple(d for d in yaml.safe_load_all(proc.stdout) if d)


def render(relpath: str) -> list[dict]:
    return list(_render(relpath))


def settings() -> KfpSettings:
    return KfpSettings()


def name(doc: dict) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def pod_spec(doc: dict) -> dict | None:
    kind = doc.get("kind")
    if kind not in WORKLOADS:
        return None
    if kind == "Pod":
        return doc["spec"]
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if kind == "InferenceService":  # the predictor is a pod spec; its `model` is the server's container
        return doc["spec"]["predictor"]
    return doc["spec"]["template"]["spec"]


def containers(doc: dict):
    spec = pod_spec(doc) or {}
    if doc.get("kind") == "InferenceService":
        yield f"{name(doc)}[model]", {**spec, "containers": [spec["model"]]}, spec["model"]
    for field in ("initContainers", "containers"):
        for c in spec.get(field) or []:
            yield f"{name(doc)}[{c['name']}]", spec, c


def env_vars(docs: list[dict]):
    for doc in docs:
        for where, _, c in containers(doc):
            for e in c.get("env") or []:
                yield where, e


def config_map(docs: list[dict]) -> dict:
    found = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == CONFIG_MAP]
    assert len(found) == 1, f"expected one ConfigMap {CONFIG_MAP}, found {len(found)}"
    return found[0].get("data") or {}


# ---------------------------------------------------------------- checks (return violations)

@functools.lru_cache(maxsize=None)
def crd_validator(api_version: str, kind: str):  # noqa: ANN201
    """A JSON-schema validator for a custom resource: its CRD's OpenAPI v3 schema, made strict
    as `kubectl apply --validate=strict` is (an unknown field is an error, not dropped)."""
    import json

    import jsonschema

    data = {"enum", "default", "example", "required", "x-kubernetes-list-map-keys"}  # values, not schemas

    def strict(node):  # noqa: ANN001, ANN202
        if isinstance(node, list):
            return [strict(n) for n in node]
        if not isinstance(node, dict):
            return node
        out = {k: v if k in data else strict(v) for k, v in node.items()}
        if "properties" in node and "additionalProperties" not in node and \
                not node.get("x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out

    schema = json.loads(CRD_SCHEMAS[(api_version, kind)].read_text())
    properties = schema["properties"]
    # apiVersion, kind and metadata are the API server's; the CRD types metadata as a bare object.
    return jsonschema.Draft7Validator(strict({**schema, "properties": {
        **properties, "metadata": {"type": "object", "required": ["name"]}}}))


def check_schema(docs: list[dict]) -> list[str]:
    errors = []
    for doc in docs:
        if (doc.get("apiVersion"), doc.get("kind")) in CRD_SCHEMAS:
            for e in crd_validator(doc["apiVersion"], doc["kind"]).iter_errors(doc):
                errors.append(f"{name(doc)}: {'.'.join(str(p) for p in e.absolute_path)}: {e.message}")
            continue
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            errors.append(f"{name(doc)}: {path}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:  # a warning in the CLI; not here
            errors.append(f"{name(doc)}: {e.message}")
    return errors


def check_images(docs: list[dict]) -> list[str]:
    errors = []
    for doc in docs:
        for where, _, c in containers(doc):
            image = c.get("image", "")
            if "@sha256:" in image:
                continue
            last = image.rsplit("/", 1)[-1]
            tag = last.split(":", 1)[1] if ":" in last else ""
            if not tag or tag == "latest" or tag.startswith("latest-"):
                errors.append(f"{where}: image {image!r} is not pinned to a version tag")
    return errors


def check_resources(docs: list[dict]) -> list[str]:
    errors = []
    for doc in docs:
        for where, _, c in containers(doc):
            res = c.get("resources") or {}
            for kind in ("requests", "limits"):
                missing = {"cpu", "memory"} - set(res.get(kind) or {})
                if missing:
                    errors.append(f"{where}: no {kind} for {', '.join(sorted(missing))}")
    return errors


def check_security(docs: list[dict]) -> list[str]:
    errors = []
    for doc in docs:
        for where, spec, c in containers(doc):
            pod = spec.get("securityContext") or {}
            sc = c.get("securityContext") or {}
            if not sc.get("runAsNonRoot", pod.get("runAsNonRoot")):
                errors.append(f"{where}: runAsNonRoot is not true")
            if sc.get("runAsUser", pod.get("runAsUser")) == 0:
                errors.append(f"{where}: runs as uid 0")
            if sc.get("privileged"):
                errors.append(f"{where}: privileged")
            if sc.get("allowPrivilegeEscalation") is not False:
                errors.append(f"{where}: allowPrivilegeEscalation is not false")
            if sc.get("readOnlyRootFilesystem") is not True:
                errors.append(f"{where}: readOnlyRootFilesystem is not true")
            if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
                errors.append(f"{where}: capabilities do not drop ALL")
    return errors


def check_probes(docs: list[dict]) -> list[str]:
    errors = []
    for doc in docs:
        if doc["kind"] not in LONG_RUNNING:
            continue
        for where, spec, c in containers(doc):
            if c not in (spec.get("containers") or []):
                continue  # init containers run to completion
            for probe in ("readinessProbe", "livenessProbe"):
                if not c.get(probe):
                    errors.append(f"{where}: no {probe}")
    return errors


def check_no_literal_secrets(docs: list[dict]) -> list[str]:
    errors = []
    for doc in docs:
        if doc["kind"] == "Secret" and (doc.get("data") or doc.get("stringData")):
            errors.append(f"{name(doc)}: Secret with literal values in the rendered manifests")
        if doc["kind"] == "ConfigMap":
            for key, value in (doc.get("data") or {}).items():
                if SECRET_ENV.search(key) or URI_WITH_PASSWORD.search(str(value)):
                    errors.append(f"{name(doc)}: {key} looks like a credential in a ConfigMap")
    for where, e in env_vars(docs):
        literal = str(e.get("value", ""))
        if "value" in e and SECRET_ENV.search(e["name"]):
            errors.append(f"{where}: env {e['name']} has a literal value; use a secretKeyRef")
        if URI_WITH_PASSWORD.search(literal):
            errors.append(f"{where}: env {e['name']} embeds a password in a URI")
    return errors


def check_secret_refs(docs: list[dict], s: KfpSettings) -> list[str]:
    """S3 credentials always come from the Secret and keys the compiled pipelines use."""
    expected = {"AWS_ACCESS_KEY_ID": s.access_key_field, "MINIO_ROOT_USER": s.access_key_field,
                "AWS_SECRET_ACCESS_KEY": s.secret_key_field,
                "MINIO_ROOT_PASSWORD": s.secret_key_field}
    errors, seen = [], 0
    for where, e in env_vars(docs):
        ref = (e.get("valueFrom") or {}).get("secretKeyRef")
        if e["name"] in expected:
            if not ref:
                errors.append(f"{where}: {e['name']} does not come from a Secret")
                continue
            seen += 1
            if (ref["name"], ref["key"]) != (s.secret_name, expected[e["name"]]):
                errors.append(f"{where}: {e['name']} reads {ref['name']}/{ref['key']}, expected "
                              f"{s.secret_name}/{expected[e['name']]}")
        elif ref and ref["name"] == s.secret_name and \
                ref["key"] not in (s.access_key_field, s.secret_key_field):
            errors.append(f"{where}: {s.secret_name} has no key {ref['key']!r}")
    if not seen:
        errors.append("no container reads the S3 credentials Secret at all")
    grants = [r for d in docs if d["kind"] == "Role" for r in d.get("rules", [])
              if "secrets" in r.get("resources", []) and "get" in r.get("verbs", [])]
    if not any(s.secret_name in r.get("resourceNames", []) for r in grants):
        errors.append(f"no Role lets the pipeline pods get Secret {s.secret_name}")
    if any(not r.get("resourceNames") for r in grants):
        errors.append("a Role grants get on every Secret: name them (least privilege)")
    return errors


def _service_port(docs: list[dict], url: str) -> str | None:
    """Return None when `url` reaches a port of a Service rendered here, else why not."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port
    labels = host.split(".")
    if len(labels) > 2 and labels[2:] not in (["svc"], ["svc", "cluster", "local"]):
        return f"{url}: {host} is not an in-cluster Service name"
    for doc in docs:
        if doc["kind"] != "Service" or doc["metadata"]["name"] != labels[0]:
            continue
        if len(labels) > 1 and doc["metadata"].get("namespace") != labels[1]:
            continue
        if port in {p["port"] for p in doc["spec"]["ports"]}:
            return None
        return f"{url}: Service {labels[0]} has no port {port}"
    return f"{url}: no Service {host} in these manifests"


def check_config(docs: list[dict], s: KfpSettings) -> list[str]:
    errors = []
    data = config_map(docs)
    missing = CONFIG_KEYS - set(data)
    if missing:
        return [f"{CONFIG_MAP}: missing {', '.join(sorted(missing))}"]
    for key in ("BAKEOFF_STORE", "MLFLOW_ARTIFACTS_DESTINATION"):
        uri = urlsplit(data[key])
        if (uri.scheme, uri.netloc) != ("s3", BUCKET):
            errors.append(f"{CONFIG_MAP}: {key}={data[key]!r} is not in s3://{BUCKET}/")
    if not data["BAKEOFF_STORE"].endswith("/"):
        errors.append(f"{CONFIG_MAP}: BAKEOFF_STORE should end with '/' (it is a root)")
    if data["MLFLOW_S3_ENDPOINT_URL"] != data["AWS_ENDPOINT_URL"]:
        errors.append(f"{CONFIG_MAP}: MLflow and the pipelines use different S3 endpoints")
    endpoint = data["AWS_ENDPOINT_URL"]
    # Either our own MinIO, rendered here, or the one the compiled pipelines default to.
    if endpoint != s.s3_endpoint and (why := _service_port(docs, endpoint)):
        errors.append(f"{CONFIG_MAP}: AWS_ENDPOINT_URL {why} (and not the KFP default "
                      f"{s.s3_endpoint})")
    if why := _service_port(docs, data["MLFLOW_TRACKING_URI"]):
        errors.append(f"{CONFIG_MAP}: MLFLOW_TRACKING_URI {why}")
    # Every key a container reads from the ConfigMap must exist.
    for where, e in env_vars(docs):
        ref = (e.get("valueFrom") or {}).get("configMapKeyRef")
        if ref and ref["name"] == CONFIG_MAP and ref["key"] not in data:
            errors.append(f"{where}: reads {CONFIG_MAP}/{ref['key']}, which does not exist")
        elif ref and ref["name"] != CONFIG_MAP and not ref.get("optional"):
            errors.append(f"{where}: reads unknown ConfigMap {ref['name']}")
    return errors


def _selects(selector: dict, labels: dict) -> bool:
    if selector.get("matchExpressions"):
        return False  # keep ours simple: matchLabels only
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def check_network_policies(docs: list[dict]) -> list[str]:
    """Every Service's pods sit behind a NetworkPolicy that admits only allowed peers."""
    errors = []
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    for svc in (d for d in docs if d["kind"] == "Service"):
        pod_labels = svc["spec"].get("selector") or {}
        covering = [p for p in policies if _selects(p["spec"].get("podSelector") or {}, pod_labels)
                    and p["metadata"].get("namespace") == svc["metadata"].get("namespace")]
        if not covering:
            errors.append(f"{name(svc)}: no NetworkPolicy selects its pods")
        for pol in covering:
            if "Ingress" not in (pol["spec"].get("policyTypes") or []):
                errors.append(f"{name(pol)}: does not restrict Ingress")
            for rule in pol["spec"].get("ingress") or []:
                peers = rule.get("from") or []
                if not peers:
                    errors.append(f"{name(pol)}: an ingress rule admits every source")
                for peer in peers:
                    labels = set(((peer.get("podSelector") or {}).get("matchLabels")
                                  or {}).items())
                    if "ipBlock" in peer or not labels & ALLOWED_PEER_LABELS:
                        errors.append(f"{name(pol)}: peer {peer} is not a bakeoff or KFP pod")
    return errors


POLICY_CHECKS = [check_images, check_resources, check_security, check_probes,
                 check_no_literal_secrets, check_network_policies]


# ---------------------------------------------------------------- tests on the real manifests

def assert_clean(errors: list[str]) -> None:
    assert not errors, "\n".join(["", *errors])


def test_kubectl_is_available():
    assert subprocess.run([kubectl(), "version", "--client"], capture_output=True).returncode == 0


def test_every_overlay_is_discovered():
    assert OVERLAYS == ["overlays/kubeflow", "overlays/standalone"], OVERLAYS


def test_pinned_kubernetes_version_has_schemas():
    # kubernetes-validate silently falls back to an older schema set; make sure it does not.
    assert K8S_VERSION in kubernetes_validate.utils.all_versions()


@pytest.mark.parametrize("relpath", KUSTOMIZATIONS)
def test_renders_and_validates(relpath):
    docs = render(relpath)
    assert docs, f"manifests/{relpath} renders nothing"
    assert_clean(check_schema(docs))


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("check", POLICY_CHECKS, ids=lambda f: f.__name__)
def test_policy(overlay, check):
    docs = render(overlay)
    assert any(pod_spec(d) for d in docs), "no workloads rendered: the checks would be vacuous"
    assert_clean(check(docs))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_names_match_the_package(overlay):
    docs = render(overlay)
    assert_clean(check_secret_refs(docs, settings()))
    assert_clean(check_config(docs, settings()))


def test_standalone_brings_its_own_store_and_tracking():
    docs = render("overlays/standalone")
    kinds = {name(d) for d in docs}
    assert {"StatefulSet/minio", "Deployment/mlflow", "Job/bakeoff-create-bucket",
            "Namespace/bakeoff"} <= kinds
    data = config_map(docs)
    assert _service_port(docs, data["AWS_ENDPOINT_URL"]) is None  # its own MinIO


def test_kubeflow_reuses_kfp_minio_in_a_profile_namespace():
    docs = render("overlays/kubeflow")
    kinds = {name(d) for d in docs}
    assert "StatefulSet/minio" not in kinds and "Deployment/mlflow" in kinds
    assert not [d for d in docs if d["kind"] == "Namespace"], "profile namespaces are Kubeflow's"
    namespace = {d["metadata"].get("namespace") for d in docs}
    assert len(namespace) == 1 and "kubeflow" not in namespace
    (ns,) = namespace
    data = config_map(docs)
    assert data["AWS_ENDPOINT_URL"] == settings().s3_endpoint
    assert data["BAKEOFF_STORE"] == f"s3://{BUCKET}/{ns}/"  # one prefix per profile
    binding = next(d for d in docs if name(d) == "RoleBinding/bakeoff-pipeline")
    assert {"kind": "ServiceAccount", "name": "default-editor", "namespace": ns} \
        in binding["subjects"]
    for doc in docs:
        if pod_spec(doc):
            annotations = doc["spec"]["template"]["metadata"].get("annotations") or {}
            assert annotations.get("sidecar.istio.io/inject") == "false", name(doc)


def test_secret_is_a_template_with_the_package_names():
    path = MANIFESTS / "base" / "secret-template.yaml"
    template = yaml.safe_load(path.read_text())
    s = settings()
    assert template["kind"] == "Secret"
    assert template["metadata"]["name"] == s.secret_name
    assert set(template["stringData"]) == {s.access_key_field, s.secret_key_field}
    assert set(template["stringData"].values()) == {"REPLACE_ME"}
    assert "kubectl -n bakeoff create secret generic " + s.secret_name in path.read_text()
    for overlay in OVERLAYS:  # never applied: re-applying must not clobber real keys
        assert not [d for d in render(overlay) if d["kind"] == "Secret"]


# ---------------------------------------------------------------- the checks can fail

def _deployment(container: dict, pod_security: dict | None = None) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "bad", "namespace": "bakeoff"},
            "spec": {"selector": {"matchLabels": {"app": "bad"}},
                     "template": {"metadata": {"labels": {"app": "bad"}},
                                  "spec": {"securityContext": pod_security or {},
                                           "containers": [{"name": "c", **container}]}}}}


def _good_docs(overlay="overlays/standalone") -> list[dict]:
    return copy.deepcopy(render(overlay))


@pytest.mark.parametrize("check, container", [
    (check_images, {"image": "minio/minio"}),
    (check_images, {"image": "minio/minio:latest"}),
    (check_images, {"image": "registry:5000/minio"}),
    (check_resources, {"image": "x:1", "resources": {"requests": {"cpu": "1", "memory": "1"}}}),
    (check_security, {"image": "x:1", "securityContext": {"runAsNonRoot": True}}),
    (check_probes, {"image": "x:1", "readinessProbe": {"tcpSocket": {"port": 1}}}),
    (check_no_literal_secrets, {"image": "x:1", "env": [{"name": "AWS_SECRET_ACCESS_KEY",
                                                         "value": "minio123"}]}),
    (check_no_literal_secrets, {"image": "x:1", "env": [{"name": "DB",
                                                         "value": "postgresql://u:p@db/x"}]}),
])
def test_checks_catch_a_bad_container(check, container):
    assert check([_deployment(container)])


def test_checks_catch_root_at_pod_level():
    good = {"image": "x:1", "securityContext": {
        "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]}}}
    assert check_security([_deployment(good, {"runAsNonRoot": True})]) == []
    assert check_security([_deployment(good, {"runAsNonRoot": True, "runAsUser": 0})])
    assert check_security([_deployment(good)])


def test_checks_catch_schema_errors():
    bad = _deployment({"image": "x:1", "imagePullPolicy": "Sometimes", "colour": "red"})
    assert check_schema([bad])
    assert check_schema([{"apiVersion": "example.com/v1", "kind": "Nope",
                          "metadata": {"name": "x"}}])


def test_checks_catch_a_literal_secret():
    docs = _good_docs()
    docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                 "stringData": {"secretkey": "hunter22"}})
    assert check_no_literal_secrets(docs)


def test_checks_catch_wrong_secret_names():
    s = settings()
    docs = _good_docs()
    env = next(e for _, e in env_vars(docs) if e["name"] == "AWS_SECRET_ACCESS_KEY")
    env["valueFrom"]["secretKeyRef"]["key"] = "password"
    assert check_secret_refs(docs, s)
    docs = _good_docs()
    next(d for d in docs if name(d) == "Role/bakeoff-pipeline")["rules"][0]["resourceNames"] = ["other"]
    assert check_secret_refs(docs, s)
    assert check_secret_refs(_good_docs(), s.model_copy(update={"secret_name": "other"}))


def test_checks_catch_config_drift():
    s = settings()
    for key, value in [("AWS_ENDPOINT_URL", "http://minio.elsewhere.svc:9000"),
                       ("AWS_ENDPOINT_URL", "http://minio.bakeoff.svc.cluster.local:9999"),
                       ("MLFLOW_TRACKING_URI", "http://tracking:5000"),
                       ("BAKEOFF_STORE", "s3://other-bucket/"),
                       ("MLFLOW_S3_ENDPOINT_URL", "http://minio-service.kubeflow:9000")]:
        docs = _good_docs()
        next(d for d in docs if d["kind"] == "ConfigMap")["data"][key] = value
        assert check_config(docs, s), (key, value)
    docs = _good_docs("overlays/kubeflow")
    assert check_config(docs, s) == []
    assert check_config(docs, s.model_copy(update={"s3_endpoint": "http://s3.example:9000"}))


def test_checks_catch_open_network_policies():
    docs = _good_docs()
    docs = [d for d in docs if name(d) != "NetworkPolicy/minio"]
    assert check_network_policies(docs)
    docs = _good_docs()
    pol = next(d for d in docs if name(d) == "NetworkPolicy/mlflow")
    pol["spec"]["ingress"][0]["from"].append({"namespaceSelector": {}})
    assert check_network_policies(docs)
    pol["spec"]["ingress"] = [{}]
    assert check_network_policies(docs)

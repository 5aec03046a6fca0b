"""`bakeoff doctor`: one line per check, each misconfiguration named with its fix, exit 2.

Kubernetes is the STAND-IN of tests/k8s_standin.py, Kubeflow Pipelines the STAND-IN of
tests/kfp_standin.py (its healthz), the store the real S3 server of conftest. MLflow's check runs
against a real MLflow server in test_tracking.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from conftest import S3Server, bakeoff
from k8s_standin import StandInKubernetes, local_process
from kfp_standin import StandInKfp
from test_k8s_runner import IMAGE, NAMESPACE, SECRET, cluster_config


@pytest.fixture
def k8s(plugin_env: dict[str, str]) -> Iterator[StandInKubernetes]:
    with StandInKubernetes(namespaces=(NAMESPACE,), secrets=SECRET, images={IMAGE: local_process},
                           env=plugin_env) as cluster:
        yield cluster


def doctor(config: Path | None, k8s: StandInKubernetes, s3: S3Server, tmp_path: Path, *args: str,
           kubeconfig: Path | None = None) -> tuple[int, dict[str, str]]:
    """Exit code, and each check's line by its name."""
    env = {**s3.env, "KUBECONFIG": str(kubeconfig or k8s.kubeconfig(tmp_path / "kubeconfig")),
           "MLFLOW_TRACKING_URI": "", "KF_PIPELINES_ENDPOINT": ""}
    ran = bakeoff("doctor", *([str(config)] if config else []), *args, env=env, timeout=240)
    assert "Traceback" not in ran.stderr, ran.stderr
    lines = {}
    for line in ran.stdout.splitlines():
        status, _, rest = line.partition(" ")
        name, _, detail = rest.strip().partition(": ")
        lines[name] = f"{status} {detail}"
    return ran.code, lines


def test_a_working_setup_passes_every_check_it_can_make(
        k8s: StandInKubernetes, s3_server: S3Server, tmp_path: Path) -> None:
    config = cluster_config(tmp_path, "wine", s3_server, "doctor")
    with StandInKfp(version="2.14.4") as kfp:
        code, lines = doctor(config, k8s, s3_server, tmp_path, "--namespace", NAMESPACE, "--in-cluster",
                             "--kfp-host", kfp.url)
    assert code == 0, lines
    assert lines["store"].startswith("ok s3://k8s-runs/doctor")
    assert lines["kubernetes"] == "ok Kubernetes v1.30.0-stand-in, namespace bakeoff"
    assert lines["secret"] == "ok Secret mlpipeline-minio-artifact has keys accesskey and secretkey"
    assert lines["image (in the cluster)"] == f"ok image {IMAGE} runs, and reaches the store from the cluster"
    assert lines["kubeflow pipelines"].startswith("ok Kubeflow Pipelines 2.14.4 at ")
    assert lines["mlflow"].startswith("skipped")
    assert k8s.jobs() == [] and k8s.pods() == []  # the check's Job is gone


def test_without_a_cluster_flag_kubernetes_is_skipped_and_the_store_still_checked(
        k8s: StandInKubernetes, s3_server: S3Server, tmp_path: Path) -> None:
    config = cluster_config(tmp_path, "wine", s3_server, "doctor")
    code, lines = doctor(config, k8s, s3_server, tmp_path)
    assert code == 0 and lines["store"].startswith("ok") and lines["kubernetes"].startswith("skipped pass --namespace")


@pytest.mark.parametrize("problem, check, expected", [
    ("no-bucket", "store", "failed s3://no-such-bucket/doctor/runs: bucket 'no-such-bucket' does not exist at http://127.0.0.1:"),
    ("no-namespace", "kubernetes", "failed --namespace: namespace 'elsewhere' does not exist; create it"),
    ("bad-token", "kubernetes", "failed --context: Kubernetes refused a request in namespace bakeoff (HTTP 401: Unauthorized); check your kubeconfig"),
    ("no-kubeconfig", "kubernetes", "failed --context: no usable kubeconfig"),
    ("bad-kubeconfig", "kubernetes", "failed --context: no usable kubeconfig"),
    ("unreachable", "kubernetes", "failed --context: cannot reach the Kubernetes API"),
    ("no-secret", "secret", "failed kfp.secret_name: no Secret 'team-s3' in namespace bakeoff; kubectl -n bakeoff "
                            "create secret generic team-s3"),
    ("missing-key", "secret", "failed kfp.access_key_field/secret_key_field: Secret 'mlpipeline-minio-artifact' "
                              "has no key secretkey (it has accesskey); add it or set the field"),
    ("no-image", "image (in the cluster)", "failed kfp.image: the check pod never started (ImagePullBackOff"),
    ("pods-see-no-store", "image (in the cluster)", "failed store (from the cluster): "),
    ("old-kfp", "kubeflow pipelines", "failed --host: "),
    ("no-kfp", "kubeflow pipelines", "failed --host: cannot reach"),
    ("no-mlflow", "mlflow", "failed tracking.mlflow_uri: cannot reach MLflow at http://127.0.0.1:9"),
])
def test_each_misconfiguration_is_one_failed_line_with_its_fix(
        plugin_env: dict[str, str], s3_server: S3Server, tmp_path: Path, problem: str, check: str,
        expected: str) -> None:
    config = cluster_config(tmp_path, "wine", s3_server, "doctor")
    data = yaml.safe_load(config.read_text())
    secrets = dict(SECRET)
    images = {IMAGE: local_process}
    args = ["--namespace", NAMESPACE]
    kfp_version = "2.17.0"
    kubeconfig = None
    if problem == "no-bucket":
        data["storage"] = "s3://no-such-bucket/doctor"
    if problem == "no-namespace":
        args = ["--namespace", "elsewhere"]
    if problem == "no-secret":
        data["kfp"]["secret_name"] = "team-s3"
    if problem == "missing-key":
        secrets = {key: {"accesskey": "testing"} for key in SECRET}
    if problem == "no-image":
        images = {}
    if problem in ("no-image", "pods-see-no-store"):
        args += ["--in-cluster", "--start-timeout", "2"]
    if problem == "pods-see-no-store":
        data["kfp"]["s3_endpoint"] = "http://127.0.0.1:9"  # discard: nothing listens
    if problem == "old-kfp":
        kfp_version = "2.4.1"
    if problem == "no-kfp":
        args += ["--kfp-host", "http://127.0.0.1:9"]
    if problem == "no-mlflow":
        data["tracking"] = {"mlflow_uri": "http://127.0.0.1:9"}
    if problem == "no-kubeconfig":
        kubeconfig = tmp_path / "missing-kubeconfig"
    if problem == "bad-kubeconfig":
        kubeconfig = tmp_path / "broken-kubeconfig"
        kubeconfig.write_text("clusters: [{name: stand-in\n")  # not YAML
    config.write_text(yaml.safe_dump(data))
    with StandInKubernetes(namespaces=(NAMESPACE,), secrets=secrets, images=images) as k8s, \
            StandInKfp(version=kfp_version) as kfp:
        if problem == "old-kfp":
            args += ["--kfp-host", kfp.url]
        if problem == "bad-token":
            kubeconfig = k8s.kubeconfig(tmp_path / "kubeconfig")
            kubeconfig.write_text(kubeconfig.read_text().replace(k8s.token, "an-expired-token"))
        if problem == "unreachable":
            kubeconfig = k8s.kubeconfig(tmp_path / "kubeconfig")
            kubeconfig.write_text(kubeconfig.read_text().replace(k8s.url, "http://127.0.0.1:9"))
        code, lines = doctor(config, k8s, s3_server, tmp_path, *args, kubeconfig=kubeconfig)
    assert code == 2
    assert lines[check].startswith(expected), lines
    assert len([line for line in lines.values() if line.startswith("failed")]) == 1, lines
    assert "testing" not in "".join(lines.values())  # never a credential's value


def test_doctor_on_a_store_alone_needs_no_config(s3_server: S3Server, tmp_path: Path) -> None:
    s3_server.make_bucket("k8s-runs")
    ran = bakeoff("doctor", "--store", "s3://k8s-runs/any", env={**s3_server.env, "MLFLOW_TRACKING_URI": "",
                                                                 "KF_PIPELINES_ENDPOINT": ""})
    assert ran.code == 0 and "ok      store: s3://k8s-runs/any" in ran.stdout, ran.stdout + ran.stderr


def test_an_identity_without_permissions_gets_one_line_per_refused_check(
        k8s: StandInKubernetes, s3_server: S3Server, tmp_path: Path) -> None:
    """A ServiceAccount no Role is bound to: reading the Secret and starting the check's Job are
    refused (403), each a line naming what to grant; the namespace check tolerates the 403 a
    namespaced identity always gets on namespaces."""
    config = cluster_config(tmp_path, "wine", s3_server, "doctor")
    kubeconfig = k8s.kubeconfig(tmp_path / "kubeconfig", service_account="nobody")
    code, lines = doctor(config, k8s, s3_server, tmp_path, "--namespace", NAMESPACE, "--in-cluster",
                         kubeconfig=kubeconfig)
    assert code == 2
    assert lines["kubernetes"].startswith("ok")
    assert lines["secret"].startswith("failed kfp.secret_name: cannot read Secret 'mlpipeline-minio-artifact' (HTTP 403)")
    assert lines["image (in the cluster)"].startswith(
        "failed --namespace: Kubernetes refused a request in namespace bakeoff (HTTP 403: jobs.batch is forbidden")
    assert lines["image (in the cluster)"].endswith("grant it the Role in manifests/components/runner")

"""`bakeoff run --runner k8s` against the STAND-IN Kubernetes API (tests/k8s_standin.py), whose
pods are `bakeoff step …` processes reaching the real S3 server (moto) with credentials they get
only from the stand-in's Secret; and every Job the runner creates, validated offline with
kubernetes-validate --strict against each Kubernetes version we support.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bakeoff.examples import write_example
from bakeoff.runners.base import RunOptions
from bakeoff.runners.k8s import Cluster, KubernetesRunner, connect, driver_manifest, owner_manifest, step_jobs
from bakeoff.runs import Run
from bakeoff.spec import KfpSettings, anchored, load_config
from bakeoff.storage import open_store
from boards import board_differences
from conftest import BIN, S3Server, bakeoff
from k8s_standin import KUBERNETES_VERSIONS, StandInKubernetes, exits_with, local_process, schema_problems
from test_manifests import POLICY_CHECKS, check_schema, render

IMAGE = KfpSettings().image
RUNNER = "bakeoff-runner"  # the ServiceAccount of manifests/components/runner
NAMESPACE = "bakeoff"
SECRET = {(NAMESPACE, KfpSettings().secret_name): {"accesskey": "testing", "secretkey": "testing"}}
FAILING = {"classification": {"name": "broken", "estimator": "KNeighborsClassifier", "params": {"n_neighbors": 5000}},
           "regression": {"name": "broken", "estimator": "KNeighborsRegressor", "params": {"n_neighbors": 5000}}}


def runner_role() -> list[dict[str, Any]]:
    """The rules of the runner's Role, as manifests/ render it."""
    [role] = [d for d in render("overlays/standalone") if d["kind"] == "Role" and d["metadata"]["name"] == RUNNER]
    return role["rules"]


@pytest.fixture
def k8s(s3_server: S3Server, plugin_env: dict[str, str], tmp_path: Path) -> Iterator[StandInKubernetes]:
    """The stand-in, holding the runner's ServiceAccount to the Role of manifests/."""
    with StandInKubernetes(namespaces=(NAMESPACE,), secrets=SECRET, images={IMAGE: local_process},
                           env=plugin_env, roles={RUNNER: runner_role()}) as cluster:
        cluster.kubeconfig(tmp_path / "kubeconfig", service_account=RUNNER)
        yield cluster


def granted(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(verb, group, resource) for rule in rules for verb in rule["verbs"]
            for group in rule["apiGroups"] for resource in rule["resources"]}


def cluster_config(folder: Path, example: str, s3: S3Server, store: str, *extra: dict[str, Any]) -> Path:
    """An example as a team keeps it, the data next to the config, runs in S3; ``extra`` models added."""
    config, _ = write_example(example, folder)
    data = yaml.safe_load(config.read_text())
    s3.make_bucket("k8s-runs")
    data |= {"storage": f"s3://k8s-runs/{store}", "models": [*data["models"], *extra],
             "kfp": {"s3_endpoint": s3.endpoint}}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def user_env(s3: S3Server, tmp_path: Path, plugin_env: dict[str, str]) -> dict[str, str]:
    """The shell of a user with a kubeconfig for the stand-in and S3 credentials of their own."""
    return {**s3.env, **plugin_env, "KUBECONFIG": str(tmp_path / "kubeconfig")}


def leaderboard(s3: S3Server, store: str) -> dict[str, Any]:
    client = s3.client()
    [key] = [o.object_name for o in client.list_objects("k8s-runs", prefix=f"{store}/", recursive=True)
             if o.object_name.endswith("/leaderboard.json")]
    return json.loads(client.get_object("k8s-runs", key).read())


def events(k8s: StandInKubernetes, component: str) -> list[tuple[int, str, dict[str, Any]]]:
    return [e for e in k8s.events if e[2]["metadata"]["labels"]["app.kubernetes.io/component"] == component]


def ended_at(k8s: StandInKubernetes, name: str) -> int:
    """The resourceVersion at which a Job got its Complete or Failed condition."""
    return min(rv for rv, _, job in k8s.events if job["metadata"]["name"] == name
               and any(c["status"] == "True" for c in job.get("status", {}).get("conditions", [])))


# -- what the runner creates ------------------------------------------------------------------------

def every_object(tmp_path: Path) -> list[dict[str, Any]]:
    """Every object the runner can create, for a config that sets each placement field."""
    config, _ = write_example("wine", tmp_path)
    data = yaml.safe_load(config.read_text())
    data["models"][0] |= {"image": "registry.example.com/team/bakeoff-gpu:1.2", "retries": 2, "timeout": 900,
                          "node_selector": {"cloud.google.com/gke-accelerator": "nvidia-l4"},
                          "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                          "resources": {"limits": {"cpu": "4", "memory": "8Gi"}}}
    data["models"].append({"name": "a-model-whose-name-is-as-long-as-allowed", "estimator": "GaussianNB"})
    config.write_text(yaml.safe_dump(data))
    exp = load_config(config)
    run = Run(open_store("s3://bucket/prefix"), "20261202-101500-3f2a1b")
    return [owner_manifest(run), *step_jobs(exp, run, "6c5f2a55-2b7e-4d8c-9d0e-0f1a2b3c4d5e", reuse=False).in_order(),
            driver_manifest(exp, run, Cluster("team-a"), RunOptions(parallel=3, use_cache=False), "6c5f2a55")]


def test_every_job_the_runner_creates_passes_strict_validation(tmp_path: Path) -> None:
    assert set(KUBERNETES_VERSIONS) <= set(kubernetes_validate.utils.all_versions())
    objects = every_object(tmp_path)
    assert [o["kind"] for o in objects] == ["ConfigMap"] + ["Job"] * (len(objects) - 1)
    assert [(doc["metadata"]["name"], problems) for doc in objects if (problems := schema_problems(doc))] == []


def test_every_job_follows_the_manifests_policy(tmp_path: Path) -> None:
    objects = every_object(tmp_path)
    jobs = [o for o in objects if o["kind"] == "Job"]
    for check in POLICY_CHECKS:
        assert check(jobs) == [], check.__name__
    gpu = jobs[1]["spec"]
    assert (gpu["backoffLimit"], gpu["activeDeadlineSeconds"]) == (2, 900 + 600)
    assert gpu["template"]["spec"]["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert gpu["template"]["spec"]["containers"][0]["image"] == "registry.example.com/team/bakeoff-gpu:1.2"
    assert gpu["template"]["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "4", "memory": "8Gi"}
    for job in jobs:
        labels = job["spec"]["template"]["metadata"]["labels"]
        assert labels["bakeoff.run-id"] == "20261202-101500-3f2a1b"
        assert labels["app.kubernetes.io/part-of"] == "bakeoff"  # what the NetworkPolicies of MinIO/MLflow admit
        assert job["spec"]["template"]["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}
        assert job["metadata"]["ownerReferences"][0]["kind"] == "ConfigMap"
        assert job["spec"]["ttlSecondsAfterFinished"] > 0
        env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["BAKEOFF_S3_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"] == {
            "name": "mlpipeline-minio-artifact", "key": "accesskey"}
        assert "value" not in env["BAKEOFF_S3_SECRET_ACCESS_KEY"]
        # Only the driver talks to the API server, as the runner's ServiceAccount.
        spec = job["spec"]["template"]["spec"]
        is_driver = labels["app.kubernetes.io/component"] == "driver"
        assert spec["automountServiceAccountToken"] is is_driver
        assert spec.get("serviceAccountName") == ("bakeoff-runner" if is_driver else None)
    long = next(j for j in jobs if j["metadata"]["labels"].get("bakeoff.model") == "a-model-whose-name-is-as-long-as-allowed")
    assert long["metadata"]["name"] == "bakeoff-20261202-101500-3f2a1b-train-004"  # the index, not the name: short
    driver = jobs[-1]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert driver[:2] == ["step", "drive"] and ["--parallel", "3"] == driver[driver.index("--parallel"):][:2]
    assert "--no-cache" in driver and "--no-cache" in jobs[1]["spec"]["template"]["spec"]["containers"][0]["args"]


def test_a_model_may_be_called_prepare_or_compare(tmp_path: Path) -> None:
    config, _ = write_example("wine", tmp_path)
    data = yaml.safe_load(config.read_text())
    data["models"] += [{"name": "prepare", "estimator": "GaussianNB"}, {"name": "compare", "estimator": "GaussianNB"}]
    config.write_text(yaml.safe_dump(data))
    jobs = step_jobs(load_config(config), Run(open_store("s3://bucket/prefix"), "20261202-101500-3f2a1b"))
    args = {name: job["spec"]["template"]["spec"]["containers"][0]["args"][:2] for name, job in jobs.trains.items()}
    assert args["prepare"] == args["compare"] == ["step", "train"]
    assert jobs.prepare["spec"]["template"]["spec"]["containers"][0]["args"][:2] == ["step", "prepare"]
    assert jobs.compare["spec"]["template"]["spec"]["containers"][0]["args"][:2] == ["step", "compare"]
    assert len({job["metadata"]["name"] for job in jobs.in_order()}) == len(data["models"]) + 2


def test_the_schema_check_can_fail(tmp_path: Path) -> None:
    job = every_object(tmp_path)[1]
    job["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Sometimes"
    job["spec"]["backofLimit"] = 1
    assert len(check_schema([job])) >= 1 and len(schema_problems(job)) == len(KUBERNETES_VERSIONS)


# -- runs through the stand-in ------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("example", ["breast-cancer", "wine", "diabetes"])
def test_k8s_runner_equals_a_local_run_with_a_failed_row_and_one_compare(
        k8s: StandInKubernetes, s3_server: S3Server, plugin_env: dict[str, str], tmp_path: Path, example: str) -> None:
    task = "regression" if example == "diabetes" else "classification"
    config = cluster_config(tmp_path / "team", example, s3_server, f"k8s-{example}", FAILING[task])
    env = user_env(s3_server, tmp_path, plugin_env)
    ran = bakeoff("run", str(config), "--runner", "k8s", "--namespace", NAMESPACE, "--parallel", "2",
                  cwd=config.parent, env=env, timeout=600)
    assert ran.code == 0, ran.stdout[-2000:] + ran.stderr[-3000:]
    on_k8s = leaderboard(s3_server, f"k8s-{example}")
    config.write_text(config.read_text().replace(f"k8s-runs/k8s-{example}", f"k8s-runs/local-{example}"))
    local = bakeoff("run", str(config), cwd=config.parent, env=env, timeout=600)
    assert local.code == 0, local.stderr[-3000:]
    assert board_differences(on_k8s, leaderboard(s3_server, f"local-{example}")) == []
    rows = {r["model"]: r for r in on_k8s["rows"]}
    assert rows["broken"]["status"] == "failed" and "n_neighbors" in rows["broken"]["error"]
    assert "broken" in ran.stdout and "failed" in ran.stdout  # the leaderboard printed, with the failed row
    # Prepare, then the trains, then one compare once every train had ended.
    [compare] = {e[2]["metadata"]["name"] for e in events(k8s, "compare")}
    trains = {e[2]["metadata"]["name"] for e in events(k8s, "train")}
    assert len(trains) == len(rows)
    compare_added = min(rv for rv, kind, _ in k8s.events if kind == "ADDED" and _["metadata"]["name"] == compare)
    assert compare_added > max(ended_at(k8s, name) for name in trains)
    [prepare] = {e[2]["metadata"]["name"] for e in events(k8s, "prepare")}
    assert ended_at(k8s, prepare) < min(rv for rv, kind, job in k8s.events
                                        if kind == "ADDED" and job["metadata"]["name"] in trains)
    # Never more than --parallel train pods at once.
    assert max_concurrent(k8s, trains) <= 2


def max_concurrent(k8s: StandInKubernetes, names: set[str]) -> int:
    live, most = set(), 0
    for rv, kind, job in sorted(k8s.events, key=lambda e: e[0]):
        name = job["metadata"]["name"]
        if name not in names:
            continue
        ended = any(c["status"] == "True" for c in job.get("status", {}).get("conditions", []))
        if kind == "ADDED" and not ended:
            live.add(name)
        elif ended or kind == "DELETED":
            live.discard(name)
        most = max(most, len(live))
    return most


@pytest.mark.slow
def test_pods_that_cannot_start_or_keep_failing_are_failed_rows_with_kubernetes_reasons(
        s3_server: S3Server, plugin_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr("bakeoff.runners.k8s.POD_DEADLINE_GRACE", 0)
    models = [{"name": "missing-image", "estimator": "GaussianNB", "image": "registry.example.com/nope:1.0"},
              {"name": "no-gpu-node", "estimator": "GaussianNB", "params": {"var_smoothing": 1e-8},
               "node_selector": {"nvidia.com/gpu.present": "true"}},
              {"name": "crashing-image", "estimator": "GaussianNB", "params": {"var_smoothing": 1e-7},
               "image": "broken:1.0", "retries": 1},
              {"name": "too-slow", "estimator": "GradientBoostingClassifier", "params": {"n_estimators": 100000},
               "timeout": 1}]
    config = cluster_config(tmp_path / "team", "breast-cancer", s3_server, "k8s-reasons", *models)
    images = {IMAGE: local_process, "broken:1.0": exits_with(3)}
    with StandInKubernetes(namespaces=(NAMESPACE,), secrets=SECRET, images=images, env=plugin_env) as k8s:
        monkeypatch.setenv("KUBECONFIG", str(k8s.kubeconfig(tmp_path / "kubeconfig")))
        runner = KubernetesRunner(*connect(NAMESPACE, None, start_timeout=3))
        outcome = runner.run(anchored(load_config(config), config.parent), RunOptions(parallel=4))
    rows = {r.model: r for r in outcome.board.rows}
    assert rows["logistic"].status == "ok"
    assert "ImagePullBackOff" in rows["missing-image"].error or "ErrImagePull" in rows["missing-image"].error
    assert "Unschedulable" in rows["no-gpu-node"].error and "node(s) didn't match" in rows["no-gpu-node"].error
    assert "BackoffLimitExceeded" in rows["crashing-image"].error and "this image is broken" in rows["crashing-image"].error
    # The step stops a model at its timeout; the Job's deadline (timeout + a grace, 0 here) is the
    # backstop, and with no grace it ends the Job while the pod is still starting.
    assert rows["too-slow"].status == "failed" and "DeadlineExceeded" in rows["too-slow"].error
    # A pod that cannot start has its Job deleted, not left to retry forever.
    assert not [j for j in k8s.jobs() if "missing" in j["metadata"]["name"]]


def test_a_missing_secret_or_namespace_ends_the_run_with_one_line(
        s3_server: S3Server, plugin_env: dict[str, str], tmp_path: Path) -> None:
    config = cluster_config(tmp_path / "team", "breast-cancer", s3_server, "k8s-no-secret")
    env = user_env(s3_server, tmp_path, plugin_env)
    with StandInKubernetes(namespaces=(NAMESPACE,), images={IMAGE: local_process}, env=plugin_env) as k8s:
        k8s.kubeconfig(tmp_path / "kubeconfig")
        ran = bakeoff("run", str(config), "--runner", "k8s", "--namespace", NAMESPACE, "--start-timeout", "2",
                      env=env, timeout=120)
        assert ran.code == 2 and "Traceback" not in ran.stderr
        assert "prepare: its Kubernetes Job ended NeverStarted (CreateContainerConfigError" in ran.stderr
        assert 'secret "mlpipeline-minio-artifact" not found' in ran.stderr
        elsewhere = bakeoff("run", str(config), "--runner", "k8s", "--namespace", "nowhere", env=env, timeout=60)
        assert elsewhere.code == 2 and "Traceback" not in elsewhere.stderr
        assert "--namespace" in elsewhere.stderr and 'namespaces "nowhere" not found' in elsewhere.stderr
    local = bakeoff("run", str(write_example("wine", tmp_path / "local")[0]), "--runner", "k8s", env=env)
    assert local.code == 2 and "storage:" in local.stderr and "s3://" in local.stderr


@pytest.mark.slow
def test_ctrl_c_deletes_the_runs_jobs_and_pods(
        k8s: StandInKubernetes, s3_server: S3Server, plugin_env: dict[str, str], tmp_path: Path) -> None:
    sleepy = {"name": "sleepy", "estimator": "SleepyClassifier", "params": {"seconds": 120}}
    config = cluster_config(tmp_path / "team", "breast-cancer", s3_server, "k8s-ctrl-c", sleepy)
    # No --namespace: the kube context's namespace, as kubectl would use.
    proc = subprocess.Popen([str(BIN / "bakeoff"), "run", str(config), "--runner", "k8s"],
                            env={**user_env(s3_server, tmp_path, plugin_env), "PATH": str(BIN)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any("sleepy" in p["metadata"]["labels"].get("bakeoff.model", "")
                                                       and p["status"]["phase"] == "Running" for p in k8s.pods()):
            time.sleep(0.2)
        assert k8s.jobs(), "no Job started"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and "Traceback" not in stderr
    assert "stopped: deleted the Jobs and pods of run" in stderr
    assert ("delete", "", "configmaps") in k8s.used[RUNNER] and k8s.used[RUNNER] <= granted(runner_role())
    assert k8s.jobs() == [] and k8s.pods() == []
    assert not [o for (kind, _, _), o in k8s.objects.items() if kind == "ConfigMap"]


@pytest.mark.slow
def test_detach_returns_at_once_and_a_driver_job_finishes_the_run(
        k8s: StandInKubernetes, s3_server: S3Server, plugin_env: dict[str, str], tmp_path: Path) -> None:
    config = cluster_config(tmp_path / "team", "wine", s3_server, "k8s-detach")
    started = time.monotonic()
    ran = bakeoff("run", str(config), "--runner", "k8s", "--namespace", NAMESPACE, "--detach",
                  env=user_env(s3_server, tmp_path, plugin_env), timeout=120)
    assert ran.code == 0, ran.stderr
    run_uri = ran.stdout.split()[1]
    assert run_uri.startswith("s3://k8s-runs/k8s-detach/runs/")
    [driver] = [j for j in k8s.jobs() if j["metadata"]["labels"]["app.kubernetes.io/component"] == "driver"]
    assert driver["spec"]["template"]["spec"]["serviceAccountName"] == "bakeoff-runner"
    deadline = started + 300
    while time.monotonic() < deadline and not driver.get("status", {}).get("conditions"):
        time.sleep(0.5)
    assert driver["status"]["conditions"][0]["type"] == "Complete", k8s.containers and [
        "\n".join(box.log[-20:]) for name, box in k8s.containers.items() if "driver" in name]
    board = leaderboard(s3_server, "k8s-detach")
    assert [r["status"] for r in board["rows"]] == ["ok"] * len(board["rows"])
    report = bakeoff("report", run_uri, env=user_env(s3_server, tmp_path, plugin_env))
    assert report.code == 0 and board["rows"][0]["model"] in report.stdout
    # The CLI and the driver ran as the runner's ServiceAccount, held to the Role of manifests/.
    assert {("watch", "batch", "jobs"), ("get", "", "configmaps")} <= k8s.used[RUNNER] <= granted(runner_role())


def test_a_role_without_a_verb_the_runner_needs_is_one_line_naming_it(
        s3_server: S3Server, plugin_env: dict[str, str], tmp_path: Path) -> None:
    """The stand-in's RBAC can refuse: the same Role without watch on Jobs stops the run at once."""
    rules = [dict(r, verbs=[v for v in r["verbs"] if v != "watch"]) if r["resources"] == ["jobs"] else r
             for r in runner_role()]
    config = cluster_config(tmp_path / "team", "wine", s3_server, "k8s-no-watch")
    with StandInKubernetes(namespaces=(NAMESPACE,), secrets=SECRET, images={IMAGE: local_process},
                           env=plugin_env, roles={RUNNER: rules}) as k8s:
        k8s.kubeconfig(tmp_path / "kubeconfig", service_account=RUNNER)
        ran = bakeoff("run", str(config), "--runner", "k8s", "--namespace", NAMESPACE,
                      env=user_env(s3_server, tmp_path, plugin_env), timeout=120)
    assert ran.code == 2 and "Traceback" not in ran.stderr
    assert ('--namespace: Kubernetes refused a request in namespace bakeoff (HTTP 403: jobs.batch is forbidden: '
            'User "system:serviceaccount:bakeoff:bakeoff-runner" cannot watch resource "jobs" in API group "batch" '
            'in the namespace "bakeoff"); grant it the Role in manifests/components/runner') in ran.stderr


def test_the_stand_in_refuses_what_a_schema_refuses_and_orphans_a_jobs_pods_by_default(tmp_path: Path) -> None:
    """Two behaviours the runner depends on, shown able to fail: an invalid Job is refused (422),
    and deleting a Job without propagationPolicy leaves its pods running, as batch/v1 does."""
    from kubernetes import client, config

    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "sleeper"},
           "spec": {"backoffLimit": 0, "template": {"spec": {"restartPolicy": "Never", "containers": [
               {"name": "c", "image": "sleep:1", "command": ["sleep", "30"]}]}}}}
    with StandInKubernetes(images={"sleep:1": local_process}) as k8s:
        api = config.new_client_from_config(str(k8s.kubeconfig(tmp_path / "kubeconfig")))
        batch = client.BatchV1Api(api)
        with pytest.raises(client.ApiException) as refused:
            batch.create_namespaced_job(NAMESPACE, {**job, "spec": {**job["spec"], "backofLimit": 1}})
        assert refused.value.status == 422 and "backofLimit" in refused.value.body
        batch.create_namespaced_job(NAMESPACE, job)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not k8s.pods():
            time.sleep(0.1)
        batch.delete_namespaced_job("sleeper", NAMESPACE)
        [orphan] = k8s.pods()
        assert orphan["metadata"]["ownerReferences"] == []
        batch.create_namespaced_job(NAMESPACE, {**job, "metadata": {"name": "sleeper-2"}})
        while time.monotonic() < deadline and len(k8s.pods()) < 2:
            time.sleep(0.1)
        batch.delete_namespaced_job("sleeper-2", NAMESPACE, body=client.V1DeleteOptions(propagation_policy="Background"))
        assert [p["metadata"]["name"] for p in k8s.pods()] == [orphan["metadata"]["name"]]

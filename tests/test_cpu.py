"""The thread budget follows the cgroup CPU quota, not the host's core count."""

from __future__ import annotations

from pathlib import Path

from bakeoff.cpu import cgroup_cpu_limit, usable_cpus


def test_cgroup_v2_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_limit(tmp_path) == 1.5
    assert usable_cpus(tmp_path) == min(2, usable_cpus(tmp_path / "none"))  # ceil(1.5) capped by affinity


def test_cgroup_v2_unlimited(tmp_path: Path) -> None:
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_limit(tmp_path) is None


def test_cgroup_v1_quota(tmp_path: Path) -> None:
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_limit(tmp_path) == 0.5
    assert usable_cpus(tmp_path) == 1


def test_the_thread_budget_reaches_blas_and_joblib() -> None:
    """Inside a step's budget, BLAS/OpenMP pools and estimators' unset n_jobs both obey it."""
    from joblib.parallel import get_active_backend
    from sklearn.ensemble import RandomForestClassifier
    from threadpoolctl import threadpool_info

    from bakeoff.modeling import thread_budget

    with thread_budget(1):
        assert all(pool["num_threads"] == 1 for pool in threadpool_info())
        backend, n_jobs = get_active_backend()
        assert n_jobs == 1 and type(backend).__name__ == "ThreadingBackend"
    with thread_budget(2):
        assert get_active_backend()[1] == 2
        forest = RandomForestClassifier(n_estimators=4).fit([[0], [1], [0], [1]], [0, 1, 0, 1])
        assert forest.n_jobs is None  # the config's params are untouched; joblib supplies the budget

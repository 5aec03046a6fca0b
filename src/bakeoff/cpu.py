"""How many CPUs this process may really use: the cgroup quota wins over the host's core count.

In a pod with ``limits.cpu: 2`` on a 64-core node, ``os.cpu_count()`` says 64; sizing thread pools
from that oversubscribes the quota and the kernel throttles every thread.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """The CPU quota in cores (cgroup v2 ``cpu.max`` or v1 cfs files), or None if unlimited."""
    v2 = root / "cpu.max"
    if v2.is_file():
        quota, _, period = v2.read_text().strip().partition(" ")
        if quota != "max":
            return int(quota) / int(period or 100000)
        return None
    v1_quota, v1_period = root / "cpu" / "cpu.cfs_quota_us", root / "cpu" / "cpu.cfs_period_us"
    if v1_quota.is_file() and v1_period.is_file():
        quota = int(v1_quota.read_text())
        if quota > 0:
            return quota / int(v1_period.read_text())
    return None


def usable_cpus(root: Path = CGROUP_ROOT) -> int:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limit = cgroup_cpu_limit(root)
    return max(1, min(affinity, math.ceil(limit)) if limit else affinity)


def process_age() -> float:
    """Seconds since this process started (Linux's /proc; 0 where there is none): a run's
    start-up, imports and config checks included, as the person waiting sees it."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time after boot
        return max(0.0, float(Path("/proc/uptime").read_text().split()[0]) - started)
    except (OSError, ValueError, IndexError):
        return 0.0

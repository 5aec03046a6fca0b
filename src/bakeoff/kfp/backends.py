"""The Kubeflow Pipelines backends bakeoff supports, and how to tell which one a server runs.

Every pipeline bakeoff compiles is the same for all of them: it uses only fields that each
line's own schemas decode (tests/kfp_schemas.py checks every compiled pipeline with each), and
it needs 2.5 at least, the first backend that substitutes ``{{$.pipeline_job_uuid}}`` in a
task's inputs (backend/src/v2/driver, ``resolveInputParameter``), which a run started from a
config URI takes its run id from. KFP's releases went from 2.5 straight to 2.14.
"""

from __future__ import annotations

import re

from bakeoff.errors import UserError

MINIMUM = (2, 5)
TESTED_LINES = ("2.5", "2.14", "2.15", "2.16", "2.17")


def version_of(tag: str) -> tuple[int, int, int] | None:
    """``2.14.3`` (or ``v2.14.3``, ``2.15.0-rc.1``) as numbers; None for ``unknown`` or a dev build."""
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", tag.strip())
    return None if match is None else (int(match[1]), int(match[2]), int(match[3]))


def check_supported(tag: str, host: str) -> None:
    """Refuse a backend older than the minimum; let an unknown or newer one through."""
    version = version_of(tag)
    if version is not None and version[:2] < MINIMUM:
        raise UserError(f"--host: {host} runs Kubeflow Pipelines {tag}, older than "
                        f"{'.'.join(map(str, MINIMUM))}, the oldest bakeoff supports (its runs need "
                        "{{$.pipeline_job_uuid}}); upgrade Kubeflow Pipelines")

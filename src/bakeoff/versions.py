"""What produced a result: library versions and bakeoff's own code.

Both caches (prepared data and model results) include this identity in their keys. A released
bakeoff changes its version string, but an editable install does not, so the source itself is
hashed: an edited split, metric or search can never be answered from an old cache.
"""

from __future__ import annotations

import hashlib
import platform
from functools import cache
from importlib.metadata import version
from pathlib import Path

from bakeoff import __version__


@cache
def libraries() -> dict[str, str]:
    """Read from the installed distributions' metadata: importing the libraries to ask them
    would cost a step's process a second before it does anything."""
    return {"bakeoff": __version__, "python": platform.python_version(),
            **{name: version(name) for name in ("scikit-learn", "numpy", "pandas")}}


@cache
def code_identity() -> str:
    """sha256 over bakeoff's Python sources, the libraries above and the estimator plugins."""
    from bakeoff.catalog import plugin_entry_points

    h = hashlib.sha256(repr(sorted(libraries().items())).encode())
    for ep in sorted(plugin_entry_points(), key=lambda e: e.name):
        h.update(f"{ep.name}={ep.value}@{ep.dist.version if ep.dist else '?'}".encode())
    package = Path(__file__).parent
    for source in sorted(package.rglob("*.py")):
        h.update(source.relative_to(package).as_posix().encode())
        h.update(source.read_bytes())
    return h.hexdigest()

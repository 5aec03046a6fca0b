"""What produced a result: library versions and bakeoff's own code.

Both caches (prepared data and model results) include this identity in their keys. A released
bakeoff changes its version string, but an editable install does not, so the source itself is
hashed: an edited split, metric or search can never be answered from an old cache.
"""

from __future__ import annotations

import hashlib
import platform
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

from bakeoff import __version__


@cache
def libraries() -> dict[str, str]:
    import numpy
    import pandas
    import sklearn

    return {"bakeoff": __version__, "python": platform.python_version(),
            "scikit-learn": sklearn.__version__, "numpy": numpy.__version__, "pandas": pandas.__version__}


@cache
def code_identity() -> str:
    """sha256 over bakeoff's Python sources, the libraries above and the estimator plugins."""
    from bakeoff.catalog import ENTRY_POINT_GROUP

    h = hashlib.sha256(repr(sorted(libraries().items())).encode())
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        h.update(f"{ep.name}={ep.value}@{ep.dist.version if ep.dist else '?'}".encode())
    package = Path(__file__).parent
    for source in sorted(package.rglob("*.py")):
        h.update(source.relative_to(package).as_posix().encode())
        h.update(source.read_bytes())
    return h.hexdigest()

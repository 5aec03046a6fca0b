"""bakeoff: one YAML file runs a model bake-off, on a laptop or as one Kubeflow pod per model."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bakeoff")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

"""The workbench's version, from its installed metadata (pyproject.toml holds the one number).

The lowest layer of the package: anything may import it, it imports nothing of the workbench."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("workbench")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "unknown"

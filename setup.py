"""Build hook: compile the model's hot path with mypyc (docs/speed.md, "Compiled model").

The compiled modules are the ordinary Python files of ``workbench/model``, built into C
extensions beside them from their type annotations. They behave exactly as the sources do
(tests/model/test_compiled.py compares the two); they are only faster. Nothing else changes:

- ``WORKBENCH_PURE_PYTHON=1`` at install time builds nothing;
- without mypyc or a C compiler the build warns and installs the sources alone;
- ``workbench.model`` uses the compiled modules only while they match the sources they were
  built from (``native.json``), so an edited model file never runs as its old compiled self.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
MODEL = HERE / "workbench" / "model"
# The per-request hot path, chosen for speed alone (docs/speed.md): the modules every operation
# passes through. Tests run on the sources (make test); make test-compiled checks these.
# Dotted names below workbench/model.
COMPILED = ["kernel.kernel", "kernel.network", "cluster.node", "clients.client", "clients.workload", "database.database"]
MANIFEST = MODEL / "native.json"


def _warn(message: str) -> None:
    print(f"workbench: {message}; the model installs as plain Python (slower, same results)", file=sys.stderr)


def source_hashes() -> dict[str, str]:
    return {name: hashlib.sha256(source(name).read_bytes()).hexdigest() for name in COMPILED}


def source(name: str) -> Path:
    """The source file of compiled module ``name``."""
    return MODEL.joinpath(*name.split(".")).with_suffix(".py")


def ext_modules() -> list:
    MANIFEST.unlink(missing_ok=True)
    if os.environ.get("WORKBENCH_PURE_PYTHON"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        _warn("mypyc is not available")
        return []
    try:
        modules = mypycify(
            [f"workbench/model/{name.replace('.', '/')}.py" for name in COMPILED],
            opt_level="3",
            group_name="workbench.model._native",
        )
    except (Exception, SystemExit) as exc:  # mypyc exits on a type error
        _warn(f"mypyc could not compile the model ({exc})")
        return []
    MANIFEST.write_text(json.dumps({"modules": COMPILED, "sources": source_hashes()}, indent=1) + "\n")
    return modules


class OptionalBuildExt(build_ext):
    """A failed compilation (no C compiler, say) leaves the pure-Python package working."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            MANIFEST.unlink(missing_ok=True)
            _warn(f"the C extensions did not build ({exc})")

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:
            MANIFEST.unlink(missing_ok=True)
            _warn(f"{ext.name} did not build ({exc})")


setup(ext_modules=ext_modules(), cmdclass={"build_ext": OptionalBuildExt})

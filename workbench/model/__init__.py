"""The SimPy model: nodes, network, Raft, replication, clients, workload, faults.

The per-request hot path (``setup.py``'s ``COMPILED`` modules) is normally compiled with
mypyc into C extensions beside the sources, from the same files. This package decides, once,
before any of them is imported, whether those extensions may be used: only while every
compiled source is byte-for-byte the one they were built from (``native.json``), and not when
``WORKBENCH_PURE_PYTHON=1`` is set. Otherwise the sources run, so an edited model file never
runs as its old compiled self. ``COMPILED`` tells which way this process went.

May import: ``scenario``, ``blueprints``, ``errors``, ``version``; never results, analysis or
anything above. Inside, a folder imports only itself and the folders below it: kernel,
recording, database, cluster, clients, tasks, faults, assembly (``tests/test_layers.py``).
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from pathlib import Path

_HERE = Path(__file__).parent
_MANIFEST = _HERE / "native.json"


def _path(name: str, suffix: str) -> Path:
    """The file of module ``name`` (dotted, below this package: ``cluster.node``)."""
    return _HERE.joinpath(*name.split(".")).with_suffix(suffix)


def _compiled_modules() -> tuple[list[str], str | None]:
    """The modules built for this interpreter (dotted names below this package), and why they
    cannot be used (None: they can)."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    try:
        manifest = json.loads(_MANIFEST.read_text())
    except (OSError, ValueError):
        # A failed or partial build leaves no manifest, but may leave an older build's
        # extensions: the sources must still win over them.
        built = sorted(_HERE.rglob(f"*{suffix}"))
        stale = [".".join(p.relative_to(_HERE).parts).removesuffix(suffix) for p in built]
        return [name for name in stale if _path(name, ".py").exists()], "not built"
    names: list[str] = manifest["modules"]
    if os.environ.get("WORKBENCH_PURE_PYTHON"):
        return names, "WORKBENCH_PURE_PYTHON is set"
    if not all(_path(name, suffix).exists() for name in names):
        return names, "not built for this Python"
    for name in names:
        digest = hashlib.sha256(_path(name, ".py").read_bytes()).hexdigest()
        if digest != manifest["sources"].get(name):
            return names, f"{name.replace('.', '/')}.py changed since the build"
    return names, None


class _SourcesFirst:
    """A finder that loads the listed modules from their ``.py`` files, never the extensions."""

    def __init__(self, names: list[str]):
        self.names = {f"{__name__}.{name}" for name in names}

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        """Import hook: a spec for the module's ``.py`` source if it is one of ours, else None (not ours)."""
        if fullname not in self.names:
            return None
        return importlib.util.spec_from_file_location(fullname, _path(fullname.removeprefix(f"{__name__}."), ".py"))


_names, NOT_COMPILED_BECAUSE = _compiled_modules()
COMPILED = NOT_COMPILED_BECAUSE is None
# Quietly: an edited model is the normal state while someone works on it. Run provenance and
# `workbench bench` say which model ran, and CI requires the compiled one.
if not COMPILED and _names:
    sys.meta_path.insert(0, _SourcesFirst(_names))

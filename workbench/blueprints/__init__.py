"""The built-in topology catalogue, shipped as YAML package data.

Each file is a complete blueprint (see :class:`workbench.scenario.schema.Blueprint`).
A scenario names one (``blueprint: three-node``), or extends one
(``blueprint: {extends: three-node, database: {replication_factor: 2}}``).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml


def _files() -> dict[str, Any]:
    root = resources.files(__name__)
    return {p.name.removesuffix(".yaml"): p for p in root.iterdir() if p.name.endswith(".yaml")}


def blueprint_names() -> list[str]:
    """Names of the built-in blueprints, in catalogue order (smallest first)."""
    data = {name: load_blueprint_data(name) for name in _files()}
    return sorted(data, key=lambda n: (len(data[n].get("nodes", [])), n))


def load_blueprint_data(name: str) -> dict[str, Any]:
    """The raw mapping of a built-in blueprint. Raises ``KeyError`` if unknown."""
    files = _files()
    if name not in files:
        raise KeyError(name)
    data = yaml.safe_load(files[name].read_text(encoding="utf-8"))
    data.setdefault("name", name)
    return data

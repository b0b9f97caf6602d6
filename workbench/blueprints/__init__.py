"""The built-in topology catalogue, shipped as YAML package data.

Each file is a complete blueprint (see :class:`workbench.scenario.schema.Blueprint`), or
a deployment of several clusters (``clusters:``, :class:`~workbench.scenario.schema.Deployment`).
A scenario names one (``blueprint: three-node``), or extends one
(``blueprint: {extends: three-node, database: {replication_factor: 2}}``).

May import: ``errors`` and ``version`` only (it is below the scenario, which reads it).
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import yaml


def _files() -> dict[str, Any]:
    root = resources.files(__name__)
    return {p.name.removesuffix(".yaml"): p for p in root.iterdir() if p.name.endswith(".yaml")}


def node_count(data: dict[str, Any]) -> int:
    """Nodes in a blueprint mapping (a deployment's: every cluster's)."""
    if "clusters" in data:
        return sum(len(c.get("nodes", [])) for c in data["clusters"])
    return len(data.get("nodes", []))


def is_deployment(data: dict[str, Any]) -> bool:
    """A deployment of several clusters (``clusters:``) rather than one cluster."""
    return "clusters" in data


def blueprint_names(kind: str | None = None) -> list[str]:
    """Names of the built-in blueprints, in catalogue order (one cluster first, smallest
    first). ``kind``: ``"cluster"`` or ``"deployment"`` keeps only those."""
    data = {name: load_blueprint_data(name) for name in _files()}
    if kind is not None:
        data = {n: d for n, d in data.items() if is_deployment(d) == (kind == "deployment")}
    return sorted(data, key=lambda n: (is_deployment(data[n]), node_count(data[n]), n))


def load_blueprint_data(name: str) -> dict[str, Any]:
    """The raw mapping of a built-in blueprint. Raises ``KeyError`` if unknown."""
    files = _files()
    if name not in files:
        raise KeyError(name)
    data = yaml.safe_load(files[name].read_text(encoding="utf-8"))
    data.setdefault("name", name)
    return data

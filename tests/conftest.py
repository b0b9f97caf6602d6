"""Shared fixtures: small scenarios built in Python, so each test states what it varies."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from workbench.scenario import scenario_from_dict

BASE: dict[str, Any] = {
    "name": "test",
    "seed": 7,
    "duration": "10 s",
    # Pinned placement, so the preferred node is A whatever the seed.
    "blueprint": {"extends": "three-node", "database": {"members": ["A", "B", "C"]}},
    "clients": {"count": 4, "request_timeout": "2 s"},
    "workload": {"rate": 500, "keys": 1000},
}


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@pytest.fixture
def make_scenario():
    """``make_scenario(workload={"rate": 100}, ...)`` deep-merges onto a small base scenario."""

    def make(**changes: Any):
        return scenario_from_dict(_merge(BASE, changes), source="<test>")

    return make

"""Shared fixtures: small scenarios built in Python, so each test states what it varies; and
Debian's chromium for the browser tests (tests/test_browser*.py)."""

from __future__ import annotations

import copy
import os
import shutil
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


# Headless chromium as the browser tests launch it: no sandbox (CI containers run as root), and
# none of its own background fetches (updates, sync, metrics), so every request is the page's.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
]


def _required() -> bool:
    return bool(os.environ.get("WORKBENCH_REQUIRE_CHROMIUM"))


@pytest.fixture
def chromium() -> str:
    """Debian's chromium: skip without it, or fail where WORKBENCH_REQUIRE_CHROMIUM is set (CI)."""
    browser = shutil.which("chromium")
    if browser is None:
        if _required():
            pytest.fail("chromium is required here (CI installs Debian's package) but is not on PATH")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return browser


def start_playwright() -> Any:
    """``with start_playwright() as pw:`` Playwright, to drive the chromium above (it never
    downloads a browser): skip without the package, or fail where WORKBENCH_REQUIRE_CHROMIUM is set."""
    if _required():
        from playwright.sync_api import sync_playwright
    else:
        sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    return sync_playwright()

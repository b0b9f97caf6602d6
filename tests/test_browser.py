"""A real browser: JupyterLab serves the explorer notebook, headless Chromium (Debian's package) drives it.

The test starts ``jupyter lab`` on a free localhost port with a token, opens
``tests/browser/explorer.ipynb`` (a copy, in a temporary root), runs every cell,
picks a blueprint in the explorer's dropdown, presses Run and waits until a
chart has drawn itself as SVG from the offline Vega bundle. A screenshot goes
to ``outputs/browser-explorer.png``. Playwright drives ``/usr/bin/chromium``;
it never downloads a browser of its own. Without chromium the test skips,
unless ``WORKBENCH_REQUIRE_CHROMIUM`` is set (CI), where it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from workbench.blueprints import load_blueprint_data

ROOT = Path(__file__).parents[1]
NOTEBOOK = ROOT / "tests" / "browser" / "explorer.ipynb"
SCREENSHOT = ROOT / "outputs" / "browser-explorer.png"
BLUEPRINT = "five-node"  # the notebook starts on three-node; the test switches
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
SERVER_START_S = 60
UI_TIMEOUT_MS = 60_000


@pytest.fixture
def chromium() -> str:
    """Debian's chromium: skip without it, or fail where WORKBENCH_REQUIRE_CHROMIUM is set (CI)."""
    browser = shutil.which("chromium")
    if browser is None:
        if os.environ.get("WORKBENCH_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is required here (CI installs Debian's package) but is not on PATH")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return browser


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Lab:
    url: str
    token: str
    log: Path

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no server log)"


def _get(url: str, timeout: float = 2.0) -> int:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status


def _stop(proc: subprocess.Popen[bytes], base: str, token: str) -> None:
    """Ask the server to shut down (it stops its kernels too); kill its process group if it does not."""
    if proc.poll() is None:
        request = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST", data=b"")
        with contextlib.suppress(urllib.error.URLError, OSError):
            urllib.request.urlopen(request, timeout=5).close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """JupyterLab on a free localhost port, rooted at a temporary copy of the explorer notebook."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    # Private settings: no news or update checks (no network), nothing from the user's own lab setup.
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"checkForUpdates": False, "fetchNews": "false"}), encoding="utf-8"
    )
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "WORKBENCH_SMOKE": "1",
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    log = tmp_path / "jupyter.log"
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--allow-root",  # CI containers run as root; the server only listens on localhost, with a token
                "--ip=127.0.0.1",
                f"--port={port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                "--LabApp.expose_app_in_browser=True",
                "--LabApp.news_url=None",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                "--LabApp.extension_manager=readonly",
                "--MappingKernelManager.default_kernel_name=python3",
            ],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Lab(url=base, token=token, log=log)
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with code {proc.returncode}:\n{server.log_tail()}")
            try:
                if _get(f"{base}/api/status?token={token}") == 200:
                    break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer within {SERVER_START_S} s:\n{server.log_tail()}")
            time.sleep(0.25)
        yield server
    finally:
        _stop(proc, base, token)


def test_explorer_runs_and_draws_a_chart_in_chromium(chromium: str, lab: Lab) -> None:
    if os.environ.get("WORKBENCH_REQUIRE_CHROMIUM"):
        from playwright.sync_api import sync_playwright
    else:
        sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import Route

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.set_default_timeout(UI_TIMEOUT_MS)
            page.on("pageerror", lambda err: problems.append(f"page error: {err}"))

            def local_only(route: Route) -> None:
                """Anything off localhost would be a network fetch the workshop room may not have."""
                if route.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
                    route.continue_()
                else:
                    problems.append(f"blocked request: {route.request.url}")
                    route.abort()

            page.route("**/*", local_only)
            step = "opening the notebook"
            try:
                page.goto(f"{lab.url}/lab/tree/{NOTEBOOK.name}?token={lab.token}")
                page.wait_for_selector(".jp-Notebook")
                step = "waiting for the kernel"
                page.wait_for_function(
                    "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                    " const k = w && w.sessionContext && w.sessionContext.session"
                    " && w.sessionContext.session.kernel; return k && k.status === 'idle'; }"
                )
                step = "running all cells"
                page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
                step = "choosing a blueprint"
                dropdown = page.locator(".widget-dropdown:has(> label:text-is('blueprint')) select")
                dropdown.wait_for()
                dropdown.select_option(BLUEPRINT)
                # The kernel has the new value once the blueprint's description has followed it.
                note = str(load_blueprint_data(BLUEPRINT)["description"]).split(",")[0].strip()
                page.locator(".widget-html", has_text=note).first.wait_for()
                step = "pressing Run"
                page.locator("button.jupyter-button", has_text="Run").click()
                step = "waiting for the run to finish"
                page.locator(".widget-html-content", has_text="done").first.wait_for()
                tabs = page.locator(".widget-tab")
                tabs.locator(".jp-OutputArea-output", has_text=BLUEPRINT).first.wait_for()
                step = "waiting for a chart"
                tabs.locator(".lm-TabBar-tab", has_text="charts").click()
                chart = tabs.locator(".jp-OutputArea-output svg.marks, .jp-OutputArea-output canvas").first
                chart.wait_for(state="visible")
                box = chart.bounding_box()
                assert box is not None and box["width"] > 50 and box["height"] > 50, f"chart too small: {box}"
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOT), full_page=True)
            except PlaywrightError as err:
                with contextlib.suppress(PlaywrightError):
                    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(SCREENSHOT.with_name("browser-explorer-failed.png")), full_page=True)
                pytest.fail(
                    f"browser test failed while {step}: {err}\n"
                    f"browser problems: {problems or 'none'}\n"
                    f"server log (tail):\n{lab.log_tail()}"
                )
        finally:
            browser.close()
    assert not [p for p in problems if p.startswith("blocked")], problems

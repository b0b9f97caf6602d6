"""A real browser: JupyterLab serves the notebooks in tests/browser/, headless Chromium (Debian's package) drives it.

Each test starts ``jupyter lab`` on a free localhost port with a token, rooted at a
temporary copy of ``tests/browser/*.ipynb``, and blocks every request that leaves
localhost (a workshop room may have no network):

- the explorer (a 1440 x 900 page): run every cell of ``explorer.ipynb``, pick a blueprint in the
  dropdown, press Run and wait until a chart has drawn itself as SVG from the
  offline Vega bundle (screenshot: ``outputs/browser-explorer.png``);
- two notebooks in one page (issue 21): ``charts-a.ipynb`` and ``charts-b.ipynb``
  side by side, each with its own kernel, run one after the other; each one's
  charts must draw in its own outputs. Then the page reloads (same kernels, a
  page without the chart library) and both run again: the charts must draw again
  (screenshot: ``outputs/browser-two-notebooks.png``).

Playwright drives ``/usr/bin/chromium``; it never downloads a browser of its own.
Without chromium the tests skip, unless ``WORKBENCH_REQUIRE_CHROMIUM`` is set (CI),
where they fail.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import CHROMIUM_FLAGS, start_playwright

from workbench.blueprints import load_blueprint_data

ROOT = Path(__file__).parents[1]
NOTEBOOKS = ROOT / "tests" / "browser"
NOTEBOOK = NOTEBOOKS / "explorer.ipynb"
SCREENSHOT = ROOT / "outputs" / "browser-explorer.png"
TWO_NOTEBOOKS = {"charts-a.ipynb": "notebook A", "charts-b.ipynb": "notebook B"}  # path: what its chart titles say
CHARTS_PER_NOTEBOOK = 2
TWO_SCREENSHOT = ROOT / "outputs" / "browser-two-notebooks.png"
BLUEPRINT = "five-node"  # the notebook starts on three-node; the test switches
SERVER_START_S = 60
UI_TIMEOUT_MS = 60_000


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
    """JupyterLab on a free localhost port, rooted at a temporary copy of the notebooks in tests/browser/."""
    root = tmp_path / "root"
    root.mkdir()
    for notebook in NOTEBOOKS.glob("*.ipynb"):
        shutil.copy(notebook, root / notebook.name)
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


@dataclass
class LocalPage:
    """A Chromium page that may only talk to localhost, and what went wrong in it."""

    page: Any
    problems: list[str] = field(default_factory=list)

    @property
    def left_the_machine(self) -> list[str]:
        return [p for p in self.problems if p.startswith(("blocked", "websocket"))]


@contextlib.contextmanager
def _local_page(chromium: str, viewport: dict[str, int]) -> Iterator[LocalPage]:
    """Headless Chromium with every request off localhost blocked and recorded (service workers too:
    they are blocked, so none can fetch behind the route); page errors are recorded as well."""
    from playwright.sync_api import Route

    with start_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport=viewport, service_workers="block")
            context.set_default_timeout(UI_TIMEOUT_MS)
            local = LocalPage(page=context.new_page())

            def local_only(route: Route) -> None:
                """Anything off localhost would be a network fetch the workshop room may not have."""
                if route.request.url.startswith(("http://127.0.0.1", "data:", "blob:")):
                    route.continue_()
                else:
                    local.problems.append(f"blocked request: {route.request.url}")
                    route.abort()

            context.route("**/*", local_only)
            local.page.on("pageerror", lambda err: local.problems.append(f"page error: {err}"))

            def local_websocket(ws: Any) -> None:
                if not ws.url.startswith("ws://127.0.0.1"):
                    local.problems.append(f"websocket off localhost: {ws.url}")

            local.page.on("websocket", local_websocket)
            yield local
        finally:
            browser.close()


def _fail(local: LocalPage, lab: Lab, step: str, err: BaseException, screenshot: Path) -> None:
    """Fail with what the page and the server said, and a screenshot of the page as it was."""
    from playwright.sync_api import Error as PlaywrightError

    with contextlib.suppress(PlaywrightError):
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        local.page.screenshot(path=str(screenshot.with_name(screenshot.stem + "-failed.png")), full_page=True)
    pytest.fail(
        f"browser test failed while {step}: {err}\n"
        f"browser problems: {local.problems or 'none'}\n"
        f"server log (tail):\n{lab.log_tail()}"
    )


def test_explorer_runs_and_draws_a_chart_in_chromium(chromium: str, lab: Lab) -> None:
    from playwright.sync_api import Error as PlaywrightError

    # A laptop's page (issue 21 item 9: 1440 px wide): the results start below the fold.
    with _local_page(chromium, {"width": 1440, "height": 900}) as local:
        page = local.page
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
            step = "waiting for the results to scroll into view"
            page.wait_for_function(
                "() => { const r = document.querySelector('.widget-tab').getBoundingClientRect();"
                " return r.top >= 0 && r.top < window.innerHeight / 2; }"
            )
            step = "waiting for a chart"
            tabs.locator(".lm-TabBar-tab", has_text="charts").click()
            chart = tabs.locator(".jp-OutputArea-output svg.marks, .jp-OutputArea-output canvas").first
            chart.wait_for(state="visible")
            box = chart.bounding_box()
            assert box is not None and box["width"] > 50 and box["height"] > 50, f"chart too small: {box}"
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        except PlaywrightError as err:
            _fail(local, lab, step, err, SCREENSHOT)
    assert not local.left_the_machine, local.problems


# JupyterLab's own objects (expose_app_in_browser), for one notebook by path. Each function takes the path.
_FIND = (
    "const panel = Array.from(window.jupyterapp.shell.widgets('main'))"
    ".find((w) => w.context && w.context.path === path && w.content && w.content.model);"
)
_KERNEL_IDLE = (
    "(path) => { " + _FIND + " const k = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;"
    " return k && k.status === 'idle' ? k.id : null; }"
)
_ACTIVATE = "(path) => { " + _FIND + " window.jupyterapp.shell.activateById(panel.id); }"
_IS_CURRENT = "(path) => { " + _FIND + " return !!panel && window.jupyterapp.shell.currentWidget === panel; }"
# Notebook commands act on the current notebook: activate it first (see _command).
_RUN_ALL = "() => window.jupyterapp.commands.execute('notebook:run-all-cells')"
_CLEAR_AND_SAVE = (
    "async (path) => { " + _FIND + " await window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs');"
    " await panel.context.save(); return panel.model.dirty; }"
)
_OPEN = "([path, mode]) => window.jupyterapp.commands.execute('docmanager:open', {path, options: mode ? {mode} : {}})"
# Each HTML output (here: each chart) of the notebook, looked for inside the notebook's own panel only:
# how many data marks its SVG has, its title, and the error it shows, if any.
_CHARTS = (
    "(path) => { " + _FIND + " if (!panel) return null;"
    " const html = '.jp-OutputArea-output[data-mime-type=\"text/html\"]';"
    " return Array.from(panel.node.querySelectorAll(html)).map((c) => {"
    " const svg = c.querySelector('svg.marks'), err = c.querySelector('.workbench-chart-error');"
    " return {marks: svg ? svg.querySelectorAll('.role-mark > *').length : 0,"
    " title: svg ? Array.from(svg.querySelectorAll('.role-title-text text')).map((t) => t.textContent).join(' ') : '',"
    " error: err ? err.textContent : null}; }); }"
)
_SETTLED = (
    "([path, count]) => { const charts = (" + _CHARTS + ")(path);"
    " return !!charts && charts.length === count && charts.every((c) => c.marks > 0 || c.error); }"
)


_PANEL_ID = "(path) => { " + _FIND + " return panel ? panel.id : null; }"


def _command(page: Any, path: str, script: str) -> Any:
    """Make the notebook at ``path`` the current one, then run ``script``. Activating it by id is
    not enough on a busy machine (a workspace restore can hand focus back to the other panel
    after the check), so a click on its own title cell makes it current as a person would."""
    page.evaluate(_ACTIVATE, path)
    panel_id = page.evaluate(_PANEL_ID, path)
    page.locator(f"#{panel_id} .jp-Cell").first.click()
    page.wait_for_function(_IS_CURRENT, arg=path)
    return page.evaluate(script, path)


def _run_and_check_charts(page: Any, path: str, title: str) -> None:
    """Run every cell of one notebook and check its charts drew, in its own outputs, with its own titles."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    _command(page, path, _RUN_ALL)
    try:
        page.wait_for_function(_SETTLED, arg=[path, CHARTS_PER_NOTEBOOK], timeout=UI_TIMEOUT_MS)
    except PlaywrightTimeout:
        # On a loaded two-core machine JupyterLab can drop a run-all sent while the kernel's
        # connection is still settling (the cells stay unrun, no output at all): send it once more.
        page.wait_for_function(_KERNEL_IDLE, arg=path, timeout=2 * UI_TIMEOUT_MS)
        _command(page, path, _RUN_ALL)
        page.wait_for_function(_SETTLED, arg=[path, CHARTS_PER_NOTEBOOK], timeout=2 * UI_TIMEOUT_MS)
    charts = page.evaluate(_CHARTS, path)
    assert [c["error"] for c in charts] == [None] * CHARTS_PER_NOTEBOOK, charts
    assert all(c["marks"] > 0 and c["title"].startswith(title) for c in charts), (path, charts)


def test_two_notebooks_in_one_page_draw_their_own_charts_also_after_a_reload(chromium: str, lab: Lab) -> None:
    """Issue 21: notebook B run after notebook A drew B's charts into A's outputs (ids numbered per
    kernel, looked up page-wide), and after a page reload a re-run drew nothing (the chart library
    went with a kernel's first chart only, and the kernel outlives the page)."""
    from playwright.sync_api import Error as PlaywrightError

    first, second = TWO_NOTEBOOKS
    with _local_page(chromium, {"width": 1600, "height": 1000}) as local:
        page = local.page
        page.on("dialog", lambda dialog: dialog.accept())  # "leave the page?", should one come up
        step = "opening both notebooks side by side"
        try:
            page.goto(f"{lab.url}/lab/tree/{first}?token={lab.token}")
            page.wait_for_selector(".jp-Notebook")
            page.evaluate(_OPEN, [second, "split-right"])
            step = "waiting for the kernels"
            kernels = {path: page.wait_for_function(_KERNEL_IDLE, arg=path).json_value() for path in TWO_NOTEBOOKS}
            assert kernels[first] != kernels[second], kernels
            for path, title in TWO_NOTEBOOKS.items():
                step = f"running {path}"
                _run_and_check_charts(page, path, title)
            step = f"checking {first} after {second} ran"
            assert [c["title"] for c in page.evaluate(_CHARTS, first)] == [
                f"{TWO_NOTEBOOKS[first]}: latency",
                f"{TWO_NOTEBOOKS[first]}: node states",
            ]
            TWO_SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(TWO_SCREENSHOT))

            # Saved with no outputs, so the reloaded page starts with no chart library at all.
            step = "clearing, saving and reloading"
            for path in TWO_NOTEBOOKS:
                assert _command(page, path, _CLEAR_AND_SAVE) is False
            page.reload()
            page.wait_for_selector(".jp-Notebook")
            # Let JupyterLab finish restoring the workspace first: opening a notebook while it is
            # still being restored can leave two views of it, and the checks would watch the other.
            page.wait_for_function("() => !!(window.jupyterapp && window.jupyterapp.restored)")
            page.evaluate("async () => { await window.jupyterapp.restored; }")
            for path in TWO_NOTEBOOKS:  # restored from the workspace, or opened again
                page.evaluate(_OPEN, [path, None])
            assert page.evaluate("() => window.workbenchVega === undefined && window.vegaEmbed === undefined")
            step = "waiting for the kernels after the reload"
            again = {path: page.wait_for_function(_KERNEL_IDLE, arg=path).json_value() for path in TWO_NOTEBOOKS}
            assert again == kernels, "the reload should keep the kernels (and their state)"
            for path, title in TWO_NOTEBOOKS.items():
                step = f"running {path} after the reload"
                _run_and_check_charts(page, path, title)
        except (PlaywrightError, AssertionError) as err:
            _fail(local, lab, step, err, TWO_SCREENSHOT)
    assert not local.left_the_machine, local.problems

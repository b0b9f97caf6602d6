"""The notebook chart renderer (workbench.notebook): the HTML and JavaScript it writes into an output.

Two bugs this guards against (issue 21): charts numbered per kernel (``workbench-chart-1``) and
looked up page-wide, so two notebooks in one JupyterLab page drew into each other's outputs; and
the Vega bundle sent with a kernel's first chart only, so after a page reload (same kernel, new
page) every chart stayed blank. The real JupyterLab check is tests/test_browser.py.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from workbench import charts as ch
from workbench import load_scenario, run

ROOT = Path(__file__).parents[1]
CHART_ID = re.compile(r'<div class="workbench-chart" id="(workbench-chart-[0-9a-f]{32})">')
PACKED = re.compile(r'<script type="application/x-workbench-vega-bundle" class="workbench-vega-bundle">([^<]*)<')

# One "kernel": a fresh interpreter that imports the notebook module and renders two charts the way
# Jupyter does (the active Altair renderer), printing their HTML.
KERNEL = """
import json, altair as alt
import workbench.notebook
chart = alt.Chart(alt.Data(values=[{"x": 1, "y": 2}])).mark_point().encode(x="x:Q", y="y:Q")
print(json.dumps([alt.renderers.get()(chart.to_dict())["text/html"] for _ in range(2)]))
"""


@pytest.fixture(scope="module")
def result() -> Any:
    """A short quickstart run (10 s at 100 ops/s, B crashes at 4 s): well under a second."""
    overrides = {
        "duration": "10 s",
        "warmup": "1 s",
        "workload": {"rate": 100},
        "faults": [{"at": "4 s", "action": "crash", "node": "B"}],
    }
    return run(load_scenario(ROOT / "scenarios" / "quickstart.yaml", overrides))


def _kernel_outputs() -> list[str]:
    """Chart outputs from two separate interpreters started side by side, as two notebooks' kernels."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    kernels = [
        subprocess.Popen([sys.executable, "-c", KERNEL], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs: list[str] = []
    for kernel in kernels:
        out, _ = kernel.communicate(timeout=120)
        assert kernel.returncode == 0
        outputs += json.loads(out)
    return outputs


def test_chart_ids_are_unique_across_kernels_and_each_script_finds_its_own_element() -> None:
    outputs = _kernel_outputs()
    ids = [CHART_ID.search(html).group(1) for html in outputs]  # type: ignore[union-attr]
    assert len(set(ids)) == 4, ids
    for html, element_id in zip(outputs, ids, strict=True):
        script = html.split("<script>", 1)[1]
        assert json.dumps(element_id) in script
        # Looked up inside the script's own output first, not by a page-wide counter.
        assert "document.currentScript" in script and "scope.querySelector('#'+id)" in script
        assert not re.search(r"workbench-chart-\d+\b(?![0-9a-f])", html)


def test_every_output_carries_the_library_and_loads_it_only_when_the_page_lacks_it(result: Any) -> None:
    import altair as alt

    import workbench.notebook as nb

    assert alt.renderers.active == nb.RENDERER
    render = alt.renderers.get()
    charts = (nb.latency_timeline(result), nb.latency_cdf({"q": result}))
    outputs = [render(chart.to_dict())["text/html"] for chart in charts]
    version, _ = nb.packed_bundle()
    for html in outputs:
        assert "http://" not in html and "https://" not in html  # nothing to fetch, not even the schema
        packed = PACKED.search(html)
        assert packed is not None, "every output carries the bundle, not only a kernel's first"
        source = gzip.decompress(base64.b64decode(packed.group(1))).decode("utf-8")
        assert source == nb._bundle() and "window.vegaEmbed=" in source
        # Unpacked once per page (and bundle version); later outputs wait for that load.
        assert "window.workbenchVega" in html and json.dumps(version) in html
        assert 300_000 < len(html) < 600_000
        # A chart that cannot draw says so, visibly, in its own output.
        assert "Drawing the chart" in html and "This chart could not be drawn" in html


def test_offline_html_draws_in_headless_chromium_and_shows_failures(result: Any, tmp_path: Path) -> None:
    """Three outputs in one page, no network: two draw as SVG (the second uses the library the
    first unpacked), and a broken spec shows its error instead of a blank output."""
    import workbench.notebook as nb

    browser = shutil.which("chromium")
    if browser is None:
        if os.environ.get("WORKBENCH_REQUIRE_CHROMIUM"):
            pytest.fail("chromium is required here but is not on PATH")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    first = nb.offline_html(ch.spec(ch.node_state_timeline(result)))
    second = nb.offline_html(ch.spec(ch.latency_timeline(result)))
    broken = nb.offline_html({"mark": "no-such-mark", "data": {"values": [{"x": 1}]}})
    page = tmp_path / "outputs.html"
    page.write_text(f"<!doctype html><html><body>{first}{second}{broken}</body></html>", encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
    dom = subprocess.run(
        [browser, *flags, "--virtual-time-budget=10000", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert dom.count('class="marks"') == 2
    assert dom.count('class="workbench-chart-note workbench-chart-error"') == 1
    assert dom.count('class="workbench-vega-bundle"') == 0  # read and dropped: no 0.4 MB text nodes left behind

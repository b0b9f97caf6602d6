"""The HTML reports as a person opens them: from disk, offline, in a real browser (issue 21).

Two reports are built with the CLI (``workbench report STUDY -o FILE.html``): a comparison
(``scenarios/studies/blueprints-under-failover.yaml`` shortened to seconds: three blueprints,
a leader crash and a partition, long variant names) and a capacity report (two blueprints, a
capacity search that finds a limit, a target load). Each is opened as a ``file://`` page in
headless Chromium (Debian's, through Playwright; see ``tests/conftest.py``), at a desktop
width (1280 px) and a narrow one (1008 px), with every request that is not ``file:`` or
``data:`` aborted and recorded. Then:

- no request left the page (the route, the request and websocket events, and a service
  worker block all watch; a deliberate fetch at the end proves the route is in the way);
- every chart the report declares (one JSON spec each) drew itself as SVG with marks that
  have a size, its text stays inside the chart, and no two labels of an axis come closer
  than 2 px (``0.40.5`` on a log axis reads as one number);
- no text overflows its box: every table, cell, heading, paragraph, list item, code block
  and section, the body, and the document (no wider than the window);
- no JavaScript error, and no warning from Vega.

Full-page screenshots: ``outputs/browser-report-{compare,capacity}-{1280,1008}.png``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import CHROMIUM_FLAGS, start_playwright

from workbench.cli import main

ROOT = Path(__file__).parents[1]
OUTPUTS = ROOT / "outputs"
WIDTHS = (1280, 1008)
HEIGHT = 900
TIMEOUT_MS = 30_000
LOCAL = ("file:", "data:")
# What each report declares: latency distributions and availability around the faults; the
# capacity report adds the capacity curve.
CHARTS = {"compare": 2, "capacity": 3}


def _compare_study() -> dict[str, Any]:
    """The README's report study, shortened to seconds: same blueprints, same kinds of fault. Its
    variants are named as output folders often are, long and without a space (the comparison's
    column headings must still fit the page)."""
    study = yaml.safe_load((ROOT / "scenarios" / "studies" / "blueprints-under-failover.yaml").read_text())
    for variant in study["variants"]:
        variant["name"] = variant["name"].replace("-", "_") + "_leader_crash_then_partition"
    study["scenario"].update(duration="24 s", warmup="2 s")
    study["scenario"]["workload"]["rate"] = 300
    study["scenario"]["faults"] = [
        {"at": "6 s", "action": "crash", "node": "leader", "duration": "6 s"},
        {"at": "16 s", "action": "partition", "groups": [["preferred"]], "duration": "5 s"},
    ]
    study["replications"] = 2
    study["description"] = (
        "Which cluster size rides out a leader crash and a partition best, and at what cost in nodes? "
        "The leader crashes at 6 s for 6 s, and at 16 s the preferred node is cut off for 5 s."
    )
    return study


CAPACITY_STUDY: dict[str, Any] = {
    "name": "capacity-three-vs-five",
    "description": (
        "How much load can three nodes and five nodes carry within a 3.6 ms write p99 and 99 % "
        "availability, while the preferred node crashes for a few seconds?"
    ),
    "scenario": {
        "name": "capacity",
        "seed": 1,
        "duration": "10 s",
        "warmup": "2 s",
        "blueprint": "three-node",
        "clients": {"count": 2},
        "workload": {"rate": 200, "keys": 500},
        "faults": [{"at": "5 s", "action": "crash", "node": "preferred", "duration": "3 s"}],
    },
    "replications": 2,
    "variants": [
        {"name": "three-node", "set": {"blueprint": "three-node"}},
        {"name": "five-node", "set": {"blueprint": "five-node"}},
    ],
    # A limit inside the range: the report has its "what limits" text and a curve crossing the rule.
    "capacity": {
        "objectives": ["p99_write_ms<=3.6", "availability>=99%"],
        "range": [400, 3200],
        "target": 800,
        "replications": 1,
    },
}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("reports")
    out = {}
    for name, study in (("compare", _compare_study()), ("capacity", CAPACITY_STUDY)):
        path = tmp / f"{name}.yaml"
        path.write_text(yaml.safe_dump(study, sort_keys=False), encoding="utf-8")
        out[name] = tmp / f"{name}.html"
        assert main(["report", str(path), "-o", str(out[name]), "--workers", "2", "--no-progress"]) == 0
    return out


@dataclass
class OfflinePage:
    """A Chromium page that may only read files, and what went wrong in it."""

    page: Any
    requests: list[str] = field(default_factory=list)  # every URL that is not file: or data:
    errors: list[str] = field(default_factory=list)  # page errors, console errors, Vega warnings


@contextlib.contextmanager
def _offline_pages(chromium: str) -> Iterator[Any]:
    """``new_page(width)`` opens a fresh context (its own route and recorders) in one headless Chromium."""
    from playwright.sync_api import ConsoleMessage, Route

    with start_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_FLAGS)
        try:

            def new_page(width: int) -> OfflinePage:
                context = browser.new_context(viewport={"width": width, "height": HEIGHT}, service_workers="block")
                context.set_default_timeout(TIMEOUT_MS)
                offline = OfflinePage(page=context.new_page())

                def files_only(route: Route) -> None:
                    if route.request.url.startswith(LOCAL):
                        route.continue_()
                    else:
                        offline.requests.append(route.request.url)
                        route.abort()

                def console(message: ConsoleMessage) -> None:
                    # Vega logs what it could not draw as warnings ("WARN ..."), not errors.
                    if message.type == "error" or (message.type == "warning" and "WARN" in message.text):
                        offline.errors.append(f"console {message.type}: {message.text}")

                context.route("**/*", files_only)
                page = offline.page
                page.on("request", lambda r: None if r.url.startswith(LOCAL) else offline.requests.append(r.url))
                page.on("websocket", lambda ws: offline.requests.append(ws.url))
                page.on("pageerror", lambda err: offline.errors.append(f"page error: {err}"))
                page.on("console", console)
                return offline

            yield new_page
        finally:
            browser.close()


# Everything measured in the page. Text is shortened so a failure message stays readable.
_INSPECT = r"""() => {
  const say = (el) => (el.innerText || el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 100);
  const shown = (t) => t.textContent.trim() !== '' && getComputedStyle(t).opacity !== '0'
    && t.getAttribute('opacity') !== '0' && t.getAttribute('visibility') !== 'hidden';
  const near = (a, b, gap) => a.left < b.right + gap && b.left < a.right + gap
    && a.top < b.bottom + gap && b.top < a.bottom + gap;

  const tag = (el) => '<' + el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + '>';
  const inside = (el) => {  // the content box: inside the padding and border
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return {left: r.left + parseFloat(s.borderLeftWidth) + parseFloat(s.paddingLeft),
            right: r.right - parseFloat(s.borderRightWidth) - parseFloat(s.paddingRight)};
  };
  const overflow = [];
  // Text wider than its own box...
  for (const el of document.querySelectorAll('body, section, table, th, td, h1, h2, h3, p, li, pre, div.chart')) {
    if (el.scrollWidth > el.clientWidth + 1)
      overflow.push(`${tag(el)} needs ${el.scrollWidth} px, has ${el.clientWidth} px: "${say(el)}"`);
  }
  // ...and boxes wider than where they sit (a table grows with its cells, then sticks out).
  for (const el of document.querySelectorAll('section, table, h1, h2, h3, p, ul, li, pre, div.chart')) {
    const r = el.getBoundingClientRect(), room = inside(el.parentElement);
    if (r.left < room.left - 1 || r.right > room.right + 1)
      overflow.push(`${tag(el)} is ${Math.round(r.width)} px wide, sticks out of its ${tag(el.parentElement)}`
        + ` (${Math.round(room.right - room.left)} px): "${say(el)}"`);
  }
  const doc = document.documentElement;

  const charts = Array.from(document.querySelectorAll('div.chart')).map((div) => {
    const spec = document.getElementById(div.id.replace('chart-', 'spec-'));
    const declared = spec ? JSON.parse(spec.textContent).title : null;
    const title = typeof declared === 'string' ? declared : (declared && declared.text) || '';
    const svg = div.querySelector('svg.marks');
    if (!svg) return {id: div.id, drawn: 0, width: 0, height: 0, title, outside: [], touching: []};
    const frame = svg.getBoundingClientRect();
    const drawn = Array.from(svg.querySelectorAll('.role-mark > *')).filter((m) => {
      const box = m.getBBox();
      return (box.width > 0 || box.height > 0) && getComputedStyle(m).opacity !== '0';
    }).length;
    const outside = Array.from(svg.querySelectorAll('text')).filter(shown).filter((t) => {
      const r = t.getBoundingClientRect();
      return r.left < frame.left - 1 || r.right > frame.right + 1
        || r.top < frame.top - 1 || r.bottom > frame.bottom + 1;
    }).map((t) => t.textContent);
    const touching = [];
    svg.querySelectorAll('.role-axis-label').forEach((axis) => {
      const labels = Array.from(axis.querySelectorAll('text')).filter(shown)
        .map((t) => [t.textContent, t.getBoundingClientRect()]);
      for (let i = 0; i < labels.length; i++)
        for (let j = i + 1; j < labels.length; j++)
          if (near(labels[i][1], labels[j][1], 2)) touching.push(`${labels[i][0]} | ${labels[j][0]}`);
    });
    return {id: div.id, drawn, width: frame.width, height: frame.height, title, outside, touching};
  });

  return {
    specs: Array.from(document.querySelectorAll('script[type="application/json"][id^="spec-"]')).map((s) => s.id),
    charts,
    overflow,
    document: {width: doc.scrollWidth, window: doc.clientWidth},
  };
}"""

# All the charts have drawn (or the page has given up on one: then the checks say which).
_SETTLED = """() => {
  const charts = document.querySelectorAll('div.chart');
  return charts.length > 0 && Array.from(charts).every((c) => c.querySelector('svg.marks .role-mark'));
}"""


def _problems(name: str, seen: dict[str, Any]) -> list[str]:
    out = []
    charts = seen["charts"]
    ids = [c["id"] for c in charts]
    if seen["specs"] != [i.replace("chart-", "spec-") for i in ids] or len(ids) != CHARTS[name]:
        out.append(f"the report declares charts {seen['specs']} with containers {ids}; expected {CHARTS[name]}")
    for c in charts:
        label = f"{c['id']} ({c['title'] or 'untitled'})"
        if c["drawn"] == 0 or c["width"] < 100 or c["height"] < 100:
            out.append(f"{label} drew {c['drawn']} marks in {c['width']:.0f} x {c['height']:.0f} px")
        if c["outside"]:
            out.append(f"{label}: text outside the chart: {c['outside']}")
        if c["touching"]:
            out.append(f"{label}: axis labels touch: {c['touching']}")
    out += [f"overflow: {o}" for o in seen["overflow"]]
    doc = seen["document"]
    if doc["width"] > doc["window"]:
        out.append(f"the page is {doc['width']} px wide in a {doc['window']} px window")
    return out


@pytest.mark.parametrize("name", list(CHARTS))
def test_report_opens_offline_draws_every_chart_and_fits(name: str, reports: dict[str, Path], chromium: str) -> None:
    from playwright.sync_api import Error as PlaywrightError

    url = reports[name].as_uri()
    problems: dict[int, list[str]] = {}
    with _offline_pages(chromium) as new_page:
        for width in WIDTHS:
            offline = new_page(width)
            page = offline.page
            shot = OUTPUTS / f"browser-report-{name}-{width}.png"
            shot.parent.mkdir(parents=True, exist_ok=True)
            try:
                page.goto(url)
                page.wait_for_function(_SETTLED)
            except PlaywrightError as err:
                problems[width] = [f"the charts did not draw: {err}"]
            with contextlib.suppress(PlaywrightError):
                page.screenshot(path=str(shot), full_page=True)
            found = problems.setdefault(width, [])
            found += _problems(name, page.evaluate(_INSPECT))
            found += [f"request left the page: {u}" for u in dict.fromkeys(offline.requests)]
            found += offline.errors

            # The route is really in the way: a fetch off the machine is refused, and recorded.
            probe = "http://192.0.2.1/workbench-probe"  # TEST-NET-1: never a real host
            before = len(offline.requests)
            outcome = page.evaluate("(u) => fetch(u).then(() => 'fetched', () => 'refused')", probe)
            if outcome != "refused" or probe not in offline.requests[before:]:
                found.append(f"the network guard let {probe} through ({outcome})")
            page.context.close()
    failed = {width: found for width, found in problems.items() if found}
    assert not failed, f"{name} report ({reports[name]}):\n" + "\n".join(
        f"  at {width} px: {p}" for width, found in failed.items() for p in found
    )

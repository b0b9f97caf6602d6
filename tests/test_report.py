"""The capacity report: self-contained, offline, every chart and table, hostile text escaped,
rendered by a real browser."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from workbench.cli import main

HOSTILE = "<script>alert(1)</script>"
# Inside a <script> element, "<!--" then "<script" makes the parser skip the next "</script>": a
# variant named so swallowed every chart after it unless the embedded JSON escapes "<".
BREAKER = "<!--<script>"
STUDY = {
    "name": f"{HOSTILE} study",
    "description": "Three & five nodes, <b>not bold</b>",
    "scenario": {
        "name": "<img src=x onerror=alert(2)>",
        "seed": 1,
        "duration": "16 s",
        "warmup": "2 s",
        "blueprint": "three-node",
        "clients": {"count": 2},
        "workload": {"rate": 200, "keys": 500},
        "faults": [{"at": "6 s", "action": "crash", "node": "preferred", "duration": "4 s"}],
    },
    "replications": 2,
    "variants": [
        {"name": "three-node", "set": {"blueprint": "three-node"}},
        {"name": BREAKER + HOSTILE, "set": {"blueprint": "five-node"}},
    ],
    "capacity": {
        "objectives": ["p99_write_ms<=6"],
        "range": [400, 1600],
        "target": 800,
        "replications": 1,
        "beyond": 0,  # stop at the range's top: no limit found in it
    },
}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, str]:
    tmp = tmp_path_factory.mktemp("report")
    study = tmp / "study.yaml"
    study.write_text(yaml.safe_dump(STUDY))
    out = tmp / "report.html"
    assert main(["report", str(study), "-o", str(out), "--workers", "2", "--no-progress"]) == 0
    return out, out.read_text(encoding="utf-8")


def _body(text: str) -> str:
    """The document without the inlined libraries (their code mentions tags too)."""
    return text.split("</head>", 1)[1]


def test_report_has_every_section_chart_and_table(report):
    text = _body(report[1])
    for heading in ("Findings", "Comparison", "Latency distributions", "Availability around each fault", "Capacity"):
        assert f"<h2>{heading}</h2>" in text
    assert len(re.findall(r'<div class="chart" id="chart-\d+">', text)) == 3
    assert len(re.findall(r'<script type="application/json" id="spec-\d+">', text)) == 3
    assert text.count("<table>") == 1 + 2  # the comparison, and one capacity search per variant
    assert "write p99 (ms)" in text and "±" in text
    assert "No limit found: every load searched, up to 1,600 ops/s, met" in text  # findings from the numbers
    assert "seeds 1, 2" in text and "workbench " in text  # provenance


def test_report_is_offline(report):
    _, text = report
    assert "http://" not in text and "https://" not in text
    assert "vegaEmbed" in text  # the libraries are inlined, not fetched
    body = _body(text)
    assert "<link" not in body and "<script src" not in text and "<img" not in body


def test_report_escapes_hostile_text(report):
    _, text = report
    assert HOSTILE not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img src=x" not in text and "&lt;img src=x onerror=alert(2)&gt;" in text
    assert "<b>not bold</b>" not in text


def test_chart_data_is_embedded_as_json_no_text_can_break_out_of(report):
    body = _body(report[1])
    payloads = re.findall(r'<script type="application/json" id="spec-\d+">(.*?)</script>', body, re.S)
    assert len(payloads) == 3
    for payload in payloads:
        assert not set(payload) & {"<", ">", "&", "\u2028", "\u2029"}, payload[:200]
    specs = [json.loads(payload) for payload in payloads]  # reads back as written
    assert BREAKER + HOSTILE in json.dumps(specs, ensure_ascii=False)


def test_report_renders_in_headless_chromium(report, tmp_path: Path, chromium: str):
    path, _ = report
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--virtual-time-budget=10000",
    ]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    # Vega-Embed drew every chart as SVG: the scripts ran with no network.
    assert dom.count('class="marks"') == 3
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium, *flags, "--window-size=1100,2400", f"--screenshot={shot}", path.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.exists() and shot.stat().st_size > 50_000


def test_markdown_report_writes_svg_charts_beside_it(tmp_path: Path):
    study = tmp_path / "study.yaml"
    data = {**STUDY, "capacity": None}
    data.pop("capacity")
    study.write_text(yaml.safe_dump(data))
    out = tmp_path / "report.md"
    assert main(["report", str(study), "-o", str(out), "--serial", "--no-progress"]) == 0
    text = out.read_text()
    charts = sorted(tmp_path.glob("report-chart*.svg"))
    assert len(charts) == 2 and all(f"]({c.name})" in text for c in charts)
    assert HOSTILE not in text and "&lt;script&gt;" in text
    assert "| write p99 (ms) |" in text


def test_a_cluster_of_several_databases_gets_its_databases_and_nodes(tmp_path: Path):
    """Issue 23, item 5: the report shows each variant's least available databases and its
    per-node density figures, and charts the databases' availability."""
    dbs = [
        {"name": "orders", "replication_factor": 3, "members": ["A", "B", "C"]},
        {"name": "carts", "replication_factor": 2, "members": ["A", "B"]},
        {"name": "users", "replication_factor": 2, "members": ["C", "D"]},
    ]
    study = {
        "name": "databases",
        "scenario": {
            "name": "databases",
            "seed": 1,
            "duration": "30 s",
            "warmup": "2 s",
            "blueprint": {"extends": "five-node", "databases": dbs},
            "clients": {"count": 2},
            "workload": {"rate": 200, "keys": 500},
            "faults": [
                {"at": "5 s", "action": "crash", "node": "A"},
                {"at": "5 s", "action": "crash", "node": "B"},
            ],
        },
        "replications": 1,
        "variants": [{"name": "mixed", "set": {"seed": 1}}],
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    html_out, md_out = tmp_path / "report.html", tmp_path / "report.md"
    assert main(["report", str(path), "-o", str(html_out), "--serial", "--no-progress"]) == 0
    text = _body(html_out.read_text(encoding="utf-8"))
    assert "<h2>Databases and nodes</h2>" in text and "<h2>Availability per database: mixed</h2>" in text
    assert "<th>availability_at_end</th>" in text and "<th>page_reads_per_s</th>" in text
    # The least available first: carts lost both its copies.
    assert text.index("<td>carts</td>") < text.index("<td>orders</td>")
    assert main(["report", str(path), "-o", str(md_out), "--serial", "--no-progress"]) == 0
    md = md_out.read_text()
    assert "## Databases and nodes" in md and "| carts |" in md

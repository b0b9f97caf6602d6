"""The capacity report: one study, run and written up for people who will not open a notebook.

``build_report`` runs the study's comparison (and its capacity search, if the
study has a ``capacity`` section), then ``render_html`` writes one
self-contained file: Vega, Vega-Lite and Vega-Embed inlined from vl-convert, the
chart specs embedded as JSON, no network address anywhere, every piece of user
text escaped. ``render_markdown`` writes Markdown with SVG charts beside it.

Study ``capacity`` section (docs/studies.md; checked by :func:`workbench.study.capacity_spec`)::

    capacity:
      objectives: ["p99_write_ms<=50", "availability>=99.9%"]
      range: [200, 20000]        # ops/s searched (default [100, 100000])
      target: 3000               # headroom reported at this load (default: none)
      replications: 2            # per load (default: the study's)
"""

from __future__ import annotations

import datetime
import html
import json
import math
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from workbench.analysis.capacity import parse_slo
from workbench.report import answers
from workbench.results import RunResult
from workbench.study import (
    CapacityResult,
    Study,
    capacity_spec,
    compare_specs,
    compare_table,
    find_capacity,
    run_folder,
    run_specs,
)
from workbench.version import __version__


@dataclass
class Report:
    """What a study report shows: one row per run, the comparison table, each variant's first
    replication (for the charts), the capacity searches with their objectives, and the findings."""

    study: Study
    rows: pd.DataFrame
    table: pd.DataFrame
    results: dict[str, RunResult]
    capacity: dict[str, CapacityResult] = field(default_factory=dict)
    objectives: list[str] = field(default_factory=list)
    target: float | None = None
    capacity_range: tuple[float | None, float | None] = (None, None)
    findings: list[str] = field(default_factory=list)
    date: str = field(default_factory=lambda: datetime.date.today().isoformat())


def build_report(study: Study, *, progress: bool = True, **executor: Any) -> Report:
    """Run the comparison (every variant, every replication) and the capacity search."""
    variants = study.variants or ((study.name, ()),)
    study = Study(**{**study.__dict__, "variants": tuple(variants)})
    with tempfile.TemporaryDirectory(prefix="workbench-report-") as tmp:
        rows = run_specs(study, compare_specs(study), out_dir=tmp, progress=progress, **executor)
        results = {}
        for name, _ in variants:
            results[name] = RunResult.from_dir(Path(tmp) / run_folder(name) / "rep0")
    report = Report(study, rows, compare_table(rows), results)
    if "capacity" in study.extra:
        cap = capacity_spec(study.extra["capacity"], study.replications, source=study.source)
        report.objectives, report.target = list(cap.objectives), cap.target
        report.capacity_range = (cap.low, cap.high)
        sub = Study(**{**study.__dict__, "replications": cap.replications})
        for name, factors in variants:
            report.capacity[name] = find_capacity(
                sub,
                report.objectives,
                low=cap.low,
                high=cap.high,
                target=cap.target,
                beyond=cap.beyond,
                factors=factors,
                progress=progress,
                **executor,
            )
    report.findings = findings(report)
    return report


def findings(report: Report) -> list[str]:
    """Plain sentences written from the numbers, the differences that matter in practice first
    (outside the noise and above a practical threshold, :mod:`workbench.report.answers`); the
    metrics where the variants cannot be told apart are listed last as no meaningful difference."""
    out: list[str] = []
    for name, cap in report.capacity.items():
        lines = answers.capacity_lines(cap, low=report.capacity_range[0], high=report.capacity_range[1])
        out.append(f"Capacity of {name}: " + " ".join(lines))
    found, same = answers.differences(report.table)
    for d in found:
        text = answers.difference_sentence(d)
        if d.metric == "lost writes":
            text += " " + answers.LOST_WRITES_EXPLAINED + _lost_causes(report)
        out.append(text)
    if same:
        out.append(f"No meaningful difference (inside the noise or too small to matter): {', '.join(same)}.")
    table = report.table
    if "lost writes" in table.index and not any(d.metric == "lost writes" for d in found):
        lost = [table.at["lost writes", v] for v in table.columns if v != "key"]
        if any(c is not None and c[0] > 0 for c in lost):
            out.append(
                "Every variant loses some acknowledged writes. " + answers.LOST_WRITES_EXPLAINED + _lost_causes(report)
            )
    return out


def _lost_causes(report: Report) -> str:
    columns = [c for c in report.rows.columns if c.startswith("lost_writes_by_cause.")]
    if not columns:
        return " See the conflicts row and each fault's RPO row for the cause."
    totals = report.rows[columns].apply(pd.to_numeric, errors="coerce").sum()
    parts = [f"{c.removeprefix('lost_writes_by_cause.')}: {int(n):,}" for c, n in totals.items() if n > 0]
    return f" Causes over all runs: {'; '.join(parts)}." if parts else ""


# ----------------------------------------------------------------------------- charts


def charts(report: Report) -> list[tuple[str, Any]]:
    """The report's charts with their titles: latency distributions, availability around each fault
    and, after a capacity search, the latency objective against the load."""
    from workbench import charts as ch

    out: list[tuple[str, Any]] = [
        ("Latency distributions", ch.latency_cdf(report.results)),
        ("Availability around each fault", ch.availability_timeline(report.results)),
    ]
    for name, result in report.results.items():
        if _several_databases(result):
            out.append((f"Availability per database: {name}", ch.database_availability(result)))
    if report.capacity:
        latency = next((parse_slo(o) for o in report.objectives if "ms" in o or "latency" in o), None)
        metric = latency.metric if latency is not None else "p99_write_ms"
        points = {n: c.points for n, c in report.capacity.items() if metric in c.points}
        if points:
            chart = ch.capacity_curve(points, metric, latency.value if latency else None, report.target)
            out.append(("Capacity", chart))
    return out


# ----------------------------------------------------------------------------- HTML

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;
color:#222;overflow-wrap:break-word}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.9em}td,th{padding:.25em .6em;border-bottom:1px solid #eee;text-align:right}
th{overflow-wrap:anywhere}
th:first-child,td:first-child{text-align:left}pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:.8em}
.chart{margin:1em 0}.muted{color:#666}
.answer{background:#eef6ee;padding:.2em 1em 1em;border-left:4px solid #2e7d32}
.notice{background:#fff8e1;padding:.2em 1em 1em;border-left:4px solid #f9a825}
"""


def render_html(report: Report) -> str:
    """One self-contained HTML file (works offline; no network address in it)."""
    import vl_convert as vlc

    from workbench.charts import spec

    e = html.escape
    study = report.study
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(study.name)}: workbench report</title>",
        f"<style>{_STYLE}</style>",
        f"<script>{_offline(vlc.javascript_bundle())}</script>",
        "</head><body>",
        f"<h1>{e(answers.title(study))}</h1>",
    ]
    description = study.extra.get("description") or study.base.get("description") or ""
    if description and " ".join(str(description).split()) != answers.title(study):
        parts.append(f"<p>{e(str(description))}</p>")
    head, lines = answers.recommendation(report)
    parts.append('<section class="answer"><h2>Recommendation</h2>')
    parts.append(f"<p><strong>{e(head)}</strong></p><ul>" + "".join(f"<li>{e(x)}</li>" for x in lines) + "</ul>")
    if report.objectives:
        parts.append(f"<p>Objectives: {e(', '.join(report.objectives))}.</p>")
    parts.append("</section>")
    notice, assumptions = answers.simulated_notice(report)
    parts.append(f'<section class="notice"><h2>Simulated figures</h2><p>{e(notice)}</p><ul>')
    parts.append("".join(f"<li>{e(a)}</li>" for a in assumptions) + "</ul></section>")
    parts.append("<h2>Findings</h2><ul>" + "".join(f"<li>{e(f)}</li>" for f in report.findings) + "</ul>")
    parts.append("<h2>Comparison</h2>" + _table_html(report.table))
    if "lost writes" in report.table.index:
        parts.append(f'<p class="muted">{e(answers.LOST_WRITES_EXPLAINED)}</p>')
    for i, (title, chart) in enumerate(charts(report)):
        payload = script_json(spec(chart))
        parts.append(f"<h2>{e(title)}</h2>")
        parts.append(f'<div class="chart" id="chart-{i}"></div>')
        parts.append(f'<script type="application/json" id="spec-{i}">{payload}</script>')
    density = database_sections(report)
    if density:
        parts.append("<h2>Databases and nodes</h2>")
        parts.append(f'<p class="muted">{e(DENSITY_NOTE)}</p>')
        for name, (databases, nodes) in density.items():
            parts.append(f"<h3>{e(name)}</h3>")
            parts.append(_frame_html(databases))
            parts.append(_frame_html(nodes))
    if report.capacity:
        parts.append("<h2>Capacity search</h2>")
        for name, cap in report.capacity.items():
            parts.append(f"<h3>{e(name)}</h3>")
            low, high = report.capacity_range
            parts.append("<p>" + e(" ".join(answers.capacity_lines(cap, low=low, high=high))) + "</p>")
            parts.append(_frame_html(answers.capacity_points(cap.points)))
    parts.append("<h2>Provenance</h2>")
    seeds = sorted(set(report.rows["seed"]))
    parts.append(
        f"<p>workbench {e(__version__)}; seeds {e(', '.join(map(str, seeds)))}; "
        f"variants: {e(', '.join(report.results))}.</p>"
    )
    scenario_yaml = yaml.safe_dump(study.base, sort_keys=False)
    parts.append(f"<h3>Scenario</h3><pre>{e(scenario_yaml)}</pre>")
    if study.variants:
        variants_yaml = yaml.safe_dump([{"name": n, "set": dict(f)} for n, f in study.variants], sort_keys=False)
        parts.append(f"<h3>Variants</h3><pre>{e(variants_yaml)}</pre>")
    parts.append(
        "<script>document.querySelectorAll('script[type=\"application/json\"]').forEach(function(s){"
        "var id=s.id.replace('spec-','chart-');"
        "vegaEmbed('#'+id, JSON.parse(s.textContent), {renderer:'svg', actions:false});});</script>"
    )
    parts.append("</body></html>")
    text = "\n".join(parts)
    return text


_SCRIPT_UNSAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def script_json(value: Any) -> str:
    """JSON that is safe as the text of a <script> element: ``<``, ``>`` and ``&`` (and U+2028/9)
    written as \\u escapes, so no text (``</script>``, ``<!--``, ``<script``) can end the element
    or put the parser in another state; JSON.parse reads back the same strings."""
    return json.dumps(value).translate(_SCRIPT_UNSAFE)


def _offline(bundle: str) -> str:
    """The bundle mentions web addresses only inside string literals and comments (SVG
    namespaces, links in error messages); writing their slashes as ``\\/`` keeps the same
    strings at run time and leaves no address in the file."""
    bundle = bundle.replace("</script", "<\\/script")
    return re.sub(r"(https?):(//)", lambda m: m.group(1) + ":\\/\\/", bundle)


def _table_html(table: pd.DataFrame) -> str:
    from workbench.study import _fmt_ci

    variants = [c for c in table.columns if c != "key"]
    e = html.escape
    head = "<tr><th></th>" + "".join(f"<th>{e(str(v))}</th>" for v in variants) + "</tr>"
    body = "".join(
        "<tr><td>"
        + e(str(metric))
        + "</td>"
        + "".join(f"<td>{e(_fmt_ci(table.at[metric, v]))}</td>" for v in variants)
        + "</tr>"
        for metric in table.index
    )
    return f"<table>{head}{body}</table>"


def _frame_html(frame: pd.DataFrame) -> str:
    e = html.escape
    head = "<tr>" + "".join(f"<th>{e(str(c))}</th>" for c in frame.columns) + "</tr>"
    rows = []
    for record in frame.itertuples(index=False):
        cells = "".join(f"<td>{e(_cell(v))}</td>" for v in record)
        rows.append(f"<tr>{cells}</tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:,.4g}"
    return str(value)


# ----------------------------------------------------------------------------- Markdown


def render_markdown(report: Report, path: Path) -> Path:
    """``path`` (a .md file) plus one SVG per chart beside it."""
    import vl_convert as vlc

    from workbench.charts import spec
    from workbench.study import _fmt_ci

    study = report.study
    lines = [f"# {_md(answers.title(study))}", ""]
    description = study.extra.get("description") or study.base.get("description") or ""
    if description and " ".join(str(description).split()) != answers.title(study):
        lines += [_md(str(description)), ""]
    head, answer = answers.recommendation(report)
    lines += ["## Recommendation", "", f"**{_md(head)}**", ""] + [f"- {_md(x)}" for x in answer] + [""]
    if report.objectives:
        lines += [f"Objectives: {_md(', '.join(report.objectives))}.", ""]
    notice, assumptions = answers.simulated_notice(report)
    lines += ["## Simulated figures", "", _md(notice), ""] + [f"- {_md(a)}" for a in assumptions] + [""]
    lines += ["## Findings", ""] + [f"- {_md(f)}" for f in report.findings] + ["", "## Comparison", ""]
    variants = [c for c in report.table.columns if c != "key"]
    lines.append("| | " + " | ".join(_md(v) for v in variants) + " |")
    lines.append("|---" * (len(variants) + 1) + "|")
    for metric in report.table.index:
        cells = " | ".join(_fmt_ci(report.table.at[metric, v]) for v in variants)
        lines.append(f"| {_md(str(metric))} | {cells} |")
    density = database_sections(report)
    if density:
        lines += ["", "## Databases and nodes", "", _md(DENSITY_NOTE)]
        for name, (databases, nodes) in density.items():
            lines += ["", f"### {_md(name)}", "", *_frame_md(databases), "", *_frame_md(nodes)]
    stem = path.with_suffix("")
    for i, (title, chart) in enumerate(charts(report)):
        svg = vlc.vegalite_to_svg(spec(chart))
        chart_path = stem.parent / f"{stem.name}-chart{i + 1}.svg"
        chart_path.write_text(svg, encoding="utf-8")
        lines += ["", f"## {_md(title)}", "", f"![{_md(title)}]({chart_path.name})"]
    lines += [
        "",
        "## Provenance",
        "",
        f"workbench {__version__}; seeds {', '.join(map(str, sorted(set(report.rows['seed']))))}",
        "",
    ]
    lines += ["```yaml", yaml.safe_dump(study.base, sort_keys=False).replace("```", "'''"), "```"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


DENSITY_NOTE = (
    "Each variant's first run, for a cluster of several databases: the least available databases "
    "(at most 20; availability at the end is over the run's last tenth), then each node's copies, "
    "the page-cache misses it read from the disk and the stretch the other active databases' "
    "background work put on its CPU (docs/databases.md)."
)


def _several_databases(result: RunResult) -> bool:
    blueprint = result.spec.blueprint
    return hasattr(blueprint, "all_databases") and len(blueprint.all_databases()) > 1


def database_sections(report: Report) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Per variant whose cluster has several databases: its least available databases (at most
    20) and its per-node density figures, rounded for the page."""
    from workbench.analysis.databases import database_table, node_density_table

    out = {}
    for name, result in report.results.items():
        if not _several_databases(result):
            continue
        table = database_table(result).sort_values(["availability_at_end", "availability"], kind="stable").head(20)
        table = table.astype({"database": str}).round(
            {"availability": 6, "availability_at_end": 6, "p50_ms": 3, "p99_ms": 3}
        )
        nodes = node_density_table(result).round(
            {"page_reads_per_s": 1, "background_cpu_stretch": 4, "cpu_utilisation": 4}
        )
        out[name] = (table.reset_index(drop=True), nodes)
    return out


def _frame_md(frame: pd.DataFrame) -> list[str]:
    """A small table as Markdown lines."""
    lines = ["| " + " | ".join(_md(str(c)) for c in frame.columns) + " |", "|---" * len(frame.columns) + "|"]
    lines += ["| " + " | ".join(_md(_cell(v)) for v in record) + " |" for record in frame.itertuples(index=False)]
    return lines


def _md(text: str) -> str:
    """Markdown-safe: HTML escaped, table pipes and emphasis characters neutralised."""
    return (
        html.escape(text, quote=False).replace("|", "\\|").replace("*", "\\*").replace("_", "\\_").replace("`", "\\`")
    )

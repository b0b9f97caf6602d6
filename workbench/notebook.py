"""Everything a notebook needs, in one import, with charts that render offline.

``from workbench.notebook import *`` (or ``import workbench.notebook``) registers
and enables the ``workbench`` Altair renderer: a chart becomes HTML that draws
itself with the Vega bundle shipped inside ``vl-convert-python``, so charts show
with no internet access (a workshop room, an air-gapped lab). Every chart output
carries the bundle, compressed (about 0.4 MB), and unpacks it only when the page
does not have it yet: charts draw after a page reload, in several notebooks open
in one JupyterLab page, and in a notebook saved and opened again. Call
:func:`use_svg` for static SVG instead (no JavaScript at all, smaller notebooks),
or :func:`use_offline` to switch back.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
import os
import re
import uuid
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from workbench import display, load_scenario, run, scenario_from_dict
from workbench.analysis.backups import backup_table
from workbench.analysis.databases import database_table
from workbench.analysis.etl import etl_summary
from workbench.analysis.faults import fault_table
from workbench.analysis.staleness import t_visibility
from workbench.analysis.subscriptions import subscription_summary
from workbench.analysis.summary import latency_over_time, latency_table, summarise
from workbench.blueprints import blueprint_names, load_blueprint_data
from workbench.charts import (
    availability_timeline,
    capacity_curve,
    cluster_latency,
    cluster_replay,
    conflicts_timeline,
    database_availability,
    deployment_fault_spans,
    fault_spans,
    latency_cdf,
    latency_timeline,
    link_lag,
    node_state_timeline,
    node_states,
    pareto_chart,
    replication_lag_heatmap,
    t_visibility_curve,
    task_backlog,
    task_owners,
    task_timeline,
)
from workbench.experiment import run_world
from workbench.report.text import format_deployment
from workbench.results import RunResult
from workbench.study import load_study

RENDERER = "workbench"

# Why HTML with our own bundle, not JupyterLab's Vega renderer: JupyterLab 4.6 renders only the
# Vega-Lite v3-v5 mime types, with Vega-Lite 5.6, while Altair 6 writes Vega-Lite 6 specs
# (``application/vnd.vegalite.v6+json``), which JupyterLab would show as text. vl-convert's bundle
# matches Altair's Vega-Lite, and plain HTML also draws in an exported notebook, VS Code or
# nbviewer, all with no network.
#
# Two rules keep the charts drawing wherever the output lands:
# - nothing is numbered per kernel: each chart gets a uuid4 id, and its script looks for its
#   element inside its own output (several notebooks share one JupyterLab page, each with its
#   kernel, and a kernel cannot see what the page already holds);
# - each output carries the bundle (gzip + base64, inert until needed) and loads it when the page
#   lacks it: after a page reload the kernel is the same but the page is new, so "sent once per
#   kernel" leaves later charts blank. The page loads it once; other outputs wait for that load.
# A chart that cannot draw says so in its output, in red, instead of staying blank.

_NOTE_STYLE = "font:12px sans-serif;color:#666;padding:4px 0"
_WAITING = (
    "Drawing the chart… If this stays, the output's JavaScript did not run: run the cell again"
    " (a notebook opened from disk runs no scripts until it is trusted)."
)
# The loader: unpack the bundle (once per page and bundle version), draw, or show what went wrong.
_SCRIPT = r"""(function(){
var id=%(id)s,version=%(version)s,spec=%(spec)s;
var me=document.currentScript,scope=(me&&me.parentNode)||document;
var box=(scope.querySelector&&scope.querySelector('#'+id))||document.getElementById(id);
if(!box){if(window.console)console.error('workbench: chart element '+id+' not found');return;}
var note=box.querySelector('.workbench-chart-note'),view=box.querySelector('.workbench-chart-view')||box;
if(!note){note=document.createElement('div');box.insertBefore(note,box.firstChild);}
var packed=box.querySelector('.workbench-vega-bundle'),data=packed?packed.textContent:'';
if(packed)packed.parentNode.removeChild(packed);
function fail(err){
note.className='workbench-chart-note workbench-chart-error';note.style.color='#b00020';
note.textContent='This chart could not be drawn: '+((err&&err.message)||err)+
'. Run the cell again; if that does not help, call workbench.notebook.use_svg() for static charts.';
if(window.console)console.error('workbench chart '+id,err);}
function unpack(text){
if(!text)throw new Error('the page has no chart library and this output carries none');
if(typeof DecompressionStream==='undefined')throw new Error('this browser cannot unpack the chart library'+
' (no DecompressionStream: use a current Chrome, Edge, Firefox or Safari 16.4+)');
var bin=atob(text),bytes=new Uint8Array(bin.length);
for(var i=0;i<bin.length;i++)bytes[i]=bin.charCodeAt(i);
return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))).text();}
function library(){
var loaded=window.workbenchVega=window.workbenchVega||{};
if(!loaded[version]){
loaded[version]=Promise.resolve(data).then(unpack).then(function(source){
var before={vegaEmbed:window.vegaEmbed,vega:window.vega,vegaLite:window.vegaLite};
new Function(source)();
var embed=window.vegaEmbed;
for(var k in before){if(before[k]!==undefined)window[k]=before[k];}
if(typeof embed!=='function')throw new Error('the chart library loaded without vegaEmbed');
return embed;});
loaded[version].catch(function(){delete loaded[version];});}
return loaded[version];}
try{library().then(function(embed){
return embed(view,spec,{mode:'vega-lite',renderer:'svg',actions:false});
}).then(function(){note.parentNode&&note.parentNode.removeChild(note);},fail);}catch(err){fail(err);}
})();"""


def _bundle() -> str:
    """The Vega/Vega-Lite/vega-embed bundle, ready to inline (no web address, no closing script tag).

    Building it takes vl-convert about 2 s, so it is cached per vl-convert version under
    ``$XDG_CACHE_HOME/workbench`` (``~/.cache/workbench``); an unwritable cache is skipped."""
    import vl_convert as vlc

    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbench"
    cached = root / f"vega-bundle-{vlc.__version__}.js"
    try:
        return cached.read_text(encoding="utf-8")
    except OSError:
        pass
    text = vlc.javascript_bundle()
    text = text.replace("</script", "<\\/script")
    text = re.sub(r"(https?):(//)", lambda m: m.group(1) + ":\\/\\/", text)
    try:
        root.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(text, encoding="utf-8")
        partial.replace(cached)
    except OSError:
        pass
    return text


@functools.cache
def packed_bundle() -> tuple[str, str]:
    """``(version, data)``: the bundle's vl-convert version and the bundle, gzipped and base64-encoded
    (about 0.4 MB, a third of the plain text), as every chart output carries it."""
    import vl_convert as vlc

    data = gzip.compress(_bundle().encode("utf-8"), compresslevel=9, mtime=0)
    return vlc.__version__, base64.b64encode(data).decode("ascii")


def offline_html(spec: dict[str, Any], *, element_id: str | None = None) -> str:
    """HTML that draws ``spec`` with no network: the chart's element, the packed Vega bundle
    (inert, unpacked only if the page lacks it) and the script that draws into its own element.

    ``element_id`` defaults to a fresh ``workbench-chart-<uuid4>``, unique across kernels."""
    element_id = element_id or f"workbench-chart-{uuid.uuid4().hex}"
    version, data = packed_bundle()
    script = _SCRIPT % {
        "id": json.dumps(element_id),
        "version": json.dumps(version),
        "spec": json.dumps(spec).replace("</", "<\\/"),
    }
    return (
        f'<div class="workbench-chart" id="{element_id}">'
        f'<div class="workbench-chart-note" style="{_NOTE_STYLE}">{_WAITING}</div>'
        '<div class="workbench-chart-view"></div>'
        f'<script type="application/x-workbench-vega-bundle" class="workbench-vega-bundle">{data}</script>'
        f"</div>\n<script>{script}</script>"
    )


def _render(spec: dict[str, Any], **metadata: Any) -> dict[str, str]:
    spec = {key: value for key, value in spec.items() if key != "$schema"}  # a web address, never fetched
    return {"text/html": offline_html(spec), "text/plain": "<workbench chart: needs a notebook front end to display>"}


def use_offline() -> None:
    """Render charts as offline HTML (the default after importing this module)."""
    alt.renderers.enable(RENDERER)


def use_svg() -> None:
    """Render charts as static SVG through vl-convert (offline, no JavaScript, no tooltips)."""
    alt.renderers.enable("svg")


def show_faults(source: RunResult | pd.DataFrame) -> pd.DataFrame:
    """The fault table for people (:func:`workbench.display.faults`): pass a run result, or a table
    from :func:`fault_table` (several drills concatenated, say). ``fault_table`` keeps the raw numbers."""
    if isinstance(source, RunResult):
        source = fault_table(source.ops, source.events, source.provenance["sim_seconds"])
    return display.faults(source)


def show_latency(result: RunResult) -> pd.DataFrame:
    """:func:`latency_table` for people: counts, latencies with units, availability in %."""
    return display.latency(latency_table(result))


def show_compare(table: pd.DataFrame, metrics: Any = None) -> pd.DataFrame:
    """A ``compare_table`` for people: mean and 95 % interval per variant, clipped at physical bounds.

    ``metrics`` keeps only the rows it names, in its order: row labels, summary fields, or the
    start of them (``["cluster", "lost_writes", "faults"]``; :func:`workbench.display.select_metrics`)."""
    return display.compare(table, metrics)


def show_table(frame: pd.DataFrame, kinds: dict[str, str] | None = None) -> pd.DataFrame:
    """Any table of figures for people, each column formatted by the unit in its header
    (:func:`workbench.display.table`)."""
    return display.table(frame, kinds)


def show_summary(figures: dict[str, Any]) -> pd.DataFrame:
    """A dict of figures (``result.summary()["cluster"]``) as a table of formatted values."""
    return display.summary(figures)


def show_capacity(results: Any, *, low: float | None = None, high: float | None = None) -> pd.DataFrame:
    """A capacity search for people instead of ``as_dict()``'s raw dict: pass what
    :func:`workbench.study.find_capacity` returns, or ``report.capacity`` (one column per
    variant), and the range searched. :func:`workbench.display.capacity` says what it shows."""
    return display.capacity(results, low=low, high=high)


class Sentences:
    """Sentences shown as a bulleted list in a notebook (Markdown), as plain lines elsewhere."""

    def __init__(self, lines: Any) -> None:
        self.lines = [str(line) for line in lines]

    def _repr_markdown_(self) -> str:
        return "\n".join(f"- {_markdown_text(line)}" for line in self.lines)

    def __repr__(self) -> str:
        return "\n".join(f"- {line}" for line in self.lines)


def _markdown_text(text: str) -> str:
    """``text`` shown as it is in Markdown: characters that would start markup are escaped."""
    return re.sub(r"([\\`*_{}\[\]<>#|~])", r"\\\1", text)


def show_findings(lines: Any) -> Sentences:
    """Sentences (``report.findings``, ``capacity_lines(...)``) as a bulleted list, not printed text."""
    return Sentences(lines)


def show_differences(table: pd.DataFrame) -> Sentences:
    """What a ``compare_table`` says, in sentences, as the report writes them
    (:func:`workbench.report.answers.differences`): each difference that is outside the noise and
    large enough to matter, largest first, then the metrics where the variants cannot be told apart."""
    from workbench.report.answers import difference_sentence, differences

    found, same = differences(table)
    lines = [difference_sentence(d) for d in found]
    if same:
        lines.append(f"No meaningful difference (inside the noise or too small to matter): {', '.join(same)}.")
    return Sentences(lines or ["Nothing to compare: each metric has fewer than two variants with a figure."])


alt.renderers.register(RENDERER, _render)
use_offline()

__all__ = [
    "alt",
    "availability_timeline",
    "backup_table",
    "blueprint_names",
    "capacity_curve",
    "cluster_latency",
    "cluster_replay",
    "conflicts_timeline",
    "database_availability",
    "database_table",
    "deployment_fault_spans",
    "etl_summary",
    "fault_spans",
    "fault_table",
    "format_deployment",
    "latency_cdf",
    "latency_over_time",
    "latency_table",
    "latency_timeline",
    "link_lag",
    "load_blueprint_data",
    "load_scenario",
    "load_study",
    "node_state_timeline",
    "node_states",
    "offline_html",
    "pareto_chart",
    "replication_lag_heatmap",
    "run",
    "run_world",
    "scenario_from_dict",
    "show_capacity",
    "show_compare",
    "show_differences",
    "show_faults",
    "show_findings",
    "show_latency",
    "show_summary",
    "show_table",
    "subscription_summary",
    "summarise",
    "t_visibility",
    "t_visibility_curve",
    "task_backlog",
    "task_owners",
    "task_timeline",
    "use_offline",
    "use_svg",
]

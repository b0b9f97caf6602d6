"""Everything a notebook needs, in one import, with charts that render offline.

``from workbench.notebook import *`` (or ``import workbench.notebook``) registers
and enables the ``workbench`` Altair renderer: a chart becomes HTML that draws
itself with the Vega bundle shipped inside ``vl-convert-python``, so charts show
with no internet access (a workshop room, an air-gapped lab). The bundle (about
0.9 MB) is inlined in the first chart of a kernel session only; later charts
reuse it. Call :func:`use_svg` for static SVG instead (no JavaScript at all), or
:func:`use_offline` to switch back.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import altair as alt

from workbench import load_scenario, run, scenario_from_dict
from workbench.analysis.backups import backup_table
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
from workbench.study import load_study

RENDERER = "workbench"
_state = {"bundle_sent": False, "charts": 0}


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


def offline_html(spec: dict[str, Any], *, include_bundle: bool, element_id: str) -> str:
    """HTML that draws ``spec`` with the inlined Vega bundle (``include_bundle``) or the one already loaded."""
    payload = json.dumps(spec).replace("</", "<\\/")
    loader = f"(function(){{{_bundle()}\n}})();" if include_bundle else ""
    return (
        f'<div id="{element_id}"></div>\n'
        f"<script>{loader}\n"
        "(function(){var spec=" + payload + ";"
        "function draw(tries){if(window.vegaEmbed){window.vegaEmbed('#" + element_id + "',spec,"
        "{renderer:'svg',actions:false});}else if(tries>0){setTimeout(function(){draw(tries-1);},100);}}"
        "draw(100);})();</script>"
    )


def _render(spec: dict[str, Any], **metadata: Any) -> dict[str, str]:
    include = not _state["bundle_sent"]
    _state["bundle_sent"] = True
    _state["charts"] += 1
    html = offline_html(spec, include_bundle=include, element_id=f"workbench-chart-{_state['charts']}")
    return {"text/html": html, "text/plain": "<workbench chart: needs a notebook front end to display>"}


def use_offline() -> None:
    """Render charts as offline HTML (the default after importing this module)."""
    alt.renderers.enable(RENDERER)


def use_svg() -> None:
    """Render charts as static SVG through vl-convert (offline, no JavaScript, no tooltips)."""
    alt.renderers.enable("svg")


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

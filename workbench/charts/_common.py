"""What every chart shares: the fixed colours and their scales, time windows and axes, axis
titles with units, the faults' grey bands, and :func:`spec`.

Colours are fixed: a variant (blueprint) gets its colour from its position in the
comparison, a node gets its colour from its tag (A is always the first palette colour, B the
second, ...), and node and database states have one colour each, so the same thing looks the
same in every chart of a report. The helpers whose names start with ``_`` are for the chart
modules of this package only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import altair as alt
import pandas as pd

from workbench.analysis.faults import fault_table
from workbench.results import RunResult

# Tableau 10: distinct, colour-blind-friendly enough, and the same everywhere.
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]
# Most windows a time-based chart draws, per series: long runs get wider windows.
MAX_WINDOWS = 400
# A log axis labels 1-5 of every decade, and a narrow decade crowds them ("0.40.5"): Vega hides a
# label that comes closer than this (px) to the one before it (tests/test_browser_reports.py).
LOG_LABEL_SEPARATION = 3
KIND_COLORS = {
    "read": "#4e79a7",
    "write": "#e15759",
    "query": "#59a14f",
    "cluster_tx": "#b07aa1",
    "compare_exchange": "#9c755f",
    "transaction": "#f28e2b",
}
STATE_COLORS = {
    # cluster lane
    "leader": "#e15759",
    "follower": "#4e79a7",
    "watcher": "#76b7b2",
    "down": "#333333",
    "shut down": "#777777",
    "paused": "#bab0ac",
    # database lane
    "preferred": "#f28e2b",
    "member": "#59a14f",
    "rehab": "#edc948",
    "promotable": "#b07aa1",
}
RESOLUTION_COLORS = {
    "latest": "#4e79a7",
    "cluster transaction": "#b07aa1",
    "script": "#59a14f",
    "manual": "#e15759",
    "other": "#9c755f",
}


# ----------------------------------------------------------------------------- colours


def node_color(tag: str) -> str:
    """The fixed colour of a node tag: A is the first palette colour, B the second, ..."""
    index = ord(tag.upper()) - ord("A") if len(tag) == 1 and tag.isalpha() else sum(ord(c) for c in tag)
    return PALETTE[index % len(PALETTE)]


def node_scale(tags: Iterable[str]) -> alt.Scale:
    """A colour scale giving every node tag its fixed colour."""
    domain = sorted(set(tags))
    return alt.Scale(domain=domain, range=[node_color(t) for t in domain])


def variant_scale(names: Iterable[str]) -> alt.Scale:
    """A colour scale giving variants (blueprints) palette colours in the order given."""
    names = list(dict.fromkeys(names))
    return alt.Scale(domain=names, range=[PALETTE[i % len(PALETTE)] for i in range(len(names))])


def _fixed_scale(colors: Mapping[str, str], present: Iterable[str] | None = None) -> alt.Scale:
    domain = [k for k in colors if present is None or k in set(present)]
    return alt.Scale(domain=domain, range=[colors[k] for k in domain])


# ----------------------------------------------------------------------------- axis titles and time windows


def _label(metric: str) -> str:
    """An axis title with its unit, from a metric's name (``p99_write_ms``, ``latency_ms.write.p99``)."""
    if "_ms" in metric:
        return f"{metric} (ms)"
    if metric.startswith("availability") or "fraction" in metric:
        return f"{metric} (%)"
    if "_s" in metric:
        return f"{metric} (s)"
    return metric


def _end_s(result: RunResult) -> float:
    end = float(result.provenance.get("sim_seconds", 0.0) or 0.0)
    if end <= 0 and not result.ops.empty:
        end = float(result.ops["end_s"].max())
    return end


def _window(result: RunResult, window_s: float, max_windows: int = MAX_WINDOWS) -> float:
    """``window_s``, widened so that the run has at most ``max_windows`` windows."""
    end = _end_s(result)
    return max(float(window_s), end / max_windows) if end > 0 else float(window_s)


def _time_x(field: str, result: RunResult) -> alt.X:
    """A time axis in seconds over the whole run, so stacked timelines line up."""
    return alt.X(field, title="time (s)", scale=alt.Scale(domain=[0, _end_s(result)], nice=False))


def _members(result: RunResult) -> list[str]:
    nodes = result.provenance.get("scenario", {}).get("blueprint", {}).get("nodes", [])
    tags = [n["tag"] for n in nodes if isinstance(n, Mapping) and "tag" in n]
    return tags or list(result.provenance.get("members", []))


# ----------------------------------------------------------------------------- faults


def fault_spans(result: RunResult) -> pd.DataFrame:
    """The fault plan's periods of a run: fault, target, start_s, end_s and a label (one row per fault)."""
    faults = fault_table(result.ops, result.events, _end_s(result))
    if faults.empty:
        return pd.DataFrame(columns=["fault", "target", "start_s", "end_s", "label"])
    spans = faults[["fault", "target", "start_s", "end_s"]].copy()
    spans["label"] = spans["fault"] + " " + spans["target"].astype(str)
    return spans.reset_index(drop=True)


def _fault_layer(result: RunResult | None) -> list[Any]:
    if result is None:
        return []
    return _fault_bands(fault_spans(result))


def _fault_bands(spans: pd.DataFrame, *extra: Any) -> list[Any]:
    """Grey bands, one per fault span, with the fault in the tooltip (and ``extra`` fields)."""
    if spans.empty:
        return []
    return [
        alt.Chart(spans)
        .mark_rect(opacity=0.15, color="#888")
        .encode(
            x="start_s:Q",
            x2="end_s:Q",
            tooltip=[
                alt.Tooltip("label:N", title="fault"),
                *extra,
                alt.Tooltip("start_s:Q", title="from (s)", format=".2f"),
                alt.Tooltip("end_s:Q", title="to (s)", format=".2f"),
            ],
        )
    ]


# ----------------------------------------------------------------------------- spec


def spec(chart: Any) -> dict[str, Any]:
    """The Vega-Lite spec of a chart, without the schema URL (reports stay offline)."""
    data = chart.to_dict()
    data.pop("$schema", None)
    return data

"""Altair chart builders over run results and study tables.

Each builder aggregates before it charts (quantiles, time windows, per-link
bins), so a chart never carries more than a few thousand rows whatever the
run's size. Each chart has a pure ``*_data`` helper next to it that returns the
table it draws, so tests (and curious readers) can check the aggregation.

Colours are fixed: a variant (blueprint) gets its colour from its position in
the comparison, a node gets its colour from its tag (A is always the first
palette colour, B the second, ...), and node and database states have one
colour each, so the same thing looks the same in every chart of a report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from workbench.analysis.faults import fault_table
from workbench.analysis.staleness import t_visibility
from workbench.analysis.summary import latency_over_time, unique_conflicts
from workbench.model.events import items
from workbench.results import RunResult

# Tableau 10: distinct, colour-blind-friendly enough, and the same everywhere.
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]
QUANTILES = np.concatenate([np.linspace(0, 0.9, 46), np.linspace(0.9, 0.999, 50), [0.9995, 1.0]])
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


# ----------------------------------------------------------------------------- latency


def latency_cdf_data(results: Mapping[str, RunResult], kinds: tuple[str, ...] = ("read", "write")) -> pd.DataFrame:
    """Quantiles of successful operations' latency per variant and op kind (≈100 rows each)."""
    frames = []
    for name, result in results.items():
        ops = result.ops
        ok = ops[ops["outcome"] == "ok"]
        for kind in kinds:
            values = ok.loc[ok["kind"] == kind, "latency_ms"].to_numpy(dtype=float)
            if values.size == 0:
                continue
            frames.append(
                pd.DataFrame(
                    {"variant": name, "kind": kind, "latency_ms": np.quantile(values, QUANTILES), "fraction": QUANTILES}
                )
            )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["variant", "kind", "latency_ms"])


def latency_cdf(results: Mapping[str, RunResult], kinds: tuple[str, ...] = ("read", "write")) -> alt.Chart:
    """Latency CDF by op kind (one panel each) and variant, log-scaled."""
    data = latency_cdf_data(results, kinds)
    names = list(results)
    return (
        alt.Chart(data)
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X(
                "latency_ms:Q",
                scale=alt.Scale(type="log"),
                title="latency (ms, log scale)",
                axis=alt.Axis(labelSeparation=LOG_LABEL_SEPARATION),
            ),
            y=alt.Y("fraction:Q", title="fraction of operations (%)", axis=alt.Axis(format="%")),
            color=alt.Color("variant:N", scale=variant_scale(names), title="variant"),
            tooltip=[
                "variant",
                "kind",
                alt.Tooltip("latency_ms:Q", format=".2f"),
                alt.Tooltip("fraction:Q", format=".1%"),
            ],
        )
        .properties(width=320, height=220)
        .facet(column=alt.Column("kind:N", title=None))
        .properties(title="Latency distribution (successful operations)")
    )


def latency_timeline_data(
    result: RunResult, window_s: float = 1.0, kinds: tuple[str, ...] = ("read", "write")
) -> pd.DataFrame:
    """p50 and p99 latency per time window and op kind, long format (window_s, kind, quantile, latency_ms).

    The window widens so that a long run has at most :data:`MAX_WINDOWS` windows."""
    table = latency_over_time(result, _window(result, window_s))
    table = table[table["kind"].astype(str).isin(kinds)]
    if table.empty:
        return pd.DataFrame(columns=["window_s", "kind", "ops", "errors", "quantile", "latency_ms"])
    long = table.melt(
        id_vars=["window_s", "kind", "ops", "errors"],
        value_vars=["p50_ms", "p99_ms"],
        var_name="quantile",
        value_name="latency_ms",
    )
    long["quantile"] = long["quantile"].str.removesuffix("_ms")
    long["kind"] = long["kind"].astype(str)
    return long.dropna(subset=["latency_ms"]).reset_index(drop=True)


def latency_timeline(
    result: RunResult, window_s: float = 1.0, kinds: tuple[str, ...] = ("read", "write")
) -> alt.LayerChart:
    """p50 (dashed) and p99 (solid) latency over time per op kind, with the faults' periods shaded."""
    data = latency_timeline_data(result, window_s, kinds)
    lines = (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=_time_x("window_s:Q", result),
            y=alt.Y(
                "latency_ms:Q",
                title="latency (ms, log scale)",
                scale=alt.Scale(type="log"),
                axis=alt.Axis(labelSeparation=LOG_LABEL_SEPARATION),
            ),
            color=alt.Color("kind:N", scale=_fixed_scale(KIND_COLORS, data["kind"]), title="op kind"),
            strokeDash=alt.StrokeDash(
                "quantile:N", scale=alt.Scale(domain=["p50", "p99"], range=[[4, 3], [1, 0]]), title="quantile"
            ),
            tooltip=[
                "kind:N",
                "quantile:N",
                alt.Tooltip("window_s:Q", title="window from (s)"),
                alt.Tooltip("latency_ms:Q", format=".2f", title="latency (ms)"),
                alt.Tooltip("ops:Q", title="operations"),
                alt.Tooltip("errors:Q", title="errors"),
            ],
        )
    )
    return alt.layer(*_fault_layer(result), lines).properties(
        width=680, height=240, title="Latency over time (p50 dashed, p99 solid; shaded: faults)"
    )


# ----------------------------------------------------------------------------- availability


def availability_data(results: Mapping[str, RunResult], window_s: float = 1.0) -> pd.DataFrame:
    """Share of operations that succeeded per time window and variant.

    The window widens so that a long run has at most :data:`MAX_WINDOWS` windows."""
    frames = []
    for name, result in results.items():
        ops = result.ops
        if ops.empty:
            continue
        width = _window(result, window_s)
        window = (ops["start_s"] // width) * width
        ok = ops["outcome"].isin(["ok", "conflict"])
        table = ok.groupby(window).agg(["mean", "size"]).reset_index()
        table.columns = ["time_s", "availability", "ops"]
        table["variant"] = name
        frames.append(table)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["time_s", "availability"])


def availability_timeline(results: Mapping[str, RunResult], window_s: float = 1.0) -> alt.LayerChart:
    """Availability per window by variant, with each fault's period shaded."""
    names = list(results)
    data = availability_data(results, window_s)
    line = (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=alt.X("time_s:Q", title="time (s)"),
            y=alt.Y("availability:Q", title="operations that succeeded (%)", axis=alt.Axis(format="%")),
            color=alt.Color("variant:N", scale=variant_scale(names), title="variant"),
            tooltip=["variant", "time_s", alt.Tooltip("availability:Q", format=".2%"), "ops"],
        )
    )
    first = next(iter(results.values()), None)
    return alt.layer(*_fault_layer(first), line).properties(
        width=680, height=220, title="Availability over time (shaded: faults)"
    )


# ----------------------------------------------------------------------------- node states


def _topology(members: Any, rehabs: Any = None, promotables: Any = None) -> dict[str, str]:
    """Database states from a ``topology_changed`` / ``database_created`` event's list fields:
    members B,C,A and rehabs D -> {B: preferred, C: member, A: member, D: rehab}."""
    states: dict[str, str] = {}
    for i, tag in enumerate(items(members)):
        states[tag] = "preferred" if i == 0 else "member"
    for tag in items(rehabs):
        states[tag] = "rehab"
    for tag in items(promotables):
        states[tag] = "promotable"
    return states


class _Lanes:
    """Open intervals per (node, lane), closed as states change."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, str], tuple[str, float]] = {}
        self.rows: list[dict[str, Any]] = []

    def set(self, node: str, lane: str, state: str | None, time_s: float) -> None:
        """Put ``node``'s ``lane`` in ``state`` from ``time_s`` on (None: no bar), ending the interval of the
        state it leaves; the state it is already in changes nothing."""
        current = self.open.get((node, lane))
        if current is not None and current[0] == state:
            return
        if current is not None:
            self.rows.append({"node": node, "lane": lane, "state": current[0], "start_s": current[1], "end_s": time_s})
            del self.open[(node, lane)]
        if state is not None:
            self.open[(node, lane)] = (state, time_s)

    def close(self, end_s: float) -> list[dict[str, Any]]:
        """Every interval, those still open ended at ``end_s`` (the run's end)."""
        for node, lane in list(self.open):
            self.set(node, lane, None, end_s)
        return self.rows


def node_states(result: RunResult) -> pd.DataFrame:
    """Intervals of each node's states, derived from the events table: one row per interval.

    Columns: node, lane (``cluster``: leader / follower / watcher / down / shut down /
    paused; ``database``: preferred / member / rehab / promotable), state, start_s, end_s.
    The database lane follows the group's topology (``database_created``,
    ``topology_changed``); a node outside the group has no database bar."""
    end = _end_s(result)
    tags = _members(result)
    nodes = result.provenance.get("scenario", {}).get("blueprint", {}).get("nodes", [])
    watchers = {n["tag"] for n in nodes if isinstance(n, Mapping) and n.get("role") == "watcher"}
    promotables = {n["tag"] for n in nodes if isinstance(n, Mapping) and n.get("role") == "promotable"}
    lanes = _Lanes()
    process = dict.fromkeys(tags, "up")
    leader: str | None = None

    def role(tag: str) -> str:
        """The node's state in the cluster lane: its process state when it is not up, else its role."""
        if process.get(tag, "up") != "up":
            return process[tag]
        if tag == leader:
            return "leader"
        if tag in watchers:
            return "watcher"
        return "promotable" if tag in promotables else "follower"

    for tag in tags:
        lanes.set(tag, "cluster", role(tag), 0.0)
    dc_down: dict[str, list[str]] = {}
    events = result.events
    if not events.empty:
        columns = ("affected", "datacenter", "nodes", "members", "rehabs", "promotables")
        for time_s, kind, node, affected, datacenter, nodes_down, members, rehabs, promoting in zip(
            events["time_s"].to_numpy(dtype=float),
            events["kind"].astype(str),
            events["node"],
            *(events[c].astype(object).where(events[c].notna(), None) for c in columns),
            strict=True,
        ):
            node = None if node is None or (isinstance(node, float) and np.isnan(node)) else str(node)
            changed: set[str] = set()
            if kind == "node_crashed" and node:
                process[node], changed = "down", {node}
            elif kind == "node_shutdown" and node:
                process[node], changed = "shut down", {node}
            elif kind == "node_paused" and node:
                process[node], changed = "paused", {node}
            elif kind in ("node_restarted", "node_resumed") and node:
                process[node], changed = "up", {node}
            elif kind == "datacenter_down":
                dc_down[datacenter] = items(nodes_down)
                for tag in dc_down[datacenter]:
                    process[tag] = "down"
                changed = set(dc_down[datacenter])
            elif kind == "datacenter_up":
                for tag in dc_down.pop(datacenter, []):
                    process[tag] = "up"
                    changed.add(tag)
            elif kind == "leader_elected" and node:
                changed = {node} | ({leader} if leader else set())
                leader = node
            elif kind == "stepped_down" and node and node == leader:
                leader, changed = None, {node}
            elif kind in ("node_demoted", "node_promoted", "voter_promoted") and node:
                # An operator's demote (-> watcher) or promote (-> promotable), the leader's promotion.
                watchers.discard(node)
                promotables.discard(node)
                if kind == "node_demoted":
                    watchers.add(node)
                elif kind == "node_promoted":
                    promotables.add(node)
                changed = {node}
            elif kind == "promoted" and node:
                promotables.discard(affected)
                changed = {affected}
            elif kind in ("topology_changed", "database_created"):
                states = _topology(members, rehabs, promoting)
                for tag in set(tags) | set(states):
                    lanes.set(tag, "database", states.get(tag), float(time_s))
            if kind == "node_crashed" and node == leader:
                leader = None
            for tag in changed:
                lanes.set(tag, "cluster", role(tag), float(time_s))
    rows = lanes.close(end)
    table = pd.DataFrame(rows, columns=["node", "lane", "state", "start_s", "end_s"])
    table = table[table["end_s"] > table["start_s"]]
    return table.sort_values(["node", "lane", "start_s"], kind="stable").reset_index(drop=True)


def node_state_timeline(result: RunResult) -> alt.LayerChart:
    """A Gantt chart of each node's cluster role and database state over the run, faults shaded."""
    data = node_states(result).copy()
    data["row"] = data["node"] + " · " + data["lane"]
    order = [f"{t} · {lane}" for t in sorted(set(data["node"])) for lane in ("cluster", "database")]
    order = [r for r in order if r in set(data["row"])]
    bars = (
        alt.Chart(data)
        .mark_bar(height={"band": 0.8})
        .encode(
            x=_time_x("start_s:Q", result),
            x2="end_s:Q",
            y=alt.Y("row:N", sort=order, title="node · lane"),
            color=alt.Color("state:N", scale=_fixed_scale(STATE_COLORS, data["state"]), title="state"),
            tooltip=[
                "node:N",
                "lane:N",
                "state:N",
                alt.Tooltip("start_s:Q", title="from (s)", format=".2f"),
                alt.Tooltip("end_s:Q", title="to (s)", format=".2f"),
            ],
        )
    )
    return alt.layer(*_fault_layer(result), bars).properties(
        width=680, height=max(120, 22 * len(order)), title="Node states over time (shaded: faults)"
    )


# ----------------------------------------------------------------------------- replication


def replication_lag_data(result: RunResult, max_bins: int = 60) -> pd.DataFrame:
    """The largest sampled replication lag per link and time bin (at most ``max_bins`` bins per link).

    From the timeseries rows of entity ``replication.X->Y``, metric ``lag_ms``."""
    ts = result.timeseries
    rows = ts[(ts["metric"] == "lag_ms") & ts["entity"].astype(str).str.startswith("replication.")]
    if rows.empty:
        return pd.DataFrame(columns=["link", "origin", "time_s", "time_end_s", "lag_ms"])
    end = max(_end_s(result), float(rows["time_s"].max()))
    width = max(end / max_bins, 1e-9)
    start = (rows["time_s"] // width).clip(upper=max_bins - 1) * width
    link = rows["entity"].astype(str).str.removeprefix("replication.")
    table = (
        pd.DataFrame({"link": link.to_numpy(), "time_s": start.to_numpy(), "lag_ms": rows["value"].to_numpy()})
        .groupby(["link", "time_s"])["lag_ms"]
        .max()
        .reset_index()
    )
    table["time_end_s"] = table["time_s"] + width
    table["origin"] = table["link"].str.split("->").str[0]
    table["link"] = table["link"].str.replace("->", " → ", regex=False)
    return table[["link", "origin", "time_s", "time_end_s", "lag_ms"]]


def replication_lag_heatmap(result: RunResult, max_bins: int = 60) -> alt.Chart:
    """Replication lag per link (origin → destination) over time: the worst sample per bin."""
    data = replication_lag_data(result, max_bins)
    return (
        alt.Chart(data)
        .mark_rect()
        .encode(
            x=_time_x("time_s:Q", result),
            x2="time_end_s:Q",
            y=alt.Y("link:N", title="replication link (origin → destination)", sort="ascending"),
            color=alt.Color("lag_ms:Q", title="lag (ms)", scale=alt.Scale(type="symlog", scheme="orangered")),
            tooltip=[
                "link:N",
                alt.Tooltip("time_s:Q", title="from (s)", format=".1f"),
                alt.Tooltip("lag_ms:Q", title="worst lag (ms)", format=",.1f"),
            ],
        )
        .properties(width=680, height=max(120, 16 * data["link"].nunique()), title="Replication lag per link (ms)")
    )


# ----------------------------------------------------------------------------- staleness

T_VISIBILITY_EDGES_MS = [0, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 60000]


def t_visibility_data(results: Mapping[str, RunResult], edges_ms: list[float] | None = None) -> pd.DataFrame:
    """P(consistent read) per bin of time since the key's latest acknowledged write, per variant."""
    frames = []
    for name, result in results.items():
        table = t_visibility(result.ops, edges_ms or T_VISIBILITY_EDGES_MS)
        table = table[table["reads"] > 0].copy()
        table["variant"] = name
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=["variant", "t_ms", "reads", "p_consistent"])
    data = pd.concat(frames, ignore_index=True)
    data["p_consistent"] = data["p_consistent"].astype(float)
    return data[["variant", "t_ms", "reads", "p_consistent"]]


def t_visibility_curve(results: Mapping[str, RunResult], edges_ms: list[float] | None = None) -> alt.Chart:
    """The t-visibility curve (PBS): how likely a read is consistent, t ms after the latest write.

    A point's size is the number of reads in its bin: small points are noisy."""
    data = t_visibility_data(results, edges_ms)
    return (
        alt.Chart(data, title="t-visibility: consistent reads against time since the write")
        .mark_line(point=True)
        .encode(
            x=alt.X(
                "t_ms:Q",
                title="time since the write was acknowledged (ms, log scale)",
                scale=alt.Scale(type="log"),
                axis=alt.Axis(labelSeparation=LOG_LABEL_SEPARATION),
            ),
            y=alt.Y("p_consistent:Q", title="consistent reads (%)", axis=alt.Axis(format="%")),
            color=alt.Color("variant:N", scale=variant_scale(list(results)), title="variant"),
            size=alt.Size("reads:Q", title="reads in the bin (count)", scale=alt.Scale(type="sqrt")),
            tooltip=[
                "variant",
                alt.Tooltip("t_ms:Q", title="t (ms)", format=",.1f"),
                alt.Tooltip("p_consistent:Q", title="consistent", format=".2%"),
                alt.Tooltip("reads:Q", title="reads"),
            ],
        )
        .properties(width=680, height=240)
    )


# ----------------------------------------------------------------------------- conflicts


# A conflict's resolution (its ``resolution`` field) as the chart names it.
RESOLUTION_LABELS = {
    "resolve to latest": "latest",
    "cluster transaction wins": "cluster transaction",
    "script": "script",
    "manual": "manual",
}


def conflicts_data(result: RunResult, window_s: float | None = None) -> pd.DataFrame:
    """Conflicts (each counted once, whichever members met it) per time window and resolution,
    stacked: ``y0``/``y1`` are each resolution's bottom and top in its window. The default
    window is a hundredth of the run (at least 1 s)."""
    columns = ["time_s", "time_end_s", "resolution", "conflicts", "y0", "y1"]
    events = result.events
    conflicts = unique_conflicts(events) if not events.empty else events
    if conflicts.empty:
        return pd.DataFrame(columns=columns)
    width = _conflict_window(result, window_s)
    table = (
        pd.DataFrame(
            {
                "time_s": (conflicts["time_s"] // width) * width,
                "resolution": conflicts["resolution"].astype(object).map(RESOLUTION_LABELS).fillna("other"),
            }
        )
        .groupby(["time_s", "resolution"])
        .size()
        .rename("conflicts")
        .reset_index()
    )
    table["time_end_s"] = table["time_s"] + width
    table["y1"] = table.groupby("time_s")["conflicts"].cumsum()
    table["y0"] = table["y1"] - table["conflicts"]
    return table[columns]


def _conflict_window(result: RunResult, window_s: float | None) -> float:
    return _window(result, window_s if window_s is not None else max(1.0, _end_s(result) / 100), 200)


def conflicts_timeline(result: RunResult, window_s: float | None = None) -> alt.LayerChart:
    """Conflicts per time window, stacked by how they were resolved; faults shaded."""
    data = conflicts_data(result, window_s)
    width = _conflict_window(result, window_s)
    bars = (
        alt.Chart(data)
        .mark_rect()
        .encode(
            x=_time_x("time_s:Q", result),
            x2="time_end_s:Q",
            y=alt.Y("y0:Q", title=f"conflicts per {width:g} s (count)"),
            y2="y1:Q",
            color=alt.Color(
                "resolution:N", scale=_fixed_scale(RESOLUTION_COLORS, data["resolution"]), title="resolved"
            ),
            tooltip=[
                "resolution:N",
                alt.Tooltip("time_s:Q", title="from (s)", format=".1f"),
                alt.Tooltip("conflicts:Q", title="conflicts"),
            ],
        )
    )
    return alt.layer(*_fault_layer(result), bars).properties(
        width=680, height=200, title="Conflicts over time (shaded: faults)"
    )


# ----------------------------------------------------------------------------- ongoing tasks

TASK_EVENTS = ("task_assigned", "task_moved", "task_resumed", "task_paused")


def task_owners(result: RunResult) -> pd.DataFrame:
    """Which node ran each ongoing task, and when: one row per stretch (task, node, start_s, end_s).

    From the task events: assigned, moved and resumed open a stretch on their node, moved
    closes the previous one, paused closes it with nothing running."""
    events = result.events
    rows = events[events["kind"].isin(TASK_EVENTS)]
    end = _end_s(result)
    spans: list[tuple[str, str, float, float]] = []
    open_: dict[str, tuple[str, float]] = {}
    for t, kind, node, name in zip(
        rows["time_s"], rows["kind"].astype(str), rows["node"].astype(str), rows["task"].astype(str), strict=True
    ):
        if name in open_:
            owner, since = open_.pop(name)
            spans.append((name, owner, since, float(t)))
        if kind != "task_paused":
            open_[name] = (node, float(t))
    for name, (owner, since) in open_.items():
        spans.append((name, owner, since, end))
    return pd.DataFrame(spans, columns=["task", "node", "start_s", "end_s"])


def task_marks(result: RunResult) -> pd.DataFrame:
    """Moments worth seeing on a task's row: backups done (full or incremental), ETL
    fallback retries, and subscription acknowledgements that failed."""
    events = result.events
    kinds = {"backup_done": None, "etl_fallback": "ETL retry", "subscription_ack_failed": "ack failed"}
    rows = events[events["kind"].isin(list(kinds))]
    out = []
    for t, kind, node, name, full in zip(
        rows["time_s"],
        rows["kind"].astype(str),
        rows["node"].astype(str),
        rows["task"].astype(str),
        rows["full"].astype(object),
        strict=True,
    ):
        backup = "full backup" if full is True else "incremental backup"
        what = backup if kind == "backup_done" else kinds[kind]
        out.append((name, node, float(t), what))
    return pd.DataFrame(out, columns=["task", "node", "time_s", "mark"])


def task_timeline(result: RunResult) -> alt.LayerChart:
    """Each ongoing task's responsible node over time (bars coloured by node; gaps: nothing
    ran it), with its backups, ETL retries and failed acknowledgements marked; faults shaded."""
    owners = task_owners(result)
    marks = task_marks(result)
    tasks = sorted(set(owners["task"]) | set(marks["task"]))
    nodes = sorted(set(owners["node"]) | set(marks["node"]) | set(_members(result)))
    y = alt.Y("task:N", sort=tasks, title="task")
    bars = (
        alt.Chart(owners)
        .mark_bar(height={"band": 0.6}, opacity=0.8)
        .encode(
            x=_time_x("start_s:Q", result),
            x2="end_s:Q",
            y=y,
            color=alt.Color("node:N", scale=node_scale(nodes), title="runs on"),
            tooltip=[
                "task:N",
                "node:N",
                alt.Tooltip("start_s:Q", title="from (s)", format=",.1f"),
                alt.Tooltip("end_s:Q", title="to (s)", format=",.1f"),
            ],
        )
    )
    points = (
        alt.Chart(marks)
        .mark_point(filled=True, size=60, color="black")
        .encode(
            x="time_s:Q",
            y=y,
            shape=alt.Shape("mark:N", title="event"),
            tooltip=["task:N", "node:N", "mark:N", alt.Tooltip("time_s:Q", title="at (s)", format=",.1f")],
        )
    )
    layers = [*_fault_layer(result), bars] + ([points] if not marks.empty else [])
    return alt.layer(*layers).properties(
        width=680, height=max(80, 40 * len(tasks)), title="Ongoing tasks: who runs them (shaded: faults)"
    )


def task_backlog_data(result: RunResult, max_bins: int = MAX_WINDOWS) -> pd.DataFrame:
    """Documents waiting per task over time (ETL ``etl_backlog``, subscriptions
    ``subscription_backlog``): the largest sample per time bin, at most ``max_bins`` bins."""
    ts = result.timeseries
    rows = ts[
        ts["metric"].isin(["etl_backlog", "subscription_backlog"]) & ts["entity"].astype(str).str.startswith("task.")
    ]
    if rows.empty:
        return pd.DataFrame(columns=["task", "time_s", "backlog"])
    width = max(max(_end_s(result), float(rows["time_s"].max())) / max_bins, 1e-9)
    table = pd.DataFrame(
        {
            "task": rows["entity"].astype(str).str.removeprefix("task.").to_numpy(),
            "time_s": ((rows["time_s"] // width) * width).to_numpy(dtype=float),
            "backlog": rows["value"].to_numpy(dtype=float),
        }
    )
    return table.groupby(["task", "time_s"], as_index=False)["backlog"].max()


def task_backlog(result: RunResult) -> alt.LayerChart:
    """Backlog of each ETL or subscription over time (a step line), faults shaded."""
    data = task_backlog_data(result)
    line = (
        alt.Chart(data)
        .mark_line(interpolate="step-after")
        .encode(
            x=_time_x("time_s:Q", result),
            y=alt.Y("backlog:Q", title="documents waiting (largest per bin)"),
            color=alt.Color("task:N", title="task"),
            tooltip=["task:N", alt.Tooltip("time_s:Q", title="at (s)", format=",.1f"), "backlog:Q"],
        )
    )
    return alt.layer(*_fault_layer(result), line).properties(
        width=680, height=220, title="Task backlog (shaded: faults)"
    )


# ----------------------------------------------------------------------------- cluster replay


def cluster_layout(result: RunResult) -> pd.DataFrame:
    """Where each node is drawn: one column per data centre, its nodes stacked (node, datacenter, x, y)."""
    blueprint = result.provenance.get("scenario", {}).get("blueprint", {})
    nodes = [dict(n) for n in blueprint.get("nodes", []) if isinstance(n, Mapping) and "tag" in n]
    if not nodes:
        nodes = [{"tag": t} for t in result.provenance.get("members", [])]
    for node in nodes:
        node.setdefault("datacenter", "data centre")
    dcs = list(dict.fromkeys([d["name"] for d in blueprint.get("datacenters", [])] + [n["datacenter"] for n in nodes]))
    rows, count = [], dict.fromkeys(dcs, 0)
    for node in nodes:
        dc = node["datacenter"]
        rows.append({"node": node["tag"], "datacenter": dc, "x": float(dcs.index(dc)), "y": float(count[dc])})
        count[dc] += 1
    return pd.DataFrame(rows, columns=["node", "datacenter", "x", "y"])


def cluster_replay_data(result: RunResult, max_bins: int = 60) -> dict[str, pd.DataFrame]:
    """The tables the replay draws: ``nodes`` (state intervals with positions), ``links`` (lag bins with
    both ends' positions), ``faults`` (spans with labels) and ``datacenters`` (label positions)."""
    layout = cluster_layout(result)
    states = node_states(result).merge(layout, on="node", how="inner")
    lag = replication_lag_data(result, max_bins)
    ends = lag["link"].str.split(" → ", regex=False)
    lag = lag.assign(destination=ends.str[1])
    pos = layout.set_index("node")
    lag = lag[lag["origin"].isin(pos.index) & lag["destination"].isin(pos.index)].copy()
    # Offset each direction a little, so A → B and B → A are two lines.
    lag["x"] = lag["origin"].map(pos["x"]).astype(float) + 0.04
    lag["y"] = lag["origin"].map(pos["y"]).astype(float) + 0.04
    lag["x2"] = lag["destination"].map(pos["x"]).astype(float) - 0.04
    lag["y2"] = lag["destination"].map(pos["y"]).astype(float) - 0.04
    dcs = layout.groupby("datacenter", sort=False)["x"].first().reset_index()
    dcs["y"] = -0.8
    ops = replay_ops_data(result, max_bins).merge(layout, on="node", how="inner")
    return {"nodes": states, "links": lag, "faults": fault_spans(result), "datacenters": dcs, "ops": ops}


def replay_ops_data(result: RunResult, max_bins: int = 60) -> pd.DataFrame:
    """Operations per node and time bin: how many it answered and how many ended in an error there
    (the node an operation last tried), as rates per second; at most ``max_bins`` bins per node."""
    ops = result.ops
    columns = ["node", "time_s", "time_end_s", "ops_per_s", "failing_per_s"]
    if ops.empty:
        return pd.DataFrame(columns=columns)
    end = max(_end_s(result), float(ops["start_s"].max()))
    width = max(end / max_bins, 1e-9)
    start = (ops["start_s"] // width).clip(upper=max_bins - 1) * width
    failing = ops["outcome"].isin(["failed", "timeout", "all_nodes_down", "unfinished"])
    table = (
        pd.DataFrame({"node": ops["node"].astype(str).to_numpy(), "time_s": start.to_numpy(), "failing": failing})
        .groupby(["node", "time_s"])["failing"]
        .agg(["size", "sum"])
        .reset_index()
    )
    table["time_end_s"] = table["time_s"] + width
    table["ops_per_s"] = table["size"] / width
    table["failing_per_s"] = table["sum"] / width
    return table[columns]


def cluster_replay(result: RunResult, max_bins: int = 60) -> alt.LayerChart:
    """The cluster at a moment chosen with a time slider: nodes by data centre, each node's cluster role
    (fill) and database state (ring), replication lag per link (line colour), the operations each node
    answered and those failing there, and the faults under way."""
    data = cluster_replay_data(result, max_bins)
    end = _end_s(result)
    t = alt.param(
        name="t", value=0, bind=alt.binding_range(min=0, max=max(end, 1.0), step=max(end / 300, 0.01), name="time (s) ")
    )
    at_t = "datum.start_s <= t && t < datum.end_s"
    x = alt.X("x:Q", axis=None, scale=alt.Scale(domain=[-0.7, max(data["datacenters"]["x"].max(), 0) + 0.7]))
    y = alt.Y("y:Q", axis=None, scale=alt.Scale(domain=[-1.2, max(data["nodes"]["y"].max(), 0) + 0.8], reverse=True))
    links = (
        alt.Chart(data["links"])
        .mark_rule(strokeWidth=3)
        .encode(
            x=x,
            y=y,
            x2="x2:Q",
            y2="y2:Q",
            color=alt.Color(
                "lag_ms:Q", title="replication lag (ms)", scale=alt.Scale(type="symlog", scheme="orangered")
            ),
            tooltip=["link:N", alt.Tooltip("lag_ms:Q", title="worst lag (ms)", format=",.1f")],
        )
        .transform_filter("datum.time_s <= t && t < datum.time_end_s")
    )
    nodes = data["nodes"]
    cluster = (
        alt.Chart(nodes[nodes["lane"] == "cluster"])
        .mark_circle(size=1400, opacity=1)
        .encode(
            x=x,
            y=y,
            fill=alt.Fill(
                "state:N",
                title="cluster role",
                scale=_fixed_scale(STATE_COLORS, nodes.loc[nodes["lane"] == "cluster", "state"]),
            ),
            tooltip=["node:N", "datacenter:N", alt.Tooltip("state:N", title="cluster role")],
        )
        .transform_filter(at_t)
    )
    database = (
        alt.Chart(nodes[nodes["lane"] == "database"])
        .mark_point(size=2600, strokeWidth=5, filled=False)
        .encode(
            x=x,
            y=y,
            stroke=alt.Stroke(
                "state:N",
                title="database state",
                scale=_fixed_scale(STATE_COLORS, nodes.loc[nodes["lane"] == "database", "state"]),
            ),
            tooltip=["node:N", alt.Tooltip("state:N", title="database state")],
        )
        .transform_filter(at_t)
    )
    tags = (
        alt.Chart(cluster_layout(result))
        .mark_text(fontSize=16, fontWeight="bold", color="white")
        .encode(x=x, y=y, text="node:N")
    )
    dcs = alt.Chart(data["datacenters"]).mark_text(fontSize=13, color="#555").encode(x=x, y=y, text="datacenter:N")
    ops = (
        alt.Chart(data["ops"])
        .mark_text(fontSize=11, dy=34, color="#333")
        .encode(x=x, y=y, text="label:N", tooltip=["node:N", "label:N"])
        .transform_filter("datum.time_s <= t && t < datum.time_end_s")
        .transform_calculate(
            label="format(datum.ops_per_s, ',.0f') + ' ops/s'"
            " + (datum.failing_per_s > 0 ? ', ' + format(datum.failing_per_s, ',.0f') + ' failing' : '')"
        )
    )
    faults = (
        alt.Chart(data["faults"])
        .mark_text(align="left", fontSize=12, color="#c00")
        .encode(x=alt.value(5), y=alt.Y("py:Q", scale=None), text="text:N")
        .transform_filter(at_t)
        .transform_window(row="row_number()")
        .transform_calculate(text="'fault: ' + datum.label", py="datum.row * 15 - 5")
    )
    layers = [links, cluster, database, tags, dcs]
    if not data["ops"].empty:
        layers.append(ops)
    if not data["faults"].empty:
        layers.append(faults)
    return (
        alt.layer(*layers)
        .add_params(t)
        .resolve_scale(color="independent", fill="independent", stroke="independent")
        .properties(width=560, height=320, title="Cluster replay: move the time slider (s)")
    )


# ----------------------------------------------------------------------------- capacity


def capacity_curve(
    points: dict[str, pd.DataFrame], metric: str, limit: float | None = None, target: float | None = None
) -> alt.LayerChart:
    """Throughput against a latency objective's metric, per variant, with the objective as a rule
    and the ``target`` load, if given, as a labelled vertical line."""
    frames = []
    for name, table in points.items():
        frame = table[["throughput", metric, "meets"]].copy()
        frame.columns = ["throughput", "value", "meets"]
        frame["variant"] = name
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["throughput", "value"])
    names = list(points)
    line = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("throughput:Q", title="throughput (ops/s)"),
            y=alt.Y(
                "value:Q",
                title=_label(metric) + ", log scale",
                scale=alt.Scale(type="log"),
                axis=alt.Axis(labelSeparation=LOG_LABEL_SEPARATION),
            ),
            color=alt.Color("variant:N", scale=variant_scale(names), title="variant"),
            tooltip=[
                "variant",
                alt.Tooltip("throughput:Q", format=",.0f"),
                alt.Tooltip("value:Q", format=".2f"),
                "meets",
            ],
        )
    )
    layers: list[Any] = [line]
    if limit is not None:
        layers.append(alt.Chart(pd.DataFrame({"limit": [limit]})).mark_rule(strokeDash=[4, 4]).encode(y="limit:Q"))
    if target is not None:
        frame = pd.DataFrame({"throughput": [target], "label": [f"target {target:,.0f} ops/s"]})
        base = alt.Chart(frame).encode(x="throughput:Q")
        layers.append(base.mark_rule(color="#c0392b", strokeDash=[6, 3]))
        layers.append(base.mark_text(align="left", dx=4, dy=-110, color="#c0392b").encode(text="label:N"))
    return alt.layer(*layers).properties(width=680, height=260, title=f"Capacity: {metric} against throughput")


# ----------------------------------------------------------------------------- Pareto


def _words(metric: str) -> str:
    """An axis title in words with its unit, from a comparison column: ``latency_ms.write.p99`` is
    "write latency, p99 (ms)", ``availability.write`` is "write availability (%)"."""
    parts = metric.split(".")
    if parts[0] == "latency_ms" and len(parts) == 3:
        return f"{parts[1]} latency, {parts[2]} (ms)"
    if parts[0] == "availability" and len(parts) == 2:
        return f"{parts[1]} availability (% of operations)"
    if parts[0] == "availability_within_deadline" and len(parts) == 2:
        return f"{parts[1]} availability within the deadline (%)"
    if metric == "nodes":
        return "nodes"
    return _label(metric).replace("_", " ").replace(".", " ")


def _ci(values: pd.Series, confidence: float = 0.95) -> float:
    """Half-width of the Student t interval of the mean; NaN with fewer than two values."""
    from scipy import stats

    values = values.dropna()
    if len(values) < 2:
        return float("nan")
    return float(stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))


def _overlap(lo: pd.Series, hi: pd.Series) -> bool:
    """True when every interval overlaps every other (the differences are inside the noise)."""
    if lo.isna().any() or hi.isna().any() or len(lo) < 2:
        return False
    return bool(lo.max() <= hi.min())


def pareto_data(
    rows: pd.DataFrame,
    latency: str = "latency_ms.write.p99",
    availability: str = "availability.write",
    cost: str = "nodes",
) -> pd.DataFrame:
    """One row per variant (means over replications) with ``cost``, ``latency_ms``, ``availability``
    and ``pareto``: True when no other variant is at least as good on all three and better on one
    (fewer nodes, lower latency, higher availability). ``latency_lo``/``latency_hi`` and
    ``availability_lo``/``availability_hi`` bound the 95 % interval of each mean (NaN with one
    replication), clipped at the physical bounds (latency at 0, availability at 0 and 1)."""
    missing = [c for c in ("variant", latency, availability, cost) if c not in rows.columns]
    if missing:
        msg = f"the comparison rows have no column {', '.join(missing)}; columns include {', '.join(rows.columns[:12])}"
        raise KeyError(msg)
    table = rows[["variant", cost, latency, availability]].copy()
    for column in (cost, latency, availability):
        table[column] = pd.to_numeric(table[column], errors="coerce")
    order = list(dict.fromkeys(table["variant"]))
    grouped = table.groupby("variant", sort=False)
    data = grouped.agg(
        cost=(cost, "mean"), latency_ms=(latency, "mean"), availability=(availability, "mean"), runs=(cost, "size")
    )
    data["latency_half"] = grouped[latency].apply(_ci)
    data["availability_half"] = grouped[availability].apply(_ci)
    data = data.reindex(order).reset_index()
    data["latency_lo"] = (data["latency_ms"] - data["latency_half"]).clip(lower=0)
    data["latency_hi"] = data["latency_ms"] + data["latency_half"]
    data["availability_lo"] = (data["availability"] - data["availability_half"]).clip(lower=0)
    data["availability_hi"] = (data["availability"] + data["availability_half"]).clip(upper=1)
    values = data[["cost", "latency_ms", "availability"]].to_numpy(dtype=float)
    better = values * np.array([1.0, 1.0, -1.0])  # lower is better on every column

    def dominated(i: int) -> bool:
        """Whether another variant is as good on cost, latency and availability, and better on one."""
        others = np.delete(better, i, axis=0)
        return bool(np.any(np.all(others <= better[i], axis=1) & np.any(others < better[i], axis=1)))

    data["pareto"] = [not dominated(i) for i in range(len(data))]
    data["label"] = data["variant"] + " (" + data["cost"].map(lambda c: f"{c:g}") + f" {cost})"
    return data


def _availability_axis(data: pd.DataFrame) -> tuple[list[float], list[float], str]:
    """Domain, tick values and tick format for availability: up to 100 %, wide enough for the
    intervals and for five distinct ticks (a span of at least 0.2 percentage points)."""
    low = float(np.nanmin(data[["availability", "availability_lo"]].to_numpy(dtype=float)))
    span = max(1.0 - low, 0.002) * 1.15
    lower = max(0.0, 1.0 - span)
    ticks = [float(t) for t in np.linspace(lower, 1.0, 5)]
    step = (1.0 - lower) / 4
    fmt = ".0%" if step >= 0.01 else ".1%" if step >= 0.001 else ".2%" if step >= 0.0001 else ".3%"
    return [lower, 1.0], ticks, fmt


def pareto_chart(
    rows: pd.DataFrame,
    latency: str = "latency_ms.write.p99",
    availability: str = "availability.write",
    cost: str = "nodes",
) -> alt.LayerChart:
    """Cost (in the legend), latency (x) and availability (y) per variant, with 95 % intervals;
    Pareto-optimal variants filled. The latency axis starts at zero and the availability axis
    ends at 100 %, so a gap of a few microseconds does not fill the chart; the subtitle says when
    the differences are inside the intervals."""
    data = pareto_data(rows, latency, availability, cost)
    x_title, y_title = _words(latency), _words(availability)
    x_high = float(np.nanmax(data[["latency_ms", "latency_hi"]].to_numpy(dtype=float))) * 1.1 or 1.0
    y_domain, y_ticks, y_format = _availability_axis(data)
    x = alt.X("latency_ms:Q", title=x_title, scale=alt.Scale(domain=[0, x_high], nice=True), axis=alt.Axis(tickCount=6))
    y = alt.Y(
        "availability:Q",
        title=y_title,
        scale=alt.Scale(domain=y_domain, nice=False),
        axis=alt.Axis(values=y_ticks, format=y_format),
    )
    colors = variant_scale(list(data["label"]))
    legend_title = f"variant ({cost})"
    points = (
        alt.Chart(data)
        .mark_point(size=160, strokeWidth=2)
        .encode(
            x=x,
            y=y,
            color=alt.Color("label:N", scale=colors, title=legend_title, legend=alt.Legend(orient="bottom", columns=2)),
            fill=alt.condition("datum.pareto", alt.Color("label:N", scale=colors, legend=None), alt.value(None)),
            tooltip=[
                "variant",
                alt.Tooltip("cost:Q", title=cost),
                alt.Tooltip("latency_ms:Q", title=x_title, format=".2f"),
                alt.Tooltip("latency_lo:Q", title="latency 95 % interval from (ms)", format=".2f"),
                alt.Tooltip("latency_hi:Q", title="latency 95 % interval to (ms)", format=".2f"),
                alt.Tooltip("availability:Q", title=y_title, format=".3%"),
                alt.Tooltip("pareto:N", title="Pareto-optimal"),
                alt.Tooltip("runs:Q", title="replications"),
            ],
        )
    )
    layers: list[Any] = []
    bars = data.dropna(subset=["latency_half", "availability_half"])
    if not bars.empty:
        color = alt.Color("label:N", scale=colors, title=legend_title)
        layers += [
            alt.Chart(bars)
            .mark_rule(strokeWidth=1.5)
            .encode(x=x, x2="latency_hi:Q", y=y, color=color)
            .transform_calculate(latency_ms="datum.latency_lo"),
            alt.Chart(bars)
            .mark_rule(strokeWidth=1.5)
            .encode(x=x, y=y, y2="availability_hi:Q", color=color)
            .transform_calculate(availability="datum.availability_lo"),
        ]
    return alt.layer(*layers, points).properties(
        width=560,
        height=320,
        title=alt.TitleParams(
            f"Trade-offs: {x_title.split(' (')[0]}, {y_title.split(' (')[0]} and cost", subtitle=_noise_note(data)
        ),
    )


def _noise_note(data: pd.DataFrame) -> list[str]:
    if data["latency_half"].isna().all():
        return [
            "Filled: Pareto-optimal. One replication per variant: no confidence intervals,"
            " so small differences may be noise."
        ]
    notes = ["Filled: Pareto-optimal. Bars: 95 % confidence intervals over replications."]
    inside = [
        what
        for what, lo, hi in (
            ("latency", data["latency_lo"], data["latency_hi"]),
            ("availability", data["availability_lo"], data["availability_hi"]),
        )
        if _overlap(lo, hi)
    ]
    if inside:
        notes.append(f"The {' and '.join(inside)} differences are inside the intervals: noise, not a difference.")
    return notes


def election_cdf_data(curves: Mapping[str, Mapping[str, np.ndarray]], points: int = 200) -> pd.DataFrame:
    """Cumulative share of trials by downtime, per source ('paper', 'model', ...) and timeout
    range, from each curve's trial downtimes in ms (``points`` quantiles each). Censored
    trials (``inf``) stay in the denominator: the curve stops below 100 %."""
    frames = []
    fractions = np.linspace(0.0, 1.0, points)
    for source, by_range in curves.items():
        for name, ms in by_range.items():
            values = np.sort(np.asarray(ms, dtype=float))
            finite = values[np.isfinite(values)]
            if finite.size == 0:
                continue
            keep = fractions[fractions <= finite.size / values.size]
            positions = np.minimum(np.ceil(keep * values.size).astype(int) - 1, finite.size - 1).clip(0)
            frames.append(
                pd.DataFrame(
                    {"source": source, "range": f"{name} ms", "downtime_ms": finite[positions], "fraction": keep}
                )
            )
    return pd.concat(frames, ignore_index=True)


def election_cdf(
    curves: Mapping[str, Mapping[str, np.ndarray]], log_x: bool = False, title: str = "Time without a leader"
) -> alt.Chart:
    """The Raft paper's Figure 16 layout: one CDF per timeout range, the paper's curves solid and
    the model's dashed (log x for the randomness graph, linear for the scale graph)."""
    data = election_cdf_data(curves)
    ranges = list(dict.fromkeys(data["range"]))
    x_scale = alt.Scale(type="log") if log_x else alt.Scale(domainMin=0)
    return (
        alt.Chart(data)
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X(
                "downtime_ms:Q",
                scale=x_scale,
                title="time without leader (ms" + (", log scale)" if log_x else ")"),
                axis=alt.Axis(labelSeparation=LOG_LABEL_SEPARATION),
            ),
            y=alt.Y("fraction:Q", title="cumulative share of trials", axis=alt.Axis(format="%")),
            color=alt.Color("range:N", sort=ranges, scale=alt.Scale(range=PALETTE), title="timeout"),
            strokeDash=alt.StrokeDash(
                "source:N", sort=list(curves), scale=alt.Scale(range=[[1, 0], [6, 3], [2, 2]]), title=None
            ),
            tooltip=[
                "source",
                "range",
                alt.Tooltip("downtime_ms:Q", format=",.1f"),
                alt.Tooltip("fraction:Q", format=".1%"),
            ],
        )
        .properties(width=520, height=260, title=title, padding={"left": 5, "top": 5, "right": 30, "bottom": 5})
    )


def spec(chart: Any) -> dict[str, Any]:
    """The Vega-Lite spec of a chart, without the schema URL (reports stay offline)."""
    data = chart.to_dict()
    data.pop("$schema", None)
    return data


# ----------------------------------------------------------------------------- deployments (several clusters)


def deployment_fault_spans(result: RunResult) -> pd.DataFrame:
    """The fault plan's periods of a run of one cluster or several: fault, target, start_s,
    end_s, label (``crash A [hq]``), and ``clusters`` (the clusters that recorded it, comma
    separated).

    In a deployment each cluster numbers its own faults, so fault ids collide across
    clusters (the events table stacks them): the spans are read cluster by cluster, and a
    data-centre action that several clusters applied (a partition, say: each names its own
    part as the target) is one span, its targets joined with ``;``."""
    columns = ["fault", "target", "start_s", "end_s", "label", "clusters"]
    events, ops = result.events, result.ops
    if "cluster" not in events.columns:
        spans = fault_spans(result)
        return spans.assign(clusters="")[columns] if not spans.empty else pd.DataFrame(columns=columns)
    end = _end_s(result)
    frames = []
    for name in events["cluster"].astype(str).unique():
        own_ops = ops[ops["cluster"].astype(str) == name] if "cluster" in ops.columns else ops.iloc[:0]
        faults = fault_table(own_ops, events[events["cluster"].astype(str) == name], end)
        if not faults.empty:
            frames.append(faults[["fault", "target", "start_s", "end_s"]].assign(clusters=name))
    if not frames:
        return pd.DataFrame(columns=columns)

    def joined(values: pd.Series) -> str:
        """A span's distinct targets, blanks left out, joined with ``;``."""
        return "; ".join(dict.fromkeys(str(v).strip() for v in values if str(v).strip()))

    spans = (
        pd.concat(frames, ignore_index=True)
        .groupby(["fault", "start_s", "end_s"], as_index=False, sort=False)
        .agg(target=("target", joined), clusters=("clusters", lambda names: ", ".join(dict.fromkeys(names))))
        .sort_values("start_s", kind="stable")
    )
    spans["label"] = (spans["fault"] + " " + spans["target"]).str.strip() + " [" + spans["clusters"] + "]"
    return spans[columns].reset_index(drop=True)


def _deployment_fault_layer(result: RunResult) -> list[Any]:
    """Grey bands for the faults (see :func:`deployment_fault_spans`), as ``_fault_layer`` draws them."""
    return _fault_bands(deployment_fault_spans(result), alt.Tooltip("clusters:N", title="recorded by"))


def _cluster_names(result: RunResult) -> list[str]:
    """The clusters of a deployment in the blueprint's order (a single cluster: its blueprint's name)."""
    blueprint = result.provenance.get("scenario", {}).get("blueprint", {})
    names = [c["name"] for c in blueprint.get("clusters", []) if isinstance(c, Mapping) and "name" in c]
    if "cluster" not in result.ops.columns:
        return [str(blueprint.get("name") or "cluster")]
    present = [str(c) for c in result.ops["cluster"].astype(str).unique()]
    return [n for n in names if n in present] + sorted(set(present) - set(names))


def link_lag_data(result: RunResult, max_bins: int = MAX_WINDOWS, min_bin_s: float = 1.0) -> pd.DataFrame:
    """Lag of each task between clusters per time bin, long format: link, time_s, time_end_s,
    versions (stored at the receiver in the bin), statistic (``p50`` or ``max``) and lag_ms.

    From the timeseries rows of entity ``task.<name>``, metric ``link_lag_ms`` (one per
    version stored at the receiver: from its commit at the origin to its commit there),
    binned by the time the version was stored: bins of ``min_bin_s``, widened so that there
    are at most ``max_bins`` per link. Every bin of the run is there: a bin in which a link
    stored nothing (cut off, or nothing to send) has versions 0 and lag_ms NaN."""
    columns = ["link", "time_s", "time_end_s", "versions", "statistic", "lag_ms"]
    ts = result.timeseries
    rows = ts[(ts["metric"] == "link_lag_ms") & ts["entity"].astype(str).str.startswith("task.")]
    if rows.empty:
        return pd.DataFrame(columns=columns)
    end = max(_end_s(result), float(rows["time_s"].max()))
    width = max(end / max_bins, float(min_bin_s), 1e-9)
    count = min(max(int(np.ceil(end / width - 1e-9)), 1), max_bins)
    bins = (rows["time_s"] // width).clip(upper=count - 1).astype("int64")
    table = (
        pd.DataFrame(
            {
                "link": rows["entity"].astype(str).str.removeprefix("task.").to_numpy(),
                "bin": bins.to_numpy(),
                "lag_ms": rows["value"].to_numpy(dtype=float),
            }
        )
        .groupby(["link", "bin"])["lag_ms"]
        .agg(versions="size", p50="median", max="max")
    )
    grid = pd.MultiIndex.from_product([table.index.unique("link"), range(count)], names=["link", "bin"])
    table = table.reindex(grid).reset_index()
    table["versions"] = table["versions"].fillna(0).astype("int64")
    table["time_s"] = table["bin"] * width
    table["time_end_s"] = table["time_s"] + width
    long = table.melt(
        id_vars=["link", "time_s", "time_end_s", "versions"],
        value_vars=["p50", "max"],
        var_name="statistic",
        value_name="lag_ms",
    )
    return long.sort_values(["link", "statistic", "time_s"], kind="stable")[columns].reset_index(drop=True)


def link_lag(result: RunResult, max_bins: int = MAX_WINDOWS, min_bin_s: float = 1.0) -> alt.LayerChart:
    """Lag of each task between clusters over time (commit at the origin -> stored at the
    receiver), p50 (dashed) and max (solid) per bin, a colour per link; faults shaded.
    A link's line breaks where it stored nothing (cut off, or nothing to send)."""
    data = link_lag_data(result, max_bins, min_bin_s)
    links = sorted(set(data["link"]))
    lines = (
        alt.Chart(data)
        .mark_line(point=alt.OverlayMarkDef(size=12), invalid="break-paths-filter-domains")
        .encode(
            x=_time_x("time_s:Q", result),
            y=alt.Y(
                "lag_ms:Q",
                title="lag: origin commit to stored (ms, log scale)",
                scale=alt.Scale(type="log"),
                axis=alt.Axis(labelSeparation=LOG_LABEL_SEPARATION),
            ),
            color=alt.Color("link:N", scale=variant_scale(links), title="link"),
            strokeDash=alt.StrokeDash(
                "statistic:N", scale=alt.Scale(domain=["p50", "max"], range=[[4, 3], [1, 0]]), title="per bin"
            ),
            detail="statistic:N",
            tooltip=[
                "link:N",
                "statistic:N",
                alt.Tooltip("time_s:Q", title="bin from (s)", format=",.1f"),
                alt.Tooltip("lag_ms:Q", title="lag (ms)", format=",.1f"),
                alt.Tooltip("versions:Q", title="versions stored"),
            ],
        )
    )
    return alt.layer(*_deployment_fault_layer(result), lines).properties(
        width=680, height=260, title="Lag of the links between clusters (p50 dashed, max solid; shaded: faults)"
    )


def _cluster_latency_window(result: RunResult, window_s: float | None) -> float:
    return _window(result, window_s if window_s is not None else max(1.0, _end_s(result) / 100))


def cluster_latency_data(
    result: RunResult, window_s: float | None = None, kinds: tuple[str, ...] = ("write", "read")
) -> pd.DataFrame:
    """p99 latency of successful (``ok``) operations per cluster, op kind and time window
    (by start time): cluster, kind, window_s, ops, p99_ms; a window with no successful
    operation of a cluster has ops 0 and p99_ms NaN (its line breaks). The default window is a
    hundredth of the run (at least 1 s), widened so that there are at most
    :data:`MAX_WINDOWS` windows. A single cluster's result is one cluster, named after
    its blueprint."""
    columns = ["cluster", "kind", "window_s", "ops", "p99_ms"]
    ops = result.ops
    ok = ops[(ops["outcome"] == "ok") & ops["kind"].astype(str).isin(kinds)]
    if ok.empty:
        return pd.DataFrame(columns=columns)
    width = _cluster_latency_window(result, window_s)
    cluster = ok["cluster"].astype(str).to_numpy() if "cluster" in ok.columns else _cluster_names(result)[0]
    table = (
        pd.DataFrame(
            {
                "cluster": cluster,
                "kind": ok["kind"].astype(str).to_numpy(),
                "window_s": ((ok["start_s"] // width) * width).to_numpy(dtype=float),
                "latency_ms": ok["latency_ms"].to_numpy(dtype=float),
            }
        )
        .groupby(["cluster", "kind", "window_s"])["latency_ms"]
        .agg(ops="size", p99_ms=lambda s: s.quantile(0.99))
    )
    # Every window of the run, so a cluster that served nothing for a while shows a gap.
    count = max(int(np.ceil(max(_end_s(result), float(ok["start_s"].max())) / width - 1e-9)), 1)
    grid = pd.MultiIndex.from_product(
        [
            table.index.unique("cluster"),
            table.index.unique("kind"),
            np.round(np.arange(count) * width, 9),
        ],
        names=["cluster", "kind", "window_s"],
    )
    table.index = table.index.set_levels(np.round(table.index.levels[2], 9), level="window_s")
    table = table.reindex(table.index.union(grid)).reset_index()
    table["ops"] = table["ops"].fillna(0).astype("int64")
    return table[columns]


def cluster_latency(
    result: RunResult, window_s: float | None = None, kinds: tuple[str, ...] = ("write", "read")
) -> alt.VConcatChart:
    """p99 latency of successful operations over time, a line per cluster and a panel per op
    kind (write, read), faults shaded. A cluster's line breaks where it served no operation
    (a dark data centre, its application servers rerouted or dark too)."""
    data = cluster_latency_data(result, window_s, kinds)
    width = _cluster_latency_window(result, window_s)
    scale = variant_scale(_cluster_names(result))
    panels = []
    for kind in kinds:
        lines = (
            alt.Chart(data[data["kind"] == kind])
            .mark_line(invalid="break-paths-filter-domains")
            .encode(
                x=_time_x("window_s:Q", result),
                y=alt.Y(
                    "p99_ms:Q",
                    title=f"{kind} p99 (ms, log scale)",
                    scale=alt.Scale(type="log"),
                    axis=alt.Axis(labelSeparation=LOG_LABEL_SEPARATION),
                ),
                color=alt.Color("cluster:N", scale=scale, title="cluster"),
                tooltip=[
                    "cluster:N",
                    "kind:N",
                    alt.Tooltip("window_s:Q", title="window from (s)", format=",.1f"),
                    alt.Tooltip("p99_ms:Q", title="p99 (ms)", format=",.2f"),
                    alt.Tooltip("ops:Q", title="successful operations"),
                ],
            )
        )
        panels.append(
            alt.layer(*_deployment_fault_layer(result), lines).properties(width=680, height=180, title=f"{kind}s")
        )
    return alt.vconcat(*panels).properties(
        title=f"p99 latency per cluster, successful operations per {width:g} s window (shaded: faults)"
    )

"""The cluster replay: the cluster at a moment chosen with a time slider (roles, database
states, replication lag, operations and faults)."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from workbench.charts._common import STATE_COLORS, _end_s, _fixed_scale, fault_spans
from workbench.charts.nodes import node_states
from workbench.charts.replication import replication_lag_data
from workbench.results import RunResult


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

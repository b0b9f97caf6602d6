"""Deployments of several clusters: the fault spans of every cluster, the lag of the links
between clusters, and p99 latency per cluster."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from workbench.analysis.faults import fault_table
from workbench.charts._common import (
    LOG_LABEL_SEPARATION,
    MAX_WINDOWS,
    _end_s,
    _fault_bands,
    _time_x,
    _window,
    fault_spans,
    variant_scale,
)
from workbench.results import RunResult


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

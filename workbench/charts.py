"""Altair chart builders over run results and study tables.

Each builder aggregates before it charts (quantiles, per-second windows), so a
chart never carries more than a few thousand rows whatever the run's size.
Colours are fixed per variant and per node in the order given, so the same
blueprint has the same colour in every chart of a report.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from workbench.analysis.faults import fault_table

# Tableau 10: distinct, colour-blind-friendly enough, and the same everywhere.
PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f"]
QUANTILES = np.concatenate([np.linspace(0, 0.9, 46), np.linspace(0.9, 0.999, 50), [0.9995, 1.0]])


def _scale(names: list[str]) -> alt.Scale:
    return alt.Scale(domain=names, range=[PALETTE[i % len(PALETTE)] for i in range(len(names))])


def latency_cdf_data(results: dict[str, Any], kinds: tuple[str, ...] = ("read", "write")) -> pd.DataFrame:
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


def latency_cdf(results: dict[str, Any], kinds: tuple[str, ...] = ("read", "write")) -> alt.Chart:
    """Latency CDF by op kind (one panel each) and variant, log-scaled."""
    data = latency_cdf_data(results, kinds)
    names = list(results)
    return (
        alt.Chart(data, title="Latency distribution (successful operations)")
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("latency_ms:Q", scale=alt.Scale(type="log"), title="latency (ms, log scale)"),
            y=alt.Y("fraction:Q", title="fraction of operations", axis=alt.Axis(format="%")),
            color=alt.Color("variant:N", scale=_scale(names), title="variant"),
            tooltip=[
                "variant",
                "kind",
                alt.Tooltip("latency_ms:Q", format=".2f"),
                alt.Tooltip("fraction:Q", format=".1%"),
            ],
        )
        .properties(width=320, height=220)
        .facet(column=alt.Column("kind:N", title=None))
    )


def availability_data(results: dict[str, Any], window_s: float = 1.0) -> pd.DataFrame:
    """Share of operations that succeeded per time window and variant."""
    frames = []
    for name, result in results.items():
        ops = result.ops
        if ops.empty:
            continue
        window = (ops["start_s"] // window_s) * window_s
        ok = ops["outcome"].isin(["ok", "conflict"])
        table = ok.groupby(window).agg(["mean", "size"]).reset_index()
        table.columns = ["time_s", "availability", "ops"]
        table["variant"] = name
        frames.append(table)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["time_s", "availability"])


def availability_timeline(results: dict[str, Any], window_s: float = 1.0) -> alt.LayerChart:
    """Availability per second by variant, with each fault's period shaded."""
    names = list(results)
    data = availability_data(results, window_s)
    line = (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=alt.X("time_s:Q", title="time (s)"),
            y=alt.Y("availability:Q", title="operations that succeeded", axis=alt.Axis(format="%")),
            color=alt.Color("variant:N", scale=_scale(names), title="variant"),
            tooltip=["variant", "time_s", alt.Tooltip("availability:Q", format=".2%"), "ops"],
        )
    )
    first = next(iter(results.values()), None)
    layers: list[Any] = []
    if first is not None:
        end = float(first.provenance.get("sim_seconds", 0.0))
        faults = fault_table(first.ops, first.events, end)
        if not faults.empty:
            spans = faults[["fault", "target", "start_s", "end_s"]].copy()
            spans["label"] = spans["fault"] + " " + spans["target"].astype(str)
            layers.append(
                alt.Chart(spans)
                .mark_rect(opacity=0.15, color="#888")
                .encode(x="start_s:Q", x2="end_s:Q", tooltip=["label", "start_s", "end_s"])
            )
    return alt.layer(*layers, line).properties(width=680, height=220, title="Availability over time (shaded: faults)")


def capacity_curve(points: dict[str, pd.DataFrame], metric: str, limit: float | None = None) -> alt.LayerChart:
    """Throughput against a latency objective's metric, per variant, with the objective as a rule."""
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
            y=alt.Y("value:Q", title=metric, scale=alt.Scale(type="log")),
            color=alt.Color("variant:N", scale=_scale(names), title="variant"),
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
    return alt.layer(*layers).properties(width=680, height=260, title=f"Capacity: {metric} against throughput")


def spec(chart: Any) -> dict[str, Any]:
    """The Vega-Lite spec of a chart, without the schema URL (reports stay offline)."""
    data = chart.to_dict()
    data.pop("$schema", None)
    return data

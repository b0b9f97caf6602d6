"""Availability: the share of operations that succeeded per time window, per variant."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from workbench.charts._common import _fault_layer, _window, variant_scale
from workbench.results import RunResult


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

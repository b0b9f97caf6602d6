"""Latency: its distribution per variant and op kind (CDF), and p50/p99 over time."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import numpy as np
import pandas as pd

from workbench.analysis.summary import latency_over_time
from workbench.charts._common import (
    KIND_COLORS,
    LOG_LABEL_SEPARATION,
    _fault_layer,
    _fixed_scale,
    _time_x,
    _window,
    variant_scale,
)
from workbench.results import RunResult

QUANTILES = np.concatenate([np.linspace(0, 0.9, 46), np.linspace(0.9, 0.999, 50), [0.9995, 1.0]])


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

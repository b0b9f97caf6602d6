"""The Pareto chart of a comparison: cost, latency and availability per variant, with 95 %
confidence intervals over replications."""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from workbench.charts._common import _label, variant_scale


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

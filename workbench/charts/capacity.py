"""The capacity curve: throughput against a latency objective's metric, per variant."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

from workbench.charts._common import LOG_LABEL_SEPARATION, _label, variant_scale


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

"""Staleness: the t-visibility curve (how likely a read is consistent, t ms after the write)."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import pandas as pd

from workbench.analysis.staleness import t_visibility
from workbench.charts._common import LOG_LABEL_SEPARATION, variant_scale
from workbench.results import RunResult

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

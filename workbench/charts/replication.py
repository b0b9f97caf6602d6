"""Replication lag per link (origin → destination) over time."""

from __future__ import annotations

import altair as alt
import pandas as pd

from workbench.charts._common import _end_s, _time_x
from workbench.results import RunResult


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

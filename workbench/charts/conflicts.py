"""Conflicts over time, stacked by how they were resolved."""

from __future__ import annotations

import altair as alt
import pandas as pd

from workbench.analysis.summary import unique_conflicts
from workbench.charts._common import RESOLUTION_COLORS, _end_s, _fault_layer, _fixed_scale, _time_x, _window
from workbench.results import RunResult

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

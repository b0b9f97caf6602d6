"""Time without a leader: the CDF of election downtime per timeout range, the Raft paper's
Figure 16 layout (``workbench validate raft-election --chart``)."""

from __future__ import annotations

from collections.abc import Mapping

import altair as alt
import numpy as np
import pandas as pd

from workbench.charts._common import LOG_LABEL_SEPARATION, PALETTE


def election_cdf_data(curves: Mapping[str, Mapping[str, np.ndarray]], points: int = 200) -> pd.DataFrame:
    """Cumulative share of trials by downtime, per source ('paper', 'model', ...) and timeout
    range, from each curve's trial downtimes in ms (``points`` quantiles each). Censored
    trials (``inf``) stay in the denominator: the curve stops below 100 %."""
    frames = []
    fractions = np.linspace(0.0, 1.0, points)
    for source, by_range in curves.items():
        for name, ms in by_range.items():
            values = np.sort(np.asarray(ms, dtype=float))
            finite = values[np.isfinite(values)]
            if finite.size == 0:
                continue
            keep = fractions[fractions <= finite.size / values.size]
            positions = np.minimum(np.ceil(keep * values.size).astype(int) - 1, finite.size - 1).clip(0)
            frames.append(
                pd.DataFrame(
                    {"source": source, "range": f"{name} ms", "downtime_ms": finite[positions], "fraction": keep}
                )
            )
    return pd.concat(frames, ignore_index=True)


def election_cdf(
    curves: Mapping[str, Mapping[str, np.ndarray]], log_x: bool = False, title: str = "Time without a leader"
) -> alt.Chart:
    """The Raft paper's Figure 16 layout: one CDF per timeout range, the paper's curves solid and
    the model's dashed (log x for the randomness graph, linear for the scale graph)."""
    data = election_cdf_data(curves)
    ranges = list(dict.fromkeys(data["range"]))
    x_scale = alt.Scale(type="log") if log_x else alt.Scale(domainMin=0)
    return (
        alt.Chart(data)
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X(
                "downtime_ms:Q",
                scale=x_scale,
                title="time without leader (ms" + (", log scale)" if log_x else ")"),
                axis=alt.Axis(labelSeparation=LOG_LABEL_SEPARATION),
            ),
            y=alt.Y("fraction:Q", title="cumulative share of trials", axis=alt.Axis(format="%")),
            color=alt.Color("range:N", sort=ranges, scale=alt.Scale(range=PALETTE), title="timeout"),
            strokeDash=alt.StrokeDash(
                "source:N", sort=list(curves), scale=alt.Scale(range=[[1, 0], [6, 3], [2, 2]]), title=None
            ),
            tooltip=[
                "source",
                "range",
                alt.Tooltip("downtime_ms:Q", format=",.1f"),
                alt.Tooltip("fraction:Q", format=".1%"),
            ],
        )
        .properties(width=520, height=260, title=title, padding={"left": 5, "top": 5, "right": 30, "bottom": 5})
    )

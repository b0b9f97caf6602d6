"""Data subscriptions [spec §4.4, §5.6, §9 item 9]: what the workers processed, how often
twice, the failover gap and the processing lag, from the recorded events and timeseries
only (``workbench.model.tasks.subscription`` describes what it records).

- ``docs_processed``: documents in the batches the workers processed (repeats included),
  the sum of ``subscription_batch`` values;
- ``duplicates``: processings of a version (document and write) that had been processed
  before, the sum of ``subscription_duplicates`` values (at least once: a batch processed
  but not acknowledged is sent again);
- ``failover_gap_s``: the longest stretch with no worker processing while the backlog was
  not empty (the step functions ``subscription_busy`` = 0 and ``subscription_backlog`` > 0),
  with ``failover_gap_from_s``; ``idle_with_backlog_s`` is the total of such time, including
  the moments between batches;
- ``lag_ms``: percentiles (p50, p90, p99, max) of ``subscription_lag_ms``, the time from a
  write's commit to the end of its first processing;
- counts of the connection events.
"""

from __future__ import annotations

from typing import overload

import numpy as np
import pandas as pd

from workbench.results import RunResult
from workbench.results.summary import Empty, SubscriptionSummary

COUNTED = (
    "subscription_connected",
    "subscription_redirected",
    "subscription_refused",
    "subscription_evicted",
    "subscription_disconnected",
    "subscription_ack_failed",
    "subscription_gave_up",
)


def _steps(ts: pd.DataFrame, entity: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    rows = ts[(ts["entity"] == entity) & (ts["metric"] == metric)]
    return rows["time_s"].to_numpy(dtype=float), rows["value"].to_numpy(dtype=float)


def _value_at(times: np.ndarray, values: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The step function (last sample at or before ``t``; 0 before the first)."""
    i = np.searchsorted(times, t, side="right") - 1
    out = np.zeros(len(t))
    ok = i >= 0
    out[ok] = values[i[ok]]
    return out


def idle_with_backlog(result: RunResult, name: str, until: float | None = None) -> list[tuple[float, float]]:
    """Intervals ``(start, end)`` when no worker processed while the backlog was not empty."""
    ts = result.timeseries
    entity = f"task.{name}"
    bt, bv = _steps(ts, entity, "subscription_backlog")
    ut, uv = _steps(ts, entity, "subscription_busy")
    if not len(bt):
        return []
    end = until if until is not None else float(max(bt.max(), ut.max() if len(ut) else 0.0))
    points = np.unique(np.concatenate([bt, ut, [end]]))
    points = points[points <= end]
    backlog = _value_at(bt, bv, points)
    busy = _value_at(ut, uv, points)
    idle = (backlog > 0) & (busy <= 0)
    intervals: list[tuple[float, float]] = []
    start: float | None = None
    for t, flag in zip(points, idle, strict=True):
        if flag and start is None:
            start = float(t)
        elif not flag and start is not None:
            intervals.append((start, float(t)))
            start = None
    if start is not None and end > start:
        intervals.append((start, end))
    return intervals


@overload
def subscription_summary(result: RunResult, name: str) -> SubscriptionSummary:
    """That subscription's figures."""


@overload
def subscription_summary(result: RunResult, name: None = None) -> SubscriptionSummary | Empty:
    """The first subscription's figures (by name), or Empty when the run has none."""


def subscription_summary(result: RunResult, name: str | None = None) -> SubscriptionSummary | Empty:
    """Figures for one subscription (the only or first one when ``name`` is None; empty when
    ``name`` is None and the run has no subscription events)."""
    events = result.events
    sub = events[events["kind"].astype(str).str.startswith("subscription_")]
    if name is None:
        names = sorted({str(t) for t in sub["task"].dropna()})
        if not names:
            return Empty()
        name = names[0]
    sub = sub[(sub["task"] == name).fillna(False).to_numpy(dtype=bool)]
    kinds = sub["kind"].astype(str)
    ts = result.timeseries
    lag = ts[(ts["entity"] == f"task.{name}") & (ts["metric"] == "subscription_lag_ms")]["value"]
    # Gaps are measured up to the task's last sample, not the run's end: the published figures
    # always were (the run's duration was looked up here, but as the recorded text it never
    # counted), and changing that would change them.
    gaps = idle_with_backlog(result, name)
    longest = max(gaps, key=lambda g: g[1] - g[0], default=None)

    def count(kind: str) -> int:
        """How many ``subscription_<kind>`` events the task recorded."""
        return int((kinds == f"subscription_{kind}").sum())

    return {
        "name": name,
        "docs_processed": int(sub.loc[kinds == "subscription_batch", "value"].sum()),
        "batches": int((kinds == "subscription_batch").sum()),
        "duplicates": int(sub.loc[kinds == "subscription_duplicates", "value"].sum()),
        "failover_gap_s": (longest[1] - longest[0]) if longest else 0.0,
        "failover_gap_from_s": longest[0] if longest else None,
        "idle_with_backlog_s": float(sum(b - a for a, b in gaps)),
        "lag_ms": {
            "p50": float(lag.quantile(0.5)) if len(lag) else None,
            "p90": float(lag.quantile(0.9)) if len(lag) else None,
            "p99": float(lag.quantile(0.99)) if len(lag) else None,
            "max": float(lag.max()) if len(lag) else None,
        },
        # The connection events of COUNTED, each counted.
        "connected": count("connected"),
        "redirected": count("redirected"),
        "refused": count("refused"),
        "evicted": count("evicted"),
        "disconnected": count("disconnected"),
        "ack_failed": count("ack_failed"),
        "gave_up": count("gave_up"),
    }

"""SQL ETL figures: lag, backlog, fallback retries and each outage's time to drain
[spec §5.2, §9 items 9-10].

Pure functions over a run's ``events`` and ``timeseries`` tables (``workbench.model.tasks.etl``
and ``workbench.model.tasks.external`` record them; no SimPy here), so the same figures come
out of a live run or a run loaded from disk.

Definitions:

- **Lag** of a document version: from its commit on the origin node to the commit of the
  destination transaction that made it visible (timeseries ``etl_lag_ms``, one sample
  per version; a re-sent version already there is not counted again).
- **Backlog**: documents with a version not yet loaded, as the running node sees them
  (timeseries ``etl_backlog``; nothing is sampled while no node runs the task).
- An **outage** of a task is either its destination being down (``external_down`` to
  ``external_up``, or run end) or the task not running anywhere (``task_paused`` to the
  next ``task_moved``/``task_resumed``, or run end).
- **Time to drain** after an outage: from the outage's end to the first ``etl_caught_up``
  (nothing left to load) at or after it; 0 if the task never fell behind (no fallback
  during a destination outage); None if it had not drained by run end or the outage
  lasted to run end. After a destination outage it includes the wait for the next
  fallback retry.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.analysis import database_tasks
from workbench.results import RunResult
from workbench.results.summary import EtlLag, EtlOutage, EtlTaskSummary
from workbench.scenario.schema import SqlEtlTask

PERCENTILES = (50, 95, 99)


def etl_tasks(result: RunResult) -> dict[str, str | None]:
    """The run's SQL ETL tasks: name -> destination (from the typed scenario; if it has none,
    the ``task.<name>`` entities that carry ETL metrics, destination unknown)."""
    found: dict[str, str | None] = {
        t.name: t.destination for t in database_tasks(result.spec) if isinstance(t, SqlEtlTask)
    }
    if found:
        return found
    ts = result.timeseries
    if ts.empty:
        return {}
    etl = ts[ts["metric"].astype(str).str.startswith("etl_") & ts["entity"].astype(str).str.startswith("task.")]
    return {str(e)[len("task.") :]: None for e in pd.unique(etl["entity"].astype(str))}


def etl_summary(result: RunResult) -> dict[str, EtlTaskSummary]:
    """Per SQL ETL task: lag percentiles, documents loaded, rows at the destination,
    backlog, rejected documents, fallback retries and each outage's time to drain."""
    events = result.events
    ts = result.timeseries
    return {name: task_summary(events, ts, name, dest) for name, dest in etl_tasks(result).items()}


def task_summary(events: pd.DataFrame, ts: pd.DataFrame, name: str, destination: str | None) -> EtlTaskSummary:
    """The figures of one task (see :func:`etl_summary`)."""
    series = _series(ts, f"task.{name}")
    mine = _task_events(events, name)
    lag = series.get("etl_lag_ms", pd.Series(dtype="float64"))
    backlog = series.get("etl_backlog", pd.Series(dtype="float64"))
    fallbacks = mine[mine["kind"] == "etl_fallback"]
    resumed = mine[mine["kind"] == "etl_resumed"]
    return {
        "versions_visible": len(lag),
        "lag_ms": _percentiles(lag),
        "documents_loaded": int(_last(series.get("etl_loaded"))),
        "rows_at_destination": int(_last(series.get("etl_rows"))),
        "max_backlog": float(backlog.max()) if len(backlog) else 0.0,
        "rejected_documents": int((mine["kind"] == "etl_document_rejected").sum()),
        "fallback_retries": len(fallbacks),
        "fallback_waits_s": [float(v) for v in fallbacks["value"]],
        "fallback_times_s": [float(t) for t in fallbacks["time_s"]],
        "time_in_fallback_s": float(resumed["value"].sum()),
        "outages": outages(events, name, destination),
    }


def outages(events: pd.DataFrame, name: str, destination: str | None) -> list[EtlOutage]:
    """Each outage of the task with its time to drain (see the module's definitions)."""
    mine = _task_events(events, name)
    caught = mine.loc[mine["kind"] == "etl_caught_up", "time_s"].to_numpy()
    fallback_at = mine.loc[mine["kind"] == "etl_fallback", "time_s"].to_numpy()
    found: list[EtlOutage] = []
    if destination is not None:
        ext = events[events["kind"].isin(["external_down", "external_up"]) & (events["system"] == destination)]
        start = None
        for t, kind in zip(ext["time_s"], ext["kind"], strict=True):
            if kind == "external_down" and start is None:
                start = float(t)
            elif kind == "external_up" and start is not None:
                found.append(_outage("destination down", start, float(t), caught, fallback_at))
                start = None
        if start is not None:
            found.append(_outage("destination down", start, None, caught, fallback_at))
    start = None
    for t, kind in zip(mine["time_s"], mine["kind"], strict=True):
        if kind == "task_paused" and start is None:
            start = float(t)
        elif kind in ("task_moved", "task_resumed") and start is not None:
            found.append(_outage("task not running", start, float(t), caught, None))
            start = None
    if start is not None:
        found.append(_outage("task not running", start, None, caught, None))
    found.sort(key=lambda o: o["start_s"])
    return found


def _outage(
    kind: str, start: float, end: float | None, caught: np.ndarray, fallback_at: np.ndarray | None
) -> EtlOutage:
    drain: float | None = None
    if end is not None:
        if fallback_at is not None and not ((fallback_at >= start) & (fallback_at <= end)).any():
            drain = 0.0  # it never fell behind: nothing was sent while the destination was down
        else:
            after = caught[caught >= end]
            drain = float(after[0] - end) if len(after) else None
    return {
        "kind": kind,
        "start_s": start,
        "end_s": end,
        "duration_s": None if end is None else end - start,
        "time_to_drain_s": drain,
    }


def _task_events(events: pd.DataFrame, name: str) -> pd.DataFrame:
    """The task's ETL and task events (field ``task``), in time order."""
    if events.empty:
        return events
    kinds = events["kind"].astype(str)
    mine = (events["task"] == name).fillna(False).to_numpy(dtype=bool)
    return events[mine & (kinds.str.startswith("etl_") | kinds.str.startswith("task_"))].sort_values(
        "time_s", kind="stable"
    )


def _series(ts: pd.DataFrame, entity: str) -> dict[str, pd.Series]:
    if ts.empty:
        return {}
    rows = ts[ts["entity"].astype(str) == entity]
    return {str(m): g["value"].reset_index(drop=True) for m, g in rows.groupby(rows["metric"].astype(str))}


def _percentiles(values: pd.Series) -> EtlLag:
    if not len(values):
        return {"mean": None, "p50": None, "p95": None, "p99": None, "max": None}
    arr = values.to_numpy()
    p50, p95, p99 = (float(np.percentile(arr, p)) for p in PERCENTILES)
    return {"mean": float(arr.mean()), "p50": p50, "p95": p95, "p99": p99, "max": float(arr.max())}


def _last(values: pd.Series | None) -> float:
    return float(values.iloc[-1]) if values is not None and len(values) else 0.0

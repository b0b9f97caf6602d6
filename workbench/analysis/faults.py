"""What each fault cost: a per-fault table of RTO, RPO, client errors and latency recovery.

Pure functions over a run's ``ops`` and ``events`` tables (no SimPy here), so the
same figures come out of a live run, a run loaded from disk, or a hand-built
table in a test.

Definitions (design.md, "What the metrics mean"; RTO/RPO for a fault):

- A **fault** is whatever the fault plan did (crash, shutdown, pause, partition,
  degraded link, dark data centre, slow or full disk, a rolling restart's or a
  random failure's outage): from its ``fault_started`` event to the
  ``fault_ended`` event with the same id (a restart, a heal, the end of its
  duration). A fault still active at the end lasts until run end.
- A fault's **window** is ``[start_s, window_end_s)``: from the fault to the next
  fault that starts later, or run end. Faults that fire at the same instant share
  a window, since nothing can tell their effects apart. Per-window figures are
  what happened while this fault was the latest thing to go wrong; a fault that
  outlives its window (a crash followed by a partition) is not charged for what
  the later fault did.
- An **error** is an op that ended ``failed``, ``timeout`` or ``all_nodes_down``, or was
  still waiting (``unfinished``) when the run ended.
  ``conflict`` (an HTTP 409 for a conflicted document) is an answer from a live
  node, so it counts as a success here, like ``ok``.
- A **slow** op ended without an error but took longer than the user-visible
  deadline (``clients.deadline``, 10 s by default): a request that waited out a
  partition in its TCP retransmissions, say. For the user it failed, and it is
  *seen* when the deadline passed, not when it finally ended.
- An op is **disrupted** by a fault when it was in flight at the fault, or started
  inside its window, and it ended in an error, was slow, or needed more than one
  attempt (a failover). A client is **affected** when it has a disrupted op.
- **RTO**: for each affected client, the end of its first success (an op that
  ended without an error within the deadline) that ended at or after its
  earliest-seen disrupted op, i.e. the first success once the client had seen
  the fault; a failover that ended ok in time is that success.
  RTO is the latest of these, minus the fault's start. It is searched up to run
  end (not just the window): recovery is recovery, whatever fault came next. A
  client that never succeeds again makes RTO NaN and ``recovered`` False.
- **RPO**: read from the ``rpo_writes`` / ``rpo_seconds`` events the model writes
  when the fault hits (acknowledged writes on no surviving member, and the age of
  the oldest); None for faults that put no data at risk (a slow link or disk).
- **p99 recovery**: successful ops are bucketed by start time into ``window_s``
  windows from the fault on (by start, so a window reflects what a request issued
  then went through); the figure is the start offset of the first window whose
  p99 latency is at or below ``tolerance`` × the baseline p99, so 0.0 means latency
  never left tolerance at this resolution. The baseline is successful ops that
  started in the ``baseline_s`` before the fault and finished before it (ops in
  flight at the fault are the fault's, not the baseline's). None without baseline
  data; NaN when no window inside the fault's window gets back within tolerance.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import pandas as pd

from workbench.results.summary import FaultRow

ERROR_OUTCOMES = ("failed", "timeout", "all_nodes_down", "unfinished")
FAULT_COLUMNS = [
    "fault",
    "target",
    "start_s",
    "end_s",
    "duration_s",
    "window_end_s",
    "rpo_writes",
    "rpo_seconds",
    "client_errors",
    "affected_clients",
    "rto_s",
    "recovered",
    "p99_recovery_s",
]
_DTYPES: dict[str, Any] = {
    "start_s": float,
    "end_s": float,
    "duration_s": float,
    "window_end_s": float,
    "client_errors": "int64",
    "affected_clients": "int64",
    "rto_s": float,
    "recovered": bool,
}
_FAULT_KINDS = ("fault_started", "fault_ended", "rpo_writes", "rpo_seconds")


def fault_table(
    ops: pd.DataFrame,
    events: pd.DataFrame,
    end_s: float,
    *,
    window_s: float = 1.0,
    tolerance: float = 1.2,
    baseline_s: float = 10.0,
    deadline_s: float = 10.0,
) -> pd.DataFrame:
    """One row per fault (crash or partition), in the order they fired; columns :data:`FAULT_COLUMNS`.

    ``end_s`` is the run's end (simulated seconds): faults still active then, and
    the last fault's window, end there. ``window_s``, ``tolerance`` and ``baseline_s``
    set the p99 latency recovery test; ``deadline_s`` is the scenario's
    ``clients.deadline``, past which an op is slow (see the module docstring).
    """
    faults = _faults(events, end_s)
    if not faults:
        return _empty_table()
    view = _OpsView(ops, end_s, deadline_s)
    starts = np.array([f["start_s"] for f in faults], dtype=float)
    rows = []
    for fault in faults:
        start = fault["start_s"]
        later = starts[starts > start]
        window_end = float(later.min()) if later.size else max(float(end_s), start)
        rto, recovered, affected = view.rto(start, window_end)
        rows.append(
            {
                **fault,
                "window_end_s": window_end,
                "client_errors": view.errors_between(start, window_end),
                "affected_clients": affected,
                "rto_s": rto,
                "recovered": recovered,
                "p99_recovery_s": view.p99_recovery(start, window_end, window_s, tolerance, baseline_s),
            }
        )
    table = pd.DataFrame(rows, columns=FAULT_COLUMNS)
    # Keep None (not measured) apart from NaN (measured, never recovered) in these columns.
    for column in ("rpo_writes", "rpo_seconds", "p99_recovery_s"):
        table[column] = pd.Series([row[column] for row in rows], dtype=object)
    return table.astype(_DTYPES)


def fault_summary(ops: pd.DataFrame, events: pd.DataFrame, end_s: float, **options: float) -> list[FaultRow]:
    """:func:`fault_table` as JSON-ready rows (NaN becomes None, floats rounded to 4 dp), for summary.json."""
    table = fault_table(ops, events, end_s, **options)
    rows = table.to_dict("records")
    return [cast("FaultRow", {str(column): _json_value(value) for column, value in row.items()}) for row in rows]


def _json_value(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else round(float(value), 4)
    return value


def _empty_table() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=_DTYPES.get(column, object)) for column in FAULT_COLUMNS})


# -- faults from the event log


def _faults(events: pd.DataFrame, end_s: float) -> list[dict[str, Any]]:
    """Faults with their span and RPO, from the event log.

    The model records ``fault_started`` (fields ``action``, ``target``, ``fault_id``) and
    ``fault_ended`` (same ``fault_id``) for every fault, and ``rpo_writes`` /
    ``rpo_seconds`` (same ``fault_id``, the figure in ``value``) when one hits. The log can
    be long (conflicts, replication), so it is filtered vectorised first."""
    if events.empty or "kind" not in events:
        return []
    ev = events[events["kind"].isin(_FAULT_KINDS)]
    if ev.empty:
        return []
    ev = ev.sort_values("time_s", kind="stable")
    ended: dict[int, float] = {}
    rpo: dict[tuple[int, str], float] = {}
    starts = []
    columns = [_cells(ev[c]) for c in ("fault_id", "action", "target", "disk_lost", "silent")]
    for time_s, kind, value, fid, action, target, disk_lost, silent in zip(
        ev["time_s"].to_numpy(dtype=float), ev["kind"].astype(str), ev["value"], *columns, strict=True
    ):
        if fid is None:
            continue
        if kind == "fault_started":
            fault, where = _fault_and_target(str(action), target, disk_lost is True, silent is True)
            starts.append((float(time_s), fault, where, int(fid)))
        elif kind == "fault_ended":
            ended.setdefault(int(fid), float(time_s))
        elif value is not None and not math.isnan(value):
            rpo[(int(fid), kind)] = float(value)
    out = []
    for start, fault, target, fid in starts:
        end = max(min(ended.get(fid, float(end_s)), float(end_s)), start)
        writes = rpo.get((fid, "rpo_writes"))
        out.append(
            {
                "fault": fault,
                "target": target,
                "start_s": start,
                "end_s": end,
                "duration_s": end - start,
                "rpo_writes": None if writes is None else int(writes),
                "rpo_seconds": rpo.get((fid, "rpo_seconds")),
            }
        )
    return out


def _fault_and_target(action: str, target: str | None, disk_lost: bool, silent: bool) -> tuple[str, str]:
    """The table's fault and target: the action (a crash that took its disk is the fault
    ``crash (disk lost)``), and the target led by any other mark of how it happened
    (``(silent) A``, ``(disk lost) B`` for a random failure)."""
    marks = []
    if disk_lost:
        if action == "crash":
            action += " (disk lost)"
        else:
            marks.append("(disk lost)")
    if silent:
        marks.append("(silent)")
    return action, " ".join([*marks, target or ""]).strip()


def _cells(column: pd.Series) -> list[Any]:
    """A column's values, with None for an empty cell (NA, NaN)."""
    return column.astype(object).where(column.notna(), None).tolist()


# -- what the clients saw


class _OpsView:
    """The ops table as numpy arrays, prepared once so each fault costs a few vector passes."""

    def __init__(self, ops: pd.DataFrame, end_s: float, deadline_s: float):
        if ops.empty:
            self.start = self.end = self.latency = np.empty(0, dtype=float)
            self.client = np.empty(0, dtype=np.int64)
            self.error = self.retried = np.empty(0, dtype=bool)
        else:
            self.start = ops["start_s"].to_numpy(dtype=float)
            self.end = ops["end_s"].to_numpy(dtype=float)
            self.latency = ops["latency_ms"].to_numpy(dtype=float)
            self.client = pd.factorize(ops["client"])[0].astype(np.int64)
            self.error = ops["outcome"].isin(ERROR_OUTCOMES).to_numpy(dtype=bool)
            self.retried = ops["attempts"].to_numpy(dtype=np.int64) > 1
        self.slow = ~self.error & (self.latency > deadline_s * 1e3)
        # When the client saw each op go wrong: an error when it ended, a slow op at its deadline.
        self.seen = np.where(self.slow, self.start + deadline_s, self.end)
        # Successes by client, each client's sorted by end: the RTO search is a binary search.
        ok = ~self.error & ~self.slow & (self.end <= end_s)
        order = np.lexsort((self.end[ok], self.client[ok]))
        self._ok_client = self.client[ok][order]
        self._ok_end = self.end[ok][order]

    def errors_between(self, start: float, stop: float) -> int:
        """How many ops ended in an error in ``[start, stop)`` (simulated seconds)."""
        return int((self.error & (self.end >= start) & (self.end < stop)).sum())

    def rto(self, start: float, window_end: float) -> tuple[float, bool, int]:
        """(RTO in s, recovered, affected clients) for a fault at ``start`` with window ``[start, window_end)``."""
        in_flight = (self.start <= start) & (self.end > start)
        started_inside = (self.start >= start) & (self.start < window_end)
        disrupted = (in_flight | started_inside) & (self.error | self.retried | self.slow)
        if not disrupted.any():
            return 0.0, True, 0
        first_seen = pd.Series(self.seen[disrupted]).groupby(self.client[disrupted]).min()
        latest = start
        for client, seen in first_seen.items():
            lo, hi = np.searchsorted(self._ok_client, [client, client + 1])
            ends = self._ok_end[lo:hi]
            k = np.searchsorted(ends, seen, side="left")
            if k == ends.size:
                return math.nan, False, len(first_seen)
            latest = max(latest, float(ends[k]))
        return latest - start, True, len(first_seen)

    def p99_recovery(
        self, start: float, window_end: float, window_s: float, tolerance: float, baseline_s: float
    ) -> float | None:
        """Seconds from ``start`` until the p99 latency is back within ``tolerance`` × the baseline p99
        (see the module docstring): None without baseline ops, NaN if it is not back before ``window_end``."""
        ok = ~self.error
        base = ok & (self.start >= start - baseline_s) & (self.start < start) & (self.end <= start)
        if not base.any():
            return None
        limit = tolerance * float(np.percentile(self.latency[base], 99))
        after = ok & (self.start >= start) & (self.start < window_end)
        if not after.any():
            return math.nan
        bucket = np.floor((self.start[after] - start) / window_s).astype(np.int64)
        p99 = pd.Series(self.latency[after]).groupby(bucket).quantile(0.99)
        within = p99.index[p99.to_numpy() <= limit]
        return float(within.min() * window_s) if within.size else math.nan

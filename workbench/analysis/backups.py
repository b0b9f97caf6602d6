"""Backups, RPO from backups and restore time (pure functions over a run's tables).

Reads what ``workbench.model.tasks.backup`` recorded: the ``backup_started`` and
``backup_failed`` events, and the timeseries samples of entity
``backup.<task>.<node>`` written when a backup completes (``bytes``, ``full``,
``captured_s``, ``since_s``, ``missing_writes``), plus the ``ops`` table for the
writes acknowledged since.

*RPO from backups.* If the whole database is lost at time ``t`` (every copy: a bad
mass update, a deleted database [spec §8.17]), a restore brings back the newest
completed backup: its state at ``captured_s``. It misses the acknowledged write
operations its node's copy lacked at that moment (``missing_writes``) plus every write
acknowledged after it, up to ``t``; the backup's age is ``t - captured_s``. The worst
case between backups is just before a newer backup completes, and at the end of the run.

*Restore time* [spec §5.5, §9.14]: a restore is local to one node and reads the
backup's chain (the node's last full backup and its incrementals up to the one
restored), first copying it (``bytes / restore_rate``) and then importing it
(``bytes / restore_rate`` again): 250 GB at 400 MB/s takes about 21 min, the book's
"at least ~20 min". The database then spreads to the group by replication.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.analysis import database_tasks
from workbench.results import RunResult
from workbench.results.summary import BackupSummary, Empty, RestorePlan, RpoAt
from workbench.scenario.schema import BackupTask

DEFAULT_RESTORE_RATE = 400e6  # bytes/s, BackupTask.restore_rate's default
WRITE_KINDS = ("write", "transaction", "cluster_tx")
TABLE_COLUMNS = [
    "task",
    "node",
    "type",
    "status",
    "started_s",
    "done_s",
    "duration_s",
    "bytes",
    "since_s",
    "missing_writes",
]


def _completed(result: RunResult) -> pd.DataFrame:
    ts = result.timeseries
    rows = ts[ts["entity"].str.startswith("backup.")]
    if rows.empty:
        return pd.DataFrame(
            columns=["task", "node", "done_s", "bytes", "full", "captured_s", "since_s", "missing_writes"]
        )
    wide = rows.pivot_table(index=["entity", "time_s"], columns="metric", values="value", aggfunc="last").reset_index()
    names = wide["entity"].str.slice(len("backup.")).str.rsplit(".", n=1, expand=True)
    wide["task"], wide["node"] = names[0], names[1]
    return wide.rename(columns={"time_s": "done_s"}).drop(columns=["entity"])


def backup_table(result: RunResult) -> pd.DataFrame:
    """Every backup of the run, one row each, in start order: task, node, type (full or
    incremental), status (``done``, ``failed``: its node crashed while writing it, or
    ``running`` at the end of the run), started_s (the time of the state it holds),
    done_s, duration_s, bytes, since_s (the previous backup an incremental builds on),
    missing_writes (acknowledged write operations its node's copy lacked at the start)."""
    ev = result.events
    started = ev[ev["kind"] == "backup_started"]
    failed = ev[ev["kind"] == "backup_failed"]
    done = _completed(result)
    rows = []
    full_flags = started["full"].astype(object)  # True, False (or NA): Python values, not numpy's
    columns = (started["time_s"], started["node"], started["task"].astype(str), full_flags, started["value"])
    for time_s, node, task, full, size in zip(*columns, strict=True):
        kind = "full" if full is True else "incremental"
        row = {
            "task": task,
            "node": node,
            "type": kind,
            "status": "running",
            "started_s": time_s,
            "done_s": np.nan,
            "duration_s": np.nan,
            "bytes": size,
            "since_s": np.nan,
            "missing_writes": np.nan,
        }
        match = done[(done["task"] == task) & (done["node"] == node) & np.isclose(done["captured_s"], time_s)]
        if not match.empty:
            first = match.iloc[0]
            since = first["since_s"]
            row.update(
                status="done",
                done_s=first["done_s"],
                duration_s=first["done_s"] - time_s,
                bytes=first["bytes"],
                since_s=np.nan if since < 0 else since,
                missing_writes=first["missing_writes"],
            )
        else:
            after = failed[(failed["node"] == node) & (failed["time_s"] >= time_s)]
            after = after[(after["task"] == task).fillna(False).to_numpy(dtype=bool)]
            if not after.empty:
                row.update(status="failed", done_s=np.nan, duration_s=after["time_s"].iloc[0] - time_s)
        rows.append(row)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def restore_seconds(size: float, restore_rate: float = DEFAULT_RESTORE_RATE) -> tuple[float, float]:
    """(copy, import) seconds to restore ``size`` bytes [spec §5.5]."""
    return size / restore_rate, size / restore_rate


def _restore_rates(result: RunResult) -> dict[str, float]:
    """Restore rate per backup task, from the typed scenario."""
    return {task.name: task.restore_rate for task in database_tasks(result.spec) if isinstance(task, BackupTask)}


def _acked_times(result: RunResult) -> np.ndarray:
    ops = result.ops
    ok = ops[(ops["outcome"] == "ok") & ops["kind"].isin(WRITE_KINDS)]
    return np.sort(ok["end_s"].to_numpy(dtype=float))


def rpo_at(result: RunResult, t: float, table: pd.DataFrame | None = None) -> RpoAt:
    """What a restore from the newest backup completed before ``t`` would miss if the
    whole database were lost at ``t``: its node and state time, its age, and the
    acknowledged write operations missing (None values: no backup yet)."""
    table = backup_table(result) if table is None else table
    return _rpo(table[table["status"] == "done"], _acked_times(result), t)


def _newest(done: pd.DataFrame) -> pd.Series:
    """The backup a restore would use: the newest state; of two taken at once (a
    partition), the one missing fewer acknowledged writes."""
    return done.sort_values(["started_s", "missing_writes"], ascending=[True, False], kind="stable").iloc[-1]


def _rpo(done: pd.DataFrame, acked: np.ndarray, t: float) -> RpoAt:
    before = done[done["done_s"] < t]
    if before.empty:
        return {"at_s": t, "node": None, "backup_state_s": None, "age_s": None, "writes_missed": None}
    newest = _newest(before)
    captured = float(newest["started_s"])
    after = int(np.searchsorted(acked, t, side="right") - np.searchsorted(acked, captured, side="right"))
    return {
        "at_s": t,
        "node": newest["node"],
        "backup_state_s": captured,
        "age_s": t - captured,
        "writes_missed": int(newest["missing_writes"]) + after,
    }


def restore_plan(table: pd.DataFrame, row: pd.Series, restore_rate: float = DEFAULT_RESTORE_RATE) -> RestorePlan:
    """The chain a restore of backup ``row`` reads (its node's last full backup before it
    and the incrementals up to it) and how long the restore takes."""
    done = table[(table["status"] == "done") & (table["task"] == row["task"]) & (table["node"] == row["node"])]
    done = done[done["started_s"] <= row["started_s"]].sort_values("started_s")
    fulls = done[done["type"] == "full"]
    chain = done[done["started_s"] >= fulls["started_s"].iloc[-1]] if not fulls.empty else done
    size = float(chain["bytes"].sum())
    copy_s, import_s = restore_seconds(size, restore_rate)
    return {
        "node": row["node"],
        "backup_state_s": float(row["started_s"]),
        "files": len(chain),
        "bytes": size,
        "copy_s": copy_s,
        "import_s": import_s,
        "total_s": copy_s + import_s,
    }


def backup_summary(result: RunResult) -> BackupSummary | Empty:
    """Backups of the run: counts per node and type, failures, the worst RPO between
    backups (the largest age of the newest completed backup over the run, from the
    first completed one to the end, with the writes a restore would miss then), the
    RPO at the end of the run, and the restore time of the newest backup's chain.
    Empty if the run had no backup task."""
    table = backup_table(result)
    rates = _restore_rates(result)
    if table.empty and not rates:
        return Empty()
    done = table[table["status"] == "done"]
    by_node: dict[str, dict[str, int]] = {}
    for (node, kind), n in done.groupby(["node", "type"]).size().items():
        by_node.setdefault(str(node), {})[str(kind)] = int(n)
    summary: BackupSummary = {
        "completed": len(done),
        "full": int((done["type"] == "full").sum()),
        "incremental": int((done["type"] == "incremental").sum()),
        "failed": int((table["status"] == "failed").sum()),
        "skipped": int((result.events["kind"] == "backup_skipped").sum()),
        "by_node": by_node,
        "bytes_written": float(done["bytes"].sum()),
        "first_backup_done_s": float(done["done_s"].min()) if not done.empty else None,
        "worst_rpo_s": None,
        "worst_rpo_at_s": None,
        "worst_rpo_writes": None,
        "rpo_at_end": None,
        "restore": None,
    }
    if done.empty:
        return summary
    acked = _acked_times(result)
    end = result.spec.duration
    first_done = float(done["done_s"].min())
    moments = sorted({float(t) for t in done["done_s"] if t > first_done} | {end})
    worst = max((_rpo(done, acked, t) for t in moments), key=lambda r: r["age_s"] or 0.0)
    newest = _newest(done)
    summary["worst_rpo_s"] = worst["age_s"]
    summary["worst_rpo_at_s"] = worst["at_s"]
    summary["worst_rpo_writes"] = worst["writes_missed"]
    summary["rpo_at_end"] = _rpo(done, acked, end + 1e-9)
    summary["restore"] = restore_plan(table, newest, rates.get(str(newest["task"]), DEFAULT_RESTORE_RATE))
    return summary

"""A cluster of several databases, one database at a time: pure functions over a run's tables.

Every row of the ops, events and replication tables names its database (``database``), so each
figure of the summary can be taken per database. :func:`database_table` is the drill-down (one
row per database); :func:`databases_summary` is the summary's ``databases`` block, which a run
of one database does not have.

"At the end" is the last tenth of the measured window (after the warm-up): the operations that
started then tell whether a database was still being served when the run ended, so a database
whose every copy sits on the nodes a fault took down, and that stayed down, shows up as
``down_at_end`` (the book's question: which databases survive the loss of two nodes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.scenario.schema import Deployment

if TYPE_CHECKING:
    from workbench.results import RunResult
    from workbench.results.summary import DatabasesSummary

# The share of the measured window, at its end, that says whether a database is still served.
END_SHARE = 0.1
# Database names listed in the summary's ``down_at_end`` (the count covers all of them).
LISTED = 20

DATABASE_COLUMNS = (
    "database",
    "replication_factor",
    "members",
    "ops",
    "ok",
    "availability",
    "availability_at_end",
    "p50_ms",
    "p99_ms",
    "lost_writes",
    "conflicts",
)


def database_table(result: RunResult) -> pd.DataFrame:
    """One row per database of a single-cluster run, in the cluster's order: replication factor
    and initial members, operations measured (after the warm-up), successes, availability (as
    the summary counts it: stalled operations count against it), availability at the end (the
    last tenth of the window; NaN if no operation started then), p50 and p99 latency of the
    successful ones in ms, acknowledged writes lost and conflicts (each once)."""
    from workbench.analysis.summary import measured_ops, stalled, unique_conflicts  # here: summary imports this module

    spec = result.spec
    if isinstance(spec.blueprint, Deployment):
        msg = "database_table is for a run of one cluster; take a deployment's clusters one at a time"
        raise ValueError(msg)
    specs = spec.blueprint.all_databases()
    names = [db.name for db in specs]
    ops = measured_ops(result.ops, spec.warmup)
    stuck = stalled(ops)
    counted = (ops["outcome"] != "unfinished") | stuck
    ok = ops["outcome"] == "ok"
    end = float(result.provenance.get("sim_seconds", 0.0))
    tail_from = end - END_SHARE * max(end - spec.warmup, 0.0)
    tail = ops["start_s"] >= tail_from
    by = ops["database"].astype(str)
    n_counted = counted.groupby(by).sum()
    n_ok = (counted & ok).groupby(by).sum()
    n_tail = (counted & tail).groupby(by).sum()
    n_tail_ok = (counted & tail & ok).groupby(by).sum()
    n_ops = by.value_counts()
    latencies = ops.loc[ok, "latency_ms"].groupby(by[ok])
    p50 = latencies.quantile(0.5)
    p99 = latencies.quantile(0.99)
    events = result.events
    lost = events.loc[events["kind"] == "write_lost", "database"].astype(str).value_counts()
    conflicts = unique_conflicts(events)["database"].astype(str).value_counts() if len(events) else pd.Series()
    created = events[events["kind"] == "database_created"]
    members = dict(zip(created["database"].astype(str), created["members"].astype(str), strict=True))
    rows = []
    for db in specs:
        name = db.name
        counted_n = int(n_counted.get(name, 0))
        tail_n = int(n_tail.get(name, 0))
        rows.append(
            {
                "database": name,
                "replication_factor": db.replication_factor,
                "members": members.get(name, ""),
                "ops": int(n_ops.get(name, 0)),
                "ok": int(n_ok.get(name, 0)),
                "availability": n_ok.get(name, 0) / counted_n if counted_n else np.nan,
                "availability_at_end": n_tail_ok.get(name, 0) / tail_n if tail_n else np.nan,
                "p50_ms": float(p50.get(name, np.nan)),
                "p99_ms": float(p99.get(name, np.nan)),
                "lost_writes": int(lost.get(name, 0)),
                "conflicts": int(conflicts.get(name, 0)),
            }
        )
    table = pd.DataFrame(rows, columns=list(DATABASE_COLUMNS))
    table["database"] = pd.Categorical(table["database"], categories=names)
    return table


def databases_summary(result: RunResult) -> DatabasesSummary | None:
    """The summary's ``databases`` block: how many databases, by replication factor; the worst
    availability and whose; the databases no longer served at the end (none of the operations
    that started in the last tenth of the window succeeded). None for a run of one database or
    a deployment."""
    spec = result.spec
    if isinstance(spec.blueprint, Deployment) or len(spec.blueprint.all_databases()) < 2:
        return None
    table = database_table(result)
    factors = table["replication_factor"].value_counts().sort_index()
    rated = table.dropna(subset=["availability"])
    worst = rated.loc[rated["availability"].idxmin()] if len(rated) else None
    down = table.loc[table["availability_at_end"] == 0, "database"].astype(str).tolist()
    return {
        "count": len(table),
        "by_replication_factor": {str(rf): int(n) for rf, n in factors.items()},
        "availability_min": round(float(worst["availability"]), 6) if worst is not None else None,
        "least_available": str(worst["database"]) if worst is not None else None,
        "down_at_end_count": len(down),
        "down_at_end": down[:LISTED],
        "lost_writes_by_database": {str(r.database): int(r.lost_writes) for r in table.itertuples() if r.lost_writes},
    }


NODE_COLUMNS = ("node", "copies", "page_reads", "page_reads_per_s", "background_cpu_stretch", "cpu_utilisation")


def node_density_table(result: RunResult) -> pd.DataFrame:
    """One row per node of a single-cluster run: the database copies it was given at the start,
    the page-cache misses it read from the disk (in all, and per second of the measured window),
    the stretch its other active databases' background work put on its CPU (the last sample; 1:
    none), and its mean CPU utilisation after the warm-up (docs/databases.md, "What a database
    costs")."""
    spec = result.spec
    if isinstance(spec.blueprint, Deployment):
        msg = "node_density_table is for a run of one cluster; take a deployment's clusters one at a time"
        raise ValueError(msg)
    events = result.events
    created = events[events["kind"] == "database_created"]
    copies: dict[str, int] = {}
    for members in created["members"].astype(str):
        for tag in members.split(","):
            copies[tag] = copies.get(tag, 0) + 1
    ts = result.timeseries
    ts = ts[ts["time_s"] > spec.warmup]
    window = max(float(result.provenance.get("sim_seconds", 0.0)) - spec.warmup, 1e-9)

    def per_node(metric: str) -> pd.Series:
        """The samples of ``metric``, grouped by node tag."""
        rows = ts[ts["metric"] == metric]
        return rows.assign(node=rows["entity"].astype(str).str.removeprefix("node.")).groupby("node")["value"]

    reads = per_node("page_reads").sum()
    stretch = per_node("background_cpu_stretch").last()
    cpu = per_node("cpu_utilisation").mean()
    rows = []
    for node in spec.blueprint.nodes:
        tag = node.tag
        n_reads = float(reads.get(tag, 0.0))
        rows.append(
            {
                "node": tag,
                "copies": copies.get(tag, 0),
                "page_reads": int(n_reads),
                "page_reads_per_s": n_reads / window,
                "background_cpu_stretch": float(stretch.get(tag, 1.0)),
                "cpu_utilisation": float(cpu.get(tag, np.nan)),
            }
        )
    return pd.DataFrame(rows, columns=list(NODE_COLUMNS))

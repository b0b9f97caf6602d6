"""The four tables a run produces: every column, its dtype, unit and meaning, in one place.

:class:`~workbench.model.recording.recorder.Recorder` builds them at the end of a run and
``workbench.results.RunResult`` holds them (and round-trips them through parquet with the
same dtypes). ``tests/unit/test_tables.py`` checks the tables of real runs, of a run that
failed before it started, of a deployment and of results read back from disk against
:data:`TABLES`, so this description cannot drift from what the analyses receive.

``ops``          one row per client operation
``events``       one row per cluster event: the columns below, then one per field of the
                 event registry (:data:`workbench.model.recording.events.FIELDS`, each with its own
                 type, unit and dtype; docs/events.md)
``timeseries``   sampled state, long format: time, entity, metric, value
``replication``  one row per write applied on another member (replication lag)

A run of several clusters (``workbench.model.assembly.deployment``) has a ``category`` column
``cluster`` first in every table, and names nodes and clients with their cluster (``hq/A``).
Its name columns whose categories differ from cluster to cluster (``ops.client``, ``ops.node``,
``replication.destination``, ``timeseries.entity`` and ``metric``) come out of stacking the
clusters' tables as ``str``, not ``category``: ``merge_tables`` turns ``object`` columns back
into categories, and pandas 3 makes them ``str`` (same values; only the memory differs). Left
so: changing it would change the dtypes, and so the fingerprints, of every deployment's results.

Dtypes are pandas' names (``str(series.dtype)``): ``category`` columns hold names, ``str``
is pandas' string dtype (missing values are NaN), ``Int64`` and ``boolean`` are nullable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from workbench.model.recording.events import FIELDS

__all__ = [
    "CLUSTER_COLUMN",
    "EVENTS",
    "OPS",
    "REPLICATION",
    "TABLES",
    "TIMESERIES",
    "Column",
    "mismatches",
]


@dataclass(frozen=True)
class Column:
    """One column of a table."""

    name: str
    dtype: str
    unit: str  # "" when it has none
    meaning: str


# The ops table's codes: an operation's kind and outcome are stored as their index in these
# (the clients record the index; the table turns it into a category).
OP_KINDS = ("read", "write", "query", "cluster_tx", "compare_exchange", "transaction")
# ``unfinished``: still waiting when the run ended (its row ends then, with the node it waited on).
OUTCOMES = ("ok", "failed", "timeout", "all_nodes_down", "conflict", "unfinished")


OPS: tuple[Column, ...] = (
    Column("start_s", "float64", "s", "when the application issued the operation (simulated time)"),
    Column("end_s", "float64", "s", "when it ended: answered, failed, or the run's end if still waiting"),
    Column("latency_ms", "float64", "ms", "end_s - start_s, failovers and retries included"),
    Column("kind", "category", "", "read, write, query, cluster_tx, compare_exchange or transaction"),
    Column("key", "int64", "", "the document's key (the first key of a transaction)"),
    Column("client", "category", "", "the application server that issued it"),
    Column("session", "int64", "", "the session it belongs to (read-your-writes is per session)"),
    Column("node", "category", "", "the node that answered last (or was tried last)"),
    Column("attempts", "int8", "", "requests sent, failovers included (capped at 127)"),
    Column("outcome", "category", "", "ok, failed, timeout, all_nodes_down, conflict, or unfinished (still waiting)"),
    Column(
        "version",
        "int64",
        "",
        "the version it read or wrote (a write's id, a cluster operation's Raft index); -1: none",
    ),
    Column("stale", "bool", "", "a read older than the newest write already acknowledged when it started"),
    Column("ryw_violation", "bool", "", "a read that missed the session's own acknowledged write"),
    Column("database", "category", "", "the database it worked on"),
)
EVENTS: tuple[Column, ...] = (
    Column("time_s", "float64", "s", "when it happened (simulated time)"),
    Column("kind", "str", "", "the event kind (workbench.model.recording.events.KINDS; docs/events.md)"),
    Column("node", "str", "", "the node that saw or did it, if any"),
    Column("term", "Int64", "", "the Raft term, for the cluster's events"),
    Column(
        "database",
        "str",
        "",
        "the database it is about; on a cluster of several databases, missing for an event about none in particular",
    ),
    Column("detail", "str", "", "one line for people, rendered from the fields: never parse it"),
    Column("value", "float64", "", "the one number the kind declares (docs/events.md), else NaN"),
)
TIMESERIES: tuple[Column, ...] = (
    Column("time_s", "float64", "s", "when it was sampled (simulated time)"),
    Column("entity", "category", "", "what was sampled: node.A, link.A->B, replication.A->B, task.<name>, ..."),
    Column("metric", "category", "", "which figure (cpu_utilisation, lag_ms, etl_backlog, ...)"),
    Column("value", "float64", "", "the figure, in the unit its metric's name says"),
)
REPLICATION: tuple[Column, ...] = (
    Column("write_id", "int64", "", "the write (its id: a write's version in the ops table)"),
    Column("key", "int64", "", "the document's key"),
    Column("origin", "category", "", "the node that accepted the write"),
    Column("destination", "category", "", "the member it was applied on"),
    Column("committed_s", "float64", "s", "when the origin committed it"),
    Column("applied_s", "float64", "s", "when the destination stored it"),
    Column("lag_ms", "float64", "ms", "applied_s - committed_s"),
    Column("database", "category", "", "the database the write belongs to"),
)
# One column per field of the event registry follows EVENTS, in the registry's order.
EVENT_FIELDS: tuple[Column, ...] = tuple(Column(f.name, f.dtype, f.unit, f.meaning) for f in FIELDS.values())
TABLES: Mapping[str, tuple[Column, ...]] = {
    "ops": OPS,
    "events": EVENTS + EVENT_FIELDS,
    "timeseries": TIMESERIES,
    "replication": REPLICATION,
}
CLUSTER_COLUMN = Column("cluster", "category", "", "the cluster (a run of several clusters only)")


def mismatches(name: str, frame: pd.DataFrame) -> list[str]:
    """How ``frame`` differs from the table ``name`` of :data:`TABLES` (columns, their order
    and dtypes): empty when it conforms. A deployment's tables (a ``cluster`` column first) may
    have ``str`` where ``category`` is documented (see the module's description)."""
    expected = TABLES[name]
    deployment = len(frame.columns) > 0 and frame.columns[0] == CLUSTER_COLUMN.name
    if deployment:
        expected = (CLUSTER_COLUMN, *expected)
    names = [c.name for c in expected]
    if list(frame.columns) != names:
        missing = [c for c in names if c not in frame.columns]
        extra = [str(c) for c in frame.columns if c not in names]
        return [f"{name}: columns differ (missing {missing}, unexpected {extra}, or out of order)"]
    allowed = {c.name: {c.dtype, "str"} if deployment and c.dtype == "category" else {c.dtype} for c in expected}
    return [
        f"{name}.{c.name}: dtype {frame[c.name].dtype}, expected {c.dtype}"
        for c in expected
        if str(frame[c.name].dtype) not in allowed[c.name]
    ]

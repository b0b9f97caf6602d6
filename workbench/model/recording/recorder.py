"""Recording during a run: the model's side of the results.

The :class:`Recorder` fills typed columnar buffers (``array.array``) while the
model runs: no DataFrame on the hot path. An operation is one tuple, which the client
appends to a short list (``Client._record``, compiled with the model) and
``flush_ops`` moves into the op columns every :data:`OP_CHUNK` rows (one append per
operation rather than eleven ``array`` appends, each of which parses its argument).
An event is its kind and fields, checked against the registry (``workbench.model.recording.events``)
as it is recorded; its ``detail`` line is rendered from them when the tables are built.
At the end it builds the tables that ``workbench.results.RunResult`` holds (every column
with its dtype, unit and meaning: :mod:`workbench.model.recording.tables`):

``ops``          one row per client operation
``events``       one row per cluster event (crashes, partitions, conflicts, ...); the
                 columns of :data:`EVENTS_COLUMNS`, then one per field of the registry
``timeseries``   sampled state, long format: time, entity, metric, value
``replication``  one row per write applied on another member (replication lag)
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.model.recording.events import FIELDS, KINDS, EventError
from workbench.model.recording.tables import EVENTS, OP_KINDS, OPS, OUTCOMES, REPLICATION, TIMESERIES

if TYPE_CHECKING:
    from workbench.model.clients.client import Op
    from workbench.model.database.database import Doc

# The tables' columns, dtypes, units and meanings: workbench.model.recording.tables.
OPS_COLUMNS = [c.name for c in OPS]
EVENTS_COLUMNS = [c.name for c in EVENTS]
# Then one column per field of the event registry, in its order (workbench.model.recording.events.FIELDS).
EVENT_FIELD_COLUMNS = list(FIELDS)
TIMESERIES_COLUMNS = [c.name for c in TIMESERIES]
REPLICATION_COLUMNS = [c.name for c in REPLICATION]
# Recorded operations wait as one tuple each until this many, then move into the columns.
# Small on purpose: the rows waiting to move are about 250 bytes each (a tuple and its boxed
# numbers), and 4,096 of them (a megabyte, half the CPU's L2 cache) cost the hot path about 9 %
# in cache misses; at 128 they fit the L1 cache, and numpy's per-chunk overhead stays small.
OP_CHUNK = 128
# An op row as Client._record builds it, wide enough for any value (flush_ops narrows each column).
_OP_ROW = np.dtype(
    [
        ("start", "f8"),
        ("end", "f8"),
        ("kind", "i8"),
        ("key", "i8"),
        ("client", "i8"),
        ("session", "i8"),
        ("node", "i8"),
        ("attempts", "i8"),
        ("outcome", "i8"),
        ("version", "i8"),
        ("flags", "i8"),
        ("database", "i8"),
    ]
)


def _codes(buffer: array) -> np.ndarray:
    """A column buffer's integers as a compact numpy array: ``list(buffer)`` made one Python
    int per row, gigabytes for a run of tens of millions of operations. A copy, not a view: a
    Categorical may keep the array it is given, and a buffer with a view on it cannot grow."""
    return np.frombuffer(buffer, dtype=np.dtype(buffer.typecode)).copy()


class Recorder:
    """Append-only columnar buffers, filled by the model."""

    def __init__(
        self,
        node_tags: list[str],
        client_names: list[str],
        database: str,
        origin_tags: list[str] | None = None,
        databases: list[str] | None = None,
    ):
        self.node_tags = node_tags
        # A version's origin is its change-vector entry; in a deployment of several
        # clusters those span every cluster's nodes.
        self.origin_tags = origin_tags if origin_tags is not None else node_tags
        self.client_names = client_names
        self.database = database
        # Every database of the cluster, in order (an op's and a replicated write's code).
        self.databases = databases if databases is not None else [database]
        # An event about no one database: with one database it is still that database's.
        self.default_database: str | None = database if len(self.databases) == 1 else None
        # With one database every replicated write is its: the column is filled when the table is built.
        self._several = len(self.databases) > 1
        self._start = array("d")
        self._end = array("d")
        self._kind = array("b")
        self._key = array("q")
        self._client = array("i")
        self._session = array("q")
        self._node = array("i")
        self._attempts = array("b")
        self._outcome = array("b")
        self._version = array("q")
        self._stale = array("b")
        self._database = array("H")
        # In the order of an op row (Client._record appends them); flush_ops moves op_rows into them.
        self._op_columns = (
            self._start,
            self._end,
            self._kind,
            self._key,
            self._client,
            self._session,
            self._node,
            self._attempts,
            self._outcome,
            self._version,
            self._stale,
            self._database,
        )
        self.op_rows: list[tuple] = []
        # (time, kind, node, term, value, fields, database): the fields as recorded (immutable values).
        self._events: list[tuple[float, str, str | None, int | None, float | None, dict[str, Any], str | None]] = []
        # Called with (kind, node) after each event: fault triggers ("after: leader_elected + 5 s").
        self.listeners: list[Callable[[str, str | None], None]] = []
        self._r_write = array("q")
        self._r_key = array("q")
        self._r_origin = array("i")
        self._r_dest = array("i")
        self._r_committed = array("d")
        self._r_applied = array("d")
        self._r_database = array("H")
        self._ts_time = array("d")
        self._ts_entity = array("i")
        self._ts_metric = array("i")
        self._ts_value = array("d")
        self._entities: dict[str, int] = {}
        self._metrics: dict[str, int] = {}
        self.now = lambda: 0.0
        # Told of every operation once recorded (a closed-loop workload's users wait for theirs).
        self.op_listener: Callable[[Op], None] | None = None

    def flush_ops(self) -> None:
        """Move the buffered op rows into the column buffers."""
        rows = self.op_rows
        if not rows:
            return
        # One C-level conversion of the whole chunk, then each column's bytes: no Python
        # object per value (floats exactly, integers through int64, never through a float).
        table = np.array(rows, dtype=_OP_ROW)
        for name, column in zip(_OP_ROW.names, self._op_columns, strict=True):
            values = table[name]
            if name == "attempts":
                values = np.minimum(values, 127)  # an int8 column: capped
            column.frombytes(values.astype(column.typecode).tobytes())
        rows.clear()

    def replicated(self, doc: Doc, destination: int, applied: float, database: int = 0) -> None:
        """Version ``doc`` of database ``database`` (its index) was applied on node ``destination``
        at ``applied`` seconds: one row of the replication table."""
        if self._several:
            self._r_database.append(database)
        self._r_write.append(doc.write_id)
        self._r_key.append(doc.key)
        self._r_origin.append(doc.origin)
        self._r_dest.append(destination)
        self._r_committed.append(doc.committed)
        self._r_applied.append(applied)

    def event(
        self,
        kind: str,
        *,
        node: str | None = None,
        term: int | None = None,
        value: float | None = None,
        database: str | None = None,
        **fields: Any,
    ) -> None:
        """Record an event of ``kind`` (declared in ``workbench.model.recording.events``) with its fields.

        ``node`` is the node that saw or did it, ``term`` the Raft term (cluster events),
        ``value`` the one number the kind declares, ``database`` the database it is about (None:
        none in particular, or the only one). The fields are checked now (an unknown
        kind, a missing or unknown field, a value of the wrong type raise ``EventError``) and
        kept as given; ``detail`` is rendered from them when the table is built."""
        spec = KINDS.get(kind)
        if spec is None:
            raise EventError(f"unknown event kind {kind!r}: declare it in workbench/model/recording/events.py")
        spec.check(fields)
        self._events.append((self.now(), kind, node, term, value, fields, database or self.default_database))
        for listener in self.listeners:
            listener(kind, node)

    def sample(self, time: float, entity: str, metric: str, value: float) -> None:
        """One row of the timeseries table: ``metric`` of ``entity`` at ``time`` seconds."""
        e = self._entities.setdefault(entity, len(self._entities))
        m = self._metrics.setdefault(metric, len(self._metrics))
        self._ts_time.append(time)
        self._ts_entity.append(e)
        self._ts_metric.append(m)
        self._ts_value.append(value)

    @property
    def op_count(self) -> int:
        """Operations recorded so far (the pending chunk of ``op_rows`` included)."""
        self.flush_ops()  # so the column buffers hold every recorded operation
        return len(self._start)

    # -- tables
    def tables(self) -> dict[str, pd.DataFrame]:
        """The run's tables as DataFrames: ``ops`` (latency in ms, stale and read-your-writes
        flags), ``events``, ``timeseries`` (long format) and ``replication`` (lag in ms), keyed by
        name."""

        self.flush_ops()
        start = pd.Series(self._start, dtype="float64")
        end = pd.Series(self._end, dtype="float64")
        ops = pd.DataFrame(
            {
                "start_s": start,
                "end_s": end,
                "latency_ms": (end - start) * 1e3,
                "kind": pd.Categorical.from_codes(_codes(self._kind), categories=list(OP_KINDS)),
                "key": pd.Series(self._key, dtype="int64"),
                "client": pd.Categorical.from_codes(_codes(self._client), categories=self.client_names),
                "session": pd.Series(self._session, dtype="int64"),
                "node": pd.Categorical.from_codes(_codes(self._node), categories=self.node_tags),
                "attempts": pd.Series(self._attempts, dtype="int8"),
                "outcome": pd.Categorical.from_codes(_codes(self._outcome), categories=list(OUTCOMES)),
                "version": pd.Series(self._version, dtype="int64"),
                "stale": (pd.Series(self._stale, dtype="int8") & 1).astype(bool),
                "ryw_violation": (pd.Series(self._stale, dtype="int8") & 2).astype(bool),
                "database": pd.Categorical.from_codes(_codes(self._database), categories=self.databases),
            }
        )
        events = events_table(self._events, checked=True)  # event() checked each
        committed = pd.Series(self._r_committed, dtype="float64")
        applied = pd.Series(self._r_applied, dtype="float64")
        replication = pd.DataFrame(
            {
                "write_id": pd.Series(self._r_write, dtype="int64"),
                "key": pd.Series(self._r_key, dtype="int64"),
                "origin": pd.Categorical.from_codes(_codes(self._r_origin), categories=self.origin_tags),
                "destination": pd.Categorical.from_codes(_codes(self._r_dest), categories=self.node_tags),
                "committed_s": committed,
                "applied_s": applied,
                "lag_ms": (applied - committed) * 1e3,
                "database": pd.Categorical.from_codes(
                    _codes(self._r_database) if self._several else np.zeros(len(self._r_write), dtype=np.int8),
                    categories=self.databases,
                ),
            }
        )
        entities = list(self._entities)
        metrics = list(self._metrics)
        timeseries = pd.DataFrame(
            {
                "time_s": pd.Series(self._ts_time, dtype="float64"),
                "entity": pd.Categorical.from_codes(_codes(self._ts_entity), categories=entities),
                "metric": pd.Categorical.from_codes(_codes(self._ts_metric), categories=metrics),
                "value": pd.Series(self._ts_value, dtype="float64"),
            }
        )
        return {"ops": ops, "events": events, "timeseries": timeseries, "replication": replication}


EventRow = tuple[float, str, "str | None", "int | None", "float | None", Mapping[str, Any], "str | None"]


def events_table(
    rows: Iterable[EventRow | tuple], database: str | None = None, *, checked: bool = False
) -> pd.DataFrame:
    """The events table of ``rows`` (time, kind, node, term, value, fields[, database]: a row
    without its own database, or with None, is ``database``'s), each rendered
    and checked as :meth:`Recorder.event` does (``checked``: the rows were checked when
    recorded): :data:`EVENTS_COLUMNS`, then one nullable column per field of the registry (a
    list field's items joined by commas)."""
    base = []
    columns: dict[str, tuple[list[int], list[Any]]] = {name: ([], []) for name in FIELDS}
    for i, row in enumerate(rows):
        time_s, kind, node, term, value, fields = row[:6]
        about = row[6] if len(row) > 6 and row[6] is not None else database
        spec = KINDS.get(kind)
        if spec is None:
            raise EventError(f"unknown event kind {kind!r}: declare it in workbench/model/recording/events.py")
        if not checked:
            spec.check(fields)
        base.append((time_s, kind, node, term, about, spec.render(node, term, fields), value))
        for name, v in fields.items():
            if v is not None:
                at, values = columns[name]
                at.append(i)
                values.append(v)
    # The dtypes of workbench.model.recording.tables.EVENTS, also when there are no rows.
    events = pd.DataFrame(base, columns=EVENTS_COLUMNS).astype({c.name: c.dtype for c in EVENTS})
    n = len(base)
    extra: dict[str, Any] = {}
    for name, spec in FIELDS.items():
        at, values = columns[name]
        if spec.type.startswith("list"):
            values = [",".join(map(str, v)) for v in values]
        if spec.dtype == "float64":
            numbers = np.full(n, np.nan)
            numbers[at] = values
            extra[name] = numbers
        else:
            cells = np.full(n, None, dtype=object)
            cells[at] = values
            extra[name] = pd.array(cells, dtype=spec.dtype)
    return pd.concat([events, pd.DataFrame(extra, index=events.index)], axis=1)

"""Trace files: recorded traffic for the workload to replay (CSV or Parquet).

One row per operation; the columns (``docs/traces.md`` has the details)::

    t          seconds from the start of the trace (or use timestamp)
    timestamp  ISO-8601 or epoch seconds; time zero is the first row
    op         read, write, query, transaction, cluster_tx, compare_exchange
    key        document number, 0 <= key < workload.keys
    size       bytes (optional; else drawn from workload.document_size)
    client     client3 or a number (optional): which application server sends it
    session    any value (optional): rows with the same value share a RavenDB session
    region     a data centre or region name (optional): a client placed there sends it
    cluster    a cluster of the deployment (optional; deployments of several clusters only)
    database   the database it works on (a cluster of several databases: required there)

In a deployment of several clusters every cluster replays the rows that are routed to it
(:class:`TraceRoute`): by ``cluster``, else a client named ``east/client2`` (or numbered
across the deployment), else ``region``, else shared in proportion to the clients by a hash
of the session (or of the line). Each cluster reads the file itself and routes every row
the same way, so each row is replayed by exactly one cluster.

The file is read in chunks (``pyarrow.csv.open_csv`` / ``ParquetFile.iter_batches``),
so a trace of any length replays in bounded memory: only the chunk being replayed is
held. Every row is checked as it is read; a bad one is reported with the file, its line
(CSV: 1-based line of the file, the header is line 1; Parquet: 1-based row) and its
column, or counted and passed over with ``on_error: skip``. The header is checked
when the scenario is loaded (:func:`check_trace_file`), so a wrong file fails fast.

Checks and conversions are vectorised per chunk (pyarrow compute and numpy); a fast
path casts a whole column at once and only a column that fails falls back to finding
the bad rows.
"""

from __future__ import annotations

import csv
import math
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from workbench.errors import WorkbenchInputError, did_you_mean

# Op names in the model's op-kind order (workbench.model.recording.tables.OP_KINDS).
TRACE_OPS = ("read", "write", "query", "cluster_tx", "compare_exchange", "transaction")
COLUMNS = ("t", "timestamp", "op", "key", "size", "client", "session", "region", "cluster", "database")
CSV_BLOCK_BYTES = 1 << 20  # a CSV chunk: about 30-50 thousand rows
PARQUET_BATCH_ROWS = 65_536
HEADER_BYTES = 1 << 16  # enough for any sane header line

_INT = r"^[+-]?\d+$"
_FLOAT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4")


class TraceError(WorkbenchInputError):
    """A problem in a trace file, at a line (or Parquet row) and column when there is one."""

    def __init__(self, message: str, *, source: str, line: int | None = None, column: str | None = None):
        self.line = line
        self.column = column
        super().__init__(message, source=source)


def trace_format(path: str | Path) -> str:
    """``csv`` or ``parquet``, from the file name (``.csv``, ``.csv.gz``, ``.parquet``, ``.pq``)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if suffixes and suffixes[-1] in _COMPRESSED:
        suffixes = suffixes[:-1]
    fmt = _FORMATS.get(suffixes[-1]) if suffixes else None
    if fmt is None:
        msg = f"cannot tell the format of {Path(path).name}: name it .csv (optionally .csv.gz) or .parquet"
        raise TraceError(msg, source=str(path))
    return fmt


def read_header(path: str | Path) -> list[str]:
    """The column names, read without reading the rows."""
    source = str(path)
    fmt = trace_format(path)
    if not Path(path).is_file():
        msg = "no such trace file (a relative path is taken from the scenario file's folder)"
        raise TraceError(msg, source=source)
    try:
        if fmt == "parquet":
            return list(pq.read_schema(source).names)
        with pa.input_stream(source, compression="detect") as stream:
            head = stream.read(HEADER_BYTES)
    except (OSError, pa.ArrowException) as exc:
        msg = f"cannot read the trace: {exc}"
        raise TraceError(msg, source=source) from None
    first = head.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        msg = "line 1: the header is not UTF-8 text; is this a CSV file?"
        raise TraceError(msg, source=source, line=1) from None
    return next(csv.reader([text]), [])


def check_header(names: list[str], source: str, *, csv_file: bool = True) -> None:
    """Every column known and unique, a time column, op and key present."""
    where = "line 1" if csv_file else "schema"
    line = 1 if csv_file else None
    hint = "t (or timestamp), op, key, and optionally size, client, session, region, cluster, database"
    if not names or names == [""]:
        msg = f"{where}: no header; the first line must name the columns: {hint}"
        raise TraceError(msg, source=source, line=line)
    for i, name in enumerate(names):
        if name not in COLUMNS:
            msg = (
                f"{where}, column {i + 1} {name!r}: unknown column{did_you_mean(name, COLUMNS)}; "
                f"allowed: {', '.join(COLUMNS)}"
            )
            raise TraceError(msg, source=source, line=line, column=name)
        if names.index(name) != i:
            msg = f"{where}, column {i + 1} {name!r}: column {name!r} appears twice"
            raise TraceError(msg, source=source, line=line, column=name)
    if "t" in names and "timestamp" in names:
        msg = f"{where}: give either t (seconds from the start) or timestamp, not both"
        raise TraceError(msg, source=source, line=line)
    if "t" not in names and "timestamp" not in names:
        msg = (
            f"{where}: no time column; add t (seconds from the start) or timestamp (ISO-8601 or epoch seconds); "
            f"columns: {hint}"
        )
        raise TraceError(msg, source=source, line=line)
    for required in ("op", "key"):
        if required not in names:
            msg = f"{where}: no {required!r} column; columns: {hint}"
            raise TraceError(msg, source=source, line=line, column=required)


def check_trace_file(path: str | Path, *, deployment: bool = False) -> list[str]:
    """Load-time check: the file exists, its format is known, its header is right, it has rows,
    and (Parquet) its text columns hold text or numbers, not lists or records. A ``cluster``
    column is only for a ``deployment`` of several clusters, and a ``database`` column only for a
    single cluster."""
    names = read_header(path)
    source = str(path)
    fmt = trace_format(path)
    check_header(names, source, csv_file=fmt == "csv")
    if "cluster" in names and not deployment:
        where = "line 1" if fmt == "csv" else "schema"
        msg = (
            f"{where}, column {names.index('cluster') + 1} 'cluster': the cluster column routes rows among the "
            "clusters of a deployment (a blueprint with clusters:), and this scenario has one cluster; remove "
            "the column (region and client work on both)"
        )
        raise TraceError(msg, source=source, line=1 if fmt == "csv" else None, column="cluster")
    if "database" in names and deployment:
        where = "line 1" if fmt == "csv" else "schema"
        msg = (
            f"{where}, column {names.index('database') + 1} 'database': naming databases is for a cluster of "
            "several databases; a deployment's links join each cluster's first database, so remove the column"
        )
        raise TraceError(msg, source=source, line=1 if fmt == "csv" else None, column="database")
    if fmt == "parquet":
        try:
            meta = pq.read_metadata(source)
            schema = pq.read_schema(source)
        except (OSError, pa.ArrowException) as exc:
            msg = f"cannot read the trace: {exc}"
            raise TraceError(msg, source=source) from None
        if meta.num_rows == 0:
            msg = "the trace has no rows; nothing would be replayed"
            raise TraceError(msg, source=source)
        for field in schema:
            if pa.types.is_nested(field.type):
                msg = f"schema, column {field.name!r}: holds {field.type}, not text or numbers; write one value per row"
                raise TraceError(msg, source=source, column=field.name)
    else:
        try:
            with pa.input_stream(source, compression="detect") as stream:
                head = stream.read(HEADER_BYTES)
        except (OSError, pa.ArrowException) as exc:
            msg = f"cannot read the trace: {exc}"
            raise TraceError(msg, source=source) from None
        rows = [line for line in head.split(b"\n")[1:] if line.strip()]
        if not rows:
            msg = "the trace has no rows after its header; nothing would be replayed"
            raise TraceError(msg, source=source, line=2)
    return names


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class TraceRoute:
    """How a deployment of several clusters shares a trace's rows, and which cluster this reader
    replays for (``docs/traces.md``, "Deployments of several clusters"). Every cluster's reader
    routes every row the same way (from the row, its line and the seed, never from a cluster's
    random streams), so each row is replayed by exactly one cluster. Built by
    ``workbench.scenario.deployment.split``.

    ``clusters``: the deployment's clusters, in order; ``clients``: the application servers of
    each that issue operations (0: it gets no rows); ``regions``: each data-centre and region
    name with the number of clients each cluster has there; ``me``: the index of this reader's
    cluster; ``seed``: the run's seed, mixed into the hashes that share rows out.
    """

    clusters: tuple[str, ...]
    clients: tuple[int, ...]
    regions: tuple[tuple[str, tuple[int, ...]], ...]
    me: int
    seed: int

    @property
    def reports(self) -> bool:
        """This cluster counts the skipped rows (the first with clients), so the deployment counts them once."""
        return self.me == next(i for i, n in enumerate(self.clients) if n > 0)


@dataclass
class TraceChunk:
    """The good rows of one chunk, in file order (in a deployment, those routed to this reader's cluster)."""

    time: np.ndarray  # float64, trace seconds after time zero
    kind: np.ndarray  # int64 op kind (TRACE_OPS order)
    key: np.ndarray  # int64
    size: np.ndarray | None  # float64 bytes, NaN where not given; None: no size column
    client: np.ndarray | None  # int64 client index, -1 where not given
    region: np.ndarray | None  # int64 index into region_groups, -1 where not given
    session: list[str | None] | None  # session value, None where not given
    session_hash: np.ndarray | None  # int64 stable hash of the session value
    every: np.ndarray  # float64 times of the good rows of every cluster (``time`` itself on a single cluster)
    database: np.ndarray | None = None  # int64 index of the cluster's databases; None: no database column


@dataclass
class _Check:
    column: str
    bad: np.ndarray
    describe: Callable[[int], str]


class TraceReader:
    """Streams a trace file as :class:`TraceChunk` s of checked rows.

    ``clients``: how many clients the scenario has (client names are client1..clientN).
    ``region_clients``: data-centre and region names -> the clients placed there.
    ``route``: in a deployment of several clusters, how rows are shared among the clusters;
    only this cluster's rows are returned, with their client and region as this cluster
    numbers them (every row is still checked, so errors are the same in every cluster).
    Each call of :meth:`chunks` is one pass over the file (the replay loops by calling
    it again). ``skipped`` counts bad rows passed over (``on_error: skip``; in a deployment,
    only the cluster that :attr:`TraceRoute.reports` counts them).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        keys: int,
        clients: int,
        region_clients: dict[str, tuple[int, ...]],
        on_error: str = "fail",
        block_bytes: int | None = None,
        batch_rows: int | None = None,
        route: TraceRoute | None = None,
        databases: dict[str, tuple[int, int]] | None = None,
    ):
        self.path = str(path)
        self.format = trace_format(path)
        self.names = check_trace_file(path, deployment=route is not None)
        self.route = route
        if route is not None and route.clients[route.me] != clients:
            msg = (
                f"the route gives cluster {route.clusters[route.me]!r} {route.clients[route.me]} clients, not {clients}"
            )
            raise ValueError(msg)
        self.keys = keys
        self.n_clients = clients
        self.region_names = list(region_clients)
        self.region_groups = [region_clients[name] for name in self.region_names]
        self.on_error = on_error
        self.block_bytes = block_bytes or CSV_BLOCK_BYTES
        self.batch_rows = batch_rows or PARQUET_BATCH_ROWS
        self.skipped = 0
        self.passes = 0  # calls of chunks() so far
        self.examples: list[str] = []  # the first few skipped rows, for the event
        self.time_column = "t" if "t" in self.names else "timestamp"
        # A cluster of several databases: each one's name -> (its index, its number of documents).
        self.databases = databases

    # -- errors
    def _message(self, line: int, column: str | None, problem: str) -> str:
        unit = "line" if self.format == "csv" else "row"
        return f"{unit} {line}" + (f", column {column!r}" if column else "") + f": {problem}"

    # -- one pass over the file
    def chunks(self) -> Iterator[TraceChunk]:
        """One pass over the file: its rows checked and converted, chunk by chunk (a looping replay calls it again)."""
        self.passes += 1
        state = _PassState()
        batches = self._csv_batches() if self.format == "csv" else self._parquet_batches()
        for batch, lines, invalid in batches:
            chunk = self._check(batch, lines, invalid, state)
            if chunk is not None and len(chunk.every):  # in a deployment, possibly none of this cluster's
                yield chunk

    def _csv_batches(self) -> Iterator[tuple[pa.RecordBatch, np.ndarray, list[tuple[int, str]]]]:
        # Rows with the wrong number of values are reported by the parser with their physical
        # line number and left out of the batch; the line numbers of the rows that remain
        # are the lines not taken by them (blank lines stay in as empty rows: see _check).
        invalid: list[tuple[int, str]] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            """pyarrow's handler for a row with the wrong number of values: note its line and skip it."""
            line = row.number if row.number is not None else -1
            problem = f"{row.actual_columns} values, but the header has {row.expected_columns} columns"
            invalid.append((line, problem))
            return "skip"

        try:
            reader = pacsv.open_csv(
                self.path,
                read_options=pacsv.ReadOptions(use_threads=False, block_size=self.block_bytes),
                parse_options=pacsv.ParseOptions(ignore_empty_lines=False, invalid_row_handler=on_invalid),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(self.names, pa.string()), strings_can_be_null=False
                ),
            )
        except (OSError, pa.ArrowException) as exc:
            msg = f"cannot read the trace: {exc}"
            raise TraceError(msg, source=self.path) from None
        next_line = 2
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (OSError, pa.ArrowException) as exc:
                msg = f"after line {next_line - 1}: cannot parse the CSV: {exc}"
                raise TraceError(msg, source=self.path, line=next_line) from None
            invalid.sort()
            pending = np.array([line for line, _ in invalid if line >= next_line], dtype=np.int64)
            # The g-th row of the batch is the g-th line from next_line that is not an invalid row.
            before = pending - next_line - np.arange(len(pending))
            g = np.arange(batch.num_rows, dtype=np.int64)
            lines = next_line + g + np.searchsorted(before, g, side="right")
            last = int(lines[-1]) if len(lines) else next_line - 1
            due = [item for item in invalid if item[0] <= last]
            invalid[:] = [item for item in invalid if item[0] > last]
            next_line = last + 1
            yield batch, lines, due
        if invalid:
            yield (
                pa.RecordBatch.from_pydict(dict.fromkeys(self.names, pa.array([], pa.string()))),
                np.array([]),
                invalid,
            )

    def _parquet_batches(self) -> Iterator[tuple[pa.RecordBatch, np.ndarray, list]]:
        try:
            source = pq.ParquetFile(self.path)
            batches = source.iter_batches(batch_size=self.batch_rows)
        except (OSError, pa.ArrowException) as exc:
            msg = f"cannot read the trace: {exc}"
            raise TraceError(msg, source=self.path) from None
        row = 1
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except (OSError, pa.ArrowException) as exc:
                msg = f"after row {row - 1}: cannot read the Parquet file: {exc}"
                raise TraceError(msg, source=self.path, line=row) from None
            lines = np.arange(row, row + batch.num_rows, dtype=np.int64)
            row += batch.num_rows
            yield batch, lines, []

    # -- checking one batch
    def _check(
        self, batch: pa.RecordBatch, lines: np.ndarray, invalid: list[tuple[int, str]], state: _PassState
    ) -> TraceChunk | None:
        n = batch.num_rows
        cols = {name: batch.column(name) for name in self.names}
        if self.format == "csv" and n:
            cols = {name: pc.utf8_trim_whitespace(col) for name, col in cols.items()}
            # A blank line is a row of empty values; it is not an error, and not a row.
            blank = np.ones(n, dtype=bool)
            for col in cols.values():
                blank &= _empty(col)
            if blank.any():
                keep = pa.array(~blank)
                cols = {name: pc.filter(col, keep) for name, col in cols.items()}
                lines = lines[~blank]
                n = len(lines)
        checks: list[_Check] = []
        out: dict[str, object] = {}
        time_raw = None
        for name in self.names:
            col = cols[name]
            if name == "t":
                values, bad, why = _floats(col, name, required=True)
                negative = ~bad & (values < 0)
                checks.append(_Check(name, bad, why))
                checks.append(_Check(name, negative, lambda i, v=values: f"negative time {v[i]:g} s"))
                time_raw = values
            elif name == "timestamp":
                values, bad, why = _timestamps(col)
                checks.append(_Check(name, bad, why))
                time_raw = values
            elif name == "op":
                kinds, bad, why = _ops(col)
                checks.append(_Check(name, bad, why))
                out["kind"] = kinds
            elif name == "key":
                keys, bad, why = _ints(col, name)
                checks.append(_Check(name, bad, why))
                outside = ~bad & ((keys < 0) | (keys >= self.keys))
                checks.append(
                    _Check(
                        name,
                        outside,
                        lambda i, k=keys: f"key {k[i]} is outside the key space [0, {self.keys}) (workload.keys)",
                    )
                )
                out["key"] = keys
            elif name == "size":
                sizes, bad, why = _floats(col, name, required=False)
                negative = ~bad & (sizes < 0)
                checks.append(_Check(name, bad, why))
                checks.append(_Check(name, negative, lambda i, v=sizes: f"negative size {v[i]:g}"))
                out["size"] = sizes
            elif name in ("client", "region", "cluster") and self.route is not None:
                continue  # routed below, once the session column is read
            elif name == "client":
                clients, bad, why = self._clients(col)
                checks.append(_Check(name, bad, why))
                out["client"] = clients
            elif name == "region":
                regions, bad, why = self._regions(col)
                checks.append(_Check(name, bad, why))
                out["region"] = regions
            elif name == "session":
                out["session"], out["session_hash"] = _sessions(col)
            elif name == "database":
                dbs, bad, why = self._databases(col)
                checks.append(_Check(name, bad, why))
                out["database"] = dbs
        if "database" in out and "key" in out and self.databases:
            # A row's key must be one of its database's documents.
            limits = np.array([keys for _, keys in self.databases.values()], dtype=np.int64)
            dbs, keys = out["database"], out["key"]
            named = dbs >= 0
            outside = np.zeros(n, dtype=bool)
            outside[named] = keys[named] >= limits[dbs[named]]
            names = list(self.databases)
            checks.append(
                _Check(
                    "key",
                    outside,
                    lambda i, k=keys, d=dbs: (
                        f"key {k[i]} is outside database {names[d[i]]!r}'s key space [0, {limits[d[i]]}) "
                        "(its keys, else workload.keys)"
                    ),
                )
            )
        mine = None
        if self.route is not None:
            mine = self._route_rows(cols, lines, out, checks)
        assert time_raw is not None
        # Time: relative to time zero, and never backwards (compared with the last good row).
        other_bad = np.zeros(n, dtype=bool)
        for check in checks:
            other_bad |= check.bad
        time_ok = ~other_bad
        if self.time_column == "timestamp":
            if state.zero is None and time_ok.any():
                state.zero = int(time_raw[np.argmax(time_ok)])
            zero = state.zero if state.zero is not None else 0
            times = (time_raw - zero) / 1e9
        else:
            times = time_raw
        candidates = np.where(time_ok, times, -np.inf)
        prior = np.maximum.accumulate(np.concatenate(([state.last], candidates)))[:-1]
        backwards = time_ok & (times < prior)
        col_raw = cols[self.time_column]
        checks.append(
            _Check(
                self.time_column,
                backwards,
                lambda i: f"time goes backwards: {_show(col_raw, i)} is before an earlier row's time",
            )
        )
        bad = other_bad | backwards
        order = {name: i for i, name in enumerate(self.names)}
        checks.sort(key=lambda c: order[c.column])  # report a row's first bad column, left to right
        self._report(checks, bad, lines, invalid)
        good = ~bad
        if good.any():
            state.last = max(state.last, float(times[good].max()))
        session = out.get("session")
        keep = good if mine is None else good & mine
        time = times[keep]
        return TraceChunk(
            time=time,
            kind=out["kind"][keep],
            key=out["key"][keep],
            size=out["size"][keep] if "size" in out else None,
            client=out["client"][keep] if "client" in out else None,
            region=out["region"][keep] if "region" in out else None,
            session=[s for s, ok in zip(session, keep.tolist(), strict=True) if ok] if session is not None else None,
            session_hash=out["session_hash"][keep] if "session_hash" in out else None,
            every=time if mine is None else times[good],
            database=out["database"][keep] if "database" in out else None,
        )

    def _report(self, checks: list[_Check], bad: np.ndarray, lines: np.ndarray, invalid: list[tuple[int, str]]) -> None:
        """Fail on the chunk's first bad row (in file order), or count them all."""
        rows = np.flatnonzero(bad)
        if not len(rows) and not invalid:
            return
        wanted = 1 if self.on_error == "fail" else max(0, 3 - len(self.examples))
        found: list[tuple[int, str | None, str]] = [(line, None, problem) for line, problem in invalid[:wanted]]
        for i in rows[:wanted].tolist():
            check = next(c for c in checks if c.bad[i])  # the row's first bad column, left to right
            found.append((int(lines[i]), check.column, check.describe(i)))
        found.sort(key=lambda item: item[0])
        if self.on_error == "fail":
            line, column, problem = found[0]
            message = self._message(line, column, problem) + " (or set workload.arrivals.on_error: skip)"
            raise TraceError(message, source=self.path, line=line, column=column)
        # A looping replay reads the same bad rows again: count them once; in a deployment every
        # cluster reads them: one counts them.
        if self.passes == 1 and (self.route is None or self.route.reports):
            self.skipped += len(rows) + len(invalid)
            self.examples.extend(self._message(*item) for item in found[:wanted])

    # -- columns that need the scenario
    def _clients(self, col: pa.Array) -> tuple[np.ndarray, np.ndarray, Callable[[int], str]]:
        n_clients = self.n_clients

        def to_index(value: object) -> int:
            """A row's ``client`` as a client index: -1 when empty (not given), -2 when it names no client."""
            if value is None or value == "":
                return -1
            if isinstance(value, int) or (isinstance(value, str) and value.lstrip("+").isdigit()):
                # A number is any application-server id: it is spread over the clients.
                return int(value) % n_clients
            if isinstance(value, str) and value.startswith("client") and value[6:].isdigit():
                number = int(value[6:])
                return number - 1 if 1 <= number <= n_clients else -2
            return -2

        values, bad = _by_value(col, to_index)
        return (
            values,
            bad,
            lambda i: (
                f"{_show(col, i)} is not a client: write client1..client{n_clients} or a number "
                f"(taken modulo {n_clients})"
            ),
        )

    def _databases(self, col: pa.Array) -> tuple[np.ndarray, np.ndarray, Callable[[int], str]]:
        known = self.databases or {}
        names = list(known)

        def to_index(value: object) -> int:
            """A row's ``database`` as the database's index: -2 when empty or unknown."""
            if value is None or value == "":
                return -2
            entry = known.get(str(value))
            return entry[0] if entry is not None else -2

        def why(i: int) -> str:
            """Why row ``i``'s database is bad, for the error message."""
            value = col[i].as_py()
            if value is None or value == "":
                return f"a cluster of several databases needs each row's database; known: {', '.join(names)}"
            return f"no database {value!r}{did_you_mean(str(value), names)}; known: {', '.join(names[:20])}"

        values, bad = _by_value(col, to_index)
        return values, bad, why

    def _regions(self, col: pa.Array) -> tuple[np.ndarray, np.ndarray, Callable[[int], str]]:
        index = {name: i for i, name in enumerate(self.region_names)}

        def to_group(value: object) -> int:
            """A row's ``region`` as an index of the region groups: -1 when empty, -2 when unknown
            or no client is placed there."""
            if value is None or value == "":
                return -1
            group = index.get(str(value))
            if group is None or not self.region_groups[group]:
                return -2
            return group

        def why(i: int) -> str:
            """Why row ``i``'s region is bad, for the error message."""
            value = col[i].as_py()
            if str(value) in index:
                return f"no client is placed in {value!r} (clients.placement)"
            known = ", ".join(self.region_names)
            return f"no data centre or region {value!r}{did_you_mean(str(value), self.region_names)}; known: {known}"

        values, bad = _by_value(col, to_group)
        return values, bad, why

    # -- a deployment of several clusters: which cluster replays each row
    def _route_rows(self, cols: dict[str, pa.Array], lines: np.ndarray, out: dict, checks: list[_Check]) -> np.ndarray:
        """Route every row to one cluster (:class:`TraceRoute`): by its ``cluster``, else by a
        client it names, else by its ``region``, else in proportion to the clusters' clients by
        a hash of its session (or line) with the seed. Notes the checks of those columns, sets
        ``out["client"]`` and ``out["region"]`` as this cluster numbers its clients and regions
        (-1: not given), and returns the rows that are this cluster's."""
        route = self.route
        assert route is not None
        n = len(lines)
        names = route.clusters
        counts = np.array(route.clients, dtype=np.int64)
        total = int(counts.sum())
        ends = np.cumsum(counts)  # the deployment's client numbers of cluster c: ends[c] - counts[c] .. ends[c] - 1
        cluster = np.full(n, -1, dtype=np.int64)
        if "cluster" in cols:
            cluster, bad, why = self._clusters(cols["cluster"])
            checks.append(_Check("cluster", bad, why))
        given = cluster >= 0
        cluster = cluster.copy()
        local = np.full(n, -1, dtype=np.int64)
        if "client" in cols:
            client_col = cols["client"]
            form, which, number, bad, why = self._deployment_clients(client_col)
            checks.append(_Check("client", bad, why))
            c_safe = np.where(given, cluster, 0)
            other = given & (form == _QUALIFIED) & (which != cluster)
            checks.append(
                _Check(
                    "client",
                    other,
                    lambda i, c=c_safe: (
                        f"{_show(client_col, i)} is not a client of cluster {names[c[i]]!r} (the row's cluster)"
                    ),
                )
            )
            beyond_own = given & (form == _BARE) & (number >= counts[c_safe])
            checks.append(
                _Check(
                    "client",
                    beyond_own,
                    lambda i, c=c_safe: (
                        f"{_show(client_col, i)} is not a client of cluster {names[c[i]]!r}: with a cluster, "
                        f"client numbers are that cluster's, client1..client{counts[c[i]]}"
                    ),
                )
            )
            beyond_all = ~given & (form == _BARE) & (number >= total)
            checks.append(
                _Check(
                    "client",
                    beyond_all,
                    lambda i: (
                        f"{_show(client_col, i)} is not a client: the deployment has client1..client{total}, "
                        f"numbered across its clusters in order ({_numbering(names, counts)}), or write cluster/clientN"
                    ),
                )
            )
            # With a cluster, the client is that cluster's (a number is taken modulo its clients).
            own = given & ((form == _QUALIFIED) | (form == _BARE)) & ~other & ~beyond_own
            local[own] = number[own]
            numbered = given & (form == _NUMBER)
            local[numbered] = number[numbered] % counts[cluster[numbered]]
            # Without one, a qualified client says its cluster, and a bare one or a number is
            # one of the deployment's clients numbered across the clusters in order.
            qualified = ~given & (form == _QUALIFIED)
            cluster[qualified] = which[qualified]
            local[qualified] = number[qualified]
            across = ~given & (((form == _BARE) & ~beyond_all) | (form == _NUMBER))
            if across.any():
                g = np.where(form[across] == _BARE, number[across], number[across] % total)
                c = np.searchsorted(ends, g, side="right")
                cluster[across] = c
                local[across] = g - (ends[c] - counts[c])
            out["client"] = local
        region = np.full(n, -1, dtype=np.int64)
        region_names = [name for name, _ in route.regions]
        there = np.array([per for _, per in route.regions], dtype=np.int64).reshape(len(region_names), len(names))
        if "region" in cols:
            region_col = cols["region"]
            region, bad, why = self._deployment_regions(region_col, region_names, there)
            checks.append(_Check("region", bad, why))
            # A row's cluster and region: the region picks one of that cluster's clients.
            conflict = np.zeros(n, dtype=bool)
            rows = np.flatnonzero(given & (local < 0) & (region >= 0))
            conflict[rows] = there[region[rows], cluster[rows]] == 0

            def elsewhere(i: int) -> str:
                """The row's cluster has no client in its region, for the error message."""
                serving = [names[c] for c in np.flatnonzero(there[region[i]])]
                return (
                    f"cluster {names[cluster[i]]!r} (the row's cluster) has no client in {_show(region_col, i)}; "
                    f"clusters with clients there: {', '.join(serving)}"
                )

            checks.append(_Check("region", conflict, elsewhere))
        # The rest: by region, else in proportion to the clients; by a ticket that is the
        # session's hash (a session stays in one cluster), else the line's, mixed with the seed.
        rest = cluster < 0
        if rest.any():
            ticket = _mix(lines[rest], route.seed, 1)
            hashes = out.get("session_hash")
            if hashes is not None:
                h = hashes[rest]
                ticket = np.where(h >= 0, _mix(h, route.seed, 2), ticket)
            chosen = np.searchsorted(ends, (ticket % np.uint64(total)).astype(np.int64), side="right")
            by_region = region[rest] >= 0
            if by_region.any():
                weights = there[region[rest][by_region]]
                pick = (ticket[by_region] % weights.sum(axis=1).astype(np.uint64)).astype(np.int64)
                chosen[by_region] = np.argmax(np.cumsum(weights, axis=1) > pick[:, None], axis=1)
            cluster[rest] = chosen
        mine = cluster == route.me
        if "region" in cols:
            own_group = {name: i for i, name in enumerate(self.region_names) if self.region_groups[i]}
            table = np.array([own_group.get(name, -1) for name in region_names] + [-1], dtype=np.int64)
            out["region"] = table[region]  # -1 (not given) picks the table's last entry, -1
        return mine

    def _clusters(self, col: pa.Array) -> tuple[np.ndarray, np.ndarray, Callable[[int], str]]:
        route = self.route
        assert route is not None
        names = list(route.clusters)
        index = {name: i for i, name in enumerate(names) if route.clients[i] > 0}

        def why(i: int) -> str:
            """Why row ``i``'s cluster is bad, for the error message."""
            value = str(col[i].as_py())
            if value in names:
                return f"cluster {value!r} has no application servers to send it (clients.placement)"
            return f"no cluster {value!r}{did_you_mean(value, names)}; clusters: {', '.join(names)}"

        values, bad = _by_value(col, lambda v: -1 if v is None or v == "" else index.get(str(v), -2))
        return values, bad, why

    def _deployment_clients(
        self, col: pa.Array
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, Callable[[int], str]]:
        """A deployment's ``client`` column: per row its form (:data:`_QUALIFIED` ``east/client2``,
        :data:`_BARE` ``client5``, :data:`_NUMBER` ``17``; -1 not given), the cluster a qualified
        one names, and its number (the client's, from 0; a number modulo every client count)."""
        route = self.route
        assert route is not None
        names = list(route.clusters)
        counts = route.clients
        modulus = math.lcm(*[c for c in counts if c > 0])
        modulus = math.lcm(modulus, sum(counts)) if modulus * sum(counts) < 2**62 else sum(counts)

        def parse(value: object) -> tuple[int, int, int]:
            """(form, cluster, number) of one value; form -2: not a client."""
            if value is None or value == "":
                return -1, -1, -1
            if isinstance(value, int) or (isinstance(value, str) and value.lstrip("+").isdigit()):
                return _NUMBER, -1, int(value) % modulus
            text = str(value)
            head, slash, tail = text.rpartition("/")
            if tail.startswith("client") and tail[6:].isdigit() and int(tail[6:]) >= 1:
                number = min(int(tail[6:]) - 1, 2**62)
                if not slash:
                    return _BARE, -1, number
                if head in names and number < counts[names.index(head)]:
                    return _QUALIFIED, names.index(head), number
            return -2, -1, -1

        def why(i: int) -> str:
            """Why row ``i``'s client is bad, for the error message."""
            value = str(col[i].as_py())
            head, slash, tail = value.rpartition("/")
            if slash and tail.startswith("client") and tail[6:].isdigit():
                if head not in names:
                    return f"{value!r}: no cluster {head!r}{did_you_mean(head, names)}; clusters: {', '.join(names)}"
                count = counts[names.index(head)]
                if not count:
                    return f"{value!r}: cluster {head!r} has no application servers (clients.placement)"
                return f"{value!r}: cluster {head!r} has client1..client{count}"
            total = sum(counts)
            return (
                f"{_show(col, i)} is not a client: write cluster/clientN ({names[0]}/client1), client1..client{total} "
                f"(numbered across the clusters in order: {_numbering(names, np.array(counts))}) or a number "
                f"(taken modulo {total})"
            )

        table = _by_values(col, parse, 3)
        form, which, number = table[:, 0], table[:, 1], table[:, 2]
        bad = form == -2
        return form, which, number, bad, why

    def _deployment_regions(
        self, col: pa.Array, names: list[str], there: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, Callable[[int], str]]:
        """A deployment's ``region`` column: per row the index of its name among the deployment's
        data centres and regions (-1 not given); bad: unknown, or no client of any cluster there."""
        index = {name: i for i, name in enumerate(names)}
        placed = there.sum(axis=1) > 0

        def to_region(value: object) -> int:
            """A row's region as an index of ``names``: -1 when empty, -2 when unknown or nobody is there."""
            if value is None or value == "":
                return -1
            i = index.get(str(value))
            return -2 if i is None or not placed[i] else i

        def why(i: int) -> str:
            """Why row ``i``'s region is bad, for the error message."""
            value = str(col[i].as_py())
            if value in index:
                return f"no client is placed in {value!r} (clients.placement)"
            return f"no data centre or region {value!r}{did_you_mean(value, names)}; known: {', '.join(names)}"

        values, bad = _by_value(col, to_region)
        return values, bad, why


@dataclass
class _PassState:
    zero: int | None = None  # timestamp of the first good row (ns)
    last: float = -np.inf  # time of the last good row


# ----------------------------------------------------------------------------- column conversions


def _is_text(col: pa.Array) -> bool:
    return pa.types.is_string(col.type) or pa.types.is_large_string(col.type) or pa.types.is_dictionary(col.type)


def _as_text(col: pa.Array) -> pa.Array:
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return col if pa.types.is_string(col.type) else col.cast(pa.string())


def _empty(col: pa.Array) -> np.ndarray:
    """Missing: null, or an empty string."""
    missing = col.is_null()
    if _is_text(col):
        missing = pc.or_(missing, pc.equal(_as_text(col), ""))
    return missing.fill_null(True).to_numpy(zero_copy_only=False)


def _show(col: pa.Array, i: int) -> str:
    value = col[i].as_py()
    return "an empty value" if value is None or value == "" else repr(value)


def _cast(col: pa.Array, to: pa.DataType, pattern: str) -> pa.Array:
    """Cast text to numbers: the whole column at once, or (when some value does not
    parse) the values that match ``pattern``, with nulls for the rest."""
    try:
        return col.cast(to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        ok = pc.match_substring_regex(col, pattern).fill_null(False)
        try:
            return pc.if_else(ok, col, pa.scalar(None, pa.string())).cast(to)
        except pa.ArrowInvalid:  # e.g. an integer beyond int64
            return pa.nulls(len(col), to)


def _floats(col: pa.Array, name: str, *, required: bool) -> tuple[np.ndarray, np.ndarray, Callable[[int], str]]:
    """Float values (NaN where missing); bad: unparsable, not finite, or missing when required."""
    missing = _empty(col)
    if _is_text(col):
        text = _as_text(col)
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        numbers = _cast(text, pa.float64(), _FLOAT)
    elif pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        numbers = col.cast(pa.float64())
    else:
        numbers = pa.nulls(len(col), pa.float64())
        missing = np.zeros(len(col), dtype=bool)
    values = numbers.fill_null(np.nan).to_numpy(zero_copy_only=False)
    bad = ~np.isfinite(values) & ~missing
    if required:
        bad |= missing

    def why(i: int) -> str:
        """Why row ``i``'s value is bad, for the error message."""
        if missing[i]:
            return "a value is required here"
        return f"{_show(col, i)} is not a number" + (" of seconds" if name == "t" else "")

    return values, bad, why


def _ints(col: pa.Array, name: str) -> tuple[np.ndarray, np.ndarray, Callable[[int], str]]:
    """Integer values (0 where bad); bad: missing, unparsable or not a whole number."""
    missing = _empty(col)
    if _is_text(col):
        numbers = _cast(_as_text(col), pa.int64(), _INT)
        parsed = ~numbers.is_null().to_numpy(zero_copy_only=False)
        values = numbers.fill_null(0).to_numpy(zero_copy_only=False)
    elif pa.types.is_integer(col.type):
        parsed = ~missing
        values = col.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
    elif pa.types.is_floating(col.type):
        floats = col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
        parsed = np.isfinite(floats) & (floats == np.round(floats)) & (np.abs(floats) < 2**62)
        values = np.where(parsed, floats, 0).astype(np.int64)
    else:
        parsed = np.zeros(len(col), dtype=bool)
        values = np.zeros(len(col), dtype=np.int64)
    bad = ~parsed

    def why(i: int) -> str:
        """Why row ``i``'s value is bad, for the error message."""
        if missing[i]:
            return "a value is required here"
        return f"{_show(col, i)} is not a whole number"

    return values, bad, why


def _timestamps(col: pa.Array) -> tuple[np.ndarray, np.ndarray, Callable[[int], str]]:
    """Nanoseconds since the epoch (int64): ISO-8601 text (naive means UTC) or epoch seconds."""
    n = len(col)
    missing = _empty(col)
    if pa.types.is_timestamp(col.type):
        ns = col.cast(pa.timestamp("ns")).cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False)
        return ns, missing, lambda i: "a value is required here"
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type):
        seconds = col.cast(pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
        ok = np.isfinite(seconds)
        ns = np.where(ok, np.round(seconds * 1e9), 0).astype(np.int64)
        return ns, ~ok, lambda i: "a value is required here" if missing[i] else f"{_show(col, i)} is not a time"
    if not _is_text(col):
        return np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool), lambda i: f"{_show(col, i)} is not a time"
    text = _as_text(col)
    epoch = pc.match_substring_regex(text, _FLOAT).fill_null(False).to_numpy(zero_copy_only=False)
    ns = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    if epoch.any():
        seconds = _cast(pc.filter(text, pa.array(epoch)), pa.float64(), _FLOAT)
        seconds = seconds.fill_null(np.nan).to_numpy(zero_copy_only=False)
        fine = np.isfinite(seconds)
        ns[epoch] = np.where(fine, np.round(seconds * 1e9), 0).astype(np.int64)
        ok[epoch] = fine
    iso = ~epoch & ~missing
    if iso.any():
        import pandas as pd

        parsed = pd.to_datetime(
            pd.Series(pc.filter(text, pa.array(iso)).to_pylist()), format="ISO8601", utc=True, errors="coerce"
        )
        fine = parsed.notna().to_numpy()
        ns[iso] = np.where(fine, parsed.to_numpy(dtype="datetime64[ns]").astype(np.int64), 0)
        ok[iso] = fine

    def why(i: int) -> str:
        """Why row ``i``'s value is bad, for the error message."""
        if missing[i]:
            return "a value is required here"
        return f"{_show(col, i)} is not a time: write ISO-8601 (2024-05-01T12:00:00.250Z) or epoch seconds"

    return ns, ~ok, why


def _ops(col: pa.Array) -> tuple[np.ndarray, np.ndarray, Callable[[int], str]]:
    codes = {name: i for i, name in enumerate(TRACE_OPS)}
    values, bad = _by_value(col, lambda v: codes.get(v, -2) if isinstance(v, str) and v else -2)

    def why(i: int) -> str:
        """Why row ``i``'s op is bad, for the error message."""
        value = col[i].as_py()
        if value is None or value == "":
            return "a value is required here"
        return f"unknown op {value!r}{did_you_mean(str(value), TRACE_OPS)}; allowed: {', '.join(TRACE_OPS)}"

    return values, bad, why


def _by_value(col: pa.Array, convert: Callable[[object], int]) -> tuple[np.ndarray, np.ndarray]:
    """Map each distinct value once (columns like op and client have few), then spread
    the results over the rows. ``convert`` returns -1 for 'not given', -2 for bad."""
    if len(col) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    encoded = col if pa.types.is_dictionary(col.type) else pc.dictionary_encode(col)
    table = np.array([convert(v) for v in encoded.dictionary.to_pylist()] + [-1], dtype=np.int64)
    indices = encoded.indices.fill_null(len(table) - 1).to_numpy(zero_copy_only=False)
    values = table[indices]
    bad = values == -2
    return np.where(bad, -1, values), bad


def _sessions(col: pa.Array) -> tuple[list[str | None], np.ndarray]:
    """Session values as text (None where not given) and a stable hash of each."""
    text = _as_text(col) if _is_text(col) else col.cast(pa.string())
    encoded = pc.dictionary_encode(text)
    names = [None if v == "" else v for v in encoded.dictionary.to_pylist()]
    hashes = np.array([zlib.crc32(v.encode()) if v is not None else -1 for v in names] + [-1], dtype=np.int64)
    indices = encoded.indices.fill_null(len(names)).to_numpy(zero_copy_only=False)
    lookup = np.array([*names, None], dtype=object)
    return lookup[indices].tolist(), hashes[indices]


# ----------------------------------------------------------------------------- routing in a deployment

_QUALIFIED, _BARE, _NUMBER = 1, 2, 3  # forms of a client value: east/client2, client5, 17
_MASK = (1 << 64) - 1


def _mix(values: np.ndarray, seed: int, purpose: int) -> np.ndarray:
    """Well-spread uint64 tickets from whole numbers (a line, a session's hash) and the seed:
    splitmix64's finaliser of ``value + salt``, so a row's cluster does not follow its number."""
    salt = np.uint64(((seed & _MASK) * 0x9E3779B97F4A7C15 + purpose * 0xD1B54A32D192ED03) & _MASK)
    with np.errstate(over="ignore"):
        z = values.astype(np.int64).astype(np.uint64) + salt
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _numbering(names: tuple[str, ...] | list[str], counts: np.ndarray) -> str:
    """How a deployment numbers its clients across the clusters: ``east client1-2, west client3-4``."""
    parts, first = [], 1
    for name, count in zip(names, counts.tolist(), strict=True):
        if count:
            last = first + count - 1
            parts.append(f"{name} client{first}" + (f"-{last}" if last > first else ""))
            first += count
    return ", ".join(parts)


def _by_values(col: pa.Array, convert: Callable[[object], tuple[int, ...]], width: int) -> np.ndarray:
    """:func:`_by_value` with several whole numbers per value: an (n, width) array; a missing
    value gets ``convert(None)``."""
    if len(col) == 0:
        return np.zeros((0, width), dtype=np.int64)
    encoded = col if pa.types.is_dictionary(col.type) else pc.dictionary_encode(col)
    table = np.array([convert(v) for v in encoded.dictionary.to_pylist()] + [convert(None)], dtype=np.int64)
    indices = encoded.indices.fill_null(len(table) - 1).to_numpy(zero_copy_only=False)
    return table[indices]

"""Systems outside the cluster that ongoing tasks write to (a SQL ETL destination).

Each is a network endpoint placed in a data centre (after the nodes and the clients),
with its own outages: the fault plan's ``external_down`` and ``external_up``.

*Service.* A relational database taking one ETL batch as one transaction, one at a time
in arrival order (FIFO; a second task or a re-sent batch waits its turn). A transaction
takes ``commit_cost`` plus ``row_cost`` per row. Rows are kept per task, keyed by document
id: an update is a DELETE + INSERT of the row [spec §5.2], so a batch sent twice (at
least once after a failover) leaves one row per document. A row the transform marked bad
(a NOT NULL or FK violation, a too-long column) is rejected: skipped, reported back to the
task, and the rest of the transaction commits [spec §5.2, "SQL ETL error handling"].

*Outages.* While down, a request is refused when it arrives (the caller learns after the
round trip); going down fails the transaction in progress and every queued one (their
connections reset), so none of them commits.

*Records.* At each commit, for entity ``task.<task>``: ``etl_lag_ms`` per document version
that became visible (from its commit on the origin node to this commit; a re-sent version
already there is not counted again) and ``etl_rows`` (rows in the task's table).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workbench.model.kernel.kernel import Timer

if TYPE_CHECKING:
    import simpy

    from workbench.model.database.database import Doc
    from workbench.model.kernel.kernel import Streams
    from workbench.model.kernel.network import Network
    from workbench.model.recording.recorder import Recorder
    from workbench.scenario.schema import ExternalSystem as ExternalSpec

REPLY_BYTES = 200.0  # a transaction's answer: status and the ids of rejected rows


@dataclass
class LoadRequest:
    """One ETL batch: rows to load in one transaction, and where the answer goes."""

    task: str
    source: int  # the sending node's network endpoint
    rows: list[tuple[Doc, bool]]  # (document version, rejected by the destination)
    reply: Callable[[LoadOutcome], None]


@dataclass
class LoadOutcome:
    """The destination's answer to one ETL batch: committed or not (and why), and the rows it rejected as bad."""

    ok: bool
    reason: str = ""  # why it failed ("refused", "connection reset")
    rejected: list[Doc] = field(default_factory=list)  # rows skipped as bad


@dataclass
class Row:
    """One row of a task's table at the destination: the document version it holds and when it was loaded."""

    write_id: int  # the document version it holds
    cv: tuple[int, ...]
    loaded: float  # when it was last written


class ExternalSystem:
    """A destination database outside the cluster (a SQL ETL target): one network endpoint taking
    one batch transaction at a time, with its own outages.

    Given the clock, its spec, its network endpoint, the random streams its service times
    are drawn from, the network its answers travel on and the recorder of its samples."""

    def __init__(
        self,
        env: simpy.Environment,
        spec: ExternalSpec,
        endpoint: int,
        streams: Streams,
        network: Network,
        recorder: Recorder,
    ):
        self.env = env
        self.spec = spec
        self.name = spec.name
        self.index = endpoint  # its network endpoint
        self.network = network
        self.recorder = recorder
        self.up = True
        self._row_cost = streams.sampler(f"external.{spec.name}.row", spec.row_cost)
        self._commit_cost = streams.sampler(f"external.{spec.name}.commit", spec.commit_cost)
        self.tables: dict[str, dict[int, Row]] = {}  # task -> document id -> row
        self.queue: deque[LoadRequest] = deque()
        self.current: LoadRequest | None = None
        self.generation = 0  # bumped when it goes down: the transaction in progress fails
        # Counters (for tests and reports).
        self.transactions = 0
        self.rows_written = 0  # every row written, re-sent ones included
        self.rows_rewritten = 0  # a version the table already held (a re-sent batch)
        self.rows_rejected = 0
        self.refused = 0
        self.failed = 0

    # -- outages (the fault injector)
    def go_down(self) -> None:
        """An outage starts: the transaction in progress and every queued one fail (``connection
        reset``); new ones are refused until :meth:`come_up`."""
        self.up = False
        self.generation += 1
        failed = [self.current] if self.current is not None else []
        failed += self.queue
        self.current = None
        self.queue.clear()
        for request in failed:
            self.failed += 1
            self._answer(request, LoadOutcome(False, "connection reset"))

    def come_up(self) -> None:
        """The outage ends: requests are accepted again."""
        self.up = True

    # -- service
    def receive(self, request: LoadRequest) -> None:
        """A batch arrived over the network."""
        if not self.up:
            self.refused += 1
            self._answer(request, LoadOutcome(False, "refused"))
            return
        self.queue.append(request)
        if self.current is None:
            self._begin()

    def _begin(self) -> None:
        request = self.queue.popleft()
        self.current = request
        cost = self._commit_cost()
        row_cost = self._row_cost
        for _ in request.rows:
            cost += row_cost()
        Timer(self.env, cost, self._commit, (request, self.generation))

    def _commit(self, request: LoadRequest, generation: int) -> None:
        if generation != self.generation:
            return  # it went down meanwhile: already answered with a failure
        now = self.env.now
        table = self.tables.setdefault(request.task, {})
        recorder = self.recorder
        entity = f"task.{request.task}"
        rejected = []
        for doc, bad in request.rows:
            if bad:
                rejected.append(doc)
                continue
            old = table.get(doc.key)
            self.rows_written += 1
            if old is not None and old.write_id == doc.write_id:
                self.rows_rewritten += 1
                old.loaded = now
                continue
            table[doc.key] = Row(doc.write_id, doc.cv, now)
            recorder.sample(now, entity, "etl_lag_ms", (now - doc.committed) * 1e3)
        self.rows_rejected += len(rejected)
        self.transactions += 1
        recorder.sample(now, entity, "etl_rows", float(len(table)))
        self.current = None
        self._answer(request, LoadOutcome(True, rejected=rejected))
        if self.queue:
            self._begin()

    def _answer(self, request: LoadRequest, outcome: LoadOutcome) -> None:
        # A reply lost on a cut link is never heard of: the task's timeout covers it.
        self.network.send(self.index, request.source, REPLY_BYTES, request.reply, outcome)

    def rows(self, task: str) -> dict[int, Row]:
        """The task's table: document id -> row."""
        return self.tables.get(task, {})

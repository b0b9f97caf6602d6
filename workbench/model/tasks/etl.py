"""SQL ETL: an ongoing task pushing a database's documents to a relational database
[spec §5.2, §5.1, §1.8, §8.13].

The responsible node (``Task``: the framework starts and stops it as ownership changes)
follows its own storage log, event-driven (a watcher on the instance wakes it for new
data; it never polls):

1. *Extract* from its log position the current versions of the task's collections that
   the task's progress does not cover, up to the batch limits: 8192 documents, 64 MB,
   and a transform time of at most the extract-and-transform timeout, 30 s [spec §5.2,
   §10, D-etl].
2. *Transform*: ``transform_cost`` per document on the node's CPU (its worker pool).
3. *Load*: one transaction at the destination (``workbench.model.tasks.external``), sent over
   the network; the answer is awaited for at most ``LOAD_TIMEOUT``.
4. *Persist progress*: a Raft command (``Task.persist``) with the change vector covering
   what was loaded, and the log position reached, then on to the next batch.

Progress is a change vector and a log position (``tasks.LogRun``). A node resuming its
own copy gets back its log position; any other node scans its log from the start and
skips what the vector covers (only what it held at the start: see ``LogRun``), so a new owner
resumes where the previous one persisted its progress [spec §5.1: "the new owner resumes
from the last progress persisted for the task"]. A batch loaded but not yet persisted is
sent again by the next owner (at least once); the destination keeps one row per document
(DELETE + INSERT), so nothing is duplicated there.

*Fallback* [spec §5.2, ECfg]: a refused, failed or unanswered load puts the task in
fallback mode: it retries after ``fallback_initial`` (5 s), doubling per consecutive
error up to ``fallback_max`` (``ETL.MaxFallbackTimeInSec``, 900 s), re-extracting from
where it left off, so nothing is lost.

*Bad rows* [spec §5.2]: a document the destination rejects raises an alert
(``etl_document_rejected``) and is skipped; the rest of the batch loads.

*Stopping* (ownership moved, node down, no leader [spec §1.8]): the run stops at once;
a transform or an answer still on its way is ignored when it arrives (the run is dead:
stopped, or its node crashed since, which a change of ``node.epoch`` shows).

Records (entity ``task.<name>``): events ``etl_started`` (value: documents to load),
``etl_fallback`` (value: the wait, s), ``etl_resumed`` (value: seconds in fallback),
``etl_caught_up`` (the backlog is empty after a start or a fallback; value: seconds since
then) and ``etl_document_rejected`` (value: the document id); timeseries ``etl_backlog``
(documents not yet loaded, as the running node sees them; sampled at each batch, and on
new data at most once per ``sample_interval``) and ``etl_loaded`` (documents loaded so
far, re-sent ones counted again); the destination records ``etl_lag_ms`` and ``etl_rows``.

Departures from RavenDB (also in docs/etl.md):

- the next batch does not wait for the progress command to commit (RavenDB waits for
  it): a lost command (no leader) only means a longer re-send after a failover;
- progress is a change vector plus the log position of the copy that persisted it, not
  RavenDB's per-database last processed etags; another node scans its log from the start;
- "too many errors stop the process until an admin intervenes" is not modelled: the
  task keeps retrying;
- a document in conflict is skipped until the conflict is resolved (RavenDB keeps
  conflicts out of the documents it extracts), and deletes (tombstones) are not
  modelled: the workload never deletes;
- documents present at t = 0 (version 0) count as already loaded: the task is taken to
  have caught up before the run begins;
- ``LOAD_TIMEOUT`` (30 s) is the ADO.NET default command timeout, an engineering choice.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from workbench.model.kernel.kernel import Timer
from workbench.model.tasks.external import LoadOutcome, LoadRequest
from workbench.model.tasks.tasks import LogRun, Task, raise_to

if TYPE_CHECKING:
    import simpy

    from workbench.model.cluster.node import Server
    from workbench.model.cluster.rachis import Cluster
    from workbench.model.database.database import Doc
    from workbench.model.database.keyspace import Keyspace
    from workbench.model.kernel.kernel import Streams
    from workbench.model.kernel.network import Network
    from workbench.model.recording.recorder import Recorder
    from workbench.model.tasks.external import ExternalSystem

LOAD_TIMEOUT = 30.0  # seconds: the ADO.NET default command timeout (an engineering choice)
BATCH_OVERHEAD_BYTES = 500.0  # framing of one load request (SQL statements around the rows)

# What a run is doing.
IDLE = "idle"  # caught up: a watcher wakes it on new data
SCHEDULED = "scheduled"  # extraction due at once
TRANSFORM = "transform"  # on the node's CPU
LOAD = "load"  # waiting for the destination's answer
FALLBACK = "fallback"  # waiting to retry after an error


def version_fails(salt: bytes, doc: Doc, probability: float) -> bool:
    """Whether a document version fails its load or transform: a property of the version
    (a too-long column stays too long), drawn as a hash of the version and ``salt`` (the
    seed and the task), so a batch sent twice meets the same verdicts whatever else was drawn."""
    if probability <= 0.0:
        return False
    digest = hashlib.blake2b(salt + f"{doc.key}|{doc.write_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2.0**64 < probability


class _Run(LogRun):
    """The task running on one node, from one start to its stop."""

    def __init__(self, task: SqlEtl, index: int):
        super().__init__(task.nodes[index], task.db)
        self.pending: set[int] = set()  # document ids with a version not yet loaded
        self.state = SCHEDULED
        self.errors = 0  # consecutive load errors
        self.failing_since = 0.0
        self.draining = True  # report etl_caught_up when the backlog is next empty
        self.drain_from = task.env.now
        self.request = 0  # id of the load in flight; a late answer to an older one is ignored
        self.timer: Timer | None = None
        self.next_sample = 0.0
        self.watcher = lambda: task._on_data(self)


class SqlEtl(Task):
    """The SQL ETL task: extract, transform, load and persist progress in batches, on the node that
    owns it [spec §5.2].

    Besides what every task is given (:class:`Task`): the network its batches travel on, the
    random streams of its transform costs (and the seed of its rejections), the external
    systems (its destination is the one its spec names), the keyspace (each document's
    collection) and the interval at which it samples its backlog on new data."""

    def __init__(
        self,
        env: simpy.Environment,
        spec: Any,
        nodes: list[Server],
        cluster: Cluster,
        recorder: Recorder,
        db_name: str,
        db: int,
        network: Network,
        streams: Streams,
        externals: dict[str, ExternalSystem],
        keyspace: Keyspace,
        sample_interval: float,
    ):
        super().__init__(env, spec, nodes, cluster, recorder, db_name, db)
        self.network = network
        self.keyspace = keyspace
        self.destination = externals[spec.destination]
        self.collections = frozenset(spec.collections) if spec.collections else None
        self.transform = streams.sampler(f"etl.{spec.name}.transform", spec.transform_cost)
        self.reject_probability = spec.reject_probability
        # A rejected row is a property of the document version (a too-long column stays too
        # long), so the verdict is a hash of the version keyed by the seed and this stream
        # name: a batch sent twice meets the same verdicts, whatever else was drawn.
        self._reject_key = f"{streams.seed}|etl.{spec.name}.reject|".encode()
        self.max_documents = spec.batch.max_documents
        self.max_size = spec.batch.max_size
        self.extract_timeout = spec.batch.extract_timeout
        self.fallback_initial = spec.fallback_initial
        self.fallback_max = spec.fallback_max
        self.sample_interval = sample_interval
        self.entity = f"task.{spec.name}"
        self.runs: dict[int, _Run] = {}
        self.loaded = 0  # documents loaded (re-sent ones counted again)
        self.rejected = 0
        self.fallbacks = 0

    # -- the framework
    def start(self, index: int) -> None:
        """Node ``index`` took the task: resume from the persisted progress, queue the versions of
        its log not yet loaded, and watch the copy for new ones."""
        run = _Run(self, index)
        run.resume(self.persisted(index))
        inst = run.inst
        log, docs, pending = inst.log, inst.docs, run.pending
        for pos in range(run.cursor, len(log)):
            doc = log[pos]
            if docs[doc.key] is doc and self._wanted(doc) and not run.done_before(doc, pos):
                pending.add(doc.key)
        inst.watchers.append(run.watcher)
        self.runs[index] = run
        self.recorder.event(
            "etl_started",
            node=run.tag,
            database=self.db_name,
            task=self.name,
            count=len(pending),
            value=float(len(pending)),
        )
        self._sample_backlog(run)
        run.timer = Timer(self.env, 0.0, self._next, (run,))

    def stop(self, index: int) -> None:
        """Node ``index`` stops: the run ends; a batch in flight is answered into the void and sent
        again by the next owner."""
        run = self.runs.pop(index, None)
        if run is None:
            return
        run.stopped = True
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        if run.watcher in run.inst.watchers:
            run.inst.watchers.remove(run.watcher)

    # -- helpers
    def _wanted(self, doc: Doc) -> bool:
        """A version of a collection this task loads (a conflicted one waits for its resolution)."""
        if doc.conflicts is not None:
            return False
        return self.collections is None or self.keyspace.collection_of(doc.key) in self.collections

    def _bad(self, doc: Doc) -> bool:
        return version_fails(self._reject_key, doc, self.reject_probability)

    def _sample_backlog(self, run: _Run) -> None:
        now = self.env.now
        run.next_sample = now + self.sample_interval
        self.recorder.sample(now, self.entity, "etl_backlog", float(len(run.pending)))

    # -- new data
    def _on_data(self, run: _Run) -> None:
        """Watcher: the instance stored a version (the last of its log)."""
        doc = run.inst.log[-1]
        if self._wanted(doc):
            run.pending.add(doc.key)
        if run.state == IDLE:
            # Once the current event is done: a transaction's documents are all stored first.
            run.state = SCHEDULED
            run.timer = Timer(self.env, 0.0, self._next, (run,))
        if self.env.now >= run.next_sample:
            self._sample_backlog(run)

    # -- extract and transform
    def _next(self, run: _Run) -> None:
        if not run.alive() or run.state != SCHEDULED:
            return
        run.timer = None
        inst = run.inst
        log, docs = inst.log, inst.docs
        cursor, end = run.cursor, len(log)
        items: list[Doc] = []
        size = cost = 0.0
        transform = self.transform
        while cursor < end and len(items) < self.max_documents and size < self.max_size and cost < self.extract_timeout:
            doc = log[cursor]
            if docs[doc.key] is doc and self._wanted(doc) and not run.done_before(doc, cursor):
                items.append(doc)
                size += doc.size
                cost += transform()
            cursor += 1
        if not items:
            run.cursor = cursor  # nothing in that stretch is for this task
            run.state = IDLE
            if run.draining:
                run.draining = False
                self.recorder.event(
                    "etl_caught_up",
                    node=run.tag,
                    database=self.db_name,
                    task=self.name,
                    value=self.env.now - run.drain_from,
                )
                self._sample_backlog(run)
            return
        run.state = TRANSFORM
        run.node.cpu.submit(cost, self._transformed, (run, items, cursor, size))

    # -- load
    def _transformed(self, job: tuple[_Run, list[Doc], int, float]) -> None:
        run, items, end, size = job
        if not run.alive():
            return
        run.request += 1
        rid = run.request
        rows = [(doc, self._bad(doc)) for doc in items]

        def answer(outcome: LoadOutcome) -> None:
            """The destination's answer to this batch."""
            self._answered(run, rid, items, end, outcome)

        request = LoadRequest(self.name, run.index, rows, answer)
        dest = self.destination
        # A cut link drops the request: the timeout notices, as a real connect would.
        self.network.send(run.index, dest.index, BATCH_OVERHEAD_BYTES + size, dest.receive, request)
        run.state = LOAD
        run.timer = Timer(self.env, LOAD_TIMEOUT, self._answered, (run, rid, items, end, None))

    def _answered(self, run: _Run, rid: int, items: list[Doc], end: int, outcome: LoadOutcome | None) -> None:
        if rid != run.request or run.state != LOAD or not run.alive():
            return  # a late answer (timed out already), or the run is over: ignored
        run.request += 1
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        if outcome is None:
            self._fallback(run, f"no answer within {LOAD_TIMEOUT:g} s")
        elif not outcome.ok:
            self._fallback(run, outcome.reason)
        else:
            self._loaded(run, items, end, outcome)

    def _loaded(self, run: _Run, items: list[Doc], end: int, outcome: LoadOutcome) -> None:
        now = self.env.now
        recorder = self.recorder
        cv = run.cv
        docs = run.inst.docs
        pending = run.pending
        for doc in items:
            raise_to(cv, doc.cv)
            if docs.get(doc.key) is doc:
                pending.discard(doc.key)
        run.cursor = end
        for doc in outcome.rejected:
            self.rejected += 1
            recorder.event(
                "etl_document_rejected",
                node=run.tag,
                database=self.db_name,
                task=self.name,
                key=doc.key,
                write=doc.write_id,
                system=self.destination.name,
                value=float(doc.key),
            )
        self.loaded += len(items) - len(outcome.rejected)
        self.persist(run.index, (tuple(cv), run.inst.incarnation, end))
        if run.errors:
            recorder.event(
                "etl_resumed",
                node=run.tag,
                database=self.db_name,
                task=self.name,
                system=self.destination.name,
                errors=run.errors,
                value=now - run.failing_since,
            )
            run.errors = 0
        recorder.sample(now, self.entity, "etl_loaded", float(self.loaded))
        self._sample_backlog(run)
        run.state = SCHEDULED
        self._next(run)

    # -- fallback
    def _fallback(self, run: _Run, reason: str) -> None:
        now = self.env.now
        run.errors += 1
        if run.errors == 1:
            run.failing_since = now
            run.draining = True
            run.drain_from = now
        self.fallbacks += 1
        wait = min(self.fallback_initial * 2.0 ** min(run.errors - 1, 60), self.fallback_max)
        self.recorder.event(
            "etl_fallback",
            node=run.tag,
            database=self.db_name,
            task=self.name,
            system=self.destination.name,
            reason=reason,
            wait_s=wait,
            errors=run.errors,
            value=wait,
        )
        self._sample_backlog(run)
        run.state = FALLBACK
        run.timer = Timer(self.env, wait, self._retry, (run,))

    def _retry(self, run: _Run) -> None:
        if run.alive() and run.state == FALLBACK:
            run.timer = None
            run.state = SCHEDULED
            self._next(run)

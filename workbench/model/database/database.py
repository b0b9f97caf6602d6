"""The database group: instances with documents and change vectors, and replication.

Each member keeps its documents ``key -> Doc`` (version, change vector,
last-modified, size) and an append-only storage log in local order. A write
commits locally (CPU, then a group-committed fsync) and is replicated
asynchronously by one :class:`ReplicationChannel` per destination, which sends
what the destination's change vector does not cover, in batches within
``Replication.MaxItemsCount`` / ``MaxSizeToSendInMb`` [spec §3.1-3.2]. What a
write's replication lag is made of, step by step and against RavenDB's code, is
in ``docs/validation.md`` ("Replication lag of a member pair").

Concurrent versions of a document are resolved by the database's conflict
solver (see ``DatabaseInstance._resolve``); each conflict is recorded as a
``conflict`` event.

The database starts with every key of the workload present on every member at
version 0 (an empty change vector), so reads find documents from the start.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import simpy

from workbench.model.kernel.kernel import Agenda, Grid, Timer
from workbench.model.kernel.network import SERVER, Network, Stream

if TYPE_CHECKING:
    from workbench.model.assembly.quiescence import Quiescence
    from workbench.model.cluster.node import Server
    from workbench.model.database.keyspace import Keyspace
    from workbench.model.database.ledger import WriteLedger
    from workbench.model.database.versions import Versions
    from workbench.model.recording.recorder import Recorder
    from workbench.scenario.schema import Hardware, ReplicationSpec

# Change-vector comparison results.
EQUAL, NEWER, OLDER, CONFLICT = 0, 1, 2, 3

HANDSHAKE, BATCH, HEARTBEAT, SEED = "handshake", "batch", "heartbeat", "seed"
NEEDS_SEED = "needs-seed"  # handshake answer of a new replica that has no data yet
SEED_PART = "seed-part"  # one chunk of the bulk of a seed
# Bytes per seeding step: about one large read request, so the disk fits fsyncs in between
# the way a device interleaves requests (an estimate; the throttle, not this, sets the pace).
SEED_CHUNK_BYTES = 256.0 * 1024
REFUSED = object()  # a reply meaning "connection refused / reset"


def compare(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """Compare change vector ``a`` with ``b``: EQUAL, NEWER (a ⊒ b), OLDER, or CONFLICT."""
    if a == b:
        return EQUAL
    newer = older = True  # every entry of a is >= (<=) b's
    for i in range(min(len(a), len(b))):
        x = a[i]
        y = b[i]
        if x < y:
            newer = False
        elif x > y:
            older = False
    if newer:
        return NEWER
    return OLDER if older else CONFLICT


def covers(cv: tuple[int, ...] | list[int], doc_cv: tuple[int, ...]) -> bool:
    """True if a database change vector ``cv`` already includes ``doc_cv``."""
    # A plain loop, not all(...): compiled, it runs with no generator or map object.
    for i in range(min(len(cv), len(doc_cv))):  # noqa: SIM110
        if cv[i] < doc_cv[i]:
            return False
    return True


class Doc:
    """One stored version of a document.

    Immutable once stored, so the members that hold the same version share one object
    (:func:`_copy`): a write is one ``Doc`` whatever the replication factor.
    """

    __slots__ = (
        "cluster_tx",
        "committed",
        "conflicts",
        "cv",
        "key",
        "modified",
        "origin",
        "resolver",
        "size",
        "tx_end",
        "write_id",
    )

    def __init__(
        self,
        key: int,
        cv: tuple[int, ...],
        modified: float,
        write_id: int,
        size: float,
        origin: int,
        committed: float,
        cluster_tx: bool = False,
    ):
        self.key = key
        self.cv = cv
        self.modified = modified  # wall clock of the origin node at the write
        self.write_id = write_id  # unique id of the client write that produced it
        self.size = size
        self.origin = origin  # change-vector entry of the node where the write was made (its index)
        self.committed = committed  # commit time on the origin
        self.cluster_tx = cluster_tx  # written by a cluster-wide transaction: wins conflicts
        self.conflicts: tuple[Doc, ...] | None = None  # the versions of a conflicted document (manual)
        self.tx_end = -1  # origin's log position of the last document of its transaction (batches keep it whole)
        self.resolver = -1  # entry of the node whose conflict resolution produced this version, if any


class ForeignDoc(Doc):
    """A version that entered this cluster from another one (external or hub/sink
    replication) at the node holding it: that node is its only way into the group, so its
    channels always send it, like the node's own writes (``ReplicationChannel._collect``)."""

    __slots__ = ("gateway",)
    gateway: int  # the node of this cluster the version entered at


def _foreign(doc: Doc, gateway: int) -> Doc:
    copy = ForeignDoc(doc.key, doc.cv, doc.modified, doc.write_id, doc.size, doc.origin, doc.committed, doc.cluster_tx)
    copy.conflicts = doc.conflicts
    copy.resolver = doc.resolver
    copy.gateway = gateway
    return copy


class DatabaseInstance:
    """One copy of the database on one node. Documents, log and change vector are durable.

    Built with the environment, the node it lives on (``nodes[node_index]``) and its cluster's
    nodes (the destinations of its channels), the cluster's change-vector layout and version
    counters (``versions``), the keyspace, the recorder and write ledger, the quiescence
    (told of local writes while parked), and what its replication channels need: the network,
    the replication settings, the framing of a replication message, the hardware (bulk-copy
    and disk-read rates) and the seeding throttle (bytes per second)."""

    def __init__(
        self,
        env: simpy.Environment,
        nodes: list[Server],
        node_index: int,
        versions: Versions,
        keyspace: Keyspace,
        recorder: Recorder,
        ledger: WriteLedger,
        quiet: Quiescence,
        network: Network,
        replication: ReplicationSpec,
        repl_overhead: float,
        hardware: Hardware,
        seeding_rate: float,
        name: str = "db",
        db: int = 0,
    ):
        self.env = env
        self.agenda: Agenda = env.agenda  # type: ignore[attr-defined]
        self.name = name  # the database's
        self.db = db  # its place among the cluster's databases (nodes keep their copies by it)
        self.nodes = nodes
        self.node = nodes[node_index]
        self.keyspace = keyspace
        self.recorder = recorder
        self.ledger = ledger
        self.quiet = quiet
        self.network = network
        self.replication = replication
        self.repl_overhead = repl_overhead
        self.hardware = hardware
        self.seeding_rate = seeding_rate
        # Shared with every copy of the cluster and updated in place: the highest etag each
        # entry has used, and each node's clock skew (a fault may change it).
        self.etags_issued: list[int] = versions.etags_issued
        self.clock_skew: list[float] = versions.clock_skew
        # Change vectors have one entry per cluster node (indexed by node, so a
        # replica added later has its own entry) plus a last "RAFT" entry that
        # carries the Raft index of cluster-wide transactions [spec §3.4]. In a
        # deployment of several clusters the entries span all of them (Versions.cv_base).
        self.position = versions.cv_base + node_index
        self.raft_position = versions.raft_position
        self.docs: dict[int, Doc] = {}
        self.log: list[Doc] = []  # storage order, every version (current: docs[log[i].key] is log[i])
        self.own_etag = 0
        self.db_cv = [0] * versions.cv_width
        self.last_from: dict[int, int] = {}  # source copy (incarnation) -> log position it has sent up to
        self.incarnation = versions.next_incarnation()
        self.channels: list[ReplicationChannel] = []
        # Called after every stored version (ongoing tasks that follow the log, e.g. ETL).
        self.watchers: list[Callable[[], None]] = []
        self.seeded = True  # False for a new replica until its mentor sends a full copy
        # Share of the requests for its documents that miss the node's page cache (set by
        # Server.refresh_memory when the node's copies change; 0: every document fits).
        self.miss_ratio = 0.0
        # The keyspace's figures a request reads, held here as native attributes (the keyspace
        # is a plain dataclass: reading it per request costs a dictionary lookup).
        self.initial_size: float = keyspace.initial_size
        self.query_response_size: float = keyspace.query_response_size
        self.has_scripts: bool = keyspace.has_scripts
        self.transaction_documents: int = keyspace.transaction_documents
        # Commit time of each local write, by etag (contiguous from first_etag), for lag sampling.
        self.commit_times = array("d")
        self.first_etag = 1
        # Writes waiting for replication acknowledgements (write assurance).
        self.waiters: list[list] = []
        self.zero_cv = versions.zero_cv

    # -- reads
    def read(self, key: int) -> Doc | None:
        """The current version of document ``key`` on this copy (None: not there)."""
        return self.docs.get(key)

    # -- writes
    def commit_local(self, key: int, size: float, write_id: int) -> Doc:
        """Store a client's write of ``key`` (``size`` bytes) as a new version originating here and
        return it.

        The version gets this node's next etag in its change vector (RavenDB's
        ``TryUpdateChangeVector``) and a last-modified time from this node's clock, skew included."""
        # A node's change-vector entry never reuses an etag, even across a copy that
        # was deleted and re-created: RavenDB gives the new copy a new database id;
        # continuing the node's sequence has the same effect on comparisons.
        issued = self.etags_issued
        self.own_etag = max(self.own_etag, issued[self.position]) + 1
        issued[self.position] = self.own_etag
        if not self.commit_times:
            self.first_etag = self.own_etag
        now = self.agenda.now
        self.commit_times.append(now)
        self.db_cv[self.position] = self.own_etag
        if self.quiet.parked:
            self.quiet.on_write()
        # last-modified comes from this node's wall clock, skew included
        modified = now + self.clock_skew[self.node.index]
        local = self.docs.get(key)
        self._note_resolved(local, write_id)
        # The document's own history with this node's entry bumped (RavenDB's
        # TryUpdateChangeVector), not the database's whole vector: a document must not
        # claim to include writes of other documents, or a destination whose vector it
        # raised would be skipped for writes it never received.
        cv = list(local.cv if local is not None else self.zero_cv)
        cv[self.position] = self.own_etag
        doc = Doc(key, tuple(cv), modified, write_id, size, self.position, now)
        self._store(doc, True)
        return doc

    def commit_transaction(self, keys: list[int], size: float, write_id: int) -> list[Doc]:
        """Several documents in one transaction: each gets its own etag; all of them
        carry the log position of the last, so replication never splits them [spec §3.3]."""
        docs = [self.commit_local(key, size, write_id) for key in keys]
        end = len(self.log) - 1  # the last one's position: nothing else stores meanwhile
        for doc in docs:
            doc.tx_end = end
        return docs

    def _store(self, doc: Doc, wakes: bool) -> None:
        """Store a version. ``wakes``: a local change, which wakes the idle replication
        channels; a version stored by incoming replication does not (ripple prevention):
        it leaves on a channel's next pass, a batch of local changes or its keep-alive.

        RavenDB: the commit's change notifications wake the outgoing handler
        (``OutgoingReplicationHandler.OnChangeInternal`` sets ``_waitForChanges``) unless
        the change was made by incoming internal replication (``TriggeredByReplicationThread``,
        set from ``IncomingReplicationHandler.IsIncomingInternalReplication`` while
        ``MergedDocumentReplicationCommand`` runs); ``ExecuteReplicationOnce`` then sends
        everything since the last sent etag that the destination's last reported change
        vector does not cover, relayed or not. A channel wakes for every version towards
        a promotable this node mentors (``relay_free``), a model choice that keeps catch-up
        from waiting for keep-alives."""
        self.log.append(doc)
        self.docs[doc.key] = doc
        for ch in self.channels:
            if ch.waiting:
                if wakes or ch.relay_free:
                    ch.poke()
                elif ch.keepalive_parked:
                    # Its keep-alives were being skipped (the cluster is parked): put them back
                    # on their grid, so the version leaves at the next one, as without parking.
                    ch.resume_keepalive()
        if self.watchers:
            for watcher in self.watchers:
                watcher()

    def apply_incoming(self, items: list[Doc], source: int, from_outside: bool = False) -> None:
        """Store replicated versions that are newer than ours; resolve concurrent ones.
        ``from_outside``: they come from another cluster (see :class:`ForeignDoc`)."""
        recorder = self.recorder
        now = self.agenda.now
        db_cv = self.db_cv
        position = self.position
        # Versions from another cluster wake this node's channels like its own writes: it is
        # their only way into the group, and RavenDB (6.0 on) flags only incoming *internal*
        # replication as triggered by replication (``IsIncomingInternalReplication``; 5.x
        # flagged external too, and such versions then waited for a pass like relayed ones).
        wakes = from_outside
        for item in items:
            local = self.docs.get(item.key)
            local_cv = local.cv if local is not None else self.zero_cv
            rel = compare(item.cv, local_cv)
            if rel == NEWER:
                self._store(_foreign(item, position) if from_outside else _copy(item), wakes)
                if item.conflicts is None:
                    recorder.replicated(item, self.node.index, now, self.db)
            elif rel == CONFLICT and local is not None:
                # Resolved inside the same merged command, so flagged like the batch.
                self._resolve(item, local, now, wakes)
            for i, x in enumerate(item.cv):
                if x > db_cv[i]:
                    db_cv[i] = x

    def _resolve(self, item: Doc, local: Doc, now: float, wakes: bool) -> None:
        """Two concurrent versions met here [spec §3.4-3.5]. In order: the same write
        reached us by two paths (identical content, merged silently); a cluster
        transaction's document wins; the collection's resolver script merges them
        (its run time was charged to the batch); resolve-to-latest; or else the
        document stays conflicted until a write resolves it (manual).

        Every member that meets the conflict resolves it the same way, so their
        copies converge; each logs the same fields and the analysis counts each
        conflict once."""
        key = item.key
        merged = tuple(max(x, y) for x, y in zip(item.cv, local.cv, strict=True))
        me = self.position
        if item.write_id == local.write_id and item.conflicts is None and local.conflicts is None:
            self._store(_resolved(item if _wins(item, local) else local, merged, me), wakes)
            return
        recorder = self.recorder
        script = self.keyspace.script_cost(key)
        if item.cluster_tx != local.cluster_tx or (script is None and self.keyspace.resolve_to_latest):
            incoming_wins = _wins(item, local)
            winner, loser = (item, local) if incoming_wins else (local, item)
            # The resolution is this node's change: its channels send it whatever the
            # destination's vector says (``_collect``), on their next pass.
            self._store(_resolved(winner, merged, me), wakes)
            if incoming_wins and item.conflicts is None:
                recorder.replicated(item, self.node.index, now, self.db)
            how = "cluster transaction wins" if winner.cluster_tx != loser.cluster_tx else "resolve to latest"
            for version in _versions(loser):
                self.ledger.resolution_losers.setdefault((version.write_id, key), how)
            recorder.event(
                "conflict",
                node=self.node.tag,
                database=self.name,
                key=key,
                resolution=how,
                winning_write=winner.write_id,
                losing_write=loser.write_id,
                value=float(loser.write_id),
            )
            return
        versions = {v.write_id: v for v in (*_versions(local), *_versions(item))}
        ids = sorted(versions)
        newest = versions[ids[-1]]
        if script is not None:
            # The script's merge holds every version's changes: nothing is lost.
            doc = Doc(
                key,
                merged,
                max(v.modified for v in versions.values()),
                newest.write_id,
                max(v.size for v in versions.values()),
                newest.origin,
                max(v.committed for v in versions.values()),
            )
            doc.resolver = me
            self._store(doc, wakes)
            recorder.event(
                "conflict", node=self.node.tag, database=self.name, key=key, resolution="script", writes=tuple(ids)
            )
            return
        doc = Doc(key, merged, newest.modified, newest.write_id, newest.size, newest.origin, newest.committed)
        doc.conflicts = tuple(versions[i] for i in ids)
        doc.resolver = me
        self._store(doc, wakes)
        if item.conflicts is None or local.conflicts is None or set(_ids(item)) != set(_ids(local)):
            recorder.event(
                "conflict", node=self.node.tag, database=self.name, key=key, resolution="manual", writes=tuple(ids)
            )

    def _note_resolved(self, old: Doc | None, write_id: int) -> None:
        """A write on a conflicted document resolves the conflict (manual resolution)."""
        if old is not None and old.conflicts is not None:
            self.recorder.event(
                "conflict_resolved",
                node=self.node.tag,
                database=self.name,
                key=old.key,
                write=write_id,
                writes=tuple(_ids(old)),
            )

    def apply_cluster_tx(self, key: int, size: float, write_id: int, raft_index: int) -> None:
        """Apply a committed cluster-wide transaction's document [spec §6].

        Every member applies it from the Raft log on top of its own copy: the
        change vector is the local one with the RAFT entry set to the
        transaction's index, so it supersedes what this member had. A normal
        write made elsewhere concurrently conflicts with it and loses, because
        documents of cluster transactions win conflicts."""
        now = self.env.now
        local = self.docs.get(key)
        cv = list(local.cv if local is not None else self.zero_cv)
        cv[self.raft_position] = max(cv[self.raft_position], raft_index)
        self._note_resolved(local, write_id)
        if local is not None:
            # The transaction was applied on top of these writes: they are superseded, not lost,
            # even where a replica that saw them later resolves a conflict in its favour.
            for version in _versions(local):
                self.ledger.superseded_by_cluster_tx.add((version.write_id, key))
        doc = Doc(key, tuple(cv), now, write_id, size, self.position, now, cluster_tx=True)
        # Every member applies it from the log, so forwarding is only a fallback: it does not
        # wake the channels and leaves on their next pass if the destination still lacks it.
        # (A departure: RavenDB's loop wakes for it, as for any change not made by incoming
        # replication, and sends it unless the destination's last reported vector covers it.)
        self._store(doc, False)
        if raft_index > self.db_cv[self.raft_position]:
            self.db_cv[self.raft_position] = raft_index

    def sync_channels(self, destinations: list[int]) -> None:
        """Keep exactly one live outgoing channel per destination (after boot,
        restart or a topology change); channels to others stop."""
        keep = []
        for ch in self.channels:
            if ch.dst in destinations and ch.alive():
                keep.append(ch)
            else:
                ch.stopped = True
                ch.poke()
        have = {ch.dst for ch in keep}
        keep += [
            ReplicationChannel(
                self.env,
                self,
                self.nodes[d],
                self.replication,
                self.network,
                self.recorder,
                self.quiet,
                self.repl_overhead,
                self.hardware,
                self.seeding_rate,
            )
            for d in destinations
            if d not in have
        ]
        self.channels = keep

    def wait_for_replicas(self, doc: Doc, needed: int, timeout: float, callback: Callable[[bool], None]) -> None:
        """Call ``callback(True)`` once ``needed`` destinations acknowledged ``doc``,
        or ``callback(False)`` after ``timeout`` [spec §3.6]."""
        waiter = [doc.cv, needed, callback, False]
        self.waiters.append(waiter)
        Timer(self.env, timeout, self._waiter_timeout, (waiter,))
        self.check_waiters()

    def _waiter_timeout(self, waiter: list) -> None:
        if not waiter[3]:
            waiter[3] = True
            self.waiters.remove(waiter)
            waiter[2](False)

    def check_waiters(self) -> None:
        """Re-checked on every replication acknowledgement."""
        if not self.waiters:
            return
        done = []
        for waiter in self.waiters:
            cv, needed = waiter[0], waiter[1]
            if sum(1 for ch in self.channels if covers(ch.dest_cv, cv)) >= needed:
                done.append(waiter)
        for waiter in done:
            waiter[3] = True
            self.waiters.remove(waiter)
            waiter[2](True)

    def replication_lag(self, dest_cv: list[int]) -> float:
        """Age of the oldest local write a destination has not acknowledged (0 if none)."""
        acked = dest_cv[self.position]
        if acked >= self.own_etag or not self.commit_times:
            return 0.0
        oldest = max(acked + 1, self.first_etag) - self.first_etag
        return self.env.now - self.commit_times[oldest]

    def snapshot_bytes(self) -> float:
        """Size of a full copy: every document (the initial dataset included)."""
        keyspace = self.keyspace
        written = sum(d.size for d in self.docs.values())
        untouched = keyspace.keys - len(self.docs)
        return written + max(untouched, 0) * keyspace.initial_size

    def install_snapshot(self, docs: dict[int, Doc], db_cv: list[int]) -> None:
        """Become a full copy of a mentor's data (seeding a new replica)."""
        for doc in docs.values():
            local = self.docs.get(doc.key)
            if local is None or compare(doc.cv, local.cv) in (NEWER, CONFLICT):
                self._store(_copy(doc), False)
        for i, x in enumerate(db_cv):
            if x > self.db_cv[i]:
                self.db_cv[i] = x
        self.seeded = True


def _copy(doc: Doc) -> Doc:
    """The version as another member stores it: the same object, since a stored version never
    changes. Only a transaction's documents need their own copy (``tx_end`` is a position in
    the origin's log; a replica stores them without it), and a version that entered from another
    cluster becomes a plain one past its gateway."""
    if doc.tx_end < 0 and type(doc) is Doc:
        return doc
    return _with_cv(doc, doc.cv)


def _with_cv(doc: Doc, cv: tuple[int, ...]) -> Doc:
    copy = Doc(doc.key, cv, doc.modified, doc.write_id, doc.size, doc.origin, doc.committed, doc.cluster_tx)
    copy.conflicts = doc.conflicts
    copy.resolver = doc.resolver
    return copy


def _resolved(doc: Doc, cv: tuple[int, ...], resolver: int) -> Doc:
    copy = _with_cv(doc, cv)
    copy.resolver = resolver
    return copy


def _versions(doc: Doc) -> tuple[Doc, ...]:
    return doc.conflicts if doc.conflicts is not None else (doc,)


def _ids(doc: Doc) -> list[int]:
    return sorted(v.write_id for v in _versions(doc))


def _wins(a: Doc, b: Doc) -> bool:
    """Conflict resolution: a cluster transaction's document wins; otherwise the
    latest last-modified (ties by write id) [spec §3.4-3.5]."""
    if a.cluster_tx != b.cluster_tx:
        return a.cluster_tx
    return (a.modified, a.write_id) > (b.modified, b.write_id)


class ReplicationChannel(Stream):
    """Outgoing replication from one instance to one destination node.

    A long-lived connection, written as a callback state machine (a generator
    process per channel cost a SimPy step for every reply and wake-up): handshake
    (the destination answers with the position it last received from us and its
    change vector), then batches of everything not covered, one batch in flight,
    each acknowledged with the destination's change vector. Idle channels send a
    keep-alive every ``heartbeat_interval``. An unanswered request
    (``tcp_timeout``) or a reset breaks the connection; reconnects back off from
    ``reconnect_initial`` by ``reconnect_factor`` up to ``reconnect_max`` [spec §3.2].

    It follows RavenDB's ``OutgoingReplicationHandler.Replicate`` loop
    (``src/Raven.Server/Documents/Replication/``): ``ReplicationDocumentSender.ExecuteReplicationOnce``
    reads everything after the last sent etag, skips what the destination's last
    reported change vector covers, writes one batch and waits for its reply
    (``HandleServerResponse``) before reading again (:meth:`_next`, :meth:`_collect`,
    :meth:`_on_acknowledged`); with nothing to send it waits on ``_waitForChanges`` for
    a local change (:meth:`poke`) or ``MinimalHeartbeatInterval``, then sends a heartbeat
    and, if the destination's answer leaves something uncovered, a batch (:meth:`_woken`).

    Ripple prevention: versions this instance received by replication do not wake
    the channel (:meth:`DatabaseInstance._store`). They leave on its next pass: with
    the next batch of local changes, or after the next keep-alive (up to
    ``heartbeat_interval``), and not at all if the destination's change vector covers
    them by then [spec §3.1]. A write therefore reaches a member it has no direct
    link to within about one keep-alive interval of reaching the relay.
    """

    def __init__(
        self,
        env: simpy.Environment,
        src: DatabaseInstance,
        dst: Server,
        cfg: ReplicationSpec,
        network: Network,
        recorder: Recorder,
        quiet: Quiescence,
        repl_overhead: float,
        hardware: Hardware,
        seeding_rate: float,
    ):
        self.env = env
        self.src = src
        self.dst = dst.index
        self.dst_node = dst
        self.epoch = src.node.epoch
        self.cfg = cfg
        self.network = network
        self.recorder = recorder
        self.hardware = hardware  # bulk_copy_rate and disk_read_rate, for seeding
        self.seeding_rate = seeding_rate  # the seeding throttle, bytes per second
        # Read on every batch and fixed for the run: held here rather than looked up each time.
        self.agenda: Agenda = env.agenda  # type: ignore[attr-defined]
        self.quiet = quiet
        self.heartbeat_interval: float = self.cfg.heartbeat_interval
        self.max_batch_items: int = self.cfg.max_batch_items
        self.max_batch_size: float = self.cfg.max_batch_size
        self.tcp_timeout: float = self.cfg.tcp_timeout
        self.repl_overhead = repl_overhead
        self._deliver: Callable[..., None] = dst.deliver_replication
        self._acknowledged: Callable[[Any], None] = self._on_acknowledged  # bound once
        self.cursor = 0  # next log position to scan
        self.dest_cv: list[int] = list(src.zero_cv)
        self.req_id = 0
        self.in_flight_request: int | None = None
        self._then: Callable[[Any], None] | None = None  # what to do with the in-flight request's reply
        self._request_timer: Timer | None = None
        self.waiting = False  # idle, until a local change or a keep-alive
        self.connected = False
        self.was_connected: bool | None = None
        self.backoff = self.cfg.reconnect_initial
        self.broken = False  # set when the destination resets an idle connection
        self.stopped = False  # set when the topology no longer wants this channel
        self.relay_free = False  # True towards a promotable this node mentors: relayed versions wake it too
        # Seeding a new copy (see _seed): bytes still to send, where the snapshot's later
        # writes start in the log, and when the throttle lets the next chunk go.
        self.seed_left = 0.0
        self.seed_from = 0
        self.seed_due = 0.0
        self.last_contact = 0.0  # the last answered request: keep-alives are due interval after it
        self._due = 0.0  # when the keep-alive of the current idle wait is due
        self.keepalive: Timer | None = None  # ends the idle wait for a keep-alive
        self.keepalive_parked = False  # idle, with keep-alives skipped while the cluster is parked
        # Opened after the topology change that asked for it has been applied.
        Timer(self.env, 0.0, self._handshake)

    # -- liveness
    def alive(self) -> bool:
        """The channel may go on: its source node is up, has not restarted since it opened, and the
        topology still wants it."""
        return self.src.node.epoch == self.epoch and self.src.node.up and not self.stopped

    def poke(self) -> None:
        """New data, a stop or a reset: end the idle wait once the current event is done
        (all of a transaction's documents are stored before the batch is collected)."""
        if self.waiting:
            self._stop_waiting()
            Timer(self.env, 0.0, self._woken)

    def _stop_waiting(self) -> None:
        self.waiting = False
        self.keepalive_parked = False
        if self.keepalive is not None:
            self.keepalive.cancel()
            self.keepalive = None

    # -- connecting
    def _handshake(self) -> None:
        if self.alive():
            self._request(HANDSHAKE, None, self._on_handshake)

    def _on_handshake(self, reply: Any) -> None:
        if not self.alive():
            return
        cfg = self.cfg
        if reply is None:
            if self.was_connected is not False:
                self._event("replication_disconnected")
            self.was_connected = False
            Timer(self.env, self.backoff, self._reconnect)
            return
        if self.was_connected is False:
            self._event("replication_connected")
        self.was_connected = True
        self.backoff = cfg.reconnect_initial
        if reply == NEEDS_SEED:
            self._seed()
        else:
            self._open(reply)

    def _reconnect(self) -> None:
        if self.alive():
            cfg = self.cfg
            self.backoff = min(self.backoff * cfg.reconnect_factor, cfg.reconnect_max)
            self._handshake()

    def _event(self, kind: str, size: float | None = None) -> None:
        """Record a channel event: ``source`` and ``destination`` are its ends' node tags."""
        src, dst = self.src.node.tag, self.dst_node.tag
        if size is None:
            self.recorder.event(kind, node=src, database=self.src.name, source=src, destination=dst)
        else:
            self.recorder.event(kind, node=src, database=self.src.name, source=src, destination=dst, bytes=size)

    def _seed(self) -> None:
        """Send a full copy at the throttled seeding rate [spec §2.5], then carry on from there.

        The copy travels in chunks, one at a time: the mentor's worker packs each (CPU at
        ``hardware.bulk_copy_rate``), its disk reads it (``disk_read_rate``: a full copy reads
        cold documents too), the link carries it, and the new copy stores it (CPU, then an
        fsync) and answers; the next chunk leaves no earlier than ``observer.seeding_rate``
        allows. The documents are installed at the end from a snapshot taken then, so the
        writes made meanwhile come along (their bytes with that last message)."""
        size = self.src.snapshot_bytes()
        self._event("seeding_started", size)
        self.seed_left = size
        self.seed_from = len(self.src.log)
        self.seed_due = self.env.now
        self._seed_chunk()

    def _seed_chunk(self) -> None:
        if not self.alive():
            return
        if self.seed_left <= 0:
            self._send_seed()
            return
        chunk = min(SEED_CHUNK_BYTES, self.seed_left)
        self.seed_left -= chunk
        self.seed_due = max(self.seed_due, self.env.now) + chunk / self.seeding_rate
        hardware = self.hardware
        self.src.node.cpu.submit(chunk / hardware.bulk_copy_rate, self._seed_packed, chunk)

    def _seed_packed(self, chunk: float) -> None:
        if self.alive():
            disk_read_rate = self.hardware.disk_read_rate
            self.src.node.disk.read(chunk / disk_read_rate, self._seed_read, chunk)

    def _seed_read(self, chunk: float) -> None:
        if self.alive():
            self._request(SEED_PART, chunk, self._on_seed_part, chunk, _receive_seed_part)

    def _on_seed_part(self, reply: Any) -> None:
        if not self.alive():
            return
        if reply is None:
            self._handshake()  # the connection broke: the new copy is seeded again from the start
            return
        wait = self.seed_due - self.env.now
        if wait > 0:
            Timer(self.env, wait, self._seed_chunk)
        else:
            self._seed_chunk()

    def _seed_part_stored(self, rid: int) -> None:
        """The new copy's worker has taken the chunk in: write it (one fsync) and answer."""
        self.dst_node.disk.write(self._seed_part_durable, rid, self.src.db)

    def _seed_part_durable(self, rid: int) -> None:
        self.network.send_tcp(self.dst, self.src.node.index, self.repl_overhead, SERVER, self._answer, rid, True)

    def _send_seed(self) -> None:
        if not self.alive():
            return
        src = self.src
        snapshot = (dict(src.docs), list(src.db_cv), len(src.log))
        later = 0.0  # bytes of the writes made while the bulk was on its way
        for doc in src.log[self.seed_from :]:
            later += doc.size
        self._request(SEED, snapshot, lambda reply: self._on_seeded(reply, snapshot[2]), later)

    def _on_seeded(self, reply: Any, position: int) -> None:
        if not self.alive():
            return
        if reply is None:
            self._handshake()
            return
        self._event("seeding_done")
        self._open((position, reply))

    def _open(self, reply: tuple[int, list[int]]) -> None:
        self.cursor, self.dest_cv = reply
        self.last_contact = self.agenda.now
        self.connected = True
        self._next()

    def _disconnect(self) -> None:
        """The connection broke: handshake again at once (the handshake's failures back off)."""
        self.connected = False
        self._handshake()

    # -- connected
    def _next(self) -> None:
        """Send the next batch, or wait for a local change or the keep-alive.

        RavenDB's ``Replicate`` loop: ``ExecuteReplicationOnce`` until it finds nothing,
        then ``WaitForChanges(MinimalHeartbeatInterval)``."""
        batch = self._collect()
        if batch:
            self._request(BATCH, batch, self._acknowledged)
            return
        now = self.agenda.now
        self._due = due = self.last_contact + self.heartbeat_interval
        wait = due - now
        if wait > 0:
            self.waiting = True
            if self.quiet.parked:
                self.keepalive_parked = True  # resumed on its grid when the cluster wakes
            else:
                self.keepalive = Timer(self.env, wait, self._wait_over)
            return
        self._request(HEARTBEAT, None, self._acknowledged)

    def _wait_over(self) -> None:
        if self.waiting:
            self.keepalive = None
            self._stop_waiting()
            self._woken()

    def _woken(self) -> None:
        if not self.alive():
            return
        if self.broken:
            self.broken = False
            self._disconnect()
            return
        # Compared with the very sum the wait was computed from: float rounding can never
        # leave the channel waking without sending. At the keep-alive RavenDB sends a
        # heartbeat first, and a batch if the answer leaves something uncovered: here the
        # heartbeat's answer refreshes ``dest_cv`` and ``_on_acknowledged`` collects again.
        if self.agenda.now >= self._due:
            self._request(HEARTBEAT, None, self._acknowledged)
        else:
            self._next()

    def _on_acknowledged(self, reply: Any) -> None:
        """A batch's or a keep-alive's answer: the destination's change vector."""
        if not self.alive():
            return
        if reply is None:
            self._disconnect()
            return
        self.dest_cv = reply
        self.src.check_waiters()
        self.last_contact = self.agenda.now
        self._next()

    # -- quiescence: keep-alives skipped while the cluster is parked
    def park_keepalive(self) -> None:
        """While the cluster is parked (``Quiescence``), skip the keep-alives of an idle channel
        that has sent its whole log; :meth:`resume_keepalive` puts them back on their grid."""
        # Not while relayed versions wait for the keep-alive (stored, not yet scanned).
        if self.waiting and self.keepalive is not None and self.cursor == len(self.src.log):
            self.keepalive.cancel()
            self.keepalive = None
            self.keepalive_parked = True

    def resume_keepalive(self) -> None:
        """Put the keep-alives back on their grid. Each skipped one would have renewed the
        contact, told the destination our position and brought back its vector."""
        if not self.keepalive_parked or not self.waiting:
            return
        self.keepalive_parked = False
        now = self.env.now
        interval = self.cfg.heartbeat_interval
        grid = Grid(self.last_contact + interval, interval)
        skipped = grid.catch_up(now)
        due = grid.at()
        node = self.dst_node
        inst = node.instances[self.src.db]
        if skipped and (not node.up or inst is None or not node.accepting or node.disk_full):
            due = now  # the first skipped keep-alive would have been refused: send it now
        elif skipped and inst is not None:
            self.last_contact = due - interval
            copy_id = self.src.incarnation
            inst.last_from[copy_id] = max(inst.last_from.get(copy_id, 0), self._safe_cursor())
            self.dest_cv = list(inst.db_cv)
            self.src.check_waiters()
        self._due = self.last_contact + interval
        self.keepalive = Timer(self.env, due - now, self._wait_over)

    def _safe_cursor(self) -> int:
        return self.cursor  # everything before it was sent or covered at the destination

    def _collect(self) -> list[Doc]:
        """The next batch: every current version after the cursor that the destination's last
        reported vector does not cover, local and relayed alike
        (``ReplicationDocumentSender.ExecuteReplicationOnce``, ``AddReplicationItemToBatch``)."""
        src = self.src
        log = src.log
        dest_cv = self.dest_cv
        max_items = self.max_batch_items
        max_bytes = self.max_batch_size
        items: list[Doc] = []
        size = 0.0
        own = src.position
        cursor = self.cursor
        end = len(log)
        # A node always sends its own changes, writes and conflict resolutions alike (the
        # destination drops what it already has); only relayed versions are skipped when
        # the destination's vector covers them. The vector can run ahead of what arrived (a
        # resolved conflict merges the losers' entries into it), and skipping an origin's
        # own changes on that basis could leave a member without them for good. The same
        # holds for versions that entered the cluster here from another cluster (ForeignDoc).
        while cursor < end and len(items) < max_items and size < max_bytes:
            doc = log[cursor]
            if src.docs[doc.key] is doc and (
                doc.origin == own
                or doc.resolver == own
                or not covers(dest_cv, doc.cv)
                or (type(doc) is ForeignDoc and doc.gateway == own)
            ):
                items.append(doc)
                size += doc.size
            cursor += 1
        if items and items[-1].tx_end >= cursor:
            # The batch is extended to include the whole transaction of its last item [spec §3.3].
            tx_end = items[-1].tx_end
            while cursor <= tx_end:
                doc = log[cursor]
                if src.docs[doc.key] is doc and (
                    doc.origin == own
                    or doc.resolver == own
                    or not covers(dest_cv, doc.cv)
                    or (type(doc) is ForeignDoc and doc.gateway == own)
                ):
                    items.append(doc)
                cursor += 1
        self.cursor = cursor
        return items

    def _request(
        self,
        kind: str,
        payload: Any,
        then: Callable[[Any], None],
        size: float = -1.0,
        deliver: Callable[..., None] | None = None,
    ) -> None:
        """Send one request; ``then(reply)`` follows, with None on reset or timeout. ``size``:
        the payload's bytes (default: the documents'); ``deliver``: who takes it at the
        destination (default: the node's replication handler)."""
        self.req_id += 1
        rid = self.req_id
        payload_size = size
        if payload_size < 0:
            payload_size = 0.0
            if payload:
                for doc in payload:
                    payload_size += doc.size
        # In flight before it is sent: a segment that meets a cut link asks whether it is wanted.
        self._then = then
        self._request_timer = Timer(self.env, self.tcp_timeout, self._answer, (rid, None))
        self.in_flight_request = rid
        self.network.send_tcp(
            self.src.node.index,
            self.dst,
            self.repl_overhead + payload_size,
            self,
            self._deliver if deliver is None else deliver,
            self,
            kind,
            rid,
            payload,
            self._safe_cursor(),
        )

    # -- the connection's sending side (see workbench.model.kernel.network.Stream)
    def wanted(self, args: tuple) -> bool:
        """A segment is still wanted while its request is the one in flight (``args``: channel,
        kind, request id, ...)."""
        return args[2] == self.in_flight_request  # args: (channel, kind, request id, ...)

    def connection_lost(self, args: tuple) -> None:
        """TCP gave up before the read timeout did: the request in flight is answered as refused."""
        self._answer(args[2], REFUSED)  # TCP gave up before the read timeout did

    def connection_reset(self) -> None:
        """The destination's process died: the TCP connection breaks at once."""
        if self.in_flight_request is not None:
            self._answer(self.in_flight_request, REFUSED)
        elif self.connected:
            self.broken = True
            self.poke()

    def _answer(self, rid: int, value: Any) -> None:
        if rid != self.in_flight_request:
            return  # a late answer to a request that already timed out or was reset
        self.in_flight_request = None
        timer, then = self._request_timer, self._then
        assert timer is not None and then is not None  # set with in_flight_request
        timer.cancel()
        self._then = None
        then(None if value is REFUSED else value)


def _receive_seed_part(channel: ReplicationChannel, _kind: str, rid: int, chunk: float, _cursor: int) -> None:
    """A seeding chunk reaches the new copy's node: its worker takes it in (CPU at
    ``bulk_copy_rate``), then it is written and answered (``ReplicationChannel._seed_part_*``).
    A node that is down resets the connection (a vanished one says nothing); a crash drops
    the work in progress, and the mentor starts the seed again."""
    node = channel.dst_node
    if not node.up or node.instances[channel.src.db] is None or not node.accepting or node.disk_full:
        if not node.silent:
            channel.network.send_tcp(
                channel.dst, channel.src.node.index, channel.repl_overhead, SERVER, channel._answer, rid, REFUSED
            )
        return
    node.cpu.submit(chunk / channel.hardware.bulk_copy_rate, channel._seed_part_stored, rid)

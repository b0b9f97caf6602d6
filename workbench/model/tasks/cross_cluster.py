"""Tasks between clusters: external replication, hub/sink replication and RavenDB ETL
[spec §5.2, §5.3, §5.4, §7.8, §7.9, §7.11].

Each is an ongoing task of one cluster (``tasks.Task``: one responsible node, chosen by
``WhoseTaskIsIt``; nothing runs while that cluster has no leader; a new owner about 60 s
after the old one went silent). Its traffic crosses the deployment's *bridge*, a network
over every node of every cluster (``deployment.Deployment``), so a dark data centre or a
cut between data centres stops it like any other traffic.

A **stream** carries one database's changes from a *sender* copy in one cluster to a
*receiver* copy in another, one batch at a time, in the sender's storage order:

1. *Handshake*: the receiver answers with the log position it last received from this
   sender copy (RavenDB keeps it per source database id) and its database change vector.
2. *Batches*: current versions the receiver's vector does not cover (after the catch-up,
   every version not made in the receiver's own cluster: see ``Stream._wanted``), up to the sender
   cluster's replication limits (``Replication.MaxItemsCount``, ``MaxSizeToSendInMb``; for
   ETL its own: 8192 documents, 64 MB, 30 s of transform time). With
   ``delay`` (``DelayReplicationFor``) a version leaves only once its last-modified time
   is that old; the stream waits for the first that is not [spec §5.3].
3. The receiver spends ``service.write`` per document on its CPU, commits on its disk and
   answers with its vector. Replication stores each version as the protocol does
   (conflicts resolved by the *receiver's* policy [spec §5.3, §7.8]); from there the
   receiver's own cluster replicates it to its other members. RavenDB ETL instead writes
   each document as a new local write (the destination's vector entry only: never a
   conflict [spec §5.2]).
4. No answer within the sender cluster's ``tcp_timeout``, a refusal, or a node that went
   down ends the stream; the task reconnects to the next node in the other cluster's
   list (failover on the destination side [spec §5.3, §5.4]) after a back-off:
   ``reconnect_initial`` × ``reconnect_factor``ⁿ up to ``reconnect_max`` for replication,
   ``fallback_initial`` doubling to ``fallback_max`` for ETL [spec §5.2, §3.2].

**External replication** [spec §5.3]: the source cluster's responsible node sends its own
copy to a node of the destination cluster (the destination's database nodes in its member
order). **Hub/sink** [spec §5.4]: the *sink* cluster's responsible node connects to the
hub's nodes in their member order (the preferred node first) and, per ``mode``, the hub
node streams its copy to the sink node, the sink node streams to the hub node, or both;
reconnecting is always the sink's job. **RavenDB ETL**: the source's responsible node
transforms (``transform_cost`` per document on its CPU) and loads into the destination;
its progress is persisted in the source cluster (``Task.persist``), because the
destination sees an ordinary client.

Records (entity ``task.<name>``, like every ongoing task; in the cluster that runs it):
events ``link_connected`` (a stream's handshake answered: node -> node), ``link_failed``
(why, and the back-off, value: seconds) and ``link_caught_up`` (nothing left to send after a
(re)connection; value: seconds since it began); timeseries ``link_backlog`` (log entries past
the stream's position, an upper bound on the versions not yet sent, at each batch) and
``link_lag_ms`` (per version newly stored at the receiver: from its commit at the origin to
its commit there).

A quiet stream (nothing to send, or held back by ``delay``) sends a keep-alive every
``heartbeat_interval`` (15 s), so a dead peer is noticed within a heartbeat and a timeout.

Departures from RavenDB (docs/multi-cluster.md):

- the destination node list is read from the destination cluster's current topology at
  each connection (RavenDB fetches it from the URLs of the connection string);
- a version held back by ``delay`` blocks the versions stored after it (storage order
  is kept, as RavenDB's delayed replication does with its etag order);
- hub/sink per-path filtering is by collection (``collections``), certificates are not
  modelled;
- a batch held back by ``delay`` is not extended to the rest of its last transaction (the
  documents of one transaction share their modified time, so this almost never matters).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.model.database.database import covers
from workbench.model.kernel.kernel import Timer
from workbench.model.tasks.etl import version_fails
from workbench.model.tasks.tasks import LogRun, Task, raise_to

if TYPE_CHECKING:
    from workbench.model.cluster.node import Server
    from workbench.model.cluster.rachis import Cluster
    from workbench.model.database.database import DatabaseInstance, Doc
    from workbench.model.database.group import DatabaseGroup
    from workbench.model.database.keyspace import Keyspace
    from workbench.model.database.versions import Versions
    from workbench.model.kernel.kernel import Streams
    from workbench.model.kernel.network import Network
    from workbench.model.recording.recorder import Recorder
    from workbench.scenario.schema import ReplicationSpec

CONTROL_BYTES = 300.0  # a handshake, an answer or a keep-alive: headers and a change vector
REFUSED = "refused"


@dataclass(frozen=True, eq=False)
class Side:
    """What a link sees of one cluster of the deployment: its name, its clock, nodes, Rachis,
    database group, change-vector layout, keyspace, replication settings, recorder and random
    streams. The deployment's builder makes one per cluster and hands it to the links that
    touch that cluster (one object per cluster, so ``is`` tells two sides apart)."""

    name: str
    env: Any
    nodes: list[Server]
    cluster: Cluster
    group: DatabaseGroup
    versions: Versions
    keyspace: Keyspace
    replication: ReplicationSpec
    recorder: Recorder
    streams: Streams


def database_nodes(side: Side) -> list[int]:
    """The nodes of the cluster's database in its member order (preferred first), then rehabs,
    as the most up-to-date node of that cluster sees them: a connection string's URL list."""
    best = max(side.cluster.nodes, key=lambda r: (r.commit_index, -r.index))
    topo = best.state_machine.databases.get(side.group.name)
    if topo is None:
        return [inst.node.index for inst in side.group.instances]
    return [*topo.members, *topo.rehabs]


class Stream:
    """One connection carrying a database's changes from a sender copy to a receiver copy
    in another cluster (see the module's description). ``owner.stream_failed(self, why)``
    hears when it breaks; ``owner.stream_progress(self, ...)`` after each batch (ETL). It travels
    over the deployment's ``bridge`` network, each message carrying ``overhead`` bytes of framing.

    ``from_receiver``: the receiver opens the connection (a hub/sink sink pulling from its
    hub [spec §5.4]): its hello, carrying where it stands, travels to the sender."""

    def __init__(
        self,
        bridge: Network,
        overhead: float,
        owner: Any,
        sender: tuple[Side, int],
        receiver: tuple[Side, int],
        *,
        delay: float = 0.0,
        collections: frozenset[str] | None = None,
        etl: bool = False,
        start: LogRun | None = None,
        limits: tuple[int, float, float] | None = None,
        from_receiver: bool = False,
    ):
        self.bridge = bridge
        self.overhead = overhead
        self.owner = owner
        self.entity = f"task.{owner.name}"  # like every ongoing task
        self.src_side, src = sender
        self.dst_side, dst = receiver
        self.env = self.src_side.env
        self.src_node = self.src_side.nodes[src]
        self.dst_node = self.dst_side.nodes[dst]
        self.src_epoch = self.src_node.epoch
        inst = self.src_node.instances[self.src_side.group.db]
        assert inst is not None  # a stream opens from a node that holds a copy
        self.inst: DatabaseInstance = inst
        self.src_point = self.src_side.versions.cv_base + src  # bridge endpoints
        self.dst_point = self.dst_side.versions.cv_base + dst
        cfg = self.src_side.replication
        # Batch limits: replication's, or the ETL's (documents, bytes, transform time) [spec §5.2].
        self.max_items, self.max_bytes, self.max_cost = limits or (cfg.max_batch_items, cfg.max_batch_size, math.inf)
        self.timeout = cfg.tcp_timeout
        self.heartbeat = cfg.heartbeat_interval
        self.delay = delay
        self.collections = collections
        self.etl = etl
        self.run = start  # ETL: the persisted progress (cursor, vector, start-of-run filter)
        self.cursor = start.cursor if start is not None else 0
        self.filter_end = 0  # log positions before it were there at the handshake
        self.dst_span = (self.dst_side.versions.cv_base, self.dst_side.versions.cv_base + len(self.dst_side.nodes))
        self.connected = False
        self.closed = False
        self.request = 0
        self.in_flight = False
        self.idle = False  # nothing to send: the timer is the keep-alive, and new data wakes it
        self.timer: Timer | None = None
        self.began = self.env.now
        self.draining = True
        self._watcher = self._on_data
        self.source_key = (self.src_side.name, self.inst.incarnation)
        self.dest_cv: list[int] | tuple[int, ...] = self.inst.zero_cv
        self.inst.watchers.append(self._watcher)
        if from_receiver:
            self._hello()
        else:
            self._send(CONTROL_BYTES, _receive_handshake, None)

    def ends(self) -> dict[str, str]:
        """Its ends as cluster/node: the ``source`` and ``destination`` of its events."""
        return {
            "source": f"{self.src_side.name}/{self.src_node.tag}",
            "destination": f"{self.dst_side.name}/{self.dst_node.tag}",
        }

    def _owner_tag(self) -> str:
        """The task's node (its cluster records the link's events): the sender or the receiver."""
        return (self.src_node if self.src_side is self.owner.side else self.dst_node).tag

    # -- life
    def alive(self) -> bool:
        """The stream may go on: not closed, and its sender node is up, has not restarted since it
        opened and still holds the same copy."""
        node = self.src_node
        return (
            not self.closed
            and node.up
            and node.epoch == self.src_epoch
            and node.instances[self.src_side.group.db] is self.inst
        )

    def close(self) -> None:
        """End the stream on the sender's side: a pending answer is ignored, its timer and its
        watcher on the copy are dropped."""
        if self.closed:
            return
        self.closed = True
        self.request += 1
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self._watcher in self.inst.watchers:
            self.inst.watchers.remove(self._watcher)

    def _broken(self, why: str) -> None:
        if self.closed:
            return
        self.close()
        self.owner.stream_failed(self, why)

    # -- transport
    def _send(self, size: float, handler: Any, payload: Any) -> None:
        self.request += 1
        rid = self.request
        self.in_flight = True
        self.bridge.send(self.src_point, self.dst_point, size, handler, self, rid, payload)
        self.timer = Timer(self.env, self.timeout, self._timed_out, (rid,))

    def _hello(self) -> None:
        node = self.dst_node
        inst = node.instances[self.dst_side.group.db]
        self.request += 1
        rid = self.request
        self.in_flight = True
        self.timer = Timer(self.env, self.timeout, self._timed_out, (rid,))
        if node.up and inst is not None and node.accepting and not node.disk_full and inst.seeded:
            hello = ("hello", inst.last_from.get(self.source_key, 0), list(inst.db_cv))
            self.bridge.send(self.dst_point, self.src_point, CONTROL_BYTES, _hello_arrived, self, rid, hello)

    def _timed_out(self, rid: int) -> None:
        if rid == self.request and not self.closed:
            self._broken(f"no answer from {self.dst_side.name}/{self.dst_node.tag} within {self.timeout:g} s")

    def answer(self, rid: int, reply: Any) -> None:
        """An answer (or the receiver's hello) arrived at the sender."""
        if rid != self.request or self.closed:
            return
        if not self.alive():
            self._broken("the sending node went down")
            return
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.in_flight = False
        if reply == REFUSED:
            self._broken(f"{self.dst_side.name}/{self.dst_node.tag} refused")
            return
        kind = reply[0]
        if kind == "hello":
            self.connected = True
            _kind, position, dest_cv = reply
            if not self.etl:
                self.cursor = max(self.cursor, position)
                self.dest_cv = dest_cv
                self.filter_end = len(self.inst.log)
            self.owner.side.recorder.event(
                "link_connected", node=self._owner_tag(), task=self.owner.name, **self.ends()
            )
            self.owner.stream_connected(self)
        elif kind == "ack":
            _kind, end, dest_cv, items = reply
            if not self.etl:
                self.dest_cv = dest_cv
            self.cursor = end
            self.owner.stream_progress(self, items, end)
        elif not self.etl:  # a keep-alive's answer
            self.dest_cv = reply[1]
        self._next()

    # -- sending
    def _on_data(self) -> None:
        if self.idle:
            self.idle = False
            self.timer.cancel()
            self.timer = Timer(self.env, 0.0, self._wake)  # once the current event is done

    def _wake(self) -> None:
        self.timer = None
        self.idle = False
        if not self.in_flight:
            self._next()

    def _beat(self) -> None:
        """Keep-alive of a quiet stream (``heartbeat_interval``): a dead peer is noticed
        within a heartbeat and a timeout, not at the next batch."""
        self.timer = None
        self.idle = False
        if not self.alive():
            self._broken("the sending node went down")
            return
        self._send(CONTROL_BYTES, _receive_heartbeat, None)

    def _wanted(self, doc: Doc, position: int) -> bool:
        if self.inst.docs[doc.key] is not doc:
            return False  # an older version: the current one comes later in the log
        if self.collections is not None and self.src_side.keyspace.collection_of(doc.key) not in self.collections:
            return False
        if self.etl:
            return doc.conflicts is None and not self.run.done_before(doc, position)
        if not covers(self.dest_cv, doc.cv):
            return True
        if position < self.filter_end:
            return False  # the catch-up after the handshake: the receiver's vector decides
        # Afterwards a covered version is skipped only if the receiver's cluster made it: a
        # vector can cover a version that never arrived (this copy's log is not in its
        # origin's order when versions reached it by different paths), and the versions of
        # the sender's side and of third clusters reach the receiver's cluster only this way.
        lo, hi = self.dst_span
        return not (lo <= doc.origin < hi and (doc.resolver < 0 or lo <= doc.resolver < hi))

    def _next(self) -> None:
        if not self.alive():
            self._broken("the sending node went down")
            return
        log = self.inst.log
        end = len(log)
        cursor = self.cursor
        now = self.env.now
        items: list[Doc] = []
        size = cost = 0.0
        wait_until = None
        delay = self.delay
        transform = self.owner.transform if self.etl else None
        max_items, max_bytes, max_cost = self.max_items, self.max_bytes, self.max_cost
        while cursor < end and len(items) < max_items and size < max_bytes and cost < max_cost:
            doc = log[cursor]
            if self._wanted(doc, cursor):
                if delay and doc.modified + delay > now:
                    wait_until = doc.modified + delay
                    break
                if transform is not None:
                    cost += transform()
                    if self.owner.transform_fails(doc):
                        self.owner.rejected(self, doc)  # an alert, and on with the rest [spec §5.2]
                        cursor += 1
                        continue
                items.append(doc)
                size += doc.size
            cursor += 1
        if items and items[-1].tx_end >= cursor and wait_until is None:
            while cursor <= items[-1].tx_end and cursor < end:  # a transaction is never split [spec §3.3]
                doc = log[cursor]
                if self._wanted(doc, cursor):
                    items.append(doc)
                    size += doc.size
                    if transform is not None:
                        cost += transform()
                cursor += 1
        # Log entries past the position reached: an upper bound on the versions still to send.
        self.owner.side.recorder.sample(now, self.entity, "link_backlog", float(end - cursor + len(items)))
        if not items:
            self.cursor = cursor
            if self.draining and wait_until is None:
                self.draining = False
                self.owner.side.recorder.event(
                    "link_caught_up",
                    node=self._owner_tag(),
                    task=self.owner.name,
                    value=now - self.began,
                    **self.ends(),
                )
            if wait_until is not None and wait_until - now < self.heartbeat:
                self.timer = Timer(self.env, wait_until - now, self._wake)
            else:
                # Idle (or held back for longer than a heartbeat): keep the connection alive.
                self.idle = wait_until is None
                self.timer = Timer(self.env, self.heartbeat, self._beat)
            return
        if self.etl:
            self.in_flight = True
            self.src_node.cpu.submit(cost, self._transformed, (items, cursor, size))
            return
        self._send(self.overhead + size, _receive_batch, (items, cursor))

    def _transformed(self, job: tuple[list[Doc], int, float]) -> None:
        items, cursor, size = job
        if not self.alive():
            self._broken("the sending node went down")
            return
        self._send(self.overhead + size, _receive_batch, (items, cursor))


# -- the receiving side (runs on a node of the other cluster)


def _accepts(node: Any, db: int) -> bool:
    inst = node.instances[db]
    return node.up and inst is not None and node.accepting and not node.disk_full


def _receive_handshake(stream: Stream, rid: int, _payload: Any) -> None:
    node = stream.dst_node
    db = stream.dst_side.group.db
    inst = node.instances[db]
    if not _accepts(node, db) or not inst.seeded:
        _reply(stream, rid, REFUSED)
        return
    _reply(stream, rid, ("hello", inst.last_from.get(stream.source_key, 0), list(inst.db_cv)))


def _hello_arrived(stream: Stream, rid: int, hello: tuple) -> None:
    """The receiver's hello reached the sending node (``from_receiver``)."""
    stream.answer(rid, hello)


def _receive_heartbeat(stream: Stream, rid: int, _payload: Any) -> None:
    node = stream.dst_node
    db = stream.dst_side.group.db
    _reply(stream, rid, ("beat", list(node.instances[db].db_cv)) if _accepts(node, db) else REFUSED)


def _receive_batch(stream: Stream, rid: int, payload: tuple[list[Doc], int]) -> None:
    node = stream.dst_node
    if not _accepts(node, stream.dst_side.group.db):
        _reply(stream, rid, REFUSED)
        return
    items, _end = payload
    cost = 0.0
    for _ in items:
        cost += node.service_write()
    node.cpu.submit(cost, _batch_processed, (stream, rid, payload, node.epoch))


def _batch_processed(job: tuple) -> None:
    stream, _rid, _payload, epoch = job
    node = stream.dst_node
    if node.epoch != epoch:
        return
    node.disk.write(_batch_committed, job, stream.dst_side.group.db)


def _batch_committed(job: tuple) -> None:
    stream, rid, payload, epoch = job
    node = stream.dst_node
    inst = node.instances[stream.dst_side.group.db]
    if node.epoch != epoch or inst is None:
        return
    items, end = payload
    now = stream.env.now
    recorder = stream.owner.side.recorder  # the task's cluster keeps the link's records
    entity = stream.entity
    if stream.etl:
        for doc in items:
            local = inst.docs.get(doc.key)
            if local is not None and local.write_id == doc.write_id:
                continue  # sent again after a failover: the same row, overwritten by id
            inst.commit_local(doc.key, doc.size, doc.write_id)
            recorder.sample(now, entity, "link_lag_ms", (now - doc.committed) * 1e3)
    else:
        docs = inst.docs
        before = {doc.key: docs[doc.key].write_id if doc.key in docs else None for doc in items}
        inst.apply_incoming(items, -1, from_outside=True)
        for doc in items:
            # A version newly visible here (not one already held that came back merged after a conflict).
            if before[doc.key] != doc.write_id and doc.key in docs and docs[doc.key].write_id == doc.write_id:
                before[doc.key] = doc.write_id
                recorder.sample(now, entity, "link_lag_ms", (now - doc.committed) * 1e3)
        if end > inst.last_from.get(stream.source_key, 0):
            inst.last_from[stream.source_key] = end
    _reply(stream, rid, ("ack", end, list(inst.db_cv), items))


def _reply(stream: Stream, rid: int, value: Any) -> None:
    stream.bridge.send(stream.dst_point, stream.src_point, CONTROL_BYTES, stream.answer, rid, value)


# -- the tasks


class _Connection:
    """A task's run on its responsible node: the streams it keeps open, the node of the
    other cluster it talks to, and the back-off after a failure."""

    def __init__(self, index: int):
        self.index = index
        self.streams: list[Stream] = []
        self.peer_position = 0  # index into the other cluster's node list
        self.errors = 0
        self.stopped = False
        self.timer: Timer | None = None
        self.run: LogRun | None = None  # ETL only


class _LinkTask(Task):
    """Shared by the three kinds: connect, fail over to the next node of the other cluster
    after a back-off, and stop when the framework says so."""

    def __init__(self, bridge: Network, overhead: float, side: Side, spec: Any, peer: Side):
        super().__init__(side.env, spec, side.nodes, side.cluster, side.recorder, side.group.name)
        self.side = side  # the task's own cluster
        self.bridge = bridge
        self.overhead = overhead
        self.peer = peer  # the other cluster
        self.runs: dict[int, _Connection] = {}
        self.delay = getattr(spec, "delay", 0.0)
        cfg = side.replication
        self.backoff_initial = cfg.reconnect_initial
        self.backoff_factor = cfg.reconnect_factor
        self.backoff_max = cfg.reconnect_max

    # -- the framework
    def start(self, index: int) -> None:
        """Node ``index`` took the task: connect to the first node of the other cluster's list."""
        conn = _Connection(index)
        self.runs[index] = conn
        self._connect(conn)

    def stop(self, index: int) -> None:
        """Node ``index`` no longer runs the task: close its streams and cancel a pending reconnection."""
        conn = self.runs.pop(index, None)
        if conn is None:
            return
        conn.stopped = True
        if conn.timer is not None:
            conn.timer.cancel()
        for stream in conn.streams:
            stream.close()
        conn.streams = []

    # -- connections
    def _connect(self, conn: _Connection) -> None:
        conn.timer = None
        if conn.stopped:
            return
        peers = database_nodes(self.peer)
        if not peers:
            self._retry(conn, f"cluster '{self.peer.name}' has no database node")
            return
        peer = peers[conn.peer_position % len(peers)]
        if self.peer.nodes[peer].instances[self.peer.group.db] is None:
            conn.peer_position += 1  # its copy is gone (the list was read a moment ago): the next one
            self._retry(conn, f"{self.peer.name}/{self.peer.nodes[peer].tag} holds no copy")
            return
        conn.streams = self.open_streams(conn, peer)

    def stream_connected(self, stream: Stream) -> None:
        """A stream's handshake was answered: the back-off starts again from its first step."""
        for conn in self.runs.values():
            if stream in conn.streams:
                conn.errors = 0

    def stream_progress(self, stream: Stream, items: list[Doc], end: int) -> None:
        """A batch of ``items`` reached the receiver, up to the sender's log position ``end``; only
        ETL keeps progress."""
        return None

    def stream_failed(self, stream: Stream, why: str) -> None:
        """A stream broke (``why``): close its siblings and, after the back-off, connect to the next
        node of the other cluster."""
        for conn in list(self.runs.values()):
            if stream in conn.streams:
                for other in conn.streams:
                    other.close()
                conn.streams = []
                conn.peer_position += 1  # the next node of the other cluster's list
                self._retry(conn, why)

    def _retry(self, conn: _Connection, why: str) -> None:
        conn.errors += 1
        wait = self.backoff(conn.errors)
        self.side.recorder.event(
            "link_failed", node=self.side.nodes[conn.index].tag, task=self.name, reason=why, wait_s=wait, value=wait
        )
        conn.timer = Timer(self.env, wait, self._connect, (conn,))

    def backoff(self, errors: int) -> float:
        """Seconds to wait before reconnecting after ``errors`` failures in a row: exponential, capped."""
        return min(self.backoff_initial * self.backoff_factor ** min(errors - 1, 60), self.backoff_max)

    def open_streams(self, conn: _Connection, peer: int) -> list[Stream]:
        """The streams of a connection from the task's node to node ``peer`` of the other cluster."""
        raise NotImplementedError


class ExternalReplication(_LinkTask):
    """External replication [spec §5.3], a task of the source cluster."""

    def open_streams(self, conn: _Connection, peer: int) -> list[Stream]:
        """One stream: this cluster's copy to node ``peer`` of the destination cluster."""
        return [Stream(self.bridge, self.overhead, self, (self.side, conn.index), (self.peer, peer), delay=self.delay)]


class HubSink(_LinkTask):
    """Hub/sink replication [spec §5.4], a task of the sink cluster (``side``); ``peer``
    is the hub."""

    def __init__(self, bridge: Network, overhead: float, side: Side, spec: Any, peer: Side):
        super().__init__(bridge, overhead, side, spec, peer)
        self.mode = spec.mode
        self.collections = frozenset(spec.collections) if spec.collections else None

    def open_streams(self, conn: _Connection, peer: int) -> list[Stream]:
        """Per ``mode``: the hub's copy to this sink node, this sink's copy to hub node ``peer``, or both."""
        streams = []
        if self.mode in ("hub_to_sink", "both"):
            streams.append(
                Stream(
                    self.bridge,
                    self.overhead,
                    self,
                    (self.peer, peer),
                    (self.side, conn.index),
                    delay=self.delay,
                    collections=self.collections,
                    from_receiver=True,  # the sink connects, and pulls
                )
            )
        if self.mode in ("sink_to_hub", "both"):
            streams.append(
                Stream(
                    self.bridge,
                    self.overhead,
                    self,
                    (self.side, conn.index),
                    (self.peer, peer),
                    delay=self.delay,
                    collections=self.collections,
                )
            )
        return streams


class RavenEtl(_LinkTask):
    """RavenDB ETL to a database in another cluster [spec §5.2], a task of the source."""

    def __init__(self, bridge: Network, overhead: float, side: Side, spec: Any, peer: Side):
        super().__init__(bridge, overhead, side, spec, peer)
        self.collections = frozenset(spec.collections) if spec.collections else None
        self.transform = side.streams.sampler(f"etl.{spec.name}.transform", spec.transform_cost)
        self.backoff_initial = spec.fallback_initial
        self.backoff_factor = 2.0
        self.backoff_max = spec.fallback_max
        # ETL.MaxNumberOfExtractedDocuments, MaxBatchSizeInMb, ExtractAndTransformTimeoutInSec [spec §5.2]
        self.limits = (spec.batch.max_documents, spec.batch.max_size, spec.batch.extract_timeout)
        self.reject_probability = spec.reject_probability
        self._reject_key = f"{side.streams.seed}|etl.{spec.name}.reject|".encode()

    def transform_fails(self, doc: Doc) -> bool:
        """The transform script fails on this version (a property of the version, so a re-sent batch
        meets the same verdict)."""
        return version_fails(self._reject_key, doc, self.reject_probability)

    def rejected(self, stream: Stream, doc: Doc) -> None:
        """A document the transform failed on is skipped with an ``etl_document_rejected`` alert;
        the batch goes on [spec §5.2]."""
        self.side.recorder.event(
            "etl_document_rejected",
            node=stream.src_node.tag,
            task=self.name,
            key=doc.key,
            write=doc.write_id,
            value=float(doc.key),
        )

    def open_streams(self, conn: _Connection, peer: int) -> list[Stream]:
        """One ETL stream to node ``peer``, reading the source's log from the task's persisted progress."""
        if conn.run is None or not conn.run.alive():
            conn.run = LogRun(self.nodes[conn.index], self.side.group.db)
            conn.run.resume(self.persisted(conn.index))
        return [
            Stream(
                self.bridge,
                self.overhead,
                self,
                (self.side, conn.index),
                (self.peer, peer),
                collections=self.collections,
                etl=True,
                start=conn.run,
                limits=self.limits,
            )
        ]

    def stream_progress(self, stream: Stream, items: list[Doc], end: int) -> None:
        """A batch was loaded: advance the run's change vector and log position and persist them in
        the source cluster."""
        run = stream.run
        for doc in items:
            raise_to(run.cv, doc.cv)
        run.cursor = end
        self.persist(run.index, (tuple(run.cv), run.inst.incarnation, end))

    def stop(self, index: int) -> None:
        """Node ``index`` no longer runs the task: end its log run, then close the streams."""
        conn = self.runs.get(index)
        if conn is not None and conn.run is not None:
            conn.run.stopped = True
        super().stop(index)


def make_link(spec: Any, sides: dict[str, Side], bridge: Network, overhead: float) -> tuple[str, Task]:
    """The task of one link, and the name of the cluster it belongs to."""
    if spec.kind == "hub_sink":
        return spec.sink, HubSink(bridge, overhead, sides[spec.sink], spec, sides[spec.hub])
    kind = ExternalReplication if spec.kind == "external_replication" else RavenEtl
    return spec.source, kind(bridge, overhead, sides[spec.source], spec, sides[spec.destination])

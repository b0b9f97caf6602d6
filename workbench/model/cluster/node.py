"""A server: request workers (CPU), a group-committing disk, and up/down state.

Both resources are callback queues rather than ``simpy.Resource``: a job is a
(service time, callback, argument) triple, and completions are timer-like events
(:class:`_Job`). A crash bumps the node's *epoch*; work scheduled under an older epoch
is silently dropped when it completes, which is how a crash loses in-flight
requests and unflushed writes while the disk (committed data) survives.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import simpy

from workbench.model.cluster.memory import cache_documents, hit_ratios
from workbench.model.cluster.observer import REPORT_BYTES
from workbench.model.database.database import (
    BATCH,
    CONFLICT,
    HANDSHAKE,
    NEEDS_SEED,
    REFUSED,
    SEED,
    DatabaseInstance,
    ReplicationChannel,
    compare,
)
from workbench.model.kernel.kernel import Agenda, Scheduled
from workbench.model.kernel.network import SERVER, SYN_BYTES, Network

if TYPE_CHECKING:
    from workbench.model.clients.client import Attempt, Request, TopologyFetch
    from workbench.model.cluster.rachis import Cluster
    from workbench.model.database.group import DatabaseGroup
    from workbench.model.recording.recorder import Recorder
    from workbench.scenario.schema import WriteAssurance


class _Job(Scheduled):
    """Work in service on a :class:`WorkerPool` or a :class:`Disk`, scheduled as its own event.

    A :class:`~workbench.model.kernel.kernel.Timer` inlined: built with no ``__init__`` and
    attribute stores, and firing calls the resource's completion with the job itself, so
    each completion costs one Python call and no argument tuple.
    """

    __slots__ = ("arg", "epoch", "fn")

    arg: Any
    epoch: int
    fn: Any


class WorkerPool:
    """``capacity`` identical workers, FIFO queue: an M/G/c station."""

    __slots__ = ("_area", "_done_callbacks", "_t", "agenda", "busy", "capacity", "completed", "env", "epoch", "queue")

    def __init__(self, env: simpy.Environment, capacity: int):
        self.env = env
        self.agenda: Agenda = env.agenda  # type: ignore[attr-defined]
        self.capacity = capacity
        self.busy = 0
        self.queue: deque[tuple[float, Callable[[Any], None], Any]] = deque()
        self.epoch = 0
        self.completed = 0
        self._area = 0.0  # integral of busy workers over time
        self._t = 0.0
        self._done_callbacks = (self._done,)  # shared by every job (step() never mutates it)

    def _serve(self, service: float, fn: Callable[[Any], None], arg: Any, epoch: int) -> None:
        job = _Job()
        job.callbacks = self._done_callbacks
        job.fn = fn
        job.arg = arg
        job.epoch = epoch
        agenda = self.agenda
        agenda.push(job, agenda.now + service)

    def submit(self, service: float, fn: Callable[[Any], None], arg: Any) -> None:
        """Queue a job of ``service`` seconds; ``fn(arg)`` is called when it completes, unless a crash came first."""
        if self.busy < self.capacity:
            agenda = self.agenda
            now = agenda.now
            self._area += self.busy * (now - self._t)
            self._t = now
            self.busy += 1
            self._serve(service, fn, arg, self.epoch)
        else:
            self.queue.append((service, fn, arg))

    def _done(self, job: _Job) -> None:
        epoch = job.epoch
        if epoch != self.epoch:
            return
        self.completed += 1
        if self.queue:
            service, nfn, narg = self.queue.popleft()
            self._serve(service, nfn, narg, epoch)
        else:
            now = self.agenda.now
            self._area += self.busy * (now - self._t)
            self._t = now
            self.busy -= 1
        job.fn(job.arg)

    def busy_time(self) -> float:
        """Worker-seconds of service delivered so far (for utilisation)."""
        return self._area + self.busy * (self.env.now - self._t)

    def reset(self) -> None:
        """Drop everything in service or waiting (a crash)."""
        now = self.env.now
        self._area += self.busy * (now - self._t)
        self._t = now
        self.epoch += 1
        self.busy = 0
        self.queue.clear()


class Disk:
    """One fsync at a time; writes that arrive meanwhile share the next fsync of their journal
    (group commit, as RavenDB's transaction merger batches concurrent writes).

    Each storage environment has its own journal (Voron: "within a given storage environment
    ... there can only be a single outstanding write, a single data flush and a single file
    sync", the book, Ch16): every database is one, and so is the server store that holds the
    Rachis log (``rachis.SERVER_STORE``). Writes to different journals never share an fsync; the
    journals with writes waiting take turns on the device, in the order their first waiting
    write arrived. A bulk read (a mentor reading its copy to seed a new one) holds the disk
    too, taking its turn before the next fsync."""

    __slots__ = (
        "_done_callbacks",
        "_fsync",
        "_read_callbacks",
        "agenda",
        "busy",
        "busy_s",
        "env",
        "epoch",
        "fsyncs",
        "journals",
        "max_batch",
        "order",
        "reads",
        "waiting",
        "writes",
    )

    def __init__(self, env: simpy.Environment, fsync: Callable[[], float], max_batch: int):
        self.env = env
        self.agenda: Agenda = env.agenda  # type: ignore[attr-defined]
        # A Sampler, or while a slow_disk fault lasts any draw of fsync times (faults._Scaled).
        self._fsync = fsync
        self.max_batch = max_batch
        # Per journal, the writes waiting for its next fsync: journal j (a database's index, or
        # rachis.SERVER_STORE = -1) at j + 1 (a list, grown as journals appear: cheaper than a dict).
        self.journals: list[deque[tuple[Callable[[Any], None], Any]]] = []
        self.order: deque[int] = deque()  # journals with writes waiting, in turn
        self.waiting = 0  # writes waiting, every journal's
        self.busy = False
        self.epoch = 0
        self.fsyncs = 0
        self.writes = 0
        self.busy_s = 0.0
        self._done_callbacks = (self._done,)
        self.reads: deque[tuple[float, Callable[[Any], None], Any]] = deque()
        self._read_callbacks = (self._read_done,)

    def write(self, fn: Callable[[Any], None], arg: Any, journal: int = 0) -> None:
        """Queue a write for the next fsync of its ``journal`` (group commit); ``fn(arg)`` is
        called once it is durable, unless a crash came first."""
        slot = journal + 1
        journals = self.journals
        while slot >= len(journals):
            journals.append(deque())
        queue = journals[slot]
        if not queue:
            self.order.append(journal)
        queue.append((fn, arg))
        self.waiting += 1
        if not self.busy:
            self._start()

    def read(self, seconds: float, fn: Callable[[Any], None], arg: Any) -> None:
        """Hold the disk for ``seconds`` of bulk reading, then call ``fn(arg)``."""
        self.reads.append((seconds, fn, arg))
        if not self.busy:
            self._start()

    def _start(self) -> None:
        if self.reads:
            # A read waiting goes first: the seed reads one chunk at a time, so writes never
            # starve, and a steady stream of writes cannot hold the read back for good.
            seconds, fn, arg = self.reads.popleft()
            self.busy = True
            self.busy_s += seconds
            read = _Job()
            read.callbacks = self._read_callbacks
            read.fn = fn
            read.arg = arg
            read.epoch = self.epoch
            self.agenda.push(read, self.agenda.now + seconds)
            return
        journal = self.order.popleft()
        pending = self.journals[journal + 1]
        if len(pending) <= self.max_batch:
            batch = list(pending)
            pending.clear()
        else:
            batch = [pending.popleft() for _ in range(self.max_batch)]
            self.order.append(journal)  # the rest waits for this journal's next turn
        self.waiting -= len(batch)
        self.busy = True
        took = self._fsync()
        self.busy_s += took  # fsync time started (for utilisation; a crash may cut the last one short)
        job = _Job()
        job.callbacks = self._done_callbacks
        job.arg = batch
        job.epoch = self.epoch
        agenda = self.agenda
        agenda.push(job, agenda.now + took)

    def _done(self, job: _Job) -> None:
        if job.epoch != self.epoch:
            return
        batch: list[tuple[Callable[[Any], None], Any]] = job.arg
        self.fsyncs += 1
        self.writes += len(batch)
        self.busy = False
        if self.waiting or self.reads:
            self._start()
        for fn, arg in batch:
            fn(arg)

    def _read_done(self, job: _Job) -> None:
        if job.epoch != self.epoch:
            return
        self.busy = False
        if self.waiting or self.reads:
            self._start()
        job.fn(job.arg)

    def reset(self) -> None:
        """A crash: drop the fsync in progress, the writes waiting for the next one and the bulk reads."""
        self.epoch += 1
        self.busy = False
        for queue in self.journals:
            queue.clear()
        self.order.clear()
        self.waiting = 0
        self.reads.clear()


class Node:
    """A RavenDB server. It hosts at most one copy of each of its cluster's databases."""

    def __init__(
        self,
        env: simpy.Environment,
        index: int,
        tag: str,
        workers: int,
        fsync: Callable[[], float],
        max_writes_per_fsync: int,
    ):
        self.env = env
        self.index = index
        self.tag = tag
        self.up = True
        self.epoch = 0
        self.cpu = WorkerPool(env, workers)
        self.disk = Disk(env, fsync, max_writes_per_fsync)
        # Its copy of each of the cluster's databases, by the database's index (None: no copy).
        self.instances: list[DatabaseInstance | None] = []
        # Client requests being served, so a crash can reset their connections. A dict, not a
        # set: a crash resets them in the order they arrived, never in an order that depends
        # on where the objects happen to live in memory (a set of objects hashed by identity).
        self.in_flight: dict[Any, None] = {}
        # Down without a trace (how: silent): nothing answers, not even a reset.
        self.silent = False

    def crash(self, silent: bool = False) -> None:
        """The process dies: work in service or queued on CPU and disk is lost; committed data
        stays. ``silent``: the machine vanished without a trace (no resets)."""
        self.up = False
        self.silent = silent
        self.epoch += 1
        self.cpu.reset()
        self.disk.reset()

    def restart(self) -> None:
        """The process starts again, in a new epoch."""
        self.up = True
        self.silent = False
        self.epoch += 1


class Server(Node):
    """A node wired into its cluster: it answers client and replication requests.

    Built with the environment, its hardware, the random streams, the network and its fixed
    settings (request and replication framing, write assurance). The peers made after the
    servers (the recorder, the change-vector layout, the database groups and Rachis) are
    handed over by :meth:`connect`, which the builder calls before the first event. A request
    or a replication message says which database it is for (its client's or its source
    copy's ``db``); each database's documents and keys are its copy's.
    """

    # Wired by connect().
    recorder: Recorder
    groups: list[DatabaseGroup]
    cluster: Cluster
    zero_cv: tuple[int, ...]

    def __init__(
        self,
        env: simpy.Environment,
        index: int,
        tag: str,
        hardware: Any,
        streams: Any,
        network: Network,
        client_overhead: float,
        repl_overhead: float,
        write_assurance: WriteAssurance,
    ):
        super().__init__(
            env,
            index,
            tag,
            hardware.workers,
            streams.sampler(f"service.fsync.{tag}", hardware.fsync),
            hardware.max_writes_per_fsync,
        )
        self.network = network
        # Handlers bound once: a bound method per message or job is an allocation and a lookup.
        self.deliver_request: Callable[[Attempt], None] = self.receive_request
        self.deliver_replication: Callable[..., None] = self.receive_replication
        self._on_read_served: Callable[[Attempt], None] = self._read_done
        self._on_write_served: Callable[[Attempt], None] = self._write_cpu_done
        self.client_overhead = client_overhead  # fixed for the run
        self.repl_overhead = repl_overhead
        svc = hardware.service
        self.service_read = streams.sampler(f"service.read.{tag}", svc.read)
        self.service_write = streams.sampler(f"service.write.{tag}", svc.write)
        self.service_query = streams.sampler(f"service.query.{tag}", svc.query)
        self.write_assurance = write_assurance
        self.requests = 0  # client requests received, speed-test copies included
        self.speed_test_requests = 0
        self.accepting = True  # False while a graceful shutdown drains
        self.wiped = False  # the disk was lost: the copy restarts empty
        self.disk_full = False
        self._normal_fsync = self.disk._fsync
        # The cost of density (workbench.model.cluster.memory): page-cache misses read from the
        # disk's read queues before the CPU; background work of the other active databases
        # stretches every CPU service time (1.0 with one active database: the same numbers).
        self.hardware = hardware
        self.page_reads = WorkerPool(env, hardware.read_parallelism)
        self.page_read = streams.sampler(f"service.page_read.{tag}", hardware.page_read)
        self._cache_rng: Any = streams.rng(f"cache.{tag}")
        self._misses: list[float] = []
        self._miss_i = 0
        self.cpu_stretch = 1.0

    def connect(
        self, recorder: Recorder, zero_cv: tuple[int, ...], groups: list[DatabaseGroup], cluster: Cluster
    ) -> None:
        """Hand over the peers built after the servers: the recorder, the empty change vector,
        the database groups (the copies and their channels, one group per database, in the
        cluster's order) and Rachis. The builder calls it once, before the first event."""
        self.recorder = recorder
        self.zero_cv = zero_cv
        self.groups = groups
        self.instances = [None] * len(groups)
        self.cluster = cluster

    # -- replication (server side)
    def receive_replication(
        self, channel: ReplicationChannel, kind: str, rid: int, payload: Any, safe_cursor: int
    ) -> None:
        """A replication request from ``channel`` (handshake, seed, batch or keep-alive) arrives at
        this node.

        A batch costs ``service.write`` per item on the CPU (plus conflict resolver scripts), then
        one fsync, and is answered with this copy's change vector once committed
        (``IncomingReplicationHandler``). A handshake is answered with the last log position
        received from that source copy, or a request for a seed if this copy has none yet. Refused
        while down, without a copy, draining or faulted; a vanished machine answers nothing."""
        src = channel.src.node.index
        # Positions are per copy of the source (RavenDB keys them by database id): a source
        # that lost its disk, or whose copy was deleted and re-created, starts again at 0.
        copy_id = channel.src.incarnation
        inst = self.instances[channel.src.db]
        if not self.up or inst is None or not self.accepting or self.disk_full:
            if not self.silent:
                self._reply_replication(channel, rid, REFUSED)
            return
        if kind == HANDSHAKE:
            if not inst.seeded:
                self._reply_replication(channel, rid, NEEDS_SEED)
            else:
                self._reply_replication(channel, rid, (inst.last_from.get(copy_id, 0), list(inst.db_cv)))
        elif kind == SEED:
            docs, db_cv, _position = payload
            inst.install_snapshot(docs, db_cv)
            inst.last_from[copy_id] = _position
            self._reply_replication(channel, rid, list(inst.db_cv))
        elif kind == BATCH:
            # RavenDB: IncomingReplicationHandler.ReceiveSingleDocumentsBatch hands the batch to the
            # transaction merger (MergedDocumentReplicationCommand): CPU per item, then the journal write.
            cost = 0.0
            sample = self.service_write
            # Sampler.__call__ inlined (values left in its buffer).
            i = sample._i
            buf = sample._buf
            if i + len(payload) <= len(buf):
                for value in buf[i : i + len(payload)]:
                    cost += value
                sample._i = i + len(payload)
            else:
                for _ in payload:
                    cost += sample()
            job = (channel, rid, payload, safe_cursor, src)
            if inst.miss_ratio > 0.0:
                # The merger applies the batch item by item, reading each page it misses from
                # the disk in turn.
                misses = int(self._cache_rng.binomial(len(payload), inst.miss_ratio))
                if misses:
                    reading = 0.0
                    for _ in range(misses):
                        reading += self.page_read()
                    self.page_reads.submit(reading, self._batch_pages_read, (cost, job))
                    return
            self.cpu.submit(cost * self.cpu_stretch, self._replication_cpu_done, job)
        else:  # heartbeat
            if safe_cursor > inst.last_from.get(copy_id, 0):
                inst.last_from[copy_id] = safe_cursor
            self._reply_replication(channel, rid, list(inst.db_cv))

    def _batch_pages_read(self, work: tuple) -> None:
        cost, job = work
        self.cpu.submit(cost * self.cpu_stretch, self._replication_cpu_done, job)

    def _replication_cpu_done(self, job: tuple) -> None:
        channel: ReplicationChannel = job[0]
        inst = self.instances[channel.src.db]
        if inst is not None and inst.has_scripts:
            # Resolver scripts run inside the batch's transaction, so the batch waits for them.
            docs = inst.docs
            keyspace = inst.keyspace
            cost = 0.0
            for item in job[2]:
                local = docs.get(item.key)
                if local is not None and local.write_id != item.write_id and compare(item.cv, local.cv) == CONFLICT:
                    script = keyspace.script_cost(item.key)
                    if script is not None and item.cluster_tx == local.cluster_tx:
                        cost += script
            if cost > 0:
                self.cpu.submit(cost, self._scripts_done, job)
                return
        self.disk.write(self._replication_committed, job, channel.src.db)

    def _scripts_done(self, job: tuple) -> None:
        channel: ReplicationChannel = job[0]
        self.disk.write(self._replication_committed, job, channel.src.db)

    def _replication_committed(self, job: tuple) -> None:
        # Readable once the merger's transaction commits; then SendHeartbeatStatusToSource answers.
        channel: ReplicationChannel = job[0]
        _, rid, payload, safe_cursor, src = job
        inst = self.instances[channel.src.db]
        assert inst is not None  # a crash or a removed copy drops the job before it commits
        inst.apply_incoming(payload, src)
        copy_id = channel.src.incarnation
        if safe_cursor > inst.last_from.get(copy_id, 0):
            inst.last_from[copy_id] = safe_cursor
        self.network.send_tcp(
            self.index, channel.src.node.index, self.repl_overhead, SERVER, channel._answer, rid, list(inst.db_cv)
        )

    def _reply_replication(self, channel: Any, rid: int, value: Any) -> None:
        self.network.send_tcp(
            self.index, channel.src.node.index, self.repl_overhead, SERVER, channel._answer, rid, value
        )

    # -- crash and restart
    def crash(self, silent: bool = False) -> None:
        """The process dies (see :meth:`Node.crash`), and Rachis with it. Its kernel resets the
        connections of clients and replication sources (if the network lets the resets through);
        a ``silent`` crash cuts the machine off instead, so they wait for their timeouts."""
        super().crash(silent)
        self.page_reads.reset()
        network = self.network
        network.forget(self.index)  # what it was still retransmitting dies with it
        self.cluster.crash(self.index)
        if silent:
            # A vanished machine tells nobody and acknowledges nothing: what is sent to it is
            # retransmitted until its senders give up, and requests it had received wait for
            # their clients' timeouts.
            network.isolate(f"silent:{self.tag}", [self.index])
            self.in_flight.clear()
            return
        # The OS resets the dead process's connections: clients and replication
        # sources learn at once (if the network lets the reset through).
        for attempt in list(self.in_flight):
            self.network.send(self.index, attempt.client.index, self.client_overhead, attempt.client.on_reset, attempt)
        self.in_flight.clear()
        for group in self.groups:
            for inst in group.instances:
                for ch in inst.channels:
                    if ch.dst == self.index and ch.alive():
                        self.network.send(self.index, inst.node.index, self.repl_overhead, ch.connection_reset)

    def restart(self) -> None:
        """The process starts again: back on the network, Rachis restarts, and replication reopens
        (an empty copy if its disk was wiped)."""
        if self.silent:
            # Back on the network: segments still being retransmitted to it now reach a machine
            # that has no such connection, and are answered with resets.
            self.network.isolate(f"silent:{self.tag}", [])
        super().restart()
        self.accepting = True
        if self.wiped:
            self.wiped = False
            if any(inst is not None for inst in self.instances):
                # Amnesia: the copies come back empty; every peer's handshake now finds them at
                # position 0 and sends them everything again. (The Raft state is kept: in RavenDB
                # a node with a lost disk must be removed and re-added to the cluster, an
                # operator procedure this model does not run.)
                for group in self.groups:
                    if self.instances[group.db] is not None:
                        group.renew_copy(self.index)
                self.recorder.event("disk_wiped", node=self.tag)
        self.cluster.restart(self.index)
        if not self.disk_full:
            for group in self.groups:
                if self.instances[group.db] is not None:
                    group.sync_channels(self.index)

    def shutdown(self, grace: float) -> Any:
        """Graceful stop (a SimPy process): refuse new work, let requests in flight and
        pending disk writes finish (at most ``grace``), then stop."""
        self.accepting = False
        deadline = self.env.now + grace
        while (self.in_flight or self.disk.busy or self.disk.waiting) and self.env.now < deadline:
            yield self.env.timeout(0.01)
        if self.up:
            self.crash()

    # -- disk faults
    def fill_disk(self) -> None:
        """Writes fail and the database faults: it answers 503, stops replicating and
        reports no status, so the observer treats it as silent [spec §2.3]."""
        self.disk_full = True
        for inst in self.instances:
            if inst is not None:
                inst.sync_channels([])
                self.recorder.event("database_faulted", node=self.tag, database=inst.name)

    def free_disk(self) -> None:
        """Space was freed: the database recovers from its fault and replication reopens."""
        self.disk_full = False
        if self.up:
            for group in self.groups:
                inst = self.instances[group.db]
                if inst is not None:
                    group.sync_channels(self.index)
                    self.recorder.event("database_recovered", node=self.tag, database=inst.name)

    def slow_disk(self, fsync: Any) -> None:
        """A slow-disk fault: fsync times are drawn from ``fsync`` until :meth:`restore_disk`."""
        self.disk._fsync = fsync

    def restore_disk(self) -> None:
        """The slow-disk fault ends: fsync times come from the hardware's distribution again."""
        self.disk._fsync = self._normal_fsync

    # -- client requests (server side)
    def receive_syn(self, stream: Request) -> None:
        """A client opens a connection: the kernel answers for a live machine, whatever the
        database; a dead process's port, or a server that stopped listening, resets it."""
        client = stream.client
        if not self.up or not self.accepting:
            if not self.silent:
                self.network.send(self.index, client.index, SYN_BYTES, client.on_reset, stream)
            return
        self.network.send_tcp(self.index, client.index, SYN_BYTES, SERVER, client.on_connected, stream, self.epoch)

    def receive_request(self, attempt: Attempt) -> None:
        """A client request arrives on its connection: refused (a reset, 410 or 503:
        :meth:`_refuse`) when the node cannot serve it, else served on the CPU by kind (read, write,
        query, transaction, cluster-wide operation) and answered once done."""
        inst = self.instances[attempt.client.db]
        if (
            not self.up
            or not self.accepting
            or inst is None
            or not inst.seeded
            or self.disk_full
            or attempt.epoch != self.epoch
        ):
            self._refuse(attempt)
            return
        self.in_flight[attempt] = None
        self.requests += 1
        if attempt.probe:
            self.speed_test_requests += 1
        kind = attempt.op.kind
        if kind == 0:  # read
            sampler, done = self.service_read, self._on_read_served
        elif kind == 1:  # write
            sampler, done = self.service_write, self._on_write_served
        elif kind == 2:  # query
            sampler, done = self.service_query, self._query_done
        elif kind == 5:  # multi-document transaction: one SaveChanges, one fsync
            cost = 0.0
            for _ in range(inst.transaction_documents):
                cost += self.service_write()
            self.cpu.submit(cost * self.cpu_stretch, self._write_cpu_done, attempt)
            return
        else:  # cluster_tx, compare_exchange: through the Raft log
            self.cpu.submit(self.service_write() * self.cpu_stretch, self._cluster_cpu_done, attempt)
            return
        # Sampler.__call__ inlined (a value left in its buffer): once per request.
        i = sampler._i
        buf = sampler._buf
        if i < len(buf):
            sampler._i = i + 1
            service = buf[i]
        else:
            service = sampler()
        if inst.miss_ratio > 0.0 and kind != 2 and self._missed(inst.miss_ratio):
            # The document is not in the page cache: read it from the disk first.
            self.page_reads.submit(self.page_read(), self._page_read_done, (service, done, attempt))
            return
        self.cpu.submit(service * self.cpu_stretch, done, attempt)

    def _missed(self, ratio: float) -> bool:
        """One draw: does this request miss the page cache (probability ``ratio``)?"""
        i = self._miss_i
        if i >= len(self._misses):
            self._misses = self._cache_rng.random(1024).tolist()
            i = 0
        self._miss_i = i + 1
        return self._misses[i] < ratio

    def _page_read_done(self, job: tuple) -> None:
        service, done, attempt = job
        self.cpu.submit(service * self.cpu_stretch, done, attempt)

    def refresh_memory(self) -> None:
        """The copies on this node changed: each copy's page-cache miss ratio, and the CPU the
        other active databases' background work takes (``workbench.model.cluster.memory``)."""
        copies = [inst for inst in self.instances if inst is not None]
        hw = self.hardware
        profiles = [self.groups[inst.db].profile for inst in copies]
        active = sum(1 for p in profiles if p is not None and p.weight > 0)
        if copies:
            size = copies[0].keyspace.initial_size
            capacity = cache_documents(hw.memory, hw.page_cache_share, hw.memory_per_database, active, size)
            known = [p for p in profiles if p is not None]
            ratios = iter(hit_ratios(capacity, known))
            for inst, profile in zip(copies, profiles, strict=True):
                hit = next(ratios) if profile is not None else 1.0
                inst.miss_ratio = 0.0 if hit >= 1.0 - 1e-12 else 1.0 - hit
        extra = max(0, active - 1) * hw.background_cores_per_database
        self.cpu_stretch = 1.0 / (1.0 - min(extra / self.cpu.capacity, 0.99)) if extra > 0 else 1.0

    def _refuse(self, attempt: Attempt) -> None:
        """A request this node cannot serve: reset, 410 or 503."""
        client = attempt.client
        if self.silent:
            return  # the machine is gone: the request is simply never answered
        if self.up and attempt.epoch != self.epoch:
            # A connection from before a restart: reset, and the HTTP client retries the request
            # on a new connection by itself (a pooled connection that fails before any answer).
            self.network.send(self.index, client.index, self.client_overhead, client.on_stale, attempt)
        elif not self.up or not self.accepting:
            # A dead process's port: reset.
            self.network.send(self.index, client.index, self.client_overhead, client.on_reset, attempt)
        elif self.instances[attempt.client.db] is None:
            # 410 Gone: the database is not (or no longer) on this node [spec §4.3].
            self.network.send_tcp(self.index, client.index, self.client_overhead, SERVER, client.on_gone, attempt)
        else:
            # 503: the copy exists but holds no data yet (or the disk is full); the client
            # fails over as for a dead node.
            self.network.send_tcp(
                self.index, client.index, self.client_overhead, SERVER, client.on_unavailable, attempt
            )

    def _respond(self, attempt: Attempt, doc: Any, size: float) -> None:
        self.in_flight.pop(attempt, None)
        client = attempt.client
        self.network.send_tcp(self.index, client.index, size, SERVER, client.deliver_response, attempt, doc)

    def _read_done(self, attempt: Attempt) -> None:
        # DatabaseInstance.read and _respond inlined: once per read.
        client = attempt.client
        inst = self.instances[client.db]
        assert inst is not None  # the request was accepted, so the node holds a copy
        doc = inst.docs.get(attempt.op.key)
        size = self.client_overhead + (doc.size if doc is not None else inst.initial_size)
        self.in_flight.pop(attempt, None)
        self.network.send_tcp(self.index, client.index, size, SERVER, client.deliver_response, attempt, doc)

    def _query_done(self, attempt: Attempt) -> None:
        inst = self.instances[attempt.client.db]
        assert inst is not None  # the request was accepted, so the node holds a copy
        self._respond(attempt, None, self.client_overhead + inst.query_response_size)

    def _write_cpu_done(self, attempt: Attempt) -> None:
        self.disk.write(self._write_committed, attempt, attempt.client.db)

    def _write_committed(self, attempt: Attempt) -> None:
        op = attempt.op
        inst = self.instances[attempt.client.db]
        assert inst is not None  # the request was accepted, so the node holds a copy
        answer: Any  # what the client gets: the document, or a transaction's documents
        if op.kind == 5:
            docs = inst.commit_transaction(inst.keyspace.transaction_keys(op.key), op.size, op.write_id)
            doc, answer = docs[-1], docs
        else:
            doc = answer = inst.commit_local(op.key, op.size, op.write_id)
        assurance = self.write_assurance
        siblings = len(inst.channels)
        if not assurance.replicas or siblings == 0:  # a database with no siblings ignores it
            # _respond inlined.
            self.in_flight.pop(attempt, None)
            client = attempt.client
            self.network.send_tcp(
                self.index, client.index, self.client_overhead, SERVER, client.deliver_response, attempt, answer
            )
            return
        # Majority is counted over the other members only: (siblings + 1) / 2 + 1 [spec §3.6]
        # (Replication/ReplicationLoader.cs ``GetSizeOfMajority``). On a two-node group that is 2
        # of its 1 sibling: it can never be met, and every such write ends in the timeout's
        # error though it is stored. (Older versions used siblings / 2 + 1.)
        majority = (siblings + 1) // 2 + 1
        needed = majority if assurance.replicas == "majority" else assurance.replicas
        epoch = self.epoch

        def replicated(ok: bool) -> None:
            """Write assurance settled (``ok``: enough replicas confirmed in time): answer the
            client, or send it the timeout error."""
            if self.epoch != epoch:
                return
            if ok or not assurance.throw_on_timeout:
                self._respond(attempt, answer, self.client_overhead)
            else:
                # Not a distributed transaction: the write stays stored; the client gets an error.
                self.in_flight.pop(attempt, None)
                client = attempt.client
                self.network.send_tcp(
                    self.index, client.index, self.client_overhead, SERVER, client.on_write_timeout, attempt, doc
                )

        inst.wait_for_replicas(doc, needed, assurance.timeout, replicated)

    def _cluster_cpu_done(self, attempt: Attempt) -> None:
        op = attempt.op
        rachis = self.cluster.nodes[self.index]
        epoch = self.epoch
        payload: tuple
        if op.kind == 3:
            payload, kind, size = (op.key, op.size, op.write_id, attempt.client.db), "cluster_tx", op.size
        else:
            # Claim-and-release: put a key the client does not hold, delete one it holds.
            held = attempt.client.compare_exchange_index.get(op.key, 0)
            payload = (op.key, held, held != 0)
            kind, size = "compare_exchange", 100.0

        def done(outcome: tuple) -> None:
            """The Raft command's outcome: a cluster transaction replies once its documents are on
            disk, anything else at once."""
            if self.epoch != epoch:
                return  # crashed meanwhile: the client already got a reset
            ok, index, result = outcome
            if ok and kind == "cluster_tx":
                # Reply once the documents are persisted locally [spec §6].
                self.disk.write(self._cluster_reply, (attempt, ok, index, result), attempt.client.db)
            else:
                self._cluster_reply((attempt, ok, index, result))

        rachis.submit(kind, payload, size, done)

    def _cluster_reply(self, job: tuple) -> None:
        attempt, ok, index, result = job
        self.in_flight.pop(attempt, None)
        client = attempt.client
        self.network.send_tcp(
            self.index,
            client.index,
            self.client_overhead,
            SERVER,
            client.on_cluster_response,
            attempt,
            ok,
            index,
            result,
        )

    def receive_topology_request(self, fetch: TopologyFetch) -> None:
        """GET /topology: any live node answers with its cluster's view of the database."""
        client = fetch.client
        if not self.up:
            if not self.silent:
                self.network.send(self.index, client.index, self.client_overhead, client.on_reset, fetch)
            return
        if fetch.epoch != self.epoch:
            self.network.send(self.index, client.index, self.client_overhead, client.on_stale, fetch)
            return
        topo = self.cluster.nodes[self.index].state_machine.databases[client.db_name]
        self.network.send_tcp(
            self.index, client.index, self.client_overhead, SERVER, client.on_topology, fetch, topo.copy()
        )

    def report(self) -> tuple[tuple[int, ...], ...] | None:
        """What the maintenance worker reports: each database's change vector, in the cluster's
        order (the empty vector where it holds no copy); nothing while its disk is full (every
        database faulted)."""
        if self.disk_full:
            return None
        zero = self.zero_cv
        return tuple([tuple(inst.db_cv) if inst is not None else zero for inst in self.instances])

    def receive_report_request(self, observer: Any) -> None:
        """The observer's poll: a live node answers with its report (:meth:`report`)."""
        if self.up:
            self.network.send(
                self.index, observer.raft.index, REPORT_BYTES, observer.on_report, self.index, self.report()
            )

    def receive_health_check(self, client: Any) -> None:
        """The check reads the database's statistics, so a node without a usable copy fails it."""
        inst = self.instances[client.db]
        if self.up and self.accepting and inst is not None and inst.seeded and not self.disk_full:
            self.network.send(self.index, client.index, self.client_overhead, client.on_health_ok, self.index)

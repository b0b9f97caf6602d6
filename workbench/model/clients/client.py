"""Clients: RavenDB's RequestExecutor [spec §4].

Topology [spec §4.1] (``RequestExecutor.cs``): a client starts from its URL list
(``clients.urls``) and, before its first request, fetches the database topology
from the first listed node that answers (``FirstTopologyUpdate``; each fetch is a
``GetDatabaseTopologyCommand`` with a 15 s timeout). Operations issued meanwhile
wait. When no listed node answers it uses the topology cached on disk
(``TryLoadFromCache``, unless ``clients.topology_cache`` is off) or fails the
waiting operations, and the next one starts over. Every response tells whether the
server knows a newer topology (its etag); the client then fetches it from that node
and the request that brought the news returns only once the fetch is done, unless a
fetch is already running (``UpdateTopologyAsync`` with a zero semaphore wait).
Every ``clients.topology_poll`` (5 min) it fetches from the preferred node if no
response came for that long (``UpdateTopologyCallback``). The disk cache survives
a ``client_restart``.

Node selection: writes go to the preferred node (the first in topology order
whose failure counter is zero); reads follow ``ReadBalanceBehavior`` ``None``
(preferred node) or ``RoundRobin`` (node ``session_id % N``, skipping failed
nodes; balancing is per session, not per request). ``UseSessionContext``
hashes the session's context to a node for reads and writes, before either.

Connections: a client holds one connection per node, opened by the first
request to it (a SYN round trip first) and closed when it is reset, when its
retransmissions run out (the network's TCP model), or when a request on it
times out (the HTTP client abandons it). A request on a connection to a
machine that rebooted since is answered with a reset. Requests are TCP
segments: across a partition they are retransmitted and arrive after it heals,
unless the request timeout or the retries give up first. The client sets no TCP
keep-alive, so a request whose server vanished after receiving it waits for
the request timeout.

Failover: a connection refused or reset, broken by TCP, or no answer within the
request timeout, marks the node failed (health checks start: 100 ms, +100 ms per try,
capped at 5 s) and the operation retries on the next preferred node it has not
tried; the set of tried nodes resets when the topology changes. When every node
has been tried the operation ends with outcome ``all_nodes_down``. A 503 (a
copy with no data yet) is handled like a dead node. A 410 (the database is not
on that node) marks the node failed too; when every node answered 410 the client
forces a topology update from the last of them (GetDatabaseTopologyCommand's
15 s timeout; the spec's 60 s is older) and retries once, without further
failover. Health checks read the database, so a node without a usable copy never
passes one.

``FastestNode`` runs a speed test: each read is also sent to every other member;
the first answer scores; the first node to 10 points (or the best after N×10
races) serves this client's reads until the next test, one minute later, after a
topology change, or as soon as it fails. Outcome
``timeout`` is a server that answered with a timeout error (no leader within
the operation timeout, write assurance not met); ``conflict`` is a read of a
conflicted document (HTTP 409, no failover).
"""

from __future__ import annotations

import zlib
from bisect import bisect_right
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.model.kernel.kernel import Agenda, Timer
from workbench.model.kernel.network import SYN_BYTES, Stream
from workbench.model.recording.recorder import OP_CHUNK

if TYPE_CHECKING:
    import simpy

    from workbench.model.cluster.node import Server
    from workbench.model.cluster.rachis import Cluster, DbTopology, RaftNode
    from workbench.model.database.database import Doc
    from workbench.model.database.ledger import WriteLedger
    from workbench.model.database.versions import Versions
    from workbench.model.kernel.kernel import Streams
    from workbench.model.kernel.network import Network
    from workbench.model.recording.recorder import Recorder
    from workbench.scenario.schema import ClientSpec

# Indices into the ops table's codes (workbench.model.recording.tables.OP_KINDS, OUTCOMES).
READ, WRITE, QUERY, CLUSTER_TX, COMPARE_EXCHANGE, TRANSACTION = 0, 1, 2, 3, 4, 5
# GetDatabaseTopologyCommand's timeout (a longer request timeout, when one is set, replaces it).
TOPOLOGY_TIMEOUT = 15.0
# Why a topology is fetched.
BOOTSTRAP, REFRESH, POLL, GONE = 0, 1, 2, 3
OK, FAILED, TIMEOUT, ALL_NODES_DOWN, CONFLICT, UNFINISHED = 0, 1, 2, 3, 4, 5


class Op:
    """One client operation, across all its attempts."""

    __slots__ = (
        "attempts",
        "client",
        "etag",
        "expect",
        "key",
        "kind",
        "own",
        "race",
        "refreshed",
        "session",
        "size",
        "start",
        "tried",
        "write_id",
    )

    def __init__(self, client: Client, kind: int, key: int, size: float, session: int, start: float):
        self.client = client
        self.kind = kind
        self.key = key
        self.size = size
        self.session = session
        self.start = start
        self.attempts = 0
        self.tried: list[int] = []
        self.expect: tuple[int, int] | None = None  # (cv position, etag) of the newest acked write
        self.write_id = 0
        self.own: tuple[int, int] | None = None  # (cv position, etag) of this session's last write of the key
        self.etag = client.topology_etag  # the topology the operation started with
        self.race: list[bool] | None = None  # FastestNode speed test: [decided] shared by the copies
        self.refreshed = False  # a 410 on every node forced a topology update: one last retry


class Request(Stream):
    """What a client sends on its connection to one node (an operation's attempt, or a
    topology fetch): the connection's sending side while it waits (see
    :class:`~workbench.model.kernel.network.Stream`). ``done``: answered or abandoned, so its
    segments are no longer wanted; ``epoch``: the server's epoch when the connection opened."""

    __slots__ = ("client", "done", "epoch", "node")

    client: Client
    node: int
    done: bool
    epoch: int

    def wanted(self, args: tuple) -> bool:
        """Its segments are still wanted until the request is answered or abandoned."""
        return not self.done


class Attempt(Request):
    """One request of an operation to one node."""

    __slots__ = ("deadline", "op", "probe")

    def __init__(self, op: Op, node: int, probe: bool = False):
        self.op = op
        self.client = op.client
        self.node = node
        self.done = False
        self.probe = probe  # a speed-test copy of a read: only its timing matters
        self.deadline = 0.0  # when the request times out (set when it is sent)
        self.syn = False  # True while its connection is being opened
        self.epoch = 0

    def connection_lost(self, args: tuple) -> None:
        """TCP gave up on the connection under this request: the client fails over
        (:meth:`Client.on_connection_broken`)."""
        self.client.on_connection_broken(self)


class TopologyFetch(Request):
    """A GET /topology to one node, and what waits on it."""

    __slots__ = ("index", "op", "purpose", "timer", "waiters")

    def __init__(self, client: Client, node: int, purpose: int):
        self.client = client
        self.node = node
        self.purpose = purpose
        self.done = False
        self.syn = False
        self.epoch = 0
        self.index = 0  # BOOTSTRAP: the node's place in the URL list
        self.op: Op | None = None  # GONE: the operation to retry with the new topology
        self.waiters: list[tuple] = []  # REFRESH: operations answered, returned once it is done
        self.timer: Timer | None = None

    def connection_lost(self, args: tuple) -> None:
        """TCP gave up on the connection: it is closed, and the fetch failed (:meth:`Client.fetch_failed`)."""
        self.client.connections[self.node] = -1
        self.client.fetch_failed(self)


class Client:
    """One application's RavenDB client, a ``RequestExecutor`` [spec §4]: its topology, node
    selection, connections, failover, health checks and the ``FastestNode`` speed test. Each
    operation it submits ends in exactly one row of the ops table (see the module docstring).

    ``index`` is its network endpoint, ``cid`` its place among the clients, ``urls`` its URL
    list (node indices), ``spec`` the scenario's ``clients`` settings; ``session_length`` and
    ``transaction_documents`` come from the workload. Its peers: the ``network``, the
    ``servers`` (by node index), the Rachis ``cluster`` (whose nodes say which topology each
    server knows), the ``recorder`` (events and the ops table), the write ``ledger`` and the
    ``versions`` (write ids, the RAFT entry of the change vectors). ``streams`` gives it its
    own random stream (session contexts)."""

    def __init__(
        self,
        env: simpy.Environment,
        index: int,
        cid: int,
        urls: list[int],
        spec: ClientSpec,
        *,
        session_length: int,
        transaction_documents: int,
        db_name: str,
        db: int = 0,
        network: Network,
        servers: list[Server],
        cluster: Cluster,
        recorder: Recorder,
        ledger: WriteLedger,
        versions: Versions,
        streams: Streams,
    ):
        self.network: Network = network
        self.servers: list[Server] = servers
        # The parts this client touches on every operation, held directly (they are
        # created before the clients and never replaced).
        self.raft_nodes: list[RaftNode] = cluster.nodes
        self.db_name: str = db_name
        self.db: int = db  # the database's place in the cluster: servers keep their copies by it
        # On an application server of several databases, its first executor hands each session
        # to the database it works on (DatabaseRouter); None: this executor takes the operation.
        self.router: DatabaseRouter | None = None
        self.recorder: Recorder = recorder
        self.op_rows: list[tuple] = recorder.op_rows  # the same list for the whole run (flush_ops clears it)
        self.ledger: WriteLedger = ledger
        self.acked: dict[int, tuple[int, int]] = ledger.newest  # key -> (cv position, etag), newest acked
        self.versions: Versions = versions  # hands out the write ids
        self.raft_position: int = versions.raft_position  # the change vectors' RAFT entry, fixed for the run
        self.transaction_documents: int = transaction_documents
        self.env = env
        self.agenda: Agenda = env.agenda  # type: ignore[attr-defined]
        # on_response bound once: a bound method per message is an allocation and a lookup.
        self.deliver_response: Callable[[Attempt, Any], None] = self.on_response
        self.index = index  # network endpoint
        self.cid = cid
        self.urls = urls  # the URL list, as node indices
        self.topology: list[int] = []  # members in order, then rehabs (last resort); empty until fetched
        self.members_count = 0
        self.topology_etag = -1  # none yet (a cached topology counts as -2, older than any)
        self.ready = False  # a topology is installed
        self._booting = False
        self._unreachable = False  # the last first-topology update found no node and no cache
        self._pending: list[Op] = []  # issued before the first topology
        self.disk_cache: DbTopology | None = None  # survives a restart of the client
        self.topology_cache = spec.topology_cache
        self._refreshing = False
        self._fetches: list[TopologyFetch] = []  # in flight
        self.last_response = 0.0
        self.topology_poll = spec.topology_poll
        self._poll_gen = 0
        timeout = spec.request_timeout
        self.topology_timeout = max(TOPOLOGY_TIMEOUT, timeout) if timeout < 12 * 3600 else TOPOLOGY_TIMEOUT
        self.read_balance = spec.read_balance
        self.load_balance = spec.load_balance
        self._pick = self._pick_kind()
        self.lb_seed = spec.load_balancer_seed
        self.n_contexts = spec.session_contexts
        self.session_context = 0
        self.session_writes: dict[int, tuple[int, int]] = {}  # key -> (cv position, etag) of this session's last write
        self._contexts = streams.rng(f"client.{cid}.contexts" if db == 0 else f"client.{cid}.{db}.contexts")
        self.request_timeout = spec.request_timeout
        self.health = spec.health_check
        self.overhead = spec.request_overhead
        self.failures: dict[int, int] = {}
        self.checking: set[int] = set()
        # Per node, the server's epoch when this client's connection to it opened; -1: none.
        self.connections = [-1] * len(servers)
        self.session_length = session_length
        self.session_id = 0
        self.session_left = 0
        self._deadlines: deque[Attempt] = deque()  # in order of their deadlines
        self.compare_exchange_index: dict[int, int] = {}  # key -> last Raft index seen
        self._timer_armed = False
        self.up = True
        self.not_issued = 0
        self.issued = 0  # operations submitted; each ends in exactly one row of the ops table
        # FastestNode [spec §4.2]: the speed test runs on each topology installed.
        self.speed_test_interval = spec.speed_test_interval
        self.fastest: int | None = None
        self.speed_test = False
        self._speed_gen = 0
        self._scores: dict[int, int] = {}
        self._races = 0
        self.restarts = 0
        Timer(self.env, 0.0, self._bootstrap)  # DocumentStore.Initialize(): the first topology update starts

    # -- node selection
    def _pick_kind(self) -> int:
        """How submit() picks a node: 0 RoundRobin reads and preferred-node writes, 1 the
        preferred node for everything, 2 through _choose (UseSessionContext, FastestNode)."""
        if self.load_balance == "UseSessionContext" or self.read_balance == "FastestNode":
            return 2
        return 0 if self.read_balance == "RoundRobin" else 1

    def preferred(self) -> int:
        """The preferred node: the first in topology order whose failure counter is zero (the first
        one if all failed)."""
        failures = self.failures
        for node in self.topology:
            if failures[node] == 0:
                return node
        return self.topology[0]

    def _choose(self, op: Op) -> int:
        if self.load_balance == "UseSessionContext":
            # hash(context, LoadBalancerContextSeed) mod N over the members [spec §4.2].
            n = self.members_count or len(self.topology)
            node = self.topology[zlib.crc32(f"{self.lb_seed}:{self.session_context}".encode()) % n]
            return node if self.failures.get(node, 0) == 0 else self.preferred()
        if (op.kind != READ and op.kind != QUERY) or self.read_balance == "None":
            return self.preferred()
        if self.read_balance == "FastestNode":
            fastest = self.fastest
            if fastest is not None and self.failures.get(fastest, 0) == 0:
                return fastest
            return self.preferred()
        topo = self.topology
        n = self.members_count or len(topo)  # RoundRobin skips non-members
        first = op.session % n
        for k in range(n):
            node = topo[(first + k) % n]
            if self.failures[node] == 0:
                return node
        return topo[0]

    # -- operations
    def submit(self, kind: int, key: int, size: float, routed: bool = False) -> Op | None:
        """Issue an operation; returns it (a closed-loop workload waits for it), or None
        when the application server is down. On an application server of several databases
        the router picks the session's database first (``routed``: it did)."""
        router = self.router
        if router is not None and not routed:
            return router.route(kind, key, size)
        if not self.up:
            self.not_issued += 1  # the application server is down (its data centre is dark)
            return None
        if self.session_left == 0:
            self.session_id += 1
            self.session_left = self.session_length
            self.session_writes = {}
            if self.load_balance == "UseSessionContext":
                self.session_context = int(self._contexts.integers(0, self.n_contexts))
        self.session_left -= 1
        self.issued += 1
        session = self.session_id
        op = Op(self, kind, key, size, session, self.agenda.now)
        if kind == READ:
            op.expect = self.acked.get(key)
            op.own = self.session_writes.get(key)
        elif kind in (WRITE, CLUSTER_TX, TRANSACTION):
            op.write_id = self.versions.next_write_id()
        if not self.ready:
            # It waits for the first topology update (RequestExecutor.ExecuteAsync awaits it).
            self._pending.append(op)
            if not self._booting:
                self._bootstrap()
            return op
        self._dispatch(op)
        return op

    def _dispatch(self, op: Op) -> None:
        kind = op.kind
        session = op.session
        # _choose inlined for the common cases: the first candidate has not failed.
        pick = self._pick
        if pick == 2:
            node = self._choose(op)
        else:
            topo = self.topology
            # RoundRobin reads go to session % members; the rest to the first (preferred) node.
            rr = pick == 0 and kind in (READ, QUERY)
            node = topo[session % (self.members_count or len(topo))] if rr else topo[0]
            if self.failures[node]:
                node = self._choose(op)
        self._attempt(op, node)
        if self.speed_test and kind in (READ, QUERY):
            self._race(op, node)

    # -- FastestNode speed test [spec §4.2]
    def _start_speed_test(self) -> None:
        self._speed_gen += 1
        self.speed_test = True
        self._scores = {}
        self._races = 0

    def _race(self, op: Op, chosen: int) -> None:
        """Send copies of the read to every other eligible member; the first answer scores."""
        op.race = [False]
        for node in self.topology[: self.members_count]:
            if node != chosen and self.failures.get(node, 0) == 0:
                self._send(Attempt(op, node, True))

    def _finish_race(self, op: Op, node: int) -> None:
        race = op.race
        assert race is not None  # only reads in a speed test race
        race[0] = True
        if not self.speed_test:
            return
        scores = self._scores
        scores[node] = scores.get(node, 0) + 1
        self._races += 1
        if scores[node] >= 10:
            self._select_fastest(node)
        elif self._races >= self.members_count * 10:
            self._select_fastest(max(scores, key=lambda n: (scores[n], -n)))

    def _select_fastest(self, node: int) -> None:
        self.fastest = node
        self.speed_test = False
        self.recorder.event(
            "fastest_node_selected", node=self.servers[node].tag, client=f"client{self.cid + 1}", races=self._races
        )
        Timer(self.env, self.speed_test_interval, self._speed_test_due, (self._speed_gen,))

    def _speed_test_due(self, generation: int) -> None:
        if generation == self._speed_gen:
            self._start_speed_test()

    def on_probe_response(self, attempt: Attempt) -> None:
        """A speed-test copy of a read was answered: if it is the first answer of its race, its node scores."""
        op = attempt.op
        if op.race is not None and not op.race[0]:
            self._finish_race(op, attempt.node)

    def _attempt(self, op: Op, node: int) -> None:
        op.attempts += 1
        op.tried.append(node)
        attempt = Attempt(op, node)
        self._send(attempt)
        self._expect_answer(attempt)

    def _send(self, attempt: Attempt) -> None:
        """Send the request on the node's connection, or open one first."""
        node = attempt.node
        epoch = self.connections[node]
        if epoch < 0:
            attempt.syn = True
            self.network.send_tcp(self.index, node, SYN_BYTES, attempt, self.servers[node].receive_syn, attempt)
            return
        attempt.epoch = epoch
        op = attempt.op
        kind = op.kind
        if kind == TRANSACTION:
            size = self.overhead + op.size * self.transaction_documents
        else:
            size = self.overhead + (op.size if kind in (WRITE, CLUSTER_TX) else 0.0)
        self.network.send_tcp(self.index, node, size, attempt, self.servers[node].deliver_request, attempt)

    def on_connected(self, stream: Request, epoch: int) -> None:
        """SYN-ACK: the connection is open; the request goes out on it."""
        if stream.done:
            return  # abandoned meanwhile (a timeout, a restart): so is the new connection
        self.connections[stream.node] = epoch
        stream.syn = False
        if isinstance(stream, Attempt):
            self._send(stream)
        elif isinstance(stream, TopologyFetch):
            self._send_fetch(stream)

    def on_connection_broken(self, attempt: Attempt) -> None:
        """TCP gave up: the retransmissions (or the SYN retries) ran out."""
        self.connections[attempt.node] = -1
        if attempt.done:
            return
        attempt.done = True
        if attempt.probe:
            return
        self._fail_over(attempt, FAILED)

    def _expect_answer(self, attempt: Attempt) -> None:
        """Start the attempt's request timeout."""
        attempt.deadline = self.agenda.now + self.request_timeout
        deadlines = self._deadlines
        # Answered attempts leave from the front; with a long timeout (12 h by default) the
        # timer rarely fires, so this is what keeps the queue short.
        while deadlines and deadlines[0].done:
            deadlines.popleft()
        deadlines.append(attempt)
        if not self._timer_armed:
            self._arm()

    # -- topology [spec §4.1]
    def _install_topology(self, topo: DbTopology, etag: int | None = None) -> None:
        """Health checks and failure counters reset with a new topology."""
        self.topology_etag = topo.etag if etag is None else etag
        self.topology = topo.client_view()
        self.members_count = len(topo.members)
        self.failures = dict.fromkeys(self.topology, 0)
        if self.topology_cache and etag is None:
            self.disk_cache = topo  # DatabaseTopologyLocalCache.TrySaving
        if self.read_balance == "FastestNode":
            self._start_speed_test()  # after every topology change

    def _bootstrap(self) -> None:
        """FirstTopologyUpdate: the URL list, in order."""
        if self.ready or self._booting or not self.up:
            return
        self._booting = True
        self._try_url(0)

    def _try_url(self, i: int) -> None:
        if i >= len(self.urls):
            self._bootstrap_failed()
            return
        fetch = TopologyFetch(self, self.urls[i], BOOTSTRAP)
        fetch.index = i
        self._fetch(fetch)

    def _bootstrap_failed(self) -> None:
        self._booting = False
        cached = self.disk_cache
        if cached is not None:
            # TryLoadFromCache: the last topology this client saw, etag -2 (any server's is newer).
            self._install_topology(cached, etag=-2)
            self.recorder.event("client_topology", client=f"client{self.cid + 1}", cached=True)
            self._booted()
            return
        # No topology: the waiting operations fail; the next one starts over.
        pending, self._pending = self._pending, []
        node = self.urls[-1]
        if not self._unreachable:  # said once per streak of failed first updates
            self._unreachable = True
            self.recorder.event("client_topology", client=f"client{self.cid + 1}", cached=False)
        for op in pending:
            self._record(op, node, ALL_NODES_DOWN, -1, 0)

    def _booted(self) -> None:
        self.ready = True
        self._unreachable = False
        self._booting = False
        self._poll_gen += 1
        Timer(self.env, self.topology_poll, self._poll, (self._poll_gen,))
        pending, self._pending = self._pending, []
        for op in pending:
            op.etag = self.topology_etag
            self._dispatch(op)

    def _fetch(self, fetch: TopologyFetch) -> None:
        self._fetches.append(fetch)
        fetch.timer = Timer(self.env, self.topology_timeout, self._fetch_timeout, (fetch,))
        self._send_fetch(fetch)

    def _send_fetch(self, fetch: TopologyFetch) -> None:
        node = fetch.node
        server = self.servers[node]
        epoch = self.connections[node]
        if epoch < 0:
            fetch.syn = True
            self.network.send_tcp(self.index, node, SYN_BYTES, fetch, server.receive_syn, fetch)
            return
        fetch.epoch = epoch
        self.network.send_tcp(self.index, node, self.overhead, fetch, server.receive_topology_request, fetch)

    def _fetch_timeout(self, fetch: TopologyFetch) -> None:
        if not fetch.done:
            self.connections[fetch.node] = -1  # the request is abandoned, and its connection with it
            self.fetch_failed(fetch)

    def fetch_failed(self, fetch: TopologyFetch) -> None:
        """No topology from that node: refused, reset, timed out, or TCP gave up."""
        if fetch.done:
            return
        self._fetch_over(fetch)
        purpose = fetch.purpose
        if purpose == BOOTSTRAP:
            self._try_url(fetch.index + 1)
        elif purpose == REFRESH:
            self._refreshing = False
            for waiter in fetch.waiters:
                self._record(*waiter)  # the update failed; the answer itself stands
        elif purpose == GONE:
            assert fetch.op is not None
            self._record(fetch.op, fetch.node, ALL_NODES_DOWN, -1, 0)

    def _fetch_over(self, fetch: TopologyFetch) -> None:
        fetch.done = True
        if fetch.timer is not None:
            fetch.timer.cancel()
        if fetch in self._fetches:
            self._fetches.remove(fetch)

    def on_topology(self, fetch: TopologyFetch, topo: DbTopology) -> None:
        """A node answered a topology fetch with ``topo``. What follows depends on why it was
        fetched: the first topology releases the waiting operations; after a 410 on every node the
        operation retries on the new one; a refresh or poll installs it if newer and returns the
        answers that waited on it."""
        if fetch.done:
            return
        self._fetch_over(fetch)
        self.last_response = self.agenda.now
        purpose = fetch.purpose
        if purpose == BOOTSTRAP:
            if self.ready:
                return  # a restart's stale fetch
            self._install_topology(topo)
            self._booted()
        elif purpose == GONE:
            op = fetch.op
            assert op is not None
            self._install_topology(topo)  # forced: whatever its etag
            op.etag = self.topology_etag
            op.tried = []
            self._attempt(op, self._choose(op))
        else:
            if purpose == REFRESH:
                self._refreshing = False
            if topo.etag > self.topology_etag:
                self._install_topology(topo)
            for waiter in fetch.waiters:
                self._record(*waiter)

    def _refresh(self, node: int, waiter: tuple) -> None:
        """The response's server knows a newer topology: fetch it there; the operation that
        brought the news returns when the fetch is done."""
        self._refreshing = True
        fetch = TopologyFetch(self, node, REFRESH)
        fetch.waiters.append(waiter)
        self._fetch(fetch)

    def _finish(self, op: Op, node: int, outcome: int, version: int, flags: int) -> None:
        """An answer arrived: the operation ends, after a topology update if the answer said
        the server has a newer one and none is running yet."""
        if self.raft_nodes[node].state_machine.databases[self.db_name].etag > self.topology_etag and not (
            self._refreshing
        ):
            self._refresh(node, (op, node, outcome, version, flags))
        else:
            self._record(op, node, outcome, version, flags)

    def _poll(self, generation: int) -> None:
        """UpdateTopologyCallback: no response for topology_poll, so ask the preferred node."""
        if generation != self._poll_gen:
            return
        Timer(self.env, self.topology_poll, self._poll, (generation,))
        idle = self.agenda.now - self.last_response
        if self.up and self.ready and not self._refreshing and idle > self.topology_poll:
            self._fetch(TopologyFetch(self, self.preferred(), POLL))

    # -- a restart of the application [fault client_restart]
    def restart(self, down_for: float) -> int:
        """The application process restarts: what it was waiting for is lost (each operation
        ends ``failed``), and so are its topology, connections and failure counters; the disk
        cache stays. Back after ``down_for``, it starts from its URL list. Returns how many
        operations it lost."""
        lost: dict[int, tuple[Op, int]] = {}
        for attempt in self._deadlines:
            if not attempt.done:
                attempt.done = True
                lost[id(attempt.op)] = (attempt.op, attempt.node)
        self._deadlines.clear()
        for fetch in list(self._fetches):
            self._fetch_over(fetch)
            for waiter in fetch.waiters:
                lost[id(waiter[0])] = (waiter[0], waiter[1])
            if fetch.op is not None:
                lost[id(fetch.op)] = (fetch.op, fetch.node)
        node = self.urls[0]
        for op in self._pending:
            lost[id(op)] = (op, node)
        self._pending = []
        for op, at in lost.values():
            self._record(op, at, FAILED, -1, 0)
        self.restarts += 1
        self.ready = self._booting = self._refreshing = False
        self.topology, self.members_count, self.topology_etag = [], 0, -1
        self.failures = {}
        self.connections = [-1] * len(self.connections)
        self.session_left = 0
        self.fastest, self.speed_test = None, False
        self._speed_gen += 1  # a speed test the old process scheduled never comes
        self._poll_gen += 1
        self.up = False
        Timer(self.env, down_for, self._started)
        return len(lost)

    def _started(self) -> None:
        self.up = True
        self._bootstrap()

    def on_response(self, attempt: Attempt, doc: Any) -> None:
        """A node answered an attempt: ``doc`` is the version read or written (None: a read of a
        missing document or a query; a list of versions for a transaction). Records the operation
        with its staleness flags, after a topology refresh when the server knows a newer one."""
        # ``doc``: the Doc read or written (None: a read of a missing document), the list of
        # Docs of a transaction, None for a query.
        if attempt.done:
            return
        attempt.done = True
        op = attempt.op
        node = attempt.node
        race = op.race
        if race is not None and not race[0]:
            self._finish_race(op, node)
        if attempt.probe:
            return
        self.last_response = self.agenda.now
        flags = 0  # bit 0: stale read; bit 1: read-your-writes violation
        kind = op.kind
        if kind == READ:  # the common case first
            if doc is None:
                version = 0
                # A missing document counts as etag 0 at every change-vector position.
                if op.expect is not None and op.expect[1] > 0:
                    flags |= 1
                if op.own is not None and op.own[1] > 0:
                    flags |= 2
            else:
                read: Doc = doc
                if read.conflicts is not None:
                    # HTTP 409: the document is conflicted; no failover [spec §3.5, §4.3].
                    self._record(op, node, CONFLICT, -1, 0)
                    return
                version = read.write_id
                cv = read.cv
                expect = op.expect  # (cv position, etag) of the newest acknowledged write
                if expect is not None and cv[expect[0]] < expect[1]:
                    flags |= 1
                own = op.own  # the same for this session's own last write of the key
                if own is not None and cv[own[0]] < own[1]:
                    flags |= 2
        elif kind == WRITE:
            version = op.write_id
            written: Doc = doc
            pos = written.origin  # change vectors have one entry per node, indexed by node
            key = op.key
            acked = (pos, written.cv[pos])
            self.acked[key] = acked
            self.ledger.acknowledged(key, pos, acked[1], version)
            if op.session == self.session_id:
                self.session_writes[key] = acked
        elif kind == TRANSACTION:
            version = op.write_id
            for d in doc:  # every document the transaction wrote
                pos = d.origin
                self.acked[d.key] = (pos, d.cv[pos])
                self.ledger.acknowledged(d.key, pos, d.cv[pos], op.write_id)
                if op.session == self.session_id:
                    self.session_writes[d.key] = (pos, d.cv[pos])
        else:
            version = -1
        # _finish inlined (once per response): a server that knows a newer topology says so.
        if self.raft_nodes[node].state_machine.databases[self.db_name].etag > self.topology_etag and not (
            self._refreshing
        ):
            self._refresh(node, (op, node, OK, version, flags))
        else:
            self._record(op, node, OK, version, flags)

    def _record(self, op: Op, node: int, outcome: int, version: int, flags: int) -> None:
        """An operation ends: its row of the ops table, in the order of the Recorder's op
        columns. ``flags``: bit 0 a stale read, bit 1 a read-your-writes violation."""
        rows = self.op_rows
        rows.append(
            (
                op.start,
                self.agenda.now,
                op.kind,
                op.key,
                self.cid,
                op.session,
                node,
                op.attempts,
                outcome,
                version,
                flags,
                self.db,
            )
        )
        if len(rows) >= OP_CHUNK:
            self.recorder.flush_ops()
        listener = self.recorder.op_listener
        if listener is not None:
            listener(op)

    def on_cluster_response(self, attempt: Attempt, ok: bool, index: Any, result: Any) -> None:
        """The answer to a cluster-wide operation (it went through the Raft log)."""
        if attempt.done:
            return
        attempt.done = True
        self.last_response = self.agenda.now
        op = attempt.op
        if not ok:
            # The server waited OperationTimeout for a leader; an error, not a failover.
            self._finish(op, attempt.node, TIMEOUT, -1, 0)
            return
        version = index
        if op.kind == COMPARE_EXCHANGE:
            status, current = result
            self.compare_exchange_index[op.key] = current
            if status != "ok":
                version = -1  # the compare failed: the client must re-read and retry
            elif current == 0:
                version = 0  # a delete succeeded
        else:
            self.acked[op.key] = (self.raft_position, index)
            self.ledger.acknowledged(op.key, self.raft_position, index, op.write_id)
        self._finish(op, attempt.node, OK, version, 0)

    def on_write_timeout(self, attempt: Attempt, doc: Doc) -> None:
        """Write assurance timed out: an error for the client, though the write is stored."""
        if attempt.done:
            return
        attempt.done = True
        self._record(attempt.op, attempt.node, TIMEOUT, attempt.op.write_id, 0)

    def on_reset(self, attempt: Request) -> None:
        """Connection refused or reset by the node: it is closed."""
        self.connections[attempt.node] = -1
        if isinstance(attempt, Attempt):
            self.on_unavailable(attempt)
        elif isinstance(attempt, TopologyFetch):
            self.fetch_failed(attempt)

    def on_stale(self, stream: Request) -> None:
        """A reset on a pooled connection the server no longer knows (it restarted): .NET's
        SocketsHttpHandler retries such a request on a new connection before the caller sees
        anything (``HttpConnectionPool``, retry on a reused connection that failed before
        the response began)."""
        self.connections[stream.node] = -1
        if stream.done:
            return
        if isinstance(stream, Attempt):
            self._send(stream)
        elif isinstance(stream, TopologyFetch):
            self._send_fetch(stream)

    def on_unavailable(self, attempt: Attempt) -> None:
        """HTTP 503: handled like a node that is down [spec §4.3] (the connection stays open)."""
        if attempt.done:
            return
        attempt.done = True
        if attempt.probe:
            return  # a failed speed-test copy just does not score
        self._fail_over(attempt, FAILED)

    def on_gone(self, attempt: Attempt) -> None:
        """HTTP 410: the database is not on that node. Mark it failed and try the next
        node; once every node was tried, force a topology update (15 s timeout) from
        the node that answered 410 and retry once more [spec §4.3]."""
        if attempt.done:
            return
        attempt.done = True
        if attempt.probe:
            return
        node = attempt.node
        op = attempt.op
        self._mark_failed(node)
        if op.refreshed:
            self._record(op, node, FAILED, -1, 0)
            return
        if self._retry_elsewhere(op, node):
            return
        op.refreshed = True
        fetch = TopologyFetch(self, node, GONE)
        fetch.op = op
        self._fetch(fetch)

    def _on_timeout(self, attempt: Attempt) -> None:
        attempt.done = True
        # The HTTP client abandons the request, and with it the connection.
        self.connections[attempt.node] = -1
        self._fail_over(attempt, TIMEOUT)

    def _mark_failed(self, node: int) -> None:
        self.failures[node] = self.failures.get(node, 0) + 1
        if node == self.fastest and self.read_balance == "FastestNode" and not self.speed_test:
            self._start_speed_test()  # the fastest node failed: test again, preferred node meanwhile
        if node not in self.checking:
            self.checking.add(node)
            self.env.process(self._health_check(node))

    def _retry_elsewhere(self, op: Op, node: int) -> bool:
        if op.etag != self.topology_etag:
            # The topology changed meanwhile: the operation's failed-node set resets [spec §4.3].
            op.etag = self.topology_etag
            op.tried = [node]
        for candidate in self.topology:
            if self.failures.get(candidate, 0) == 0 and candidate not in op.tried:
                self._attempt(op, candidate)
                return True
        return False

    def _fail_over(self, attempt: Attempt, reason: int) -> None:
        node = attempt.node
        self._mark_failed(node)
        op = attempt.op
        if op.refreshed:
            # The retry after a forced topology update does not fail over again [spec §4.3].
            self._record(op, node, reason, -1, 0)
            return
        if not self._retry_elsewhere(op, node):
            # Every node of the topology was tried: AllTopologyNodesDownException [spec §4.3].
            self._record(op, node, ALL_NODES_DOWN, -1, 0)

    def record_unfinished(self) -> int:
        """At the end of the run: an ``unfinished`` row, ending now, for each operation still
        waiting (for an answer, or for a forced topology update). Returns how many."""
        waiting: dict[int, tuple[Op, int]] = {}
        for attempt in self._deadlines:
            if not attempt.done and not attempt.probe:
                waiting[id(attempt.op)] = (attempt.op, attempt.node)
        for fetch in self._fetches:
            for waiter in fetch.waiters:
                waiting[id(waiter[0])] = (waiter[0], waiter[1])
            if fetch.op is not None:
                waiting[id(fetch.op)] = (fetch.op, fetch.node)
        node = next((f.node for f in self._fetches if f.purpose == BOOTSTRAP), self.urls[0])
        for op in self._pending:
            waiting[id(op)] = (op, node)
        recorder = self.recorder
        listener = recorder.op_listener
        recorder.op_listener = None  # a closed-loop workload issues nothing after the end
        for op, node in waiting.values():
            self._record(op, node, UNFINISHED, -1, 0)
        recorder.op_listener = listener
        return len(waiting)

    # -- request timeouts: one timer per client, armed at the earliest deadline
    def _arm(self) -> None:
        deadlines = self._deadlines
        while deadlines and deadlines[0].done:
            deadlines.popleft()
        if deadlines:
            self._timer_armed = True
            Timer(self.env, deadlines[0].deadline - self.env.now, self._check_deadlines)
        else:
            self._timer_armed = False

    def _check_deadlines(self) -> None:
        now = self.env.now
        deadlines = self._deadlines
        while deadlines and (deadlines[0].done or deadlines[0].deadline <= now):
            attempt = deadlines.popleft()
            if not attempt.done:
                self._on_timeout(attempt)
        self._timer_armed = False
        self._arm()

    # -- health checks of failed nodes [spec §4.3]
    def _health_check(self, node: int):
        delay = self.health.initial
        while self.failures.get(node, 0) > 0:
            yield self.env.timeout(delay)
            self.network.send(self.index, node, self.overhead, self.servers[node].receive_health_check, self)
            delay = min(delay + self.health.step, self.health.max)
        self.checking.discard(node)

    def on_health_ok(self, node: int) -> None:
        """A health check of ``node`` passed: its failure counter resets, so it can be chosen again."""
        if self.failures.get(node):
            self.failures[node] = 0


class DatabaseRouter:
    """One application server working with several databases of its cluster: one executor
    (a :class:`Client`, RavenDB's per-database ``RequestExecutor``) per database, and each
    session on one database, as a RavenDB session is (``store.OpenSession(database)``).

    A new session picks its database with probability proportional to the database's
    ``load`` (``weights``, drawn from ``rng``), and opens a session on that database's
    executor. A key is the workload's key scaled to the database's size (``keys[db]`` of
    ``workload_keys``), so popularity keeps its shape in a smaller or larger database."""

    def __init__(
        self, executors: list[Client], weights: list[float], keys: list[int], workload_keys: int, rng: Any
    ) -> None:
        self.executors = executors
        total = sum(weights)
        acc = 0.0
        cdf: list[float] = []
        for w in weights:
            acc += w / total
            cdf.append(acc)
        cdf[-1] = 1.0
        self.cdf = cdf
        self.keys = keys
        self.workload_keys = workload_keys
        self.session_length: int = executors[0].session_length
        self.left = 0
        self.current: Client = executors[0]
        self._rng = rng
        self._u: list[float] = []
        self._i = 0

    def route(self, kind: int, key: int, size: float) -> Op | None:
        """Issue the operation on the current session's database (opening the next session,
        on a database drawn by load, when the last one is used up)."""
        if self.left == 0:
            if self._i >= len(self._u):
                self._u = self._rng.random(1024).tolist()
                self._i = 0
            u = self._u[self._i]
            self._i += 1
            executor = self.executors[bisect_right(self.cdf, u)]  # u < 1 = cdf[-1]: always one
            executor.session_left = 0  # its next operation opens a new session there
            self.current = executor
            self.left = self.session_length
        self.left -= 1
        executor = self.current
        keys = self.keys[executor.db]
        if keys != self.workload_keys:
            key = key * keys // self.workload_keys
        return executor.submit(kind, key, size, True)

"""Quiescence: skipping ahead while an idle, steady cluster cannot change.

A steady cluster still exchanges Raft heartbeats every ET/3, observer samples
every 250 ms and replication keep-alives every 15 s: over a hundred events per
simulated second that change nothing. A simulated year of them would take hours.
So when nothing can change, the model *parks* those periodic activities and
skips ahead; they resume on their own grids as soon as something could matter.

**Parked** at a leader's heartbeat tick when all of this holds:

* the leader leads (its noop committed) and every node that is up follows it in
  its term, holds its whole log on disk, has applied everything, and has no
  command pending; a majority of voters is among them (a node that is down stays
  down until a fault restarts it);
* the links between live nodes are uncut, lossless and unpaused, and fast enough
  that even a latency at the 1e-9 upper tail keeps a heartbeat inside every
  election-timer period, a reply inside the leader's ET window, and a report
  inside the observer's sample window (``max_latency``);
* the Cluster Observer has nothing to decide: stabilization is over, every
  member answers, no member lags, no rehab or promotable is catching up, and it
  is not proposing;
* no fault is due within ``lookahead``.

**Woken** (resumed) by:

* every fault action, ``lookahead`` seconds before it fires: scheduled faults,
  durations, rolling restarts, random failures and repairs are all known in
  advance, so the heartbeats, timer deferrals and observer samples around a
  fault are simulated, not reconstructed;
* any Raft command (a cluster transaction, a compare-exchange, a topology change);
* writes since parking that could make a member lag by the observer's limit;
* a silent rehab reaching the time for a replacement (dynamic distribution).

**Resuming** puts each activity back on its own grid (the leader's ticks every
heartbeat interval from its last real tick, each follower's election-timer
period, the observer's samples, each channel's keep-alives) and sets what the
skipped rounds would have left behind: followers deferred and in recent contact,
the leader's last reply from each follower, the observer's last two samples
(holding the change vectors as they are now), each channel's last contact and
the destination's vector. The bytes the skipped messages would have carried are
credited to their links at the steady rate, so link counters and cross-DC
traffic keep their values.

Departures from the fully simulated run (``elide_idle: false``): the skipped
messages draw no latencies, so later draws from the shared network streams
differ (single latencies differ, their distribution does not), and keep-alive
grids ignore the round trip each skipped keep-alive would have added (about one
RTT per 15 s). ``tests/model/test_quiescence.py`` checks that over an hour with
faults both runs give the same leaders, rehabs and promotions.
"""

from __future__ import annotations

import math
from heapq import heappop, heappush
from typing import TYPE_CHECKING

from workbench.model.cluster.observer import REPORT_BYTES
from workbench.model.cluster.rachis import DOWN, FOLLOWER, LEADER, MESSAGE_OVERHEAD
from workbench.model.kernel.kernel import Timer

if TYPE_CHECKING:
    import simpy

    from workbench.model.cluster.node import Server
    from workbench.model.cluster.observer import Observer
    from workbench.model.cluster.rachis import Cluster, RaftNode
    from workbench.model.database.group import Databases
    from workbench.model.kernel.network import Network
    from workbench.scenario.schema import ObserverSpec, ReplicationSpec

LATENCY_TAIL = 1e-9  # a latency this unlikely is treated as one that cannot happen


class Quiescence:
    """Idle elision for one cluster: parks the periodic heartbeats, observer samples and keep-alives
    while nothing can change, skips the clock ahead, and wakes them on their grids before anything
    could matter (the rules of the module docstring). Counts the time skipped (``elided_seconds``)
    and how often it parked (``parks``).

    It watches the Raft ``cluster`` (on ``env``, its spec is the cluster's), the ``nodes`` and
    the ``network`` between them, and the replication channels of every copy of the cluster's ``databases``
    (keep-alives every ``replication.heartbeat_interval``, ``repl_overhead`` bytes each);
    ``observer_spec`` sets the observer's windows. ``elide_idle`` off: it never parks. The
    builder tells it of each new leader's observer (:meth:`on_new_observer`)."""

    def __init__(
        self,
        env: simpy.Environment,
        cluster: Cluster,
        nodes: list[Server],
        network: Network,
        databases: Databases,
        observer_spec: ObserverSpec,
        replication: ReplicationSpec,
        repl_overhead: float,
        elide_idle: bool,
    ):
        self.env = env
        self.cluster = cluster
        self.nodes = nodes
        self.network = network
        self.databases = databases
        self.observer_spec = observer_spec
        self.replication = replication
        self.repl_overhead = repl_overhead
        # The current leader's Cluster Observer (None before the first, or with the observer off).
        self.observer: Observer | None = None
        spec = cluster.spec
        # The textbook timer redraws its timeout on every heartbeat: skipping heartbeats
        # would skip draws that decide later elections, so that mode is never elided.
        self.enabled = elide_idle and spec.election_timer == "ravendb"
        self.observer_enabled = observer_spec.enabled
        et, hb = cluster.et, cluster.heartbeat
        shortest_period = spec.timeout_range[0] if spec.timeout_range is not None else 2 / 3 * et
        windows = [shortest_period - hb, et - hb]
        if observer_spec.enabled:
            windows.append(observer_spec.worker_sample_period)
        # A round trip at the latency bound must fit in every window.
        self.max_latency = min(windows) / 2
        # Awake this long before a fault: two election periods and two observer decisions.
        self.lookahead = 2 * et + (3 * observer_spec.worker_sample_period + 2 * observer_spec.supervisor_sample_period)
        self.parked = False
        self.parked_at = 0.0
        self.parks = 0
        self.elided_seconds = 0.0
        self.writes_left = 0
        self._leader: RaftNode | None = None
        self._leader_gen = -1
        self._expected: list[float] = []  # times of faults still to fire
        self._upper: dict[object, float] = {}  # latency sampler -> its upper tail (kept alive: no id reuse)
        self._rates: list[tuple[int, int, float]] = []  # (src, dst, bytes/s) the skipped messages carry
        self._credited_at = 0.0

    def on_new_observer(self, observer: Observer) -> None:
        """A new leader started its Cluster Observer: the one to ask and to resume from now on."""
        self.observer = observer

    # ------------------------------------------------------------------ stimuli
    def expect(self, delay: float) -> None:
        """A fault fires ``delay`` seconds from now: be awake ``lookahead`` before it."""
        if not self.enabled:
            return
        heappush(self._expected, self.env.now + delay)
        early = delay - self.lookahead
        if early <= 0:
            self.wake()
        else:
            Timer(self.env, early, self.wake)

    def on_write(self) -> None:
        """Called for each local write while parked: the observer's lag budget."""
        self.writes_left -= 1
        if self.writes_left <= 0:
            self.wake()

    # ------------------------------------------------------------------ parking
    def try_park(self, lead: RaftNode) -> bool:
        """At the end of a leader tick: park if nothing can change; True if parked."""
        if not self.enabled or self.parked:
            return False
        now = self.env.now
        expected = self._expected
        while expected and expected[0] < now:
            heappop(expected)
        if expected and expected[0] - self.lookahead <= now:
            return False
        if not (self._network_steady() and self._raft_steady(lead)):
            return False
        observer = self.observer
        idle_until = math.inf
        if self.observer_enabled:
            if observer is None:
                return False
            until = observer.idle_until()
            if until is None:
                return False
            idle_until = until
            if idle_until - self.lookahead <= now:
                return False  # it would wake at once
        self._park(lead, idle_until)
        return True

    def _network_steady(self) -> bool:
        net = self.network
        if net.pauses:
            return False
        up = [node.up for node in self.nodes]
        n = len(up)
        upper = self._upper
        bound = self.max_latency
        for i in range(n):
            if not up[i]:
                continue
            cut, loss, latency = net.cut[i], net._loss[i], net._latency[i]
            for j in range(n):
                if i == j or not up[j]:
                    continue
                if cut[j] or loss[j] > 0:
                    return False
                sampler = latency[j]
                tail = upper.get(sampler)
                if tail is None:
                    tail = upper[sampler] = sampler.dist.upper(LATENCY_TAIL)
                if tail > bound:
                    return False
        return True

    def _raft_steady(self, lead: RaftNode) -> bool:
        if lead.state != LEADER or lead.pending:
            return False
        if not all(node.accepting for node in self.nodes if node.up):
            return False  # a graceful shutdown is draining: it ends in a crash the model schedules itself
        last = lead.last_index()
        if lead.commit_index != last or lead.last_applied != last or lead.durable_len != len(lead.log):
            return False
        followers = lead.followers
        voters = set(lead.voters())
        steady_voters = 1 if lead.index in voters else 0
        cut = self.network.cut
        for n in self.cluster.nodes:
            if n is lead:
                continue
            f = followers.get(n.index)
            if n.state == DOWN:
                # The ambassador keeps reconnecting (replayed on waking): its link must be open
                # or cut both ways. A machine that vanished is cut off both ways (the network's
                # silent layer), so what is sent to it is lost exactly as over a cut link.
                if f is not None and cut[lead.index][n.index] != cut[n.index][lead.index]:
                    return False
                continue
            if (
                f is None
                or not f.connected
                or n.state != FOLLOWER
                or n.term != lead.term
                or n.leader != lead.index
                or n.pending
                or f.match != last
                or f.sent != last
                or n.last_applied != last
                or n.durable_len != len(n.log)
            ):
                return False
            if n.index in voters:
                steady_voters += 1
        return steady_voters >= lead.majority()

    def _park(self, lead: RaftNode, idle_until: float) -> None:
        now = self.env.now
        self.parked = True
        self.parked_at = now
        self.parks += 1
        self._leader = lead
        self._leader_gen = lead.generation
        for inst in self.databases.instances():
            for ch in inst.channels:
                ch.park_keepalive()
        # Writes the observer may miss before a member could lag by its limit (half, to be safe).
        observer = self.observer
        if observer is not None:
            limit = self.observer_spec.max_change_vector_distance
            self.writes_left = max(1, (limit - self._max_lag()) // 2)
            if idle_until < math.inf:
                Timer(self.env, max(0.0, idle_until - self.lookahead - now), self.wake)
        else:
            self.writes_left = 1 << 62
        self._rates = self._steady_traffic(lead)
        self._credited_at = now

    def _max_lag(self) -> int:
        """Etags the furthest-behind copy of any database lacks of a peer's own writes."""
        lag = 0
        for group in self.databases.groups:
            instances = group.instances
            cvs = [inst.db_cv for inst in instances if inst.node.up]
            positions = [inst.position for inst in instances if inst.node.up]
            lag = max(
                lag,
                max((cv_p[p] - cv_m[p] for cv_p, p in zip(cvs, positions, strict=True) for cv_m in cvs), default=0),
            )
        return lag

    def _steady_traffic(self, lead: RaftNode) -> list[tuple[int, int, float]]:
        """Bytes per second on each link from the messages skipped while parked."""
        cluster = self.cluster
        me = lead.index
        rates: dict[tuple[int, int], float] = {}

        def add(a: int, b: int, rate: float) -> None:
            """Add ``rate`` bytes per second on the directed link ``a`` to ``b``."""
            rates[a, b] = rates.get((a, b), 0.0) + rate

        # A heartbeat round trip every ET/3 plus the round trip itself to each live follower;
        # a reconnection attempt and its reset every ET/2 plus a round trip to each one down.
        hb, et = cluster.heartbeat, cluster.et
        cut = self.network.cut
        for peer in lead.followers:
            if cut[me][peer]:
                continue
            rtt = cluster.link_latency(me, peer).dist.mean() + cluster.link_latency(peer, me).dist.mean()
            period = hb + rtt if self.nodes[peer].up else et / 2 + rtt
            add(me, peer, MESSAGE_OVERHEAD / period)
            add(peer, me, MESSAGE_OVERHEAD / period)
        if self.observer is not None:
            period = self.observer_spec.worker_sample_period
            for node in self.nodes:
                if node.index != me:
                    add(me, node.index, REPORT_BYTES / period)
                    if node.up:
                        add(node.index, me, REPORT_BYTES / period)
        interval = self.replication.heartbeat_interval
        for inst in self.databases.instances():
            for ch in inst.channels:
                if ch.keepalive_parked:
                    add(inst.node.index, ch.dst, self.repl_overhead / interval)
                    add(ch.dst, inst.node.index, self.repl_overhead / interval)
        return [(a, b, r) for (a, b), r in rates.items()]

    def credit_bytes(self) -> None:
        """Count the bytes the skipped messages would have sent up to now."""
        if not self.parked:
            return
        now = self.env.now
        span = now - self._credited_at
        if span > 0:
            sent = self.network.bytes_sent
            for a, b, rate in self._rates:
                sent[a][b] += rate * span
        self._credited_at = now

    # ------------------------------------------------------------------ waking
    def wake(self) -> None:
        """Resume every parked activity on its own grid, as if it had run all along."""
        if not self.parked:
            return
        now = self.env.now
        self.credit_bytes()
        self.parked = False
        self.elided_seconds += now - self.parked_at
        lead = self._leader
        self._leader = None
        heard: dict[int, float] = {}
        if lead is not None and lead.state == LEADER and lead.generation == self._leader_gen:
            heard = lead.resume_ticks()
        for n in self.cluster.nodes:
            if n is not lead and n.state == FOLLOWER:
                n.resume_timer(heard.get(n.index))
        if self.observer is not None:
            self.observer.resume()
        for inst in self.databases.instances():
            for ch in inst.channels:
                ch.resume_keepalive()

    def finish(self) -> None:
        """At the end of the run: account for a park still in progress."""
        if self.parked:
            self.credit_bytes()
            self.elided_seconds += self.env.now - self.parked_at
            self.parked_at = self.env.now

"""Rachis: RavenDB's Raft, on the network model [spec §1].

Every node runs a :class:`RaftNode`. Members vote and can lead; watchers and
promotables receive the log but never vote; the leader promotes a promotable
to member (a configuration entry) once its match index reaches the leader's
last index [spec §1.2]. An operator's promote or demote is such an entry too
(:meth:`RaftNode.modify_topology`): one change at a time, in force once in the
log, done once committed by a majority of the new voters.

Two sets of rules, chosen by ``cluster.election_timer`` (docs/validation.md,
"Which knob is which", has the table):

``ravendb`` (default): Rachis
    A periodic election timer with period drawn from [2/3 ET, ET) in whole
    milliseconds; a heartbeat during a period only *defers* it, so a lost
    leader is noticed after one to two periods (200-600 ms by default). After
    a round with no result the range is extended to [4/3 ET, 2 ET) [spec §1.4].
    A trial election (pre-vote) first; a vote in a new term is one write; a
    candidate that learns a newer term restarts its timer; the new leader's
    noop is durable before its first AppendEntries.
``reset``: LogCabin, the Raft paper's implementation
    The timer restarts with a fresh whole-millisecond draw on every
    AppendEntries and every granted vote; a candidate that learns a newer term
    keeps its deadline; a vote in a new term is two writes (the term, then the
    vote); the new leader sends its noop at once and flushes it alongside.
Elections
    Votes need the candidate's log to be at least as up to date. A majority
    makes the candidate *LeaderElect*; it appends a noop and becomes *Leader*
    once that noop commits [spec §1.2, §1.5]. While a node persists its term or
    vote it holds its Raft lock: messages and its timer wait for the write.
Log
    AppendEntries with log matching, conflict truncation, and commit when a
    majority of voters' match indexes reach an entry of the current term;
    entries are applied in order on every node. Appends are fsynced on the
    node's disk before they are acknowledged.
Leadership
    One sender per follower (the *ambassador*): one AppendEntries in flight,
    then ET/3 after the answer before the next heartbeat, so a follower a
    round trip RTT away hears the leader every RTT + ET/3. Its connection is
    TCP: unanswered requests are resent with exponential back-off until 15 s,
    a dead process resets it, and after a failure the ambassador waits ET/2 and
    reconnects. The leader steps down when fewer than a majority of voters
    (itself included) answered within ET [spec §1.4].
Crashes
    Term, vote, the fsynced log and the applied state survive; everything
    else (role, leader, commit index, timers, pending requests) is lost.

The model checks Raft's safety properties as it runs (at most one leader per
term; a committed entry is never replaced) and raises :class:`SafetyViolation`.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from workbench.model.kernel.kernel import Grid, Sampler, Streams, Timer

if TYPE_CHECKING:
    import simpy

    from workbench.model.assembly.quiescence import Quiescence
    from workbench.model.cluster.node import Node
    from workbench.model.kernel.network import Network
    from workbench.model.recording.recorder import Recorder
    from workbench.scenario.schema import ClusterSpec

FOLLOWER, CANDIDATE, LEADER_ELECT, LEADER, DOWN = "follower", "candidate", "leader-elect", "leader", "down"
MEMBER, WATCHER, PROMOTABLE = "member", "watcher", "promotable"
MESSAGE_OVERHEAD = 200.0  # bytes of framing on a Raft message
# The disk journal of the server store, which holds the Rachis log: a storage environment of
# its own, so its fsyncs are never shared with a database's (node.Disk).
SERVER_STORE = -1
MAX_APPEND_BYTES = 1024 * 1024  # an AppendEntries stops after the entry that crosses 1 MB (FollowerAmbassador)
INITIAL_RTO = 1.0  # TCP's retransmission timeout before a round trip was measured (RFC 6298)
# A parked ambassador's last this-many seconds of heartbeats are replayed draw by draw; rounds
# before that are skipped at their mean length, drawing nothing (a simulated year would
# otherwise draw every heartbeat's latency). So elided and full runs agree exactly after parks
# up to this long, and in distribution after longer ones.
EXACT_REPLAY_S = 900.0


class SafetyViolation(AssertionError):
    """A Raft safety property was broken: a bug in the model, never a user error."""


class Entry:
    """One entry of the Raft log: its term, its kind (``noop``, ``config``, a database
    ``topology`` or ``group_change``, ``create_database``, ``deploy_index``, ``cluster_tx``,
    ``compare_exchange``, ``task_state``), the payload, the id of the command it carries (so a
    command forwarded twice is appended once) and its size in bytes."""

    __slots__ = ("cmd_id", "kind", "payload", "size", "term")

    def __init__(self, term: int, kind: str, payload: Any = None, cmd_id: int | None = None, size: float = 100.0):
        self.term = term
        # noop | config | topology | group_change | create_database | deploy_index | cluster_tx |
        # compare_exchange | task_state
        self.kind = kind
        self.payload = payload
        self.cmd_id = cmd_id
        self.size = size


class DbTopology:
    """A database's topology record [spec §2.1]: ordered members, rehabs, promotables.

    Node indices throughout. ``etag`` is the Raft index of the last change (what
    clients compare); ``changed_at`` is when this node applied it."""

    __slots__ = ("changed_at", "etag", "members", "mentors", "promotables", "rehabs", "rf")

    def __init__(
        self,
        members: list[int],
        rf: int,
        rehabs: list[int] | None = None,
        promotables: list[int] | None = None,
        mentors: dict[int, int] | None = None,
        etag: int = 0,
        changed_at: float = -1e18,
    ):
        self.members = list(members)
        self.rf = rf
        self.rehabs = list(rehabs or [])
        self.promotables = list(promotables or [])
        self.mentors = dict(mentors or {})
        self.etag = etag
        self.changed_at = changed_at

    def copy(self) -> DbTopology:
        """An independent copy (lists and mentors copied), etag and time included."""
        return DbTopology(
            self.members, self.rf, self.rehabs, self.promotables, self.mentors, self.etag, self.changed_at
        )

    def event_fields(self, tag: Callable[[int], str]) -> dict[str, tuple[str, ...]]:
        """Its members, rehabs and promotables by node tag: a ``topology_changed`` event's fields."""
        return {
            "members": tuple(tag(i) for i in self.members),
            "rehabs": tuple(tag(i) for i in self.rehabs),
            "promotables": tuple(tag(i) for i in self.promotables),
        }

    def all_nodes(self) -> list[int]:
        """Every node of the group: members, then rehabs, then promotables."""
        return self.members + self.rehabs + self.promotables

    def client_view(self) -> list[int]:
        """What clients see: members in order, then rehabs; promotables are hidden."""
        return self.members + self.rehabs


def pick_mentor(db: str, candidate: int, members: list[int]) -> int:
    """The member that catches up ``candidate`` [spec §2.4]: RavenDB picks it like a task's
    owner, by a hash over the members (``DatabaseTopology.WhoseTaskIsIt`` with a promotable
    task); here a CRC of the database and the candidate, over the members in node order."""
    ordered = sorted(members)
    return ordered[zlib.crc32(f"{db}/{candidate}".encode()) % len(ordered)]


class ClusterState:
    """The replicated state machine: what every node holds once it applied the log."""

    def __init__(self, config: dict[int, str], databases: dict[str, DbTopology]):
        self.config = dict(config)
        self.databases = {name: topo.copy() for name, topo in databases.items()}
        self.indexes: set[str] = set()
        self.compare_exchange: dict[int, int] = {}  # key -> Raft index of its current value
        self.task_states: dict[str, Any] = {}  # ongoing task -> its last persisted progress
        self.now: Callable[[], float] = lambda: 0.0

    def apply(self, index: int, entry: Entry) -> Any:
        """Apply committed entry ``entry`` at log ``index`` and return its result, which goes back to
        whoever submitted the command: ``("ok", ...)``, or why not (``"exists"``, a topology
        ``"conflict"`` with a stale etag, a compare-exchange ``"mismatch"``)."""
        kind = entry.kind
        if kind == "config":
            old = self.config
            self.config = dict(entry.payload)
            changed = {n: (old.get(n), r) for n, r in self.config.items() if old.get(n) != r}
            return ("ok", index, changed)
        elif kind == "group_change":
            return self._change_group(index, entry.payload)
        elif kind == "create_database":
            name, nodes = entry.payload
            if name in self.databases:
                return ("exists", self.databases[name].members)
            self.databases[name] = DbTopology(nodes, len(nodes), etag=index, changed_at=self.now())
            return ("created", list(nodes))
        elif kind == "topology":
            name, topo, expected_etag = entry.payload
            current = self.databases.get(name)
            if current is not None and current.etag != expected_etag:
                # Decided on a stale record (e.g. by an old leader's observer): retried next round.
                return ("conflict", current.etag)
            new = topo.copy()
            new.etag = index
            new.changed_at = self.now()
            self.databases[name] = new
            return ("ok", index)
        elif kind == "deploy_index":
            self.indexes.add(entry.payload)
        elif kind == "task_state":
            name, value = entry.payload
            self.task_states[name] = value
        elif kind == "compare_exchange":
            # Put with index 0 creates; put or delete with index i succeeds only if the
            # current index is i [spec §6].
            key, expected, delete = entry.payload
            current = self.compare_exchange.get(key, 0)
            if current != expected:
                return ("mismatch", current)
            if delete:
                self.compare_exchange.pop(key, None)
                return ("ok", 0)
            self.compare_exchange[key] = index
            return ("ok", index)
        return ("ok", index)

    def _change_group(self, index: int, payload: tuple[str, str, int, int | None]) -> Any:
        """An operator adds a node to a database group or removes one, applied to the record as
        it is when the entry applies. Add: RavenDB's ``AddDatabaseNode`` handler
        (Documents/Handlers/Admin/AdminDatabasesHandler.cs): the node joins the promotables,
        the replication factor grows by one, a predefined mentor is kept if it is a member.
        Remove: ``DeleteDatabaseCommand`` with ``FromNodes`` (ServerWide/Commands/
        DeleteDatabaseCommand.cs ``UpdateDatabaseRecord``): out of the topology, the
        replication factor one lower (``UpdateReplicationFactor``, true by default)."""
        name, op, node, mentor = payload
        current = self.databases.get(name)
        if current is None:
            return ("refused", f"there is no database '{name}'")
        new = current.copy()
        if op == "add":
            if node in new.all_nodes():
                return ("refused", "it is already in the database group")
            new.promotables.append(node)
            new.rf += 1
            if new.members:
                new.mentors[node] = mentor if mentor in new.members else pick_mentor(name, node, new.members)
        else:
            if node not in new.all_nodes():
                return ("refused", "it is not in the database group")
            if len(new.all_nodes()) == 1:
                # RavenDB would delete the database; the model keeps its one simulated database.
                return ("refused", "it holds the last copy: removing it would delete the database")
            for part in (new.members, new.rehabs, new.promotables):
                if node in part:
                    part.remove(node)
            new.mentors.pop(node, None)
            new.rf = max(1, new.rf - 1)
        new.etag = index
        new.changed_at = self.now()
        self.databases[name] = new
        return ("ok", index)


class Cluster:
    """All Raft nodes of one cluster, plus run-wide bookkeeping and safety checks.

    It runs on ``env`` and sends over ``network``; ``nodes`` are the servers it runs on, one
    Raft node each (it reads their ``index``, ``tag``, ``up`` and ``disk``), and its events go
    to ``recorder`` (the stand-alone election experiment passes a stand-in that keeps none).
    The full model sets ``quiet`` after building its Quiescence, and the callbacks
    (``on_leader``, ``on_state_change``, ``on_new_leader``) once their listeners exist.
    """

    def __init__(
        self,
        env: simpy.Environment,
        network: Network,
        nodes: Sequence[Node],
        recorder: Recorder,
        spec: ClusterSpec,
        roles: dict[int, str],
        streams: Streams,
        databases: dict[str, DbTopology] | None = None,
        on_apply: Callable[[RaftNode, int, Entry, Any], None] | None = None,
    ):
        self.env = env
        self.network = network
        self.recorder = recorder
        self.spec = spec
        self.et = spec.election_timeout
        self.heartbeat = spec.heartbeat_interval or self.et / 3
        # The textbook timer comes with the rest of LogCabin's election rules (the Raft
        # paper's reference implementation, the one its election experiment ran on).
        self.logcabin_rules = spec.election_timer == "reset"
        # How late a timer thread wakes after its deadline (the OS's timer slack and
        # scheduling), drawn per expiry; None: on time. Only the election experiment sets it:
        # there it is the one thing that breaks the symmetry of identical timeouts.
        self.timer_wakeup: Callable[[], float] | None = None
        self.rng = streams.rng("cluster.timers")
        self.streams = streams
        # Each directed link's Raft messages draw their latencies from a stream of their own
        # (same distribution as the link's other traffic), so the draws depend on Raft
        # traffic alone and a parked cluster can replay its skipped heartbeats exactly.
        self._link_latency: dict[tuple[int, int], tuple[Sampler, Sampler, int]] = {}
        self.on_apply = on_apply
        self.cmd_ids = itertools.count(1)
        initial = ClusterState(roles, databases or {})
        # Bootstrap: every node starts with the same committed entry holding the topology.
        self.nodes = [RaftNode(self, node, roles, initial) for node in nodes]
        # Safety bookkeeping.
        self.leader_of_term: dict[int, int] = {}
        self.committed_terms: list[int] = [0, 0]  # index -> term of the committed entry
        self.leader_history: list[tuple[float, int, int]] = []  # (time, term, node) of each leader-elect
        self.elections = 0
        self.available = False
        # Optional probe: called as (follower, leader, term) when a node first hears a new leader.
        self.on_new_leader: Callable[[RaftNode, int, int], None] | None = None
        # Called when a node becomes Leader (its noop committed): starts the Cluster Observer.
        self.on_leader: Callable[[RaftNode], object] | None = None
        # The model's Quiescence (idle elision), set by the builder once built (it reads this
        # cluster); None in the stand-alone election experiment.
        self.quiet: Quiescence | None = None
        # Called when a node's Rachis state changes in a way that decides who runs tasks.
        self.on_state_change: Callable[[RaftNode], None] | None = None

    def bootstrap(self) -> None:
        """Start as a running cluster: the first member leads term 1, everyone follows.

        A simulation is about a cluster that has been up for a while, so it does
        not begin with an election (the election experiment crashes this leader)."""
        lead = next(n for n in self.nodes if n.role == MEMBER)
        for n in self.nodes:
            n.term = 1
            n.voted_for = lead.index
            n.log.append(Entry(1, "noop"))
            n.durable_len = len(n.log)
            n.commit_index = n.last_applied = n.last_index()
            n.leader = lead.index
            n.last_leader_contact = self.env.now
        self.committed_terms.append(1)
        lead.state = LEADER
        lead.generation += 1
        lead.followers = {
            p: Follower(lead.last_index() + 1, self.env.now) for p in lead.state_machine_config() if p != lead.index
        }
        for f in lead.followers.values():
            f.match = lead.last_index()
        self.leader_of_term[1] = lead.index
        self.leader_history.append((self.env.now, 1, lead.index))
        self.event("leader_elected", lead, 1, bootstrap=True)
        self.update_availability()
        lead._start_leading(lead.generation, negotiate=False)  # the synchronised broadcast at t = 0
        if self.on_leader is not None:
            self.on_leader(lead)

    # -- events
    def event(self, kind: str, node: RaftNode | None = None, term: int | None = None, **fields: Any) -> None:
        """Record a cluster event (``workbench.model.recording.events``), ``node`` by its tag."""
        self.recorder.event(kind, node=node.tag if node else None, term=term, **fields)

    # -- timers
    def draw_timeout(self, extended: bool = False) -> float:
        """A timer period in whole milliseconds, as both implementations draw it.

        RavenDB: ``Random.Next(2/3 ET, ET)`` in ms, an integer in [low, high)
        (Rachis/RachisConsensus.cs ``RandomizeTimeout``). LogCabin:
        ``Core::Random::randomRange(low, high)`` in ms, ``lround`` of a uniform
        draw, so both ends count half (Server/RaftConsensus.cc ``setElectionTimer``).
        A range narrower than a millisecond is drawn as given."""
        rng_range = self.spec.timeout_range
        if rng_range is not None:
            low, high = rng_range
        else:
            scale = 2.0 if extended else 1.0
            low, high = 2 / 3 * self.et * scale, self.et * scale
        low_ms, high_ms = low * 1e3, high * 1e3
        whole = abs(low_ms - round(low_ms)) < 1e-6 and abs(high_ms - round(high_ms)) < 1e-6
        if high_ms - low_ms < 1.0 or not whole:
            return float(self.rng.uniform(low, high))
        if self.logcabin_rules:
            return round(float(self.rng.uniform(low_ms, high_ms))) / 1e3
        return float(self.rng.integers(round(low_ms), round(high_ms))) / 1e3

    def link_latency(self, src: int, dst: int) -> Sampler:
        """The Raft stream of one directed link, following its current distribution (a
        degraded link gets a fresh stream, and a restored one another)."""
        shared = self.network._latency[src][dst]
        entry = self._link_latency.get((src, dst))
        if entry is None or entry[0] is not shared:
            version = 0 if entry is None else entry[2] + 1
            own = self.streams.sampler(f"raft.latency.{src}-{dst}.{version}", shared.dist)
            entry = (shared, own, version)
            self._link_latency[src, dst] = entry
        return entry[1]

    # -- queries
    def leader(self) -> RaftNode | None:
        """The node that leads the highest term right now, if any."""
        best = None
        for n in self.nodes:
            if n.state in (LEADER, LEADER_ELECT) and (best is None or n.term > best.term):
                best = n
        return best

    def has_quorum_leader(self) -> bool:
        """A leader (noop committed) that a majority of voters follow and can reach."""
        lead = self.leader()
        if lead is None or lead.state != LEADER:
            return False
        cut = self.network.cut
        voters = lead.voters()
        following = 0
        for i in voters:
            n = self.nodes[i]
            if n is lead or (
                n.state != DOWN
                and n.term == lead.term
                and n.leader == lead.index
                and not cut[lead.index][i]
                and not cut[i][lead.index]
            ):
                following += 1
        return following >= len(voters) // 2 + 1

    def update_availability(self) -> None:
        """Re-evaluate cluster availability after anything that can change it; log transitions."""
        now_available = self.has_quorum_leader()
        if now_available != self.available:
            self.available = now_available
            lead = self.leader()
            self.event(
                "cluster_available" if now_available else "cluster_unavailable",
                lead if now_available else None,
                lead.term if (lead and now_available) else None,
            )

    # -- safety checks
    def check_leader(self, node: RaftNode) -> None:
        """Raft's election safety and leader completeness, checked when ``node`` becomes leader;
        raises :class:`SafetyViolation`."""
        other = self.leader_of_term.setdefault(node.term, node.index)
        if other != node.index:
            msg = f"election safety: two leaders in term {node.term}: {self.nodes[other].tag} and {node.tag}"
            raise SafetyViolation(msg)
        # Leader completeness: the new leader holds every committed entry.
        for idx in range(1, len(self.committed_terms)):
            if idx >= len(node.log) or node.log[idx].term != self.committed_terms[idx]:
                msg = f"leader completeness: {node.tag} leads term {node.term} without committed entry {idx}"
                raise SafetyViolation(msg)

    def check_commit(self, node: RaftNode, index: int) -> None:
        """Raft's state machine safety, checked when ``node`` commits ``index``: no two terms committed at one index."""
        term = node.log[index].term
        known = self.committed_terms
        if index < len(known):
            if known[index] != term:
                msg = f"state machine safety: {node.tag} committed term {term} at {index}, others term {known[index]}"
                raise SafetyViolation(msg)
        elif index == len(known):
            known.append(term)
        else:  # commits arrive in order on each node, and any commit implies the earlier ones
            for i in range(len(known), index + 1):
                known.append(node.log[i].term)

    def state_changed(self, node: RaftNode) -> None:
        """A node became candidate, leader, or heard a new leader: its tasks' owner may change."""
        if self.on_state_change is not None:
            self.on_state_change(node)

    # -- crashes
    def crash(self, index: int) -> None:
        """Node ``index``'s process died: wake an idle cluster, crash its Raft state and recheck
        availability and task owners."""
        # A crash can come from inside the model too (a graceful shutdown's end), not only
        # from a fault the idle cluster was woken for.
        if self.quiet is not None:
            self.quiet.wake()
        self.nodes[index].crash()
        self.update_availability()
        self.state_changed(self.nodes[index])

    def restart(self, index: int) -> None:
        """Node ``index``'s process is back: it restarts as a follower with its durable state."""
        if self.quiet is not None:
            self.quiet.wake()
        self.nodes[index].restart()
        self.state_changed(self.nodes[index])


class Follower:
    """The leader's sender to one peer: RavenDB's FollowerAmbassador (LogCabin's peer thread).

    One AppendEntries at a time: send, wait for the reply, then wait up to a heartbeat
    interval (less if new entries or a new commit index come) and send again."""

    __slots__ = (
        "busy",
        "connected",
        "last_reply",
        "match",
        "message",
        "next",
        "parked",
        "parked_at",
        "retries",
        "rto_at",
        "rttvar",
        "sent",
        "sent_at",
        "sent_commit",
        "seq",
        "setup_left",
        "srtt",
        "timer_at",
        "token",
    )

    def __init__(self, next_index: int, now: float):
        self.next = next_index
        self.match = 0
        self.sent = next_index - 1  # highest index sent
        self.sent_commit = -1  # the commit index the last AppendEntries carried
        self.last_reply = now  # LastReplyFromFollower: a reply, or the end of an idle wait
        self.busy = False  # an AppendEntries (or a connection step) waits for its answer
        self.seq = 0  # numbers requests, so a late answer to an older one is ignored
        self.message: tuple[float, str, tuple] | None = None  # the request in flight, to retransmit
        self.sent_at = now  # when the request in flight was first sent
        self.retries = 0
        self.rto_at = math.inf  # when the request in flight is due for a retransmission
        self.timer_at = math.inf  # when the pending retransmission check fires (inf: none)
        self.connected = True  # the connection works (False: backing off or reconnecting)
        self.srtt: float | None = None  # TCP's smoothed round-trip time and its variation
        self.rttvar = 0.0
        self.setup_left = 0  # connection round trips still to make before the Raft protocol
        self.parked = False  # stopped while the cluster is parked (Quiescence)
        self.parked_at = 0.0  # when it stopped: its next request was due then
        self.token = 0  # bumps to cancel a pending wait


class RaftNode:
    """One node's Rachis: durable term, vote and log, its state (follower, candidate, leader-elect,
    leader or down), the election timer, the leader's ambassadors to each follower, and the
    commands it submits, applied in log order to its :class:`ClusterState` (the rules are in the
    module docstring)."""

    def __init__(self, cluster: Cluster, node: Any, roles: dict[int, str], initial: ClusterState):
        self.cluster = cluster
        self.env = cluster.env
        self.node = node
        self.index = node.index
        self.tag = node.tag
        # Durable.
        self.term = 0
        self.voted_for: int | None = None
        self.log: list[Entry] = [Entry(0, "noop"), Entry(0, "config", dict(roles))]
        self.durable_len = len(self.log)
        self.state_machine = ClusterState(initial.config, initial.databases)
        self.state_machine.now = lambda: self.env.now
        self.last_applied = 1
        # Volatile.
        self.state = FOLLOWER
        self.leader: int | None = None
        self.commit_index = 1
        self.generation = 0  # bumps on every state change; stale replies and callbacks check it
        self.timer_gen = 0  # bumps whenever the election timer restarts; stale timers check it
        self._synced: set[int] = set()  # log indexes fsynced beyond the durable prefix
        # Persisting term and vote holds the node's Raft lock: messages and the election
        # timer wait for the write (LogCabin's mutex across updateLogMetadata; Rachis'
        # write transactions, one at a time through the TxMerger).
        self.persisting = False
        self.backlog: list[tuple[Callable[..., None], tuple]] = []
        # The last AppendEntries taken from a leader's connection, (leader, its generation,
        # seq), and the answer sent to it: TCP hands a retransmitted copy to nobody, and
        # resends the answer if that was what got lost.
        self._request_seen = (-1, -1, -1)
        self._answer_sent: tuple | None = None
        self.deferred = False
        self.timeout = cluster.draw_timeout()
        self.last_leader_contact = -1e18
        self.votes: set[int] = set()
        self.prevoting = False
        self.followers: dict[int, Follower] = {}
        self.pending: dict[int, tuple[Entry, Callable[[Any], None], float]] = {}  # cmd_id -> waiting submit
        self.cmd_index: dict[int, int] = {}  # cmd_id -> log index
        # An operator's change of a node's role waiting to commit: log index -> (entry, callback).
        self.topology_waits: dict[int, tuple[Entry, Callable[[Any], None]]] = {}
        self.config_index = 1  # log index of the newest configuration entry
        self._last_forward = -1e18
        self.leader_commit_seen = 0  # the leader's commit index in the last append heard
        # Periodic timers run on exact grids, so one stopped while the cluster is parked
        # (Quiescence) resumes on the very instants it would have reached.
        self.timer_grid = Grid(0.0, 1.0)  # the election timer's ticks
        self.tick_parked = False  # the election timer stopped while the cluster is parked
        self.beat_grid = Grid(0.0, 1.0)  # the leader's heartbeat ticks
        self._beat_gen = -1  # the leadership (generation) that beat_grid belongs to
        self._start_timer()

    # ---------------------------------------------------------------- helpers
    @property
    def role(self) -> str:
        """This node's role in the latest configuration in its log (member, promotable or watcher)."""
        return self.state_machine_config().get(self.index, WATCHER)

    def state_machine_config(self) -> dict[int, str]:
        """Role by node in the latest configuration in the log, committed or not (Raft §6)."""
        # The latest configuration in the log governs, committed or not (Raft §6).
        return self.log[self.config_index].payload

    def voters(self) -> list[int]:
        """The members of the latest configuration: the nodes that vote and count for a majority."""
        return [i for i, r in self.state_machine_config().items() if r == MEMBER]

    def majority(self) -> int:
        """How many voters make a majority."""
        return len(self.voters()) // 2 + 1

    def last_index(self) -> int:
        """Index of the last entry of its log."""
        return len(self.log) - 1

    def last_term(self) -> int:
        """Term of the last entry of its log."""
        return self.log[-1].term

    def send(self, dst: int, size: float, handler: str, *args: Any) -> None:
        """Send a Raft message of ``size`` bytes to node ``dst``, calling its method
        ``handler(*args)`` on arrival (a datagram: lost on a cut link)."""
        cluster = self.cluster
        peer = cluster.nodes[dst]
        latency = cluster.link_latency(self.index, dst)
        cluster.network.send_via(latency, self.index, dst, size, getattr(peer, handler), *args)

    # ---------------------------------------------------------------- timers
    def _start_timer(self, extended: bool = False) -> None:
        self.generation += 1
        self.timer_gen += 1
        self.timeout = self.cluster.draw_timeout(extended)
        self.deferred = False
        self.timer_grid = Grid(self.env.now, self.timeout, 1)
        self._arm(self.timeout)

    def _arm(self, delay: float) -> None:
        wakeup = self.cluster.timer_wakeup
        if wakeup is not None:
            delay += wakeup()
        Timer(self.env, delay, self._tick, (self.timer_gen,))

    def _tick(self, gen: int) -> None:
        if gen != self.timer_gen or self.state in (DOWN, LEADER, LEADER_ELECT):
            return
        if self.persisting:
            self.backlog.append((self._tick, (gen,)))  # the timer thread waits for the lock
            return
        quiet = self.cluster.quiet
        if quiet is not None and quiet.parked:
            # Steady: a heartbeat arrived in this period and deferred it. The timer
            # stops here and resumes on the same grid when the cluster wakes.
            self.deferred = False
            self.timer_grid.k += 1
            self.tick_parked = True
            return
        if self.deferred:
            self.deferred = False
            if self.cluster.spec.election_timer == "reset":
                return  # the heartbeat already started a fresh timer
            Timer(self.env, self.timer_grid.step() - self.env.now, self._tick, (gen,))
            return
        self._on_timeout()

    def resume_timer(self, heard_at: float | None) -> None:
        """The cluster wakes: restart a stopped election timer on its grid; a heartbeat
        skipped at ``heard_at`` defers the period it fell in, as a real one would."""
        now = self.env.now
        grid = self.timer_grid
        if self.tick_parked:
            self.tick_parked = False
            self.deferred = False  # the last skipped tick found a heartbeat and cleared it
            grid.catch_up(now)
            Timer(self.env, grid.at() - now, self._tick, (self.timer_gen,))
        if heard_at is not None:
            self.last_leader_contact = max(self.last_leader_contact, heard_at)
            if heard_at > grid.at() - grid.period:
                self.deferred = True

    def _heard_from_leader(self) -> None:
        self.last_leader_contact = self.env.now
        if self.cluster.spec.election_timer == "reset":
            self.timer_gen += 1
            self.timeout = self.cluster.draw_timeout()
            self._arm(self.timeout)
        else:
            self.deferred = True

    def _on_timeout(self) -> None:
        if self.role != MEMBER:
            self._start_timer()  # watchers and promotables never stand for election
            return
        if self.state == FOLLOWER and self.leader is not None:
            lost = self.cluster.nodes[self.leader]
            self.cluster.event("leader_lost", self, self.term, leader=lost.tag)
            self.leader = None
        extended = self.state == CANDIDATE  # a round passed with no result
        if self.cluster.spec.prevote:
            self._start_prevote(extended)
        else:
            self._start_election(extended)

    # ---------------------------------------------------------------- elections
    def _become_candidate(self, extended: bool) -> None:
        was = self.state
        self.state = CANDIDATE
        self.leader = None
        self.followers = {}
        self.votes = {self.index}
        self._start_timer(extended)
        if was != CANDIDATE:
            self.cluster.state_changed(self)

    def _start_prevote(self, extended: bool) -> None:
        self._become_candidate(extended)
        self.prevoting = True
        if len(self.votes) >= self.majority():
            self._start_election(extended)
            return
        self._ask_votes(self.term + 1, prevote=True)

    def _start_election(self, extended: bool) -> None:
        if self.state != CANDIDATE or not self.prevoting:
            self._become_candidate(extended)
        self.prevoting = False
        self.term += 1
        self.voted_for = self.index
        self.votes = {self.index}
        self.cluster.elections += 1
        self.cluster.event("election_started", self, self.term)
        if len(self.votes) >= self.majority():
            self._become_leader_elect()
            return
        # Term and vote are persisted before anyone is asked (they survive a crash); the
        # timer already restarted (LogCabin ``startNewElection``: setElectionTimer, then
        # updateLogMetadata, then the RequestVotes leave).
        self._persist(self._vote_persisted, self.generation)

    def _vote_persisted(self, gen: int) -> None:
        if gen == self.generation and self.state == CANDIDATE and not self.prevoting:
            self._ask_votes(self.term, prevote=False)

    # ---------------------------------------------------------------- the Raft lock
    def _persist(self, then: Callable[[Any], None], arg: Any) -> None:
        """Write term, vote or the new leader's noop while holding the Raft lock."""
        self.persisting = True
        self.node.disk.write(self._persisted, (then, arg), SERVER_STORE)

    def _persisted(self, job: tuple[Callable[[Any], None], Any]) -> None:
        if self.state == DOWN:
            return
        then, arg = job
        self.persisting = False
        then(arg)
        backlog = self.backlog
        while backlog and not self.persisting and self.state != DOWN:
            fn, args = backlog.pop(0)
            fn(*args)

    def _ask_votes(self, term: int, prevote: bool) -> None:
        gen = self.generation
        for peer in self.voters():
            if peer != self.index:
                self.send(
                    peer,
                    MESSAGE_OVERHEAD,
                    "on_request_vote",
                    self.index,
                    term,
                    self.last_index(),
                    self.last_term(),
                    prevote,
                    gen,
                )

    def on_request_vote(self, cand: int, term: int, last_index: int, last_term: int, prevote: bool, gen: int) -> None:
        """A (pre-)vote request from candidate ``cand`` for ``term``. A trial vote is granted to an
        up-to-date member unless a leader was heard within ET/2 (``Elector.cs``
        ``HandleVoteRequest``); a real vote follows Raft, with the term and vote written first."""
        if self.state == DOWN:
            return
        if self.persisting:
            self.backlog.append((self.on_request_vote, (cand, term, last_index, last_term, prevote, gen)))
            return
        up_to_date = last_term > self.last_term() or (last_term == self.last_term() and last_index >= self.last_index())
        if prevote:
            # Rachis refuses a trial vote while its leader deferred its timer within ET/2
            # (Rachis/Elector.cs ``HandleVoteRequest``: ExpiredLastDeferral(ET / 2)).
            recent_leader = (
                self.leader is not None and self.env.now - self.last_leader_contact < self.cluster.et / 2
            ) or self.state in (LEADER, LEADER_ELECT)
            granted = self.role == MEMBER and term > self.term and up_to_date and not recent_leader
            self.send(cand, MESSAGE_OVERHEAD, "on_vote", self.index, self.term, granted, True, gen)
            return
        if term > self.term:
            self._step_down(term)
            if self.cluster.logcabin_rules:
                # LogCabin's stepDown persists the new term (updateLogMetadata) before the
                # vote is even considered: a second write on the vote path. Rachis writes
                # term and vote in one transaction (ElectorCastVoteInTermWithShouldGrantVoteCommand).
                self._persist(self._consider_vote, (cand, term, up_to_date, gen))
                return
        self._consider_vote((cand, term, up_to_date, gen))

    def _consider_vote(self, job: tuple[int, int, bool, int]) -> None:
        cand, term, up_to_date, gen = job
        granted = self.role == MEMBER and term == self.term and self.voted_for in (None, cand) and up_to_date
        if granted:
            self.voted_for = cand
            if self.state == FOLLOWER:
                self._heard_from_leader()  # granting a vote resets the timer (Raft §5.2)
            # The vote is persisted before the answer leaves.
            self._persist(self._send_vote, (cand, self.term, gen))
            return
        self.send(cand, MESSAGE_OVERHEAD, "on_vote", self.index, self.term, False, False, gen)

    def _send_vote(self, job: tuple[int, int, int]) -> None:
        cand, term, gen = job
        if self.state != DOWN:
            self.send(cand, MESSAGE_OVERHEAD, "on_vote", self.index, term, True, False, gen)

    def on_vote(self, voter: int, term: int, granted: bool, prevote: bool, gen: int) -> None:
        """A (pre-)vote answer: a majority of granted trial votes starts the real election; a
        majority of votes makes this node leader-elect."""
        if self.state == DOWN:
            return
        if self.persisting:
            self.backlog.append((self.on_vote, (voter, term, granted, prevote, gen)))
            return
        if term > self.term:  # a granted trial vote never carries a higher term
            self._step_down(term)
            return
        if self.state != CANDIDATE or gen != self.generation or prevote != self.prevoting or not granted:
            return
        self.votes.add(voter)
        if len(self.votes) >= self.majority():
            if prevote:
                self._start_election(extended=False)
            else:
                self._become_leader_elect()

    def _step_down(self, term: int) -> None:
        """Adopt a newer term and follow (Raft: any message with a higher term)."""
        was_leader = self.state in (LEADER, LEADER_ELECT)
        if term > self.term:
            self.term = term
            self.voted_for = None
        if was_leader:
            self.cluster.event("stepped_down", self, self.term, reason="saw a newer term")
            self._abandon_topology_changes(f"{self.tag} lost its leadership (it saw a newer term)")
        if self.state != FOLLOWER or was_leader:
            self.state = FOLLOWER
            self.followers = {}
            self.leader = None
            if was_leader or not self.cluster.logcabin_rules:
                self._start_timer()
            else:
                # LogCabin's stepDown restarts the timer only for a leader: a candidate keeps its deadline.
                self.generation += 1
            self.cluster.state_changed(self)  # no leader now: its tasks stop until it hears one
        if was_leader or self.cluster.available:
            self.cluster.update_availability()

    # ---------------------------------------------------------------- leadership
    def _become_leader_elect(self) -> None:
        self.state = LEADER_ELECT
        self.leader = self.index
        self.generation += 1
        self.prevoting = False
        self.cluster.leader_history.append((self.env.now, self.term, self.index))
        self.cluster.check_leader(self)
        now = self.env.now
        config = self.state_machine_config()
        self.followers = {peer: Follower(self.last_index() + 1, now) for peer in config if peer != self.index}
        if self.cluster.logcabin_rules:
            # LogCabin (since "Overlap leader disk flush with replication", Feb 2014) sends the
            # noop at once and flushes it alongside: the model's pipelined leader append.
            self._append_local(Entry(self.term, "noop"))
            for entry, _callback, _since in list(self.pending.values()):
                self.accept(entry)  # commands this node was holding for a leader
            self._start_leading(self.generation, negotiate=False)
        else:
            # Rachis inserts the noop in the transaction that makes the node LeaderElect
            # (RachisConsensus ``SetNewStateInTx``) and starts the ambassadors after it
            # commits, so the noop is durable before the first AppendEntries leaves.
            noop = Entry(self.term, "noop")
            self.log.append(noop)
            self._persist(self._noop_persisted, (self.generation, self.last_index(), noop))
        self.cluster.state_changed(self)

    def _noop_persisted(self, job: tuple[int, int, Entry]) -> None:
        gen, index, noop = job
        if gen != self.generation or self.state != LEADER_ELECT:
            return
        self._mark_durable([(index, noop)])
        self._advance_commit()  # a single voter commits it now
        for entry, _callback, _since in list(self.pending.values()):
            self.accept(entry)  # commands this node was holding for a leader
        # Rachis reuses the election connections and negotiates the log on each first.
        self._start_leading(gen, negotiate=True)

    def _start_leading(self, gen: int, negotiate: bool) -> None:
        """Start one ambassador per peer, and the leader's own tick."""
        for peer, f in self.followers.items():
            self._send_append(peer, f, empty=negotiate)
        self._leader_tick(gen)

    def _leader_tick(self, gen: int) -> None:
        """Every heartbeat interval: the vote of no confidence, then perhaps park.

        RavenDB's Leader.Run checks on every wake (each voter's answer, each new entry, at
        least once per ET); once per heartbeat interval sees the same lapses within ET/3."""
        if gen != self.generation or self.state not in (LEADER, LEADER_ELECT):
            return
        now = self.env.now
        hb = self.cluster.heartbeat
        # Vote of no confidence [spec §1.4]: fewer than a majority (itself included) with
        # LastReplyFromFollower within ET (Rachis/Leader.cs ``EnsureThatWeHaveLeadership``).
        et = self.cluster.et
        heard = 1 + sum(
            1
            for p in self.voters()
            if p != self.index and p in self.followers and now - self.followers[p].last_reply < et
        )
        if self.role == MEMBER and heard < self.majority():
            self.cluster.event("stepped_down", self, self.term, reason="lost touch with a majority")
            self._abandon_topology_changes(f"{self.tag} lost touch with a majority and stepped down")
            self.state = FOLLOWER
            self.followers = {}
            self.leader = None
            self.generation += 1  # its ambassadors stop
            self.cluster.update_availability()
            self._on_timeout_after_step_down()
            return
        if self._beat_gen != gen:  # the first tick of this leadership anchors the grid
            self._beat_gen = gen
            self.beat_grid = Grid(now, hb)
        self.beat_grid.step()
        quiet = self.cluster.quiet
        if quiet is not None and quiet.try_park(self):
            return  # nothing can change: the ticks resume on this grid when the cluster wakes
        Timer(self.env, self.beat_grid.at() - now, self._leader_tick, (gen,))

    def resume_ticks(self) -> dict[int, float]:
        """The cluster wakes: restart the leader's ticks on their grid and replay each parked
        ambassador's skipped rounds. Returns when each follower last heard the leader."""
        now = self.env.now
        grid = self.beat_grid
        grid.catch_up(now)
        gen = self.generation
        Timer(self.env, grid.at() - now, self._leader_tick, (gen,))
        heard: dict[int, float] = {}
        for peer, f in self.followers.items():
            if f.parked:
                last = self._replay(peer, f, now)
                if last is not None:
                    heard[peer] = last
        return heard

    def _replay(self, peer: int, f: Follower, now: float) -> float | None:
        """Run a parked ambassador's skipped rounds without events, drawing the latencies the
        full simulation would draw, in its order, from the link's Raft streams; then leave it
        (and a message in flight) as that simulation would have it now. Rounds older than
        ``EXACT_REPLAY_S`` are skipped at their mean length. Returns when the follower last
        heard the leader, if it did while parked. (Their bytes were credited at the steady
        rate while parked: Quiescence.credit_bytes.)"""
        cluster = self.cluster
        net = cluster.network
        node = cluster.nodes[peer]
        me, gen = self.index, self.generation
        out, back = cluster.link_latency(me, peer), cluster.link_latency(peer, me)
        wire_out = MESSAGE_OVERHEAD * net._inv_bw[me][peer]
        wire_back = MESSAGE_OVERHEAD * net._inv_bw[peer][me]
        hb, et = cluster.heartbeat, cluster.et
        cut = net.cut[me][peer] or net.cut[peer][me]
        f.parked = False
        f.token += 1
        t = f.parked_at
        heard = None
        if now - t > EXACT_REPLAY_S:
            if cut:
                cycle = cluster.spec.tcp_timeout + et / 2
            else:
                rtt = wire_out + wire_back + out.dist.mean() + back.dist.mean()
                cycle = rtt + (hb if f.connected else et / 2)
            skipped = math.floor((now - EXACT_REPLAY_S - t) / cycle)
            if skipped > 0:
                t += skipped * cycle
                f.seq += skipped
        while t < now:
            if f.connected:  # a heartbeat leaves at t, after the idle wait
                f.last_reply = t
                body: tuple = (self.term, f.next - 1, self.log[f.next - 1].term, [], self.commit_index)
                handler = "on_append"
            else:  # the first round trip of a reconnection to a follower that is down
                f.setup_left = cluster.spec.reconnect_round_trips - 1
                body, handler = (), "on_connect"
            f.seq += 1
            args = (me, *body, gen, f.seq)
            if cut:  # nothing leaves: TCP gives up after tcp_timeout, then ET/2
                failed = t + cluster.spec.tcp_timeout
                if failed >= now:
                    self._in_flight(peer, f, t, handler, args, None, now)
                    return heard
                f.srtt, f.connected, t = None, False, failed + et / 2
                continue
            arrive = t + wire_out + out()
            if arrive >= now:
                self._in_flight(peer, f, t, handler, args, (arrive, me, peer, getattr(node, handler), args), now)
                return heard
            answered = arrive + wire_back + back()
            if f.connected:
                heard = arrive
                answer = (peer, self.term, True, f.next - 1, gen, f.seq)
                node._request_seen, node._answer_sent = (me, gen, f.seq), answer
                reply = (answered, peer, me, self.on_append_reply, answer)
            else:
                reply = (answered, peer, me, self.on_connection_reset, (peer, gen))
            if answered >= now:
                self._in_flight(peer, f, t, handler, args, reply, now)
                return heard
            f.sent_at, f.retries = t, 0
            if f.connected:
                self._answered(f, answered)
                f.last_reply = answered
                t = answered + hb
            else:  # reset: wait ET/2 and try again
                f.srtt, t = None, answered + et / 2
        Timer(self.env, t - now, self._idle_over, (gen, peer, f.token))
        return heard

    def _in_flight(
        self,
        peer: int,
        f: Follower,
        sent_at: float,
        handler: str,
        args: tuple,
        arrival: tuple[float, int, int, Callable[..., None], tuple] | None,
        now: float,
    ) -> None:
        """The request sent at ``sent_at`` is unanswered at wake: it waits as a real one."""
        f.busy = True
        f.sent_at = sent_at
        f.retries = 0
        f.message = (MESSAGE_OVERHEAD, handler, args)
        f.rto_at = sent_at + self._rto(f)
        deadline = sent_at + self.cluster.spec.tcp_timeout
        while f.rto_at < now and f.rto_at < deadline:  # checks that passed: resent into a cut link
            f.retries += 1
            f.rto_at = min(f.rto_at + self._rto(f) * 2**f.retries, deadline)
        f.timer_at = f.rto_at
        Timer(self.env, max(0.0, f.rto_at - now), self._rto_check, (self.generation, peer))
        if arrival is not None:
            at, src, dst, fn, fn_args = arrival
            Timer(self.env, at - now, self._deliver, (src, dst, fn, fn_args))

    def _deliver(self, src: int, dst: int, fn: Callable[..., None], args: tuple) -> None:
        if not self.cluster.network.cut[src][dst]:  # a cut since the wake drops it, as in flight
            fn(*args)

    def _on_timeout_after_step_down(self) -> None:
        # RavenDB's leader steps down to Candidate and runs an election at once.
        if self.cluster.spec.prevote:
            self._start_prevote(extended=False)
        else:
            self._start_election(extended=False)

    # ---------------------------------------------------------------- ambassadors
    # One per follower, as RavenDB runs it (Rachis/FollowerAmbassador.cs ``Run``): send an
    # AppendEntries, block until the follower answers, then send again at once if new
    # entries or a new commit index wait, else wait up to ET/3 (new entries end the wait)
    # and send a heartbeat. So a follower RTT away hears the leader every RTT + ET/3.
    # LogCabin's peer thread is the same loop, its next heartbeat due a period after the
    # previous one *started* (Server/RaftConsensus.cc ``appendEntries``).
    # The connection is TCP: a request with no answer is retransmitted with exponential
    # back-off from the measured round trip (RFC 6298, 200 ms at least) until
    # Cluster.TcpTimeoutInMs (15 s) has passed; a reset (the follower's process died)
    # arrives within one trip. Either failure: wait ET/2 (new entries end it early),
    # reconnect (``reconnect_round_trips`` round trips), negotiate the log, go on.

    def _sendable_last(self) -> int:
        # Rachis ships only what its own transaction committed; LogCabin flushes alongside.
        return self.last_index() if self.cluster.logcabin_rules else self.durable_len - 1

    def _send_append(self, peer: int, f: Follower, empty: bool = False) -> None:
        """Send an AppendEntries from ``next`` (no entries when ``empty``: a heartbeat or a
        log negotiation), unless one is in flight or the ambassador waits or is parked."""
        if f.busy or not f.connected or f.parked:
            return
        last = self._sendable_last()
        if f.next > last + 1:
            f.next = last + 1
        prev = f.next - 1
        entries: list[Entry] = []
        size = MESSAGE_OVERHEAD
        if not empty:
            limit = self.cluster.spec.max_entries_per_append
            log = self.log
            i = f.next
            while i <= last and len(entries) < limit and size <= MAX_APPEND_BYTES:
                entries.append(log[i])
                size += log[i].size
                i += 1
        f.sent = prev + len(entries)
        f.sent_commit = self.commit_index
        if entries:
            f.last_reply = self.env.now  # UpdateFollowerTicks as each entry is written
        self._request(peer, f, size, "on_append", (self.term, prev, self.log[prev].term, entries, self.commit_index))

    def _request(self, peer: int, f: Follower, size: float, handler: str, body: tuple) -> None:
        """Send one request on the follower's connection and watch it like TCP does."""
        now = self.env.now
        f.seq += 1
        f.busy = True
        f.sent_at = now
        f.retries = 0
        args = (self.index, *body, self.generation, f.seq)
        f.message = (size, handler, args)
        self.send(peer, size, handler, *args)
        f.rto_at = now + self._rto(f)
        if f.timer_at > f.rto_at:
            f.timer_at = f.rto_at
            Timer(self.env, f.rto_at - now, self._rto_check, (self.generation, peer))

    def _rto(self, f: Follower) -> float:
        if f.srtt is None:
            return INITIAL_RTO
        return max(self.cluster.network.rto, f.srtt + 4 * f.rttvar)

    def _rto_check(self, gen: int, peer: int) -> None:
        f = self.followers.get(peer) if gen == self.generation else None
        if f is None:
            return
        f.timer_at = math.inf
        if not f.busy:
            return
        now = self.env.now
        if now < f.rto_at - 1e-12:  # a newer request: check again when it is due
            f.timer_at = f.rto_at
            Timer(self.env, f.rto_at - now, self._rto_check, (gen, peer))
            return
        deadline = f.sent_at + self.cluster.spec.tcp_timeout
        if now >= deadline - 1e-12 or f.message is None:
            self._connection_failed(peer, f)
            return
        # TCP resends the unacknowledged bytes; the follower handles a duplicate as Raft
        # requires (AppendEntries is idempotent) and the first answer counts.
        f.retries += 1
        size, handler, args = f.message
        self.send(peer, size, handler, *args)
        f.rto_at = min(now + self._rto(f) * 2**f.retries, deadline)
        f.timer_at = f.rto_at
        Timer(self.env, f.rto_at - now, self._rto_check, (gen, peer))

    def _answered(self, f: Follower, at: float | None = None) -> None:
        """The request in flight was answered (now, or ``at`` in a replay): measure the round
        trip (Karn: first sends only)."""
        now = self.env.now if at is None else at
        if f.retries == 0:
            sample = now - f.sent_at
            if f.srtt is None:
                f.srtt, f.rttvar = sample, sample / 2
            else:
                f.rttvar = 0.75 * f.rttvar + 0.25 * abs(f.srtt - sample)
                f.srtt = 0.875 * f.srtt + 0.125 * sample
        f.busy = False
        f.message = None

    def _next_round(self, peer: int, f: Follower) -> None:
        """After an answer: send at once if entries or a commit index wait, else wait."""
        if f.next <= self._sendable_last() or self.commit_index != f.sent_commit:
            self._send_append(peer, f)
            return
        hb = self.cluster.heartbeat
        wait = max(0.0, f.sent_at + hb - self.env.now) if self.cluster.logcabin_rules else hb
        f.token += 1
        Timer(self.env, wait, self._idle_over, (self.generation, peer, f.token))

    def _idle_over(self, gen: int, peer: int, token: int) -> None:
        f = self.followers.get(peer) if gen == self.generation else None
        if f is None or f.token != token or f.busy:
            return
        quiet = self.cluster.quiet
        if quiet is not None and quiet.parked:
            f.parked = True  # its skipped rounds are replayed when the cluster wakes
            f.parked_at = self.env.now
            return
        if not f.connected:
            self._reconnect(peer, f)
            return
        f.last_reply = self.env.now  # UpdateFollowerTicks after the wait
        self._send_append(peer, f)

    def _kick(self, peer: int, f: Follower) -> None:
        """New entries or a new commit index: end the ambassador's wait."""
        if f.busy or f.parked:
            return  # busy: it looks again when the answer comes
        f.token += 1
        if f.connected:
            self._send_append(peer, f)
        else:
            self._reconnect(peer, f)  # WaitForNewEntries ends the ET/2 back-off too

    def _connection_failed(self, peer: int, f: Follower) -> None:
        f.busy = False
        f.message = None
        f.connected = False
        f.srtt = None  # a new connection measures afresh
        f.token += 1
        Timer(self.env, self.cluster.et / 2, self._idle_over, (self.generation, peer, f.token))

    def _reconnect(self, peer: int, f: Follower) -> None:
        f.setup_left = self.cluster.spec.reconnect_round_trips
        self._connect_step(peer, f)

    def _connect_step(self, peer: int, f: Follower) -> None:
        if f.setup_left > 0:
            f.setup_left -= 1
            self._request(peer, f, MESSAGE_OVERHEAD, "on_connect", ())
            return
        f.connected = True
        self._send_append(peer, f, empty=True)  # LogLengthNegotiation

    def on_connect_reply(self, peer: int, gen: int, seq: int) -> None:
        """One round trip of an ambassador's connection set-up answered: the next one, or the log-length negotiation."""
        f = self.followers.get(peer) if gen == self.generation and self.state != DOWN else None
        if f is None or not f.busy or seq != f.seq or f.connected:
            return
        self._answered(f)
        self._connect_step(peer, f)

    def on_connection_reset(self, peer: int, gen: int) -> None:
        """The follower's process is gone: its OS reset the connection or refused a new one."""
        f = self.followers.get(peer) if gen == self.generation and self.state != DOWN else None
        if f is None or (not f.busy and not f.connected):
            return
        self._connection_failed(peer, f)

    def _append_local(self, entry: Entry) -> int:
        self.log.append(entry)
        index = self.last_index()
        if entry.cmd_id is not None:
            self.cmd_index[entry.cmd_id] = index
        if entry.kind == "config":
            self.config_index = index
        gen = self.generation
        self.node.disk.write(self._local_durable, (gen, [(index, entry)]), SERVER_STORE)
        return index

    def _mark_durable(self, written: list[tuple[int, Entry]]) -> None:
        """An fsync finished: the entries it wrote are durable if they are still in the log
        at the same place (a truncation in between means it wrote something since replaced)."""
        log = self.log
        synced = self._synced
        for index, entry in written:
            if index < len(log) and log[index] is entry:
                synced.add(index)
        while self.durable_len in synced:
            synced.discard(self.durable_len)
            self.durable_len += 1

    def _local_durable(self, job: tuple[int, list[tuple[int, Entry]]]) -> None:
        gen, written = job
        if self.state == DOWN:
            return
        self._mark_durable(written)
        if gen == self.generation and self.state in (LEADER, LEADER_ELECT):
            self._advance_commit()
            last = self._sendable_last()
            for peer, f in self.followers.items():
                if f.sent < last:
                    self._kick(peer, f)

    def on_append_reply(self, peer: int, term: int, success: bool, match: int, gen: int, seq: int) -> None:
        """A follower's answer to AppendEntries: on success its match index advances (commit may
        too, and a caught-up promotable may be promoted); on failure the ambassador backs up
        ``next``."""
        if self.state == DOWN:
            return
        if self.persisting:
            self.backlog.append((self.on_append_reply, (peer, term, success, match, gen, seq)))
            return
        if term > self.term:
            self._step_down(term)
            return
        if gen != self.generation or self.state not in (LEADER, LEADER_ELECT):
            return
        f = self.followers.get(peer)
        if f is None or not f.busy or seq != f.seq:
            return  # an answer to an older request, or a duplicate of a retransmission
        self._answered(f)
        f.last_reply = self.env.now
        if success:
            if match > f.match:
                f.match = match
            f.next = max(f.next, match + 1)
            self._advance_commit()
            if self.state not in (LEADER, LEADER_ELECT) or self.followers.get(peer) is not f:
                return
            self._maybe_promote(peer, f)
        else:
            f.next = max(1, min(f.next - 1, match + 1))
        self._next_round(peer, f)

    def _advance_commit(self) -> None:
        voters = self.voters()
        matches = sorted(
            ((self.durable_len - 1) if p == self.index else self.followers[p].match)
            for p in voters
            if p == self.index or p in self.followers
        )
        if len(matches) < self.majority():
            return
        # RavenDB's leader writes an entry to its own log before it counts as committed, so
        # the leader never applies (and answers for) an entry a crash could take from it.
        candidate = min(matches[len(matches) - self.majority()], self.durable_len - 1)
        if candidate > self.commit_index and self.log[candidate].term == self.term:
            self.commit_index = candidate
            self._apply()
            if self.state == LEADER_ELECT and self.commit_index >= self._noop_index():
                self.state = LEADER
                self.cluster.event("leader_elected", self, self.term, bootstrap=False)
                self.cluster.update_availability()
                if self.cluster.on_leader is not None:
                    self.cluster.on_leader(self)
            for peer, f in self.followers.items():
                self._kick(peer, f)  # tell followers the new commit index at once

    def _noop_index(self) -> int:
        for i in range(self.last_index(), 0, -1):
            if self.log[i].term == self.term and self.log[i].kind == "noop":
                return i
        return self.last_index()

    def _maybe_promote(self, peer: int, f: Follower) -> None:
        """A promotable that caught up becomes a member [spec §1.2, LD CheckPromotables]."""
        config = self.state_machine_config()
        if self.state != LEADER or config.get(peer) != PROMOTABLE or f.match < self.last_index():
            return
        if self.config_index > self.commit_index:
            return  # one topology change at a time (Leader.TryModifyTopology); tried again on a later reply
        new = dict(config)
        new[peer] = MEMBER
        self._append_local(Entry(self.term, "config", new))
        self.cluster.event("voter_promoted", self.cluster.nodes[peer], self.term)

    # ---------------------------------------------------------------- following
    def on_append(
        self,
        leader: int,
        term: int,
        prev: int,
        prev_term: int,
        entries: list[Entry],
        leader_commit: int,
        gen: int,
        seq: int,
    ) -> None:
        """AppendEntries from ``leader`` (a heartbeat when ``entries`` is empty): check log matching,
        truncate a conflicting suffix, append, fsync, then answer. A retransmitted request already
        answered gets the same answer again."""
        if self.state == DOWN:
            self._refuse_connection(leader, gen)
            return
        seen_leader, seen_gen, seen_seq = self._request_seen
        if leader == seen_leader and gen == seen_gen and seq <= seen_seq:
            if seq == seen_seq and self._answer_sent is not None:
                self.send(leader, MESSAGE_OVERHEAD, "on_append_reply", *self._answer_sent)
            return
        if self.persisting:
            self.backlog.append((self.on_append, (leader, term, prev, prev_term, entries, leader_commit, gen, seq)))
            return
        self._request_seen = (leader, gen, seq)
        self._answer_sent = None
        if term < self.term:
            self._answer(leader, False, 0, gen, seq)
            return
        if term > self.term or self.state != FOLLOWER:
            if self.state in (LEADER, LEADER_ELECT) and term == self.term:
                msg = f"election safety: {self.tag} and {self.cluster.nodes[leader].tag} both lead term {term}"
                raise SafetyViolation(msg)
            self._step_down(term)
        new_leader = self.leader != leader
        self.leader = leader
        if leader_commit > self.leader_commit_seen:
            self.leader_commit_seen = leader_commit
        self._heard_from_leader()
        if new_leader:
            self.cluster.update_availability()
            if self.cluster.on_new_leader is not None:
                self.cluster.on_new_leader(self, leader, term)
            self.cluster.state_changed(self)
        if self.pending and (new_leader or self.env.now - self._last_forward >= self.cluster.et):
            self._forward_pending()
        if prev > self.last_index() or self.log[prev].term != prev_term:
            hint = min(prev - 1, self.last_index())
            self._answer(leader, False, hint, gen, seq)
            return
        index = prev
        written: list[tuple[int, Entry]] = []
        for entry in entries:
            index += 1
            if index <= self.last_index():
                if self.log[index].term == entry.term:
                    continue
                if index <= self.commit_index:
                    msg = f"{self.tag} asked to overwrite committed entry {index}"
                    raise SafetyViolation(msg)
                self._truncate(index)
            self.log.append(entry)
            if entry.cmd_id is not None:
                self.cmd_index[entry.cmd_id] = index
            if entry.kind == "config":
                self.config_index = index
            written.append((index, entry))
        last_new = prev + len(entries)
        job = (self.generation, leader, gen, last_new, leader_commit, seq)
        if written:
            self.node.disk.write(self._follower_durable, (job, written), SERVER_STORE)
        else:
            self._follower_reply(job)

    def _follower_durable(self, work: tuple[tuple[int, int, int, int, int, int], list[tuple[int, Entry]]]) -> None:
        job, written = work
        if self.state == DOWN:
            return
        self._mark_durable(written)
        self._follower_reply(job)

    def _follower_reply(self, job: tuple[int, int, int, int, int, int]) -> None:
        my_gen, leader, gen, last_new, leader_commit, seq = job
        if self.state == DOWN or my_gen != self.generation:
            return
        # Apply only what is committed *and* on this node's disk, so the applied
        # state never runs ahead of the log that survives a crash.
        limit = min(leader_commit, last_new, self.durable_len - 1)
        if limit > self.commit_index:
            self.commit_index = limit
            self._apply()
        # Acknowledge only what is on disk: a duplicate append must not vouch for
        # entries whose fsync is still pending.
        match = min(last_new, self.durable_len - 1)
        self._answer(leader, True, match, gen, seq)

    def _answer(self, leader: int, success: bool, match: int, gen: int, seq: int) -> None:
        answer = (self.index, self.term, success, match, gen, seq)
        if self._request_seen == (leader, gen, seq):
            self._answer_sent = answer
        self.send(leader, MESSAGE_OVERHEAD, "on_append_reply", *answer)

    def on_connect(self, leader: int, gen: int, seq: int) -> None:
        """One round trip of a new connection from a leader's ambassador (the TCP/TLS/HTTP
        set-up that precedes Rachis' own messages): answered by the OS and the server, not
        by the Raft state, so it neither waits for the Raft lock nor touches the timer."""
        if self.state == DOWN:
            self._refuse_connection(leader, gen)
            return
        self.send(leader, MESSAGE_OVERHEAD, "on_connect_reply", self.index, gen, seq)

    def _refuse_connection(self, leader: int, gen: int) -> None:
        """A dead process: its OS resets the connection (a vanished machine says nothing)."""
        if not self.node.silent:
            self.send(leader, MESSAGE_OVERHEAD, "on_connection_reset", self.index, gen)

    def _truncate(self, index: int) -> None:
        for entry in self.log[index:]:
            if entry.cmd_id is not None:
                self.cmd_index.pop(entry.cmd_id, None)
        del self.log[index:]
        self.durable_len = min(self.durable_len, index)
        self._synced = {i for i in self._synced if i < index}
        if self.config_index >= index:
            self.config_index = max(i for i in range(index) if self.log[i].kind == "config")

    # ---------------------------------------------------------------- applying
    def _apply(self) -> None:
        cluster = self.cluster
        behind = self.last_applied < self.leader_commit_seen
        while self.last_applied < self.commit_index:
            self.last_applied += 1
            idx = self.last_applied
            cluster.check_commit(self, idx)
            entry = self.log[idx]
            result = self.state_machine.apply(idx, entry)
            if cluster.on_apply is not None:
                cluster.on_apply(self, idx, entry, result)
            if entry.cmd_id is not None and entry.cmd_id in self.pending:
                _, callback, _ = self.pending.pop(entry.cmd_id)
                callback((True, idx, result))
            elif self.topology_waits and idx in self.topology_waits:
                waiting, callback = self.topology_waits.pop(idx)
                if waiting is entry:
                    callback((True, idx, result))
        if behind and self.last_applied >= self.leader_commit_seen:
            cluster.state_changed(self)  # caught up with its leader: its view of the tasks is current

    def caught_up(self) -> bool:
        """A follower has applied everything its leader had committed when it last heard it."""
        return self.state != FOLLOWER or self.last_applied >= self.leader_commit_seen

    # ---------------------------------------------------------------- commands
    def submit(self, kind: str, payload: Any, size: float, callback: Callable[[Any], None]) -> None:
        """Run a cluster command; ``callback((ok, index, result))`` once it is applied
        here, or ``callback((False, None, "timeout"))`` after ``operation_timeout``."""
        if self.cluster.quiet is not None:
            self.cluster.quiet.wake()
        cmd_id = next(self.cluster.cmd_ids)
        entry = Entry(self.term, kind, payload, cmd_id, size)
        self.pending[cmd_id] = (entry, callback, self.env.now)
        Timer(self.env, self.cluster.spec.operation_timeout, self._expire, (cmd_id,))
        self._route(entry)

    def modify_topology(self, peer: int, role: str, callback: Callable[[Any], None]) -> str | None:
        """Change one node's cluster role (an operator's promote or demote), as RavenDB's
        ``Leader.TryModifyTopology`` does (Rachis/Leader.cs): only on the leader, never the
        leader's own role, one change at a time. The new configuration governs from the moment
        it is in the log (Raft §6; the leader writes it with the entry, ``SetTopology``), and the
        change is done once it commits, which takes a majority of the new voters.

        ``callback((True, index, result))`` once it is applied here; ``callback((False, None,
        why))`` if this node loses its leadership first (RavenDB fails the changes a disposed
        leader was waiting for) or after the operation timeout. Returns None, or why the change
        was refused at once (``"busy"``: another change is waiting to commit)."""
        if self.state not in (LEADER, LEADER_ELECT):
            return f"{self.tag} is not the leader"
        if peer == self.index:
            return "it is the leader: RavenDB cannot modify the topology of the leader node"
        if self.config_index > self.commit_index:
            return "busy"
        if self.cluster.quiet is not None:
            self.cluster.quiet.wake()
        new = dict(self.state_machine_config())
        new[peer] = role
        entry = Entry(self.term, "config", new)
        index = self._append_local(entry)
        self.topology_waits[index] = (entry, callback)
        Timer(self.env, self.cluster.spec.operation_timeout, self._topology_expired, (index, entry))
        self.cluster.update_availability()  # the voters, so the majority, changed
        return None

    def _topology_expired(self, index: int, entry: Entry) -> None:
        waiting = self.topology_waits.get(index)
        if waiting is not None and waiting[0] is entry:
            del self.topology_waits[index]
            waiting[1]((False, None, "it did not commit within the operation timeout"))

    def _abandon_topology_changes(self, why: str) -> None:
        waits, self.topology_waits = self.topology_waits, {}
        for _entry, callback in waits.values():
            callback((False, None, why))

    def _route(self, entry: Entry) -> None:
        if self.state in (LEADER, LEADER_ELECT):
            self.accept(entry)
        elif self.leader is not None:
            self._last_forward = self.env.now
            self.send(self.leader, MESSAGE_OVERHEAD + entry.size, "on_forward", entry)
        # else: wait; forwarded when a leader makes itself known

    def _forward_pending(self) -> None:
        for entry, _cb, _t in self.pending.values():
            if entry.cmd_id not in self.cmd_index:
                self._route(entry)

    def on_forward(self, entry: Entry) -> None:
        """A command forwarded by a follower: appended if this node (still) leads."""
        if self.state in (LEADER, LEADER_ELECT):
            self.accept(entry)

    def accept(self, entry: Entry) -> None:
        """Leader: append a command once (commands are idempotent by id)."""
        if entry.cmd_id in self.cmd_index:
            return
        self._append_local(Entry(self.term, entry.kind, entry.payload, entry.cmd_id, entry.size))

    def _expire(self, cmd_id: int) -> None:
        waiting = self.pending.pop(cmd_id, None)
        if waiting is not None:
            waiting[1]((False, None, "timeout"))

    # ---------------------------------------------------------------- crash
    def crash(self) -> None:
        """The process died: term, vote, the fsynced log and the applied state survive; role, leader,
        commit index, timers, pending commands and unflushed entries are lost. Leaders' ambassadors
        to it hear a reset (unless the machine vanished silently)."""
        # The OS closes the dead process's connections: each leader's ambassador to it fails
        # (a machine that vanished silently closes nothing: they wait for TCP to give up).
        if not self.node.silent:
            for other in self.cluster.nodes:
                if other is not self and other.state in (LEADER, LEADER_ELECT) and self.index in other.followers:
                    self.send(other.index, MESSAGE_OVERHEAD, "on_connection_reset", self.index, other.generation)
        if self.topology_waits:
            self._abandon_topology_changes(f"{self.tag} crashed")
        self.state = DOWN
        self.generation += 1
        self.leader = None
        self.followers = {}
        self.votes = set()
        self.pending = {}
        self.persisting = False
        self.backlog = []
        self._request_seen = (-1, -1, -1)
        self._answer_sent = None
        # Unflushed appends are lost; term, vote and the fsynced log survive.
        if self.durable_len < len(self.log):
            self._truncate(self.durable_len)
        self.commit_index = self.last_applied

    def restart(self) -> None:
        """Back as a follower, with a fresh election timer."""
        self.state = FOLLOWER
        self.leader = None
        self._start_timer()

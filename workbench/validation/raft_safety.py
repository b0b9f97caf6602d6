"""Raft safety under random faults: run a schedule, then check the four properties.

Used by the property tests (hypothesis generates the schedules). The Raft layer
runs on its own (no databases or clients) so hundreds of schedules take seconds.
Commands are submitted at random live nodes throughout, so logs grow and the
log properties have something to bite on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.model.cluster import rachis as rachis_states
from workbench.model.cluster.rachis import Cluster, RaftNode
from workbench.model.kernel.kernel import Streams, Timer
from workbench.scenario.schema import ClusterSpec
from workbench.validation.raft_election import RaftHost


@dataclass(frozen=True)
class Action:
    """One step of a fault schedule at ``at`` seconds: crash or restart ``node``, partition ``side``
    from the rest, or heal."""

    at: float
    kind: str  # crash | restart | partition | heal
    node: int = 0
    side: tuple[int, ...] = ()  # partition: these nodes against the rest


def run_schedule(
    seed: int,
    actions: list[Action],
    *,
    servers: int = 5,
    duration: float = 5.0,
    one_way: float = 0.002,
    timeout_range: tuple[float, float] = (0.020, 0.040),
    prevote: bool = False,
    election_timer: str = "reset",
    fsync: float = 0.0005,
    jitter: bool = False,
) -> Cluster:
    """Simulate ``actions`` on a fresh cluster; SafetyViolation propagates."""
    streams = Streams(seed)
    host = RaftHost(servers, one_way, fsync, streams, jitter=jitter)
    spec = ClusterSpec(
        election_timeout=f"{timeout_range[1]!r} s",
        timeout_range=(f"{timeout_range[0]!r} s", f"{timeout_range[1]!r} s"),
        election_timer=election_timer,
        heartbeat_interval=f"{timeout_range[0] / 2!r} s",
        prevote=prevote,
        operation_timeout="1 s",
    )
    cluster = Cluster(
        host.env, host.network, host.nodes, host.recorder, spec, dict.fromkeys(range(servers), "member"), streams
    )
    cluster.bootstrap()
    env = host.env
    rng = streams.rng("commands")

    def apply(action: Action) -> None:
        """Carry out one action (a crash of a node already down, or a restart of one up, does nothing)."""
        node = host.nodes[action.node]
        if action.kind == "crash" and node.up:
            node.up = False
            node.disk.reset()
            cluster.crash(action.node)
        elif action.kind == "restart" and not node.up:
            node.up = True
            cluster.restart(action.node)
        elif action.kind == "partition":
            rest = [i for i in range(servers) if i not in action.side]
            host.network.heal()
            host.network.partition([list(action.side), rest])
        elif action.kind == "heal":
            host.network.heal()

    def submit() -> None:
        """Submit a compare-exchange command at a random live node, every 10 ms until the end."""
        live = [n for n in cluster.nodes if host.nodes[n.index].up]
        if live:
            node = live[int(rng.integers(0, len(live)))]
            node.submit("compare_exchange", (int(rng.integers(0, 5)), 0, False), 100.0, lambda _r: None)
        if env.now + 0.01 < duration:
            Timer(env, 0.01, submit)

    for action in actions:
        Timer(env, action.at, apply, (action,))
    Timer(env, 0.005, submit)
    env.run(until=duration)
    return cluster


def check_safety(cluster: Cluster) -> None:
    """Raise AssertionError naming the first broken property."""
    leaders: dict[int, int] = {}
    for _time, term, node in cluster.leader_history:
        assert leaders.setdefault(term, node) == node, f"election safety: two leaders in term {term}"
    nodes: list[RaftNode] = cluster.nodes
    for a in nodes:
        for b in nodes:
            if a.index >= b.index:
                continue
            common = min(len(a.log), len(b.log))
            # Log matching: the last index where both hold the same term fixes the whole prefix.
            last_match = max((i for i in range(common) if a.log[i].term == b.log[i].term), default=0)
            for i in range(last_match + 1):
                same = a.log[i].term == b.log[i].term and a.log[i].cmd_id == b.log[i].cmd_id
                assert same, f"log matching: {a.tag} and {b.tag} agree at {last_match} but differ at {i}"
            # State machine safety: applied prefixes agree.
            applied = min(a.last_applied, b.last_applied)
            for i in range(applied + 1):
                assert a.log[i].cmd_id == b.log[i].cmd_id, (
                    f"state machine safety: {a.tag}/{b.tag} applied different entries at {i}"
                )
    # Leader completeness (also checked at every election): a sitting leader holds
    # every committed entry.
    for leader in nodes:
        if leader.state in (rachis_states.LEADER, rachis_states.LEADER_ELECT):
            for i, committed_term in enumerate(cluster.committed_terms):
                held = i < len(leader.log) and leader.log[i].term == committed_term
                assert held, f"leader completeness: {leader.tag} misses committed entry {i}"


def random_schedule(rng: np.random.Generator, servers: int = 5, horizon: float = 4.5) -> list[Action]:
    """Up to 14 crashes, restarts, partitions and heals at uniform times (the property tests' mix)."""
    actions = []
    for _ in range(int(rng.integers(0, 15))):
        at = float(rng.uniform(0.0, horizon))
        kind = ("crash", "restart", "partition", "heal")[int(rng.integers(0, 4))]
        if kind == "partition":
            size = int(rng.integers(1, servers))
            side = tuple(sorted(int(i) for i in rng.choice(servers, size=size, replace=False)))
            actions.append(Action(at, kind, side=side))
        else:
            actions.append(Action(at, kind, node=int(rng.integers(0, servers))))
    return actions


@dataclass(frozen=True)
class Sweep:
    """The outcome of :func:`safety_sweep`: schedules run, the broken ones (each a replayable call)
    and elections seen."""

    schedules: int
    broken: list[str]  # each broken schedule as a run_schedule call to replay, and what broke
    elections: int


def safety_sweep(schedules: int, seed: int = 1) -> Sweep:
    """Random schedules over both rule sets (Rachis, LogCabin), pre-vote on and off, with and
    without reordering latency; counts the schedules that broke a safety property."""
    rng = np.random.default_rng(seed)
    broken: list[str] = []
    elections = 0
    for i in range(schedules):
        options = {
            "election_timer": ("ravendb", "reset")[i % 2],
            "prevote": bool((i // 2) % 2),
            "jitter": bool((i // 4) % 2),
        }
        schedule = random_schedule(rng)
        try:
            cluster = run_schedule(seed * 100_003 + i, schedule, **options)
            check_safety(cluster)
        except AssertionError as exc:  # SafetyViolation is one
            broken.append(f"run_schedule({seed * 100_003 + i}, {schedule!r}, **{options!r}): {exc}")
            continue
        elections += len(cluster.leader_history) - 1
    return Sweep(schedules, broken, elections)

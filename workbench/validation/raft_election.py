"""The Raft paper's leader-election experiment, on the workbench's Raft model.

Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm",
USENIX ATC 2014, Figure 16 (Figure 14 in the conference version; §9.4 of
Ongaro's thesis): five servers, broadcast time about 15 ms, election timeouts
uniform in a range, heartbeat interval half the minimum timeout. The leader is
crashed uniformly at random within its heartbeat interval, just after a
synchronised heartbeat broadcast; logs differ so that two of the four survivors
cannot win. The metric is the time from the crash until the other servers have
received the new leader's first heartbeat.

Here: pre-vote off, the textbook election timer (restarted with a fresh draw
on every heartbeat), a constant one-way latency (7.5 ms, so a 15 ms round
trip) and, by default, instant disk writes; ``fsync`` sets the time to persist
a vote or a log entry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workbench.model.environment import Environment
from workbench.model.kernel import Sampler, Streams
from workbench.model.network import Location, Network
from workbench.model.node import Node
from workbench.model.rachis import Cluster, Entry
from workbench.scenario.distributions import Constant, Uniform
from workbench.scenario.schema import ClusterSpec, NetworkSpec

# Figure 16, the 150-300 ms curve, read from the plotted points of the thesis'
# vector figure (ongardie/dissertation, leaderelection/benchmarks-scale.svg):
# 1000 trials; ms.
PAPER_150_300_MS = {
    "p10": 124.4,
    "p25": 144.3,
    "p50": 171.2,
    "p75": 207.7,
    "p90": 244.0,
    "p99": 405.4,
    "max": 603.3,
}
PERCENTILES = {"p10": 10, "p25": 25, "p50": 50, "p75": 75, "p90": 90, "p99": 99}


class _Silent:
    def event(self, *_args: object, **_kwargs: object) -> None:
        return None


class RaftHost:
    """Just enough of a world for the Raft layer: an environment, a network and nodes."""

    def __init__(self, n: int, one_way: float, fsync: float, streams: Streams, jitter: bool = False):
        self.env = Environment()
        self.recorder = _Silent()
        tags = [chr(ord("A") + i) for i in range(n)]
        latency = (
            Uniform(one_way / 2, one_way * 1.5, text="jittered")  # reorders messages
            if jitter
            else Constant(one_way, text=f"{one_way * 1e3:g} ms")
        )
        spec = NetworkSpec(same_zone=latency, same_region=latency, cross_region=latency)
        self.network = Network(self.env, spec, [Location(t, "dc1", "r1", "a") for t in tags], streams)
        disk = Constant(fsync, text=f"{fsync * 1e3:g} ms")
        self.nodes = [Node(self.env, i, t, 1, Sampler(disk, streams.rng("disk")), 1024) for i, t in enumerate(tags)]


@dataclass(frozen=True)
class ElectionSetup:
    timeout_min: float = 0.150
    timeout_max: float = 0.300
    one_way_latency: float = 0.0075
    fsync: float = 0.0
    prevote: bool = False
    servers: int = 5
    ineligible: int = 2  # survivors whose logs are too short to win


def election_trial(setup: ElectionSetup, seed: int) -> float:
    """One trial: seconds from the leader's crash until every survivor heard the new leader."""
    streams = Streams(seed)
    host = RaftHost(setup.servers, setup.one_way_latency, setup.fsync, streams)
    heartbeat = setup.timeout_min / 2
    spec = ClusterSpec(
        election_timeout=f"{setup.timeout_max!r} s",
        timeout_range=(f"{setup.timeout_min!r} s", f"{setup.timeout_max!r} s"),
        election_timer="reset",
        heartbeat_interval=f"{heartbeat!r} s",
        prevote=setup.prevote,
    )
    cluster = Cluster(host, spec, dict.fromkeys(range(setup.servers), "member"), streams)
    cluster.bootstrap()  # A leads term 1 and broadcasts a heartbeat at t = 0
    crash_at = float(streams.rng("crash").uniform(0.0, heartbeat))
    survivors = set(range(1, setup.servers))
    heard: set[int] = set()
    done = host.env.event()

    def on_new_leader(node, leader: int, term: int) -> None:
        if term > 1 and node.index in survivors:
            heard.add(node.index)
            if heard >= survivors - {leader} and not done.triggered:
                done.succeed(host.env.now)

    def crash() -> None:
        # The leader's last entry reached the eligible followers only, so the
        # last `ineligible` survivors cannot win the election.
        eligible = setup.servers - setup.ineligible
        for raft in cluster.nodes[:eligible]:
            raft.log.append(Entry(1, "noop"))
            raft.durable_len = len(raft.log)
        cluster.committed_terms.append(1)
        host.nodes[0].up = False
        cluster.crash(0)

    cluster.on_new_leader = on_new_leader
    host.env.timeout(crash_at).callbacks.append(lambda _e: crash())
    host.env.run(until=done | host.env.timeout(60.0))
    if not done.triggered:
        msg = f"no leader within 60 s (seed {seed})"
        raise RuntimeError(msg)
    return done.value - crash_at


def run_election_experiment(setup: ElectionSetup, trials: int = 1000, seed: int = 1) -> np.ndarray:
    """Downtime of ``trials`` independent trials, in seconds."""
    return np.array([election_trial(setup, seed * 1_000_003 + i) for i in range(trials)])


def summarise_downtimes(downtimes: np.ndarray) -> dict[str, float]:
    ms = downtimes * 1e3
    out = {name: round(float(np.percentile(ms, q)), 1) for name, q in PERCENTILES.items()}
    out["max"] = round(float(ms.max()), 1)
    out["mean"] = round(float(ms.mean()), 1)
    out["trials"] = len(ms)
    return out

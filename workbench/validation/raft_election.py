"""The Raft paper's leader-election experiment, on the workbench's Raft model.

Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm",
USENIX ATC 2014, Figure 16 (Figure 9.8 in Ongaro's thesis): LogCabin on five
servers, election timeouts uniform in a range, heartbeats every half of the
minimum timeout. A synchronised heartbeat broadcast, then the leader is crashed
uniformly at random within its heartbeat interval; the logs differ so that two
of the four survivors cannot win. The metric is the time from the crash until
the other servers have received the new leader's first heartbeat.

One parameter set serves every timeout range (``ElectionSetup``'s defaults):

* **network** 0.1 ms one way (1 Gb Ethernet);
* **disk** one persisted write of LogCabin's (SimpleFileLog's ``protoToFile``: a
  small file, fsync'd with its directory) lognormal with mean 3 ms and sigma 0.5.
  The figure's own minimum downtime gives the mean: min timeout - heartbeat +
  about 9 ms, and the election's critical path is three writes (the candidate's
  term and vote; the voter's new term, then its vote) and three one-way trips.
  The spread is an estimate of an SSD's fsync times, chosen once for all ranges
  (``docs/validation.md`` shows how the curves move with it);
* **timer wake-up** 0-0.1 ms late, uniform (the kernel's default 50 us timer
  slack plus the thread's wake-up): with identical timeouts (150-150 ms) it is
  the only thing that ever breaks a split vote;
* LogCabin's election rules (``election_timer: reset``), pre-vote off.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from workbench.model.cluster.node import Node
from workbench.model.cluster.rachis import Cluster, Entry, RaftNode
from workbench.model.kernel.environment import Environment
from workbench.model.kernel.kernel import Sampler, Streams
from workbench.model.kernel.network import Location, Network
from workbench.scenario.distributions import Constant, Distribution, Uniform, parse_distribution
from workbench.scenario.schema import ClusterSpec, NetworkSpec

PERCENTILES = {"p10": 10, "p25": 25, "p50": 50, "p75": 75, "p90": 90, "p99": 99}
# The ranges of Figure 16: the top graph varies the randomness, the bottom one the scale.
RANDOMNESS_RANGES = ("150-150", "150-151", "150-155", "150-175", "150-200", "150-300")
SCALE_RANGES = ("12-24", "25-50", "50-100", "100-200", "150-300")
FIGURE_RANGES = RANDOMNESS_RANGES + SCALE_RANGES[:-1]
# What the paper's text says of a range (ATC'14 §9.3, thesis §9.4).
PAPER_TEXT = {
    "150-150": "consistently longer than 10 s",
    "150-155": "median 287 ms",
    "150-200": "worst of 1000 trials 513 ms",
    "150-300": "recommended range",
    "12-24": "mean 35 ms, longest 152 ms",
}


@cache
def figure16() -> dict[str, np.ndarray]:
    """Each curve of the figure as its sorted trial downtimes (ms), read back from the steps
    of the thesis' vector figures (``data/raft_figure16.json`` says how)."""
    text = resources.files("workbench.validation").joinpath("data/raft_figure16.json").read_text()
    curves = json.loads(text)["curves"]
    return {name: np.asarray(c["downtime_ms"], dtype=float) for name, c in curves.items()}


def range_name(low_s: float, high_s: float) -> str:
    """A timeout range as the figure labels it, in milliseconds: ``150-300``."""
    return f"{low_s * 1e3:g}-{high_s * 1e3:g}"


def parse_range(name: str) -> tuple[float, float]:
    """``150-300`` (milliseconds) as (low, high) in seconds."""
    low, high = name.split("-")
    return float(low) / 1e3, float(high) / 1e3


class _Silent:
    def event(self, *_args: object, **_kwargs: object) -> None:
        """Events are not recorded in the experiment."""
        return None


def _distribution(value: float | str | Distribution) -> Distribution:
    if isinstance(value, Distribution):
        return value
    if isinstance(value, str):
        return parse_distribution(value)
    return Constant(value, text=f"{value * 1e3:g} ms")


class RaftHost:
    """What the Raft layer runs on, and nothing more: an environment, a network, nodes and a
    recorder that keeps no events (``Cluster`` is given each piece)."""

    def __init__(
        self,
        n: int,
        one_way: float | str | Distribution,
        fsync: float | str | Distribution,
        streams: Streams,
        jitter: bool = False,
    ):
        self.env = Environment()
        self.recorder = _Silent()
        tags = [chr(ord("A") + i) for i in range(n)]
        if jitter and isinstance(one_way, float | int):
            latency: Distribution = Uniform(one_way / 2, one_way * 1.5, text="jittered")  # reorders messages
        else:
            latency = _distribution(one_way)
        spec = NetworkSpec(same_zone=latency, same_region=latency, cross_region=latency)
        self.network = Network(self.env, spec, [Location(t, "dc1", "r1", "a") for t in tags], streams)
        disk = _distribution(fsync)
        self.nodes = [Node(self.env, i, t, 1, Sampler(disk, streams.rng("disk")), 1024) for i, t in enumerate(tags)]


@dataclass(frozen=True)
class ElectionSetup:
    """One setting of the experiment (``timeout_*`` and durations in seconds, or distribution text);
    the defaults are the one parameter set described in the module docstring."""

    timeout_min: float = 0.150
    timeout_max: float = 0.300
    one_way_latency: float | str = 0.0001
    fsync: float | str = "lognormal(mean=3 ms, sigma=0.5)"
    timer_wakeup: float | str | None = "uniform(0 ms, 0.1 ms)"
    prevote: bool = False
    servers: int = 5
    ineligible: int = 2  # survivors whose logs are too short to win
    give_up_after: float = 1800.0  # simulated seconds; a trial still leaderless then counts as censored

    @property
    def name(self) -> str:
        """The timeout range in milliseconds, e.g. ``150-300``."""
        return range_name(self.timeout_min, self.timeout_max)


def election_trial(setup: ElectionSetup, seed: int) -> float:
    """One trial: seconds from the leader's crash until every survivor heard the new leader
    (``inf`` if there is none after ``give_up_after``)."""
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
    cluster = Cluster(
        host.env, host.network, host.nodes, host.recorder, spec, dict.fromkeys(range(setup.servers), "member"), streams
    )
    if setup.timer_wakeup is not None:
        cluster.timer_wakeup = Sampler(_distribution(setup.timer_wakeup), streams.rng("timer.wakeup"))
    cluster.bootstrap()  # A leads term 1 and broadcasts a heartbeat at t = 0
    crash_at = float(streams.rng("crash").uniform(0.0, heartbeat))
    survivors = range(1, setup.servers)
    heard: dict[int, tuple[int, int]] = {}  # survivor -> (leader, term) it last heard
    done = host.env.event()

    def on_new_leader(node: RaftNode, leader: int, term: int) -> None:
        """A survivor heard a leader of ``term``: the trial ends once every other survivor heard the same one."""
        if term <= 1 or done.triggered:
            return
        heard[node.index] = (leader, term)
        # Done when one leader of one term is heard by every other survivor.
        if all(heard.get(i) == (leader, term) for i in survivors if i != leader):
            done.succeed(host.env.now)

    def crash() -> None:
        """Crash the leader, after giving its last entry to the eligible followers only."""
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
    host.env.run(until=done | host.env.timeout(crash_at + setup.give_up_after))
    return done.value - crash_at if done.triggered else math.inf


def run_election_experiment(setup: ElectionSetup, trials: int = 1000, seed: int = 1) -> np.ndarray:
    """Downtime of ``trials`` independent trials, in seconds (``inf``: censored)."""
    return np.array([election_trial(setup, seed * 1_000_003 + i) for i in range(trials)])


def percentile(sorted_ms: np.ndarray, q: float) -> float:
    """numpy's linear percentile of sorted values, ``inf`` once it reaches a censored one."""
    pos = (len(sorted_ms) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    if math.isinf(sorted_ms[hi]):
        return math.inf
    return float(sorted_ms[lo] + (sorted_ms[hi] - sorted_ms[lo]) * (pos - lo))


def summarise_downtimes(downtimes: np.ndarray) -> dict[str, float]:
    """Percentiles, max and mean in ms; ``censored`` counts trials with no leader in time
    (they sort last, so a percentile that reaches them is ``inf``, and so is the mean)."""
    ms = np.sort(np.asarray(downtimes, dtype=float)) * 1e3
    out = {name: round(percentile(ms, q), 1) for name, q in PERCENTILES.items()}
    out["max"] = round(float(ms[-1]), 1)
    out["mean"] = round(float(ms.mean()), 1)
    out["trials"] = len(ms)
    out["censored"] = int(np.isinf(ms).sum())
    return out


def paper_summary(name: str) -> dict[str, float]:
    """The same figures for one curve of Figure 16."""
    return summarise_downtimes(figure16()[name] / 1e3)


# How far each figure may sit from the paper's curve in `workbench validate raft-election`.
# The body is held to a quarter; p90 and the maximum rest on the split-vote tail (for a
# maximum, one trial of a thousand), so they get more room.
TOLERANCES = {"p10": 0.25, "p50": 0.25, "p90": 0.35, "mean": 0.25, "max": 0.50}
IDENTICAL_TIMEOUTS = "150-150"  # no randomness: compared by how many trials last beyond 10 s


def trials_for(name: str, trials: int = 1000) -> int:
    """The figure's own trial count: 100 for identical timeouts, else ``trials``."""
    return min(trials, len(figure16()[name])) if name == IDENTICAL_TIMEOUTS else trials


@cache
def figure16_run(name: str, trials: int = 1000, seed: int = 1) -> np.ndarray:
    """The model's downtimes (s) for one range of the figure, with the default setup."""
    low, high = parse_range(name)
    return run_election_experiment(ElectionSetup(low, high), trials_for(name, trials), seed)

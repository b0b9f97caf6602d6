"""The leader's senders (RavenDB's FollowerAmbassador) and the election rules of both
implementations, on the Raft layer alone (RaftHost) and in the full model."""

from __future__ import annotations

import numpy as np
import pytest

from workbench import run, scenario_from_dict
from workbench.model.cluster import rachis
from workbench.model.cluster.rachis import Cluster
from workbench.model.kernel.kernel import Streams, Timer
from workbench.scenario.distributions import Constant
from workbench.scenario.schema import ClusterSpec
from workbench.validation.raft_election import RaftHost

ET = 0.300


def _cluster(
    servers: int = 3,
    one_way: float = 0.0005,
    fsync: float = 0.0005,
    timer: str = "ravendb",
    prevote: bool = True,
    seed: int = 1,
    election_timeout: str = f"{ET!r} s",
    **spec: object,
) -> tuple[RaftHost, Cluster]:
    streams = Streams(seed)
    host = RaftHost(servers, one_way, fsync, streams)
    cluster_spec = ClusterSpec(
        election_timeout=election_timeout, election_timer=timer, prevote=prevote, operation_timeout="2 s", **spec
    )
    cluster = Cluster(
        host.env,
        host.network,
        host.nodes,
        host.recorder,
        cluster_spec,
        dict.fromkeys(range(servers), "member"),
        streams,
    )
    cluster.bootstrap()
    return host, cluster


def _slow_link(host: RaftHost, a: int, b: int, one_way: float) -> None:
    host.network.degrade([(a, b), (b, a)], latency=Constant(one_way, text=f"{one_way * 1e3:g} ms"))


def _appends_heard(cluster: Cluster, node: int) -> list[float]:
    """When ``node`` heard its leader (an AppendEntries reached its Raft state)."""
    times: list[float] = []
    raft = cluster.nodes[node]
    original = raft._heard_from_leader

    def spy() -> None:
        times.append(cluster.env.now)
        original()

    raft._heard_from_leader = spy  # type: ignore[method-assign]
    return times


# ----------------------------------------------------------------------------- the ambassador loop


def test_a_far_follower_hears_the_leader_every_round_trip_plus_et_over_3():
    """Send, wait for the answer, wait ET/3, send: RTT + ET/3 between heartbeats, never two in
    flight (FollowerAmbassador.Run). The near follower hears every 100 ms plus its 1 ms RTT."""
    host, cluster = _cluster()
    _slow_link(host, 0, 2, 0.050)  # C: 100 ms round trip
    far, near = _appends_heard(cluster, 2), _appends_heard(cluster, 1)
    host.env.run(until=5.0)
    assert np.median(np.diff(far)) == pytest.approx(0.100 + ET / 3, abs=0.002)
    assert np.median(np.diff(near)) == pytest.approx(0.001 + ET / 3, abs=0.001)
    assert cluster.elections == 0


def test_round_trips_near_the_timer_period_make_the_far_follower_lose_its_leader():
    """The book's three-continent case in miniature: a 260 ms round trip plus ET/3 exceeds the
    [200, 300) ms timer period, so the far follower keeps losing the leader; pre-vote keeps it
    from deposing a leader the others still hear."""
    host, cluster = _cluster()
    _slow_link(host, 0, 2, 0.130)
    lost = []
    cluster.recorder.event = lambda kind, **kw: lost.append(kw["node"]) if kind == "leader_lost" else None
    host.env.run(until=60.0)
    assert lost.count("C") >= 20
    assert cluster.leader() is cluster.nodes[0] and cluster.elections == 0


def test_a_wan_sized_timeout_keeps_the_far_follower():
    host, cluster = _cluster(election_timeout="3 s")
    _slow_link(host, 0, 2, 0.130)
    lost = []
    host.recorder.event = lambda kind, **kw: lost.append(kw["node"]) if kind == "leader_lost" else None
    host.env.run(until=60.0)
    assert lost == [] and cluster.elections == 0


def test_the_leader_steps_down_when_a_majority_answers_slower_than_the_election_timeout():
    """EnsureThatWeHaveLeadership: a voter counts only if it answered within ET; a round trip
    longer than ET leaves the leader alone in its count."""
    host, _ = _cluster()
    for peer in (1, 2):
        _slow_link(host, 0, peer, 0.200)  # 400 ms round trips
    events: list[tuple[str, str | None, str | None]] = []
    host.recorder.event = lambda kind, **kw: events.append((kind, kw.get("node"), kw.get("reason")))
    host.env.run(until=3.0)
    assert ("stepped_down", "A", "lost touch with a majority") in events


def test_a_restarted_follower_is_reconnected_after_the_back_off():
    """A dead process resets the connection at once; the ambassador waits ET/2, reconnects
    (reconnect_round_trips round trips, then the log negotiation) and carries on."""
    host, cluster = _cluster()
    heard = _appends_heard(cluster, 2)

    def crash() -> None:
        host.nodes[2].up = False
        cluster.crash(2)

    def restart() -> None:
        host.nodes[2].up = True
        cluster.restart(2)

    Timer(host.env, 1.0, crash)
    Timer(host.env, 3.0, restart)
    host.env.run(until=5.0)
    after = [t for t in heard if t > 3.0]
    # Within ET/2 of back-off, five set-up round trips and the negotiation (1 ms each).
    assert after and after[0] - 3.0 <= ET / 2 + 0.010
    assert cluster.nodes[2].leader == 0


def test_a_healed_partition_is_bridged_by_tcp_retransmission_not_the_15_s_timeout():
    """The request in flight when the link is cut is resent with exponential back-off from
    the measured round trip (200 ms at least); it gets through at the first resend after
    the heal, long before Cluster.TcpTimeoutInMs (15 s) would drop the connection."""
    host, cluster = _cluster(prevote=True)
    heard = _appends_heard(cluster, 2)
    Timer(host.env, 1.0, lambda: host.network.partition([[2], [0, 1]]))
    Timer(host.env, 2.0, host.network.heal)
    host.env.run(until=6.0)
    after = [t for t in heard if t > 2.0]
    # Resends at about 0.2, 0.6, 1.4 s after the cut: the third lands after the heal.
    assert after and after[0] - 2.0 <= 0.5
    assert cluster.nodes[2].leader == cluster.leader().index


def test_retransmitted_copies_never_reach_raft_twice():
    """TCP drops duplicates: a follower whose answers are lost sees each request once."""
    host, cluster = _cluster()
    heard = _appends_heard(cluster, 2)
    Timer(host.env, 1.0, lambda: host.network.partition([[2], [0, 1]], one_way=True))  # C's answers are lost
    host.env.run(until=4.0)
    after = [t for t in heard if t > 1.0]
    assert len(after) == 1  # the request in flight, then nothing new: the ambassador is blocked


# ----------------------------------------------------------------------------- election rules


@pytest.mark.parametrize(("timer", "writes"), [("ravendb", 1), ("reset", 2)])
def test_a_vote_in_a_new_term_costs_rachis_one_write_and_logcabin_two(timer, writes):
    """Rachis writes term and vote in one transaction (Elector.cs); LogCabin's stepDown
    persists the new term, then the vote is persisted (RaftConsensus.cc)."""
    host, cluster = _cluster(timer=timer, prevote=False, fsync=0.005)
    voter = cluster.nodes[1]
    disk = host.nodes[1].disk
    before = disk.fsyncs
    answers: list[bool] = []
    cluster.nodes[2].on_vote = lambda _v, _t, granted, _p, _g: answers.append(granted)  # type: ignore[method-assign]
    voter.on_request_vote(2, voter.term + 1, voter.last_index(), voter.last_term(), False, 0)
    host.env.run(until=host.env.now + 0.1)
    assert disk.fsyncs - before == writes and answers == [True]


def test_messages_and_the_timer_wait_while_term_and_vote_are_persisted():
    """The Raft lock: a RequestVote that arrives during a node's own candidacy write is
    handled only after the write (LogCabin's mutex, Rachis' one write transaction)."""
    host, cluster = _cluster(timer="reset", prevote=False, fsync=0.050)
    node = cluster.nodes[1]
    node._start_election(extended=False)  # persists term and vote for 50 ms
    assert node.persisting
    seen: list[float] = []
    original = node._consider_vote
    node._consider_vote = lambda job: (seen.append(host.env.now), original(job))  # type: ignore[method-assign]
    start = host.env.now
    node.on_request_vote(2, node.term + 1, node.last_index(), node.last_term(), False, 0)
    assert seen == [] and node.backlog
    host.env.run(until=start + 0.2)
    assert seen and seen[0] >= start + 0.050 - 1e-9


@pytest.mark.parametrize(("timer", "restarts"), [("reset", False), ("ravendb", True)])
def test_a_candidate_that_learns_a_newer_term(timer, restarts):
    """LogCabin's stepDown keeps a candidate's deadline (only a leader's timer restarts);
    Rachis' SetNewState(Follower) starts the timeout afresh."""
    host, cluster = _cluster(timer=timer, prevote=False, one_way=0.050)  # votes take 100 ms
    node = cluster.nodes[1]
    node._start_election(extended=False)
    host.env.run(until=host.env.now + 0.01)
    assert node.state == rachis.CANDIDATE
    timer_gen = node.timer_gen
    node._step_down(node.term + 1)
    assert node.state == rachis.FOLLOWER and (node.timer_gen > timer_gen) == restarts


def test_rachis_new_leader_sends_only_once_its_noop_is_durable():
    """SetNewStateInTx inserts the noop with the LeaderElect state; the ambassadors start
    after that transaction commits."""
    host, cluster = _cluster(timer="ravendb", prevote=False, fsync=0.040)
    heard = {1: _appends_heard(cluster, 1), 2: _appends_heard(cluster, 2)}
    Timer(host.env, 0.5, lambda: (setattr(host.nodes[0], "up", False), cluster.crash(0)))
    elected: list[float] = []
    original = rachis.RaftNode._become_leader_elect

    def spy(self) -> None:
        elected.append(self.env.now)
        original(self)

    rachis.RaftNode._become_leader_elect = spy  # type: ignore[method-assign]
    try:
        host.env.run(until=3.0)
    finally:
        rachis.RaftNode._become_leader_elect = original  # type: ignore[method-assign]
    assert elected
    follower = 2 if cluster.leader() is cluster.nodes[1] else 1
    first = [t for t in heard[follower] if t > elected[0]]
    assert first and first[0] >= elected[0] + 0.040


@pytest.mark.parametrize("timer", ["ravendb", "reset"])
def test_timeouts_are_whole_milliseconds(timer):
    _host, cluster = _cluster(timer=timer, timeout_range=("0.15 s", "0.155 s") if timer == "reset" else None)
    draws = [cluster.draw_timeout() * 1e3 for _ in range(200)]
    assert all(abs(d - round(d)) < 1e-9 for d in draws)
    if timer == "reset":
        assert set(round(d) for d in draws) == {150, 151, 152, 153, 154, 155}  # lround: ends count half
    else:
        assert min(draws) >= 200 and max(draws) <= 299  # Random.Next(200, 300)


# ----------------------------------------------------------------------------- the book's WAN case


def test_three_continents_at_the_default_timeout_is_unstable_and_3_s_holds_still():
    """Done-when of the issue: round trips near the election timeout show the instability
    the book describes, and raising the timeout removes it."""
    base = {
        "name": "wan",
        "seed": 2,
        "duration": "120 s",
        "blueprint": "three-continents",
        "workload": {"rate": 20, "mix": {"read": 0.7, "write": 0.25, "cluster_tx": 0.05}},
    }
    default_bp = {"extends": "three-continents", "cluster": {"election_timeout": "300 ms"}}
    default = run(scenario_from_dict({**base, "blueprint": default_bp}))
    wan = run(scenario_from_dict(base))
    lost_default = int((default.events["kind"] == "leader_lost").sum())
    lost_wan = int((wan.events["kind"] == "leader_lost").sum())
    assert lost_default >= 20 and lost_wan == 0
    assert int((wan.events["kind"] == "election_started").sum()) == 0


def test_a_machine_that_vanished_sends_no_reset_so_the_ambassador_waits_for_tcp():
    """how: silent: no reset reaches the leader; its ambassador resends into the void and drops
    the connection only after Cluster.TcpTimeoutInMs (15 s), then backs off and reconnects."""
    host, cluster = _cluster()
    lead = cluster.nodes[0]
    failures: list[float] = []
    original = lead._connection_failed
    lead._connection_failed = lambda peer, f: (failures.append(host.env.now), original(peer, f))  # type: ignore[method-assign]

    def vanish() -> None:
        host.nodes[2].crash(silent=True)
        cluster.crash(2)

    Timer(host.env, 1.0, vanish)
    host.env.run(until=20.0)
    assert failures and 15.0 <= failures[0] - 1.0 <= 16.2

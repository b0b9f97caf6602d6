"""Idle elision (Quiescence): skipping ahead must not change what the cluster decides.

The issue-8 requirement: over a one-hour run with faults, the elided and the fully
simulated run give the same leader timeline and the same rehab and promotion
decisions. The elided run draws fewer latencies (it sends fewer messages), so times
may differ by a few latency draws; the decisions, their nodes and terms may not.
"""

from __future__ import annotations

import pandas as pd
import pytest

from workbench import run, scenario_from_dict
from workbench.model.assembly.world import World
from workbench.model.kernel.kernel import Grid

DECISIONS = [
    "leader_elected",
    "stepped_down",
    "election_started",
    "moved_to_rehab",
    "promoted",
    "preferred_rotated",
    "topology_changed",
    "replica_added",
    "replica_deleted",
    "forced_promotion",
    "mentor_changed",
    "node_crashed",
    "node_restarted",
]


def _hour_with_faults(elide: bool, seed: int = 1) -> dict:
    return {
        "name": "quiescence",
        "seed": seed,
        "duration": "1 h",
        "sample_interval": "10 s",
        "elide_idle": elide,
        "blueprint": "five-node",
        "clients": {"count": 2},
        "workload": {"rate": 5, "mix": {"read": 0.7, "write": 0.3}},
        "faults": [
            {"action": "crash", "node": "leader", "at": "5 min", "duration": "30 s"},
            {"action": "crash", "node": "follower", "at": "12 min", "duration": "3 min", "how": "silent"},
            {"action": "partition", "groups": [["A", "B"], ["C", "D", "E"]], "at": "25 min", "duration": "40 s"},
            {"action": "crash", "node": "preferred", "at": "35 min", "duration": "20 min"},
            {"action": "degrade_link", "between": ["A", "B"], "latency": "constant(400 ms)", "at": "58 min"},
            {
                "action": "random_failures",
                "time_to_failure": "exponential(2 h)",
                "time_to_repair": "exponential(5 min)",
            },
        ],
    }


def _decisions(result) -> pd.DataFrame:
    ev = result.events
    return ev[ev["kind"].isin(DECISIONS)][["time_s", "kind", "node", "term"]].reset_index(drop=True)


@pytest.mark.parametrize("seed", [1, 4])
def test_elided_and_full_runs_decide_the_same(seed: int) -> None:
    full = run(scenario_from_dict(_hour_with_faults(False, seed), source="<test>"))
    elided = run(scenario_from_dict(_hour_with_faults(True, seed), source="<test>"))
    assert full.ok and elided.ok
    a, b = _decisions(full), _decisions(elided)
    assert len(a) >= 15  # the plan did exercise elections, rehabs and promotions
    assert {"leader_elected", "moved_to_rehab", "promoted"} <= set(a["kind"])
    pd.testing.assert_frame_equal(a[["kind", "node", "term"]], b[["kind", "node", "term"]])
    # Times agree to within a few message latencies (the elided run drew fewer of them).
    assert (a["time_s"] - b["time_s"]).abs().max() < 0.01
    # And the elided run did skip most of the hour, with far fewer events.
    assert full.provenance["idle_elided_seconds"] == 0
    assert elided.provenance["idle_elided_seconds"] > 0.6 * 3600
    assert elided.provenance["events_processed"] < 0.6 * full.provenance["events_processed"]
    # The workload is untouched: the same operations arrive and succeed.
    assert len(full.ops) == len(elided.ops)
    assert (full.ops["outcome"] == "ok").sum() == pytest.approx((elided.ops["outcome"] == "ok").sum(), abs=5)


def test_skipped_messages_still_count_on_the_links() -> None:
    """Bytes that parked heartbeats, samples and keep-alives would carry are credited."""
    spec = {
        "name": "idle",
        "duration": "10 min",
        "sample_interval": "1 min",
        "blueprint": "three-node",
        "workload": {"rate": 0.1},
    }
    totals = []
    for elide in (False, True):
        result = run(scenario_from_dict({**spec, "elide_idle": elide}, source="<test>"))
        ts = result.timeseries
        links = ts[ts["entity"].str.startswith("link.") & (ts["metric"] == "bytes_per_s")]
        totals.append(links["value"].sum())
    assert result.provenance["idle_elided_seconds"] > 500
    assert totals[1] == pytest.approx(totals[0], rel=0.02)


def _world(**changes) -> World:
    spec = {"name": "w", "duration": "2 min", "blueprint": "three-node", "workload": {"rate": 0.1}, **changes}
    world = World(scenario_from_dict(spec, source="<test>"))
    world.start()
    return world


def test_an_idle_cluster_parks_and_a_fault_plan_wakes_it_ahead() -> None:
    world = _world(faults=[{"action": "crash", "node": "leader", "at": "90 s"}])
    world.env.run(until=60)
    assert world.quiet.parked
    lookahead = world.quiet.lookahead
    world.env.run(until=90 - lookahead + 0.01)
    assert not world.quiet.parked  # awake before the crash, so it is simulated, not reconstructed
    world.env.run(until=89.99)
    assert not world.quiet.parked


def test_no_parking_when_a_latency_could_outlast_a_timer() -> None:
    slow = {"network": {"same_zone": "lognormal(median=60ms, sigma=0.3)"}}
    world = _world(blueprint={"extends": "three-node", **slow})
    world.env.run(until=60)
    assert world.quiet.parks == 0
    fast = _world()
    fast.env.run(until=60)
    assert fast.quiet.parks >= 1


def test_a_raft_command_and_the_lag_budget_wake_the_cluster() -> None:
    world = _world()
    world.env.run(until=30)
    assert world.quiet.parked
    world.cluster.nodes[0].submit("compare_exchange", (1, 0, False), 100.0, lambda _outcome: None)
    assert not world.quiet.parked
    world.env.run(until=60)
    assert world.quiet.parked
    world.quiet.writes_left = 2
    world.quiet.on_write()
    assert world.quiet.parked
    world.quiet.on_write()
    assert not world.quiet.parked


def test_grid_catches_up_onto_the_same_instants() -> None:
    grid = Grid(0.3, 0.1)
    accumulated = [Grid(0.3, 0.1, k).at() for k in range(1, 40)]
    assert grid.catch_up(1.2) == 9
    assert grid.at() in accumulated and grid.at() >= 1.2
    assert grid.catch_up(1.2) == 0
    assert grid.catch_up(1.2000001) == 1


def test_a_graceful_shutdown_ending_while_idle_still_elects_a_new_leader() -> None:
    """The shutdown's crash comes from inside the model, after the fault fired: the cluster
    must be awake for it (a parked cluster would never notice the leader is gone)."""
    spec = {
        "name": "drain",
        "seed": 2,
        "duration": "5 min",
        "blueprint": "three-node",
        "workload": {"rate": 0.5, "mix": {"read": 0.0, "write": 1.0}},
        "faults": [
            {"action": "slow_disk", "node": "A", "fsync": "constant(4 s)", "at": "60 s"},
            {"action": "shutdown", "node": "A", "at": "120 s", "grace": "5 s"},
        ],
    }
    elected = []
    for elide in (False, True):
        result = run(scenario_from_dict({**spec, "elide_idle": elide}, source="<test>"))
        ev = result.events[result.events["kind"] == "leader_elected"]
        elected.append([(node, term) for node, term in zip(ev["node"], ev["term"], strict=True)])
        assert (ev["time_s"].between(125, 127)).sum() == 1
    assert elected[0] == elected[1] and len(elected[0]) == 2


def test_a_second_degraded_link_is_judged_afresh() -> None:
    """The latency bound is cached per sampler. The cache must hold the sampler itself: keyed
    by id(), a restored link's freed sampler could hand its id (and its bound) to the next."""
    from workbench.scenario.distributions import Constant

    world = _world()
    world.env.run(until=30)
    b, c = world.node_by_tag["B"].index, world.node_by_tag["C"].index
    world.network.degrade([(b, c)], latency=Constant(0.001))
    assert world.quiet._network_steady()
    fast = world.network._latency[b][c]
    assert any(key is fast for key in world.quiet._upper)  # alive, so its id cannot be reused
    world.network.restore([(b, c)])
    world.network.degrade([(b, c)], latency=Constant(3.0))
    assert not world.quiet._network_steady()


def test_a_park_longer_than_the_exact_replay_window_still_resumes_a_working_cluster() -> None:
    """Rounds older than EXACT_REPLAY_S are skipped at their mean length (a year would otherwise
    draw every heartbeat): the cluster still notices a leader crash hours later and elects once."""
    from workbench.model.cluster.rachis import EXACT_REPLAY_S

    spec = {
        "name": "long-park",
        "duration": "3 h",
        "blueprint": "five-node",
        "clients": {"count": 1},
        "workload": {"rate": 0.05},
        "faults": [{"action": "crash", "node": "leader", "at": "150 min", "duration": "1 min"}],
    }
    result = run(scenario_from_dict(spec, source="<test>"))
    assert result.provenance["idle_elided_seconds"] > 2 * EXACT_REPLAY_S
    elected = result.events[result.events["kind"] == "leader_elected"]
    assert list(elected["term"]) == [1, 2] and elected["time_s"].iloc[1] == pytest.approx(9000.0, abs=1.0)
    assert all_ok(result)


def all_ok(result) -> bool:
    from workbench.analysis.summary import all_succeeded

    return all_succeeded(result.ops)


@pytest.mark.parametrize("how", ["kill", "silent"])
def test_a_cluster_with_a_follower_down_parks(how: str) -> None:
    """The leader's reconnection attempts to a killed follower (each answered by a reset) are
    replayed on waking; so are those into a vanished one, which the network cuts off both ways
    (what is sent to it is lost as over a cut link)."""
    spec = {
        "name": "w",
        "duration": "3 min",
        "blueprint": "three-node",
        "workload": {"rate": 0.1},
        "faults": [{"at": "1 s", "action": "crash", "node": "C", "how": how}],
    }
    world = World(scenario_from_dict(spec, source="<test>"))
    world.run()
    world.finish()
    assert world.quiet.parks > 0
    # Most of the three minutes after the crash settles is skipped, not simulated beat by beat.
    assert world.quiet.elided_seconds > 60


def test_operator_actions_decide_the_same_elided_or_not() -> None:
    """A suspended observer decides nothing, so the cluster may park while it is; promotes,
    demotes and group changes wake it like any fault (issue 20, part 7)."""
    kinds = [
        *DECISIONS,
        "observer_suspended",
        "observer_resumed",
        "node_demoted",
        "node_promoted",
        "voter_promoted",
        "added_to_group",
        "removed_from_group",
        "seeding_done",
    ]

    def scenario(elide: bool) -> dict:
        return {
            "name": "operator",
            "seed": 2,
            "duration": "40 min",
            "sample_interval": "10 s",
            "elide_idle": elide,
            "blueprint": {"extends": "five-node-watchers", "database": {"members": ["A", "B", "C"]}},
            "clients": {"count": 2},
            "workload": {"rate": 5, "mix": {"read": 0.7, "write": 0.3}},
            "faults": [
                {"action": "suspend_observer", "at": "2 min"},
                {"action": "crash", "node": "C", "at": "3 min", "duration": "6 min"},
                {"action": "resume_observer", "at": "10 min"},
                {"action": "demote", "node": "B", "at": "12 min"},
                {"action": "promote", "node": "D", "at": "13 min"},
                {"action": "add_to_group", "node": "E", "at": "15 min"},
                {"action": "suspend_observer", "at": "16 min", "duration": "5 min"},
                {"action": "remove_from_group", "node": "A", "at": "25 min"},
            ],
        }

    full, elided = (run(scenario_from_dict(scenario(e), source="<test>")) for e in (False, True))
    a, b = (r.events[r.events["kind"].isin(kinds)][["time_s", "kind", "node", "term"]] for r in (full, elided))
    assert {"node_demoted", "voter_promoted", "promoted", "removed_from_group", "observer_resumed"} <= set(a["kind"])
    pd.testing.assert_frame_equal(
        a[["kind", "node", "term"]].reset_index(drop=True), b[["kind", "node", "term"]].reset_index(drop=True)
    )
    assert abs(a["time_s"].to_numpy() - b["time_s"].to_numpy()).max() < 0.01
    assert elided.provenance["idle_elided_seconds"] > 0.5 * 2400


def test_elided_and_full_runs_decide_the_same_with_several_databases() -> None:
    """Issue 23: quiescence parks every database's channels and the observer's idle test covers
    every database, so an hour with faults on a cluster of several databases decides the same
    whether idle stretches are skipped or simulated, database by database."""

    def scenario(elide: bool) -> dict:
        data = _hour_with_faults(elide, 2)
        data["blueprint"] = {
            "extends": "five-node",
            "database_population": {"count": 6, "replication_factor": {2: 0.5, 3: 0.5}},
        }
        return data

    full = run(scenario_from_dict(scenario(False), source="<test>"))
    elided = run(scenario_from_dict(scenario(True), source="<test>"))
    assert full.ok and elided.ok

    def decisions(result) -> pd.DataFrame:
        ev = result.events
        return ev[ev["kind"].isin(DECISIONS)][["time_s", "kind", "node", "term", "database"]].reset_index(drop=True)

    a, b = decisions(full), decisions(elided)
    assert a["database"].nunique() == 6 and {"moved_to_rehab", "promoted"} <= set(a["kind"])
    pd.testing.assert_frame_equal(a[["kind", "node", "term", "database"]], b[["kind", "node", "term", "database"]])
    assert (a["time_s"] - b["time_s"]).abs().max() < 0.01
    assert elided.provenance["idle_elided_seconds"] > 0.5 * 3600
    assert len(full.ops) == len(elided.ops)

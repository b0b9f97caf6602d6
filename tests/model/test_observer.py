"""The Cluster Observer's timeline [spec §2.3, §8.3, §8.8, §8.9]."""

from __future__ import annotations

import pytest

from workbench import run
from workbench.analysis.summary import all_succeeded
from workbench.model.assembly.world import World


def _kinds(result, *kinds):
    ev = result.events
    return ev[ev["kind"].isin(kinds)]


def _scenario(make_scenario, faults, duration, **database):
    return make_scenario(
        duration=duration,
        blueprint={"extends": "five-node", "database": {"members": ["A", "B", "C"], **database}},
        clients={"read_balance": "RoundRobin"},
        workload={"rate": 200, "keys": 2000, "mix": {"read": 0.7, "write": 0.3}},
        faults=faults,
    )


def test_a_member_down_60_s_goes_to_rehab_and_is_promoted_after_it_catches_up(make_scenario):
    result = run(
        _scenario(
            make_scenario,
            [{"at": "10 s", "action": "crash", "node": "B"}, {"at": "100 s", "action": "restart", "node": "B"}],
            "160 s",
        )
    )
    rehab = _kinds(result, "moved_to_rehab")
    assert list(rehab["node"]) == ["A"]  # decided by the leader's observer
    assert rehab["detail"].iloc[0].startswith("B silent")
    assert 70.0 <= rehab["time_s"].iloc[0] <= 70.6  # 60 s of silence, on a 500 ms tick
    # Clients stop sending B anything once they learn the topology.
    ops = result.ops
    after = ops[(ops["start_s"] > rehab["time_s"].iloc[0] + 1) & (ops["start_s"] < 100)]
    assert len(after) > 1000 and not (after["node"] == "B").any()
    # B returns, its replication channels reconnect (backoff), it catches up and is promoted at the end.
    promoted = _kinds(result, "promoted")
    assert len(promoted) == 1 and promoted["detail"].iloc[0].startswith("B caught up")
    assert promoted["time_s"].iloc[0] > 100
    topo = _kinds(result, "topology_changed")
    assert topo["detail"].iloc[-1].startswith("members A, C, B")
    assert all_succeeded(ops)


def test_the_preferred_node_is_rotated_after_5_s(make_scenario):
    result = run(_scenario(make_scenario, [{"at": "10 s", "action": "crash", "node": "A"}], "40 s"))
    rotated = _kinds(result, "preferred_rotated")
    assert len(rotated) == 1 and rotated["detail"].iloc[0].startswith("A silent")
    # A was the leader too: the new leader's observer starts with empty history and
    # waits out the 5 s stabilisation, then A has been silent for more than 5 s.
    elected = _kinds(result, "leader_elected")["time_s"].iloc[-1]
    assert elected + 5.0 <= rotated["time_s"].iloc[0] <= elected + 6.0
    writes = result.ops[(result.ops["kind"] == "write") & (result.ops["start_s"] > rotated["time_s"].iloc[0] + 0.1)]
    assert set(writes["node"]) == {"B"}  # the new preferred node; no failed first attempt
    assert (writes["attempts"] == 1).all()


def test_dynamic_distribution_replaces_a_replica_and_deletes_the_loser(make_scenario):
    scenario = _scenario(
        make_scenario,
        [{"at": "10 s", "action": "crash", "node": "B"}, {"at": "1000 s", "action": "restart", "node": "B"}],
        "1010 s",
        dynamic_distribution=True,
    )
    world = World(scenario)
    world.run()
    world.finish()
    ev = world.recorder.tables()["events"]
    added = ev[ev["kind"] == "replica_added"]
    assert len(added) == 1 and added["detail"].iloc[0].startswith("D replaces B")
    assert 910.0 <= added["time_s"].iloc[0] <= 910.6  # 15 min after B's last report
    assert (ev["kind"] == "seeding_done").any()
    promoted = ev[ev["kind"] == "promoted"]
    assert promoted["detail"].iloc[0].startswith("D caught up")
    deleted = ev[ev["kind"] == "replica_deleted"]
    assert list(deleted["detail"]) == ["B"]
    # B comes back, learns its copy was deleted, and is left empty [spec §8.9].
    removed = ev[ev["kind"] == "replica_removed"]
    assert list(removed["node"]) == ["B"] and removed["time_s"].iloc[0] >= 1000
    assert world.nodes[1].instances[0] is None
    copies = [{k: d.write_id for k, d in inst.docs.items()} for inst in world.instances]
    assert sorted(inst.node.tag for inst in world.instances) == ["A", "C", "D"]
    assert copies[0].keys() == copies[1].keys() == copies[2].keys()
    assert not (ev["kind"] == "write_lost").any()


def test_without_dynamic_distribution_no_replica_is_added(make_scenario):
    result = run(_scenario(make_scenario, [{"at": "10 s", "action": "crash", "node": "B"}], "960 s"))
    assert len(_kinds(result, "moved_to_rehab")) == 1
    assert len(_kinds(result, "replica_added")) == 0


def test_forced_promotion_counts_the_writes_the_promoted_copy_lacks(make_scenario):
    """Cascading rehab [spec §8.8]: B is in rehab and still behind when A dies;
    with no member left the observer promotes B and A's unreplicated writes are missing."""
    result = run(
        make_scenario(
            duration="200 s",
            blueprint={"extends": "three-node", "database": {"members": ["A", "B"], "replication_factor": 2}},
            workload={"rate": 200, "keys": 2000, "mix": {"read": 0.5, "write": 0.5}},
            faults=[
                {"at": "10 s", "action": "crash", "node": "B"},
                {"at": "100 s", "action": "restart", "node": "B"},
                {"at": "110 s", "action": "crash", "node": "A"},
            ],
        )
    )
    forced = _kinds(result, "forced_promotion")
    assert len(forced) == 1 and forced["detail"].iloc[0].startswith("B promoted")
    assert forced["value"].iloc[0] > 1000
    summary = result.summary()
    assert summary["writes_missing_after_forced_promotion"] == forced["value"].iloc[0]
    # A's disk still holds them, so nothing is lost for good yet.
    assert summary["lost_writes"] == 0


@pytest.mark.parametrize(("policy", "expected"), [("append", "members A, C, B"), ("priority", "members B, A, C")])
def test_promotion_position_follows_the_policy(make_scenario, policy, expected):
    result = run(
        make_scenario(
            duration="160 s",
            blueprint={
                "extends": "five-node",
                "database": {"members": ["A", "B", "C"]},
                "observer": {"promotion_position": policy, "priority_order": ["B", "A", "C"]},
                "replication": {"reconnect_max": "5 s"},
            },
            workload={"rate": 100, "keys": 500},
            faults=[{"at": "10 s", "action": "crash", "node": "B"}, {"at": "100 s", "action": "restart", "node": "B"}],
        )
    )
    assert _kinds(result, "topology_changed")["detail"].iloc[-1].startswith(expected)


def test_a_lagging_member_goes_to_rehab(make_scenario):
    """A member that answers but falls too far behind a peer (two samples running) is demoted."""
    result = run(
        make_scenario(
            duration="30 s",
            blueprint={
                "extends": "five-node",
                "database": {"members": ["A", "B", "C"]},
                "network": {"links": [{"between": ["A", "B"], "latency": "2 s"}]},
                "observer": {"max_change_vector_distance": 50},
            },
            workload={"rate": 200, "mix": {"read": 0.5, "write": 0.5}},
        )
    )
    rehab = _kinds(result, "moved_to_rehab")
    assert len(rehab) >= 1
    assert rehab["detail"].iloc[0].startswith("B is") and "lagging" in rehab["detail"].iloc[0]


def test_compare_exchange_claims_and_releases_keys(make_scenario):
    """Put with index 0 claims a key; the holder deletes it with the index it got."""
    result = run(
        make_scenario(
            blueprint={"extends": "three-node", "database": {"members": ["A", "B", "C"]}},
            clients={"count": 1},
            workload={"rate": 100, "keys": 5, "mix": {"read": 0.0, "write": 0.0, "compare_exchange": 1.0}},
        )
    )
    ops = result.ops
    assert all_succeeded(ops)
    versions = ops["version"]
    claims, releases, mismatches = (versions > 0).sum(), (versions == 0).sum(), (versions == -1).sum()
    # One client alone mostly alternates claim (a Raft index) and release (0); a
    # mismatch only when two of its operations on one key overlap in time.
    assert claims > 300 and releases > 300
    assert abs(claims - releases) <= mismatches + 5
    assert mismatches < 0.05 * len(ops)


def test_a_promotable_whose_mentor_dies_gets_a_new_mentor(make_scenario):
    """Regression: mentors are re-chosen from the current members, so a replacement
    replica is still seeded and promoted when its first mentor crashes."""
    from workbench.model.kernel.kernel import Timer

    scenario = make_scenario(
        duration="200 s",
        blueprint={
            "extends": "five-node",
            "database": {"members": ["A", "B", "C"], "dynamic_distribution": True},
            "observer": {"add_replica_after": "20 s", "seeding_rate": "200 KB/s"},
        },
        workload={"rate": 50, "keys": 2000},
        faults=[{"at": "10 s", "action": "crash", "node": "C"}],
    )
    world = World(scenario)
    crashed = []

    def crash_the_mentor() -> None:
        topo = world.cluster.leader().state_machine.databases["db"]
        if topo.promotables and not crashed:
            mentor = topo.mentors[topo.promotables[0]]
            world.nodes[mentor].crash()
            crashed.append(world.nodes[mentor].tag)
        Timer(world.env, 0.5, crash_the_mentor)

    Timer(world.env, 1.0, crash_the_mentor)
    world.run()
    events = world.recorder.tables()["events"]
    assert crashed and (events["kind"] == "mentor_changed").any()
    promoted = events[events["kind"] == "promoted"]
    assert len(promoted) >= 1
    # Caught up with a live mentor, not the one that crashed.
    assert not promoted["detail"].iloc[0].endswith(f"caught up with {crashed[0]}")
    topo = world.cluster.leader().state_machine.databases["db"]
    assert len(topo.members) == 3

"""Operator actions in the fault plan [spec §2.2, §2.5, §11]: suspending the Cluster Observer,
promoting and demoting cluster nodes, adding nodes to and removing them from the database
group (issue 20, part 7)."""

from __future__ import annotations

import pytest

from workbench import run
from workbench.errors import WorkbenchInputError
from workbench.model.assembly.world import World


def _kinds(result, *kinds):
    ev = result.events
    return ev[ev["kind"].isin(kinds)]


def _first(result, kind: str) -> float:
    times = _kinds(result, kind)["time_s"]
    assert len(times), f"no {kind} event"
    return float(times.iloc[0])


def _world(scenario) -> World:
    world = World(scenario)
    world.run()
    world.finish()
    return world


def _roles(world: World) -> list[dict[str, str]]:
    """Each live node's view of the cluster roles, by tag."""
    return [
        {world.nodes[i].tag: role for i, role in raft.state_machine_config().items()}
        for raft in world.cluster.nodes
        if world.nodes[raft.index].up
    ]


# ----------------------------------------------------------------------------- promote and demote


def _voting(make_scenario, faults, duration="40 s", blueprint="three-node"):
    return make_scenario(
        duration=duration,
        blueprint={"extends": blueprint, "database": {"members": ["A", "B", "C"]}},
        workload={"rate": 100, "keys": 1000, "mix": {"read": 0.6, "write": 0.3, "cluster_tx": 0.1}},
        faults=faults,
    )


def test_a_demoted_member_no_longer_counts_towards_the_majority(make_scenario):
    """Three members; C demoted to watcher. When B then fails, A alone is not a majority of
    the voters A and B: the cluster loses its leader. Without the demotion A and C keep it."""
    crash_b = {"at": "10 s", "action": "crash", "node": "B"}
    kept = run(_voting(make_scenario, [crash_b]))
    assert kept.summary()["cluster"]["availability"] == 1.0

    demoted = run(_voting(make_scenario, [{"at": "5 s", "action": "demote", "node": "C"}, crash_b]))
    event = _kinds(demoted, "node_demoted")
    assert list(event["node"]) == ["C"] and 5.0 < event["time_s"].iloc[0] < 5.1
    assert _first(demoted, "cluster_unavailable") == pytest.approx(10.0, abs=0.01)
    assert demoted.summary()["cluster"]["availability"] < 0.9
    # Cluster transactions need the leader: they time out once it is gone.
    late = demoted.ops[(demoted.ops["kind"] == "cluster_tx") & (demoted.ops["start_s"] > 11)]
    assert len(late) and not (late["outcome"] == "ok").any()
    # A demoted node is a watcher: it never stands for election, never votes.
    assert not (_kinds(demoted, "leader_elected")["node"] == "C").any()


def test_a_promoted_watcher_becomes_a_voter_that_keeps_the_majority(make_scenario):
    """Five nodes, 3 members + 2 watchers: D promoted, then B and C fail. The voters are A,
    B, C and D (majority 3), so A and D alone are not enough; with C demoted first, the
    voters are A, B and D and A + D keep the leader."""
    faults = [
        {"at": "3 s", "action": "demote", "node": "C"},
        {"at": "6 s", "action": "promote", "node": "D"},
        {"at": "12 s", "action": "crash", "node": "B"},
        {"at": "12 s", "action": "crash", "node": "C"},
    ]
    result = run(_voting(make_scenario, faults, blueprint="five-node-watchers"))
    assert list(_kinds(result, "node_promoted")["node"]) == ["D"]
    # Through promotable to member once it holds the whole log, within a few round trips.
    assert _first(result, "voter_promoted") - _first(result, "node_promoted") < 0.1
    assert result.summary()["cluster"]["availability"] == 1.0
    ok = result.ops[(result.ops["kind"] == "cluster_tx") & (result.ops["start_s"] > 13)]
    assert len(ok) and (ok["outcome"] == "ok").all()


def test_a_promote_without_a_majority_does_not_happen(make_scenario):
    """B and C (two of the three members) are down: no leader, so promoting the watcher D
    does nothing and says so; D is still a watcher everywhere at the end."""
    faults = [
        {"at": "2 s", "action": "crash", "node": "B"},
        {"at": "2 s", "action": "crash", "node": "C"},
        {"at": "8 s", "action": "promote", "node": "D"},
    ]
    world = _world(_voting(make_scenario, faults, duration="20 s", blueprint="five-node-watchers"))
    events = world.recorder.tables()["events"]
    failed = events[events["kind"] == "command_failed"]
    assert list(failed["detail"]) == ["promote D: no leader (no majority): nothing changes"]
    assert not events["kind"].isin(["node_promoted", "voter_promoted"]).any()
    assert all(view["D"] == "watcher" for view in _roles(world))


def test_a_promote_on_a_leader_that_lost_its_majority_is_undone(make_scenario):
    """The leader A is cut off with the watcher D; promoting D is written to A's log (and D's)
    but cannot commit: A steps down, the change fails with an event, and after the heal the
    majority's leader overwrites it. D ends a watcher on every node."""
    faults = [
        {"at": "5 s", "action": "partition", "groups": [["A", "D"], ["B", "C", "E"]], "duration": "10 s"},
        {"at": "5.05 s", "action": "promote", "node": "D"},
    ]
    world = _world(_voting(make_scenario, faults, duration="30 s", blueprint="five-node-watchers"))
    events = world.recorder.tables()["events"]
    failed = events[events["kind"] == "command_failed"]
    assert len(failed) == 1 and failed["detail"].iloc[0].startswith("promote D: A lost touch with a majority")
    assert 5.3 <= failed["time_s"].iloc[0] <= 5.7  # the vote of no confidence, within about ET
    assert not events["kind"].isin(["node_promoted", "voter_promoted"]).any()
    assert all(view["D"] == "watcher" for view in _roles(world))
    assert world.cluster.leader().tag in ("B", "C")


def test_demoting_the_leader_is_refused(make_scenario):
    with pytest.raises(WorkbenchInputError, match=r"faults\[0\]\.node: RavenDB refuses to demote the leader"):
        _voting(make_scenario, [{"at": "1 s", "action": "demote", "node": "leader"}])
    # By tag, the leader is known only when the action fires: RavenDB's refusal is an event.
    result = run(_voting(make_scenario, [{"at": "1 s", "action": "demote", "node": "A"}], duration="3 s"))
    skipped = _kinds(result, "command_skipped")
    assert list(skipped["detail"]) == ["demote A: it is the leader: RavenDB asks for a step-down first"]
    assert _kinds(result, "fault_started").empty


# ----------------------------------------------------------------------------- the observer


def _outage(make_scenario, faults, duration="100 s", **database):
    return make_scenario(
        duration=duration,
        blueprint={"extends": "five-node", "database": {"members": ["A", "B", "C"], **database}},
        clients={"read_balance": "RoundRobin"},
        workload={"rate": 100, "keys": 2000, "mix": {"read": 0.7, "write": 0.3}},
        faults=faults,
    )


def test_a_suspended_observer_moves_nobody_to_rehab_until_resumed(make_scenario):
    crash = {"at": "5 s", "action": "crash", "node": "C"}
    plain = run(_outage(make_scenario, [crash]))
    assert 65.0 <= _first(plain, "moved_to_rehab") <= 65.6  # 60 s of silence

    suspended = run(
        _outage(
            make_scenario,
            [{"at": "1 s", "action": "suspend_observer"}, crash, {"at": "80 s", "action": "resume_observer"}],
        )
    )
    assert _first(suspended, "observer_suspended") == 1.0
    rehab = _kinds(suspended, "moved_to_rehab")
    assert len(rehab) == 1 and rehab["detail"].iloc[0].startswith("C silent")
    # The reports kept coming while suspended: the first analysis after resuming decides.
    assert 80.0 < rehab["time_s"].iloc[0] <= 80.6
    faults = suspended.summary()["faults"]
    row = next(f for f in faults if f["fault"] == "suspend_observer")
    assert (row["start_s"], row["end_s"], row["target"]) == (1.0, 80.0, "A term 1")


def test_a_suspension_lasts_one_leader_term(make_scenario):
    """RavenDB's Suspended is a field of one term's observer: the leader A dies, and the new
    leader's observer rotates A and moves it to rehab as if nothing had been suspended."""
    faults = [{"at": "1 s", "action": "suspend_observer"}, {"at": "5 s", "action": "crash", "node": "A"}]
    result = run(_outage(make_scenario, faults))
    resumed = _kinds(result, "observer_resumed")
    assert len(resumed) == 1 and "the suspension held for term 1 only" in resumed["detail"].iloc[0]
    assert resumed["time_s"].iloc[0] == pytest.approx(_kinds(result, "leader_elected")["time_s"].iloc[-1])
    assert not _kinds(result, "preferred_rotated").empty
    assert _kinds(result, "moved_to_rehab")["detail"].iloc[0].startswith("A silent")


def test_a_suspended_observer_does_not_promote_a_caught_up_copy(make_scenario):
    faults = [
        {"at": "1 s", "action": "suspend_observer", "duration": "25 s"},
        {"at": "2 s", "action": "add_to_group", "node": "D"},
    ]
    result = run(_outage(make_scenario, faults, duration="40 s"))
    assert _first(result, "seeding_done") < 10
    promoted = _first(result, "promoted")
    assert 26.0 < promoted <= 26.6  # only once resumed


# ----------------------------------------------------------------------------- the database group


def _group(make_scenario, faults, duration="40 s", keys=100_000):
    return make_scenario(
        duration=duration,
        blueprint={"extends": "five-node", "database": {"members": ["A", "B", "C"]}},
        clients={"count": 4, "read_balance": "RoundRobin"},
        workload={"rate": 400, "keys": keys, "mix": {"read": 0.8, "write": 0.2}},
        faults=faults,
    )


def _series(result, entity: str, metric: str, start: float, end: float):
    ts = result.timeseries
    rows = ts[(ts["entity"] == entity) & (ts["metric"] == metric) & (ts["time_s"] > start) & (ts["time_s"] <= end)]
    return rows["value"]


def test_add_to_group_is_seeded_by_its_mentor_and_serves_clients_only_once_promoted(make_scenario):
    result = run(_group(make_scenario, [{"at": "5 s", "action": "add_to_group", "node": "D", "mentor": "B"}]))
    added = _kinds(result, "added_to_group")
    assert list(added["detail"]) == ["D joins as a promotable, seeded by B; RF 4"]
    started = _kinds(result, "seeding_started")
    assert list(zip(started["source"], started["destination"], strict=True)) == [("B", "D")]
    assert started["detail"].iloc[0].startswith("B->D, ")
    size_mb = float(started["bytes"].iloc[0]) / 1e6
    begin, done = _first(result, "seeding_started"), _first(result, "seeding_done")
    # Throttled at 50 MB/s.
    assert done - begin == pytest.approx(size_mb / 50, rel=0.05)
    # The copy's bytes crossed the mentor's link, and no other (A, the leader, sends D only
    # heartbeats and the observer's polls).
    sent = _series(result, "link.B->D", "bytes_per_s", begin, done + 1).sum()
    assert sent == pytest.approx(size_mb * 1e6, rel=0.05)
    assert _series(result, "link.A->D", "bytes_per_s", begin, done).sum() < 1e-3 * sent
    assert _series(result, "link.C->D", "bytes_per_s", begin, done).sum() == 0
    # The mentor read the copy from its disk and packed it on its CPU; C, as busy with
    # clients as B, did neither.
    b_disk = _series(result, "node.B", "disk_utilisation", begin + 1, done).mean()
    c_disk = _series(result, "node.C", "disk_utilisation", begin + 1, done).mean()
    assert b_disk > 0.3 and c_disk < 0.1
    b_cpu = _series(result, "node.B", "cpu_utilisation", begin + 1, done).mean()
    c_cpu = _series(result, "node.C", "cpu_utilisation", begin + 1, done).mean()
    assert b_cpu > c_cpu + 0.005
    # No client request reaches D before the observer promotes it; afterwards it takes its share.
    promoted = _first(result, "promoted")
    assert promoted > done
    on_d = result.ops[result.ops["node"] == "D"]
    assert on_d["start_s"].min() > promoted
    assert len(on_d) > 1000
    row = next(f for f in result.summary()["faults"] if f["fault"] == "add_to_group")
    assert (row["start_s"], row["end_s"]) == (5.0, pytest.approx(promoted, abs=1e-3))


def test_seeding_slows_the_mentors_writes(make_scenario):
    """B, the preferred node, mentors the new copy: its disk reads take turns with its fsyncs."""

    def write_p99(faults) -> float:
        result = run(_group(make_scenario, faults, duration="20 s", keys=200_000))
        writes = result.ops[(result.ops["kind"] == "write") & result.ops["start_s"].between(6, 12)]
        return float(writes["latency_ms"].quantile(0.99))

    base = write_p99([{"at": "1 s", "action": "move_to_end", "node": "A"}])
    seeding = write_p99(
        [
            {"at": "1 s", "action": "move_to_end", "node": "A"},
            {"at": "5 s", "action": "add_to_group", "node": "D", "mentor": "B"},
        ]
    )
    assert seeding > base * 1.3


def test_remove_from_group_stops_client_traffic_once_the_topology_changes(make_scenario):
    result = run(_group(make_scenario, [{"at": "10 s", "action": "remove_from_group", "node": "C"}], keys=2000))
    removed = _kinds(result, "removed_from_group")
    assert list(removed["detail"]) == ["RF 2"]
    assert list(_kinds(result, "replica_removed")["node"]) == ["C"]
    at = removed["time_s"].iloc[0]
    ops = result.ops
    assert (ops.loc[ops["start_s"].between(5, at), "node"] == "C").sum() > 100
    # Clients learn the new topology (etag) from their next response: at most a request
    # or two per client still goes to C, gets 410 and fails over.
    late = ops[(ops["start_s"] > at) & (ops["node"] == "C")]
    assert late.empty
    assert (ops["outcome"] == "ok").all()
    retried = ops[(ops["start_s"] > at) & (ops["attempts"] > 1)]
    assert len(retried) <= 4
    assert _kinds(result, "topology_changed")["detail"].iloc[-1].startswith("members A, B (etag")


def test_a_group_change_without_a_majority_fails_with_an_event(make_scenario):
    faults = [
        {"at": "2 s", "action": "crash", "node": "B"},
        {"at": "2 s", "action": "crash", "node": "C"},
        {"at": "2 s", "action": "crash", "node": "D"},
        {"at": "5 s", "action": "add_to_group", "node": "E"},
    ]
    world = _world(_group(make_scenario, faults, duration="30 s", keys=2000))
    events = world.recorder.tables()["events"]
    failed = events[events["kind"] == "command_failed"]
    assert list(failed["detail"]) == [
        "add_to_group E: no leader with a majority within the operation timeout; it does not happen"
    ]
    assert failed["time_s"].iloc[0] == pytest.approx(20.0)  # the 15 s operation timeout
    assert not events["kind"].isin(["added_to_group", "seeding_started"]).any()
    assert world.node_by_tag["E"].instances[0] is None


def test_removing_a_node_without_a_copy_is_skipped(make_scenario):
    faults = [{"at": "1 s", "action": "remove_from_group", "node": "preferred"}]
    scenario = make_scenario(
        duration="3 s", blueprint={"database": {"members": ["A"], "replication_factor": 1}}, faults=faults
    )
    result = run(scenario)
    assert list(_kinds(result, "command_skipped")["detail"]) == [
        "remove_from_group A: it holds the last copy (that would delete the database)"
    ]


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"action": "promote", "node": "B"}, r"faults\[0\]\.node: B is a member, not a watcher"),
        ({"action": "promote", "node": "follower"}, r"promote takes a watcher; 'follower' is a voting member"),
        ({"action": "demote", "node": "D"}, r"faults\[0\]\.node: D is a watcher already"),
        ({"action": "promote", "node": "Q"}, r"faults\[0\]\.node: no node 'Q'"),
        ({"action": "promote", "node": "d"}, r"faults\[0\]\.node: 'd' is not a node tag"),
        ({"action": "add_to_group", "node": "B"}, r"faults\[0\]\.node: B already holds a copy"),
        ({"action": "add_to_group", "node": "D", "mentor": "Z"}, r"faults\[0\]\.mentor: no node 'Z'"),
        ({"action": "add_to_group", "node": "D", "mentor": "E"}, r"faults\[0\]\.mentor: the mentor must be a member"),
        ({"action": "add_to_group", "node": "D", "mentor": "D"}, r"a node cannot seed itself"),
        ({"action": "remove_from_group", "node": "E"}, r"faults\[0\]\.node: E holds no copy to remove"),
        ({"action": "add_to_group", "node": "last_crashed"}, r"'last_crashed' is for restart"),
        ({"action": "suspend_observer", "node": "A"}, r"faults\[0\]\.node: unknown key 'node'"),
        ({"action": "suspend_obsever"}, r"unknown action 'suspend_obsever' \(did you mean 'suspend_observer'\?\)"),
    ],
)
def test_bad_operator_actions_are_clean_input_errors(make_scenario, fault, message):
    with pytest.raises(WorkbenchInputError, match=message):
        make_scenario(
            blueprint={"extends": "five-node-watchers", "database": {"members": ["A", "B", "C"]}},
            faults=[{"at": "1 s", **fault}],
        )


def test_an_earlier_action_makes_a_later_one_valid(make_scenario):
    """Each action is checked against the cluster as the actions before it leave it: C may be
    promoted because it was demoted first, B re-added because it was removed first."""
    scenario = make_scenario(
        blueprint={"extends": "five-node-watchers", "database": {"members": ["A", "B", "C"]}},
        faults=[
            {"at": "1 s", "action": "demote", "node": "C"},
            {"at": "2 s", "action": "promote", "node": "C"},
            {"at": "3 s", "action": "remove_from_group", "node": "B"},
            {"at": "4 s", "action": "add_to_group", "node": "B", "mentor": "A"},
        ],
    )
    assert [(f.action, f.node) for f in scenario.faults] == [
        ("demote", "C"),
        ("promote", "C"),
        ("remove_from_group", "B"),
        ("add_to_group", "B"),
    ]


# ----------------------------------------------------------------------------- re-replication


@pytest.mark.parametrize(("blueprint", "on"), [("three-node", False), ("five-node-rf2", True)])
def test_the_summary_says_whether_a_lost_copy_is_replaced(make_scenario, blueprint, on):
    result = run(make_scenario(duration="2 s", blueprint=blueprint))
    summary = result.summary()["re_replication"]
    assert summary["dynamic_distribution"] is on
    assert summary["ravendb_default"] is False
    assert summary["add_replica_after_s"] == 900.0
    expected = "on (RavenDB's default is off)" if on else "off (RavenDB's default)"
    assert summary["behaviour"].startswith(f"dynamic distribution {expected}")

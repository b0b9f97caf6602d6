"""The fault plan: each action does what it says, leaves its trace in events, and is undone."""

from __future__ import annotations

import pytest

from workbench import run
from workbench.analysis.summary import all_succeeded
from workbench.model.assembly.world import World
from workbench.scenario import scenario_from_dict


def _faults(result, kind: str = "fault_started"):
    ev = result.events
    return ev[ev["kind"] == kind]


def test_one_way_partition_cuts_one_direction_only(make_scenario):
    """A cannot send to B and C, but hears them: B and C elect a leader, and A learns its
    term from it (in a symmetric partition A would keep its old term). The leader's
    ambassador to A never gets an answer, so after its first request A hears nothing more
    (TCP does not hand retransmissions on): A never applies the rotation B decides, clients
    that reach A keep writing there, and none of those writes leave A."""
    # Long enough for the observer to rotate A out of first place, so B takes writes.
    scenario = make_scenario(
        duration="12 s", faults=[{"at": "1 s", "action": "partition", "groups": [["A"]], "one_way": True}]
    )
    world = World(scenario)
    world.run()
    a, b = world.node_by_tag["A"].index, world.node_by_tag["B"].index
    assert world.network.cut[a][b] and not world.network.cut[b][a]
    assert world.network.send(b, a, 100.0, lambda: None) and not world.network.send(a, b, 100.0, lambda: None)
    lead = world.cluster.leader()
    assert lead is not None and lead.tag in ("B", "C")
    assert world.cluster.nodes[a].term == lead.term
    db = world.db_name
    assert lead.state_machine.databases[db].members[0] != a  # the observer rotated A out of first place
    assert world.cluster.nodes[a].state_machine.databases[db].members[0] == a  # A never heard of it
    ops = world.recorder.tables()["ops"]
    late_writes = ops[(ops["kind"] == "write") & (ops["start_s"] > 2.0) & (ops["outcome"] == "ok")]
    assert len(late_writes) > 0 and set(late_writes["node"].astype(str)) == {"A"}
    repl = world.recorder.tables()["replication"]
    late = repl[repl["committed_s"] > 2.0]
    pairs = set(zip(late["origin"].astype(str), late["destination"].astype(str), strict=True))
    assert ("A", "B") not in pairs and ("A", "C") not in pairs


def test_symmetric_partition_keeps_the_old_term_on_the_isolated_leader(make_scenario):
    scenario = make_scenario(duration="6 s", faults=[{"at": "1 s", "action": "partition", "groups": [["A"]]}])
    world = World(scenario)
    world.run()
    assert world.cluster.nodes[0].term == 1 and world.cluster.leader().term > 1


def test_after_trigger_fires_relative_to_the_event(make_scenario):
    """Crash the leader; 2 s after the next leader is elected, crash that one too."""
    result = run(
        make_scenario(
            duration="10 s",
            blueprint={"extends": "five-node", "database": {"members": ["A", "B", "C"]}},
            faults=[
                {"at": "3 s", "action": "crash", "node": "leader"},
                {"after": "leader_elected + 2 s", "action": "crash", "node": "leader"},
            ],
        )
    )
    ev = result.events
    elected = ev[(ev["kind"] == "leader_elected") & (ev["time_s"] > 3.0)]["time_s"].iloc[0]
    crashes = ev[ev["kind"] == "node_crashed"]
    assert len(crashes) == 2
    assert crashes["time_s"].iloc[1] == pytest.approx(elected + 2.0)
    assert crashes["node"].iloc[0] != crashes["node"].iloc[1]


def test_pause_freezes_a_node_then_it_carries_on(make_scenario):
    """A paused leader stops answering: clients wait (no failover, the connection is open),
    the others elect a leader, and on resume A steps down and serves again."""
    result = run(
        make_scenario(
            duration="10 s",
            clients={"request_timeout": "30 s"},
            faults=[{"at": "3 s", "action": "pause", "node": "A", "duration": "2 s"}],
        )
    )
    ops = result.ops
    caught = ops[(ops["start_s"] > 3.0) & (ops["start_s"] < 4.9) & (ops["node"] == "A")]
    assert len(caught) > 0
    # Answered after the pause, by A, with its state intact.
    assert (caught["end_s"] >= 5.0).all() and all_succeeded(caught) and (caught["attempts"] == 1).all()
    ev = result.events
    assert {"node_paused", "node_resumed"} <= set(ev["kind"])
    assert (ev[(ev["kind"] == "leader_elected") & (ev["time_s"] > 3.0)]["node"] != "A").all()
    (row,) = [f for f in result.summary()["faults"] if f["fault"] == "pause"]
    assert row["end_s"] == pytest.approx(5.0) and row["affected_clients"] == 0


def test_degraded_link_slows_only_that_link_and_is_restored(make_scenario):
    result = run(
        make_scenario(
            duration="9 s",
            workload={"mix": {"read": 1.0, "write": 0.0}},
            faults=[
                {
                    "at": "3 s",
                    "action": "degrade_link",
                    "between": ["client1", "A"],
                    "latency": "20 ms",
                    "duration": "3 s",
                }
            ],
        )
    )
    ops = result.ops
    during = ops[(ops["start_s"] > 3.0) & (ops["start_s"] < 5.9)]
    after = ops[ops["start_s"] > 6.1]
    c1 = during[during["client"] == "client1"]["latency_ms"]
    assert c1.min() >= 40.0  # two 20 ms one-way trips
    assert during[during["client"] == "client2"]["latency_ms"].max() < 20.0
    assert after["latency_ms"].max() < 20.0


def test_packet_loss_on_a_link_adds_retransmission_delays(make_scenario):
    scenario = make_scenario(
        duration="6 s",
        workload={"mix": {"read": 1.0, "write": 0.0}},
        faults=[{"at": "1 s", "action": "degrade_link", "between": ["client2", "dc1"], "loss": 0.2}],
    )
    world = World(scenario)
    world.run()
    assert world.network.retransmissions > 0
    ops = world.recorder.tables()["ops"]
    slow = ops[(ops["client"] == "client2") & (ops["start_s"] > 1.0)]["latency_ms"]
    assert slow.quantile(0.9) > 200.0  # the 200 ms minimum RTO hits about a third of requests
    assert ops[ops["client"] == "client1"]["latency_ms"].max() < 50.0


def test_slow_disk_raises_write_latency_on_that_node_only_while_it_lasts(make_scenario):
    result = run(
        make_scenario(
            duration="9 s",
            faults=[{"at": "3 s", "action": "slow_disk", "node": "A", "factor": 20, "duration": "3 s"}],
        )
    )
    writes = result.ops[(result.ops["kind"] == "write") & (result.ops["node"] == "A")]
    before = writes[writes["start_s"] < 3.0]["latency_ms"].median()
    during = writes[(writes["start_s"] > 3.2) & (writes["start_s"] < 5.8)]["latency_ms"].median()
    after = writes[writes["start_s"] > 6.5]["latency_ms"].median()
    assert during > 5 * before and after < 2 * before


def test_full_disk_faults_the_database_and_the_observer_moves_it_to_rehab(make_scenario):
    result = run(
        make_scenario(
            duration="90 s",
            workload={"rate": 50},
            faults=[{"at": "5 s", "action": "fill_disk", "node": "A", "duration": "70 s"}],
        )
    )
    ev = result.events
    ops = result.ops
    # Requests to A get 503 and fail over: nothing fails, nothing lands on A while its disk is full.
    during = ops[(ops["start_s"] > 5.1) & (ops["start_s"] < 75.0)]
    assert all_succeeded(during) and not (during["node"] == "A").any()
    rotated = ev[(ev["kind"] == "preferred_rotated")]["time_s"]
    assert 10.0 < rotated.iloc[0] < 12.0  # silent for 5 s (+ the observer's cadence)
    rehab = ev[(ev["kind"] == "moved_to_rehab") & ev["detail"].str.startswith("A ")]["time_s"]
    assert 65.0 < rehab.iloc[0] < 67.0
    assert {"database_faulted", "database_recovered"} <= set(ev["kind"])


def test_graceful_shutdown_finishes_in_flight_work_where_a_crash_resets_it(make_scenario):
    def retried(action: str) -> int:
        result = run(
            make_scenario(
                duration="6 s",
                # Slow reads keep a few requests in A's hands at any moment.
                blueprint={"hardware": {"service": {"read": "5 ms"}}},
                workload={"rate": 1000},
                faults=[{"at": "3 s", "action": action, "node": "A", "duration": "2 s"}],
            )
        )
        assert all_succeeded(result.ops)
        ops = result.ops
        return int(((ops["attempts"] > 1) & (ops["start_s"] < 3.0)).sum())

    # Ops already at A when it stops: reset and retried after a crash, answered after a shutdown.
    assert retried("crash") > 0
    assert retried("shutdown") == 0


def test_lost_disk_restarts_the_copy_empty_and_peers_resend_everything(make_scenario):
    scenario = make_scenario(
        duration="12 s",
        workload={"rate": 200, "stop": "9 s"},
        faults=[{"at": "4 s", "action": "crash", "node": "C", "wipe_disk": True, "duration": "1 s"}],
    )
    world = World(scenario)
    world.run()
    docs = [{k: d.write_id for k, d in n.instances[0].docs.items()} for n in world.nodes]
    assert docs[0] == docs[1] == docs[2] and len(docs[2]) > 100
    ev = world.recorder.tables()["events"]
    assert "disk_wiped" in set(ev["kind"])
    # The replication table shows A and B re-sending their writes from before the crash to C.
    repl = world.recorder.tables()["replication"]
    to_c = repl[(repl["destination"] == "C") & (repl["applied_s"] > 5.0) & (repl["committed_s"] < 4.0)]
    assert len(to_c) > 100


def _two_dc(**faults):
    return scenario_from_dict(
        {
            "name": "dc",
            "seed": 4,
            "duration": "20 s",
            "blueprint": {
                "name": "two-dc",
                "datacenters": [{"name": "east", "region": "r1"}, {"name": "west", "region": "r2"}],
                "nodes": [
                    {"tag": "A", "datacenter": "east"},
                    {"tag": "B", "datacenter": "east"},
                    {"tag": "C", "datacenter": "west"},
                ],
                "database": {"members": ["A", "B", "C"], "replication_factor": 3},
            },
            "clients": {
                "placement": [{"datacenter": "east", "count": 2}, {"datacenter": "west", "count": 2}],
                "request_timeout": "1 s",
            },
            "workload": {"rate": 200, "keys": 1000},
            "faults": [faults],
        },
        source="<test>",
    )


def test_a_dark_data_centre_stops_silently_and_comes_back():
    scenario = _two_dc(at="5 s", action="datacenter_down", datacenter="west", duration="5 s")
    world = World(scenario)
    world.run()
    ops = world.recorder.tables()["ops"]
    west = ops[ops["client"].isin(["client3", "client4"])]
    # The application servers in the west stop issuing requests while it is dark.
    assert not ((west["start_s"] > 5.0) & (west["start_s"] < 10.0)).any()
    assert sum(c.not_issued for c in world.clients) > 0
    assert world.node_by_tag["C"].up
    ev = world.recorder.tables()["events"]
    assert {"datacenter_down", "datacenter_up"} <= set(ev["kind"])
    # No connection reset crossed the cut: peers only find out by timing out.
    resets = ev[(ev["kind"] == "replication_disconnected") & ev["detail"].str.endswith("->C")]
    assert not ((resets["time_s"] > 5.0) & (resets["time_s"] < 10.0)).any()


def test_a_crash_resets_connections_at_once():
    """The control for the test above: a crash (not a dark data centre) is noticed at once."""
    scenario = _two_dc(at="5 s", action="crash", node="C", duration="5 s")
    world = World(scenario)
    world.run()
    ev = world.recorder.tables()["events"]
    resets = ev[(ev["kind"] == "replication_disconnected") & ev["detail"].str.endswith("->C")]
    assert ((resets["time_s"] > 5.0) & (resets["time_s"] < 5.2)).any()


def _rolling(make_scenario, drain: bool):
    return run(
        make_scenario(
            duration="150 s",
            clients={"count": 8},
            # Issuing stops just before the end, so no request is left unanswered (and counted) at the end.
            workload={"rate": 300, "stop": "149 s"},
            faults=[{"at": "10 s", "action": "rolling_restart", "drain": drain, "downtime": "20 s", "gap": "15 s"}],
        )
    )


def test_rolling_restart_with_draining_causes_fewer_client_errors(make_scenario):
    """[spec §8.16] Moving each node to the end of the member list and waiting for the
    clients to refresh before stopping it means no request is sent to a stopped node."""
    plain, drained = (_rolling(make_scenario, drain) for drain in (False, True))
    errors = [r.summary()["ops"]["failed_requests"] for r in (plain, drained)]
    assert errors[0] >= 8 and errors[1] < errors[0]
    assert errors[1] == 0
    for result in (plain, drained):
        rows = [f for f in result.summary()["faults"] if f["fault"] == "rolling restart"]
        assert [r["target"] for r in rows] == ["A", "B", "C"]
        assert all(r["duration_s"] == pytest.approx(20.0, abs=0.1) for r in rows)
    moved = drained.events[drained.events["kind"] == "topology_changed"]
    assert len(moved) >= 3


def test_a_partition_group_may_name_a_role(make_scenario):
    """``groups: [[preferred]]`` cuts off whichever node is preferred when the action fires
    (docs/faults.md: nodes are named by tag or by role); a shipped study relies on it."""
    scenario = make_scenario(duration="3 s", faults=[{"at": "1 s", "action": "partition", "groups": [["preferred"]]}])
    world = World(scenario)
    world.run()
    preferred = world.node_by_tag["A"].index  # the bootstrap topology's first member
    others = [n.index for n in world.nodes if n.index != preferred]
    assert all(world.network.cut[preferred][o] and world.network.cut[o][preferred] for o in others)
    started = world.recorder.tables()["events"]
    assert (started["kind"] == "partition").sum() == 1


def _silent_or_killed(how: str, timeout: str):
    return run(
        scenario_from_dict(
            {
                "name": "vanish",
                "duration": "120 s",
                "blueprint": "three-node",
                "clients": {"count": 4, "request_timeout": timeout},
                "workload": {"rate": 200},
                "faults": [{"at": "30 s", "action": "crash", "node": "preferred", "how": how, "duration": "60 s"}],
            },
            source="<test>",
        )
    )


def test_a_killed_process_is_failed_over_at_once_a_vanished_machine_only_by_timeout():
    """how: kill, the OS resets the connections: clients fail over within a round trip. how:
    silent, nothing answers: with RavenDB's default (no request timeout, so 12 h) the requests
    sent to it are retransmitted by TCP and wait for the machine's return at 90 s (those whose
    back-off carries them past the run's end are still waiting then); nobody sees an error. With
    a 5 s timeout the clients fail over after 5 s."""
    killed = _silent_or_killed("kill", "12 h").summary()
    assert killed["faults"][0]["rto_s"] < 0.5 and killed["ops"]["unfinished"] <= 5
    silent = _silent_or_killed("silent", "12 h")
    waited = silent.summary()
    assert waited["ops"]["failed_requests"] == 0 and waited["ops"]["stalled"] > 1000
    assert 59.0 <= waited["faults"][0]["rto_s"] <= 62.0 and waited["faults"][0]["affected_clients"] == 4
    assert waited["availability_within_deadline"]["write"] < 0.6
    # Served after the machine came back: each at its sender's next retransmission.
    assert silent.ops.loc[silent.ops["outcome"] == "ok", "latency_ms"].max() > 40_000
    timed_out = _silent_or_killed("silent", "5 s").summary()
    assert 5.0 <= timed_out["faults"][0]["rto_s"] <= 5.5 and timed_out["ops"]["stalled"] == 0


def test_random_failures_can_be_silent(make_scenario):
    scenario = make_scenario(
        duration="10 min",
        faults=[
            {
                "action": "random_failures",
                "time_to_failure": "exponential(2 min)",
                "time_to_repair": "constant(10 s)",
                "silent_share": 1.0,
            }
        ],
    )
    crashed = _faults(run(scenario), "node_crashed")
    assert len(crashed) >= 3 and crashed["detail"].str.contains("silently").all()


def test_a_crash_mode_that_does_not_exist_is_a_clean_error(make_scenario):
    from workbench.errors import WorkbenchInputError

    with pytest.raises(WorkbenchInputError, match="how"):
        make_scenario(faults=[{"at": "1 s", "action": "crash", "node": "A", "how": "quietly"}])

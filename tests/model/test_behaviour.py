"""Behaviour of the replicated database as the spec describes it."""

from __future__ import annotations

import numpy as np
import pytest

from workbench import run
from workbench.analysis.summary import all_succeeded
from workbench.model.assembly.world import World
from workbench.scenario import scenario_from_dict

ONE_MS = "1 ms"


def _docs(instance):
    return {key: (doc.write_id, doc.cv) for key, doc in instance.docs.items()}


def test_members_converge_after_a_partition_heals(make_scenario):
    """Writes land on both sides of a partition (A is cut off and clients fail
    over to B while A is down); after healing and draining, every member holds
    the same version of every document."""
    scenario = make_scenario(
        duration="90 s",
        workload={"rate": 400, "keys": 200, "mix": {"read": 0.5, "write": 0.5}, "stop": "30 s"},
        faults=[
            {"at": "5 s", "action": "partition", "groups": [["A"], ["B", "C"]]},
            {"at": "10 s", "action": "crash", "node": "A"},
            {"at": "12 s", "action": "restart", "node": "A"},
            {"at": "20 s", "action": "heal"},
        ],
    )
    world = World(scenario)
    world.run()
    a, b, c = (_docs(inst) for inst in world.instances)
    assert len(a) > 150
    assert a == b == c, "members still differ after the partition healed and replication drained"
    # Both sides took writes during the partition, so some keys were in conflict.
    assert world.recorder.tables()["events"]["kind"].eq("conflict").any()


def test_every_acknowledged_write_survives_without_conflicts(make_scenario):
    scenario = make_scenario(duration="20 s", workload={"rate": 300, "keys": 100, "stop": "10 s"})
    world = World(scenario)
    world.run()
    ops = world.recorder.tables()["ops"]
    writes = ops[(ops["kind"] == "write") & (ops["outcome"] == "ok")]
    last = writes.sort_values("end_s").groupby("key")["version"].last()
    for inst in world.instances:
        held = {k: d.write_id for k, d in inst.docs.items()}
        assert all(held[k] == v for k, v in last.items())


def test_read_latency_is_never_below_the_client_node_round_trip(make_scenario):
    scenario = make_scenario(
        blueprint={"extends": "three-node", "network": {"same_zone": "1 ms"}},
        workload={"mix": {"read": 0.7, "write": 0.3}},
    )
    ops = run(scenario).ops
    reads = ops[(ops["kind"] == "read") & (ops["outcome"] == "ok")]
    assert len(reads) > 1000
    assert reads["latency_ms"].min() >= 2.0
    # ...and the service time shows on top of it.
    assert reads["latency_ms"].mean() > 2.05


def test_writes_keep_succeeding_with_two_of_three_nodes_down(make_scenario):
    scenario = make_scenario(
        duration="20 s",
        workload={"mix": {"read": 0.5, "write": 0.5}},
        faults=[
            {"at": "5 s", "action": "crash", "node": "A"},
            {"at": "6 s", "action": "crash", "node": "B"},
        ],
    )
    result = run(scenario)
    ops = result.ops
    late = ops[(ops["kind"] == "write") & (ops["start_s"] > 7)]
    assert len(late) > 1000
    assert all_succeeded(late)
    assert set(late["node"].unique()) == {"C"}
    # Writes caught by a crash failed over to a live node instead of failing.
    assert all_succeeded(ops.loc[ops["start_s"].between(4.99, 5.0)])


def _slow_replication(make_scenario, read_balance: str):
    """Nodes 50 ms apart, clients next to every node: replication lags reads."""
    slow = "50 ms"
    links = [{"between": pair, "latency": slow} for pair in (["A", "B"], ["A", "C"], ["B", "C"])]
    return make_scenario(
        duration="20 s",
        blueprint={"extends": "three-node", "network": {"links": links}},
        clients={"read_balance": read_balance},
        workload={"rate": 1000, "keys": 50, "mix": {"read": 0.7, "write": 0.3}},
    )


def test_round_robin_reads_can_be_stale_when_replication_lags(make_scenario):
    ops = run(_slow_replication(make_scenario, "RoundRobin")).ops
    reads = ops[(ops["kind"] == "read") & (ops["outcome"] == "ok")]
    assert reads["stale"].mean() > 0.05
    assert set(reads["node"].unique()) == {"A", "B", "C"}


def test_reads_with_no_balancing_are_never_stale(make_scenario):
    ops = run(_slow_replication(make_scenario, "None")).ops
    reads = ops[(ops["kind"] == "read") & (ops["outcome"] == "ok")]
    assert len(reads) > 5000
    assert not reads["stale"].any()
    assert set(reads["node"].unique()) == {"A"}


def test_replication_lag_is_about_the_network_plus_remote_commit(make_scenario):
    """LAN lag ≈ one-way latency + CPU + fsync on the destination [spec: ~2x ping]."""
    scenario = make_scenario(
        blueprint={
            "extends": "three-node",
            "network": {"same_zone": "5 ms"},
            "hardware": {"fsync": "2 ms", "service": {"write": "0.1 ms"}},
        },
        workload={"rate": 50},
    )
    lag = run(scenario).replication["lag_ms"]
    assert len(lag) > 100
    # one-way 5 ms + CPU 0.1 ms + fsync 2 ms, plus queueing behind one batch in flight
    assert lag.min() >= 7.1 - 1e-9
    assert np.median(lag) < 7.1 + 12


def _relay_world() -> tuple[World, object, object, object]:
    """Three members (A preferred), nothing written by clients, the A-C link cut at 10 s."""
    world = World(
        scenario_from_dict(
            {
                "name": "relay",
                "seed": 1,
                "duration": "120 s",
                "blueprint": {"extends": "three-node", "database": {"members": ["A", "B", "C"]}},
                "workload": {"rate": 1, "mix": {"read": 1.0, "write": 0.0}, "keys": 100},
            },
            source="<test>",
        )
    )
    world.start()
    a, b, c = (world.node_by_tag[t] for t in "ABC")
    world.env.run(until=10)
    world.network.set_layer("a-c", {(a.index, c.index), (c.index, a.index)})
    return world, a, b, c


def test_a_relayed_version_leaves_at_the_relays_next_keep_alive():
    """[spec §3.1] Ripple prevention, as RavenDB's outgoing handler does it: a version B got by
    replication does not wake B's channel to C (``OnChangeInternal`` ignores changes made by
    incoming replication); it leaves after the channel's next keep-alive, once the heartbeat's
    answer shows that C lacks it."""
    world, a, b, c = _relay_world()
    to_c = next(ch for ch in b.instances[0].channels if ch.dst == c.index)
    world.env.run(until=12)
    a.instances[0].commit_local(7, 100.0, 900001)
    world.env.run(until=12.1)
    assert 7 in b.instances[0].docs and 7 not in c.instances[0].docs and to_c.waiting
    due = to_c.last_contact + world.replication.heartbeat_interval
    assert 12.1 < due <= 12 + world.replication.heartbeat_interval
    world.env.run(until=due - 0.001)
    assert 7 not in c.instances[0].docs
    world.env.run(until=due + 0.05)  # the heartbeat's round trip, then the batch with its commit
    assert c.instances[0].docs[7].write_id == 900001


def test_a_relayed_version_rides_along_with_the_relays_own_write():
    """The relay's next local change wakes its channel, and the batch carries everything C's
    vector does not cover, the relayed version included (``ExecuteReplicationOnce``)."""
    world, a, b, c = _relay_world()
    world.env.run(until=12)
    a.instances[0].commit_local(7, 100.0, 900001)
    world.env.run(until=13)
    assert 7 not in c.instances[0].docs
    b.instances[0].commit_local(8, 100.0, 900002)
    world.env.run(until=13.05)
    assert c.instances[0].docs[7].write_id == 900001 and c.instances[0].docs[8].write_id == 900002


def test_replication_catches_up_after_a_node_returns(make_scenario):
    scenario = make_scenario(
        duration="60 s",
        workload={"rate": 300, "mix": {"read": 0.5, "write": 0.5}, "stop": "25 s"},
        faults=[
            {"at": "5 s", "action": "crash", "node": "B"},
            {"at": "15 s", "action": "restart", "node": "B"},
        ],
    )
    world = World(scenario)
    world.run()
    result_events = world.recorder.tables()["events"]
    assert {"node_crashed", "node_restarted", "replication_disconnected", "replication_connected"} <= set(
        result_events["kind"]
    )
    a, b, c = (_docs(inst) for inst in world.instances)
    assert a == b == c


def test_reconnect_backoff_follows_the_spec(make_scenario):
    """Reconnects back off 1 s, 2 s, 4 s, ... so a node down for 10 s is
    reached again by the first attempt after it returns (at 1+2+4+8 = 15 s)."""
    scenario = make_scenario(
        duration="30 s",
        faults=[
            {"at": "5 s", "action": "crash", "node": "B"},
            {"at": "15 s", "action": "restart", "node": "B"},
        ],
    )
    events = run(scenario).events
    connected = events[(events["kind"] == "replication_connected") & (events["detail"] == "A->B")]
    assert len(connected) == 1
    assert 20.0 <= connected["time_s"].iloc[0] < 20.1


def test_a_crash_loses_in_flight_requests_but_not_committed_documents(make_scenario):
    scenario = make_scenario(
        duration="20 s",
        workload={"mix": {"read": 0.0, "write": 1.0}, "rate": 400},
        faults=[{"at": "5 s", "action": "crash", "node": "A"}],
    )
    world = World(scenario)
    world.run()
    ops = world.recorder.tables()["ops"]
    acked_on_a = ops[(ops["node"] == "A") & (ops["outcome"] == "ok")]
    a = world.instances[world.members.index("A")]
    # Every write A acknowledged before the crash is still in A's durable log.
    stored = {doc.write_id for doc in a.log}
    assert len(acked_on_a) > 500
    assert set(acked_on_a["version"]) <= stored
    retried = ops[ops["attempts"] > 1]
    assert len(retried) > 0 and all_succeeded(retried)


def test_packet_loss_costs_tcp_retransmission_timeouts(make_scenario):
    """Loss p on each of the request and the response: a read is delayed by at least one
    RTO (200 ms) with probability 1 - (1 - p)^2 = 0.19 for p = 0.1."""
    ops = run(
        make_scenario(
            blueprint={"extends": "three-node", "network": {"loss": 0.1}},
            clients={"request_timeout": "12 h"},
            workload={"mix": {"read": 1.0, "write": 0.0}},
        )
    ).ops
    assert all_succeeded(ops)
    ops = ops[ops["outcome"] == "ok"]  # the few still in flight at the end have no latency yet
    # Reads issued while the clients fetched their first topology (itself slowed by losses)
    # waited for part of it: leave the first seconds out.
    ops = ops[ops["start_s"] > 2.0]
    delayed = (ops["latency_ms"] >= 200).mean()
    # 5000 reads: the standard error of the fraction is about 0.006.
    assert abs(delayed - 0.19) < 0.03
    assert ((ops["latency_ms"] > 5) & (ops["latency_ms"] < 200)).sum() == 0


def test_an_operation_that_finds_every_node_down_ends_all_nodes_down(make_scenario):
    result = run(
        make_scenario(
            duration="10 s",
            faults=[{"at": "5 s", "action": "crash", "node": n} for n in ("A", "B", "C")],
        )
    )
    late = result.ops[result.ops["start_s"] > 5.1]
    assert len(late) > 1000 and (late["outcome"] == "all_nodes_down").all()
    assert result.summary()["ops"]["all_nodes_down"] >= len(late)


def test_session_context_sticks_each_context_to_one_node_for_reads_and_writes(make_scenario):
    ops = run(
        make_scenario(
            clients={"count": 1, "load_balance": "UseSessionContext", "session_contexts": 12},
            workload={"session_length": 5},
        )
    ).ops
    # All operations of a session go to one node, writes included, and every member gets some.
    per_session = ops.groupby("session")["node"].nunique()
    assert (per_session == 1).all()
    writes = ops[ops["kind"] == "write"]
    assert set(writes["node"]) == {"A", "B", "C"}


def test_read_your_writes_is_violated_only_when_reads_leave_the_writer(make_scenario):
    """[spec §4.2] With RoundRobin a session reads from node session % 3 but writes to the
    preferred node, so with slow replication it may miss its own write; with None it never does."""

    def ryw(read_balance):
        links = [{"between": pair, "latency": "50 ms"} for pair in (["A", "B"], ["A", "C"], ["B", "C"])]
        ops = run(
            make_scenario(
                duration="20 s",
                blueprint={"extends": "three-node", "network": {"links": links}},
                clients={"read_balance": read_balance},
                workload={"rate": 1000, "keys": 20, "mix": {"read": 0.6, "write": 0.4}, "session_length": 30},
            )
        ).ops
        reads = ops[(ops["kind"] == "read") & (ops["outcome"] == "ok")]
        return reads["ryw_violation"].mean(), reads

    violations, reads = ryw("RoundRobin")
    assert violations > 0.01
    # A read-your-writes violation is also a stale read.
    assert not (reads["ryw_violation"] & ~reads["stale"]).any()
    assert ryw("None")[0] == 0


def test_region_pair_latencies_apply_to_every_endpoint_in_those_regions():
    scenario = scenario_from_dict(
        {
            "name": "regions",
            "blueprint": {
                "name": "three-regions",
                "datacenters": [
                    {"name": "nv", "region": "us-east-1"},
                    {"name": "oh", "region": "us-east-2"},
                    {"name": "ca", "region": "us-west-1"},
                ],
                "nodes": [
                    {"tag": "A", "datacenter": "nv"},
                    {"tag": "B", "datacenter": "oh"},
                    {"tag": "C", "datacenter": "ca"},
                ],
                "network": {
                    "cross_region": "99 ms",
                    "regions": [{"between": ["us-east-1", "us-east-2"], "latency": "15 ms"}],
                    "links": [{"between": ["B", "C"], "latency": "26 ms"}],
                },
            },
            "clients": {"placement": [{"datacenter": "oh", "count": 1}]},
        },
        source="<test>",
    )
    world = World(scenario)
    lat = world.network._latency
    a, b, c, client = 0, 1, 2, 3
    assert lat[a][b]() == lat[b][a]() == 0.015
    assert lat[client][a]() == 0.015  # clients in those regions too
    assert lat[b][c]() == pytest.approx(0.026)  # a node-pair link wins over its regions
    assert lat[a][c]() == lat[client][c]() == 0.099  # other pairs keep cross_region

"""TCP under the model's connections (workbench/model/kernel/network.py): what crosses a cut link,
when a sender gives up, and what clients and replication see. Figures are Linux defaults."""

from __future__ import annotations

import pytest

from workbench.experiment import run
from workbench.model.kernel.network import linux_retry_timeout, retransmissions
from workbench.scenario import scenario_from_dict


def test_linux_give_up_times() -> None:
    # tcp_retries2 = 15 from TCP_RTO_MIN: 1023 x 200 ms + 6 x 120 s (net/ipv4/tcp_timer.c).
    assert linux_retry_timeout(15, 0.2, 120.0) == pytest.approx(924.6)
    # tcp_syn_retries = 6 from the 1 s initial SYN timeout: 1 + 2 + ... + 64 s.
    assert linux_retry_timeout(6, 1.0, 120.0) == pytest.approx(127.0)
    assert linux_retry_timeout(3, 0.2, 120.0) == pytest.approx(3.0)


def test_retransmissions_double_up_to_the_cap() -> None:
    offsets = retransmissions(1.0, 8.0)
    assert [next(offsets) for _ in range(6)] == [1.0, 3.0, 7.0, 15.0, 23.0, 31.0]


def _scenario(**changes) -> dict:
    spec = {
        "name": "tcp",
        "seed": 5,
        "duration": "60 s",
        "blueprint": {"extends": "three-node", "database": {"members": ["A", "B", "C"]}},
        "clients": {"count": 1},
        "workload": {"rate": 20, "mix": {"read": 0.5, "write": 0.5}, "keys": 100},
    }
    spec.update(changes)
    return spec


def test_a_request_across_a_partition_arrives_after_the_heal() -> None:
    """Cut for 10 s: the requests wait in retransmission and are served after the heal,
    none fails; the first one sent waits for its first retransmission after the heal."""
    result = run(
        scenario_from_dict(
            _scenario(
                faults=[
                    {"at": "20 s", "action": "partition", "groups": [["A"], ["B", "C", "client1"]], "duration": "10 s"}
                ]
            ),
            source="<test>",
        )
    )
    ops = result.ops
    assert (ops["outcome"] == "ok").all() and (ops["attempts"] == 1).all()
    waited = ops[(ops["start_s"] > 20.0) & (ops["start_s"] < 30.0)].sort_values("start_s")
    assert len(waited) > 100
    # Sent at 20 s + d with RTO 0.2 s + RTT: retransmitted at 6.2 s and 12.6 s after: the
    # 10 s cut is over by the sixth retransmission (offset 63 x RTO = 12.6 s).
    first = waited.iloc[0]
    assert first["latency_ms"] / 1e3 == pytest.approx(63 * 0.2002, abs=0.05)
    assert waited["end_s"].min() >= 30.0
    assert result.provenance["network"]["segments_stalled"] >= len(waited)


def test_a_datagram_across_a_partition_is_lost() -> None:
    """Health checks and observer polls are not retransmitted: a cut loses them."""
    from workbench.model.assembly.world import World

    world = World(scenario_from_dict(_scenario(duration="1 s"), source="<test>"))
    net = world.network
    got: list[int] = []
    net.partition([[0], [1, 2]])
    assert net.send(0, 1, 100.0, got.append, 1) is False
    world.env.run(until=0.5)
    net.heal()
    world.env.run(until=0.9)
    assert got == []


def test_a_vanished_machine_breaks_the_connection_after_tcp_retries2_then_syns_time_out() -> None:
    """The client's only connection is to A. A vanishes for good (no reset), a partition cuts
    the client off from B and C: the request sent to A is retransmitted until tcp_retries2 runs
    out (924.6 s), then the client fails over, and each new connection (to B, then C) fails after
    the SYN retries (127 s): AllTopologyNodesDown about 1,188 s after it was sent."""
    spec = _scenario(
        duration="25 min",
        workload={"rate": 0.05, "mix": {"read": 1.0, "write": 0.0}, "keys": 10},
        faults=[
            {"at": "40 s", "action": "crash", "node": "A", "how": "silent"},
            {"at": "40 s", "action": "partition", "groups": [["client1"], ["A", "B", "C"]]},
        ],
    )
    spec["workload"]["arrivals"] = {"kind": "constant"}
    # No topology poll: its fetch at 10 min would time out and take A's connection down with it.
    spec["clients"]["topology_poll"] = "1 h"
    result = run(scenario_from_dict(spec, source="<test>"))
    ops = result.ops
    first = ops[ops["start_s"] > 40.0].sort_values("start_s").iloc[0]
    assert first["outcome"] == "all_nodes_down" and first["attempts"] == 3
    # Broken at the first retransmission past 924.6 s after sending (RTO 0.2002 s, capped at 120 s).
    rto = 0.2 + 2 * 0.000108
    offsets = retransmissions(rto, 120.0)
    broken = next(o for o in offsets if o >= 924.6 - 1e-9)
    assert first["latency_ms"] / 1e3 == pytest.approx(broken + 127.0 + 127.0, abs=0.1)


def test_replication_rides_out_a_short_partition_without_reconnecting() -> None:
    """A 5 s cut is shorter than replication's 15 s read timeout: the batch in flight is
    retransmitted and acknowledged after the heal; the connection never drops."""
    result = run(
        scenario_from_dict(
            _scenario(
                workload={"rate": 50, "mix": {"read": 0.2, "write": 0.8}, "keys": 100},
                faults=[
                    {"at": "20 s", "action": "partition", "groups": [["A", "client1"], ["B", "C"]], "duration": "5 s"}
                ],
            ),
            source="<test>",
        )
    )
    kinds = set(result.events["kind"])
    assert "replication_disconnected" not in kinds
    lag = result.replication
    late = lag[(lag["committed_s"] > 20.0) & (lag["committed_s"] < 25.0)]
    assert len(late) > 50 and late["lag_ms"].max() > 5_000


def test_link_state_grows_with_nodes_times_endpoints_not_endpoints_squared() -> None:
    """Every conversation has a node at one end, so a client's rows span only the nodes: 10,000
    clients took gigabytes (and a hundred thousand, the schema's limit, more than a machine has)
    when each of six link matrices was endpoints x endpoints. Found by ``make fuzz``."""
    from workbench.model.assembly.world import World

    world = World(scenario_from_dict(_scenario(duration="1 s", clients={"count": 4000}), source="<test>"))
    net = world.network
    nodes, endpoints = 3, 3 + 4000
    assert [len(row) for row in net.cut[:nodes]] == [endpoints] * nodes
    assert {len(row) for row in net.cut[nodes:]} == {nodes}
    assert sum(len(row) for row in net.bytes_sent) == nodes * endpoints + 4000 * nodes
    # A partition with clients on both sides cuts what crosses it, and only that.
    client1, client2 = nodes, nodes + 1
    net.partition([[0, client1], [1, 2, client2]])
    assert net.reachable(client1, 0) and net.reachable(0, client1) and not net.reachable(client1, 1)
    assert net.reachable(client2, 1) and not net.reachable(client2, 0) and not net.reachable(2, client1)
    net.heal()
    assert net.reachable(client1, 1)


def test_a_run_with_clients_on_both_sides_of_a_partition() -> None:
    faults = [
        {"at": "1 s", "action": "partition", "groups": [["A", "client1"], ["B", "C", "client2"]], "duration": "1 s"},
    ]
    result = run(scenario_from_dict(_scenario(duration="4 s", clients={"count": 3}, faults=faults), source="<test>"))
    assert result.ok and len(result.ops) == result.provenance["ops_issued"]

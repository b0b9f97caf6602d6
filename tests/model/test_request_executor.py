"""The client's topology as RavenDB's RequestExecutor keeps it (workbench/model/clients/client.py):
the first topology from the URL list, refreshes that cost a round trip, the idle poll, the
disk cache, and an application restart."""

from __future__ import annotations

import pytest

from workbench.experiment import run
from workbench.model.assembly.world import World
from workbench.scenario import scenario_from_dict


def _spec(**changes) -> dict:
    spec = {
        "name": "executor",
        "seed": 3,
        "duration": "30 s",
        "blueprint": {"extends": "three-node", "database": {"members": ["A", "B", "C"]}},
        "clients": {"count": 1},
        "workload": {"rate": 20, "keys": 100},
    }
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return spec


def test_the_first_operations_wait_for_the_first_topology_from_the_url_list() -> None:
    """The URL list starts with C, which vanished at the start: its GetDatabaseTopologyCommand
    times out after 15 s, then A answers. Operations issued meanwhile wait and then succeed."""
    result = run(
        scenario_from_dict(
            _spec(
                clients={"urls": ["C", "A"]},
                faults=[{"at": "0 s", "action": "crash", "node": "C", "how": "silent"}],
            ),
            source="<test>",
        )
    )
    ops = result.ops.sort_values("start_s")
    assert (ops["outcome"] == "ok").all()
    first = ops.iloc[0]
    assert first["end_s"] == pytest.approx(15.0, abs=0.01)
    assert (ops.loc[ops["start_s"] < 15.0, "end_s"] >= 15.0).all()
    assert ops.loc[ops["start_s"] > 15.1, "latency_ms"].max() < 5.0


def test_with_no_listed_node_and_no_cache_the_waiting_operations_fail() -> None:
    result = run(
        scenario_from_dict(
            _spec(
                duration="20 s",
                clients={"urls": ["C"]},
                faults=[{"at": "0 s", "action": "crash", "node": "C"}],
            ),
            source="<test>",
        )
    )
    ops = result.ops
    assert len(ops) > 100 and (ops["outcome"] == "all_nodes_down").all()
    said = result.events[result.events["kind"] == "client_topology"]["detail"]
    assert said.str.contains("no cached topology").all() and len(said) == 1  # once, though each op tries again
    assert (ops["end_s"] - ops["start_s"]).max() < 0.01  # each new operation's try is refused at once


@pytest.mark.parametrize("cache", [True, False])
def test_a_client_restarting_while_its_seed_node_is_down_needs_the_topology_cache(cache: bool) -> None:
    """The client knows only C. It restarts at 10 s while C is down (until 20 s): with the
    topology cache it reads the topology it saw before and carries on with A and B; without,
    every operation fails until C is back."""
    result = run(
        scenario_from_dict(
            _spec(
                clients={"urls": ["C"], "topology_cache": cache},
                faults=[
                    {"at": "9 s", "action": "crash", "node": "C", "duration": "11 s"},
                    {"at": "10 s", "action": "client_restart", "client": "client1", "downtime": "1 s"},
                ],
            ),
            source="<test>",
        )
    )
    ops, events = result.ops, result.events
    assert (events["kind"] == "client_restarted").sum() == 1
    between = ops[(ops["start_s"] > 11.0) & (ops["start_s"] < 20.0)]
    assert len(between) > 100
    if cache:
        assert (between["outcome"] == "ok").all() and set(between["node"]) <= {"A", "B"}
        assert events["detail"].str.contains("topology from the cache").any()
    else:
        assert (between["outcome"] == "all_nodes_down").all()
    later = ops[ops["start_s"] > 21.0]
    assert (later["outcome"] == "ok").all()


def test_a_restart_loses_what_the_application_was_waiting_for() -> None:
    """Requests in flight when the application restarts end ``failed``; none vanishes."""
    spec = _spec(
        clients={"request_timeout": "12 h"},
        faults=[
            {"at": "5 s", "action": "partition", "groups": [["A"], ["B", "C", "client1"]], "duration": "20 s"},
            {"at": "10 s", "action": "client_restart", "client": "all"},
        ],
    )
    result = run(scenario_from_dict(spec, source="<test>"))
    ops = result.ops
    assert len(ops) == result.provenance["ops_issued"]
    lost = ops[ops["outcome"] == "failed"]
    # Everything sent to A in 5-10 s was waiting in TCP retransmission.
    assert len(lost) > 50 and (lost["end_s"] == 10.0).all() and set(lost["node"]) == {"A"}
    restarted = result.events[result.events["kind"] == "client_restarted"]
    assert restarted["value"].iloc[0] == len(lost)


def test_news_of_a_new_topology_costs_the_answering_request_a_round_trip() -> None:
    """Every link 5 ms one way. A move_to_end at 10 s changes the topology: the first answer
    after it carries the news, and that operation returns only after the client fetched the
    new topology from the same node (one more round trip)."""
    spec = _spec(
        blueprint={"network": {"same_zone": "constant(5 ms)"}},
        workload={"rate": 20, "keys": 100, "mix": {"read": 1.0, "write": 0.0}},
        faults=[{"at": "10 s", "action": "move_to_end", "node": "A"}],
    )
    world = World(scenario_from_dict(spec, source="<test>"))
    world.run()
    ops = world.recorder.tables()["ops"].sort_values("start_s")
    steady = ops[(ops["start_s"] > 1.0) & (ops["start_s"] < 9.0)]["latency_ms"]
    assert steady.max() < 12.0  # one round trip and a read
    slow = ops[(ops["start_s"] > 9.0) & (ops["latency_ms"] > 19.0)]
    # The change lands as a few topology commands in a row: each news costs one answer a fetch.
    assert 1 <= len(slow) <= 3 and slow["latency_ms"].max() < 25.0  # two round trips
    assert ops[ops["start_s"] > 11.0]["latency_ms"].max() < 12.0
    client = world.clients[0]
    assert client.topology_etag == world.cluster.leader().state_machine.databases[world.db_name].etag
    assert world.nodes[client.topology[0]].tag == "B"


def test_an_idle_client_polls_the_topology_every_five_minutes() -> None:
    """No operations after 10 s; the topology changes at 20 s. The poll at 5 min finds the
    last response too recent (under 5 min), the one at 10 min fetches."""
    spec = _spec(
        duration="11 min",
        workload={"rate": 20, "keys": 100, "stop": "10 s"},
        faults=[{"at": "20 s", "action": "move_to_end", "node": "A"}],
    )
    world = World(scenario_from_dict(spec, source="<test>"))
    client = world.clients[0]
    world.start()
    world.env.run(until=599.0)
    before = client.topology_etag
    world.env.run(until=601.0)
    current = world.cluster.leader().state_machine.databases[world.db_name].etag
    assert before < current and client.topology_etag == current

"""Write assurance: WaitForReplicationAfterSaveChanges [spec §3.6, §8.6]."""

from __future__ import annotations

from workbench import run
from workbench.analysis.summary import all_succeeded
from workbench.model.assembly.world import World

LAN = {"extends": "three-node", "database": {"members": ["A", "B", "C"]}, "hardware": {"fsync": "1 ms"}}


def _writes(result):
    ops = result.ops
    return ops[ops["kind"] == "write"]


def test_assured_writes_wait_for_a_replica(make_scenario):
    plain = _writes(run(make_scenario(blueprint=LAN)))
    assured = _writes(run(make_scenario(blueprint=LAN, clients={"write_assurance": {"replicas": 1}})))
    assert all_succeeded(assured)
    # At least one more hop to a replica and its fsync (1 ms) before the answer.
    assert assured["latency_ms"].median() >= plain["latency_ms"].median() + 1.0
    assert assured["latency_ms"].min() >= 2.0


def test_majority_of_a_three_node_group_is_two_replicas(make_scenario):
    one = _writes(run(make_scenario(blueprint=LAN, clients={"write_assurance": {"replicas": 1}})))
    majority = _writes(run(make_scenario(blueprint=LAN, clients={"write_assurance": {"replicas": "majority"}})))
    assert all_succeeded(majority)
    # Waiting for the slower of two replicas takes longer than for the faster one.
    assert majority["latency_ms"].mean() > one["latency_ms"].mean()


def test_with_a_replica_down_assured_writes_time_out_but_are_stored(make_scenario):
    """The book's experiment [spec §8.6]: a write asks for 2 replicas with one down;
    it is stored, and the client gets an error after 15 s."""
    scenario = make_scenario(
        duration="40 s",
        blueprint=LAN,
        clients={"request_timeout": "12 h", "write_assurance": {"replicas": 2}},
        workload={"rate": 50, "mix": {"read": 0.5, "write": 0.5}, "stop": "20 s"},
        faults=[{"at": "5 s", "action": "crash", "node": "C"}],
    )
    world = World(scenario)
    world.run()
    ops = world.recorder.tables()["ops"]
    late = ops[(ops["kind"] == "write") & (ops["start_s"] > 6)]
    assert len(late) > 100
    assert (late["outcome"] == "timeout").all()
    assert late["latency_ms"].between(15_000, 15_010).all()
    stored = {doc.write_id for doc in world.nodes[0].instances[0].log}
    assert set(late["version"]) <= stored


def test_without_throw_the_write_succeeds_silently_after_the_timeout(make_scenario):
    result = run(
        make_scenario(
            duration="30 s",
            blueprint=LAN,
            clients={
                "request_timeout": "12 h",
                "write_assurance": {"replicas": 2, "timeout": "2 s", "throw_on_timeout": False},
            },
            workload={"rate": 50, "stop": "20 s"},
            faults=[{"at": "5 s", "action": "crash", "node": "C"}],
        )
    )
    late = _writes(result)
    late = late[late["start_s"] > 6]
    assert all_succeeded(late)
    assert late["latency_ms"].between(2_000, 2_010).all()


def test_the_books_case_a_down_write_on_b_for_one_replica(make_scenario):
    """[spec §8.6] Node A is down; a write to B asks for 1 replica: stored on B, timeout after 15 s."""
    scenario = make_scenario(
        duration="40 s",
        blueprint={"extends": "two-node", "database": {"members": ["A", "B"]}},
        clients={"request_timeout": "12 h", "write_assurance": {"replicas": 1}},
        workload={"rate": 20, "mix": {"read": 0.0, "write": 1.0}, "stop": "20 s"},
        faults=[{"at": "5 s", "action": "crash", "node": "A"}],
    )
    world = World(scenario)
    world.run()
    ops = world.recorder.tables()["ops"]
    late = ops[ops["start_s"] > 5.1]
    assert len(late) > 100 and set(late["node"]) == {"B"}
    assert (late["outcome"] == "timeout").all()
    assert late["latency_ms"].between(15_000, 15_010).all()
    assert set(late["version"]) <= {doc.write_id for doc in world.nodes[1].instances[0].log}


def test_majority_on_a_two_node_group_can_never_be_met(make_scenario):
    """RavenDB's formula, (siblings + 1) / 2 + 1 other nodes (ReplicationLoader.GetSizeOfMajority):
    2 for the single sibling of a two-node group. Every assured write is stored and ends in the
    timeout's error."""
    scenario = make_scenario(
        duration="20 s",
        blueprint={"extends": "two-node", "database": {"members": ["A", "B"]}, "hardware": {"fsync": "1 ms"}},
        workload={"rate": 50, "mix": {"read": 0.0, "write": 1.0}, "stop": "10 s"},
        clients={"request_timeout": "12 h", "write_assurance": {"replicas": "majority", "timeout": "2 s"}},
    )
    world = World(scenario)
    world.run()
    world.finish()
    writes = _writes_of(world)
    assert len(writes) > 100 and (writes["outcome"] == "timeout").all()
    assert (writes["latency_ms"] >= 2000).all()
    keys = set(writes["key"])
    assert all(keys <= set(node.instances[0].docs) for node in world.nodes)  # stored everywhere all the same


def _writes_of(world: World):
    ops = world.recorder.tables()["ops"]
    return ops[ops["kind"] == "write"]

"""The RequestExecutor's answers to 410 Gone and 503 [spec §4.3], and health checks that
need the database."""

from __future__ import annotations

from workbench.analysis.summary import all_succeeded
from workbench.model.assembly.world import World


def _world(make_scenario, read_balance: str = "None", **workload):
    # The database lives on A and B only; C is a cluster node without a copy.
    scenario = make_scenario(
        duration="3 s",
        blueprint={"database": {"members": ["A", "B"], "replication_factor": 2}},
        clients={"count": 1, "read_balance": read_balance},
        workload={"rate": 20, **workload},
    )
    world = World(scenario)
    world.start()
    return world


def _know(world, client, nodes: list[int], members: int | None = None) -> None:
    """Give the client a topology of its own, as if it had fetched it (no bootstrap)."""
    client.topology, client.members_count = nodes, len(nodes) if members is None else members
    client.failures = dict.fromkeys(nodes, 0)
    client.topology_etag = world.cluster.nodes[0].state_machine.databases[world.db_name].etag
    client.ready = True


def test_410_on_every_known_node_forces_a_topology_update_and_one_retry(make_scenario):
    """A client that only knows C (stale) gets 410, asks C for the topology, and retries on A."""
    world = _world(make_scenario)
    client = world.clients[0]
    c = world.node_by_tag["C"].index
    _know(world, client, [c])
    world.env.run(until=3.0)
    world.finish()
    ops = world.recorder.tables()["ops"].sort_values("start_s")
    first = ops.iloc[0]
    assert first["outcome"] == "ok" and first["node"] == "A" and first["attempts"] == 2
    # C answered 410, then the topology, then A served it: three round trips on one LAN.
    assert first["latency_ms"] > ops.iloc[1:]["latency_ms"].median()
    assert [world.nodes[n].tag for n in client.topology] == ["A", "B"]
    assert all_succeeded(ops)


def test_a_node_without_the_database_stays_failed_because_its_health_check_fails(make_scenario):
    """With RoundRobin, sessions mapped to C get 410 once and fail over; C never
    passes a health check (the check reads the database), so it stays out."""
    world = _world(make_scenario, read_balance="RoundRobin", mix={"read": 1.0, "write": 0.0})
    client = world.clients[0]
    c = world.node_by_tag["C"].index
    _know(world, client, [world.node_by_tag[t].index for t in "ABC"])
    world.env.run(until=3.0)
    ops = world.recorder.tables()["ops"]
    assert all_succeeded(ops) and "C" not in set(ops["node"])
    assert client.failures[c] > 0 and c in client.checking
    assert (ops["attempts"] > 1).sum() == 1  # only the first session mapped to C paid for it


def test_a_new_replica_without_data_answers_503_until_its_mentor_seeded_it(make_scenario):
    """B starts as a fresh copy: 503 and failover to A until A's snapshot arrives, then a
    health check passes and B (first in this client's list) serves again."""
    world = _world(make_scenario)
    b = world.node_by_tag["B"]
    b.instances[0].seeded = False  # as a freshly added copy waiting for its mentor's snapshot
    client = world.clients[0]
    _know(world, client, [b.index, world.node_by_tag["A"].index])
    world.env.run(until=3.0)
    ops = world.recorder.tables()["ops"].sort_values("start_s")
    assert all_succeeded(ops)
    first = ops.iloc[0]
    assert first["node"] == "A" and first["attempts"] == 2
    seeded_at = world.recorder.tables()["events"].query("kind == 'seeding_done'")["time_s"].iloc[0]
    assert (ops.loc[ops["start_s"] < seeded_at, "node"] == "A").all()
    assert (ops.loc[ops["start_s"] > seeded_at + 0.5, "node"] == "B").all()

"""A cluster of several databases (issue 23, item 1): each database has its own group, placement,
replication, observer supervision, tasks and share of the load, and every table names it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from workbench import run
from workbench.analysis.databases import database_table
from workbench.errors import WorkbenchInputError
from workbench.model.assembly.world import World, place_databases
from workbench.model.kernel.kernel import Streams
from workbench.scenario import scenario_from_dict
from workbench.scenario.schema import DatabasePopulation


def _scenario(databases: Any = None, population: Any = None, **changes: Any):
    blueprint: dict[str, Any] = {"extends": "five-node"}
    if databases is not None:
        blueprint["databases"] = databases
    if population is not None:
        blueprint["database_population"] = population
    data: dict[str, Any] = {
        "name": "dbs",
        "seed": 5,
        "duration": "20 s",
        "blueprint": blueprint,
        "clients": {"count": 4, "read_balance": "RoundRobin"},
        "workload": {"rate": 400, "keys": 1000, "mix": {"read": 0.6, "write": 0.4}},
    }
    data.update(changes)
    return scenario_from_dict(data, source="<test>")


MIXED = [
    {"name": "orders", "replication_factor": 3, "members": ["A", "B", "C"], "load": 3},
    {"name": "carts", "replication_factor": 2, "members": ["A", "B"], "load": 2},
    {"name": "users", "replication_factor": 3, "members": ["C", "D", "E"], "load": 1},
]


def test_each_database_has_its_own_group_on_its_own_members():
    world = World(_scenario(MIXED))
    assert [g.name for g in world.databases.groups] == ["orders", "carts", "users"]
    for group, spec in zip(world.databases.groups, MIXED, strict=True):
        holders = sorted(n.tag for n in world.nodes if n.instances[group.db] is not None)
        assert holders == sorted(spec["members"])
        assert all(inst.name == spec["name"] and inst.db == group.db for inst in group.instances)
    # One topology record per database in Rachis.
    records = world.cluster.nodes[0].state_machine.databases
    assert {name: len(topo.members) for name, topo in records.items()} == {"orders": 3, "carts": 2, "users": 3}
    # The first database is the one faults address.
    assert world.group.name == "orders" and world.scenario.blueprint.database.name == "orders"


def test_sessions_spread_over_databases_by_load_and_every_table_names_the_database():
    result = run(_scenario(MIXED))
    ops = result.ops
    share = ops["database"].astype(str).value_counts(normalize=True)
    # Loads 3 : 2 : 1 by session (sessions of 16 operations, about 8,000 operations).
    assert share["orders"] == pytest.approx(3 / 6, abs=0.05)
    assert share["carts"] == pytest.approx(2 / 6, abs=0.05)
    assert share["users"] == pytest.approx(1 / 6, abs=0.05)
    assert (ops["outcome"] == "ok").all()
    # A database's writes reach only its own members.
    repl = result.replication
    for spec in MIXED:
        mine = repl[repl["database"] == spec["name"]]
        assert len(mine) > 100
        assert set(mine["destination"].astype(str)) <= set(spec["members"])
        assert set(mine["origin"].astype(str)) <= set(spec["members"])
    # Write ids are unique across the databases.
    writes = ops[ops["kind"] == "write"]
    assert writes["version"].is_unique
    created = result.events[result.events["kind"] == "database_created"]
    assert list(created["database"]) == ["orders", "carts", "users"]


def test_two_nodes_lost_takes_down_only_the_databases_that_had_all_their_copies_there():
    """The book's mixed layout: A and B die; carts (RF 2 on A and B) is gone, the others keep
    serving from their surviving copies, and each database's copies on A and B go to rehab."""
    scenario = _scenario(
        MIXED,
        duration="140 s",
        faults=[{"at": "20 s", "action": "crash", "node": "A"}, {"at": "20 s", "action": "crash", "node": "B"}],
    )
    result = run(scenario)
    table = database_table(result).set_index("database")
    assert table.loc["carts", "availability_at_end"] == 0
    assert table.loc["orders", "availability_at_end"] == 1 and table.loc["users", "availability_at_end"] == 1
    assert table.loc["users", "availability"] == 1  # never touched by the fault
    summary = result.summary()
    assert summary["databases"]["down_at_end"] == ["carts"]
    assert summary["databases"]["by_replication_factor"] == {"2": 1, "3": 2}
    from workbench.report.text import format_summary

    assert "not served at the end: carts" in format_summary(summary)
    from workbench.charts import database_availability_data

    chart = database_availability_data(result)
    at_end = chart[chart["measure"] == "at the end"].set_index("database")["value"]
    assert at_end["carts"] == 0 and at_end["users"] == 1
    rehab = result.events[result.events["kind"] == "moved_to_rehab"]
    moved = {(db, detail.split()[0]) for db, detail in zip(rehab["database"], rehab["detail"], strict=True)}
    assert moved == {("orders", "A"), ("orders", "B"), ("carts", "A"), ("carts", "B")}


def test_a_database_smaller_than_the_workload_keeps_its_keys_in_range():
    dbs = [{"name": "big", "replication_factor": 3}, {"name": "small", "replication_factor": 2, "keys": 50}]
    result = run(_scenario(dbs))
    ops = result.ops
    small = ops[ops["database"] == "small"]
    assert len(small) > 100 and small["key"].max() < 50
    assert ops.loc[ops["database"] == "big", "key"].max() >= 50


def test_placement_is_a_random_rotation_of_members_and_watchers_whatever_each_node_hosts():
    """ServerStore.AssignNodesToDatabase: RF consecutive nodes from a random offset, among the
    cluster's members and watchers (a promotable is not a candidate)."""
    scenario = _scenario(population={"count": 60, "replication_factor": 3})
    placed = place_databases(scenario, Streams(scenario.seed))
    tags = ["A", "B", "C", "D", "E"]
    for members in placed:
        start = tags.index(members[0])
        assert members == [tags[(start + i) % 5] for i in range(3)]
    assert len({m[0] for m in placed}) == 5  # every offset is drawn
    assert place_databases(scenario, Streams(scenario.seed)) == placed  # same seed, same placement
    watchers = _scenario(
        population={"count": 30, "replication_factor": 2},
        blueprint={
            "extends": "five-node",
            "nodes": [
                {"tag": "A", "datacenter": "dc1"},
                {"tag": "B", "datacenter": "dc1"},
                {"tag": "C", "datacenter": "dc1", "role": "promotable"},
            ],
            "database_population": {"count": 30, "replication_factor": 2},
        },
    )
    for members in place_databases(watchers, Streams(1)):
        assert "C" not in members


def test_a_population_has_the_mix_it_asks_for_and_is_the_same_every_time():
    pop = DatabasePopulation(count=101, replication_factor={2: 0.3, 3: 0.7}, load="zipf", keys=1000, keys_sigma=1.0)
    dbs = pop.expand()
    assert [d.name for d in dbs[:2]] == ["db-0001", "db-0002"] and len(dbs) == 101
    rfs = [d.replication_factor for d in dbs]
    assert rfs.count(2) == 30 and rfs.count(3) == 71  # largest remainder: 30.3 -> 30, 70.7 -> 71
    loads = [d.load for d in dbs]
    assert loads == sorted(loads, reverse=True) and loads[0] == 1.0
    assert loads[9] == pytest.approx(10**-1.0)
    keys = np.array([d.keys for d in dbs])
    assert 400 < np.median(keys) < 2500 and keys.min() >= 1 and keys.std() > 0
    assert pop.expand() == dbs
    scenario = _scenario(population={"count": 40, "replication_factor": {2: 1, 3: 1}})
    assert [d.name for d in scenario.blueprint.all_databases()][:1] == [scenario.blueprint.database.name]


def test_each_databases_tasks_follow_that_databases_group():
    dbs = [
        {"name": "orders", "replication_factor": 2, "members": ["A", "B"]},
        {
            "name": "audit",
            "replication_factor": 2,
            "members": ["D", "E"],
            "tasks": [{"kind": "backup", "name": "audit-backup", "full_every": "10 s", "incremental_every": None}],
        },
    ]
    result = run(_scenario(dbs, duration="30 s"))
    assigned = result.events[result.events["kind"] == "task_assigned"]
    assert list(assigned["task"]) == ["audit-backup"] and assigned["node"].iloc[0] in ("D", "E")
    done = result.events[result.events["kind"] == "backup_done"]
    assert len(done) >= 2 and set(done["database"]) == {"audit"}


@pytest.mark.parametrize(
    ("blueprint", "path", "says"),
    [
        (
            {"extends": "five-node", "databases": [{"name": "a"}, {"name": "a", "replication_factor": 2}]},
            "blueprint.databases[1].name",
            "declared twice",
        ),
        (
            {"extends": "five-node", "databases": [{"name": "a"}, {"name": "b", "replication_factor": 6}]},
            "blueprint.databases[1].replication_factor",
            "6 copies need 6 nodes",
        ),
        (
            {"extends": "five-node", "databases": [{"name": "a"}, {"name": "b", "members": ["A", "Q"]}]},
            "blueprint.databases[1].members[1]",
            "no node 'Q'",
        ),
        (
            {"extends": "five-node", "database_population": {"count": 3, "replication_factor": {2: 0.5, 7: 0.5}}},
            "blueprint.database_population.replication_factor",
            "replication factor 7 needs 1 to 5 nodes",
        ),
        (
            {"extends": "five-node", "databases": [{"name": "a", "load": 0}, {"name": "b", "load": 0}]},
            "blueprint.databases[0].load",
            "at least one database must take load",
        ),
    ],
)
def test_bad_databases_are_clear_errors(blueprint, path, says):
    with pytest.raises(WorkbenchInputError) as err:
        scenario_from_dict({"name": "x", "blueprint": blueprint}, source="s.yaml")
    assert err.value.path == path and says in str(err.value)


def test_database_and_databases_together_is_an_error():
    with pytest.raises(WorkbenchInputError, match="give either database"):
        scenario_from_dict(
            {
                "name": "x",
                "blueprint": {
                    "name": "b",
                    "datacenters": [{"name": "dc1"}],
                    "nodes": [{"tag": "A", "datacenter": "dc1"}],
                    "database": {"name": "one", "replication_factor": 1},
                    "databases": [{"name": "two", "replication_factor": 1}],
                },
            },
            source="s.yaml",
        )


def test_same_seed_same_results_with_many_databases():
    scenario = _scenario(population={"count": 12, "replication_factor": {2: 1, 3: 1}, "load": "zipf"})
    first, second = run(scenario), run(scenario)
    assert first.ops.equals(second.ops) and first.replication.equals(second.replication)
    assert first.ops["database"].nunique() > 5


def test_what_several_databases_do_not_support_yet_is_a_clear_error():
    with pytest.raises(WorkbenchInputError, match="per-tenant keys run on a cluster of one database") as err:
        _scenario(MIXED, workload={"rate": 100, "key_popularity": "tenants"})
    assert err.value.path == "workload.key_popularity"


def _density(count: int):
    return _scenario(
        population={"count": count, "replication_factor": 3, "keys": 20_000},
        duration="20 s",
        blueprint={
            "extends": "five-node",
            "database_population": {"count": count, "replication_factor": 3, "keys": 20_000},
            "hardware": {"memory": "1 GiB", "memory_per_database": "4 MiB"},
        },
    )


def test_density_costs_page_reads_and_background_cpu():
    """Issue 23, item 2: ten databases fit a node's page cache; 150 do not (their own memory and
    their documents exceed it), so requests miss, read from the disk and wait longer, and the
    other active databases' background work stretches the CPU."""
    few, many = run(_density(10)), run(_density(150))
    ts_few, ts_many = few.timeseries, many.timeseries
    assert ts_few.loc[ts_few["metric"] == "page_reads", "value"].sum() == 0
    reads = ts_many[ts_many["metric"] == "page_reads"]
    assert reads["value"].sum() > 1000
    stretch = ts_many[ts_many["metric"] == "background_cpu_stretch"].groupby("entity", observed=True)["value"].last()
    per_node = many.events[many.events["kind"] == "database_created"]["members"].str.split(",").explode().value_counts()
    for node, copies in per_node.items():
        assert stretch[f"node.{node}"] == pytest.approx(1 / (1 - (copies - 1) * 0.002 / 8))
    p50 = lambda r: r.ops.loc[(r.ops["kind"] == "read") & (r.ops["outcome"] == "ok"), "latency_ms"].median()  # noqa: E731
    assert p50(many) > p50(few) + 0.2  # a miss costs a 0.5 ms read (median), and most requests miss
    assert (many.ops["outcome"] == "ok").all()
    from workbench.analysis.databases import node_density_table

    nodes = node_density_table(many).set_index("node")
    assert nodes["copies"].to_dict() == per_node.to_dict() and nodes["copies"].sum() == 450
    assert (nodes["page_reads"] > 0).all() and (nodes["background_cpu_stretch"] > 1).all()
    assert (node_density_table(few)["page_reads"] == 0).all()


def _trace(tmp_path, rows: list[str], header: str = "t,op,key,database"):
    path = tmp_path / "trace.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_a_trace_names_each_rows_database(tmp_path):
    """Item 1: workloads address databases by name. Each row goes to its database's executor on
    the row's application server, with its own key (no scaling)."""
    dbs = [{"name": "big", "replication_factor": 3}, {"name": "small", "replication_factor": 2, "keys": 50}]
    rows = [
        f"{i * 0.01:.2f},{'write' if i % 3 == 0 else 'read'},{i % 40},{'small' if i % 2 else 'big'}" for i in range(600)
    ]
    path = _trace(tmp_path, rows)
    result = run(
        _scenario(dbs, duration="10 s", workload={"keys": 1000, "arrivals": {"kind": "trace", "file": str(path)}})
    )
    ops = result.ops.sort_values("start_s").reset_index(drop=True)
    assert len(ops) == 600 and (ops["outcome"] == "ok").all()
    assert list(ops["database"].astype(str)) == ["small" if i % 2 else "big" for i in range(600)]
    assert list(ops["key"]) == [i % 40 for i in range(600)]


@pytest.mark.parametrize(
    ("rows", "says"),
    [
        (["0.1,read,3,big", "0.2,read,7,nosuch"], "line 3, column 'database': no database 'nosuch'"),
        (["0.1,read,3,big", "0.2,read,70,small"], "line 3, column 'key': key 70 is outside database 'small'"),
        (["0.1,read,3,"], "line 2, column 'database': a cluster of several databases needs each row's database"),
    ],
)
def test_bad_database_rows_say_where(tmp_path, rows, says):
    from workbench.scenario.trace import TraceError

    dbs = [{"name": "big", "replication_factor": 3}, {"name": "small", "replication_factor": 2, "keys": 50}]
    path = _trace(tmp_path, rows)
    scenario = _scenario(dbs, duration="5 s", workload={"keys": 1000, "arrivals": {"kind": "trace", "file": str(path)}})
    with pytest.raises(TraceError, match=says):
        World(scenario).run()


def test_a_trace_without_databases_on_a_cluster_of_several_is_refused(tmp_path):
    path = _trace(tmp_path, ["0.1,read,3"], header="t,op,key")
    with pytest.raises(WorkbenchInputError, match="each row names its database: add a database column") as err:
        _scenario(MIXED, workload={"keys": 1000, "arrivals": {"kind": "trace", "file": str(path)}})
    assert err.value.path == "workload.arrivals.file"


def test_operator_actions_name_their_database():
    """add_to_group, move_to_end and bulk_update act on the database they name (default: the
    first), and 'preferred' is that database's preferred node."""
    dbs = [
        {"name": "orders", "replication_factor": 2, "members": ["A", "B"]},
        {"name": "audit", "replication_factor": 2, "members": ["D", "E"]},
    ]
    result = run(
        _scenario(
            dbs,
            duration="90 s",
            workload={"rate": 200, "keys": 2000, "collections": {"docs": 1.0}},
            faults=[
                {"at": "5 s", "action": "add_to_group", "node": "C", "database": "audit"},
                {"at": "6 s", "action": "move_to_end", "node": "preferred", "database": "audit"},
                {"at": "7 s", "action": "bulk_update", "collection": "docs", "database": "audit"},
            ],
        )
    )
    events = result.events
    added = events[events["kind"] == "added_to_group"]
    assert list(added["database"]) == ["audit"] and list(added["node"]) == ["C"]
    promoted = events[(events["kind"] == "promoted") & (events["database"] == "audit")]
    assert len(promoted) == 1 and promoted["detail"].iloc[0].startswith("C")
    bulk = events[events["kind"] == "bulk_update"]
    assert list(bulk["database"]) == ["audit"] and bulk["node"].iloc[0] in ("D", "E")
    orders = result.replication[result.replication["database"] == "orders"]
    assert set(orders["destination"].astype(str)) <= {"A", "B"}  # orders was never touched
    audit_writes = result.replication[result.replication["database"] == "audit"]
    assert (audit_writes["destination"].astype(str) == "C").any()
    with pytest.raises(WorkbenchInputError, match="no database 'audti'") as err:
        _scenario(dbs, faults=[{"at": "5 s", "action": "add_to_group", "node": "C", "database": "audti"}])
    assert err.value.path == "faults[0].database"


def test_one_database_of_its_own_size_keeps_its_keys_in_range():
    """A single database whose keys differ from workload.keys gets the workload's keys scaled
    into its range, as each database of several does."""
    result = run(_scenario([{"name": "small", "replication_factor": 3, "keys": 50}], workload={"keys": 1000}))
    ops = result.ops
    assert len(ops) > 1000 and ops["key"].max() < 50 and ops["key"].nunique() > 40


@pytest.mark.parametrize(
    ("population", "workload", "path", "says"),
    [
        ({"count": 3, "keys_sigma": 1.0}, {}, "blueprint.database_population.keys_sigma", "keys, which is not set"),
        ({"count": 3, "zipf_exponent": 0.5}, {}, "blueprint.database_population.zipf_exponent", "load: zipf"),
        (
            {"count": 3, "keys": 2},
            {"mix": {"read": 0.5, "write": 0.0, "transaction": 0.5}, "transaction_documents": 3},
            "blueprint.database_population.keys",
            "has only 2",
        ),
    ],
)
def test_a_population_setting_that_cannot_apply_is_an_error(population, workload, path, says):
    with pytest.raises(WorkbenchInputError, match=says) as err:
        _scenario(population=population, workload={"keys": 1000, **workload})
    assert err.value.path == path

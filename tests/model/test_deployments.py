"""Deployments of several clusters [spec §5.2-5.4, §7.8, §7.9, §7.11]: external replication
(one-way, bidirectional, delayed), hub/sink, RavenDB ETL between clusters, rerouting, and
data at risk counted across clusters."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from workbench import scenario_from_dict
from workbench.analysis.deployment import cluster_view
from workbench.blueprints import load_blueprint_data
from workbench.errors import WorkbenchInputError
from workbench.experiment import run_world
from workbench.model.assembly.deployment import Deployment
from workbench.model.recording.tables import mismatches as table_mismatches
from workbench.results.summary import mismatches

TWO_REGIONS = {
    "name": "two-regions",
    "datacenters": [{"name": "east", "region": "r1"}, {"name": "west", "region": "r2"}],
    "network": {"cross_region": "lognormal(median=20 ms, sigma=0.1)"},
    "clusters": [
        {
            "name": "east",
            "nodes": [{"tag": t, "datacenter": "east"} for t in "ABC"],
            "database": {"replication_factor": 3},
        },
        {
            "name": "west",
            "nodes": [{"tag": t, "datacenter": "west"} for t in "ABC"],
            "database": {"replication_factor": 3},
        },
    ],
    "links": [
        {"kind": "external_replication", "name": "east-to-west", "source": "east", "destination": "west"},
        {"kind": "external_replication", "name": "west-to-east", "source": "west", "destination": "east"},
    ],
}
CLIENTS = {"placement": [{"datacenter": "east", "count": 2}, {"datacenter": "west", "count": 2}]}


def _scenario(blueprint: Any, duration: str, faults: list | None = None, **workload: Any) -> Any:
    wl = {"rate": 200, "keys": 2000, **workload}
    data = {"name": "d", "seed": 5, "duration": duration, "blueprint": blueprint, "workload": wl}
    if isinstance(blueprint, dict) and blueprint.get("name") == "two-regions":
        data["clients"] = CLIENTS
    if faults:
        data["faults"] = faults
    return scenario_from_dict(data)


def _copies(dep: Deployment) -> list[tuple[str, str, dict]]:
    return [
        (name, node.tag, node.instances[0].docs)
        for name, world in dep.worlds.items()
        for node in world.nodes
        if node.instances[0] is not None
    ]


def _start(scenario: Any) -> Deployment:
    dep = Deployment(scenario)
    dep.start()
    return dep


# ----------------------------------------------------------------------------- identity and convergence


def test_bidirectional_replication_converges_every_copy_in_both_clusters() -> None:
    scenario = _scenario(TWO_REGIONS, "60 s", stop="40 s")
    dep, result = run_world(scenario)
    assert result.ok, result.provenance["traceback"]
    copies = _copies(dep)
    assert len(copies) == 6
    keys = set().union(*(docs for _c, _t, docs in copies))
    assert len(keys) > 1000
    for key in keys:
        versions = {(docs[key].write_id, docs[key].cv) for _c, _t, docs in copies if key in docs}
        assert len(versions) == 1, (key, versions)
        assert all(key in docs for _c, _t, docs in copies)
    # Writes made in each cluster reached the other with their identity (write id, origin).
    stored = result.timeseries[result.timeseries["metric"] == "link_lag_ms"]
    assert set(stored["entity"]) == {"task.east-to-west", "task.west-to-east"}
    # A version crosses in about one WAN hop (20 ms) plus a batch in flight, not seconds.
    assert 15 < stored["value"].median() < 80


def test_concurrent_writes_in_two_clusters_conflict_and_each_side_resolves_them() -> None:
    faults = [{"action": "partition", "groups": [["east"], ["west"]], "at": "10 s", "duration": "30 s"}]
    scenario = _scenario(TWO_REGIONS, "90 s", faults, keys=50, stop="60 s", mix={"read": 0.2, "write": 0.8})
    dep, result = run_world(scenario)
    assert result.ok, result.provenance["traceback"]
    conflicts = result.events[result.events["kind"] == "conflict"]
    assert set(conflicts["cluster"]) == {"east", "west"}  # each side met them
    copies = _copies(dep)
    for key in range(50):
        assert len({docs[key].write_id for _c, _t, docs in copies}) == 1, key  # same winner everywhere


# ----------------------------------------------------------------------------- delayed replica


def test_delayed_replica_still_holds_the_data_from_before_a_bad_mass_update() -> None:
    faults = [{"action": "bulk_update", "collection": "docs", "cluster": "prod", "at": "12 min"}]
    data = {
        "name": "dr",
        "seed": 2,
        "duration": "25 min",
        "blueprint": "offsite-dr",
        "workload": {"rate": 50, "keys": 1000, "stop": "1 min"},
        "faults": faults,
    }
    scenario = scenario_from_dict(data, overrides={"blueprint.links.0.delay": "10 min"})
    dep = _start(scenario)
    env = dep.env
    dr = dep.worlds["dr"].nodes[0].instances[0]
    env.run(until=9 * 60)
    assert not [d for d in dr.docs.values() if d.write_id > 0]  # nothing is 10 minutes old yet
    env.run(until=12 * 60 - 1)
    written = {k: d.write_id for k, d in dr.docs.items() if d.write_id > 0}
    assert len(written) > 300  # the first minute's writes, 10 minutes later

    env.run(until=12 * 60 + 1)
    events = dep.worlds["prod"].recorder.tables()["events"]
    first_bad = int(events.loc[events["kind"] == "bulk_update", "value"].iloc[0])
    bad = range(first_bad, first_bad + 1000)
    prod = dep.worlds["prod"].nodes[0].instances[0]
    assert sum(1 for d in prod.docs.values() if d.write_id in bad) == 1000

    env.run(until=21 * 60 + 50)  # 9 min 50 s after the bad update: the replica still has the good data
    assert not [d for d in dr.docs.values() if d.write_id in bad]
    assert {k: d.write_id for k, d in dr.docs.items() if d.write_id > 0} == written

    env.run(until=22 * 60 + 30)  # the delay is over: the bad versions arrive
    assert sum(1 for d in dr.docs.values() if d.write_id in bad) == 1000


# ----------------------------------------------------------------------------- no leader


def test_external_replication_pauses_without_a_leader_and_resumes_with_one() -> None:
    blueprint = {**TWO_REGIONS, "links": [{**TWO_REGIONS["links"][0], "mentor": "A"}]}
    faults = [
        {"action": "crash", "cluster": "east", "node": "B", "at": "20 s", "duration": "60 s"},
        {"action": "crash", "cluster": "east", "node": "C", "at": "20 s", "duration": "60 s"},
    ]
    scenario = _scenario(blueprint, "150 s", faults, mix={"read": 0.5, "write": 0.5})
    _dep, result = run_world(scenario)
    assert result.ok, result.provenance["traceback"]
    events = result.events
    paused = events[(events["kind"] == "task_paused") & (events["cluster"] == "east")]
    assert len(paused) == 1 and "no leader" in paused.iloc[0]["detail"]
    assert paused.iloc[0]["node"] == "east/A"
    pause_at = float(paused.iloc[0]["time_s"])
    resumed = events[(events["kind"] == "task_resumed") & (events["cluster"] == "east")]
    resume_at = float(resumed["time_s"].iloc[0])
    assert 20 < pause_at < 25 and 80 < resume_at < 85
    # Writes A took while it had no leader reached west only after the task resumed.
    lags = result.replication[(result.replication["cluster"] == "west")]
    during = lags[(lags["origin"] == "east/A") & (lags["committed_s"] > pause_at + 1) & (lags["committed_s"] < 79)]
    assert len(during) > 100
    assert (during["applied_s"] >= resume_at).all()


# ----------------------------------------------------------------------------- hub/sink and RavenDB ETL


def test_sink_fails_over_to_the_next_hub_node_when_its_hub_node_dies() -> None:
    scenario = _scenario("edge-hub", "30 s", [])
    dep = _start(scenario)
    dep.env.run(until=10)
    task = next(t for t in dep.links if t.name == "catalog-to-store1")
    conn = next(iter(task.runs.values()))
    hub_node = conn.streams[0].src_node  # hub_to_sink: the hub node sends
    hq = dep.worlds["hq"]
    hq.faults.crash(hub_node, "test")
    dep.env.run(until=60)
    events = dep.worlds["store1"].recorder.tables()["events"]
    connected = events[(events["kind"] == "link_connected") & events["detail"].str.startswith("catalog-to-store1")]
    assert len(connected) == 2
    assert f"hq/{hub_node.tag} ->" in connected.iloc[0]["detail"]
    assert f"hq/{hub_node.tag} ->" not in connected.iloc[1]["detail"]
    failed = events[(events["kind"] == "link_failed") & events["detail"].str.startswith("catalog-to-store1")]
    assert len(failed) >= 1
    # The catalogue written at the head office after the crash (at 10 s) reached the store.
    store = dep.worlds["store1"].nodes[0].instances[0]
    survivors = [n.instances[0] for n in hq.nodes if n.up]
    late = [d for d in survivors[0].docs.values() if d.committed > 10 and d.key < 400]
    assert late and all(store.docs[d.key].write_id == d.write_id for d in late if d.committed < 55)


def test_ravendb_etl_delivers_after_an_outage_as_the_destinations_own_writes() -> None:
    faults = [{"action": "partition", "groups": [["store1"], ["hq"]], "at": "10 s", "duration": "60 s"}]
    scenario = _scenario("edge-hub", "130 s", faults, stop="100 s")
    dep, result = run_world(scenario)
    assert result.ok, result.provenance["traceback"]
    store = dep.worlds["store1"].nodes[0].instances[0]
    hq_world = dep.worlds["hq"]
    hq = hq_world.nodes[0].instances[0]
    sales = [d for d in store.docs.values() if d.key >= 400 and d.write_id > 0]
    assert len(sales) > 500
    # Nothing lost: every store sale was stored at the head office, as its own write (a later
    # sale of the same document from store2 may have replaced it since).
    stored_at_hq = {d.write_id for d in hq.log}
    assert all(doc.write_id in stored_at_hq for doc in sales)
    hq_positions = range(hq_world.versions.cv_base, hq_world.versions.cv_base + len(hq_world.nodes))
    for doc in sales:
        mine = hq.docs[doc.key]
        if mine.write_id == doc.write_id:
            assert all(x == 0 for i, x in enumerate(mine.cv) if i not in hq_positions)
    events = result.events
    failed = events[(events["kind"] == "link_failed") & events["detail"].str.startswith("store1-sales")]
    waits = list(failed["value"])
    assert len(waits) >= 3 and waits == [5.0 * 2**i for i in range(len(waits))]  # 5 s doubling [spec §5.2]
    lag = result.timeseries[(result.timeseries["entity"] == "task.store1-sales")]
    assert lag[lag["metric"] == "link_lag_ms"]["value"].max() > 55_000  # sales held through the outage
    summary = result.summary()
    assert mismatches(summary) == []  # workbench.results.summary.Summary, with its links
    link = summary["links"]["store1-sales"]
    # Failures from 10 s + 15 s (timeout) on; the partition heals at 70 s, the next retry after it
    # connects and drains the backlog within a second.
    (drained,) = link["outages_drained_after_s"]
    last_retry = float(failed["time_s"].iloc[-1] + failed["value"].iloc[-1])
    assert last_retry > 70 and drained == pytest.approx(last_retry - float(failed["time_s"].iloc[0]), abs=1.0)
    assert not link["undrained_at_end"]


# ----------------------------------------------------------------------------- region outage


def test_reroute_moves_a_lost_regions_operations_to_another_cluster() -> None:
    faults = [
        {"action": "datacenter_down", "datacenter": "east", "at": "20 s"},
        {"action": "reroute", "from_datacenter": "east", "to_datacenter": "west", "at": "20 s", "delay": "30 s"},
    ]
    scenario = _scenario(TWO_REGIONS, "80 s", faults)
    _dep, result = run_world(scenario)
    assert result.ok, result.provenance["traceback"]
    ops = result.ops
    east = ops[ops["cluster"] == "east"]
    assert not len(east[east["start_s"] > 20.01])
    west = ops[ops["cluster"] == "west"]
    before = len(west[(west["start_s"] > 0) & (west["start_s"] < 20)])
    gap = len(west[(west["start_s"] > 25) & (west["start_s"] < 45)])
    after = len(west[(west["start_s"] > 55) & (west["start_s"] < 75)])
    assert after == pytest.approx(2 * before, rel=0.15) and gap == pytest.approx(before, rel=0.15)
    summary = result.summary()
    assert mismatches(summary) == []  # with its region_outage
    outage = summary["region_outage"]
    assert outage["datacenter"] == "east" and outage["users_rto_s"] == pytest.approx(30.0)
    assert outage["requests_unserved"] == pytest.approx(30 * 100, rel=0.15)


def test_data_at_risk_counts_copies_in_the_other_clusters() -> None:
    faults = [{"action": "datacenter_down", "datacenter": "east", "at": "30 s"}]
    joined = _scenario(TWO_REGIONS, "40 s", faults, mix={"read": 0.5, "write": 0.5})
    alone = _scenario({**TWO_REGIONS, "links": []}, "40 s", faults, mix={"read": 0.5, "write": 0.5})
    rpo, acked = {}, {}
    for name, scenario in (("joined", joined), ("alone", alone)):
        _dep, result = run_world(scenario)
        ev = result.events
        rpo[name] = float(ev.loc[(ev["kind"] == "rpo_writes") & (ev["cluster"] == "east"), "value"].iloc[0])
        writes = result.ops[(result.ops["cluster"] == "east") & (result.ops["kind"] == "write")]
        acked[name] = len(writes[(writes["outcome"] == "ok") & (writes["end_s"] < 30)])
    assert rpo["alone"] == pytest.approx(acked["alone"], abs=3)  # every write of east: no other copy
    assert rpo["joined"] < 10  # only what was still on the WAN


def test_a_deployment_run_is_deterministic() -> None:
    faults = [{"action": "crash", "cluster": "west", "node": "A", "at": "5 s", "duration": "10 s"}]
    a = run_world(_scenario(TWO_REGIONS, "30 s", faults))[1]
    b = run_world(_scenario(TWO_REGIONS, "30 s", faults))[1]
    for name in ("ops", "events", "timeseries", "replication"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))


# ----------------------------------------------------------------------------- input errors


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        (
            {"faults": [{"action": "crash", "node": "A", "at": "1 s"}]},
            "faults[0].cluster",
            "say which cluster the crash is for, one of: east, west",
        ),
        (
            {"faults": [{"action": "crash", "cluster": "north", "node": "A", "at": "1 s"}]},
            "faults[0].cluster",
            "no cluster 'north'",
        ),
        (
            {"faults": [{"action": "crash", "cluster": "east", "node": "Z", "at": "1 s"}]},
            "faults[0].node",
            "cluster 'east': no node 'Z'",
        ),
        (
            {"blueprint.links.0.destination": "wst"},
            "blueprint.links[0].destination",
            "no cluster 'wst' (did you mean 'west'?)",
        ),
        (
            {"blueprint.clusters.1.nodes.0.datacenter": "middle"},
            "blueprint.clusters[1].nodes[0].datacenter",
            "no data centre 'middle'",
        ),
        (
            {"blueprint.links.1.kind": "external"},
            "blueprint.links[1].kind",
            "unknown kind 'external'",
        ),
    ],
)
def test_bad_deployment_input_names_the_field(change: dict, path: str, message: str) -> None:
    data = {"name": "d", "blueprint": TWO_REGIONS, "clients": CLIENTS}
    overrides = {}
    for key, value in change.items():
        if key.startswith("blueprint."):
            overrides[key] = value
        else:
            data[key] = value
    with pytest.raises(WorkbenchInputError) as info:
        scenario_from_dict(data, overrides=overrides or None)
    assert info.value.path == path
    assert message in info.value.message


def test_clients_where_no_cluster_runs_are_an_error() -> None:
    blueprint = {**TWO_REGIONS, "datacenters": [*TWO_REGIONS["datacenters"], {"name": "north", "region": "r3"}]}
    data = {"name": "d", "blueprint": blueprint, "clients": {"placement": [{"datacenter": "north", "count": 1}]}}
    with pytest.raises(WorkbenchInputError, match="no cluster has nodes in data centre 'north'") as info:
        scenario_from_dict(data)
    assert info.value.path == "clients.placement[0].datacenter"


def test_every_deployment_blueprint_runs() -> None:
    for name in ("cluster-per-region", "offsite-dr", "edge-hub"):
        assert "clusters" in load_blueprint_data(name)
        _dep, result = run_world(_scenario(name, "5 s"))
        assert result.ok, (name, result.provenance["traceback"])
        assert set(result.ops["cluster"].unique()) <= {c["name"] for c in load_blueprint_data(name)["clusters"]}


def test_idle_elision_asked_for_on_a_deployment_is_an_error_not_ignored() -> None:
    data = {"name": "d", "blueprint": "offsite-dr", "elide_idle": True}
    with pytest.raises(WorkbenchInputError, match="idle elision is not available for deployments") as info:
        scenario_from_dict(data)
    assert info.value.path == "elide_idle"
    assert scenario_from_dict({**data, "elide_idle": False}).elide_idle is False


@pytest.mark.parametrize("blueprint", ["geo-stretched", "cluster-per-region"])
def test_reroute_needs_open_loop_arrivals(blueprint: str) -> None:
    data = {
        "name": "r",
        "blueprint": blueprint,
        "workload": {"arrivals": {"kind": "closed", "users": 5}},
        "faults": [{"action": "reroute", "from_datacenter": "virginia", "to_datacenter": "ohio", "at": "1 s"}],
    }
    with pytest.raises(WorkbenchInputError, match="reroute moves open-loop arrivals") as info:
        scenario_from_dict(data)
    assert info.value.path == "faults[0].action"


def test_a_sink_notices_its_hub_node_died_while_the_stream_was_quiet() -> None:
    # Regression (review): with nothing to send, a hub node's crash used to go unnoticed for good.
    faults = [{"action": "crash", "cluster": "hq", "node": "C", "at": "30 s", "duration": "20 s"}]
    data = {
        "name": "edge",
        "seed": 3,
        "duration": "8 min",
        "blueprint": "edge-hub",
        "workload": {"rate": 20, "keys": 400, "stop": "3 min"},
        "faults": faults,
    }
    dep, result = run_world(scenario_from_dict(data))
    events = result.events
    first = events[(events["kind"] == "link_connected") & events["detail"].str.startswith("catalog-to-store1")]
    assert "hq/C ->" in first.iloc[0]["detail"]  # the sink reads from the node about to die
    failed = events[(events["kind"] == "link_failed") & events["detail"].str.startswith("catalog-to-")]
    assert set(failed["cluster"]) == {"store1", "store2"}
    assert (failed["time_s"] < 30 + 15 + 15 + 1).all()  # within a keep-alive and a timeout
    hq = dep.worlds["hq"].nodes[0].instances[0].docs
    catalog = [k for k in hq if dep.worlds["hq"].keyspace.collection_of(k) == "catalog"]
    for store in ("store1", "store2"):
        docs = dep.worlds[store].nodes[0].instances[0].docs
        assert all(docs[k].write_id == hq[k].write_id for k in catalog)


def test_a_heal_between_data_centres_reaches_only_the_clusters_its_partition_did() -> None:
    faults = [
        {"action": "heal", "at": "20 s"},
        {"action": "partition", "groups": [["virginia"], ["ohio"]], "at": "10 s"},
    ]
    scenario = _scenario("cluster-per-region", "30 s", faults)
    from workbench.scenario.deployment import split

    routed = {part.name: [f.action for f in part.scenario.faults] for part in split(scenario)}
    assert routed == {"virginia": ["heal", "partition"], "ohio": ["heal", "partition"], "california": []}


def test_a_reroute_in_a_deployment_needs_a_time() -> None:
    fault = {"action": "reroute", "from_datacenter": "virginia", "to_datacenter": "ohio"}
    data = {"name": "r", "blueprint": "cluster-per-region", "faults": [{**fault, "after": "leader_elected + 60 s"}]}
    with pytest.raises(WorkbenchInputError, match="needs 'at'") as info:
        scenario_from_dict(data)
    assert info.value.path == "faults[0].after"


def test_ravendb_etl_batches_keep_the_etl_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    import workbench.model.tasks.cross_cluster as links

    sizes: dict[str, list[int]] = {"store1-sales": [], "store2-sales": []}
    receive = links._receive_batch

    def counting(stream, rid, payload):
        if stream.etl:
            sizes[stream.owner.name].append(len(payload[0]))
        receive(stream, rid, payload)

    monkeypatch.setattr(links, "_receive_batch", counting)
    # Both stores are cut off from the head office (the unlisted store2 forms a third group).
    faults = [{"action": "partition", "groups": [["store1"], ["hq"]], "at": "5 s", "duration": "40 s"}]
    data = {"name": "e", "seed": 4, "duration": "90 s", "blueprint": "edge-hub", "workload": {"rate": 400}}
    scenario = scenario_from_dict({**data, "faults": faults}, overrides={"blueprint.links.2.batch.max_documents": 50})
    _dep, result = run_world(scenario)
    assert result.ok, result.provenance["traceback"]
    assert max(sizes["store1-sales"]) == 50  # ETL.MaxNumberOfExtractedDocuments, set to 50
    assert max(sizes["store2-sales"]) > 500  # the default 8192: its backlog went in one batch


def test_a_document_whose_ravendb_etl_transform_fails_alerts_and_the_rest_loads() -> None:
    data = {
        "name": "e",
        "seed": 6,
        "duration": "40 s",
        "blueprint": "edge-hub",
        "workload": {"rate": 200, "stop": "30 s"},
    }
    scenario = scenario_from_dict(data, overrides={"blueprint.links.2.reject_probability": 0.1})
    dep, result = run_world(scenario)
    assert result.ok, result.provenance["traceback"]
    events = result.events
    rejected = events[(events["kind"] == "etl_document_rejected") & (events["task"] == "store1-sales")]
    store = dep.worlds["store1"].nodes[0].instances[0].docs
    hq = dep.worlds["hq"].nodes[0].instances[0].docs
    sales = [d for d in store.values() if d.write_id > 0 and d.key >= 20000]
    bad = {int(w) for w in rejected["write"]}  # rejected versions
    assert 0.05 < len(bad) / len(sales) < 0.2
    for doc in sales:
        held = hq.get(doc.key)
        if doc.write_id in bad:
            assert held is None or held.write_id != doc.write_id  # skipped...
        else:
            assert held is not None and held.write_id == doc.write_id  # ...and everything else loaded
    assert result.summary()["links"]["store1-sales"]["rejected_documents"] == len(rejected)


def test_each_clusters_own_tasks_are_summarised_under_it() -> None:
    tasks = [{"kind": "subscription", "name": "orders-sub"}, {"kind": "backup", "name": "nightly"}]
    data = {"name": "t", "duration": "60 s", "blueprint": "offsite-dr", "workload": {"rate": 100}}
    scenario = scenario_from_dict(data, overrides={"blueprint.clusters.0.database.tasks": tasks})
    _dep, result = run_world(scenario)
    summary = result.summary()
    assert mismatches(summary) == []  # each cluster's backups and subscriptions have their schema
    for name in ("ops", "events", "timeseries", "replication"):  # a cluster column first, then as documented
        assert table_mismatches(name, getattr(result, name)) == [] and getattr(result, name).columns[0] == "cluster"
    # Each cluster's view has its own typed scenario: its blueprint is the cluster's.
    view = cluster_view(result, "prod")
    assert view.spec.blueprint.name == "offsite-dr/prod" and view.spec.blueprint.database.tasks[1].name == "nightly"
    assert view.spec.duration == 60.0
    prod = summary["clusters"]["prod"]
    assert prod["backups"]["completed"] == 1 and prod["subscriptions"]["orders-sub"]["docs_processed"] > 500
    assert "backups" not in summary["clusters"]["dr"] and summary["backups"] == {}


# ----------------------------------------------------------------------------- random data-centre failures

# Each cluster has its third node in a shared data centre, so an outage there hits both.
SHARED_THIRD = {
    **TWO_REGIONS,
    "name": "two-regions-shared",
    "datacenters": [*TWO_REGIONS["datacenters"], {"name": "third", "region": "r3"}],
    "clusters": [
        {
            "name": name,
            "nodes": [
                {"tag": "A", "datacenter": name},
                {"tag": "B", "datacenter": name},
                {"tag": "C", "datacenter": "third"},
            ],
            "database": {"replication_factor": 3},
        }
        for name in ("east", "west")
    ],
}


def _dc_events(result: Any, kind: str) -> pd.DataFrame:
    events = result.events
    return events[events["kind"] == kind][["cluster", "time_s", "datacenter"]]


def test_random_datacenter_failures_hit_every_cluster_there_at_the_same_instants() -> None:
    plan = {"at": "10 s", "action": "random_datacenter_failures", "datacenters": ["third"]}
    plan |= {"time_to_failure": "60 s", "time_to_repair": "20 s"}
    data = {"name": "d", "seed": 5, "duration": "5 min", "blueprint": SHARED_THIRD, "clients": CLIENTS}
    data |= {"workload": {"rate": 50, "keys": 500}, "faults": [plan]}
    dep, result = run_world(scenario_from_dict(data))
    assert result.ok, result.provenance["traceback"]
    # Fixed draws: up 60 s from the plan's start, dark 20 s, again and again until the end.
    downs, ups = _dc_events(result, "datacenter_down"), _dc_events(result, "datacenter_up")
    for cluster in ("east", "west"):
        assert downs[downs["cluster"] == cluster]["time_s"].tolist() == pytest.approx([70.0, 150.0, 230.0])
        assert ups[ups["cluster"] == cluster]["time_s"].tolist() == pytest.approx([90.0, 170.0, 250.0])
    assert set(downs["datacenter"]) == {"third"}
    started = result.events[result.events["kind"] == "fault_started"]
    assert set(started["action"]) == {"random datacenter failure"} and len(started) == 6
    assert not dep.dark  # the bridge is lit again after the last repair


def test_random_datacenter_failures_in_a_deployment_are_drawn_once_per_seed() -> None:
    plan = {"at": "0 s", "action": "random_datacenter_failures", "datacenters": ["third"]}
    plan |= {"time_to_failure": "exponential(40 s)", "time_to_repair": "exponential(10 s)"}
    data = {"name": "d", "seed": 9, "duration": "4 min", "blueprint": SHARED_THIRD, "clients": CLIENTS}
    data |= {"workload": {"rate": 20, "keys": 500}, "faults": [plan]}
    first = run_world(scenario_from_dict(data))[1]
    again = run_world(scenario_from_dict(data))[1]
    times = _dc_events(first, "datacenter_down")
    assert len(times) >= 4  # two clusters, and a few outages in four minutes at a 40 s mean
    assert times.equals(_dc_events(again, "datacenter_down"))
    east, west = (times[times["cluster"] == c]["time_s"].tolist() for c in ("east", "west"))
    assert east == west
    other = run_world(scenario_from_dict({**data, "seed": 10}))[1]
    assert _dc_events(other, "datacenter_down")["time_s"].tolist() != times["time_s"].tolist()


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"cluster": "east"}, "faults[0].cluster", "leave out cluster"),
        ({"datacenters": ["thrid"]}, "faults[0].datacenters[0]", "did you mean 'third'"),
        ({"at": None, "after": "leader_elected + 1 s"}, "faults[0].after", "needs 'at'"),
    ],
)
def test_random_datacenter_failures_in_a_deployment_are_checked(change: dict, path: str, message: str) -> None:
    plan = {"at": "1 s", "action": "random_datacenter_failures", "time_to_failure": "60 s", "time_to_repair": "5 s"}
    plan = {k: v for k, v in (plan | change).items() if v is not None}
    data = {"name": "d", "duration": "1 min", "blueprint": SHARED_THIRD, "clients": CLIENTS, "faults": [plan]}
    with pytest.raises(WorkbenchInputError, match=message) as caught:
        scenario_from_dict(data)
    assert caught.value.path == path


def test_the_provenance_counts_every_clusters_tcp_stalls() -> None:
    cut = {"at": "5 s", "action": "partition", "cluster": "east", "groups": [["A"], ["B", "C"]], "duration": "5 s"}
    dep, result = run_world(_scenario(TWO_REGIONS, "20 s", faults=[cut]))
    assert result.ok, result.provenance["traceback"]
    stalled = result.provenance["network"]["segments_stalled"]
    assert stalled == sum(w.network.segments_stalled for w in dep.worlds.values()) + dep.bridge.segments_stalled
    assert dep.worlds["east"].network.segments_stalled > 0  # requests and replication met the cut

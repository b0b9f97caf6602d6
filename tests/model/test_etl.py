"""SQL ETL [spec §5.2, §5.1, §1.8, §8.13, §9 items 9-10]: failover of the owner, the
destination's outage and the fallback schedule, no leader, bad rows, and lag."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from workbench import scenario_from_dict
from workbench.analysis.etl import etl_summary
from workbench.experiment import run_world
from workbench.model.assembly.world import World
from workbench.results import RunResult, events_table

TASK = "orders-etl"


def _spec(duration: str, faults: list[dict], *, rate: float = 40, stop: str | None = None, **task: Any) -> dict:
    workload: dict[str, Any] = {
        "rate": rate,
        "mix": {"read": 0.5, "write": 0.5},
        "keys": 3000,
        "collections": {"orders": 0.6, "customers": 0.4},
    }
    if stop is not None:
        workload["stop"] = stop
    etl = {
        "kind": "sql_etl",
        "name": TASK,
        "destination": "warehouse",
        "mentor": "B",  # B runs it while it is a member
        "collections": ["orders"],
        **task,
    }
    return {
        "name": "etl",
        "seed": 3,
        "duration": duration,
        "sample_interval": "5 s",
        "blueprint": {"extends": "three-node", "externals": [{"name": "warehouse"}], "database": {"tasks": [etl]}},
        "workload": workload,
        "faults": faults,
    }


def _simulate(spec: dict) -> tuple[World, RunResult]:
    world, result = run_world(scenario_from_dict(spec, source="<test>"))
    assert world is not None and result.ok, result.provenance["exception"]
    return world, result


def _events(result: RunResult, kind: str) -> pd.DataFrame:
    return result.events[result.events["kind"] == kind]


def _orders(world: World, tag: str) -> dict:
    inst = world.node_by_tag[tag].instances[0]
    return {k: d for k, d in inst.docs.items() if world.keyspace.collection_of(k) == "orders"}


def _assert_destination_holds_latest(world: World, tags: str, rejected: set[int] = frozenset()) -> None:
    """Every order's latest version is at the destination, one row per document, and
    nothing else is (the write ids of rejected versions are expected missing)."""
    rows = world.externals["warehouse"].rows(TASK)
    for tag in tags:
        orders = _orders(world, tag)
        assert orders, "the workload wrote orders"
        assert set(rows) <= set(orders)
        for key, doc in orders.items():
            if doc.write_id in rejected:
                assert key not in rows or rows[key].write_id != doc.write_id
            else:
                assert key in rows and rows[key].write_id == doc.write_id, f"order {key} on {tag}"


def test_owner_crash_moves_the_task_and_resumes_from_the_same_position() -> None:
    """§8.13, §9.9: the owner dies; about 60 s later (rehab grace, observer tick, Raft)
    another member takes the task and loads only what was not loaded: nothing lost,
    nothing duplicated."""
    world, result = _simulate(_spec("3 min", [{"action": "crash", "node": "B", "at": "30 s"}], stop="150 s"))
    paused = _events(result, "task_paused")
    assert list(paused["time_s"]) == [30.0] and "its node is down" in paused["detail"].iloc[0]
    moved = _events(result, "task_moved")
    assert len(moved) == 1
    t_moved, new_owner = float(moved["time_s"].iloc[0]), moved["node"].iloc[0]
    assert new_owner in ("A", "C")
    assert 90.0 <= t_moved < 91.0  # 60 s grace + <= 0.5 s observer tick + the Raft commit
    # From the same position: the new owner's backlog is what was written while nobody ran
    # the task, not every order written since the start.
    started = _events(result, "etl_started")
    backlog = int(started[started["node"] == new_owner]["value"].iloc[0])
    ops = result.ops
    writes = ops[(ops["kind"] == "write") & (ops["outcome"] == "ok")]
    keys = writes["key"].map(world.keyspace.collection_of) == "orders"
    during = writes[keys & (writes["start_s"] > 29.9) & (writes["start_s"] < t_moved)]["key"].nunique()
    before = writes[keys & (writes["start_s"] < 29.9)]["key"].nunique()
    assert 0.9 * during <= backlog <= during + 10
    assert backlog < during + 0.1 * before
    dest = world.externals["warehouse"]
    assert dest.rows_rewritten <= 10  # at most the batch in flight at the crash is sent twice
    # Nothing lost, nothing duplicated: one row per order, its latest version.
    _assert_destination_holds_latest(world, "AC")
    summary = etl_summary(result)[TASK]
    assert summary["rows_at_destination"] == len(dest.rows(TASK)) == len(_orders(world, "A"))
    (outage,) = summary["outages"]
    assert outage["kind"] == "task not running" and outage["duration_s"] == pytest.approx(t_moved - 30.0)
    assert 0.0 < outage["time_to_drain_s"] < 5.0
    assert summary["max_backlog"] >= backlog
    # Lag: milliseconds normally, about a minute for orders written just after the crash.
    assert summary["lag_ms"]["p50"] < 50.0
    assert 58_000 < summary["lag_ms"]["max"] < 62_000


def test_destination_down_ten_minutes_follows_the_fallback_schedule_then_drains() -> None:
    """§5.2, §9.10: retries after 5, 10, 20, 40, ... s (doubling, cap 900 s); nothing lost."""
    faults = [{"action": "external_down", "system": "warehouse", "at": "20 s", "duration": "10 min"}]
    world, result = _simulate(_spec("12 min", faults, rate=10, stop="700 s"))
    fallback = _events(result, "etl_fallback")
    waits = list(fallback["value"])
    assert waits == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0]
    times = list(fallback["time_s"])
    first = times[0]
    assert 20.0 < first < 22.0  # the first batch after the outage began
    # Each retry comes its wait after the previous error (plus one round trip: refused).
    for t0, t1, wait in zip(times, times[1:], waits, strict=False):
        assert t1 - t0 == pytest.approx(wait, abs=0.05)
    assert all("refused" in d for d in fallback["detail"])
    # The destination is back at 620 s; the next retry (first + 635 s) succeeds: its batch
    # (the whole backlog) is transformed, sent and committed within a second.
    (resumed,) = _events(result, "etl_resumed")["time_s"]
    assert first + 635.0 < resumed < first + 636.0
    _assert_destination_holds_latest(world, "ABC")
    summary = etl_summary(result)[TASK]
    assert summary["fallback_retries"] == 7 and summary["fallback_waits_s"] == waits
    (outage,) = summary["outages"]
    assert outage["kind"] == "destination down" and outage["duration_s"] == pytest.approx(600.0)
    drain = outage["time_to_drain_s"]
    assert resumed - 620.0 <= drain < resumed - 620.0 + 5.0
    ops = result.ops
    writes = ops[(ops["kind"] == "write") & (ops["start_s"] > 20.0) & (ops["start_s"] < 620.0)]
    outage_orders = writes[writes["key"].map(world.keyspace.collection_of) == "orders"]["key"].nunique()
    assert summary["max_backlog"] >= 0.9 * outage_orders
    assert summary["lag_ms"]["max"] > 600_000  # an order written as it went down waited it out


def test_fallback_wait_is_capped() -> None:
    """The doubling stops at fallback_max (ETL.MaxFallbackTimeInSec; lowered here to keep it short)."""
    faults = [{"action": "external_down", "system": "warehouse", "at": "10 s", "duration": "5 min"}]
    world, result = _simulate(_spec("8 min", faults, rate=4, stop="7 min", fallback_max="60 s"))
    waits = list(_events(result, "etl_fallback")["value"])
    assert waits == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0, 60.0, 60.0]
    _assert_destination_holds_latest(world, "ABC")


def test_no_leader_pauses_the_task_until_a_leader_returns() -> None:
    """§1.8: with a majority down, the owner (a candidate now) runs nothing; writes go on
    and pile up; when a leader returns the same node resumes and drains."""
    faults = [
        {"action": "crash", "node": "A", "at": "30 s", "duration": "40 s"},
        {"action": "crash", "node": "C", "at": "30 s", "duration": "40 s"},
    ]
    world, result = _simulate(_spec("2 min", faults, stop="100 s"))
    paused = _events(result, "task_paused")
    assert len(paused) == 1 and paused["node"].iloc[0] == "B"
    assert "no leader" in paused["detail"].iloc[0]
    t_paused = float(paused["time_s"].iloc[0])
    assert 30.0 < t_paused < 31.0  # B's election timer
    resumed = _events(result, "task_resumed")
    assert len(resumed) == 1 and resumed["node"].iloc[0] == "B"
    t_resumed = float(resumed["time_s"].iloc[0])
    # With a leader again (B wins the election once A and C are back at 70 s).
    elected = _events(result, "leader_elected")
    t_elected = elected[elected["time_s"] > 70.0]["time_s"].min()
    assert 70.0 < t_resumed < 75.0 and t_resumed == pytest.approx(t_elected, abs=0.01)
    # Nothing reached the destination while paused; writes went on (on B) and piled up.
    ts = result.timeseries
    lag = ts[(ts["entity"] == f"task.{TASK}") & (ts["metric"] == "etl_lag_ms")]
    assert not ((lag["time_s"] > t_paused + 0.1) & (lag["time_s"] < t_resumed)).any()
    backlog = int(_events(result, "etl_started")["value"].iloc[-1])
    assert backlog > 300
    _assert_destination_holds_latest(world, "ABC")
    summary = etl_summary(result)[TASK]
    (outage,) = summary["outages"]
    assert outage["kind"] == "task not running" and outage["time_to_drain_s"] < 2.0


def test_a_rejected_row_alerts_and_the_rest_load() -> None:
    """§5.2, §8.13: one bad row: alert, skip it, continue."""
    world, result = _simulate(_spec("1 min", [], reject_probability=0.05))
    rejected = _events(result, "etl_document_rejected")
    dest = world.externals["warehouse"]
    assert len(rejected) == dest.rows_rejected > 5
    write_ids = {int(w) for w in rejected["write"]}
    _assert_destination_holds_latest(world, "ABC", rejected=write_ids)
    # The task went on loading after the first bad row, and never fell back.
    first = float(rejected["time_s"].min())
    ts = result.timeseries
    lag = ts[(ts["entity"] == f"task.{TASK}") & (ts["metric"] == "etl_lag_ms")]
    assert (lag["time_s"] > first).sum() > 100
    assert _events(result, "etl_fallback").empty
    assert etl_summary(result)[TASK]["rejected_documents"] == len(rejected)


def test_lag_is_measured_per_version() -> None:
    """Lag: origin commit to the destination's commit, once per version made visible."""
    world, result = _simulate(_spec("1 min", []))
    summary = etl_summary(result)[TASK]
    ops = result.ops
    writes = ops[(ops["kind"] == "write") & (ops["outcome"] == "ok")]
    orders = writes[writes["key"].map(world.keyspace.collection_of) == "orders"]
    # A version overwritten before its batch was extracted is never sent: at most all of them.
    assert 0.9 * len(orders) <= summary["versions_visible"] <= len(orders)
    lag = summary["lag_ms"]
    assert lag["p50"] >= 5.0  # at least the destination's commit (5 ms)
    assert lag["p99"] < 50.0
    assert summary["documents_loaded"] == summary["versions_visible"]
    assert summary["outages"] == [] and summary["fallback_retries"] == 0
    # The backlog was sampled, and is empty at the end.
    ts = result.timeseries
    backlog = ts[(ts["entity"] == f"task.{TASK}") & (ts["metric"] == "etl_backlog")]
    assert len(backlog) > 10 and backlog["value"].iloc[-1] <= 2


def test_outages_and_drain_from_hand_built_events() -> None:
    """The analysis reads events only: an outage the task never noticed drains in 0 s, one
    still on at run end has no drain time, a pause drains at the next etl_caught_up."""
    down, up = {"system": "warehouse"}, {"system": "warehouse"}
    refused = {"task": TASK, "system": "warehouse", "reason": "refused"}
    rows = [
        (10.0, "external_down", None, None, None, down),
        (20.0, "external_up", None, None, None, up),
        (30.0, "external_down", None, None, None, down),
        (30.5, "etl_fallback", "B", None, 5.0, {**refused, "wait_s": 5.0, "errors": 1}),
        (35.5, "etl_fallback", "B", None, 10.0, {**refused, "wait_s": 10.0, "errors": 2}),
        (40.0, "external_up", None, None, None, up),
        (45.6, "etl_resumed", "B", None, 15.1, {"task": TASK, "system": "warehouse", "errors": 2}),
        (45.7, "etl_caught_up", "B", None, 15.2, {"task": TASK}),
        (50.0, "task_paused", "B", None, None, {"task": TASK, "reason": "its node is down"}),
        (110.0, "task_moved", "A", None, None, {"task": TASK, "source": "B"}),
        (110.2, "etl_caught_up", "A", None, 0.2, {"task": TASK}),
        (200.0, "external_down", None, None, None, down),
    ]
    events = events_table(rows, "db")
    empty = pd.DataFrame({"time_s": [], "entity": [], "metric": [], "value": []})
    result = RunResult(
        ops=pd.DataFrame(),
        events=events,
        timeseries=empty,
        replication=pd.DataFrame(),
        # The scenario as a run records it: the analysis finds the task and its destination there.
        provenance={"scenario": scenario_from_dict(_spec("300 s", [])).model_dump(mode="json")},
    )
    summary = etl_summary(result)[TASK]
    drains = [(o["kind"], o["start_s"], o["time_to_drain_s"]) for o in summary["outages"]]
    assert drains == [
        ("destination down", 10.0, 0.0),
        ("destination down", 30.0, pytest.approx(5.7)),
        ("task not running", 50.0, pytest.approx(0.2)),
        ("destination down", 200.0, None),
    ]
    assert summary["fallback_retries"] == 2 and summary["fallback_waits_s"] == [5.0, 10.0]
    assert summary["time_in_fallback_s"] == pytest.approx(15.1)
    assert summary["lag_ms"]["p50"] is None and summary["rows_at_destination"] == 0


def test_a_version_arriving_out_of_order_is_still_loaded() -> None:
    """Per-document change vectors can cover a version that has not arrived: B writes K2 then
    K; A updates K; C (cut off from both) gets A's K, whose vector covers K2's, before K2.
    K2 reaches C only after the heal, and must still be loaded.

    RavenDB's loop would send K2 in the same batch as A's K (A's outgoing handler sends
    everything after its last sent etag that C's vector does not cover, relayed or not), so
    the arrival is staged directly: a vector can run ahead of what arrived in other ways (a
    resolved conflict merges the losers' entries into it)."""

    spec = {
        "name": "out-of-order",
        "seed": 1,
        "duration": "200 s",
        "blueprint": {
            "extends": "three-node",
            "externals": [{"name": "wh"}],
            "database": {"tasks": [{"kind": "sql_etl", "name": "t", "destination": "wh", "mentor": "C"}]},
        },
        "workload": {"rate": 1, "mix": {"read": 1.0, "write": 0.0}, "keys": 100},
    }
    world = World(scenario_from_dict(spec, source="<test>"))
    world.start()
    a, b, c = (world.node_by_tag[t] for t in "ABC")
    world.env.run(until=10)
    cut = {(b.index, c.index), (c.index, b.index), (a.index, c.index), (c.index, a.index)}
    world.network.set_layer("to-c", cut)
    b.instances[0].commit_local(6, 100.0, 900001)  # K2
    b.instances[0].commit_local(5, 100.0, 900002)  # K
    world.env.run(until=12)
    a.instances[0].commit_local(5, 100.0, 900003)  # A updates K: its vector carries B's entry
    c.instances[0].apply_incoming([a.instances[0].docs[5]], a.index)  # A's K reaches C ahead of K2
    world.env.run(until=20)
    rows = world.externals["wh"].rows("t")
    assert 6 not in c.instances[0].docs and rows[5].write_id == 900003
    world.network.set_layer("to-c", set())
    world.env.run(until=60)
    assert c.instances[0].docs[6].write_id == 900001
    assert rows[6].write_id == 900001  # loaded, though the progress vector covered it

"""Data subscriptions [spec §4.4, §5.1, §5.6, §1.8, §8.7, §8.12, §9 item 9]: workers follow
the task when its node dies, a partition makes two workers process the same batch, the
opening strategies, and no leader pauses the subscription."""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench import run, scenario_from_dict
from workbench.analysis.subscriptions import subscription_summary
from workbench.experiment import run_world
from workbench.model.assembly.world import World
from workbench.results import RunResult

NAME = "orders"


def _spec(faults: list[dict], duration: str, *, rate: float = 40, stop: str | None = None, **task: Any) -> dict:
    workload: dict[str, Any] = {
        "rate": rate,
        "mix": {"read": 0.5, "write": 0.5},
        "keys": 3000,
        "collections": {"orders": 0.6, "customers": 0.4},
    }
    if stop is not None:
        workload["stop"] = stop
    sub = {"kind": "subscription", "name": NAME, "collections": ["orders"], **task}
    return {
        "name": "subscription",
        "seed": 3,
        "duration": duration,
        "sample_interval": "5 s",
        "blueprint": {"extends": "three-node", "database": {"members": ["A", "B", "C"], "tasks": [sub]}},
        "clients": {"count": 2},
        "workload": workload,
        "faults": faults,
    }


def _simulate(spec: dict) -> tuple[World, RunResult]:
    world, result = run_world(scenario_from_dict(spec, source="<test>"))
    assert world is not None and result.ok, result.provenance["exception"]
    return world, result


def _events(result: RunResult, kind: str) -> pd.DataFrame:
    return result.events[result.events["kind"] == kind]


def _all_processed(world: World, tag: str) -> None:
    """Every order's current version on ``tag`` was processed at least once."""
    task = world.tasks.tasks[0]
    orders = {
        k: d for k, d in world.node_by_tag[tag].instances[0].docs.items() if world.keyspace.collection_of(k) == NAME
    }
    written = [d for d in orders.values() if d.write_id > 0]
    assert len(written) > 500, "the workload wrote orders"
    missing = [d.key for d in written if (d.key, d.write_id) not in task.times]
    assert not missing, f"{len(missing)} orders never processed"


def test_owner_killed_workers_follow_the_task_and_process_everything() -> None:
    """Spec §8.7, §5.1, §9 item 9: A runs the subscription and is killed at 30 s while the
    writer keeps writing. After the rehab grace (~60 s) B or C runs it; the worker,
    retrying every 5 s and redirected, follows it and resumes from the persisted progress."""
    spec = _spec([{"action": "crash", "node": "A", "at": "30 s"}], "3 min", stop="150 s", mentor="A")
    world, result = _simulate(spec)
    moved = _events(result, "task_moved")
    assert len(moved) == 1 and moved["node"].iloc[0] in ("B", "C")
    t_move, new_owner = float(moved["time_s"].iloc[0]), moved["node"].iloc[0]
    assert 85 <= t_move <= 95  # ~60 s grace after A went silent, plus observer tick and Raft
    # The worker's connection was reset at the crash; it retried every 5 s, was redirected to
    # A while the others still thought A owned it, and found the new owner soon after the move.
    disconnected = _events(result, "subscription_disconnected")
    assert float(disconnected["time_s"].iloc[0]) < 30.1 and "reset" in disconnected["detail"].iloc[0]
    retries = disconnected["time_s"].diff().dropna()
    assert (retries.between(4.99, 5.1)).all()
    assert (_events(result, "subscription_redirected")["time_s"] > 30).any()
    connected = _events(result, "subscription_connected")
    again = connected[connected["time_s"] > 30]
    assert list(again["node"]) == [new_owner]
    # At most two retries after the move: one may still try the dead A (refused) first.
    assert t_move < float(again["time_s"].iloc[0]) <= t_move + 10.1
    # Every order written, before, during and after the failover, was processed; duplicates
    # are only the batch in flight at the crash.
    _all_processed(world, new_owner)
    summary = subscription_summary(result)
    batches = _events(result, "subscription_batch")
    at_crash = batches[batches["time_s"] <= 30]["value"].iloc[-1]
    assert summary["duplicates"] <= at_crash
    assert summary["docs_processed"] == world.tasks.tasks[0].processed
    assert summary["gave_up"] == 0 and summary["ack_failed"] == 0
    # The failover gap: from the crash to the reconnection, about a minute and a few seconds.
    assert 60 <= summary["failover_gap_s"] <= 70
    assert 29 <= summary["failover_gap_from_s"] <= 31
    assert summary["lag_ms"]["p50"] < 100 and summary["lag_ms"]["max"] > 55_000


def test_partition_two_workers_process_the_same_batch_and_one_ack_fails() -> None:
    """Spec §8.12: A runs the subscription for worker1 (client1); worker2 (client2, WaitForFree)
    stands by. A partition cuts A and client1 off: A loses its leader, worker1 finishes the
    batch it holds but the acknowledgement fails and the connection aborts. The majority
    moves the task to B or C, where worker2 gets the same batch again."""
    faults = [{"action": "partition", "groups": [["A", "client1"], ["B", "C", "client2"]], "at": "60 s"}]
    # The worker is saturated (30 orders/s written, 25/s processed): a batch is always in flight.
    world, result = _simulate(
        _spec(
            faults,
            "4 min",
            rate=100,
            stop="90 s",
            mentor="A",
            workers=2,
            strategy="WaitForFree",
            processing_cost="40 ms",
        )
    )
    failed = _events(result, "subscription_ack_failed")
    assert len(failed) == 1 and failed["node"].iloc[0] == "A" and "no leader" in failed["detail"].iloc[0]
    t_fail = float(failed["time_s"].iloc[0])
    batches = _events(result, "subscription_batch")
    on_a = batches[(batches["node"] == "A") & (batches["time_s"] < t_fail)]
    last_on_a = on_a.iloc[-1]
    assert last_on_a["worker"] == "worker1" and last_on_a["time_s"] < 60 + 0.5
    # The batch's processing (40 ms a document), then the 15 s operation timeout of the command.
    processed_at = last_on_a["time_s"] + 0.04 * last_on_a["value"]
    assert 75 <= t_fail <= processed_at + 15.5
    # worker1's connection aborted; it never processes on A again while cut off.
    assert not ((batches["node"] == "A") & (batches["time_s"] > t_fail)).any()
    # worker2 connects to the new owner and processes the same batch again.
    moved = _events(result, "task_moved")
    new_owner = moved["node"].iloc[0]
    after = batches[(batches["node"] == new_owner) & (batches["time_s"] > 60)].iloc[0]
    assert after["worker"] == "worker2"
    dups = _events(result, "subscription_duplicates")
    first = dups[dups["time_s"] >= after["time_s"]].iloc[0]
    assert first["node"] == new_owner and 0 < first["value"] <= last_on_a["value"]
    assert subscription_summary(result)["duplicates"] >= first["value"]
    _all_processed(world, new_owner)


def _strategies(*strategies: str, faults: tuple = ()) -> RunResult:
    spec = _spec(list(faults), "90 s", rate=20, mentor="A", workers=len(strategies), worker_strategies=list(strategies))
    return run(scenario_from_dict(spec, source="<test>"))


def _batch_workers(result: RunResult) -> list[str]:
    return list(_events(result, "subscription_batch")["worker"])


def test_open_if_free_refuses_a_second_worker() -> None:
    result = _strategies("OpenIfFree", "OpenIfFree")
    refused = _events(result, "subscription_refused")
    assert len(refused) == 1 and "worker2 (OpenIfFree) ends" in refused["detail"].iloc[0]
    assert set(_batch_workers(result)) == {"worker1"}


def test_take_over_evicts_the_holder_and_a_second_take_over_loses() -> None:
    result = _strategies("OpenIfFree", "TakeOver")
    evicted = _events(result, "subscription_evicted")
    assert len(evicted) == 1 and "worker1 evicted on A by worker2" in evicted["detail"].iloc[0]
    t = float(evicted["time_s"].iloc[0])
    assert 1.0 <= t < 1.1  # worker2 starts 1 s after worker1
    batches = _events(result, "subscription_batch")
    late = batches[batches["time_s"] > t + 1]
    assert set(late["worker"]) == {"worker2"}
    # A TakeOver holder is not evicted by another TakeOver: the newcomer loses.
    result = _strategies("TakeOver", "TakeOver")
    assert _events(result, "subscription_evicted").empty
    refused = _events(result, "subscription_refused")
    assert len(refused) == 1 and "worker2 (TakeOver) ends" in refused["detail"].iloc[0]
    assert set(_batch_workers(result)) == {"worker1"}


def test_wait_for_free_takes_over_when_the_holder_goes_away() -> None:
    """worker1 holds the subscription; worker2 waits (hot standby). client1 is cut off at
    20 s: after the connection's stream timeout (30 s) the node drops it and worker2's next
    retry (every 5 s) gets it."""
    cut = ({"action": "partition", "groups": [["client1"]], "at": "20 s"},)
    result = _strategies("WaitForFree", "WaitForFree", faults=cut)
    refused = _events(result, "subscription_refused")
    assert len(refused) == 1 and "worker2 waits" in refused["detail"].iloc[0]  # once per stretch of waiting
    connected = _events(result, "subscription_connected")
    assert list(connected["worker"]) == ["worker1", "worker2"]
    t = float(connected["time_s"].iloc[1])
    assert 50 <= t <= 55.1
    batches = _events(result, "subscription_batch")
    assert set(batches[batches["time_s"] < 20]["worker"]) == {"worker1"}
    assert set(batches[batches["time_s"] > t]["worker"]) == {"worker2"}
    # Without the cut, worker2 never gets it.
    assert set(_batch_workers(_strategies("WaitForFree", "WaitForFree"))) == {"worker1"}


def test_no_leader_pauses_the_subscription() -> None:
    """Spec §1.8: B runs the subscription; A and C are down from 30 s to 70 s, so B has no
    leader. The task pauses: the acknowledgement of the batch in flight fails and the worker
    gets no batch until a leader is back; then it resumes and processes everything."""
    faults = [
        {"action": "crash", "node": "A", "at": "30 s", "duration": "40 s"},
        {"action": "crash", "node": "C", "at": "30 s", "duration": "40 s"},
    ]
    world, result = _simulate(_spec(faults, "3 min", rate=60, stop="100 s", mentor="B", processing_cost="40 ms"))
    paused = _events(result, "task_paused")
    assert len(paused) == 1 and paused["node"].iloc[0] == "B" and 30 < paused["time_s"].iloc[0] < 31
    failed = _events(result, "subscription_ack_failed")
    assert len(failed) == 1 and failed["node"].iloc[0] == "B"
    resumed = float(_events(result, "task_resumed")["time_s"].iloc[0])
    assert resumed > 70
    batches = _events(result, "subscription_batch")
    assert not batches["time_s"].between(31, resumed).any()
    assert (batches["time_s"] > resumed).any()
    _all_processed(world, "B")
    summary = subscription_summary(result)
    assert summary["failover_gap_s"] >= 39

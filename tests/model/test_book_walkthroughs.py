"""The book's failure walk-throughs [spec §8], as shipped in scenarios/: each run shows
what its description says the book expects."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from workbench import load_scenario, run
from workbench.analysis.summary import all_succeeded

SCENARIOS = Path(__file__).parents[2] / "scenarios"


@cache
def _run(name: str):
    return run(load_scenario(SCENARIOS / f"{name}.yaml"))


def _events(result, kind: str):
    return result.events[result.events["kind"] == kind]


def test_preferred_node_failure():
    result = _run("preferred-node-failure")
    ops = result.ops
    assert all_succeeded(ops)
    # Every client fails over to the same first alternate.
    writes = ops[(ops["kind"] == "write") & (ops["start_s"] > 30.05) & (ops["start_s"] < 90.0)]
    assert set(writes["node"]) == {"B"} and writes["client"].nunique() == 8
    rotated = _events(result, "preferred_rotated")
    assert rotated["detail"].str.startswith("A ").all() and 35.0 < rotated["time_s"].iloc[0] < 37.0
    rehab = _events(result, "moved_to_rehab")
    assert rehab["detail"].str.startswith("A ").all() and 90.0 < rehab["time_s"].iloc[0] < 92.0
    promoted = _events(result, "promoted")
    assert promoted["time_s"].iloc[0] > 120.0
    # A rejoins at the bottom: the preferred node does not flap back.
    last = _events(result, "topology_changed")["detail"].iloc[-1]
    assert last.startswith("members B, C, A")


def test_cascading_rehab():
    result = _run("cascading-rehab")
    summary = result.summary()
    assert summary["availability"]["write"] == 1.0 and summary["availability"]["read"] == 1.0
    forced = _events(result, "forced_promotion")
    assert len(forced) == 1 and forced["time_s"].iloc[0] > 160.0
    assert summary["writes_missing_after_forced_promotion"] > 1000
    # Served by B, the rehab, as a last resort while A is down.
    ops = result.ops
    assert set(ops[(ops["start_s"] > 100.1) & (ops["start_s"] < 200.0)]["node"]) == {"B"}
    # A's unreplicated writes meet B's newer ones when A returns.
    assert summary["lost_writes_by_cause"].get("conflict resolution", 0) > 0


def test_geo_split():
    result = _run("geo-split")
    # London keeps the cluster: no election at all, the leader stays in London.
    elected = _events(result, "leader_elected")
    assert list(elected["node"]) == ["A"] and result.summary()["cluster"]["availability"] == 1.0
    ops = result.ops
    cut = ops[(ops["start_s"] > 36.0) & (ops["start_s"] < 85.0) & ops["client"].isin(["client3", "client4"])]
    documents = cut[cut["kind"].isin(["read", "write"])]
    served = documents[documents["outcome"] == "ok"]
    assert (served["node"] == "C").all() and len(served) / len(documents) > 0.75
    # The rest: each cluster operation that times out at the client (2 s) marks C failed for
    # a moment (until its next health check), and a request in that moment finds no node.
    assert set(documents["outcome"]) <= {"ok", "all_nodes_down"}
    cluster_ops = cut[cut["kind"].isin(["cluster_tx", "compare_exchange"])]
    assert len(cluster_ops) > 20 and not (cluster_ops["outcome"] == "ok").any()
    london = ops[(ops["start_s"] > 31.0) & (ops["start_s"] < 88.0) & ops["client"].isin(["client1", "client2"])]
    assert all_succeeded(london)
    assert result.summary()["conflicts"]["total"] > 0


def test_loss_of_majority():
    result = _run("loss-of-majority")
    summary = result.summary()
    assert summary["availability"]["read"] == 1.0 and summary["availability"]["write"] == 1.0
    assert summary["cluster"]["leaderless_seconds"] == pytest.approx(60.0, abs=1.5)
    ops = result.ops
    cluster_ops = ops[ops["kind"].isin(["cluster_tx", "compare_exchange"])]
    stranded = cluster_ops[(cluster_ops["start_s"] > 30.5) & (cluster_ops["start_s"] < 74.0)]
    assert len(stranded) > 50 and (stranded["outcome"] == "timeout").all()
    assert (stranded["latency_ms"] > 14_900).all()  # the 15 s operation timeout
    assert all_succeeded(cluster_ops[cluster_ops["start_s"] > 92.0])


def test_planned_maintenance_with_draining_avoids_client_errors():
    plain = _run("planned-maintenance").summary()["ops"]
    drained = _run("planned-maintenance-drained").summary()["ops"]
    assert plain["failed_requests"] > 0 and drained["failed_requests"] == 0

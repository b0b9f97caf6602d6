"""Conflicts: the book's walk-through [spec §8.5] with resolve-to-latest and clock skew."""

from __future__ import annotations

import pytest

from workbench import run
from workbench.analysis.summary import all_succeeded
from workbench.errors import WorkbenchInputError


def _walkthrough(make_scenario, skew_a: str = "0 s", conflicts: dict | None = None, workload: dict | None = None):
    """Kill B, edit the document on A, kill A, start B, edit it on B, start A."""
    nodes = [
        {"tag": "A", "datacenter": "dc1", "clock_skew": skew_a},
        {"tag": "B", "datacenter": "dc1"},
        {"tag": "C", "datacenter": "dc1"},
    ]
    return run(
        make_scenario(
            duration="60 s",
            blueprint={
                "extends": "three-node",
                "nodes": nodes,
                "database": {"members": ["A", "B"], "replication_factor": 2, "conflicts": conflicts or {}},
            },
            clients={"count": 1},
            workload=workload or {"rate": 2, "keys": 1, "mix": {"read": 0.0, "write": 1.0}, "stop": "19 s"},
            faults=[
                {"at": "5 s", "action": "crash", "node": "B"},
                {"at": "10 s", "action": "crash", "node": "A"},
                {"at": "11 s", "action": "restart", "node": "B"},
                {"at": "20 s", "action": "restart", "node": "A"},
            ],
        )
    )


def _last_write_on(result, node: str) -> int:
    writes = result.ops[(result.ops["kind"] == "write") & (result.ops["outcome"] == "ok")]
    return int(writes[writes["node"] == node].sort_values("end_s")["version"].iloc[-1])


def test_resolve_to_latest_keeps_the_later_edit_and_counts_one_lost_write(make_scenario):
    result = _walkthrough(make_scenario)
    conflicts = result.summary()["conflicts"]
    assert conflicts["total"] == 1 and conflicts["resolved_latest"] == 1
    assert conflicts["lost_acknowledged"] == 1
    detail = result.events.loc[result.events["kind"] == "conflict", "detail"].iloc[0]
    # B's edit (made later) beats A's last edit.
    assert detail.startswith(f"key 0: write {_last_write_on(result, 'B')} beat {_last_write_on(result, 'A')}")


def test_clock_skew_makes_the_earlier_edit_win(make_scenario):
    """A's clock is an hour fast, so its older edit looks 'latest' [spec §3.5]."""
    result = _walkthrough(make_scenario, skew_a="1 h")
    detail = result.events.loc[result.events["kind"] == "conflict", "detail"].iloc[0]
    assert detail.startswith(f"key 0: write {_last_write_on(result, 'A')} beat {_last_write_on(result, 'B')}")
    assert result.summary()["conflicts"]["lost_acknowledged"] == 1


def test_manual_resolution_leaves_the_document_conflicted_until_a_write(make_scenario):
    """Without resolve-to-latest, reads answer 409 (outcome ``conflict``) from the moment
    the two versions meet until the next write replaces the conflicted document."""
    result = _walkthrough(
        make_scenario,
        conflicts={"resolve_to_latest": False},
        workload={"rate": 2, "keys": 1, "mix": {"read": 0.8, "write": 0.2}},
    )
    events, ops = result.events, result.ops
    conflict_at = events.loc[events["kind"] == "conflict", "time_s"].min()
    resolved_at = events.loc[events["kind"] == "conflict_resolved", "time_s"].min()
    assert conflict_at < resolved_at
    refused = ops[ops["outcome"] == "conflict"]
    assert len(refused) > 0 and set(refused["kind"]) == {"read"}
    # Every 409 was answered while the document was conflicted, and no read before or after got one.
    assert refused["end_s"].min() >= conflict_at and refused["start_s"].max() <= resolved_at
    reads = ops[ops["kind"] == "read"]
    assert all_succeeded(reads.loc[reads["start_s"] > resolved_at + 1.0])
    summary = result.summary()
    assert summary["conflicts"]["manual"] >= 1 and summary["conflicts"]["resolved_latest"] == 0
    assert summary["conflicts"]["lost_acknowledged"] == 0 and summary["conflicts"]["resolved_manually"] >= 1
    assert summary["ops"]["conflict"] == len(refused)
    assert events.loc[events["kind"] == "conflict", "detail"].str.endswith("(manual)").all()


def test_resolver_script_merges_both_edits_after_its_run_time(make_scenario):
    """A collection's script merges the versions: both edits survive, and the batch that
    met the conflict is applied only after the script has run."""
    quick = _walkthrough(make_scenario, conflicts={"scripts": {"docs": "0 s"}})
    slow = _walkthrough(make_scenario, conflicts={"scripts": {"docs": "2 s"}})
    for result in (quick, slow):
        conflicts = result.summary()["conflicts"]
        assert conflicts["total"] == 1 and conflicts["resolved_script"] == 1
        assert conflicts["lost_acknowledged"] == 0 and result.summary()["lost_writes"] == 0
    # Common random numbers: the same conflict, met 2 s later because the script ran first.
    met = [r.events.loc[r.events["kind"] == "conflict", "time_s"].min() for r in (quick, slow)]
    assert 2.0 <= met[1] - met[0] < 2.05


def test_script_for_an_unknown_collection_is_rejected(make_scenario):
    with pytest.raises(WorkbenchInputError, match="no collection 'cart'") as err:
        make_scenario(blueprint={"database": {"conflicts": {"scripts": {"cart": "1 ms"}}}})
    assert err.value.path == "blueprint.database.conflicts.scripts.cart"

"""Conflicts: the book's walk-through [spec §8.5] with resolve-to-latest and clock skew."""

from __future__ import annotations

from workbench import run


def _walkthrough(make_scenario, skew_a: str = "0 s"):
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
                "database": {"members": ["A", "B"], "replication_factor": 2},
            },
            clients={"count": 1},
            workload={"rate": 2, "keys": 1, "mix": {"read": 0.0, "write": 1.0}, "stop": "19 s"},
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

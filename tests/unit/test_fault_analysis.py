"""The per-fault table (RTO, RPO, client errors, latency recovery) on hand-built tables with known answers."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from workbench import run
from workbench.analysis.faults import FAULT_COLUMNS, fault_summary, fault_table
from workbench.results import OPS_COLUMNS, events_table


def _op(start: float, end: float, client: str = "client1", outcome: str = "ok", attempts: int = 1) -> dict[str, Any]:
    return {
        "start_s": start,
        "end_s": end,
        "latency_ms": (end - start) * 1e3,
        "kind": "write",
        "key": 1,
        "client": client,
        "session": 1,
        "node": "B",
        "attempts": attempts,
        "outcome": outcome,
        "version": 0,
        "stale": False,
        "ryw_violation": False,
    }


def _ops(*rows: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=OPS_COLUMNS)


def _ev(time_s: float, kind: str, node: str | None = None, value: float | None = None, **fields: Any) -> tuple:
    return (time_s, kind, node, None, value, fields)


def _events(*rows: tuple) -> pd.DataFrame:
    return events_table(rows, "db")


def _start(time_s: float, fid: int, action: str, target: str, node: str | None = None, **flags: bool) -> tuple:
    """What the model writes when fault ``fid`` hits (see workbench.model.faults.faults)."""
    return _ev(time_s, "fault_started", node, float(fid), action=action, target=target, fault_id=fid, **flags)


def _end(time_s: float, fid: int, node: str | None = None) -> tuple:
    return _ev(time_s, "fault_ended", node, float(fid), fault_id=fid)


def _rpo(time_s: float, fid: int, writes: float, seconds: float) -> list[tuple]:
    return [
        _ev(time_s, "rpo_writes", value=writes, fault_id=fid),
        _ev(time_s, "rpo_seconds", value=seconds, fault_id=fid),
    ]


CRASH_A = _events(
    _ev(1.0, "leader_elected", "A", bootstrap=True),
    _ev(5.0, "node_crashed", "A", reason="target A", disk_lost=False, silent=False),
    _start(5.0, 1, "crash", "A", "A"),
)


def test_a_failover_that_ended_ok_is_the_recovery():
    ops = _ops(
        _op(4.0, 4.001),
        _op(4.999, 5.05, attempts=2),  # in flight at the crash, failed over to B
        _op(5.1, 5.101),
        _op(5.2, 5.201, client="client2"),  # never disrupted: not affected
    )
    row = fault_table(ops, CRASH_A, end_s=10.0).iloc[0]
    assert (row["fault"], row["target"]) == ("crash", "A")
    assert row["rto_s"] == pytest.approx(0.05)
    assert row["affected_clients"] == 1
    assert row["client_errors"] == 0
    assert row["recovered"]


def test_rto_waits_for_every_affected_client_to_succeed_after_its_first_error():
    ops = _ops(
        _op(4.999, 5.05, attempts=2),
        _op(5.0, 5.02, client="client2"),  # succeeded before client2 saw the fault: does not count
        _op(5.05, 5.1, client="client2", outcome="failed"),
        _op(5.2, 5.3, client="client2", outcome="timeout"),
        _op(5.7, 5.8, client="client2"),
        _op(5.1, 5.2, client="client3", outcome="all_nodes_down"),
        _op(5.3, 5.4, client="client3", outcome="conflict"),  # a 409 is an answer from a live node
    )
    row = fault_table(ops, CRASH_A, end_s=10.0).iloc[0]
    assert row["rto_s"] == pytest.approx(0.8)
    assert row["affected_clients"] == 3
    assert row["client_errors"] == 3
    assert row["recovered"]


def test_an_op_that_ended_as_the_fault_fired_was_not_disrupted():
    ops = _ops(_op(4.9, 5.0, outcome="failed"), _op(5.5, 5.6))
    row = fault_table(ops, CRASH_A, end_s=10.0).iloc[0]
    assert row["affected_clients"] == 0
    assert row["rto_s"] == 0.0
    assert row["recovered"]
    assert row["client_errors"] == 1  # it ended inside the window all the same


def test_a_client_that_never_succeeds_again_leaves_the_fault_unrecovered():
    ops = _ops(
        _op(4.999, 5.05, attempts=2),
        _op(5.0, 5.5, client="client2", outcome="timeout"),
        _op(4.0, 4.1, client="client2"),
    )
    row = fault_table(ops, CRASH_A, end_s=10.0).iloc[0]
    assert math.isnan(row["rto_s"])
    assert not row["recovered"]
    assert row["affected_clients"] == 2


def test_a_crash_lasts_until_that_node_restarts_or_the_run_ends():
    events = _events(
        _start(2.0, 1, "crash", "A"),
        _start(3.0, 2, "crash", "B"),
        _end(4.0, 2),
        _end(6.0, 1),
        _start(7.0, 3, "crash", "C"),
    )
    table = fault_table(_ops(), events, end_s=10.0)
    assert table[["target", "start_s", "end_s", "duration_s"]].values.tolist() == [
        ["A", 2.0, 6.0, 4.0],
        ["B", 3.0, 4.0, 1.0],
        ["C", 7.0, 10.0, 3.0],
    ]
    # Each window runs to the next fault, not to the fault's own end.
    assert table["window_end_s"].tolist() == [3.0, 7.0, 10.0]


def test_a_new_partition_replaces_the_one_before():
    # The model ends a partition when another replaces it.
    events = _events(
        _start(2.0, 1, "partition", "A | B,C"),
        _end(4.0, 1),
        _start(4.0, 2, "partition", "B | A,C"),
        _end(6.0, 2),
        _start(8.0, 3, "partition", "C | A,B"),
    )
    ops = _ops(_op(2.5, 3.0, outcome="failed"), _op(4.5, 5.0, outcome="failed"), _op(5.5, 6.5, outcome="failed"))
    table = fault_table(ops, events, end_s=10.0)
    assert table["fault"].tolist() == ["partition"] * 3
    assert table[["target", "start_s", "end_s"]].values.tolist() == [
        ["A | B,C", 2.0, 4.0],
        ["B | A,C", 4.0, 6.0],
        ["C | A,B", 8.0, 10.0],
    ]
    assert table["client_errors"].tolist() == [1, 2, 0]


def test_faults_at_the_same_instant_share_their_window():
    events = _events(_start(5.0, 1, "crash", "A"), _start(5.0, 2, "crash", "B"))
    ops = _ops(_op(5.1, 5.2, outcome="failed"), _op(5.3, 5.4))
    table = fault_table(ops, events, end_s=10.0)
    assert table["window_end_s"].tolist() == [10.0, 10.0]
    assert table["client_errors"].tolist() == [1, 1]
    assert table["rto_s"].tolist() == pytest.approx([0.4, 0.4])


def test_rpo_comes_from_the_events_written_with_the_fault():
    events = _events(
        _start(5.0, 1, "crash", "A"),
        *_rpo(5.0, 1, 3.0, 0.25),
        _start(5.0, 2, "crash", "B"),
        *_rpo(5.0, 2, 1.0, 0.0),
        _start(6.0, 3, "partition", "C | A,B"),
        *_rpo(6.0, 3, 0.0, 0.0),
        _start(7.0, 4, "slow_disk", "C"),  # puts no data at risk: no RPO
    )
    table = fault_table(_ops(), events, end_s=10.0)
    assert table["rpo_writes"].tolist() == [3, 1, 0, None]
    assert table["rpo_seconds"].tolist() == [0.25, 0.0, 0.0, None]


def test_how_a_node_failed_is_part_of_the_fault_or_of_its_target():
    events = _events(
        _start(1.0, 1, "crash", "A", disk_lost=True),
        _start(2.0, 2, "crash", "B", silent=True),
        _start(3.0, 3, "crash", "C", disk_lost=True, silent=True),
        _start(4.0, 4, "random failure", "D", disk_lost=True),
        _start(5.0, 5, "rolling restart", "E"),
    )
    table = fault_table(_ops(), events, end_s=10.0)
    assert table[["fault", "target"]].values.tolist() == [
        ["crash (disk lost)", "A"],
        ["crash", "(silent) B"],
        ["crash (disk lost)", "(silent) C"],
        ["random failure", "(disk lost) D"],
        ["rolling restart", "E"],
    ]
    detail = events.loc[events["kind"] == "fault_started", "detail"].tolist()
    assert detail == [
        "crash (disk lost) A",
        "crash (silent) B",
        "crash (disk lost) (silent) C",
        "random failure (disk lost) D",
        "rolling restart E",
    ]


def test_no_faults_gives_an_empty_table_with_the_columns():
    quiet = _events(_ev(1.0, "leader_elected", "A", bootstrap=True))
    for events in (quiet, _events(), pd.DataFrame()):
        table = fault_table(_ops(_op(1.0, 1.1)), events, end_s=10.0)
        assert table.empty
        assert list(table.columns) == FAULT_COLUMNS
    assert fault_summary(_ops(), _events(), 10.0) == []


def test_a_fault_with_no_ops_at_all():
    row = fault_table(_ops(), CRASH_A, end_s=10.0).iloc[0]
    assert (row["client_errors"], row["affected_clients"], row["rto_s"], row["recovered"]) == (0, 0, 0.0, True)
    assert row["p99_recovery_s"] is None
    assert row["rpo_writes"] is None


def _steady(t0: float, t1: float, latency_s: float, rate: float = 100.0) -> list[dict[str, Any]]:
    starts = np.arange(t0, t1, 1.0 / rate)
    return [_op(float(s), float(s) + latency_s) for s in starts]


def test_p99_recovery_is_the_first_window_back_within_tolerance():
    ops = _ops(*_steady(0.0, 5.0, 0.001), *_steady(5.0, 7.0, 0.05), *_steady(7.0, 10.0, 0.0011))
    row = fault_table(ops, CRASH_A, end_s=10.0).iloc[0]
    assert row["p99_recovery_s"] == pytest.approx(2.0)
    # Never back within tolerance: NaN; no baseline: None.
    slow = _ops(*_steady(0.0, 5.0, 0.001), *_steady(5.0, 10.0, 0.05))
    assert math.isnan(fault_table(slow, CRASH_A, end_s=10.0).iloc[0]["p99_recovery_s"])
    late = _ops(*_steady(5.0, 10.0, 0.001))
    assert fault_table(late, CRASH_A, end_s=10.0).iloc[0]["p99_recovery_s"] is None
    # Tighter tolerance than the recovered latency (1.1 ms against 1 ms): never recovered.
    tight = fault_table(ops, CRASH_A, end_s=10.0, tolerance=1.05).iloc[0]["p99_recovery_s"]
    assert math.isnan(tight)


def test_fault_summary_is_json_ready():
    ops = _ops(_op(4.999, 5.0501234567, attempts=2), _op(5.0, 5.5, client="client2", outcome="timeout"))
    rows = fault_summary(ops, CRASH_A, 10.0)
    json.dumps(rows, allow_nan=False)
    (row,) = rows
    assert row["rto_s"] is None
    assert row["recovered"] is False
    assert row["affected_clients"] == 2
    assert row["start_s"] == 5.0
    assert row["p99_recovery_s"] is None
    rows = fault_summary(_ops(_op(4.999, 5.0501234567, attempts=2)), CRASH_A, 10.0)
    assert rows[0]["rto_s"] == 0.0501


def test_a_real_crash_of_the_preferred_node_shows_a_finite_rto(make_scenario):
    scenario = make_scenario(
        duration="6 s",
        workload={"rate": 100, "mix": {"read": 0.5, "write": 0.5}},
        faults=[{"at": "3 s", "action": "crash", "node": "preferred"}],
    )
    result = run(scenario)
    assert result.ok, result.provenance["exception"]
    table = fault_table(result.ops, result.events, result.provenance["sim_seconds"])
    crashes = table[table["fault"] == "crash"]
    assert len(crashes) == 1
    row = crashes.iloc[0]
    assert row["start_s"] == pytest.approx(3.0)
    assert row["affected_clients"] > 0
    assert row["recovered"]
    assert 0.0 < row["rto_s"] < 3.0
    json.dumps(fault_summary(result.ops, result.events, result.provenance["sim_seconds"]), allow_nan=False)

"""The summary's schema (workbench.results.summary): a real summary conforms, and the check
that says so fails when a key goes missing, appears unannounced or changes its type. The
summaries of the shipped scenarios with tasks, and of deployments, are checked where those
run (tests/test_task_summaries.py, tests/model/test_deployments.py)."""

from __future__ import annotations

import copy
import json
import typing

from workbench import run
from workbench.analysis.subscriptions import COUNTED
from workbench.results.summary import FaultRow, SubscriptionSummary, Summary, mismatches


def test_a_run_with_faults_conforms_to_the_schema(make_scenario) -> None:
    faults = [
        {"at": "2 s", "action": "crash", "node": "B", "duration": "2 s"},
        {"at": "5 s", "action": "partition", "groups": [["A"], ["B", "C"]], "duration": "2 s"},
    ]
    summary = run(make_scenario(duration="8 s", warmup="1 s", faults=faults)).summary()
    assert mismatches(summary) == []
    assert summary["faults"] and all(mismatches(row, FaultRow) == [] for row in summary["faults"])
    # Its keys in the schema's order (summary.json's order), and nothing the JSON cannot hold.
    assert list(summary) == [k for k in typing.get_type_hints(Summary) if k in summary]
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary


def test_the_check_finds_a_missing_key_an_unknown_one_and_a_wrong_type(make_scenario) -> None:
    summary = run(make_scenario(duration="2 s")).summary()
    broken = copy.deepcopy(summary)
    del broken["ops"]["stalled"]
    broken["cluster"]["elections"] = "3"
    broken["latency_ms"]["read"]["p99"] = True  # a yes/no is not a number
    broken["surprise"] = 1
    assert mismatches(broken) == [
        "summary: unexpected surprise (Summary)",
        "summary.ops: missing stalled (OpCounts)",
        "summary.latency_ms.read.p99: True is none of float | NoneType "
        "(summary.latency_ms.read.p99: True is not a number; summary.latency_ms.read.p99: True is not None)",
        "summary.cluster.elections: '3' is not int",
    ]


def test_the_subscription_counts_are_the_connection_events_counted() -> None:
    counts = {kind.removeprefix("subscription_") for kind in COUNTED}
    assert counts <= set(typing.get_type_hints(SubscriptionSummary))

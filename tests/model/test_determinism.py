"""Same scenario and seed, same result; another seed, another result."""

from __future__ import annotations

import pandas as pd

from workbench import run


def test_same_seed_gives_identical_ops_table(make_scenario):
    scenario = make_scenario(faults=[{"at": "3 s", "action": "crash", "node": "A"}])
    first, second = run(scenario), run(scenario)
    assert first.ok and second.ok
    assert len(first.ops) > 1000
    pd.testing.assert_frame_equal(first.ops, second.ops)
    pd.testing.assert_frame_equal(first.replication, second.replication)
    pd.testing.assert_frame_equal(first.events, second.events)


def test_another_seed_gives_a_different_ops_table(make_scenario):
    a = run(make_scenario(seed=1)).ops
    b = run(make_scenario(seed=2)).ops
    assert not a.equals(b)


def test_fault_plan_does_not_reshuffle_the_workload(make_scenario):
    """Named streams: adding a fault leaves the arrivals, kinds and keys unchanged."""
    calm = run(make_scenario()).ops.sort_values("start_s", kind="stable")
    faulty = run(make_scenario(faults=[{"at": "5 s", "action": "crash", "node": "C"}])).ops
    faulty = faulty.sort_values("start_s", kind="stable")
    cols = ["start_s", "kind", "key", "client"]
    pd.testing.assert_frame_equal(calm[cols].reset_index(drop=True), faulty[cols].reset_index(drop=True))


def test_blueprints_compared_side_by_side_see_the_same_arrivals(make_scenario):
    """Common random numbers: a different topology, the same operations."""
    three = run(make_scenario(blueprint={"extends": "three-node"})).ops.sort_values("start_s", kind="stable")
    five = run(make_scenario(blueprint={"extends": "five-node", "database": {"members": None}})).ops.sort_values(
        "start_s", kind="stable"
    )
    cols = ["start_s", "kind", "key"]
    pd.testing.assert_frame_equal(three[cols].reset_index(drop=True), five[cols].reset_index(drop=True))

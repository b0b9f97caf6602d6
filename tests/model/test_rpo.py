"""RPO per fault: acknowledged writes on no surviving member when the fault hits."""

from __future__ import annotations

from workbench import run


def test_crash_after_a_partition_puts_the_isolated_writes_at_risk(make_scenario):
    """A is cut off from B and C at 5 s but clients still reach it; at 8 s A crashes.
    Everything acknowledged on A in between exists only on A."""
    result = run(
        make_scenario(
            duration="12 s",
            workload={"rate": 200, "mix": {"read": 0.5, "write": 0.5}},
            faults=[
                {"at": "5 s", "action": "partition", "groups": [["A"], ["B", "C"]]},
                {"at": "8 s", "action": "crash", "node": "A"},
            ],
        )
    )
    ops = result.ops
    isolated = ops[(ops["kind"] == "write") & (ops["outcome"] == "ok") & (ops["node"] == "A")]
    isolated = isolated[(isolated["end_s"] > 5.0) & (isolated["end_s"] < 8.0)]
    faults = {f["fault"]: f for f in result.summary()["faults"]}
    crash = faults["crash"]
    assert crash["target"] == "A"
    # Writes acknowledged just before the partition may still have been in flight to B and C.
    assert len(isolated) <= crash["rpo_writes"] <= len(isolated) + 3
    assert 2.9 <= crash["rpo_seconds"] <= 3.05
    # At the partition itself, the majority side (B, C) missed only what was in flight.
    assert faults["partition"]["rpo_writes"] <= 3 and faults["partition"]["rpo_seconds"] < 0.05


def test_crash_of_a_fully_replicated_node_risks_nothing(make_scenario):
    result = run(
        make_scenario(duration="6 s", workload={"rate": 20}, faults=[{"at": "3 s", "action": "crash", "node": "C"}])
    )
    (crash,) = result.summary()["faults"]
    assert crash["rpo_writes"] == 0 and crash["rpo_seconds"] == 0.0

"""The tables' schema (workbench.model.recording.tables): every column and dtype of what a run records,
checked on the tables of a run, of a run that failed before its model was built, and of
results read back from disk. A deployment's are checked in tests/model/test_deployments.py."""

from __future__ import annotations

import pandas as pd

from workbench import RunResult, run
from workbench.model.assembly import world as world_module
from workbench.model.recording.events import FIELDS
from workbench.model.recording.tables import OPS, TABLES, mismatches


def test_tables_match_their_documented_schema(make_scenario, monkeypatch, tmp_path):
    """workbench.model.recording.tables describes every column and dtype: a run's tables, those read back
    from disk, and those of a run that failed before its model was built (no rows) all match."""
    result = run(make_scenario(duration="2 s", faults=[{"at": "1 s", "action": "crash", "node": "B"}]))
    back = RunResult.from_dir(result.to_dir(tmp_path / "run"))
    assert [c.name for c in OPS] == [
        "start_s", "end_s", "latency_ms", "kind", "key", "client", "session",
        "node", "attempts", "outcome", "version", "stale", "ryw_violation", "database",
    ]  # fmt: skip
    assert [c.name for c in TABLES["events"]] == [
        "time_s", "kind", "node", "term", "database", "detail", "value", *FIELDS
    ]  # fmt: skip

    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(world_module.World, "__init__", explode)
    failed = run(make_scenario(duration="2 s"))
    assert not failed.ok and failed.ops.empty and failed.events.empty
    for each in (result, back, failed):
        for name in TABLES:
            assert mismatches(name, getattr(each, name)) == []
    assert set(result.timeseries["metric"].unique()) >= {"up", "cpu_utilisation", "cpu_queue", "unacked_writes"}


def test_a_table_that_drifts_from_its_schema_is_reported(make_scenario):
    result = run(make_scenario(duration="1 s"))
    assert mismatches("ops", result.ops.astype({"attempts": "int64"})) == ["ops.attempts: dtype int64, expected int8"]
    assert "columns differ" in mismatches("ops", result.ops.drop(columns="session"))[0]
    # A deployment's tables have a cluster column first, and are otherwise the same.
    assert mismatches("ops", result.ops.assign(cluster="hq").astype({"cluster": "category"})) != []
    with_cluster = result.ops.copy()
    with_cluster.insert(0, "cluster", pd.Categorical(["hq"] * len(with_cluster)))
    assert mismatches("ops", with_cluster) == []

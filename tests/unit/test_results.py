"""RunResult: tables, provenance, and the parquet round trip."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from workbench import RunResult, run
from workbench.model.assembly import world as world_module
from workbench.model.recording.events import FIELDS
from workbench.results import NoScenario
from workbench.scenario import Scenario


def test_round_trip_through_a_directory(make_scenario, tmp_path):
    result = run(make_scenario(duration="3 s", faults=[{"at": "1 s", "action": "crash", "node": "B"}]))
    result.to_dir(tmp_path / "run")
    files = {p.name for p in (tmp_path / "run").iterdir()}
    assert {"ops.parquet", "events.parquet", "timeseries.parquet", "replication.parquet"} <= files
    assert {"summary.json", "provenance.json"} <= files
    back = RunResult.from_dir(tmp_path / "run")
    for name in ("ops", "events", "timeseries", "replication"):
        pd.testing.assert_frame_equal(getattr(result, name), getattr(back, name))
    assert back.provenance["seed"] == result.provenance["seed"]
    assert back.summary() == json.loads((tmp_path / "run" / "summary.json").read_text())


def test_the_typed_scenario_is_rebuilt_once_from_the_provenance(make_scenario, tmp_path):
    scenario = make_scenario(duration="2 s", warmup="500 ms", clients={"deadline": "3 s"})
    result = run(scenario)
    spec = result.spec
    assert isinstance(spec, Scenario) and spec is result.spec  # built once
    assert (spec.duration, spec.warmup, spec.clients.deadline, spec.clients.request_timeout) == (2.0, 0.5, 3.0, 2.0)
    assert spec.model_dump(mode="json") == scenario.model_dump(mode="json") == result.scenario
    back = RunResult.from_dir(result.to_dir(tmp_path / "run"))
    assert back.spec.model_dump(mode="json") == result.scenario
    assert back.summary()["warmup_seconds"] == 0.5


def test_a_result_without_a_scenario_says_so():
    empty = pd.DataFrame()
    result = RunResult(ops=empty, events=empty, timeseries=empty, replication=empty, provenance={})
    with pytest.raises(NoScenario, match="records no scenario"):
        _ = result.spec


def test_provenance_records_the_resolved_scenario_and_versions(make_scenario):
    scenario = make_scenario(duration="2 s")
    result = run(scenario)
    prov = result.provenance
    assert prov["scenario"] == scenario.model_dump(mode="json")
    assert prov["exception"] is None and result.ok
    assert prov["environment"]["workbench"]
    assert prov["sim_seconds"] == 2.0 and prov["wall_seconds"] > 0 and prov["events_processed"] > 0


def test_a_failed_run_still_returns_its_provenance(make_scenario, monkeypatch):
    def explode(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(world_module.World, "start", explode)
    result = run(make_scenario(duration="2 s"))
    assert not result.ok
    assert result.provenance["exception"] == "RuntimeError: boom"
    assert "Traceback" in result.provenance["traceback"]
    assert result.summary()["exception"] == "RuntimeError: boom"


def test_timeseries_has_per_link_lag_and_bandwidth(make_scenario):
    result = run(
        make_scenario(
            duration="20 s",
            faults=[{"at": "5 s", "action": "crash", "node": "B"}, {"at": "12 s", "action": "restart", "node": "B"}],
        )
    )
    ts = result.timeseries
    lag = ts[(ts["entity"] == "replication.A->B") & (ts["metric"] == "lag_ms")].set_index("time_s")["value"]
    # While B is down the oldest unacknowledged write on A ages second by second.
    assert lag.loc[6.0] > 500 and lag.loc[11.0] > lag.loc[6.0] + 4000
    assert lag.loc[3.0] < 50 and lag.iloc[-1] < 50  # caught up again after B returned
    bps = ts[(ts["entity"] == "link.A->C") & (ts["metric"] == "bytes_per_s")]["value"]
    assert (bps > 0).all() and len(bps) >= 19
    cross = ts[(ts["entity"] == "network") & (ts["metric"] == "cross_dc_bytes")]["value"]
    assert (cross == 0).all()  # one data centre


def test_events_carry_their_fields_in_typed_columns(make_scenario):
    """Every field of the registry is a nullable column of its type; a row holds its kind's fields."""
    result = run(
        make_scenario(duration="3 s", faults=[{"at": "1 s", "action": "crash", "node": "B", "duration": "1 s"}])
    )
    events = result.events
    assert {name: str(events[name].dtype) for name in FIELDS} == {name: f.dtype for name, f in FIELDS.items()}
    assert str(events["term"].dtype) == "Int64" and str(events["value"].dtype) == "float64"
    crash = events[events["kind"] == "node_crashed"].iloc[0]
    assert (crash["node"], crash["reason"], crash["disk_lost"], crash["silent"]) == ("B", "target B", False, False)
    started = events[events["kind"] == "fault_started"].iloc[0]
    assert (started["action"], started["target"], started["fault_id"]) == ("crash", "B", 1)
    assert started["detail"] == "crash B"
    ended = events[events["kind"] == "fault_ended"].iloc[0]
    assert ended["fault_id"] == 1 and ended["time_s"] == 2.0
    created = events[events["kind"] == "database_created"].iloc[0]
    assert created["members"] == "A,B,C" and created["rf"] == 3 and created["detail"] == "members A, B, C (RF 3)"
    assert pd.isna(crash["task"]) and pd.isna(crash["fault_id"])  # not fields of node_crashed

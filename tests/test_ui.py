"""The explorer: widget options come from the schema, and every widget state gives a valid scenario."""

from __future__ import annotations

import pytest

from workbench import run
from workbench.blueprints import blueprint_names, load_blueprint_data
from workbench.scenario.schema import ClientSpec, OpMix, Scenario, Workload
from workbench.ui import Explorer
from workbench.ui.explorer import literal_choices, numeric_bounds


def test_options_come_from_the_schema() -> None:
    explorer = Explorer()
    panel = explorer.panels[0]
    assert list(panel.read_balance.options)[1:] == literal_choices(ClientSpec, "read_balance")
    assert set(panel.key_popularity.options) <= set(literal_choices(Workload, "key_popularity"))
    assert list(panel.blueprint.options) == blueprint_names("cluster")  # deployments run from notebooks, CLI
    low, high, _, _ = numeric_bounds(OpMix.model_fields["read"])
    assert (panel.read_share.min, panel.read_share.max) == (low, high)
    assert panel.clients.min == numeric_bounds(ClientSpec.model_fields["count"])[0]
    assert panel.rate.min > 0  # rate is gt=0
    assert "majority" in panel.write_assurance.options


def test_blueprint_description_and_targets_follow_the_blueprint() -> None:
    panel = Explorer().panels[0]
    panel.blueprint.value = "geo-stretched"
    data = load_blueprint_data("geo-stretched")
    assert data["description"].split()[0] in panel.blueprint_notes.value
    assert "virginia" in panel.partition_target.options  # data centres, then nodes
    assert list(panel.slow_a.options) == [n["tag"] for n in data["nodes"]]


@pytest.mark.parametrize("blueprint", blueprint_names("cluster"))
def test_every_blueprint_with_every_fault_toggle_validates(blueprint: str) -> None:
    panel = Explorer().panels[0]
    panel.blueprint.value = blueprint
    panel.duration.value = 10
    panel.crash.value = panel.partition.value = panel.slow.value = True
    panel.crash_target.value = "preferred"
    panel.write_assurance.value = panel.write_assurance.options[-1]
    panel.read_share.value = 0.35
    scenario = panel.scenario()
    assert isinstance(scenario, Scenario)
    assert scenario.blueprint.name == blueprint
    assert all(f.at is not None and f.at < scenario.duration for f in scenario.faults)
    assert scenario.workload.mix.read + scenario.workload.mix.write == pytest.approx(1.0)


def test_fault_times_follow_the_duration() -> None:
    panel = Explorer().panels[0]
    panel.crash.value = True
    panel.crash_at.value = 50
    panel.duration.value = 20
    assert panel.crash_at.max == 19 and panel.crash_at.value == 19
    assert panel.scenario().faults[0].at == 19.0


def test_a_widget_state_runs() -> None:
    explorer = Explorer()
    panel = explorer.panels[0]
    panel.duration.value = 5
    panel.rate.value = 200
    panel.crash.value = True
    panel.crash_at.value = 2
    panel.crash_for.value = 2
    result = run(explorer.scenario())
    assert result.ok
    # 200 ops/s for 5 s, Poisson: within five standard deviations of 1,000.
    assert abs(result.summary()["ops"]["total"] - 1000) < 5 * 1000**0.5
    crashes = result.events[result.events["kind"] == "node_crashed"]
    assert list(crashes["time_s"]) == [2.0]


def test_compare_runs_both_configurations_and_fills_the_summary() -> None:
    explorer = Explorer(compare=True, blueprints=("three-node", "three-node"))
    for panel in explorer.panels:
        panel.duration.value = 5
        panel.rate.value = 100
    explorer.panels[1].write_assurance.value = 1
    results = explorer.run(charts=False)
    assert list(results) == ["three-node", "three-node (B)"]
    assert explorer.progress.value == 2 and explorer.status.value == "done"
    table = explorer.summary_table()
    assert list(table.columns) == ["three-node", "three-node (B)"]
    assert table.loc["operations"].gt(0).all()
    # The same seed on both sides: common random numbers, so the arrivals match.
    assert table.loc["operations", "three-node"] == table.loc["operations", "three-node (B)"]


def test_the_rate_slider_lands_on_round_loads() -> None:
    """Issue 21: the readout said 998 for 1000 (the exponent grid started at log10(50))."""
    panel = Explorer().panels[0]
    assert panel.rate.value == pytest.approx(1000.0)
    assert f"{panel.rate.value:{panel.rate.readout_format}}" == "1,000"
    assert panel.scenario_data()["workload"]["rate"] == 1000.0


def test_a_faults_settings_are_live_only_while_it_is_ticked() -> None:
    panel = Explorer().panels[0]
    assert panel.crash_at.disabled and panel.slow_latency.disabled and panel.partition_for.disabled
    panel.crash.value = True
    assert not panel.crash_at.disabled and not panel.crash_target.disabled
    assert panel.slow_latency.disabled  # the others stay off


def test_controls_keep_a_usable_width_and_rows_wrap() -> None:
    panel = Explorer().panels[0]
    assert panel.rate.layout.min_width == "18em" and panel.blueprint.layout.min_width == "24em"
    rows = [c for c in panel.widget.children if c.__class__.__name__ == "HBox"]
    assert rows and all(row.layout.flex_flow == "row wrap" for row in rows)


def test_a_run_writes_its_log_line_and_shows_the_summary() -> None:
    explorer = Explorer()
    panel = explorer.panels[0]
    panel.duration.value = 5
    panel.rate.value = 100
    explorer.tabs.selected_index = 2
    explorer.run(charts=False)
    assert explorer.tabs.selected_index == 0
    assert len(explorer.log_lines) == 1
    assert "5 simulated s, seed 1" in explorer.log_lines[0] and "events in" in explorer.log_lines[0]

"""Studies: compare, sweep and capacity, on every executor, with common random numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from workbench.cli import main
from workbench.errors import WorkbenchInputError, WorkbenchWarning
from workbench.study import (
    Study,
    compare_specs,
    compare_table,
    format_compare,
    load_study,
    run_specs,
    sweep_specs,
)

BASE = {
    "name": "small",
    "seed": 11,
    "duration": "8 s",
    "warmup": "1 s",
    "blueprint": "three-node",
    "clients": {"count": 2},
    "workload": {"rate": 200, "keys": 500},
    "faults": [{"at": "4 s", "action": "crash", "node": "preferred", "duration": "2 s"}],
}


def _study(**kw) -> Study:
    defaults = {
        "name": "t",
        "base": BASE,
        "source": "<test>",
        "base_dir": None,
        "replications": 2,
        "variants": (("three", (("blueprint", "three-node"),)), ("five", (("blueprint", "five-node"),))),
    }
    return Study(**{**defaults, **kw})


def test_every_executor_gives_the_same_rows():
    study = _study()
    specs = compare_specs(study)
    serial = run_specs(study, specs, executor="serial", progress=False)
    processes = run_specs(study, specs, executor="processes", workers=2, progress=False)
    dask = run_specs(study, specs, executor="dask", dask_local=1, progress=False)
    pd.testing.assert_frame_equal(serial, processes)
    pd.testing.assert_frame_equal(serial, dask)
    assert len(serial) == 4 and "wall_seconds" not in serial


def test_replications_use_common_random_numbers_across_variants():
    study = _study()
    rows = run_specs(study, compare_specs(study), executor="serial", progress=False)
    assert list(rows["seed"]) == [11, 11, 12, 12]
    # Same seed, same arrivals: both variants saw exactly as many operations.
    by_rep = rows.groupby("replication")["ops.total"].nunique()
    assert (by_rep == 1).all()
    assert (
        rows.loc[rows["replication"] == 0, "ops.total"].iloc[0]
        != rows.loc[rows["replication"] == 1, "ops.total"].iloc[0]
    )


def test_compare_table_has_each_variant_with_confidence_intervals_and_fault_figures():
    study = _study(replications=3)
    rows = run_specs(study, compare_specs(study), executor="processes", workers=2, progress=False)
    table = compare_table(rows)
    assert list(table.columns) == ["key", "three", "five"]
    nodes = table.loc["nodes"]
    assert nodes["three"][0] == 3 and nodes["five"][0] == 5
    mean, half = table.loc["write p99 (ms)", "three"]
    assert mean > 0 and half > 0  # three replications: a real interval
    assert any(label.startswith("fault 1: crash") and label.endswith("RTO (s)") for label in table.index)
    text = format_compare(table)
    assert "±" in text and "three" in text.splitlines()[0]


def test_sweep_runs_every_grid_point_and_names_the_factors(tmp_path: Path):
    study_file = tmp_path / "study.yaml"
    study_file.write_text(
        json.dumps(
            {
                "name": "grid",
                "scenario": {**BASE, "faults": []},
                "replications": 2,
                "grid": {"workload.rate": [100, 300], "clients.read_balance": ["None", "RoundRobin"]},
            }
        )
    )
    study = load_study(study_file)
    specs = sweep_specs(study)
    assert len(specs) == 8
    rows = run_specs(study, specs, executor="serial", progress=False)
    assert set(rows["factor.workload.rate"]) == {100, 300}
    assert set(rows["factor.clients.read_balance"]) == {"None", "RoundRobin"}
    # The offered load shows in the throughput.
    fast = rows[rows["factor.workload.rate"] == 300]["throughput_ops_per_s"].mean()
    slow = rows[rows["factor.workload.rate"] == 100]["throughput_ops_per_s"].mean()
    assert fast == pytest.approx(3 * slow, rel=0.15)
    # And through the CLI, one Parquet row per run.
    out = tmp_path / "out"
    assert main(["sweep", str(study_file), "--out", str(out), "--workers", "2", "--no-progress"]) == 0
    written = pd.read_parquet(out / "runs.parquet")
    pd.testing.assert_frame_equal(written.reset_index(drop=True), rows.reset_index(drop=True), check_dtype=False)


def test_a_bad_variant_is_reported_before_anything_runs(tmp_path: Path):
    study_file = tmp_path / "study.yaml"
    study_file.write_text(
        json.dumps({"scenario": BASE, "variants": [{"name": "x", "set": {"blueprint": "nine-node"}}]})
    )
    with pytest.raises(WorkbenchInputError, match=r"'nine-node' is not a built-in blueprint.*\(variant 'x'\)"):
        load_study(study_file)


def test_compare_cli_side_by_side(tmp_path: Path, capsys):
    scenario = tmp_path / "s.yaml"
    scenario.write_text(json.dumps(BASE))
    out = tmp_path / "cmp"
    code = main(
        [
            "compare",
            str(scenario),
            "--blueprints",
            "three-node,five-node-rf2",
            "--replications",
            "2",
            "--serial",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "three-node" in text and "five-node-rf2" in text and "write p99 (ms)" in text
    assert (out / "runs.parquet").exists() and (out / "compare.csv").exists()
    assert (out / "three-node" / "rep1" / "ops.parquet").exists()


def test_capacity_cli_rejects_a_bad_objective(capsys):
    assert main(["capacity", "scenarios/quickstart.yaml", "--slo", "p99 write below 50"]) == 2
    assert "is not an objective" in capsys.readouterr().err


def test_blueprints_cli_draws_the_layout(capsys):
    assert main(["blueprints", "geo-stretched"]) == 0
    text = capsys.readouterr().out
    assert "region us-east-1" in text and "zone a: [A*] [B]   + 2 clients" in text
    assert "us-east-1 <-> us-west-1" in text


def test_two_variants_receive_identical_arrival_times_and_keys(tmp_path: Path):
    """Common random numbers: replication r of every variant draws the same workload."""
    study = _study(base={**BASE, "faults": []}, replications=1)
    run_specs(study, compare_specs(study), executor="serial", progress=False, out_dir=tmp_path)
    from workbench.results import RunResult

    three = RunResult.from_dir(tmp_path / "three" / "rep0").ops.sort_values(["start_s", "client"])
    five = RunResult.from_dir(tmp_path / "five" / "rep0").ops.sort_values(["start_s", "client"])
    cols = ["start_s", "key", "kind", "client"]
    pd.testing.assert_frame_equal(three[cols].reset_index(drop=True), five[cols].reset_index(drop=True))


def test_confidence_intervals_shrink_with_replications_and_a_variant_matches_itself():
    same = (("blueprint", "three-node"),)
    few = _study(base={**BASE, "faults": []}, replications=3, variants=(("a", same), ("b", same)))
    many = _study(base={**BASE, "faults": []}, replications=12, variants=(("a", same), ("b", same)))
    # Two variants with the same settings run the same runs, which the workbench warns about.
    with pytest.warns(WorkbenchWarning, match="runs repeat another run exactly"):
        few_specs, many_specs = compare_specs(few), compare_specs(many)
    few_rows = run_specs(few, few_specs, executor="processes", workers=2, progress=False)
    many_rows = run_specs(many, many_specs, executor="processes", workers=2, progress=False)
    metric = "write p99 (ms)"
    assert compare_table(many_rows).at[metric, "a"][1] < compare_table(few_rows).at[metric, "a"][1]
    # Compared with itself, a variant shows no difference at all: same seeds, same model, same rows.
    a = many_rows[many_rows["variant"] == "a"].drop(columns=["run", "variant"]).reset_index(drop=True)
    b = many_rows[many_rows["variant"] == "b"].drop(columns=["run", "variant"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_a_sweep_gives_identical_rows_serially_on_processes_and_on_dask():
    study = _study(
        base={**BASE, "faults": []},
        variants=(),
        grid=(("workload.rate", (100, 200)), ("clients.read_balance", ("None", "RoundRobin"))),
        replications=1,
    )
    specs = sweep_specs(study)
    serial = run_specs(study, specs, executor="serial", progress=False)
    processes = run_specs(study, specs, executor="processes", workers=2, progress=False)
    dask = run_specs(study, specs, executor="dask", dask_local=2, progress=False)
    pd.testing.assert_frame_equal(serial, processes)
    pd.testing.assert_frame_equal(serial, dask)
    assert len(serial) == 4


def test_region_outage_study_compares_a_stretched_cluster_with_a_cluster_per_region():
    study = load_study("scenarios/studies/region-outage.yaml", replications=1)
    base = {
        **study.base,
        "duration": "150 s",
        "workload": {"rate": 200, "keys": 20000, "mix": {"read": 0.8, "write": 0.2}},
    }
    study = Study(**{**study.__dict__, "base": base})
    rows = run_specs(study, compare_specs(study), executor="serial", progress=False)
    table = compare_table(rows)
    assert list(table.columns) == ["key", "geo-stretched", "cluster-per-region"]
    assert table.loc["nodes", "cluster-per-region"][0] == 9 and table.loc["database copies", "geo-stretched"][0] == 3
    users = "region outage: its users served again after (s)"
    assert table.loc[users, "geo-stretched"][0] == table.loc[users, "cluster-per-region"][0] == 60
    # The stretched cluster's writers elsewhere wait for the 5 s request timeout, then fail
    # over; a cluster per region writes locally and never notices.
    during = "region outage: write p99 during (ms)"
    assert table.loc[during, "geo-stretched"][0] > 4000 > 10 > table.loc[during, "cluster-per-region"][0]
    elsewhere = "region outage: RTO of clients elsewhere (s)"
    assert 5 <= table.loc[elsewhere, "geo-stretched"][0] < 6 and table.loc[elsewhere, "cluster-per-region"][0] == 0


def test_blueprints_cli_draws_a_deployment(capsys):
    assert main(["blueprints", "edge-hub"]) == 0
    text = capsys.readouterr().out
    assert "cluster store1: [A]" in text and "data centre hq   + 2 clients" in text
    assert "catalog-to-store1: hub/sink: hub hq -> sink store1 (catalog) (the sink connects)" in text
    assert main(["blueprints"]) == 0
    assert (
        "edge-hub                  3 clusters, 5 nodes, RF 3       Head office (3-node cluster)"
        in capsys.readouterr().out
    )


def test_a_bad_deployment_scenario_exits_2_with_the_field(tmp_path: Path, capsys):
    scenario = tmp_path / "d.yaml"
    scenario.write_text("name: d\nblueprint: cluster-per-region\nfaults:\n  - {action: crash, node: A, at: 5 s}\n")
    assert main(["run", str(scenario)]) == 2
    err = capsys.readouterr().err
    assert f"{scenario}: faults[0].cluster: say which cluster the crash is for" in err


def test_the_capacity_search_shows_one_progress_bar(monkeypatch) -> None:
    """One bar for the whole search, its step and load in the description, full at the end
    (issue 21: it was one anonymous bar per load)."""
    import workbench.study as study_module
    from workbench.study import Study, find_capacity

    bars: list = []
    real = study_module._bar

    def counting(total: int, name: str):
        bar = real(total, name)
        bars.append(bar)
        return bar

    monkeypatch.setattr(study_module, "_bar", counting)
    base = {
        "name": "cap",
        "duration": "5 s",
        "blueprint": "single-node",
        "workload": {"rate": 100, "keys": 100, "mix": {"read": 1.0, "write": 0.0}},
    }
    study = Study(name="cap", base=base, source="<test>", base_dir=None, replications=1)
    result = find_capacity(
        study, ["p99_read_ms<=0.05"], low=100, high=1600, tolerance=0.2, progress=True, executor="serial"
    )
    assert len(bars) == 1
    bar = bars[0]
    assert bar.n == bar.total == len(result.points) and "ops/s" in bar.desc


def _fake_runs(monkeypatch, p99_of_rate) -> list[float]:
    """find_capacity over runs whose write p99 is a known function of the load: the search alone."""
    import pandas as pd

    import workbench.study as study_module

    loads: list[float] = []

    def fake(study, specs, **kw):
        rate = dict(specs[0].factors)["workload.rate"]
        loads.append(rate)
        rows = [{"latency_ms.write.p99": p99_of_rate(rate), "utilisation.bottleneck": "cpu.A"} for _ in specs]
        return pd.DataFrame(rows)

    monkeypatch.setattr(study_module, "run_specs", fake)
    return loads


def _tiny_study():
    from workbench.study import Study

    base = {"name": "cap", "duration": "5 s", "blueprint": "three-node", "workload": {"rate": 100, "keys": 100}}
    return Study(name="cap", base=base, source="<test>", base_dir=None, replications=1)


def test_capacity_search_goes_on_past_the_range_when_every_load_in_it_meets(monkeypatch) -> None:
    """Issue 21, item 5: "no limit found in the range searched (say so, and search further)"."""
    from workbench.study import find_capacity

    loads = _fake_runs(monkeypatch, lambda rate: rate / 100)  # p99 <= 10 ms up to 1,000 ops/s
    found = find_capacity(_tiny_study(), ["p99_write_ms<=10"], low=100, high=400, progress=False)
    assert loads[:5] == [100, 200, 400, 800, 1600]  # two doublings past the top, the second fails
    assert not found.capped and 950 <= found.max_rate <= 1000 and found.searched_to == 1600
    loads.clear()
    stopped = find_capacity(_tiny_study(), ["p99_write_ms<=10"], low=100, high=400, beyond=0, progress=False)
    assert loads == [100, 200, 400] and stopped.capped and stopped.max_rate == stopped.searched_to == 400
    loads.clear()
    capped = find_capacity(_tiny_study(), ["p99_write_ms<=1e9"], low=100, high=400, progress=False)
    assert loads == [100, 200, 400, 800, 1600] and capped.capped and capped.max_rate == 1600


def test_capacity_search_past_the_range_stops_at_a_load_the_scenario_refuses(monkeypatch) -> None:
    from workbench.study import find_capacity

    loads = _fake_runs(monkeypatch, lambda rate: 1.0)
    high = 4_000_000.0  # 5 s at twice that is 40 million operations; at four times it is over the bound
    found = find_capacity(_tiny_study(), ["p99_write_ms<=10"], low=high / 2, high=high, beyond=3, progress=False)
    assert loads == [high / 2, high, 2 * high] and found.capped and found.searched_to == 2 * high

"""Issue 21, studies and the CLI: bad input gets one clear line and exit 2, never a traceback;
nothing the user wrote is silently lost, changed or run as something else."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from workbench import study as study_module
from workbench.cli import main
from workbench.errors import WorkbenchInputError, WorkbenchWarning
from workbench.study import (
    Study,
    capacity_spec,
    compare_specs,
    load_study,
    run_folder,
    run_specs,
    study_from_scenario,
    sweep_specs,
)

# A few simulated seconds: each run takes a fraction of a wall second.
TINY = {
    "name": "tiny",
    "seed": 11,
    "duration": "3 s",
    "warmup": "1 s",
    "blueprint": "three-node",
    "clients": {"count": 1},
    "workload": {"rate": 100, "keys": 100},
    "faults": [{"at": "2 s", "action": "crash", "node": "preferred", "duration": "0.5 s"}],
}


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def write_study(tmp_path: Path, data: dict, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"scenario": "tiny.yaml", **data}))
    return path


def one_line_error(code: int, capsys) -> str:
    """Exit 2 and exactly one line on stderr, starting as every error does."""
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("workbench: error: ") and "Traceback" not in err
    return lines[0]


# ----------------------------------------------------------------------------- 1. seeds in grid and variants


def test_a_seed_in_the_grid_is_the_seed_each_point_runs(tmp_path: Path, scenario: Path):
    study = load_study(write_study(tmp_path, {"replications": 1, "grid": {"seed": [1, 2, 3]}}))
    specs = sweep_specs(study)
    assert [s.seed for s in specs] == [1, 2, 3]
    rows = run_specs(study, specs, executor="serial", progress=False)
    assert list(rows["seed"]) == [1, 2, 3] and list(rows["factor.seed"]) == [1, 2, 3]
    # Three different seeds, three different runs (they were one run three times).
    assert rows[["ops.total", "latency_ms.write.p99"]].drop_duplicates().shape[0] == 3


def test_a_seed_in_a_variant_moves_its_replications(tmp_path: Path, scenario: Path):
    study = load_study(
        write_study(
            tmp_path,
            {"replications": 2, "variants": [{"name": "a", "set": {"seed": 5}}, {"name": "b", "set": {"seed": 50}}]},
        )
    )
    assert [(s.variant, s.seed) for s in compare_specs(study)] == [("a", 5), ("b", 50), ("a", 6), ("b", 51)]
    rows = run_specs(study, compare_specs(study)[:2], executor="serial", progress=False)
    assert list(rows["seed"]) == [5, 50]


def test_seeds_that_make_runs_repeat_are_warned_about(tmp_path: Path, scenario: Path, capsys):
    study_file = write_study(
        tmp_path,
        {"replications": 2, "variants": [{"name": "a", "set": {"seed": 5}}, {"name": "b", "set": {"seed": 6}}]},
    )
    with pytest.warns(WorkbenchWarning, match=r"1 of 4 runs repeat another run exactly.*seed 6.*at least 2"):
        compare_specs(load_study(study_file))
    with pytest.warns(WorkbenchWarning, match=r"2 of 6 runs repeat"):
        sweep_specs(load_study(write_study(tmp_path, {"replications": 2, "grid": {"seed": [1, 2, 3]}}, "g.yaml")))
    # The CLI prints it as one warning line on stderr and still runs.
    assert main(["compare", str(study_file), "--serial", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("workbench: warning: 1 of 4 runs repeat") and err.count("\n") == 1


# ----------------------------------------------------------------------------- 2. variant names and folders


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        (
            [{"name": "rf 2", "set": {}}, {"name": "rf/2", "set": {"seed": 3}}],
            r"variants\[1\]\.name: variant 'rf/2' and 'rf 2' would share the output folder 'rf_2'",
        ),
        ([{"name": "A"}, {"name": "a"}], r"variants\[1\]\.name: variant 'a' and 'A' would share the output folder"),
        ([{"name": "", "set": {}}, {"name": "base"}], r"variants\[0\]\.name: a variant's name cannot be empty"),
        ([{"name": "  "}], r"variants\[0\]\.name: a variant's name cannot be empty"),
        ([{"name": None}], r"variants\[0\]\.name: a variant needs a name"),
        ([{"name": True}], r"variants\[0\]\.name: a variant's name is text, but YAML read True; quote it"),
        ([{"name": "x"}, {"name": "x"}], r"variants\[1\]\.name: variant 'x' is named twice"),
    ],
)
def test_variant_names_that_would_share_a_folder_or_are_empty_are_rejected(
    tmp_path: Path, scenario: Path, capsys, variants, expected
):
    study_file = write_study(tmp_path, {"variants": variants})
    line = one_line_error(main(["compare", str(study_file), "--serial"]), capsys)
    assert str(study_file) in line
    assert re.search(expected, line), line


def test_a_variant_folder_is_never_dot_or_dot_dot():
    assert run_folder("..") == "__" and run_folder(".") == "_" and run_folder("") == "base"
    assert run_folder("rf 2") == "rf_2" and run_folder("three-node") == "three-node"


def test_run_specs_refuses_two_variants_writing_one_folder(tmp_path: Path):
    same = (("blueprint", "three-node"),)
    study = Study("t", {**TINY, "faults": []}, "<test>", None, 1, (("rf 2", same), ("rf/2", same)))
    with pytest.warns(WorkbenchWarning):
        specs = compare_specs(study)
    with pytest.raises(WorkbenchInputError, match=r"'rf 2' and 'rf/2' would write to the same folder 'rf_2'"):
        run_specs(study, specs, executor="serial", progress=False, out_dir=tmp_path)


# ----------------------------------------------------------------------------- 3. capacity objectives


@pytest.mark.parametrize(
    ("slo", "expected"),
    [
        ("p99_wrtie_ms<=50", "'p99_wrtie_ms' is not a metric (did you mean 'p99_write_ms'?)"),
        ("p99_write_ms<=e", "'e' is not a number"),
        ("availability>=.%", "'.' is not a number"),
        ("availability>=150%", "availability is a fraction: 150% is outside 0 to 100 %"),
        ("availability>=99.9", "99.9 is outside 0 to 100 % (write 99.9% or 0.999)"),
        ("p99_delete_ms<=5", "'delete' is not an operation kind (kinds: read, write, query"),
        ("p90_write_ms<=5", "the summary keeps p50, p95, p99 and p999, not p90"),
        ("p99_write_ms<=50%", "p99_write_ms is a latency in ms, not a percentage"),
        ("p99_write_ms<=nan", "'nan' is not a number"),
        ("availabilty>=99%", "did you mean 'availability'?"),
        ("latency_ms.wirte.p99<=5", "did you mean 'latency_ms.write.p99'?"),
    ],
)
def test_a_bad_objective_exits_2_before_anything_runs(scenario: Path, capsys, slo, expected):
    line = one_line_error(main(["capacity", str(scenario), "--slo", slo, "--serial"]), capsys)
    assert f"--slo: '{slo}': " in line and expected in line, line


def test_unknown_metric_lists_what_is_allowed(scenario: Path, capsys):
    line = one_line_error(main(["capacity", str(scenario), "--slo", "latency<=5", "--serial"]), capsys)
    assert "'latency' is not a metric; allowed: p50/p95/p99/p999_<kind>_ms" in line and "availability" in line


@pytest.mark.parametrize(
    ("slo", "expected"),
    [
        # A kind the workload never issues: no value at all, not "no load meets the objectives".
        ("p99_query_ms<=50", "the runs at 100 ops/s have no value for latency_ms.query.p99"),
        # A dotted summary field is checked against the first runs' figures.
        ("ops.faild<=5", "'ops.faild' is not a field of the run summary (did you mean 'ops.failed'?)"),
    ],
)
def test_an_objective_the_runs_have_no_figure_for_exits_2(scenario: Path, capsys, slo, expected):
    argv = ["capacity", str(scenario), "--slo", slo, "--range", "100", "150", "--replications", "1", "--serial"]
    line = one_line_error(main([*argv, "--no-progress"]), capsys)
    assert expected in line, line


def test_a_dotted_summary_field_is_a_valid_objective(scenario: Path, capsys):
    argv = ["capacity", str(scenario), "--slo", "ops.failed<=1000", "--range", "100", "150", "--replications", "1"]
    assert main([*argv, "--beyond", "0", "--serial", "--no-progress", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["max_rate"] == 150


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--replications", "0"], "workbench capacity --replications: at least 1 run per load, got 0"),
        (["--tolerance", "0"], "--tolerance: a fraction between 0 and 1"),
        (["--tolerance", "-1"], "--tolerance: a fraction between 0 and 1"),
        (["--target", "0"], "--target: a load in ops/s above 0"),
        (["--beyond", "-1"], "--beyond: a whole number of doublings from 0 to 10, got -1"),
        (["--beyond", "11"], "--beyond: a whole number of doublings from 0 to 10, got 11"),
        (["--range", "100", "inf"], "--range needs 0 < LOW < HIGH, got 100 inf"),
        (["--set", "workload.rate=5"], "capacity searches workload.rate itself"),
        (["--dask-local", "0"], "--dask-local: a local Dask cluster needs at least 1 worker, got 0"),
    ],
)
def test_capacity_options_out_of_range_exit_2(scenario: Path, capsys, args, expected):
    line = one_line_error(main(["capacity", str(scenario), "--slo", "p99_write_ms<=50", *args]), capsys)
    assert expected in line, line


def test_capacity_of_a_study_file_says_it_wants_a_scenario(tmp_path: Path, scenario: Path, capsys):
    study_file = write_study(tmp_path, {"variants": [{"name": "a"}]})
    line = one_line_error(main(["capacity", str(study_file), "--slo", "p99_write_ms<=50"]), capsys)
    assert "this is a study file (it has 'scenario'), but a scenario file is wanted here" in line


# ----------------------------------------------------------------------------- 5. --set into lists, as run does


def test_study_level_set_reaches_into_lists_as_run_does(scenario: Path, capsys):
    study = study_from_scenario(scenario, blueprints=["three-node"], overrides={"faults.0.at": "1.5 s"})
    assert study.scenario(study.variants[0][1]).faults[0].at == 1.5
    assert study.base["faults"][0]["at"] == "2 s"  # the file as written is kept; the override applies on top
    argv = ["--range", "100", "150", "--beyond", "0", "--replications", "1", "--serial", "--no-progress", "--json"]
    assert main(["capacity", str(scenario), "--slo", "p99_write_ms<=500", "--set", "faults.0.at=1.5s", *argv]) == 0
    assert json.loads(capsys.readouterr().out)["max_rate"] == 150
    argv = ["--blueprints", "three-node", "--set", "faults.0.at=1.5s", "--replications", "1", "--serial", "--json"]
    assert main(["compare", str(scenario), *argv, "--no-progress"]) == 0
    capsys.readouterr()
    # An index the list does not have is the same clear error run gives.
    line = one_line_error(
        main(["compare", str(scenario), "--blueprints", "three-node", "--set", "faults.3.at=1s"]), capsys
    )
    assert "faults.3.at: '3' is not an index of faults (it has 1 items, 0..0)" in line
    line = one_line_error(main(["compare", str(scenario), "--blueprints", "three-node", "--set", "seed.x=1"]), capsys)
    assert "seed is a value (11), not a section, so it has no 'x'" in line


def test_a_study_level_seed_override_sets_the_base_seed(scenario: Path):
    study = study_from_scenario(scenario, blueprints=["three-node"], replications=2, overrides={"seed": 40})
    assert [s.seed for s in compare_specs(study)] == [40, 41]


# ----------------------------------------------------------------------------- 6. output that cannot be written


@pytest.mark.parametrize("verb", ["compare", "run", "sweep"])
def test_an_output_folder_under_a_file_exits_2_before_running(tmp_path: Path, scenario: Path, capsys, verb):
    target = "/dev/null/x"
    study = scenario if verb != "sweep" else write_study(tmp_path, {"grid": {"workload.rate": [100]}})
    line = one_line_error(main([verb, str(study), "--out", target]), capsys)
    assert (
        line
        == f"workbench: error: --out {target}: '/dev/null' is a file, not a folder, so nothing can be written under it"
    )


def test_an_output_folder_that_is_a_file_or_not_writable_exits_2(tmp_path: Path, scenario: Path, capsys):
    afile = tmp_path / "taken"
    afile.write_text("")
    line = one_line_error(main(["compare", str(scenario), "--out", str(afile)]), capsys)
    assert f"--out {afile}: is a file; name a folder for the results" in line
    # /proc takes no new folders (whoever runs the tests, root included).
    line = one_line_error(main(["compare", str(scenario), "--out", "/proc/workbench-out", "--serial"]), capsys)
    assert line.startswith("workbench: error: --out /proc/workbench-out: cannot write there: ")


def test_a_report_file_that_cannot_be_written_exits_2_before_running(tmp_path: Path, scenario: Path, capsys):
    line = one_line_error(main(["report", str(scenario), "-o", str(tmp_path)]), capsys)
    assert f"-o {tmp_path}: is a folder; name a file, e.g. report.html" in line
    line = one_line_error(main(["report", str(scenario), "-o", "/dev/null/r.html"]), capsys)
    assert "'/dev/null' is a file, not a folder" in line


def test_an_os_error_naming_a_file_is_one_line_from_the_single_handler(scenario: Path, capsys, monkeypatch):
    """The safety net: an OSError about a file that reaches main is exit 2, not a traceback."""

    def fail(*_args, **_kwargs):
        raise PermissionError(13, "Permission denied", "/somewhere/runs.parquet")

    monkeypatch.setattr(study_module, "run_specs", fail)
    line = one_line_error(main(["compare", str(scenario), "--serial"]), capsys)
    assert line == "workbench: error: /somewhere/runs.parquet: Permission denied"


# ----------------------------------------------------------------------------- 7. Dask scheduler addresses


def test_a_scheduler_address_that_is_not_one_exits_2(scenario: Path, capsys):
    line = one_line_error(main(["compare", str(scenario), "--scheduler", "not a url", "--replications", "1"]), capsys)
    assert "--scheduler: 'not a url' is not a Dask scheduler address" in line and "tcp://" in line


def test_a_scheduler_where_nothing_listens_exits_2_quickly(scenario: Path, capsys, monkeypatch):
    monkeypatch.setattr(study_module, "DASK_CONNECT_TIMEOUT_S", 1)
    line = one_line_error(main(["compare", str(scenario), "--scheduler", "tcp://127.0.0.1:1", "--no-progress"]), capsys)
    assert "--scheduler: no Dask scheduler answered at 'tcp://127.0.0.1:1' within 1 s" in line


# ----------------------------------------------------------------------------- 8. malformed study files


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"grid": [1, 2]}, "grid: grid maps each factor (a dotted path) to the list of its values"),
        ({"grid": "x"}, "grid: grid maps each factor"),
        ({"grid": {"workload.rate": 5}}, "grid.workload.rate: a grid factor lists its values"),
        ({"variants": 5}, "variants: variants is a list of {name, set} mappings"),
        ({"variants": [{"name": "a", "sett": {}}]}, "variants[0].sett: unknown key 'sett' in a variant (did you mean"),
        ({"variants": [{"name": "a", "set": [1]}]}, "variants[0].set: 'set' maps dotted paths to values"),
        ({"scenario": ".", "variants": [{"name": "a"}]}, "scenario: '.' is a folder, not a scenario file"),
        ({"scenario": "nope.yaml", "variants": [{"name": "a"}]}, "scenario: 'nope.yaml' is no such file"),
        ({"scenario": 5, "variants": [{"name": "a"}]}, "scenario: a study needs 'scenario'"),
        (
            {"variants": [{"name": "a"}], "capacity": {"objectives": ["p99_write_ms<=5"], "range": ["abc", 100]}},
            "capacity.range: range is [LOW, HIGH] in ops/s with 0 < LOW < HIGH, e.g. [200, 20000]; got ['abc', 100]",
        ),
        (
            {"variants": [{"name": "a"}], "capacity": {"objectives": ["p99_write_ms<=5"], "range": [100, 10]}},
            "capacity.range: range is [LOW, HIGH]",
        ),
        (
            {"variants": [{"name": "a"}], "capacity": {"objectives": "p99_write_ms<=5"}},
            "capacity.objectives: list the objectives",
        ),
        (
            {"variants": [{"name": "a"}], "capacity": {"objectives": ["p99_write_ms<=5"], "beyond": True}},
            "capacity.beyond: beyond is how many times the search doubles past the range's top",
        ),
        (
            {"variants": [{"name": "a"}], "capacity": {"objectives": ["p99_write_ms<=5"], "beyond": 11}},
            "from 0 (stop at the top) to 10, got 11",
        ),
        (
            {"variants": [{"name": "a"}], "capacity": {"objectives": ["p99_wrtie_ms<=5"]}},
            "capacity.objectives[0]: 'p99_wrtie_ms<=5': 'p99_wrtie_ms' is not a metric (did you mean 'p99_write_ms'?)",
        ),
        (
            {"variants": [{"name": "a"}], "capacity": {"objective": ["p99_write_ms<=5"]}},
            "capacity.objective: unknown key 'objective' in capacity (did you mean 'objectives'?)",
        ),
        (
            {"variants": [{"name": "a"}], "capacity": {"objectives": ["p99_write_ms<=5"], "target": "lots"}},
            "capacity.target: target is a load in ops/s above 0",
        ),
        (
            {"variants": [{"name": "a"}], "capacity": {"objectives": ["p99_write_ms<=5"], "replications": 0}},
            "capacity.replications: replications (runs per load) is a whole number of at least 1, got 0",
        ),
        ({"variants": [{"name": "a"}], "capacity": None}, "capacity: capacity is a mapping with objectives"),
    ],
)
def test_a_malformed_study_exits_2_naming_the_field(tmp_path: Path, scenario: Path, capsys, data, expected):
    study_file = write_study(tmp_path, data)
    for verb in (["compare"], ["report", "-o", str(tmp_path / "r.html")]):
        line = one_line_error(main([*verb, str(study_file), "--serial"]), capsys)
        assert line.startswith(f"workbench: error: {study_file}: ") and expected in line, line


def test_capacity_section_defaults():
    spec = capacity_spec({"objectives": ["p99_write_ms<=50"]}, 4, source="<test>")
    assert (spec.low, spec.high, spec.target, spec.replications) == (100.0, 100_000.0, None, 4)


def test_compare_of_a_grid_only_study_points_to_sweep(tmp_path: Path, scenario: Path, capsys):
    study_file = write_study(tmp_path, {"grid": {"workload.rate": [100, 200]}})
    line = one_line_error(main(["compare", str(study_file)]), capsys)
    assert "has a grid but no variants to compare; run it with 'workbench sweep'" in line


# ----------------------------------------------------------------------------- 9. counts and lists


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--blueprints", ",,,"], "--blueprints: ',,,' names no blueprint"),
        (["--blueprints", ""], "--blueprints: '' names no blueprint"),
        (["--blueprints", "three-node,three-node"], "'three-node' is listed twice"),
        (["--replications", "0"], "workbench compare --replications: 1 to 10,000 runs per variant, got 0"),
        (["--workers", "0"], "--workers must be at least 1"),
    ],
)
def test_compare_counts_and_lists_that_make_no_sense_exit_2(scenario: Path, capsys, argv, expected):
    line = one_line_error(main(["compare", str(scenario), *argv]), capsys)
    assert expected in line, line


# ----------------------------------------------------------------------------- warnings on stderr

# At seed 1 the clients send to C: after the cut their requests wait for RavenDB's 12 h request timeout
# (as in tests/model/test_accounting.py).
STALLED = {
    "name": "stalled",
    "seed": 1,
    "duration": "20 s",
    "blueprint": "three-node",
    "clients": {"count": 4},
    "workload": {"rate": 200},
    "faults": [
        {"at": "5 s", "action": "partition", "groups": [["C"], ["A", "B", "client1", "client2", "client3", "client4"]]}
    ],
}


def test_a_runs_warnings_reach_stderr_as_well_as_the_summary(tmp_path: Path, capsys):
    """Issue 21: a warning is printed on stderr and kept in the summary's ``warnings``."""
    path = tmp_path / "stalled.yaml"
    path.write_text(yaml.safe_dump(STALLED))
    assert main(["run", str(path), "--json"]) == 0
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert summary["warnings"], "the cut leaves requests to C waiting; the summary must say so"
    lines = err.splitlines()
    assert lines == [f"workbench: warning: {w}" for w in summary["warnings"]]


def test_a_calm_run_has_no_warnings(scenario: Path, capsys):
    """The default (RavenDB's 12 h) request timeout is only worth a warning when something waited."""
    path = scenario.parent / "calm.yaml"
    path.write_text(yaml.safe_dump({**TINY, "faults": []}))
    assert main(["run", str(path), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["warnings"] == [] and err == ""


def test_a_studys_run_warnings_reach_stderr_with_the_run_named(tmp_path: Path, capsys):
    path = tmp_path / "stalled.yaml"
    path.write_text(yaml.safe_dump(STALLED))
    study_file = tmp_path / "study.yaml"
    variants = [{"name": "cut", "set": {}}, {"name": "calm", "set": {"faults": []}}]
    study_file.write_text(yaml.safe_dump({"name": "s", "scenario": str(path), "variants": variants}))
    assert main(["compare", str(study_file), "--serial", "--no-progress", "--replications", "1"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err and all(line.startswith("workbench: warning: 'cut' replication 0: ") for line in err)


def test_an_unknown_option_points_at_its_verbs_help(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["bench", "--seconds", "5"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == (
        "workbench: error: unrecognized arguments: --seconds 5 (see 'workbench bench --help')\n"
    )
    with pytest.raises(SystemExit):
        main(["frobnicate"])
    assert capsys.readouterr().err.endswith("(see 'workbench --help')\n")


def test_a_percentage_objective_is_met_by_exactly_that_figure():
    """'availability>=99.9%' is 0.999, not 99.9 / 100 = 0.9990000000000001 (which exactly 99.9 % failed)."""
    from workbench.analysis.capacity import parse_slo

    for text, exact in (
        ("availability>=99.9%", 0.999),
        ("availability>=99.99%", 0.9999),
        ("stale_read_fraction<=0.3%", 0.003),
    ):
        slo = parse_slo(text)
        assert slo.value == exact
    assert parse_slo("availability>=99.9%").met({"availability.read": 0.999, "availability.write": 0.999})

"""The ``workbench`` command, run as a user runs it: in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.blueprints import blueprint_names

ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = "scenarios/quickstart.yaml"
# Quickstart runs 2 min with a 10 s warm-up and faults at 40 s and 70 s; a 15 s
# run keeps the warm-up but must drop the faults, which would fall after the end.
SHORT = ["--duration", "15 s", "--set", "faults=[]"]


def workbench(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def json_run() -> tuple[subprocess.CompletedProcess[str], dict]:
    proc = workbench("run", QUICKSTART, *SHORT, "--json")
    summary = json.loads(proc.stdout) if proc.returncode == 0 else {}
    return proc, summary


def test_run_json_exits_zero_with_one_object(json_run) -> None:
    proc, summary = json_run
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip().splitlines()) == 1
    assert isinstance(summary, dict)


def test_run_json_has_the_summary_keys(json_run) -> None:
    _, s = json_run
    for key in (
        "scenario",
        "seed",
        "sim_seconds",
        "wall_seconds",
        "events",
        "ops",
        "latency_ms",
        "availability",
        "stale_read_fraction",
        "replication_lag_ms",
    ):
        assert key in s, key
    assert s["scenario"] == "quickstart"
    assert s["seed"] == 42
    assert s["sim_seconds"] == pytest.approx(15.0)
    assert s["wall_seconds"] > 0
    assert s["events"] > 0
    assert {"total", "ok", "failed"} <= set(s["ops"])
    assert s["ops"]["total"] > 0
    assert s["ops"]["ok"] + s["ops"]["failed"] == s["ops"]["total"]
    for kind in ("read", "write"):
        stats = s["latency_ms"][kind]
        assert {"mean", "p50", "p95", "p99", "p999", "max"} <= set(stats)
        assert 0 < stats["p50"] <= stats["p95"] <= stats["p99"] <= stats["p999"] <= stats["max"]
    assert {"read", "write"} <= set(s["availability"])
    for kind in ("read", "write"):
        assert 0.0 <= s["availability"][kind] <= 1.0
    assert 0.0 <= s["stale_read_fraction"] <= 1.0
    assert {"p50", "p99", "max"} <= set(s["replication_lag_ms"])


def test_seed_option_changes_the_seed(json_run) -> None:
    _, base = json_run
    proc = workbench("run", QUICKSTART, *SHORT, "--seed", "7", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["seed"] == 7
    assert base["seed"] == 42
    assert summary["ops"]["total"] != base["ops"]["total"] or summary["latency_ms"] != base["latency_ms"]


def test_out_dir_and_text_summary(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = workbench("run", QUICKSTART, *SHORT, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "latency (ms)" in proc.stdout
    for name in (
        "ops.parquet",
        "events.parquet",
        "timeseries.parquet",
        "replication.parquet",
        "summary.json",
        "provenance.json",
    ):
        assert (out / name).is_file(), name
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "quickstart"
    json.loads((out / "provenance.json").read_text())


def test_short_duration_with_own_warmup() -> None:
    proc = workbench(
        "run",
        QUICKSTART,
        "--duration",
        "3 s",
        "--set",
        "warmup=1 s",
        "--set",
        "faults=[]",
        "--set",
        "workload.rate=200",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["sim_seconds"] == pytest.approx(3.0)


# ----------------------------------------------------------------------------- input errors


def assert_one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("workbench: error: ")
    return lines[0]


def test_misspelt_key_exits_2_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("name: typo\nblueprint: three-node\nworkload:\n  rte: 2000\n")
    line = assert_one_line_error(workbench("run", str(path), "--json"))
    assert str(path) in line
    assert "workload.rte" in line
    assert "did you mean 'rate'" in line


def test_missing_file_exits_2(tmp_path: Path) -> None:
    line = assert_one_line_error(workbench("run", str(tmp_path / "nope.yaml")))
    assert "no such scenario file" in line


def test_set_without_equals_exits_2() -> None:
    line = assert_one_line_error(workbench("run", QUICKSTART, "--set", "workload.rate"))
    assert "must look like PATH=VALUE" in line


def test_bad_set_value_names_the_override() -> None:
    line = assert_one_line_error(workbench("run", QUICKSTART, "--set", "workload.rate=abc"))
    assert "--set workload.rate=abc" in line


def test_fault_after_short_duration_exits_2() -> None:
    line = assert_one_line_error(workbench("run", QUICKSTART, "--duration", "15 s"))
    assert "after the end of the run" in line


def test_bad_argument_exits_2() -> None:
    proc = workbench("run", QUICKSTART, "--seed", "seven")
    assert_one_line_error(proc)


# ----------------------------------------------------------------------------- blueprints


def test_blueprints_lists_the_catalogue() -> None:
    proc = workbench("blueprints")
    assert proc.returncode == 0, proc.stderr
    assert "three-node" in proc.stdout


def test_blueprints_json() -> None:
    proc = workbench("blueprints", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert isinstance(rows, list)
    assert [row["name"] for row in rows] == blueprint_names()
    assert "three-node" in {row["name"] for row in rows}


def test_blueprints_show_one() -> None:
    proc = workbench("blueprints", "three-node", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["name"] == "three-node"
    assert [n["tag"] for n in data["nodes"]] == ["A", "B", "C"]


def test_blueprint_drawing_shows_external_systems_and_tasks() -> None:
    proc = workbench("blueprints", "write-behind-sql")
    assert proc.returncode == 0, proc.stderr
    assert "zone a: [A] [B] [C] {reporting-sql}" in proc.stdout
    assert "task orders-to-reporting: SQL ETL of every collection to reporting-sql" in proc.stdout


def test_blueprints_misspelt_name() -> None:
    line = assert_one_line_error(workbench("blueprints", "thre-node"))
    assert "did you mean 'three-node'" in line

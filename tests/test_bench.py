"""The benchmark runner's report, on tiny settings (its figures are the machine's, not tested)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_quick_report_has_every_section() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["settings"] == "quick"
    hot, naive = report["hot_path"], report["naive"]
    for part in (hot, naive):
        # Poisson arrivals at the stated rate: the count lies within five standard deviations.
        offered = hot["rate"] * part["sim_seconds"]
        assert abs(part["ops"] - offered) < 5 * offered**0.5
        assert part["events"] > part["ops"]
        # The speeds are the counts over the wall time (rounded to a millisecond in the report).
        assert part["ops_per_wall_second"] == pytest.approx(part["ops"] / part["wall_seconds"], rel=0.02)
        assert part["events_per_wall_second"] == pytest.approx(part["events"] / part["wall_seconds"], rel=0.02)
    assert hot["peak_rss_mib"] > 0
    assert report["ratio_ops_per_second"] == pytest.approx(
        hot["ops_per_wall_second"] / naive["ops_per_wall_second"], rel=0.01
    )
    horizon = report["long_horizon"]
    assert {"wall_seconds", "wall_seconds_per_sim_year", "cluster_availability", "cluster_availability_theory"} <= set(
        horizon
    )
    assert 0 <= horizon["cluster_availability"] <= 1 and horizon["probe_ops"] > 0
    memory = report["results_memory"]
    assert memory["ops"] == hot["ops"]
    # 11 columns of 1-8 bytes: about 52 bytes an operation, before any over-allocation.
    assert 40 <= memory["recorder_bytes_per_op"] <= 120
    assert memory["dataframe_bytes_per_op"] > 0
    # A day of an idle cluster is almost all skipped ahead (Quiescence), not simulated beat by beat.
    assert horizon["sim_days"] == 1 and horizon["idle_elided_share"] > 0.9
    # Each of issue 8's targets is reported with its measured figure and a verdict.
    targets = report["targets"]
    assert set(targets) == {"hot_path_ops_per_second", "ratio_to_naive", "year_wall_seconds", "bytes_per_op"}
    assert all(isinstance(t["met"], bool) and t["measured"] > 0 for t in targets.values())
    # A verdict is the comparison of its figure with its target (higher is better for speed,
    # lower for time and memory), and each figure is the one measured above.
    for name, higher_is_better in (
        ("hot_path_ops_per_second", True),
        ("ratio_to_naive", True),
        ("year_wall_seconds", False),
        ("bytes_per_op", False),
    ):
        t = targets[name]
        assert t["met"] == (t["measured"] >= t["target"] if higher_is_better else t["measured"] <= t["target"])
    assert targets["hot_path_ops_per_second"]["measured"] == hot["ops_per_wall_second"]
    assert targets["ratio_to_naive"]["measured"] == report["ratio_ops_per_second"]
    assert targets["year_wall_seconds"]["measured"] == horizon["wall_seconds_per_sim_year"]
    assert targets["bytes_per_op"]["met"]
    # The hot path is also stated at the speed of the reference machine (naive at 64k ops/s).
    scaled = targets["hot_path_ops_per_second"]["at_reference_speed"]
    assert scaled == pytest.approx(report["ratio_ops_per_second"] * 64_000, abs=50)


def test_bad_horizon_is_an_input_error() -> None:
    from workbench.cli import main

    assert main(["bench", "--quick", "--horizon", "0 s"]) == 2

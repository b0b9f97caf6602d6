"""Issue 21, studies and the CLI: bad input gets one clear line and exit 2, never a traceback;
nothing the user wrote is silently lost, changed or run as something else."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from workbench.cli import main

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


def one_line_error(code: int, capsys) -> str:
    """Exit 2 and exactly one line on stderr, starting as every error does."""
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("workbench: error: ") and "Traceback" not in err
    return lines[0]


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

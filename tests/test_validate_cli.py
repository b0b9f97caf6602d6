"""``workbench validate``: the check table, its exit codes, and the Raft experiment kept as it was."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench.cli import main
from workbench.validation import checks

ROOT = Path(__file__).resolve().parent.parent
ROW_KEYS = {"check", "metric", "unit", "expected", "simulated", "ci_low", "ci_high", "tolerance", "passed"}


def test_quick_check_as_a_user_runs_it_prints_rows_and_exits_zero() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "validate", "md1", "--json", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [r["metric"] for r in rows] == ["mean response time", "P(wait > 0)"]
    for r in rows:
        assert set(r) == ROW_KEYS
        assert r["check"] == "md1" and r["passed"] is True
        assert r["ci_low"] <= r["simulated"] <= r["ci_high"]


def _fake(passed: bool):
    def run(quick: bool) -> list[dict]:
        return [checks.row("fake", "x", 1.0, 1.0 if passed else 2.0, (0.9, 1.1), "inside the CI", passed)]

    return run


def test_a_failing_check_exits_one_and_is_named(monkeypatch, capsys) -> None:
    monkeypatch.setitem(checks.CHECKS, "mm1", checks.Check("mm1", "fake", "none", _fake(False)))
    monkeypatch.setitem(checks.CHECKS, "md1", checks.Check("md1", "fake", "none", _fake(True)))
    assert main(["validate", "mm1", "md1"]) == 1
    out, err = capsys.readouterr()
    assert "FAIL" in out and "pass" in out
    assert "failed: fake" in err


def test_table_has_the_columns(monkeypatch, capsys) -> None:
    monkeypatch.setitem(checks.CHECKS, "md1", checks.Check("md1", "fake", "none", _fake(True)))
    assert main(["validate", "md1", "--quick"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert header[:4] == ["check", "metric", "expected", "simulated"]
    assert "tolerance" in header and "result" in header


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["validate", "raft-electoin"], "did you mean 'raft-election'?"),
        (["validate", "all", "nope"], "'nope' is not a check"),
        (["validate", "md1", "--trials", "10"], "--trials configures the Raft experiment"),
        (["validate", "raft-election", "--trials", "0"], "run at least one"),
        (["validate", "raft-election", "--timeout-range", "300"], "is not a range"),
    ],
)
def test_bad_input_exits_two_with_one_line(argv, hint, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert hint in err and err.count("\n") == 1


def test_raft_experiment_with_options_prints_its_distribution(capsys) -> None:
    assert main(["validate", "raft-election", "--trials", "20", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["trials"] == 20 and stats["p10"] <= stats["p50"] <= stats["max"]


def test_list_names_every_check(capsys) -> None:
    assert main(["validate", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in checks.CHECKS)


def test_raft_election_chart_writes_both_graphs_offline(tmp_path, monkeypatch, capsys) -> None:
    import numpy as np

    from workbench.validation import raft_election

    monkeypatch.setattr(raft_election, "figure16_run", lambda name: raft_election.figure16()[name][:50] / 1e3)
    monkeypatch.setitem(checks.CHECKS, "raft-election", checks.Check("raft-election", "fake", "none", _fake(True)))
    assert main(["validate", "raft-election", "--chart", str(tmp_path / "charts")]) == 0
    for label in ("randomness", "scale"):
        svg = (tmp_path / "charts" / f"raft-election-{label}.svg").read_text()
        assert svg.startswith("<svg") and "timeout" in svg
    assert np.isfinite(raft_election.figure16()["150-150"]).all()


def test_chart_is_only_for_the_raft_election_check(capsys) -> None:
    assert main(["validate", "md1", "--chart", "x"]) == 2
    assert "--chart draws the Raft election check" in capsys.readouterr().err

"""Ongoing tasks in the run summary and its text: what `workbench run` prints."""

from __future__ import annotations

from pathlib import Path

from workbench import load_scenario, run
from workbench.analysis.summary import summarise
from workbench.report.text import format_summary
from workbench.results.summary import mismatches

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def test_etl_outage_summary_shows_the_backoff_and_the_drain() -> None:
    result = run(load_scenario(SCENARIOS / "etl-outage.yaml"))
    summary = summarise(result)
    assert mismatches(summary) == []  # workbench.results.summary.Summary, with an ETL task
    etl = summary["etl"]["orders-to-reporting"]
    assert etl["fallback_waits_s"] == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 320.0]
    (outage,) = etl["outages"]
    assert outage["kind"] == "destination down" and outage["duration_s"] == 600.0
    assert 0 < outage["time_to_drain_s"] < 120
    assert summary["ops"]["failed"] == 0  # the application never notices the SQL server
    assert etl["rows_at_destination"] > 0
    text = format_summary(summary)
    assert "etl           orders-to-reporting:" in text and "7 fallback retries" in text


def test_backup_handoff_summary_shows_backups_and_rpo() -> None:
    result = run(load_scenario(SCENARIOS / "backup-handoff.yaml"))
    summary = summarise(result)
    assert mismatches(summary) == []  # with backups
    backups = summary["backups"]
    assert backups["full"] == 2 and backups["incremental"] == 4 and backups["failed"] == 0
    assert backups["by_node"] == {"A": {"full": 1, "incremental": 1}, "C": {"full": 1, "incremental": 3}}
    assert 4 * 3600 <= backups["worst_rpo_s"] < 4.1 * 3600
    assert "backups       6 done (2 full, 4 incremental), 0 failed; worst RPO 4.0" in format_summary(summary)


def test_no_tasks_no_task_lines() -> None:
    summary = summarise(run(load_scenario(SCENARIOS / "quickstart.yaml")))
    assert mismatches(summary) == []
    assert summary["backups"] == {} and summary["etl"] == {} and summary["subscriptions"] == {}
    text = format_summary(summary)
    assert "backups " not in text and "etl " not in text


def test_subscription_failover_summary() -> None:
    summary = summarise(run(load_scenario(SCENARIOS / "subscription-failover.yaml")))
    assert mismatches(summary) == []  # with a subscription
    sub = summary["subscriptions"]["orders"]
    assert sub["docs_processed"] > 500 and sub["gave_up"] == 0
    assert 60 <= sub["failover_gap_s"] <= 75  # rehab grace + observer + Raft + the worker's 5 s retries
    assert "subscription  orders:" in format_summary(summary)

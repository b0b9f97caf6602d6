"""Validation: replication lag of a member pair against the replication loop's steps.

A write committed on A is visible on B after one one-way latency, B's CPU for the item
and B's journal write; A learns it one one-way latency later; a write that finds a batch
in flight first waits for that batch's acknowledgement (RavenDB's outgoing handler has
one batch out at a time). ``workbench.validation.replication_lag`` derives the expected
lag from these steps; the ``replication-lag`` check compares it with the model on a LAN
and a WAN pair (quick settings here, a few seconds). The first two tests pin the
composition exactly with constant step times, so a change that adds or drops a step (an
extra fsync at the source, a commit skipped at the destination, a second batch in flight)
fails them whatever the tolerances of the statistical check.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.validation.checks import CHECKS
from workbench.validation.replication_lag import lag_scenario, lag_theory, measure

ONE_WAY_MS, APPLY_MS, COMMIT_MS = 10.0, 0.5, 2.0
CONSTANT_STEPS = {"fsync": f"{COMMIT_MS} ms", "service": {"write": f"{APPLY_MS} ms"}}


def _constant(rate: float, duration_s: float):
    return lag_scenario(f"{ONE_WAY_MS} ms", rate, duration_s, hardware=CONSTANT_STEPS)


def test_theory_with_constant_steps_is_the_closed_form() -> None:
    """Constant steps: a cycle is C = 2d + c + f; busy periods C·e^(λC), idle 1/λ; residual C/2."""
    rate = 10.0
    t = lag_theory(_constant(rate, 10.0), samples=1000)
    bytes_ms = t.one_way_ms - ONE_WAY_MS  # the batch's bytes over 10 Gbit/s: microseconds
    assert 0 < bytes_ms < 0.01
    cycle = t.cycle_ms / 1e3
    assert t.cycle_ms == pytest.approx(2 * ONE_WAY_MS + APPLY_MS + COMMIT_MS, abs=0.01)
    busy_period = cycle * math.exp(rate * cycle)
    assert t.busy == pytest.approx(busy_period / (busy_period + 1 / rate))
    assert t.wait_ms == pytest.approx(t.busy * t.cycle_ms / 2)
    assert t.visible_ms == pytest.approx(ONE_WAY_MS + APPLY_MS + COMMIT_MS + t.wait_ms, abs=0.01)
    assert t.acknowledged_ms == pytest.approx(t.visible_ms + ONE_WAY_MS, abs=0.01)


def test_a_lone_write_is_visible_after_one_way_apply_and_commit() -> None:
    """With constant steps every write that finds no batch in flight has exactly the same lag:
    d + c + f to be readable on B, + d for A to know. The others waited for the batch in
    flight, less than one cycle more."""
    sample = measure(_constant(0.5, 400.0))
    assert sample.all_ok and len(sample.visible_ms) > 150
    visible = ONE_WAY_MS + APPLY_MS + COMMIT_MS
    cycle = 2 * ONE_WAY_MS + APPLY_MS + COMMIT_MS
    lone = np.abs(sample.visible_ms - visible) < 0.01  # the batch's bytes take microseconds
    assert lone.mean() > 0.95
    waited = sample.visible_ms[~lone]
    assert ((waited > visible) & (waited < visible + cycle + 0.01)).all()
    assert np.median(sample.acknowledged_ms) == pytest.approx(visible + ONE_WAY_MS, abs=0.01)
    assert sample.acknowledged_ms.min() == pytest.approx(visible + ONE_WAY_MS, abs=0.01)


def test_replication_lag_matches_the_loop_on_lan_and_wan_pairs() -> None:
    rows = CHECKS["replication-lag"].run(True)
    assert len(rows) == 6  # LAN, WAN lone writes, WAN stream: visible and acknowledged
    failed = [r for r in rows if not r["passed"]]
    assert not failed, "; ".join(
        f"{r['metric']}: simulated {r['simulated']:.3f} ms, expected {r['expected']:.3f} ms" for r in failed
    )
    # The stream on the WAN waits for batches in flight: well above its lone-write lag.
    by_metric = {r["metric"]: r["simulated"] for r in rows}
    lone = next(v for k, v in by_metric.items() if k.startswith("WAN pair, lone") and "visible" in k)
    stream = next(v for k, v in by_metric.items() if k.startswith("WAN pair, a stream") and "visible" in k)
    assert stream > lone + 10

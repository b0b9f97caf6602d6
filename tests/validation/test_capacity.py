"""Validation: the capacity search against M/M/1 theory.

One node, one worker, exponential service of mean 1 ms (μ = 1000/s), Poisson
reads, no network delay: an M/M/1 queue, whose response time is exponential
with rate μ − λ. Its p99 is ln(100)/(μ − λ), so the objective p99 ≤ 10 ms holds
up to λ* = μ − ln(100)/0.01 ≈ 539.5 ops/s. The search must land within its own
bracket tolerance plus the estimation error of a p99 over two 150 s runs (3 %).
"""

from __future__ import annotations

import math

import pytest

from workbench.study import Study, find_capacity

BASE = {
    "name": "mm1",
    "seed": 1,
    "duration": "170 s",
    "warmup": "20 s",
    "blueprint": {
        "extends": "single-node",
        "hardware": {"workers": 1, "service": {"read": "exponential(1 ms)"}},
        "network": {"same_zone": "0 ms", "same_region": "0 ms"},
    },
    "clients": {"count": 1, "request_overhead": "0 B"},
    "workload": {"rate": 100, "keys": 100, "mix": {"read": 1.0, "write": 0.0}},
}


@pytest.mark.slow
def test_capacity_search_finds_the_mm1_load_where_p99_reaches_the_objective():
    expected = 1000 - math.log(100) / 0.010
    study = Study(name="mm1", base=BASE, source="<validation>", base_dir=None, replications=2)
    result = find_capacity(
        study, ["p99_read_ms<=10"], low=400, high=800, tolerance=0.02, progress=False, executor="processes", workers=2
    )
    assert result.max_rate is not None
    assert abs(result.max_rate - expected) / expected < 0.03, (result.max_rate, expected)
    assert result.bottleneck == "cpu.A"
    # Utilisation of the one worker is ρ = λ/μ.
    assert abs(result.bottleneck_mean - result.max_rate / 1000) < 0.01
    points = result.points
    assert points["meets"].iloc[0] and not points["meets"].iloc[-1]

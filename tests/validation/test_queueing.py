"""Validation: a node's request workers against queueing theory.

One node, Poisson arrivals, exponential service, zero network latency: the
node's worker pool is an M/M/c queue, so the mean response time must match
W = C(c, a) / (c·μ - λ) + 1/μ (Erlang C; c = 1 gives M/M/1's 1/(μ - λ)).
Deterministic service must match M/D/1 (Pollaczek-Khinchine).

Tolerance: the simulated mean comes with a 99 % confidence interval from
batch means (20 batches, warm-up removed); theory must fall inside it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from workbench import run, scenario_from_dict


def erlang_c(c: int, lam: float, mu: float) -> float:
    """Probability that an arrival waits in an M/M/c queue."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def mmc_response_time(c: int, lam: float, mu: float) -> float:
    return erlang_c(c, lam, mu) / (c * mu - lam) + 1 / mu


def md1_response_time(lam: float, service: float) -> float:
    rho = lam * service
    return rho * service / (2 * (1 - rho)) + service


def single_node(workers: int, rate: float, service: str, duration: str = "900 s"):
    return scenario_from_dict(
        {
            "name": "queueing",
            "seed": 11,
            "duration": duration,
            "warmup": "60 s",
            "blueprint": {
                "extends": "single-node",
                "network": {"same_zone": "0 ms"},
                "hardware": {"workers": workers, "service": {"read": service}},
            },
            "clients": {"count": 1, "request_overhead": "0 B"},
            "workload": {"rate": rate, "mix": {"read": 1.0, "write": 0.0}},
        }
    )


def batch_means_ci(start: np.ndarray, latency: np.ndarray, batches: int = 20, level: float = 0.99):
    order = np.argsort(start)
    chunks = np.array_split(latency[order], batches)
    means = np.array([c.mean() for c in chunks])
    half = stats.t.ppf(0.5 + level / 2, batches - 1) * means.std(ddof=1) / math.sqrt(batches)
    return means.mean(), half


def _simulated(scenario):
    result = run(scenario)
    ops = result.ops[result.ops["start_s"] >= 60]
    assert (ops["outcome"] == "ok").all()
    return batch_means_ci(ops["start_s"].to_numpy(), ops["latency_ms"].to_numpy() / 1e3)


@pytest.mark.parametrize(("workers", "rate"), [(1, 70.0), (4, 300.0)])
def test_mean_response_time_matches_erlang_c(workers: int, rate: float):
    mu = 100.0  # exponential service, mean 10 ms
    mean, half = _simulated(single_node(workers, rate, "exponential(10 ms)"))
    expected = mmc_response_time(workers, rate, mu)
    assert abs(mean - expected) <= half, (
        f"M/M/{workers}: simulated {mean * 1e3:.2f} ± {half * 1e3:.2f} ms, theory {expected * 1e3:.2f} ms"
    )


def test_mean_response_time_matches_md1():
    mean, half = _simulated(single_node(1, 70.0, "10 ms"))
    expected = md1_response_time(70.0, 0.010)
    assert abs(mean - expected) <= half, (
        f"M/D/1: simulated {mean * 1e3:.2f} ± {half * 1e3:.2f} ms, theory {expected * 1e3:.2f} ms"
    )

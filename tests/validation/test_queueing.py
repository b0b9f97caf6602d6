"""Validation: a node's request workers against queueing theory.

One node, Poisson arrivals, exponential service, zero network latency: the
node's worker pool is an M/M/c queue, so the mean response time must match
W = C(c, a) / (c·μ - λ) + 1/μ (Erlang C; c = 1 gives M/M/1's 1/(μ - λ)) and the
probability of waiting must be the Erlang C probability itself. Deterministic
service must match M/D/1 (Pollaczek-Khinchine; P(wait) = ρ).

Tolerance: the simulated figures come with 99 % confidence intervals from batch
means (20 batches over 900 s, 60 s warm-up removed); theory must fall inside.
The computation is the ``workbench validate`` registry's
(``workbench.validation.checks``), here with its quick settings.
"""

from __future__ import annotations

import math

import pytest

from workbench.validation.checks import CHECKS, erlang_c, md1_response_time, mmc_response_time


def test_theory_reduces_to_the_textbook_single_server_cases():
    assert erlang_c(1, 70.0, 100.0) == pytest.approx(0.7)  # one server: P(wait) = ρ
    assert mmc_response_time(1, 70.0, 100.0) == pytest.approx(1 / 30)
    assert md1_response_time(70.0, 0.010) == pytest.approx(0.7 * 0.010 / 0.6 + 0.010)
    assert math.isclose(erlang_c(4, 300.0, 100.0), 0.5094, abs_tol=1e-4)


@pytest.mark.parametrize("name", ["mm1", "mmc", "md1"])
def test_response_time_and_probability_of_waiting_match_theory(name: str):
    rows = CHECKS[name].run(True)
    assert {r["metric"] for r in rows} == {"mean response time", "P(wait > 0)"}
    failed = [r for r in rows if not r["passed"]]
    assert not failed, "; ".join(
        f"{r['metric']}: simulated {r['simulated']:.4g} in [{r['ci_low']:.4g}, {r['ci_high']:.4g}], "
        f"theory {r['expected']:.4g}"
        for r in failed
    )

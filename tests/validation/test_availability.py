"""Validation: nodes under random crash and repair against renewal theory.

A node that fails after a time-to-failure draw and is repaired after a
time-to-repair draw, again and again, is an alternating renewal process: its
long-run availability is a = E[TTF] / (E[TTF] + E[TTR]) whatever the two
distributions are (the renewal-reward theorem). For exponential times that is
MTBF / (MTBF + MTTR).

One node: R independent replications (different seeds, 10 min warm-up removed)
give a mean and a 99 % Student-t confidence interval; theory must fall inside
it, both for the node's up-time (from the fault table) and for the probe
client's operations (a single node refuses every request while it is down).

A majority quorum of n independent nodes is up with the k-of-n binomial
probability; the cluster also needs a leader, and each election (a majority
restored, or the leader lost while a majority survives) costs about one election
timeout, which the expected value subtracts. Tolerance: the 99 % interval plus
half that correction, since the election time is itself an estimate.

The computation is the ``workbench validate`` registry's
(``workbench.validation.checks``), here with its quick settings.
"""

from __future__ import annotations

import pytest

from workbench.validation.checks import CHECKS, elections_per_second, majority_availability


def _assert_passed(rows: list[dict]) -> None:
    failed = [r for r in rows if not r["passed"]]
    assert not failed, "; ".join(
        f"{r['metric']}: simulated {r['simulated']:.4f} [{r['ci_low']:.4f}, {r['ci_high']:.4f}], "
        f"expected {r['expected']:.4f}"
        for r in failed
    )


@pytest.mark.slow
def test_single_node_availability_matches_renewal_theory():
    rows = CHECKS["availability-1"].run(True)
    assert len(rows) == 4  # exponential and weibull/lognormal; time up and probe ops
    _assert_passed(rows)


def test_binomial_and_election_rate():
    assert majority_availability(3, 0.9) == pytest.approx(0.9**3 + 3 * 0.9**2 * 0.1)
    # Three nodes, all exponential: majority restored from one up, or the leader lost with all three up.
    a = 120 / 140
    expected = 3 * a * (1 - a) ** 2 * 2 / 20 + a**3 / 120
    assert elections_per_second(3, 120.0, 20.0) == pytest.approx(expected)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["availability-3", "availability-5"])
def test_majority_availability_matches_the_binomial_less_elections(name: str):
    _assert_passed(CHECKS[name].run(True))

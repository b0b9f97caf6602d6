"""Validation: the t-visibility curve against its analytic form.

Setting: writes go to the preferred node A; reads are spread evenly over A, B
and C by RoundRobin (a new session per operation, so sessions cycle A, B, C).
Clients sit next to the nodes (zero latency, zero service and fsync time), and
A's replication to B and to C takes an exponential one-way delay of mean d.
A read issued t after a write's acknowledgement reaches A with probability 1/3
(always consistent) or a replica that has the write iff its delay D <= t:

    P(consistent | t) = 1/3 + 2/3 * (1 - exp(-t / d))

Writes are rare (2 per second) so a replication batch almost never waits for
the previous one (busy fraction ~ 2/s x 2d = 4 %), which the formula ignores.
Tolerance: 4 standard errors of each 6 ms bin's proportion (over 200 reads in
each) plus 0.02 for that bias; long after a write, every read is consistent.
The computation is the ``workbench validate`` registry's
(``workbench.validation.checks``), here with its quick settings (300 s).
"""

from __future__ import annotations

import pytest

from workbench.validation.checks import CHECKS, t_visibility_analytic


def test_analytic_curve_ends():
    assert t_visibility_analytic([0.0])[0] == pytest.approx(1 / 3)
    assert t_visibility_analytic([1e6])[0] == pytest.approx(1.0)


def test_t_visibility_matches_the_exponential_replication_model():
    rows = CHECKS["t-visibility"].run(True)
    assert len(rows) == 10  # nine 6 ms bins from 0 to 54 ms, and the late reads
    failed = [r for r in rows if not r["passed"]]
    assert not failed, "; ".join(
        f"{r['metric']}: simulated {r['simulated']:.3f}, analytic {r['expected']:.3f}" for r in failed
    )

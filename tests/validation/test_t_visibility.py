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
Tolerance: 4 standard errors of each bin's proportion plus 0.02 for that bias.
"""

from __future__ import annotations

import math

import numpy as np

from workbench import run, scenario_from_dict
from workbench.analysis.staleness import t_visibility

D_MS = 10.0


def test_t_visibility_matches_the_exponential_replication_model():
    links = [{"between": pair, "latency": f"exponential({D_MS} ms)"} for pair in (["A", "B"], ["A", "C"], ["B", "C"])]
    scenario = scenario_from_dict(
        {
            "name": "t-visibility",
            "seed": 5,
            "duration": "300 s",
            "blueprint": {
                "extends": "three-node",
                "database": {"members": ["A", "B", "C"]},
                "network": {"same_zone": "0 ms", "links": links},
                "hardware": {"fsync": "0 ms", "service": {"read": "0 ms", "write": "0 ms"}},
            },
            "clients": {"count": 1, "read_balance": "RoundRobin", "request_overhead": "0 B"},
            "workload": {"rate": 502, "keys": 5, "mix": {"read": 500 / 502, "write": 2 / 502}, "session_length": 1},
        }
    )
    ops = run(scenario).ops
    edges = np.arange(0.0, 60.0, 6.0)
    curve = t_visibility(ops, edges)
    assert curve["reads"].min() > 200
    for t_ms, n, p in zip(curve["t_ms"], curve["reads"], curve["p_consistent"], strict=True):
        # The bin's expected value: average the formula over the bin (t is ~uniform inside it).
        lo, hi = t_ms - 3.0, t_ms + 3.0
        ts = np.linspace(lo, hi, 61)
        expected = float(np.mean(1 / 3 + 2 / 3 * (1 - np.exp(-ts / D_MS))))
        se = math.sqrt(expected * (1 - expected) / n)
        assert abs(p - expected) <= 4 * se + 0.02, f"t={t_ms} ms: simulated {p:.3f}, analytic {expected:.3f}"
    # Long after a write, every read is consistent.
    late = t_visibility(ops, [200.0, 5000.0])
    assert late["p_consistent"].iloc[0] > 0.99

"""Validation: one node under random crash and repair against renewal theory.

A node that fails after a time-to-failure draw and is repaired after a
time-to-repair draw, again and again, is an alternating renewal process: its
long-run availability is a = E[TTF] / (E[TTF] + E[TTR]) whatever the two
distributions are (the renewal-reward theorem). For exponential times that is
MTBF / (MTBF + MTTR).

Tolerance: R independent replications (different seeds) give a mean and a
99 % Student-t confidence interval; theory must fall inside it. The node's
up-time comes from the fault table (time between each failure and its repair);
operations from a probe client must agree with it too, since a single node
refuses every request while it is down.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from workbench import run, scenario_from_dict
from workbench.analysis.faults import fault_table

HOURS = 3.0
REPLICATIONS = 8


def _availability(seed: int, ttf: str, ttr: str) -> tuple[float, float]:
    result = run(
        scenario_from_dict(
            {
                "name": "availability",
                "seed": seed,
                "duration": f"{HOURS} h",
                "sample_interval": "60 s",
                "blueprint": "single-node",
                "clients": {"count": 1},
                "workload": {"rate": 2, "keys": 100},
                "faults": [{"action": "random_failures", "time_to_failure": ttf, "time_to_repair": ttr}],
            },
            source="<validation>",
        )
    )
    end = HOURS * 3600
    down = fault_table(result.ops, result.events, end)["duration_s"].sum()
    ops = result.ops
    return 1.0 - down / end, float((ops["outcome"] == "ok").mean())


def _ci(values: list[float]) -> tuple[float, float]:
    x = np.asarray(values)
    half = stats.t.ppf(0.995, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean()), float(half)


@pytest.mark.parametrize(
    ("ttf", "ttr", "mean_ttf", "mean_ttr"),
    [
        ("exponential(120 s)", "exponential(20 s)", 120.0, 20.0),
        # Any distributions: only the means matter. Weibull(scale, k) has mean scale·Γ(1 + 1/k).
        ("weibull(120 s, 1.5)", "lognormal(mean=20 s, sigma=1)", 120.0 * 0.9027452929509336, 20.0),
    ],
    ids=["exponential", "weibull-lognormal"],
)
def test_single_node_availability_matches_renewal_theory(ttf: str, ttr: str, mean_ttf: float, mean_ttr: float):
    expected = mean_ttf / (mean_ttf + mean_ttr)
    runs = [_availability(seed, ttf, ttr) for seed in range(1, REPLICATIONS + 1)]
    up, half = _ci([r[0] for r in runs])
    assert abs(up - expected) <= half, f"time up {up:.4f} ± {half:.4f}, theory {expected:.4f}"
    ops, ops_half = _ci([r[1] for r in runs])
    assert abs(ops - expected) <= ops_half, f"probe ops ok {ops:.4f} ± {ops_half:.4f}, theory {expected:.4f}"

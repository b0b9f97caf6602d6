"""The registry of model-against-theory checks behind ``workbench validate``.

Each check runs the model on a setting whose answer theory (or a published
experiment) gives, and returns rows: one per compared figure, each with the
expected value, the simulated value, a confidence interval, the tolerance in
words and whether it passed. ``quick=True`` uses the small settings the test
suite runs (``tests/validation/``); the defaults are the settings whose figures
``docs/validation.md`` reports.

Statistics: warm-up is cut from every simulated run; means come with 99 %
Student-t intervals, from batch means within one long run (queueing) or from
independent replications with different seeds (availability); percentiles come
with 99 % order-statistic intervals; proportions with normal intervals.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from workbench.errors import WorkbenchInputError, did_you_mean, one_of

Row = dict[str, Any]
LEVEL = 0.99


@dataclass(frozen=True)
class Check:
    """One named check of the registry: its title, the theory or experiment it compares with
    (``source``), and ``run(quick)`` giving its rows."""

    name: str
    title: str
    source: str
    run: Callable[[bool], list[Row]]  # quick -> rows


def row(
    check: str,
    metric: str,
    expected: float,
    simulated: float,
    ci: tuple[float, float] | None,
    tolerance: str,
    passed: bool,
    unit: str = "",
) -> Row:
    """One compared figure as a result row (``ci``: the simulated value's interval, None when it has none)."""
    return {
        "check": check,
        "metric": metric,
        "unit": unit,
        "expected": float(expected),
        "simulated": float(simulated),
        "ci_low": None if ci is None else float(ci[0]),
        "ci_high": None if ci is None else float(ci[1]),
        "tolerance": tolerance,
        "passed": bool(passed),
    }


def t_interval(values: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """Mean and half-width of a Student-t interval over independent (or batch-mean) values."""
    x = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean()), float(half)


def batch_means_ci(order_by: np.ndarray, values: np.ndarray, batches: int, level: float = LEVEL) -> tuple[float, float]:
    """Batch means in time order: consecutive batches of one long run are nearly independent."""
    chunks = np.array_split(np.asarray(values, dtype=float)[np.argsort(order_by, kind="stable")], batches)
    return t_interval(np.array([c.mean() for c in chunks]), level)


# -- queueing: one node's worker pool ------------------------------------------------------------------


def erlang_c(c: int, lam: float, mu: float) -> float:
    """Probability that an arrival waits in an M/M/c queue."""
    a = lam / mu
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def mmc_response_time(c: int, lam: float, mu: float) -> float:
    """Mean response time (seconds) of an M/M/c queue: Erlang C wait plus one service time."""
    return erlang_c(c, lam, mu) / (c * mu - lam) + 1 / mu


def md1_response_time(lam: float, service: float) -> float:
    """Mean response time (seconds) of an M/D/1 queue: Pollaczek-Khinchine wait ρ·s / (2(1 - ρ))
    plus the service time ``service``."""
    rho = lam * service
    return rho * service / (2 * (1 - rho)) + service


QUEUE_WARMUP_S = 60.0


def single_node(workers: int, rate: float, service: str, duration: str = "900 s", seed: int = 11):
    """One node, zero network latency, Poisson reads: the worker pool is the whole system."""
    from workbench.scenario import scenario_from_dict

    return scenario_from_dict(
        {
            "name": "queueing",
            "seed": seed,
            "duration": duration,
            "warmup": f"{QUEUE_WARMUP_S} s",
            "blueprint": {
                "extends": "single-node",
                "network": {"same_zone": "0 ms"},
                "hardware": {"workers": workers, "service": {"read": service}},
            },
            "clients": {"count": 1, "request_overhead": "0 B"},
            "workload": {"rate": rate, "mix": {"read": 1.0, "write": 0.0}},
        },
        source="<validation>",
    )


def queue_measurements(workers: int, rate: float, service: str, duration_s: float, batches: int) -> dict[str, Any]:
    """Mean response time (s) and P(wait), each with a batch-means interval, warm-up removed.

    An arrival waits iff at least ``workers`` requests are in the node when it arrives
    (FCFS, zero network): with latency = time in the node, that count is the number of
    earlier arrivals minus the number of earlier departures.
    """
    from workbench.experiment import run

    result = run(single_node(workers, rate, service, f"{duration_s} s"))
    ops = result.ops
    start = ops["start_s"].to_numpy()
    end = ops["end_s"].to_numpy()
    order = np.argsort(start, kind="stable")
    start, end, ok = start[order], end[order], (ops["outcome"] == "ok").to_numpy()[order]
    # Still in the node when the run ended: they count as present for later arrivals (their
    # row ends with the run), but their time in the node is unknown, so it is not measured.
    finished = (ops["outcome"] != "unfinished").to_numpy()[order]
    in_node = np.arange(len(start)) - np.searchsorted(np.sort(end), start, side="right")
    keep = (start >= QUEUE_WARMUP_S) & finished
    latency = (end - start)[keep]
    waited = (in_node[keep] >= workers).astype(float)
    return {
        "all_ok": bool(ok[keep].all()),
        "response": batch_means_ci(start[keep], latency, batches),
        "p_wait": batch_means_ci(start[keep], waited, batches),
    }


def _inside(expected: float, mean: float, half: float) -> bool:
    return abs(mean - expected) <= half


def _queue_check(name: str, workers: int, rate: float, service: str, mean_service: float, deterministic: bool):
    def run_check(quick: bool) -> list[Row]:
        """Run the queue and compare its mean response time and P(wait > 0) with theory (batch-means interval)."""
        duration, batches = (900.0, 20) if quick else (3600.0, 30)
        m = queue_measurements(workers, rate, service, duration, batches)
        mu = 1 / mean_service
        w = md1_response_time(rate, mean_service) if deterministic else mmc_response_time(workers, rate, mu)
        # P(wait): Erlang C for M/M/c; for one server it is the utilisation whatever the service law.
        p_wait = rate * mean_service if deterministic else erlang_c(workers, rate, mu)
        tol = f"theory inside the {LEVEL:.0%} CI ({batches} batch means)"
        mean, half = m["response"]
        pm, ph = m["p_wait"]
        return [
            row(
                name,
                "mean response time",
                w * 1e3,
                mean * 1e3,
                ((mean - half) * 1e3, (mean + half) * 1e3),
                tol,
                m["all_ok"] and _inside(w, mean, half),
                "ms",
            ),
            row(name, "P(wait > 0)", p_wait, pm, (pm - ph, pm + ph), tol, m["all_ok"] and _inside(p_wait, pm, ph)),
        ]

    return run_check


# -- availability --------------------------------------------------------------------------------------

AVAIL_WARMUP_S = 600.0


def _random_failures_run(blueprint: str, seed: int, hours: float, ttf: str, ttr: str):
    from workbench.experiment import run
    from workbench.scenario import scenario_from_dict

    return run(
        scenario_from_dict(
            {
                "name": "availability",
                "seed": seed,
                "duration": f"{hours} h",
                "warmup": f"{AVAIL_WARMUP_S} s",
                "sample_interval": "60 s",
                "blueprint": blueprint,
                "clients": {"count": 1},
                "workload": {"rate": 2, "keys": 100},
                "faults": [{"action": "random_failures", "time_to_failure": ttf, "time_to_repair": ttr}],
            },
            source="<validation>",
        )
    )


def single_node_availability(seed: int, hours: float, ttf: str, ttr: str) -> tuple[float, float]:
    """(fraction of time up, fraction of probe operations ok) after the warm-up."""
    from workbench.analysis.faults import fault_table

    result = _random_failures_run("single-node", seed, hours, ttf, ttr)
    end = hours * 3600
    table = fault_table(result.ops, result.events, end)
    starts = table["start_s"].to_numpy(dtype=float)
    ends = starts + table["duration_s"].to_numpy(dtype=float)
    down = np.clip(np.minimum(ends, end) - np.maximum(starts, AVAIL_WARMUP_S), 0.0, None).sum()
    ops = result.ops[result.ops["start_s"] >= AVAIL_WARMUP_S]
    return 1.0 - down / (end - AVAIL_WARMUP_S), float((ops["outcome"] == "ok").mean())


# Weibull(scale, k) has mean scale·Γ(1 + 1/k); only the means matter (renewal-reward).
SINGLE_NODE_CASES = (
    ("exponential", "exponential(120 s)", "exponential(20 s)", 120.0, 20.0),
    (
        "weibull-lognormal",
        "weibull(120 s, 1.5)",
        "lognormal(mean=20 s, sigma=1)",
        120.0 * math.gamma(1 + 1 / 1.5),
        20.0,
    ),
)


def _single_node_availability(quick: bool) -> list[Row]:
    hours, replications = (3.0, 8) if quick else (3.0, 24)
    rows = []
    for case, ttf, ttr, mean_ttf, mean_ttr in SINGLE_NODE_CASES:
        expected = mean_ttf / (mean_ttf + mean_ttr)
        runs = [single_node_availability(seed, hours, ttf, ttr) for seed in range(1, replications + 1)]
        tol = f"theory inside the {LEVEL:.0%} CI ({replications} replications)"
        for label, values in (("time up", [r[0] for r in runs]), ("probe ops ok", [r[1] for r in runs])):
            mean, half = t_interval(np.array(values))
            rows.append(
                row(
                    "availability-1",
                    f"{case}: {label}",
                    expected,
                    mean,
                    (mean - half, mean + half),
                    tol,
                    _inside(expected, mean, half),
                )
            )
    return rows


def majority_availability(n: int, a: float) -> float:
    """P(at least a majority of n independent nodes is up), each up with probability a."""
    k = n // 2 + 1
    return float(stats.binom.sf(k - 1, n, a))


def elections_per_second(n: int, mtbf: float, mttr: float) -> float:
    """Long-run rate of leader elections for n independent exponential nodes.

    An election follows every time a majority is restored (k-1 up -> k up) and every
    time the leader fails while a majority survives it (k+1 or more up). The leader
    is one of the nodes that are up, so it fails at rate 1/MTBF.
    """
    a = mtbf / (mtbf + mttr)
    k = n // 2 + 1
    restored = stats.binom.pmf(k - 1, n, a) * (n - k + 1) / mttr
    leader_lost = stats.binom.sf(k, n, a) / mtbf
    return float(restored + leader_lost)


MTBF_S, MTTR_S = 120.0, 20.0


def _majority_check(n: int, blueprint: str):
    def run_check(quick: bool) -> list[Row]:
        """Replicated runs under random node failures: cluster availability against the binomial
        majority figure less the time spent electing, and the election rate against theory."""
        from workbench.analysis.summary import summarise
        from workbench.scenario import scenario_from_dict

        hours, replications = (1.0, 4) if quick else (3.0, 12)
        ttf, ttr = f"exponential({MTBF_S:g} s)", f"exponential({MTTR_S:g} s)"
        summaries = [
            summarise(_random_failures_run(blueprint, seed, hours, ttf, ttr))["cluster"]
            for seed in range(1, replications + 1)
        ]
        measured_h = (hours * 3600 - AVAIL_WARMUP_S) / 3600
        a = MTBF_S / (MTBF_S + MTTR_S)
        binomial = majority_availability(n, a)
        rate = elections_per_second(n, MTBF_S, MTTR_S)
        # Every election leaves the cluster without a leader for about one election
        # timeout (detection plus a vote round); the binomial counts that time as up.
        election_s = scenario_from_dict({"name": "et", "blueprint": blueprint}).blueprint.cluster.election_timeout
        correction = rate * election_s
        expected = binomial - correction
        mean, half = t_interval(np.array([s["availability"] for s in summaries]))
        # The election time is an estimate: allow half the correction on top of the CI.
        slack = half + 0.5 * correction
        tol = f"{LEVEL:.0%} CI ({replications} reps) + {0.5 * correction:.4f} (half the election term)"
        name = f"availability-{n}"
        # The correction's other factor, the election rate, is checked on its own.
        per_hour, per_hour_half = t_interval(np.array([s["leaders_elected"] / measured_h for s in summaries]))
        return [
            row(
                name,
                f"leader + majority of {n} (binomial {binomial:.4f} - elections {correction:.4f})",
                expected,
                mean,
                (mean - half, mean + half),
                tol,
                abs(mean - expected) <= slack,
            ),
            row(
                name,
                "leaders elected per hour",
                rate * 3600,
                per_hour,
                (per_hour - per_hour_half, per_hour + per_hour_half),
                f"theory inside the {LEVEL:.0%} CI ({replications} reps)",
                _inside(rate * 3600, per_hour, per_hour_half),
            ),
        ]

    return run_check


# -- Raft: Figure 16 ---------------------------------------------------------------------------------


def percentile_ci(sorted_x: np.ndarray, q: float, level: float = LEVEL) -> tuple[float, float]:
    """Distribution-free interval for a quantile from the binomial law of order statistics."""
    n = len(sorted_x)
    lo = int(stats.binom.ppf((1 - level) / 2, n, q))
    hi = int(stats.binom.ppf(0.5 + level / 2, n, q))
    return float(sorted_x[max(lo - 1, 0)]), float(sorted_x[min(hi, n - 1)])


def _raft_election(quick: bool) -> list[Row]:
    """Every range of Figure 16, each against its own curve, from one parameter set."""
    from workbench.validation.raft_election import (
        FIGURE_RANGES,
        IDENTICAL_TIMEOUTS,
        PERCENTILES,
        TOLERANCES,
        figure16_run,
        paper_summary,
        summarise_downtimes,
    )

    # The paper's curves are 1000 trials (100 for 150-150); fewer would make their tails
    # incomparable, so --quick runs them in full too (about 15 s).
    rows = []
    for name in FIGURE_RANGES:
        downtimes = figure16_run(name)
        ms = np.sort(downtimes * 1e3)
        model, paper = summarise_downtimes(downtimes), paper_summary(name)
        if name == IDENTICAL_TIMEOUTS:
            share = float(np.mean(ms > 10_000))
            label = f"timeouts {name} ms: share over 10 s"
            rows.append(row("raft-election", label, 1.0, share, None, "at least 0.9", share >= 0.9))
            keys: tuple[str, ...] = ("p50",)
        else:
            keys = tuple(TOLERANCES)
        for key in keys:
            # With identical timeouts only the OS's timer jitter (an estimate) ends a split vote.
            tol = 0.5 if name == IDENTICAL_TIMEOUTS else TOLERANCES[key]
            gap = (model[key] - paper[key]) / paper[key]
            if key in PERCENTILES:
                ci = percentile_ci(ms, PERCENTILES[key] / 100)
            elif key == "mean" and np.isfinite(ms).all():
                mean, half = t_interval(ms)
                ci = (mean - half, mean + half)
            else:
                ci = None
            label, ok = f"timeouts {name} ms: {key}", abs(gap) <= tol
            rows.append(row("raft-election", label, paper[key], model[key], ci, f"within ±{tol:.0%}", ok, "ms"))
    return rows


def _raft_safety(quick: bool) -> list[Row]:
    """Raft's safety properties over random crash, restart and partition schedules."""
    from workbench.validation.raft_safety import safety_sweep

    sweep = safety_sweep(60 if quick else 400)
    broken = sweep.broken
    label = f"schedules that broke a property (of {sweep.schedules}, {sweep.elections} elections)"
    rows = [row("raft-safety", label, 0, len(broken), None, "none", not broken)]
    if broken:
        print(f"raft-safety: first broken schedule: {broken[0]}", file=sys.stderr)
    return rows


# -- staleness: t-visibility -----------------------------------------------------------------------

T_VIS_D_MS = 10.0


def t_visibility_analytic(t_ms: np.ndarray, d_ms: float = T_VIS_D_MS) -> np.ndarray:
    """P(consistent read t after the ack): 1/3 at A, else a replica whose delay was at most t."""
    return 1 / 3 + 2 / 3 * (1 - np.exp(-np.asarray(t_ms, dtype=float) / d_ms))


def t_visibility_run(duration_s: float, seed: int = 5):
    """Writes to A, RoundRobin reads over A, B, C, exponential(d) replication delay, nothing else."""
    from workbench.experiment import run
    from workbench.scenario import scenario_from_dict

    pairs = (["A", "B"], ["A", "C"], ["B", "C"])
    links = [{"between": pair, "latency": f"exponential({T_VIS_D_MS} ms)"} for pair in pairs]
    scenario = scenario_from_dict(
        {
            "name": "t-visibility",
            "seed": seed,
            "duration": f"{duration_s} s",
            "warmup": "1 s",
            "blueprint": {
                "extends": "three-node",
                "database": {"members": ["A", "B", "C"]},
                "network": {"same_zone": "0 ms", "links": links},
                "hardware": {"fsync": "0 ms", "service": {"read": "0 ms", "write": "0 ms"}},
            },
            "clients": {"count": 1, "read_balance": "RoundRobin", "request_overhead": "0 B"},
            "workload": {"rate": 502, "keys": 5, "mix": {"read": 500 / 502, "write": 2 / 502}, "session_length": 1},
        },
        source="<validation>",
    )
    ops = run(scenario).ops
    return ops[ops["start_s"] >= 1.0]


def _t_visibility(quick: bool) -> list[Row]:
    from workbench.analysis.staleness import t_visibility

    ops = t_visibility_run(300.0 if quick else 1200.0)
    curve = t_visibility(ops, np.arange(0.0, 60.0, 6.0))
    # Replication batches that wait for the previous batch's ack (rare at 2 writes/s)
    # arrive late, which the formula ignores: 0.02 on top of 4 standard errors.
    tol = "|sim - analytic| <= 4 se + 0.02"
    rows = []
    for t_ms, n, p in zip(curve["t_ms"], curve["reads"], curve["p_consistent"], strict=True):
        # The bin's expected value: the formula averaged over the bin (t is ~uniform inside it).
        expected = float(np.mean(t_visibility_analytic(np.linspace(t_ms - 3.0, t_ms + 3.0, 61))))
        se = math.sqrt(expected * (1 - expected) / n)
        z = stats.norm.ppf(0.5 + LEVEL / 2)
        ok = n > 200 and abs(p - expected) <= 4 * se + 0.02
        rows.append(
            row("t-visibility", f"P(consistent), t = {t_ms:g} ms", expected, p, (p - z * se, p + z * se), tol, ok)
        )
    late = t_visibility(ops, [200.0, 5000.0])["p_consistent"].iloc[0]
    rows.append(row("t-visibility", "P(consistent), t >= 200 ms", 1.0, late, None, "> 0.99", late > 0.99))
    return rows


# -- replication lag: a member pair against the replication loop's steps ----------------------------


def _replication_lag(quick: bool) -> list[Row]:
    from workbench.validation.replication_lag import check_rows

    return check_rows(quick)


CHECKS: dict[str, Check] = {
    c.name: c
    for c in (
        Check(
            "mm1",
            "M/M/1 node, λ = 70/s, μ = 100/s",
            "W = 1/(μ − λ), P(wait) = ρ",
            _queue_check("mm1", 1, 70.0, "exponential(10 ms)", 0.010, False),
        ),
        Check(
            "mmc",
            "M/M/4 node, λ = 300/s, μ = 100/s",
            "Erlang C",
            _queue_check("mmc", 4, 300.0, "exponential(10 ms)", 0.010, False),
        ),
        Check(
            "md1",
            "M/D/1 node, λ = 70/s, D = 10 ms",
            "Pollaczek–Khinchine, P(wait) = ρ",
            _queue_check("md1", 1, 70.0, "10 ms", 0.010, True),
        ),
        Check(
            "availability-1",
            "one node, random crash/repair",
            "renewal-reward: a = MTBF/(MTBF+MTTR)",
            _single_node_availability,
        ),
        Check(
            "availability-3",
            "three-node majority under random failures",
            "k-of-n binomial minus election time",
            _majority_check(3, "three-node"),
        ),
        Check(
            "availability-5",
            "five-node majority under random failures",
            "k-of-n binomial minus election time",
            _majority_check(5, "five-node"),
        ),
        Check("raft-election", "time to elect a new leader", "Ongaro & Ousterhout 2014, Figure 16", _raft_election),
        Check(
            "raft-safety",
            "election safety, log matching, leader completeness, state machine safety",
            "Raft (Ongaro & Ousterhout 2014, Figure 3)",
            _raft_safety,
        ),
        Check(
            "t-visibility",
            "consistent-read probability after a write",
            "PBS (Bailis et al. 2012), exponential WARS",
            _t_visibility,
        ),
        Check(
            "replication-lag",
            "replication lag of a LAN and a WAN member pair",
            "RavenDB's replication loop (one-way + apply + commit, one batch in flight); book: ~2 × ping",
            _replication_lag,
        ),
    )
}


def resolve(names: list[str]) -> list[Check]:
    """The checks to run: every check for no names or 'all'; unknown names are input errors."""
    known = [*CHECKS, "all"]
    for name in names:
        if name not in known:
            raise WorkbenchInputError(
                f"'{name}' is not a check{did_you_mean(name, known)}; known: {one_of(known)}",
                source="workbench validate",
            )
    if not names or "all" in names:
        return list(CHECKS.values())
    return [CHECKS[name] for name in dict.fromkeys(names)]  # once each, in the order given


def run_checks(checks: list[Check], quick: bool = False) -> list[Row]:
    """Every row of every check in ``checks``, in order."""
    return [r for check in checks for r in check.run(quick)]


def format_rows(rows: list[Row]) -> str:
    """A plain-text table: check, metric, expected, simulated, interval, tolerance, pass/fail."""

    def num(x: float | None, unit: str) -> str:
        """A figure for the table: two decimals for milliseconds, four otherwise; ``-`` when missing."""
        if x is None:
            return "-"
        return f"{x:.2f}" if unit == "ms" else f"{x:.4f}"

    header = ("check", "metric", "expected", "simulated", "99% CI", "tolerance", "result")
    table = [header]
    for r in rows:
        ci = "-" if r["ci_low"] is None else f"{num(r['ci_low'], r['unit'])} – {num(r['ci_high'], r['unit'])}"
        unit = f" {r['unit']}" if r["unit"] else ""
        table.append(
            (
                r["check"],
                r["metric"] + (f" ({r['unit']})" if unit else ""),
                num(r["expected"], r["unit"]),
                num(r["simulated"], r["unit"]),
                ci,
                r["tolerance"],
                "pass" if r["passed"] else "FAIL",
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)

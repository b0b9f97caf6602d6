"""The report's answer, in words: the recommendation, the findings ranked by practical
significance, the "these figures are simulated" notice, and the capacity search told for people.

A difference between two variants counts only if it is both outside the noise (the 95 %
intervals do not overlap) and large enough to matter (:func:`practical_threshold`: 5 %
relative, with a floor of 1 ms for latencies, 0.01 percentage point for availability and
one event for counts). Everything else is "no meaningful difference".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.analysis.capacity import first_failure, resource_text

if TYPE_CHECKING:  # the report module imports this one
    from workbench.analysis.capacity import Slo
    from workbench.report.study_report import Report
    from workbench.study import CapacityResult, Study

RELATIVE = 0.05  # a difference below 5 % of the larger value is not practical
LATENCY_FLOOR_MS = 1.0
AVAILABILITY_FLOOR = 0.0001  # 0.01 percentage point
COUNT_FLOOR = 1.0

LOST_WRITES_EXPLAINED = (
    "Lost writes are writes the cluster acknowledged (the client was told they were saved) that are gone "
    "by the end of the run: overwritten when conflict resolution kept another version, or lost with a node "
    "that had not yet replicated them."
)

# Metrics where lower is better (the rest: higher is better, or neither).
_LOWER_BETTER = ("ms)", "(s)", "lost writes", "conflicts", "stale reads", "elections", "stalled", "RPO", "errors")


def kind_of(metric: str) -> str:
    """``latency``, ``fraction`` or ``count`` for a comparison-table row label."""
    if "(ms)" in metric:
        return "latency"
    if "availability" in metric or metric == "stale reads":
        return "fraction"
    return "count"


def lower_is_better(metric: str) -> bool | None:
    """Whether lower is better on a comparison-table row; None when neither is (nodes, database
    copies, unknown rows), which are not ranked."""
    if "availability" in metric:
        return False
    if metric in ("nodes", "database copies"):
        return None
    return True if any(token in metric for token in _LOWER_BETTER) else None


def practical_threshold(metric: str, a: float, b: float) -> float:
    """The smallest gap between ``a`` and ``b`` (the row's unit) that matters in practice: 5 % of the
    larger, at least the floor of the row's kind; for availability the floor alone."""
    floor = {"latency": LATENCY_FLOOR_MS, "fraction": AVAILABILITY_FLOOR}.get(kind_of(metric), COUNT_FLOOR)
    if kind_of(metric) == "fraction":
        return floor  # 5 % of 99.9 % would hide an outage; availability uses the absolute floor
    return max(floor, RELATIVE * max(abs(a), abs(b)))


def _half(cell: tuple[float, float]) -> float:
    return 0.0 if math.isnan(cell[1]) else cell[1]


@dataclass(frozen=True)
class Difference:
    """A meaningful difference on one row of the comparison table: the best variant against the worst."""

    metric: str
    better: str
    worse: str
    better_value: float
    worse_value: float
    size: float  # the difference in units of the practical threshold (larger: matters more)


def differences(table: pd.DataFrame) -> tuple[list[Difference], list[str]]:
    """Meaningful differences (best against worst variant of each metric), largest first, and
    the metrics whose variants cannot be told apart in practice."""
    variants = [c for c in table.columns if c != "key"]
    found: list[Difference] = []
    same: list[str] = []
    for metric in table.index:
        direction = lower_is_better(str(metric))
        cells = {v: table.at[metric, v] for v in variants if table.at[metric, v] is not None}
        cells = {v: c for v, c in cells.items() if not math.isnan(c[0])}
        if direction is None or len(cells) < 2:
            continue
        order = sorted(cells, key=lambda v: cells[v][0], reverse=not direction)
        best, worst = order[0], order[-1]
        (mb, _), (mw, _) = cells[best], cells[worst]
        gap = abs(mb - mw)
        noise = _half(cells[best]) + _half(cells[worst])
        threshold = practical_threshold(str(metric), mb, mw)
        if gap > noise and gap >= threshold:
            found.append(Difference(str(metric), best, worst, mb, mw, gap / threshold))
        else:
            same.append(str(metric))
    found.sort(key=lambda d: -d.size)
    return found, same


def value_text(metric: str, value: float) -> str:
    """A comparison-table value in its row's unit: ``12.3 ms``, ``99.95 %``, ``4.0 s`` or a count."""
    kind = kind_of(metric)
    if kind == "latency":
        return f"{value:,.1f} ms" if value >= 10 else f"{value:,.2f} ms"
    if kind == "fraction":
        return percent(value)
    if "(s)" in metric:
        return f"{value:,.1f} s"
    return f"{value:,.1f}" if not float(value).is_integer() else f"{value:,.0f}"


def percent(fraction: float) -> str:
    """99.95 %, 100 %, 0.02 %: enough digits to see a difference of 0.01 point."""
    value = fraction * 100
    if value == 100 or value == 0:
        return f"{value:.0f} %"
    digits = 2 if 1 <= value <= 99.99 or value < 1 else 3
    return f"{value:.{digits}f} %"


def difference_sentence(d: Difference) -> str:
    """The difference as a finding: ``write p99: three-node 12.3 ms against five-node 18.0 ms.``"""
    name = re.sub(r" \((ms|s)\)$", "", d.metric)
    return (
        f"{name}: {d.better} {value_text(d.metric, d.better_value)} against {d.worse} "
        f"{value_text(d.metric, d.worse_value)}."
    )


# ----------------------------------------------------------------------------- people's words


def title(study: Study) -> str:
    """The study's question in words: the description's first sentence, else its name without the slug."""
    description = " ".join(str(study.extra.get("description") or "").split())
    if description:
        first = re.split(r"(?<=[.?!])\s", description, maxsplit=1)[0]
        if len(first) <= 140:
            return first
    words = re.sub(r"[-_]+", " ", str(study.name)).strip()
    return words[:1].upper() + words[1:] if words else "Study"


def number(value: Any) -> str:
    """A number for people: thousands separators, no scientific notation, yes/no for booleans."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:,.2f}"
        return f"{value:.4f}".rstrip("0")
    return str(value)


def capacity_points(points: pd.DataFrame) -> pd.DataFrame:
    """The loads a capacity search tried, formatted for people (strings)."""
    out = pd.DataFrame()
    for column in points.columns:
        values = points[column]
        if column == "rate":
            out["load (ops/s)"] = [number(v) for v in values]
        elif column == "throughput":
            out["throughput (ops/s)"] = [number(v) for v in values]
        elif column == "bottleneck":
            out["busiest resource"] = [resource_text(v) for v in values]
        elif column == "bottleneck_utilisation":
            out["its utilisation"] = [percent(float(v)) if v is not None and v == v else "-" for v in values]
        elif column == "meets":
            out["meets the objectives"] = [number(bool(v)) for v in values]
        elif column.startswith("availability") or column.endswith("fraction"):
            out[column] = [percent(float(v)) if v is not None and v == v else "-" for v in values]
        elif column.endswith("_ms") or column.startswith("latency_ms"):
            out[f"{column} (ms)" if not column.endswith("_ms") else column] = [number(v) for v in values]
        else:
            out[column] = [number(v) for v in values]
    return out


def capacity_lines(cap: CapacityResult, *, low: float | None = None, high: float | None = None) -> list[str]:
    """What a capacity search found, in sentences: the highest load meeting the objectives,
    what limits there (and what only looks busy), or that no limit was found in the range."""
    out: list[str] = []
    objectives = ", ".join(cap.objectives)
    if cap.max_rate is None:
        start = f" ({number(low)} ops/s)" if low is not None else ""
        out.append(f"No load meets {objectives}, not even the lowest searched{start}: lower the range or the load.")
        return out
    searched = cap.searched_to or cap.max_rate
    past = high is not None and searched > high
    if cap.capped:
        went = f" (the search went on past the range's top of {number(high)} ops/s)" if past else ""
        out.append(
            f"No limit found: every load searched, up to {number(searched)} ops/s{went}, met {objectives}. "
            "The real capacity is higher; raise the range (or capacity.beyond) to find it."
        )
    else:
        beyond = (
            f" (above the range's top of {number(high)} ops/s: every load in the range met the objectives, so the "
            "search went on past it)"
            if high is not None and cap.max_rate >= high
            else ""
        )
        out.append(f"Highest load meeting {objectives}: about {number(cap.max_rate)} ops/s{beyond}.")
        failure = first_failure(cap)
        if failure is not None and failure[1]:
            rate, missed = failure
            said = "; ".join(
                f"{slo.metric} was {'no value' if got is None else _slo_value_text(slo.metric, got)} "
                f"(objective {slo.text})"
                for slo, got in missed
            )
            out.append(f"What limits: at {number(rate)} ops/s {said}.")
    if cap.bottleneck:
        where = resource_text(cap.bottleneck)
        busy = percent(float(cap.bottleneck_mean or 0.0))
        if str(cap.bottleneck).startswith("disk.") and (cap.bottleneck_mean or 0.0) >= 0.8:
            out.append(
                f"The busiest resource there is the {where} ({busy} of the time in fsync). That is not a "
                "saturated disk: with group commit each fsync takes every write waiting, so a disk can be busy "
                "all the time and still take more load; latency rises, but the disk only saturates when batches "
                "reach max_writes_per_fsync. The objectives, not the disk, set the limit here."
            )
        elif (cap.bottleneck_mean or 0.0) >= 0.8:
            out.append(
                f"The busiest resource there is the {where} at {busy}: it is near saturation and limits the load."
            )
        else:
            out.append(f"The busiest resource there is the {where} at only {busy}: no resource is saturated.")
    if cap.headroom is not None and cap.target is not None:
        room = f"{cap.headroom:+.0%}".replace("%", " %")
        if cap.capped:
            out.append(
                f"Headroom at the target of {number(cap.target)} ops/s: at least {room} "
                "(the limit lies beyond the loads searched)."
            )
        else:
            out.append(f"Headroom at the target of {number(cap.target)} ops/s: {room}.")
    return out


def _met(slo: Slo, value: float) -> bool:
    from workbench.analysis.capacity import _OPS

    return bool(_OPS[slo.op](value, slo.value))


def _slo_value_text(metric: str, value: float) -> str:
    from workbench.analysis.capacity import metric_family

    family, _ = metric_family(metric)
    if family == "latency":
        return f"{value:,.2f} ms"
    if family == "fraction":
        return percent(value)
    return number(value)


# ----------------------------------------------------------------------------- the recommendation


def variant_means(rows: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per variant, the mean over its runs of each numeric column of the rows (no column without a value)."""
    out: dict[str, dict[str, Any]] = {}
    for name, group in rows.groupby("variant", sort=False):
        numeric = group.apply(pd.to_numeric, errors="coerce")
        out[str(name)] = {k: float(v) for k, v in numeric.mean().items() if v == v}
    return out


def objective_checks(report: Report) -> dict[str, list[tuple[str, str, bool]]]:
    """Per variant: (objective, measured value, met) at the study's load and, with a capacity
    search, whether the variant holds the objectives at the target load."""
    from workbench.analysis.capacity import parse_slo, slo_value

    means = variant_means(report.rows)
    out: dict[str, list[tuple[str, str, bool]]] = {}
    for name in report.results:
        checks = []
        for text in report.objectives:
            slo = parse_slo(text)
            got = slo_value(means.get(name, {}), slo.metric)
            shown = "-" if got is None else _slo_value_text(slo.metric, got)
            checks.append((f"{text} at the study's load", shown, got is not None and _met(slo, got)))
        cap = report.capacity.get(name)
        if cap is not None and report.target is not None:
            ok = cap.max_rate is not None and cap.max_rate >= report.target
            reach = "no load searched" if cap.max_rate is None else f"up to {number(cap.max_rate)} ops/s"
            if cap is not None and cap.capped:
                reach = f"at least {number(cap.max_rate)} ops/s"
            checks.append((f"all objectives at the target {number(report.target)} ops/s", reach, ok))
        out[name] = checks
    return out


def recommendation(report: Report) -> tuple[str, list[str]]:
    """The choice in one sentence, then one line per variant saying why (or why not)."""
    table = report.table
    variants = [c for c in table.columns if c != "key"]
    checks = objective_checks(report)
    means = variant_means(report.rows)

    def figure(name: str, key: str) -> float | None:
        """A variant's mean of ``key``, None when it has no value."""
        value = means.get(name, {}).get(key)
        return None if value is None or value != value else value

    def availability(name: str) -> float | None:
        """A variant's lower availability of reads and writes (a fraction, 0–1), None without either."""
        values = [figure(name, k) for k in ("availability.read", "availability.write")]
        values = [v for v in values if v is not None]
        return min(values) if values else None

    candidates = [v for v in variants if all(ok for _, _, ok in checks.get(v, []))]
    meets_all = bool(report.objectives)
    if not candidates:
        candidates = list(variants)
        meets_all = False
    # Keep those not meaningfully worse than the best on availability, then on lost writes;
    # then the fewest nodes; then the lowest write p99 (ties by practical threshold).
    for key, lower in (("availability", False), ("lost_writes", True)):
        values = {v: (availability(v) if key == "availability" else figure(v, key)) for v in candidates}
        known = {v: x for v, x in values.items() if x is not None}
        if known:
            best = (min if lower else max)(known.values())
            floor = AVAILABILITY_FLOOR if key == "availability" else COUNT_FLOOR
            candidates = [v for v in candidates if v not in known or abs(known[v] - best) < floor]
    nodes = {v: figure(v, "nodes") for v in candidates}
    fewest = min((n for n in nodes.values() if n is not None), default=None)
    if fewest is not None:
        candidates = [v for v in candidates if nodes[v] in (None, fewest)]
    p99 = {v: figure(v, "latency_ms.write.p99") for v in candidates}
    known = {v: x for v, x in p99.items() if x is not None}
    choice = min(known, key=known.get) if known else candidates[0]

    reasons = []
    if report.objectives:
        reasons.append(
            "it meets every objective" if meets_all else "no variant meets every objective; it comes closest"
        )
    av = availability(choice)
    if av is not None:
        reasons.append(f"availability {percent(av)}")
    if figure(choice, "latency_ms.write.p99") is not None:
        reasons.append(f"write p99 {value_text('(ms)', figure(choice, 'latency_ms.write.p99'))}")
    lost = figure(choice, "lost_writes")
    if lost is not None:
        reasons.append("no lost writes" if lost == 0 else f"{lost:,.1f} lost writes per run")
    if figure(choice, "nodes") is not None:
        reasons.append(f"{figure(choice, 'nodes'):,.0f} nodes")
    head = f"Choose {choice}: {', '.join(reasons)}."
    if len(variants) > 1:
        head += " The others are no better where it matters, or cost more nodes."
    lines = []
    for v in variants:
        parts = []
        if figure(v, "nodes") is not None:
            parts.append(f"{figure(v, 'nodes'):,.0f} nodes")
        if availability(v) is not None:
            parts.append(f"availability {percent(availability(v))}")
        for key, label in (("latency_ms.read.p99", "read p99"), ("latency_ms.write.p99", "write p99")):
            if figure(v, key) is not None:
                parts.append(f"{label} {value_text('(ms)', figure(v, key))}")
        if figure(v, "lost_writes") is not None:
            parts.append(f"lost writes {figure(v, 'lost_writes'):,.1f} per run")
        for text, shown, ok in checks.get(v, []):
            parts.append(f"{text}: {shown}, {'met' if ok else 'NOT met'}")
        lines.append(f"{v}: {'; '.join(parts)}.")
    return head, lines


def simulated_notice(report: Report) -> tuple[str, list[str]]:
    """ "These figures are simulated", with the date, version, seeds, and the main assumptions."""
    from workbench.version import __version__

    seeds = sorted({int(s) for s in report.rows["seed"]}) if "seed" in report.rows else []
    seed_text = f"seeds {seeds[0]} to {seeds[-1]}" if len(seeds) > 1 else f"seed {seeds[0]}" if seeds else ""
    head = (
        f"These figures are simulated, not measured on RavenDB servers: workbench {__version__}, run on "
        f"{report.date}, {report.study.replications} replications per variant ({seed_text}), means with 95 % "
        "confidence intervals. They hold as far as the model's assumptions do:"
    )
    first = next(iter(report.results.values()), None)
    scenario = first.scenario if first is not None else {}
    blueprint = scenario.get("blueprint") or {}
    hardware = blueprint.get("hardware") or {}
    network = blueprint.get("network") or {}
    clients = scenario.get("clients") or {}
    workload = scenario.get("workload") or {}
    assumptions = []
    if network:
        assumptions.append(
            f"one-way network latency: same zone {network.get('same_zone')}, same region "
            f"{network.get('same_region')}, across regions {network.get('cross_region')}; bandwidth "
            f"{network.get('bandwidth')}"
        )
    if hardware:
        assumptions.append(
            f"disk fsync {hardware.get('fsync')}, group commit up to {hardware.get('max_writes_per_fsync')} "
            f"writes per fsync; {hardware.get('workers')} request workers per node"
        )
    if clients:
        assumptions.append(
            f"{clients.get('count')} clients, request timeout {clients.get('request_timeout')}, read balance "
            f"{clients.get('read_balance')}"
        )
    if workload:
        assumptions.append(f"load {number(workload.get('rate'))} ops/s over {number(workload.get('keys'))} keys")
    assumptions.append("faults as listed in the scenario below; every variant sees the same random draws")
    return head, [a.replace("None", "default") for a in assumptions]

"""Capacity: how busy each resource was, which one limits, and service-level objectives.

Pure functions over a run's tables (the search over loads that uses them lives in
:mod:`workbench.study`). Utilisation comes from the ``timeseries`` table, after the
warm-up: each node's request workers (``cpu_utilisation``), each node's disk (share
of time spent in fsync, ``disk_utilisation``), and each directed link between
nodes (bytes sent / bandwidth, ``utilisation``). The bottleneck is the resource
with the highest mean utilisation.

A disk's utilisation is the share of time an fsync is in progress. With group
commit a disk can be busy all the time and still take more writes per fsync, so
a disk near 100 % is where latency starts to rise with load, not a hard limit:
the hard limit is when batches reach ``max_writes_per_fsync``.
"""

from __future__ import annotations

import math
import operator
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from workbench.analysis.summary import OP_KINDS, PERCENTILES
from workbench.errors import WorkbenchInputError, did_you_mean
from workbench.results import RunResult

_RESOURCES = {"cpu_utilisation": "cpu", "disk_utilisation": "disk", "utilisation": "link"}


def utilisation_table(result: RunResult) -> pd.DataFrame:
    """Mean and peak utilisation per resource after the warm-up, busiest first."""
    ts = result.timeseries
    warmup = result.spec.warmup
    if ts.empty:
        return pd.DataFrame(columns=["resource", "kind", "mean", "peak"])
    rows = ts[ts["metric"].isin(list(_RESOURCES)) & (ts["time_s"] > warmup)]
    if rows.empty:
        return pd.DataFrame(columns=["resource", "kind", "mean", "peak"])
    grouped = rows.groupby(["entity", "metric"], observed=True)["value"].agg(["mean", "max"]).reset_index()
    grouped["kind"] = grouped["metric"].map(_RESOURCES)
    grouped["resource"] = [
        f"{kind}.{str(entity).removeprefix('node.').removeprefix('link.')}"
        for kind, entity in zip(grouped["kind"], grouped["entity"], strict=True)
    ]
    table = grouped.rename(columns={"max": "peak"})[["resource", "kind", "mean", "peak"]]
    return table.sort_values(["mean", "resource"], ascending=[False, True]).reset_index(drop=True)


def utilisation(result: RunResult) -> dict[str, Any]:
    """Flat figures for a run's row: mean utilisation of each node's CPU and disk, the
    busiest link, and the bottleneck (the busiest resource of all)."""
    table = utilisation_table(result)
    out: dict[str, Any] = {}
    if table.empty:
        return out
    for row in table.itertuples(index=False):
        if row.kind in ("cpu", "disk"):
            out[row.resource] = round(float(row.mean), 6)
    links = table[table["kind"] == "link"]
    if not links.empty:
        out["busiest_link"] = str(links["resource"].iloc[0])
        out["busiest_link_mean"] = round(float(links["mean"].iloc[0]), 6)
    out["bottleneck"] = str(table["resource"].iloc[0])
    out["bottleneck_mean"] = round(float(table["mean"].iloc[0]), 6)
    return out


# ----------------------------------------------------------------------------- SLOs

_OPS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt}
_SLO = re.compile(r"^\s*(\S+?)\s*(<=|>=|<|>)\s*(\S*?)\s*(ms|%)?\s*$")
_SHORT = re.compile(r"^p(\d+(?:\.\d+)?)_([a-z_]+)_ms$")
_SHORT_PERCENTILES = ("50", "95", "99", "999", "99.9")
_LATENCY_STATS = ("mean", *PERCENTILES, "max")
# Summary fields without a dot that an objective may name (the families below are checked by shape).
TOP_LEVEL_METRICS = (
    "throughput_ops_per_s",
    "stale_read_fraction",
    "ryw_violation_fraction",
    "lost_writes",
    "writes_missing_after_forced_promotion",
)
_FRACTIONS = ("stale_read_fraction", "ryw_violation_fraction", "cluster.availability")
ALLOWED_METRICS = (
    "p50/p95/p99/p999_<kind>_ms, latency_ms.<kind>.<mean|p50|p95|p99|p999|max>, availability (the lowest over "
    "op kinds), availability.<kind>, availability_within_deadline.<kind>, "
    f"{', '.join(TOP_LEVEL_METRICS)}, or another numeric summary field such as cluster.availability; "
    f"<kind>: {', '.join(OP_KINDS)}"
)


@dataclass(frozen=True)
class Slo:
    """``metric op value``, e.g. ``p99_write_ms <= 50`` or ``availability >= 99.9 %``."""

    metric: str
    op: str
    value: float
    text: str

    def met(self, row: dict[str, Any]) -> bool:
        """Whether a run's figures (a summary row, or a mean over replications) meet the
        objective; a row without the metric does not."""
        got = slo_value(row, self.metric)
        return got is not None and _OPS[self.op](got, self.value)


def _known_metrics() -> list[str]:
    """Every metric name an objective can use without a run to look at (for did-you-mean)."""
    names = [f"p{p}_{k}_ms" for p in ("50", "95", "99", "999") for k in OP_KINDS]
    names += [f"latency_ms.{k}.{s}" for k in OP_KINDS for s in _LATENCY_STATS]
    names += ["availability", *(f"availability.{k}" for k in OP_KINDS)]
    names += [f"availability_within_deadline.{k}" for k in OP_KINDS]
    return [*names, *TOP_LEVEL_METRICS, *_FRACTIONS]


def metric_family(metric: str) -> tuple[str | None, str]:
    """``("latency" | "fraction" | "other", "")`` for a well-formed metric name, or
    ``(None, why)`` for one that is not (a misspelt kind, percentile or field)."""
    kinds = f"kinds: {', '.join(OP_KINDS)}"
    short = _SHORT.match(metric)
    if short:
        pct, kind = short.groups()
        if kind not in OP_KINDS:
            return None, f"'{kind}' is not an operation kind ({kinds})"
        if pct not in _SHORT_PERCENTILES:
            return None, f"the summary keeps p50, p95, p99 and p999, not p{pct}"
        return "latency", ""
    parts = metric.split(".")
    if parts[0] == "latency_ms":
        if len(parts) != 3 or parts[1] not in OP_KINDS or parts[2] not in _LATENCY_STATS:
            return None, f"write latency_ms.<kind>.<{'|'.join(_LATENCY_STATS)}> ({kinds})"
        return "latency", ""
    if parts[0] in ("availability", "availability_within_deadline"):
        if metric == "availability" or (len(parts) == 2 and parts[1] in OP_KINDS):
            return "fraction", ""
        return None, f"write availability or {parts[0]}.<kind> ({kinds})"
    if metric in _FRACTIONS:
        return "fraction", ""
    if len(parts) == 1 and metric not in TOP_LEVEL_METRICS:
        return None, ""
    return "other", ""  # a dotted summary field: checked against the first runs (check_slo_metrics)


def parse_slo(text: str) -> Slo:
    """``METRIC OP VALUE[ms|%]``; an unknown metric, a value that is not a number, or one out of
    the metric's range (a fraction above 100 %, a negative latency) is a WorkbenchInputError."""

    def fail(msg: str) -> WorkbenchInputError:
        """An input error about this objective, blamed on ``--slo``."""
        return WorkbenchInputError(f"'{text}': {msg}", source="--slo")

    match = _SLO.match(str(text))
    if not match:
        msg = (
            f"'{text}' is not an objective; write METRIC OP VALUE, e.g. 'p99_write_ms<=50' or "
            f"'availability>=99.9%' (OP: <=, >=, <, >; METRIC: {ALLOWED_METRICS})"
        )
        raise WorkbenchInputError(msg, source="--slo")
    metric, op, number, unit = match.groups()
    family, why = metric_family(metric)
    if family is None:
        hint = did_you_mean(metric, _known_metrics())
        raise fail(f"'{metric}' is not a metric{hint}; {why or 'allowed: ' + ALLOWED_METRICS}")
    try:
        value = float(number)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not number:
        raise fail(f"'{number}' is not a number; write e.g. {metric}{op}{50 if family == 'latency' else '99.9%'}")
    if unit == "%" and family == "latency":
        raise fail(f"{metric} is a latency in ms, not a percentage")
    if unit == "ms" and family != "latency":
        raise fail(f"{metric} is not a latency; it takes no 'ms'")
    if unit == "%":
        # In decimal: 99.9 / 100 in binary is 0.9990000000000001, and an availability of
        # exactly 99.9 % would fail 'availability>=99.9%'.
        value = float(Decimal(number) / 100)
    if family == "fraction" and not 0 <= value <= 1:
        shown = f"{number}{unit or ''}"
        raise fail(f"{metric} is a fraction: {shown} is outside 0 to 100 % (write 99.9% or 0.999)")
    if family == "latency" and value < 0:
        raise fail(f"a latency cannot be negative, got {number}")
    return Slo(metric, op, value, text.strip())


def check_slo_metrics(slos: list[Slo], row: dict[str, Any], where: str) -> None:
    """After the first runs: every objective names a field the runs have, with a value there."""
    numeric = sorted(k for k, v in row.items() if isinstance(v, int | float) and not isinstance(v, bool))
    for slo in slos:
        if slo_value(row, slo.metric) is not None:
            continue
        field = _field(slo.metric)
        if field in row or slo.metric == "availability":
            msg = (
                f"'{slo.text}': the runs {where} have no value for {field} (does the workload issue operations "
                "of that kind, and do any succeed?)"
            )
        else:
            hint = did_you_mean(slo.metric, [*_known_metrics(), *numeric])
            msg = f"'{slo.text}': '{slo.metric}' is not a field of the run summary{hint}; allowed: {ALLOWED_METRICS}"
        raise WorkbenchInputError(msg, source="--slo")


def _field(metric: str) -> str:
    short = _SHORT.match(metric)
    if short:
        pct, kind = short.groups()
        return f"latency_ms.{kind}.p{pct.replace('.', '')}"
    return metric


def slo_value(row: dict[str, Any], metric: str) -> float | None:
    """A metric of a flattened summary row; ``pNN_kind_ms`` and ``availability`` (the
    lowest over op kinds) are shorthands."""
    metric = _field(metric)
    if metric == "availability":
        values = [v for k, v in row.items() if k.startswith("availability.") and v is not None and v == v]
        return float(min(values)) if values else None
    value = row.get(metric)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if value != value else float(value)


def resource_text(resource: str | None) -> str:
    """``disk.B`` -> "disk on node B", ``cpu.A`` -> "CPU of node A", ``link.A->B`` -> "link A->B"."""
    if not resource:
        return "-"
    kind, _, where = str(resource).partition(".")
    if kind == "disk":
        return f"disk on node {where}"
    if kind == "cpu":
        return f"request workers (CPU) of node {where}"
    if kind == "link":
        return f"network link {where}"
    return str(resource)


def first_failure(cap: Any) -> tuple[float, list[tuple[Any, float | None]]] | None:
    """The lowest load tried above the capacity (any load, when none met the objectives) that
    missed an objective, and what it missed: ``(rate, [(objective, value there or None)])``
    (each objective a :class:`workbench.analysis.capacity.Slo`); None when every load tried
    met them."""
    points = cap.points
    if points is None or points.empty:
        return None
    failed = ~points["meets"].astype(bool)
    if cap.max_rate is not None:
        failed &= points["rate"] > cap.max_rate
    above = points[failed].sort_values("rate")
    if above.empty:
        return None
    row = above.iloc[0]
    missed = []
    for text in cap.objectives:
        slo = parse_slo(text)
        got = row.get(slo.metric)
        if got is None or got != got or not _OPS[slo.op](float(got), slo.value):
            missed.append((slo, None if got is None or got != got else float(got)))
    return float(row["rate"]), missed

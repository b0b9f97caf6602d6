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

import operator
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench.errors import WorkbenchInputError

_RESOURCES = {"cpu_utilisation": "cpu", "disk_utilisation": "disk", "utilisation": "link"}


def utilisation_table(result: Any) -> pd.DataFrame:
    """Mean and peak utilisation per resource after the warm-up, busiest first."""
    ts = result.timeseries
    warmup = _seconds(result.provenance.get("scenario", {}).get("warmup", 0))
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


def utilisation(result: Any) -> dict[str, Any]:
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
_SLO = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*(<=|>=|<|>)\s*([-+0-9.eE]+)\s*(ms|%)?\s*$")
_SHORT = re.compile(r"^p(\d+(?:\.\d+)?)_([a-z_]+)_ms$")


@dataclass(frozen=True)
class Slo:
    """``metric op value``, e.g. ``p99_write_ms <= 50`` or ``availability >= 99.9 %``."""

    metric: str
    op: str
    value: float
    text: str

    def met(self, row: dict[str, Any]) -> bool:
        got = slo_value(row, self.metric)
        return got is not None and _OPS[self.op](got, self.value)


def parse_slo(text: str) -> Slo:
    match = _SLO.match(text)
    if not match:
        msg = (
            f"'{text}' is not an objective; write METRIC OP VALUE, e.g. 'p99_write_ms<=50' or "
            "'availability>=99.9%' (METRIC: p50/p95/p99/p999_<kind>_ms, availability, availability.<kind>, "
            "or any summary field such as latency_ms.read.p99)"
        )
        raise WorkbenchInputError(msg, source="--slo")
    metric, op, number, unit = match.groups()
    value = float(number) / 100 if unit == "%" else float(number)
    return Slo(metric, op, value, text.strip())


def slo_value(row: dict[str, Any], metric: str) -> float | None:
    """A metric of a flattened summary row; ``pNN_kind_ms`` and ``availability`` (the
    lowest over op kinds) are shorthands."""
    short = _SHORT.match(metric)
    if short:
        pct, kind = short.groups()
        pct = pct.replace(".", "")
        metric = f"latency_ms.{kind}.p{pct}"
    if metric == "availability":
        values = [v for k, v in row.items() if k.startswith("availability.") and v is not None and v == v]
        return float(min(values)) if values else None
    value = row.get(metric)
    return None if value is None or value != value else float(value)


def _seconds(value: Any) -> float:
    from workbench.scenario.units import parse_quantity

    return parse_quantity(value, "duration") if isinstance(value, str) else float(value or 0)

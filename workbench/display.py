"""Numbers for people: how the tables a notebook shows are formatted (issue 21).

Pure functions. The analysis functions (``fault_table``, ``latency_table``,
``compare_table``, ``summarise``) keep returning raw numbers; these turn their
results into small tables of text at display time:

- counts are integers (``12``, not ``12.0``), with thousands separators;
- fractions (availability, stale reads) are percentages with the digits that
  matter (``99.95 %``, ``100 %``), never ``0.9995``;
- durations pick their unit: ``2.4 ms``, ``850 ms``, ``102.3 s``, ``4.2 min``;
- a confidence interval is clipped at its physical bounds (a percentage at
  100 %, a latency or a count at 0);
- a missing value is blank, a measured "never" is ``never``; no ``NaN``,
  ``<NA>``, ``None`` or ``0.000000`` reaches the page;
- long target strings are shortened so a table fits a notebook output
  (about 1,000 px, :data:`MAX_ROW_CHARS` characters a row).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

BLANK = ""
MISSING = "—"
MAX_ROW_CHARS = 110  # characters a row, a proxy for the ~1,000 px of a notebook output
MAX_TARGET_CHARS = 24


# ----------------------------------------------------------------------------- values


def _number(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing (None, NaN, pd.NA, not a number)."""
    if value is None or value is pd.NA or isinstance(value, bool):
        return None if not isinstance(value, bool) else float(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def count(value: Any) -> str:
    """An integer count: ``1,234``; blank when missing."""
    number = _number(value)
    return BLANK if number is None else f"{round(number):,}"


def percent(value: Any, digits: int | None = None) -> str:
    """A fraction (0..1) as a percentage with the digits that matter: ``99.95 %``, ``100 %``, ``0.3 %``."""
    number = _number(value)
    if number is None:
        return BLANK
    pct = 100 * number
    if digits is None:
        digits = _percent_digits(pct)
    text = f"{pct:.{digits}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"{text} %"


def _percent_digits(pct: float) -> int:
    if pct in (0.0, 100.0):
        return 0
    # Near 100 % the interesting digits are in the shortfall: 99.95 %, 99.995 %.
    gap = min(abs(100 - pct), abs(pct)) or 1.0
    return max(1, min(4, -math.floor(math.log10(gap))))


def milliseconds(value: Any) -> str:
    """A duration given in ms, in ms below a second and in seconds (or minutes) above."""
    number = _number(value)
    return BLANK if number is None else _duration(number / 1e3)


def seconds(value: Any) -> str:
    """A duration given in s: ``850 ms``, ``12.3 s``, ``102.3 s``, ``14.2 min``; ms below 1 s."""
    number = _number(value)
    return BLANK if number is None else _duration(number)


def _duration(s: float) -> str:
    if s == 0:
        return "0"
    size = abs(s)
    if size < 1:
        ms = s * 1e3
        return f"{ms:.2g} ms" if abs(ms) < 1 else f"{ms:.3g} ms" if abs(ms) < 100 else f"{ms:.0f} ms"
    if size < 100:
        return f"{s:.3g} s"
    if size < 600:
        return f"{s:.4g} s"
    if size < 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def plain(value: Any) -> str:
    """Any other number: integers as integers, others to three significant digits."""
    number = _number(value)
    if number is None:
        return BLANK if not isinstance(value, str) else value
    if number.is_integer():
        return f"{number:,.0f}"
    return f"{number:.3g}"


def kind_of(name: str) -> str:
    """How a metric or column should be shown, from its name or label: ``percent``,
    ``ms``, ``s``, ``count`` or ``plain``."""
    text = name.lower()
    if "availability" in text or "fraction" in text or "stale read" in text:
        return "percent"
    if "(ms)" in text or "_ms" in text or text.startswith(("p50", "p90", "p95", "p99", "p999", "mean", "max", "min")):
        return "ms"
    if "(s)" in text or text.endswith("_s") or "(s of data)" in text or "seconds" in text:
        return "s"
    return "count"


def value(x: Any, kind: str) -> str:
    """``x`` formatted as ``kind`` (see :func:`kind_of`)."""
    return {"percent": percent, "ms": milliseconds, "s": seconds, "count": count}.get(kind, plain)(x)


def interval(mean: Any, half: Any, kind: str) -> str:
    """``mean ± half`` for a confidence interval, clipped at physical bounds: a percentage stays
    at or below 100 % and every quantity here at or above 0. A clipped interval is shown as its
    range, ``99.9 % (99.7–100 %)``, since it is no longer symmetric."""
    m, h = _number(mean), _number(half)
    if m is None:
        return MISSING
    if h is None or h == 0:
        return value(m, kind) if not (kind == "count" and not float(m).is_integer()) else plain(m)
    low, high = max(m - h, 0.0), m + h
    if kind == "percent":
        high = min(high, 1.0)
    if kind == "percent":  # the bounds with the mean's digits: 99.95 % (99.85–100 %)
        digits = _percent_digits(100 * m) if m not in (0.0, 1.0) else _percent_digits(100 * (1 - h))

        def show(x: float) -> str:
            """A bound as a percentage with the mean's digits."""
            return percent(x, digits)
    elif kind == "count":
        show = plain
    else:

        def show(x: float) -> str:
            """A bound formatted as ``kind``."""
            return value(x, kind)

    if low == m - h and high == m + h:
        spread = show(h).replace(" %", " pp") if kind == "percent" else show(h)
        if kind == "percent" and round(100 * h, digits) == 0:
            spread = f"< {percent(10.0**-digits / 100, digits).replace(' %', ' pp')}"  # not "± 0 pp"
        return f"{show(m)} ± {spread}"
    return f"{show(m)} ({show(low).replace(' %', '')}–{show(high)})"


def shorten(text: Any, width: int = MAX_TARGET_CHARS) -> str:
    """A long target string cut to ``width`` characters with an ellipsis (``A, B, C, D, …``)."""
    if text is None or (isinstance(text, float) and math.isnan(text)) or text is pd.NA:
        return BLANK
    text = str(text)
    return text if len(text) <= width else text[: width - 1].rstrip(" ,") + "…"


# ----------------------------------------------------------------------------- tables

#: The fault-table columns people need, with short headers and how each is shown.
FAULT_DISPLAY: tuple[tuple[str, str, str], ...] = (
    ("fault", "fault", "text"),
    ("target", "target", "target"),
    ("start_s", "at", "s"),
    ("duration_s", "lasted", "s"),
    ("client_errors", "errors", "count"),
    ("affected_clients", "clients hit", "count"),
    ("rto_s", "RTO", "rto"),
    ("rpo_writes", "RPO writes", "count"),
    ("p99_recovery_s", "p99 back", "recovery"),
)


def faults(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`workbench.analysis.faults.fault_table` for people: the columns that matter with short
    headers, times in s or min, counts as integers, RTO ``never`` for a client that never
    recovered, blanks where nothing was measured. Keeps the table's index (a drill name, say)."""
    out = pd.DataFrame(index=table.index)
    for column, header, how in FAULT_DISPLAY:
        if column not in table:
            continue
        values = table[column]
        if how == "text":
            out[header] = [BLANK if _number(v) is None and not isinstance(v, str) else str(v) for v in values]
        elif how == "target":
            out[header] = [shorten(v) for v in values]
        elif how == "rto":
            recovered = table["recovered"] if "recovered" in table else pd.Series(True, index=table.index)
            out[header] = [
                seconds(v) if ok or _number(v) is not None else "never" for v, ok in zip(values, recovered, strict=True)
            ]
        elif how == "recovery":
            # None: no baseline to compare with (blank); NaN: measured, never back within tolerance.
            out[header] = [BLANK if v is None else "never" if _number(v) is None else seconds(v) for v in values]
        else:
            out[header] = [value(v, how) for v in values]
    return out


def latency(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`workbench.analysis.summary.latency_table` for people: counts as integers, latencies
    in ms (s when long), availability as a percentage."""
    out = pd.DataFrame(index=table.index)
    for column in table.columns:
        how = "count" if column == "count" else kind_of(str(column))
        out[column] = [value(v, how) for v in table[column]]
    return out


def compare(table: pd.DataFrame, metrics: Any = None) -> pd.DataFrame:
    """:func:`workbench.study.compare_table` for people: per metric and variant, the mean with its
    95 % interval clipped at physical bounds, formatted by the metric's unit.

    ``metrics`` keeps only some rows, in its order (:func:`select_metrics`): what a chart beside
    the table does not already show."""
    if metrics is not None:
        table = select_metrics(table, metrics)
    variants = [c for c in table.columns if c != "key"]
    rows = {}
    for metric in table.index:
        key = str(table.at[metric, "key"]) if "key" in table.columns else str(metric)
        how = kind_of(key) if kind_of(key) != "count" else kind_of(str(metric))
        cells = []
        for variant in variants:
            cell = table.at[metric, variant]
            if cell is None or (isinstance(cell, float) and math.isnan(cell)):
                cells.append(MISSING)
            else:
                cells.append(interval(cell[0], cell[1], how))
        rows[_unitless(str(metric), how)] = cells
    return pd.DataFrame.from_dict(rows, orient="index", columns=variants).rename_axis("metric")


def select_metrics(table: pd.DataFrame, metrics: Any) -> pd.DataFrame:
    """The rows of a ``compare_table`` that ``metrics`` names, in its order. Each entry is a row
    label (``"write p99 (ms)"``), a summary field (``"cluster.leaderless_seconds"``) or the start
    of one, which keeps every row under it (``"cluster"``, ``"faults"``, ``"faults.0"``). An entry
    that matches no row is an error that lists the rows there are, not a silently shorter table."""
    if isinstance(metrics, str):
        metrics = [metrics]
    keys = [str(k) for k in table["key"]] if "key" in table.columns else [str(m) for m in table.index]
    labels = [str(m) for m in table.index]
    chosen: list[int] = []
    for entry in metrics:
        entry = str(entry)
        found = [
            i
            for i, (key, label) in enumerate(zip(keys, labels, strict=True))
            if entry in (key, label) or key.startswith(entry + ".")
        ]
        if not found:
            raise KeyError(f"no row {entry!r} in the comparison; its rows: {', '.join(labels)}")
        chosen += [i for i in found if i not in chosen]
    return table.iloc[chosen]


def _unitless(label: str, how: str) -> str:
    """A metric label without its unit when every cell now carries one (``write p99``)."""
    for unit in (" (ms)", " (s)"):
        if how in ("ms", "s") and label.endswith(unit):
            return label[: -len(unit)]
    return label


def table(frame: pd.DataFrame, kinds: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Any table of figures for people: each column formatted by the unit its header names (see
    :func:`kind_of`; ``kinds`` overrides it per column), text columns as they are, missing blank.
    A header's unit is dropped once every cell carries it (``RTO (s)`` becomes ``RTO``)."""
    kinds = dict(kinds or {})
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        present = [v for v in values if _number(v) is not None or isinstance(v, str)]
        if present and all(isinstance(v, str) for v in present):
            out[column] = [v if isinstance(v, str) else BLANK for v in values]
            continue
        how = kinds.get(column) or kind_of(str(column))
        out[_unitless(str(column), how)] = [value(v, how) for v in values]
    return out


def summary(figures: Mapping[str, Any]) -> pd.DataFrame:
    """A nested dict of figures (``result.summary()["cluster"]``, ``etl_summary(...)``) as a
    two-column table, ``figure`` and ``value``, instead of a raw dict: nested keys joined by
    " · ", each value formatted by its name."""
    rows = []
    for key, raw in _flatten(figures):
        how = kind_of(key.split(" · ")[-1]) if not isinstance(raw, str) else "text"
        if isinstance(raw, bool):
            text = "yes" if raw else "no"
        elif isinstance(raw, str):
            text = raw
        elif isinstance(raw, list | tuple):
            text = ", ".join(value(v, how) if not isinstance(v, str) else v for v in raw) or MISSING
        else:
            text = value(raw, how) or MISSING
        rows.append((key.replace("_", " "), text))
    return pd.DataFrame(rows, columns=["figure", "value"]).set_index("figure")


def _flatten(figures: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, raw in figures.items():
        name = f"{prefix} · {key}" if prefix else str(key)
        if isinstance(raw, Mapping):
            items += _flatten(raw, name)
        else:
            items.append((name, raw))
    return items


def row_chars(table: pd.DataFrame) -> int:
    """The widest row of ``table`` as shown, in characters (index and a gap of two per cell
    included): a proxy for its width in a notebook output, to hold under :data:`MAX_ROW_CHARS`."""
    headers = [str(c) for c in table.columns]
    index_w = max([len(str(i)) for i in table.index] + [len(str(table.index.name or ""))], default=0)
    widths = [max([len(h)] + [len(str(v)) for v in table[c]]) for h, c in zip(headers, table.columns, strict=True)]
    return index_w + sum(w + 2 for w in widths)


# ----------------------------------------------------------------------------- capacity

BUSY = 0.8  # a resource busy this share of the time is near saturation (a disk: see capacity)
CAPACITY_ROWS = (
    "highest load meeting the objectives",
    "busiest resource there",
    "saturated?",
    "first load that fails",
    "objectives it misses there",
    "busiest at the highest load tried",
)


def capacity(
    results: Any, *, low: float | None = None, high: float | None = None, name: str = "capacity"
) -> pd.DataFrame:
    """A capacity search (:class:`workbench.study.CapacityResult`, or a dict of them by variant)
    for people, one column per variant instead of ``as_dict()``'s raw dict: the highest load
    meeting the objectives (or that none was found in the range ``low``..``high``), the busiest
    resource there and whether it is saturated (a disk busy with fsyncs is not, with group
    commit: see :mod:`workbench.analysis.capacity`), the first load above it and the objectives
    it missed, the busiest resource at the highest load tried when that is another one (what
    runs out when the load keeps rising), and the headroom at the target load. Every cell fits
    pandas' ``max_colwidth`` (50 characters), so a notebook shows it whole."""
    caps = dict(results) if isinstance(results, Mapping) else {name: results}
    targets = {c.target for c in caps.values() if c.target is not None}
    target_label = (
        f"headroom at the target ({count(targets.pop())} ops/s)" if len(targets) == 1 else "headroom at the target"
    )
    columns = {variant: _capacity_column(cap, low, high, target_label) for variant, cap in caps.items()}
    present = {key for column in columns.values() for key in column}
    rows = [key for key in (*CAPACITY_ROWS, target_label) if key in present]
    table = pd.DataFrame({variant: [column.get(key, MISSING) for key in rows] for variant, column in columns.items()})
    return table.set_axis(rows).rename_axis("figure")


def _capacity_column(cap: Any, low: float | None, high: float | None, target_label: str) -> dict[str, str]:
    from workbench.analysis.capacity import first_failure, metric_family, resource_text

    def busiest(resource: Any, share: Any) -> str:
        """``CPU of node A, 93 % busy``: the resource that ran out and its busy share (0–1)."""
        busy = _number(share)
        if not resource or busy is None:
            return MISSING
        where = f"CPU of node {str(resource)[4:]}" if str(resource).startswith("cpu.") else resource_text(resource)
        return f"{where}, {percent(busy)} busy"

    column: dict[str, str] = {}
    points = cap.points if cap.points is not None else pd.DataFrame(columns=["rate"])
    top = high if high is not None else (float(points["rate"].max()) if len(points) else None)
    bottom = low if low is not None else (float(points["rate"].min()) if len(points) else None)
    found = "highest load meeting the objectives"
    if cap.max_rate is None:
        column[found] = f"none: {count(bottom)} ops/s, the lowest tried, fails" if bottom is not None else "none"
    elif cap.capped:
        searched = cap.searched_to or top
        column[found] = f"at least {count(searched)} ops/s (no limit found up to there)"
    else:
        column[found] = f"about {count(cap.max_rate)} ops/s"
    if cap.max_rate is not None:
        column["busiest resource there"] = busiest(cap.bottleneck, cap.bottleneck_mean)
        busy = _number(cap.bottleneck_mean)
        if cap.bottleneck and busy is not None:
            if busy < BUSY:
                column["saturated?"] = "no"
            elif str(cap.bottleneck).startswith("disk."):
                column["saturated?"] = "no: group commit puts more writes in each fsync"
            else:
                column["saturated?"] = "nearly: it limits the load"
    failure = first_failure(cap)
    if failure is None:
        column["first load that fails"] = "none tried"
    else:
        rate, missed = failure
        said = []
        for slo, got in missed:
            family, _ = metric_family(slo.metric)
            how = {"latency": "ms", "fraction": "percent"}.get(family or "", "plain")
            said.append(f"{slo.metric} {MISSING if got is None else value(got, how)}")
        column["first load that fails"] = f"{count(rate)} ops/s"
        column["objectives it misses there"] = "; ".join(said) or MISSING
    # What a load beyond the capacity wore out, when it is another resource (a CPU behind a busy disk).
    if len(points) and "bottleneck" in points:
        last = points.sort_values("rate").iloc[-1]
        if (cap.max_rate is None or float(last["rate"]) > cap.max_rate) and last["bottleneck"] != cap.bottleneck:
            where = busiest(last["bottleneck"], last.get("bottleneck_utilisation"))
            column["busiest at the highest load tried"] = f"{where} at {count(last['rate'])} ops/s"
    if cap.target is not None:
        if cap.headroom is None:
            column[target_label] = "none: no load met the objectives"
        else:
            room = f"{100 * cap.headroom:+,.0f} %"
            column[target_label] = f"at least {room}" if cap.capped else room
    return column

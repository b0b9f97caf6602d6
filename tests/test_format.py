"""Numbers for people (issue 21, items 7, 8 and 10): the tables and the Pareto chart notebooks show."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from workbench import charts as ch
from workbench import display
from workbench.analysis.faults import FAULT_COLUMNS

NOISE = ("NaN", "nan", "<NA>", "None", "e+0", "e-0", "0.000000", ".0 ", "{")


def _fault_table() -> pd.DataFrame:
    """A raw fault table as ``fault_table`` returns it: floats, NaN, None and a long target."""
    rows = [
        ("crash", "A", 20.0, 30.0, 10.0, 50.0, 12, 0.0123, 57, 4, 102.3, True, 0.0),
        ("partition", "A, B, C | D, E (datacenter eu-west-1 from us-east-2)", 50.0, 80.0, 30.0, 80.0,
         None, None, 0, 0, math.nan, False, math.nan),
        ("slow_disk", "B", 80.0, 120.0, 40.0, 120.0, None, None, 3, 1, 1.5e-3, True, None),
    ]  # fmt: skip
    table = pd.DataFrame(rows, columns=FAULT_COLUMNS)
    table["client_errors"] = table["client_errors"].astype(float)  # as after a concat with a missing row
    for column in ("rpo_writes", "rpo_seconds", "p99_recovery_s"):  # None (not measured) apart from NaN
        table[column] = pd.Series([row[FAULT_COLUMNS.index(column)] for row in rows], dtype=object)
    return table


def _html(table: pd.DataFrame) -> str:
    return table.to_html()


def test_a_fault_table_fits_a_notebook_output_and_has_no_noise() -> None:
    raw = _fault_table()
    assert display.row_chars(raw) > display.MAX_ROW_CHARS  # the problem: 13 columns, long targets
    shown = display.faults(raw)
    assert display.row_chars(shown) <= display.MAX_ROW_CHARS
    html = _html(shown)
    for noise in NOISE:
        assert noise not in html, noise
    assert "57" in html and "57.0" not in html  # counts are integers
    assert "102.3 s" in html  # RTO in seconds, to the tenth
    assert "never" in shown["RTO"].tolist()  # measured, never recovered
    assert shown["target"].str.len().max() <= display.MAX_TARGET_CHARS
    assert shown["target"].iloc[1].endswith("…")


def test_a_fault_table_keeps_its_index() -> None:
    raw = pd.concat({"drill-a": _fault_table(), "drill-b": _fault_table()}, names=["drill"])
    shown = display.faults(raw)
    assert list(shown.index.get_level_values("drill").unique()) == ["drill-a", "drill-b"]


@pytest.mark.parametrize(
    ("fraction", "text"),
    [(0.9995, "99.95 %"), (0.999500, "99.95 %"), (1.0, "100 %"), (0.99995, "99.995 %"), (0.5, "50 %"), (0.0, "0 %")],
)
def test_availability_is_a_percentage_with_the_digits_that_matter(fraction: float, text: str) -> None:
    assert display.percent(fraction) == text


@pytest.mark.parametrize(
    ("ms", "text"),
    [(102_300, "102.3 s"), (2.4, "2.4 ms"), (850, "850 ms"), (0, "0"), (120_000, "120 s"), (1_234_567, "20.6 min")],
)
def test_long_waits_are_in_seconds(ms: float, text: str) -> None:
    assert display.milliseconds(ms) == text


def test_counts_are_integers_and_missing_is_blank() -> None:
    assert display.count(12.0) == "12"
    assert display.count(12345.0) == "12,345"
    for missing in (None, math.nan, pd.NA):
        assert display.count(missing) == ""
        assert display.percent(missing) == ""


def test_intervals_are_clipped_at_physical_bounds() -> None:
    assert display.interval(0.9995, 0.001, "percent") == "99.95 % (99.85–100 %)"  # not 100.05 %
    assert display.interval(2.5, 4.0, "ms") == "2.5 ms (0–6.5 ms)"  # not -1.5 ms
    assert display.interval(3.1, 0.2, "ms") == "3.1 ms ± 0.2 ms"
    assert display.interval(12.0, math.nan, "count") == "12"


def _compare_table() -> pd.DataFrame:
    records = [
        {"metric": "nodes", "key": "nodes", "a": (3.0, math.nan), "b": (5.0, 0.0)},
        {"metric": "write p99 (ms)", "key": "latency_ms.write.p99", "a": (102_300.0, 300.0), "b": (3.2, 4.0)},
        {"metric": "write availability", "key": "availability.write", "a": (0.9995, 0.001), "b": (1.0, math.nan)},
        {"metric": "elections started", "key": "cluster.elections", "a": (2.0, 0.5), "b": None},
    ]
    return pd.DataFrame(records).set_index("metric")


def test_a_compare_table_is_formatted_by_unit() -> None:
    shown = display.compare(_compare_table())
    assert shown.loc["nodes"].tolist() == ["3", "5"]
    assert shown.loc["write p99"].tolist() == ["102.3 s ± 300 ms", "3.2 ms (0–7.2 ms)"]
    assert shown.loc["write availability"].tolist() == ["99.95 % (99.85–100 %)", "100 %"]
    assert shown.loc["elections started", "b"] == "—"
    html = _html(shown)
    for noise in NOISE:
        assert noise not in html, noise


def test_a_summary_is_a_table_not_a_dict() -> None:
    shown = display.summary(
        {"elections": 2.0, "leaderless_seconds": 3.25, "availability": 0.99951, "worst": {"rto_ms": 102300.0}}
    )
    assert shown.to_dict()["value"] == {
        "elections": "2",
        "leaderless seconds": "3.25 s",
        "availability": "99.95 %",
        "worst · rto ms": "102.3 s",
    }
    assert "{" not in _html(shown)


def test_a_latency_table_is_formatted() -> None:
    raw = pd.DataFrame(
        {"count": [1200.0], "p50": [1.234567], "p99": [102300.0], "availability": [0.999500]},
        index=pd.Index(["write"], name="kind"),
    )
    shown = display.latency(raw)
    assert shown.loc["write"].tolist() == ["1,200", "1.23 ms", "102.3 s", "99.95 %"]


# ----------------------------------------------------------------------------- the Pareto chart


def _close_rows() -> pd.DataFrame:
    """Three variants 0.007 ms apart, well inside their intervals (notebook 02's case)."""
    return pd.DataFrame(
        {
            "variant": ["three-node"] * 3 + ["five-node"] * 3 + ["five-node-watchers"] * 3,
            "nodes": [3] * 3 + [5] * 6,
            "latency_ms.write.p99": [3.001, 3.004, 3.008, 3.0, 3.006, 3.01, 3.003, 3.002, 3.009],
            "availability.write": [0.9995, 0.9997, 0.9993, 0.9996, 0.9998, 0.9994, 1.0, 0.9999, 0.9997],
        }
    )


def _layers(spec: dict) -> list[dict]:
    return spec.get("layer", [spec])


def test_pareto_axes_are_words_with_units_and_not_zoomed_into_noise() -> None:
    rows = _close_rows()
    spec = ch.pareto_chart(rows).to_dict()
    data = ch.pareto_data(rows)
    points = _layers(spec)[-1]["encoding"]
    assert points["x"]["title"] == "write latency, p99 (ms)"
    assert points["y"]["title"].startswith("write availability (%")
    for title in (points["x"]["title"], points["y"]["title"]):
        assert "_" not in title and "." not in title
    x_domain = points["x"]["scale"]["domain"]
    assert x_domain[0] <= data["latency_lo"].min() and x_domain[1] >= data["latency_hi"].max()
    y_domain = points["y"]["scale"]["domain"]
    assert y_domain[0] <= data["availability_lo"].min() and y_domain[1] == 1.0
    assert len(set(points["y"]["axis"]["values"])) >= 3  # not a single tick
    subtitle = " ".join(spec["title"]["subtitle"])
    assert "inside the intervals" in subtitle


def test_pareto_has_no_empty_size_legend_nor_overlapping_labels() -> None:
    spec = ch.pareto_chart(_close_rows()).to_dict()
    for layer in _layers(spec):
        assert "size" not in layer.get("encoding", {})  # cost is in the legend's labels
        assert layer["mark"]["type"] != "text"  # labels of close points overlapped
    legend_field = _layers(spec)[-1]["encoding"]["color"]["field"]
    assert legend_field == "label"


def test_pareto_intervals_are_clipped() -> None:
    data = ch.pareto_data(_close_rows())
    assert (data["availability_hi"] <= 1.0).all()
    assert (data["latency_lo"] >= 0).all()


def test_any_table_is_formatted_by_its_headers() -> None:
    raw = pd.DataFrame(
        {
            "blueprint": ["three-node", "geo-stretched"],
            "write availability within 10 s": [0.593496, 1.0],
            "unfinished at the end": [377.0, 0.0],
            "RTO (s)": [30.0337, None],
        }
    )
    shown = display.table(raw)
    assert shown.to_dict("list") == {
        "blueprint": ["three-node", "geo-stretched"],
        "write availability within 10 s": ["59.3 %", "100 %"],
        "unfinished at the end": ["377", "0"],
        "RTO": ["30 s", ""],
    }

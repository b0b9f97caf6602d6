"""Numbers for people (issue 21, items 7, 8 and 10): the tables and the Pareto chart notebooks show."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from workbench import charts as ch
from workbench import display
from workbench.analysis.faults import FAULT_COLUMNS
from workbench.study import CapacityResult

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


def test_a_compare_table_keeps_only_the_rows_asked_for() -> None:
    # Beside a chart of latency and availability, the table shows what the chart does not.
    shown = display.compare(_compare_table(), ["cluster", "nodes"])
    assert list(shown.index) == ["elections started", "nodes"]
    assert list(display.compare(_compare_table(), ["write p99 (ms)", "availability.write"]).index) == [
        "write p99",
        "write availability",
    ]
    with pytest.raises(KeyError, match="write p99 \\(ms\\)"):  # a typo lists the rows, not a shorter table
        display.compare(_compare_table(), ["latency_ms.wirte.p99"])


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


def _capacity(**changes) -> CapacityResult:
    """A capacity search as ``find_capacity`` returns it: 16,000 ops/s met the objectives with a
    disk busy all the time, 32,000 missed the latency objective."""
    points = pd.DataFrame(
        {
            "rate": [500.0, 1000.0, 16000.0, 32000.0],
            "throughput": [499.5, 1001.2, 15999.0, 21000.0],
            "p99_write_ms": [1.5, 1.7, 9.1, 812.0],
            "availability": [1.0, 1.0, 0.9995, 0.998],
            "bottleneck": ["disk.B", "disk.B", "disk.B", "cpu.A"],
            "bottleneck_utilisation": [0.2, 0.4, 0.9981, 1.0],
            "meets": [True, True, True, False],
        }
    )
    fields = dict(max_rate=16000.0, points=points, objectives=["p99_write_ms<=10", "availability>=99.9%"])
    fields.update(target=2400.0, headroom=16000.0 / 2400.0 - 1, bottleneck="disk.B", bottleneck_mean=0.9981)
    fields.update(changes)
    return CapacityResult(**fields)


def test_a_capacity_search_is_a_table_not_a_raw_dict() -> None:
    shown = display.capacity(_capacity(), low=500, high=50000)
    assert list(shown.columns) == ["capacity"]
    assert shown["capacity"].to_dict() == {
        "highest load meeting the objectives": "about 16,000 ops/s",
        "busiest resource there": "disk on node B, 99.8 % busy",
        "saturated?": "no: group commit puts more writes in each fsync",  # a busy disk is not a saturated one
        "first load that fails": "32,000 ops/s",
        "objectives it misses there": "p99_write_ms 812 ms; availability 99.8 %",
        # What wore out above the capacity, when it is not the busy disk.
        "busiest at the highest load tried": "CPU of node A, 100 % busy at 32,000 ops/s",
        "headroom at the target (2,400 ops/s)": "+567 %",
    }
    html = _html(shown)
    for noise in (*NOISE, "True", "False", "disk.B", "1.6e"):
        assert noise not in html, noise
    assert "..." not in shown._repr_html_()  # as a notebook shows it: no cell cut short by pandas
    assert shown["capacity"].str.len().max() <= pd.get_option("display.max_colwidth")
    assert display.row_chars(shown) <= display.MAX_ROW_CHARS


def test_a_capacity_table_says_when_no_limit_or_no_load_was_found() -> None:
    capped = _capacity(max_rate=200000.0, capped=True, headroom=200000.0 / 2400 - 1, searched_to=200000.0)
    nothing = _capacity(max_rate=None, headroom=None, bottleneck=None, bottleneck_mean=None)
    busy_cpu = _capacity(bottleneck="cpu.A", bottleneck_mean=0.93)
    shown = display.capacity({"capped": capped, "nothing": nothing, "cpu": busy_cpu}, low=500, high=50000)
    assert list(shown.columns) == ["capped", "nothing", "cpu"]
    found = shown.loc["highest load meeting the objectives"]
    assert found["capped"] == "at least 200,000 ops/s (no limit found up to there)"  # searched past the range
    assert found["nothing"] == "none: 500 ops/s, the lowest tried, fails"
    assert shown.at["headroom at the target (2,400 ops/s)", "capped"] == "at least +8,233 %"
    assert shown.at["headroom at the target (2,400 ops/s)", "nothing"] == "none: no load met the objectives"
    assert shown.at["saturated?", "cpu"] == "nearly: it limits the load"
    assert shown.at["saturated?", "nothing"] == display.MISSING
    assert "NaN" not in _html(shown) and "None" not in _html(shown)


def test_findings_are_a_list_for_people_not_printed_text() -> None:
    from workbench.notebook import show_capacity, show_findings

    lines = ["Capacity of three-node: about 16,000 ops/s meeting p99_write_ms<=10.", "write p99: a *b* <c>."]
    shown = show_findings(lines)
    markdown = shown._repr_markdown_()
    assert markdown.splitlines()[0].startswith("- Capacity of three-node")
    assert r"p99\_write\_ms\<=10" in markdown and r"\*b\*" in markdown and r"\<c\>" in markdown
    assert repr(shown).splitlines() == [f"- {line}" for line in lines]
    assert show_capacity(_capacity()).equals(display.capacity(_capacity()))


def test_a_notebook_capacity_chart_marks_the_target_load() -> None:
    points = pd.DataFrame({"throughput": [100, 200], "p99_write_ms": [2.0, 5.0], "meets": [True, False]})
    text = json.dumps(ch.spec(ch.capacity_curve({"x": points}, "p99_write_ms", 4.0, target=150)))
    assert "target 150 ops/s" in text
    assert "target" not in json.dumps(ch.spec(ch.capacity_curve({"x": points}, "p99_write_ms", 4.0)))


def test_a_comparison_in_sentences_says_what_is_inside_the_noise() -> None:
    from workbench.notebook import show_differences

    lines = show_differences(_compare_table()).lines
    # write p99 102.3 s against 3.2 ms: outside the noise and large; availability intervals overlap.
    assert lines[0].startswith("write p99: b 3.20 ms against a")
    assert lines[-1].startswith("No meaningful difference") and "write availability" in lines[-1]


def test_an_interval_too_narrow_to_show_is_not_shown_as_zero() -> None:
    assert display.interval(0.996, 0.00001, "percent") == "99.6 % ± < 0.1 pp"  # was "99.6 % ± 0 pp"
    assert display.interval(0.9995, 0.0002, "percent") == "99.95 % ± 0.02 pp"

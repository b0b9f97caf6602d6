"""Issue 21 items 4 and 5: the report answers its question first, says its figures are simulated,
lists only differences that matter, and tells a capacity search in words people read."""

from __future__ import annotations

import math
import re

import pandas as pd

from tests.test_report import _body, report  # noqa: F401  (the module-scoped report fixture)
from workbench import __version__
from workbench.report import answers
from workbench.study import CapacityResult, Study


def _table(cells: dict[str, dict[str, tuple[float, float]]]) -> pd.DataFrame:
    records = [{"metric": m, "key": m, **by_variant} for m, by_variant in cells.items()]
    return pd.DataFrame(records).set_index("metric")


def test_recommendation_comes_first_then_the_notice_then_the_evidence(report):  # noqa: F811
    text = _body(report[1])
    order = [text.index(h) for h in ("Recommendation", "Simulated figures", "<h2>Findings", "<h2>Comparison")]
    assert order == sorted(order)
    assert re.search(r"<strong>Choose [^<]+</strong>", text)
    assert "p99_write_ms&lt;=6 at the study&#x27;s load" in text and ", met" in text


def test_simulated_notice_names_version_date_and_assumptions(report):  # noqa: F811
    text = _body(report[1])
    assert "These figures are simulated" in text and f"workbench {__version__}" in text
    assert re.search(r"run on \d{4}-\d{2}-\d{2}", text)
    assert "fsync lognormal(median=1 ms" in text and "request timeout" in text and "same zone" in text


def test_title_is_words_not_a_slug():
    study = Study(name="blueprints-under-failover", base={}, source="<test>", base_dir=None)
    assert answers.title(study) == "Blueprints under failover"
    description = "Which size is best? Each runs the same load."
    study = Study(name="x", base={}, source="<test>", base_dir=None, extra={"description": description})
    assert answers.title(study) == "Which size is best?"


def test_a_difference_inside_the_noise_or_too_small_is_not_a_finding():
    table = _table(
        {
            "write p99 (ms)": {"a": (3.00, 0.01), "b": (3.04, 0.01)},  # outside the noise, 0.04 ms: too small
            "read p99 (ms)": {"a": (10.0, 8.0), "b": (30.0, 15.0)},  # large, but inside the noise
            "read p50 (ms)": {"a": (2.0, 0.1), "b": (9.0, 0.1)},  # meaningful
            "write availability": {"a": (0.9990, 0.00001), "b": (0.99995, 0.00001)},  # 0.095 point: meaningful
            "read availability": {"a": (0.99990, 0.0), "b": (0.99995, 0.0)},  # 0.005 point: too small
        }
    )
    found, same = answers.differences(table)
    assert [d.metric for d in found] == ["write availability", "read p50 (ms)"]  # largest practical size first
    assert found[0].better == "b" and found[0].size > found[1].size
    assert set(same) == {"write p99 (ms)", "read p99 (ms)", "read availability"}


def test_lost_writes_are_explained_where_they_appear(report):  # noqa: F811
    text = _body(report[1])
    assert "lost writes" in text
    assert "acknowledged" in text and "conflict resolution" in text


def _cap(**kw) -> CapacityResult:
    points = pd.DataFrame(
        {
            "rate": [200.0, 400.0, 16000.0, 32000.0],
            "throughput": [199.5, 401.2, 15999.0, 21000.0],
            "p99_write_ms": [1.5, 1.7, 40.0, 812.0],
            "bottleneck": ["disk.B", "disk.B", "disk.B", "cpu.A"],
            "bottleneck_utilisation": [0.2, 0.4, 1.0, 1.0],
            "meets": [True, True, True, False],
        }
    )
    base = dict(max_rate=16000.0, points=points, objectives=["p99_write_ms<=50"], target=2400.0, headroom=5.67)
    base.update(bottleneck="disk.B", bottleneck_mean=1.0)
    base.update(kw)
    return CapacityResult(**base)


def test_capacity_text_has_no_scientific_notation_or_booleans_and_explains_a_busy_disk():
    cap = _cap()
    text = " ".join(answers.capacity_lines(cap, low=200, high=64000))
    table = answers.capacity_points(cap.points).to_string(index=False)
    for out in (text, table):
        assert not re.search(r"\de[+-]\d", out), out
        assert "True" not in out and "False" not in out
        assert "disk.B" not in out
    assert "disk on node B" in text and "group commit" in text and "not a saturated disk" in text
    assert "16,000" in text and "32,000" in table and "yes" in table
    assert "What limits: at 32,000 ops/s p99_write_ms was 812.00 ms" in text


def test_capacity_text_says_plainly_when_no_limit_was_found():
    cap = _cap(capped=True, max_rate=64000.0, headroom=25.7, searched_to=64000.0)
    text = " ".join(answers.capacity_lines(cap, low=200, high=64000))
    assert "No limit found: every load searched, up to 64,000 ops/s, met p99_write_ms<=50" in text
    assert "raise the range (or capacity.beyond)" in text and "past the range" not in text
    assert "at least +2570 %" in text
    cap = _cap(capped=True, max_rate=256000.0, headroom=105.7, searched_to=256000.0)
    text = " ".join(answers.capacity_lines(cap, low=200, high=64000))
    assert "up to 256,000 ops/s (the search went on past the range's top of 64,000 ops/s)" in text


def test_capacity_text_says_when_the_limit_lies_past_the_range():
    cap = _cap(max_rate=90000.0, searched_to=128000.0)
    text = " ".join(answers.capacity_lines(cap, low=200, high=64000))
    assert "about 90,000 ops/s (above the range's top of 64,000 ops/s" in text


def test_capacity_chart_marks_the_target_load(report):  # noqa: F811
    assert "target 800 ops/s" in report[1]


def test_number_for_people():
    assert answers.number(16000.0) == "16,000" and answers.number(True) == "yes"
    assert answers.number(math.nan) == "-" and answers.percent(0.9995) == "99.95 %"

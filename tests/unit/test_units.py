"""Quantities with units: parsing into base units, error messages, formatting."""

from __future__ import annotations

import math
import re

import pytest

from workbench.scenario.units import (
    format_bandwidth,
    format_duration,
    format_size,
    parse_quantity,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1 ns", 1e-9),
        ("250 ns", 250e-9),
        ("1 us", 1e-6),
        ("7.5 us", 7.5e-6),
        ("1 ms", 1e-3),
        ("300 ms", 0.3),
        ("300ms", 0.3),
        ("2.5 ms", 2.5e-3),
        ("15 s", 15.0),
        ("0.5 s", 0.5),
        ("1 min", 60.0),
        ("2 min", 120.0),
        ("1 h", 3600.0),
        ("1.5 h", 5400.0),
        ("  15 s  ", 15.0),
        ("1e3 ms", 1.0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_quantity(text, "duration") == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "nbytes"),
    [
        ("1 B", 1.0),
        ("500 B", 500.0),
        ("1 KB", 1000.0),
        ("4 KB", 4000.0),
        ("1 KiB", 1024.0),
        ("4 KiB", 4096.0),
        ("1 MiB", 1024.0**2),
        ("2 MiB", 2 * 1024.0**2),
        ("1 MB", 1e6),
        ("64 MB", 64e6),
    ],
)
def test_sizes(text: str, nbytes: float) -> None:
    assert parse_quantity(text, "size") == pytest.approx(nbytes, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "bytes_per_s"),
    [
        ("1 Gbit/s", 1e9 / 8),
        ("10 Gbit/s", 10e9 / 8),
        ("100 MB/s", 100e6),
        ("1 MB/s", 1e6),
    ],
)
def test_bandwidths(text: str, bytes_per_s: float) -> None:
    assert parse_quantity(text, "bandwidth") == pytest.approx(bytes_per_s, rel=1e-12)


@pytest.mark.parametrize("kind", ["duration", "size"])
@pytest.mark.parametrize("zero", ["0", " 0 ", "0.0", 0, 0.0])
def test_zero_needs_no_unit(zero: object, kind: str) -> None:
    assert parse_quantity(zero, kind) == 0.0


@pytest.mark.parametrize("zero", ["0", 0, "0 bit/s", "0 Gbit/s"])
def test_a_bandwidth_of_zero_is_refused(zero: object) -> None:
    """A zero bandwidth would divide by zero in every transfer; a cut link is a partition."""
    with pytest.raises(ValueError, match=r"above 0|no unit"):
        parse_quantity(zero, "bandwidth")


@pytest.mark.parametrize(("text", "kind"), [("1e12 s", "duration"), ("1e15 TB", "size"), ("1e30 Gbit/s", "bandwidth")])
def test_absurd_quantities_are_refused(text: str, kind: str) -> None:
    with pytest.raises(ValueError, match="beyond any sensible"):
        parse_quantity(text, kind)


def test_zero_with_a_unit() -> None:
    assert parse_quantity("0 ms", "duration") == 0.0
    assert parse_quantity("0 KiB", "size") == 0.0


@pytest.mark.parametrize("bare", ["5", "2.5", 5, 2.5, "1e3"])
def test_bare_nonzero_number_needs_a_unit(bare: object) -> None:
    with pytest.raises(ValueError, match=r"has no unit; write it with one, e\.g\. '300 ms' or '15 s'"):
        parse_quantity(bare, "duration")


def test_bare_number_message_gives_an_example_of_the_right_kind() -> None:
    with pytest.raises(ValueError, match=r"'4096' has no unit; write it with one, e\.g\. '4 KiB'"):
        parse_quantity("4096", "size")
    with pytest.raises(ValueError, match=r"has no unit; write it with one, e\.g\. '10 Gbit/s'"):
        parse_quantity(10, "bandwidth")


def test_unknown_duration_unit_lists_the_allowed_units() -> None:
    expected = "'5 parsecs': unknown duration unit 'parsecs'; allowed units: ns, us, µs, ms, s, sec, min, h, d"
    with pytest.raises(ValueError, match=re.escape(expected)):
        parse_quantity("5 parsecs", "duration")


def test_unknown_size_unit_lists_the_allowed_units() -> None:
    with pytest.raises(ValueError, match=r"unknown size unit 'kib'; allowed units: B, KB, MB, .*KiB, MiB"):
        parse_quantity("4 kib", "size")


def test_size_unit_is_not_a_duration_unit() -> None:
    with pytest.raises(ValueError, match=r"unknown duration unit 'KiB'; allowed units: ns, "):
        parse_quantity("4 KiB", "duration")


@pytest.mark.parametrize(("text", "kind"), [("-5 ms", "duration"), ("-1 KiB", "size"), ("-1 Gbit/s", "bandwidth")])
def test_negative_rejected(text: str, kind: str) -> None:
    with pytest.raises(ValueError, match=rf"'{re.escape(text)}': a {kind} must be a finite number >= 0"):
        parse_quantity(text, kind)


@pytest.mark.parametrize("value", [-5, -0.5, "-5"])
def test_negative_bare_number_rejected(value: object) -> None:
    with pytest.raises(ValueError):
        parse_quantity(value, "duration")


def test_overflow_rejected() -> None:
    with pytest.raises(ValueError, match=r"must be a finite number >= 0"):
        parse_quantity("1e400 s", "duration")


@pytest.mark.parametrize("value", [True, False, None, [1, "s"], {"s": 1}])
def test_non_quantities_rejected(value: object) -> None:
    with pytest.raises(ValueError, match=r"is not a duration; write it with a unit"):
        parse_quantity(value, "duration")


@pytest.mark.parametrize("text", ["ms", "fast", "5 ms ms", "1,5 s", ""])
def test_garbage_rejected(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a duration; write a number and a unit"):
        parse_quantity(text, "duration")


# ----------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0 s"),
        (2e-6, "2 us"),
        (0.0123, "12.3 ms"),
        (0.3, "300 ms"),
        (1.0, "1 s"),
        (1.5, "1.5 s"),
        (15.0, "15 s"),
        (90.0, "1.5 min"),
        (120.0, "2 min"),
        (3600.0, "1 h"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    "seconds",
    [
        0.0,
        1e-7,
        2e-6,
        1e-3,
        0.0123,
        0.1234567,
        0.3,
        1.0,
        1.5,
        15.0,
        59.0,
        90.0,
        125.0,
        3600.0,
        7200.0,
        86400.0,
    ],
)
def test_format_duration_round_trips(seconds: float) -> None:
    # The formatter keeps six significant digits, hence rel=1e-5.
    assert parse_quantity(format_duration(seconds), "duration") == pytest.approx(seconds, rel=1e-5)


@pytest.mark.parametrize(
    ("nbytes", "text"),
    [
        (0.0, "0 B"),
        (3.0, "3 B"),
        (500.0, "500 B"),
        (1500.0, "1.5 KB"),
        (4096.0, "4 KiB"),
        (1536.0, "1.5 KiB"),
        (1e6, "1 MB"),
        (64e6, "64 MB"),
        (1024.0**2, "1 MiB"),
    ],
)
def test_format_size(nbytes: float, text: str) -> None:
    assert format_size(nbytes) == text


@pytest.mark.parametrize("nbytes", [0.0, 1.0, 500.0, 1000.0, 1500.0, 4096.0, 1e6, 64e6, 1024.0**2, 12345.0, 1024.0**3])
def test_format_size_round_trips(nbytes: float) -> None:
    assert parse_quantity(format_size(nbytes), "size") == pytest.approx(nbytes, rel=1e-5)


@pytest.mark.parametrize("bytes_per_s", [1e9 / 8, 10e9 / 8, 100e6, 1e6, 125.0, 1.0])
def test_format_bandwidth_round_trips(bytes_per_s: float) -> None:
    text = format_bandwidth(bytes_per_s)
    assert parse_quantity(text, "bandwidth") == pytest.approx(bytes_per_s, rel=1e-5)


def test_format_bandwidth_uses_bits() -> None:
    assert format_bandwidth(10e9 / 8) == "10 Gbit/s"
    assert format_bandwidth(100e6) == "800 Mbit/s"


def test_parsed_values_are_finite_floats() -> None:
    value = parse_quantity("15 s", "duration")
    assert isinstance(value, float)
    assert math.isfinite(value)

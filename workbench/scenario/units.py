"""Quantities with units: durations, sizes and bandwidths.

Inside the model time is seconds (float) and sizes are bytes (float); scenario
files always write the unit (``300 ms``, ``15 s``, ``4 KiB``, ``1 Gbit/s``), because
a millisecond read as a second is the easiest mistake to make in a latency model.
"""

from __future__ import annotations

import math
import re

DURATION_UNITS: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}

SIZE_UNITS: dict[str, float] = {
    "B": 1.0,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "TB": 1e12,
    "KiB": 1024.0,
    "MiB": 1024.0**2,
    "GiB": 1024.0**3,
    "TiB": 1024.0**4,
}

# Bandwidth in bytes per second.
BANDWIDTH_UNITS: dict[str, float] = {
    "bit/s": 1 / 8,
    "kbit/s": 1e3 / 8,
    "Kbit/s": 1e3 / 8,
    "Mbit/s": 1e6 / 8,
    "Gbit/s": 1e9 / 8,
    "B/s": 1.0,
    "KB/s": 1e3,
    "MB/s": 1e6,
    "GB/s": 1e9,
    "KiB/s": 1024.0,
    "MiB/s": 1024.0**2,
    "GiB/s": 1024.0**3,
}

UNIT_TABLES: dict[str, dict[str, float]] = {
    "duration": DURATION_UNITS,
    "size": SIZE_UNITS,
    "bandwidth": BANDWIDTH_UNITS,
}

EXAMPLES = {"duration": "'300 ms' or '15 s'", "size": "'4 KiB'", "bandwidth": "'10 Gbit/s'"}
# Beyond these a value is a typo, not a what-if: a century, a pebibyte, 10 Tbit/s.
LIMITS = {"duration": 100 * 365 * 86400.0, "size": 2.0**50, "bandwidth": 10e12 / 8}
LIMIT_TEXT = {"duration": "100 years", "size": "1 PiB", "bandwidth": "10 Tbit/s"}

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-zµ/]+)?\s*$")


def parse_quantity(text: object, kind: str) -> float:
    """Parse ``'300 ms'`` (kind ``duration``) into base units (seconds, bytes, bytes/s).

    A bare number is accepted only for zero; any other number must carry a unit.
    Raises ``ValueError`` with a message that says what is allowed.
    """
    units = UNIT_TABLES[kind]
    if isinstance(text, bool):
        msg = f"{text!r} is not a {kind}; write it with a unit, e.g. {EXAMPLES[kind]}"
        raise ValueError(msg)
    if isinstance(text, int | float):
        if text == 0 and kind != "bandwidth":
            return 0.0
        msg = f"{text!r} has no unit; write it with one, e.g. {EXAMPLES[kind]}"
        raise ValueError(msg)
    if not isinstance(text, str):
        msg = f"{text!r} is not a {kind}; write it with a unit, e.g. {EXAMPLES[kind]}"
        raise ValueError(msg)
    match = _QUANTITY.match(text)
    if not match:
        msg = f"'{text}' is not a {kind}; write a number and a unit, e.g. {EXAMPLES[kind]}"
        raise ValueError(msg)
    number, unit = float(match.group(1)), match.group(2)
    if unit is None:
        if number == 0 and kind != "bandwidth":
            return 0.0
        msg = f"'{text}' has no unit; write it with one, e.g. {EXAMPLES[kind]}"
        raise ValueError(msg)
    if unit not in units:
        msg = f"'{text}': unknown {kind} unit '{unit}'; allowed units: {', '.join(units)}"
        raise ValueError(msg)
    value = number * units[unit]
    if not math.isfinite(value) or value < 0:
        msg = f"'{text}': a {kind} must be a finite number >= 0"
        raise ValueError(msg)
    if value > LIMITS.get(kind, math.inf):
        msg = f"'{text}' is beyond any sensible {kind} (the limit is {LIMIT_TEXT[kind]})"
        raise ValueError(msg)
    if kind == "bandwidth" and value == 0:
        msg = f"'{text}': a bandwidth must be above 0 (to cut a link, use a partition)"
        raise ValueError(msg)
    return value


def format_duration(seconds: float) -> str:
    """Format seconds with the largest unit that keeps the number readable."""
    if seconds == 0:
        return "0 s"
    for unit, scale in (("h", 3600.0), ("min", 60.0), ("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale and _is_round(seconds / scale):
            return f"{_fmt(seconds / scale)} {unit}"
    if seconds >= 1:
        return f"{_fmt(seconds)} s"
    if seconds >= 1e-3:
        return f"{_fmt(seconds * 1e3)} ms"
    return f"{_fmt(seconds * 1e6)} us"


def format_size(nbytes: float) -> str:
    """Format a byte count with a binary unit when it divides evenly."""
    for unit in ("TiB", "TB", "GiB", "GB", "MiB", "MB", "KiB", "KB"):
        scale = SIZE_UNITS[unit]
        if nbytes >= scale and _is_round(nbytes / scale):
            return f"{_fmt(nbytes / scale)} {unit}"
    return f"{_fmt(nbytes)} B"


def format_bandwidth(bytes_per_s: float) -> str:
    """Format bytes per second in bits per second, the unit links are sold in."""
    bits = bytes_per_s * 8
    for unit, scale in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bits >= scale:
            return f"{_fmt(bits / scale)} {unit}"
    return f"{_fmt(bits)} bit/s"


def _is_round(x: float) -> bool:
    return abs(x - round(x, 6)) < 1e-9


def _fmt(x: float) -> str:
    text = f"{x:.6g}"
    return text

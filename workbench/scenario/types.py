"""Annotated field types for scenario models: quantities with units and distributions.

Values are stored in base units (seconds, bytes, bytes per second) and written
back with a unit, so a resolved scenario reads like the file it came from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, PlainValidator, ValidationInfo, WithJsonSchema

from workbench.scenario.distributions import Distribution, Unreadable, parse_distribution
from workbench.scenario.units import format_bandwidth, format_duration, format_size, parse_quantity


def _quantity(kind: str):
    def validate(value: object) -> float:
        """A value with a unit (or a bare number) as a float in the kind's base unit."""
        return parse_quantity(value, kind)

    return validate


def _distribution(kind: str):
    def validate(value: object, info: ValidationInfo) -> Distribution:
        """A distribution's text, parsed with relative file paths read from the scenario's folder
        (the ``base_dir`` context)."""
        base_dir = None
        if info.context and info.context.get("base_dir"):
            base_dir = Path(info.context["base_dir"])
        if info.context and info.context.get("recorded") and isinstance(value, str):
            # A run's recorded scenario (workbench.scenario.load.recorded_scenario): the text was
            # valid when the run read it, so a failure now is a file that is not here.
            try:
                return parse_distribution(value, kind, base_dir)
            except ValueError as exc:
                return Unreadable(value.strip(), str(exc))
        return parse_distribution(value, kind, base_dir)

    return validate


def _dist_text(d: Distribution) -> str:
    return d.text


Duration = Annotated[
    float,
    BeforeValidator(_quantity("duration")),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "format": "duration", "examples": ["300 ms", "15 s"]}),
]


def _signed_duration(value: object) -> float:
    if isinstance(value, str) and value.strip().startswith("-"):
        return -parse_quantity(value.strip()[1:], "duration")
    return parse_quantity(value, "duration")


def _format_signed(seconds: float) -> str:
    return f"-{format_duration(-seconds)}" if seconds < 0 else format_duration(seconds)


SignedDuration = Annotated[
    float,
    BeforeValidator(_signed_duration),
    PlainSerializer(_format_signed, return_type=str),
    WithJsonSchema({"type": "string", "format": "signed-duration", "examples": ["-20 ms", "150 ms"]}),
]
Size = Annotated[
    float,
    BeforeValidator(_quantity("size")),
    PlainSerializer(format_size, return_type=str),
    WithJsonSchema({"type": "string", "format": "size", "examples": ["4 KiB"]}),
]
Bandwidth = Annotated[
    float,
    BeforeValidator(_quantity("bandwidth")),
    PlainSerializer(format_bandwidth, return_type=str),
    WithJsonSchema({"type": "string", "format": "bandwidth", "examples": ["10 Gbit/s"]}),
]
DurationDist = Annotated[
    Distribution,
    PlainValidator(_distribution("duration")),
    PlainSerializer(_dist_text, return_type=str),
    WithJsonSchema({"type": "string", "format": "distribution-duration", "examples": ["exponential(2 ms)"]}),
]
SizeDist = Annotated[
    Distribution,
    PlainValidator(_distribution("size")),
    PlainSerializer(_dist_text, return_type=str),
    WithJsonSchema(
        {"type": "string", "format": "distribution-size", "examples": ["lognormal(median=2 KiB, sigma=0.5)"]}
    ),
]

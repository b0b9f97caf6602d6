"""The workload: when operations arrive (Poisson, constant, diurnal, bursts, closed loop or a
replayed trace), what they are (the mix) and which documents they touch (key popularity)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, PlainSerializer, PlainValidator, ValidationInfo, WithJsonSchema

from workbench.scenario.spec.base import Strict
from workbench.scenario.types import Duration, DurationDist, SizeDist
from workbench.scenario.units import parse_quantity


class OpMix(Strict):
    """The share of each kind of operation in the workload; the shares add up to 1 (checked when the
    scenario is loaded)."""

    read: float = Field(0.8, ge=0, le=1)
    write: float = Field(0.2, ge=0, le=1)
    query: float = Field(0.0, ge=0, le=1)
    cluster_tx: float = Field(0.0, ge=0, le=1, description="Cluster-wide transactions writing one document")
    compare_exchange: float = Field(0.0, ge=0, le=1, description="Compare-exchange puts")
    transaction: float = Field(
        0.0, ge=0, le=1, description="Multi-document transactions: one SaveChanges writing transaction_documents keys"
    )


_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?\s*$")


def _time_of_day(value: object) -> float:
    """``"14:00"``, ``"14:30:15"`` or a duration after midnight (``14 h``), as seconds after midnight."""
    if isinstance(value, int | float):
        # Unquoted 14:00 is a base-60 integer (840) in YAML 1.1, so a bare number is ambiguous.
        msg = (
            f"{value!r} is not a time of day; write a clock time in quotes ('14:00') or a duration after "
            "midnight ('14 h'); YAML reads an unquoted 14:00 as the number 840"
        )
        raise ValueError(msg)
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match:
        hours, minutes, seconds = int(match[1]), int(match[2]), float(match[3] or 0)
        if minutes >= 60 or seconds >= 60:
            msg = f"{value!r} is not a clock time: minutes and seconds go up to 59"
            raise ValueError(msg)
        total = hours * 3600 + minutes * 60 + seconds
    else:
        total = parse_quantity(value, "duration")
    if not 0 <= total < 86400:
        msg = f"{value!r} is not a time of day: use 00:00 to 23:59:59 (or a duration under 24 h, e.g. '14 h')"
        raise ValueError(msg)
    return total


def _format_time_of_day(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{int(hours):02d}:{int(minutes):02d}"
    return text if secs == 0 else f"{text}:{secs:06.3f}".rstrip("0").rstrip(".")


TimeOfDay = Annotated[
    float,
    BeforeValidator(_time_of_day),
    PlainSerializer(_format_time_of_day, return_type=str),
    WithJsonSchema({"type": "string", "format": "time-of-day", "examples": ["14:00", "09:30"]}),
]


def _trace_path(value: object, info: ValidationInfo) -> str:
    """A trace file, relative to the scenario file; kept as an absolute path so a
    resolved scenario (provenance, a dump) still finds it from anywhere."""
    if not isinstance(value, str | Path) or not str(value).strip():
        msg = f"{value!r} is not a file path; name a .csv or .parquet file (relative to the scenario file)"
        raise ValueError(msg)
    path = Path(str(value).strip()).expanduser()
    if not path.is_absolute():
        base = info.context.get("base_dir") if info.context else None
        path = Path(base or ".") / path
    return os.path.normpath(os.path.abspath(path))


TracePath = Annotated[
    str,
    PlainValidator(_trace_path),
    WithJsonSchema({"type": "string", "format": "path", "examples": ["traces/sample.csv"]}),
]


class Burst(Strict):
    """A flash crowd: from ``at`` for ``duration`` the arrival rate is ``multiplier`` times the base rate."""

    at: Duration
    duration: Duration
    multiplier: float = Field(gt=0, description="Rate factor during the burst (below 1: a dip)")


class RandomBursts(Strict):
    """Flash crowds at random times: the time from one burst's start to the next is drawn
    from ``every`` (exponential: bursts form a Poisson process), each lasts a ``duration`` draw."""

    every: DurationDist
    duration: DurationDist
    multiplier: float = Field(gt=0, description="Rate factor during a burst")


class TraceWindow(Strict):
    """The part of the trace to replay, in trace time (seconds after the trace's time zero)."""

    start: Duration = Field("0 s", description="Rows earlier than this are passed over; it becomes time zero")
    end: Duration | None = Field(None, description="Rows at or after this end the replay (or the loop's pass)")


ARRIVAL_KINDS = ("poisson", "constant", "diurnal", "bursts", "closed", "trace")
# Which Arrivals fields each kind reads; setting another kind's field is an error.
ARRIVAL_FIELDS: dict[str, tuple[str, ...]] = {
    "poisson": (),
    "constant": (),
    "diurnal": ("peak", "trough", "peak_at", "start_at", "period"),
    "bursts": ("bursts", "random_bursts"),
    "closed": ("users", "think"),
    "trace": ("file", "speedup", "window", "loop", "on_error"),
}


class Arrivals(Strict):
    """When operations arrive.

    ``poisson``: open loop, exponential gaps at ``workload.rate`` (the default).
    ``constant``: open loop, one operation every 1/rate seconds exactly.
    ``diurnal``: open loop, a non-homogeneous Poisson process whose rate follows a
    sinusoid between ``trough`` and ``peak`` over a day, highest at ``peak_at``; the day
    lasts ``period`` (24 h, or less to compress a day into a short run).
    ``bursts``: Poisson at ``workload.rate`` plus flash crowds that multiply the rate.
    ``closed``: ``users`` each issue an operation, wait for its answer (whatever the
    outcome), think for a ``think`` draw, and repeat; users map onto clients round-robin.
    ``trace``: replay a recorded trace (``docs/traces.md``); the trace gives the times,
    op kinds, keys and optionally sizes and clients, so mix and key_popularity do not apply.
    """

    kind: Literal["poisson", "constant", "diurnal", "bursts", "closed", "trace"] = "poisson"
    peak: float | None = Field(None, gt=0, description="diurnal: highest rate (ops/s), at peak_at")
    trough: float | None = Field(None, ge=0, description="diurnal: lowest rate (ops/s), half a day from the peak")
    peak_at: TimeOfDay = Field(
        "14:00", description="diurnal: time of day of the peak (an estimate: web traffic peaks mid-afternoon)"
    )
    start_at: TimeOfDay = Field("00:00", description="diurnal: time of day at the start of the run")
    period: Duration = Field(
        "24 h", ge=1.0, description="diurnal: length of the simulated day; shorter compresses the curve"
    )
    bursts: tuple[Burst, ...] = Field((), description="bursts: flash crowds at given times")
    random_bursts: RandomBursts | None = Field(None, description="bursts: flash crowds at random times")
    users: int | None = Field(None, ge=1, description="closed: concurrent users (each has one operation at a time)")
    think: DurationDist = Field("exponential(1 s)", description="closed: think time between an answer and the next op")
    file: TracePath | None = Field(None, description="trace: CSV or Parquet file, relative to the scenario file")
    speedup: float = Field(1.0, gt=0, description="trace: replay this many times faster than recorded")
    window: TraceWindow = TraceWindow()
    loop: bool = Field(False, description="trace: start again from the window's start when it ends")
    on_error: Literal["fail", "skip"] = Field(
        "fail", description="trace: a bad row stops the run (fail) or is counted and passed over (skip)"
    )


class Hotspot(Strict):
    """``key_popularity: hotspot``: a fraction of the keys gets a fraction of the accesses,
    uniformly within each part. The hot keys are the lowest-numbered ones (as Zipf's rank 1 is key 0)."""

    keys: float = Field(0.2, gt=0, lt=1, description="Fraction of the keys that are hot")
    share: float = Field(0.8, ge=0, le=1, description="Fraction of the accesses that go to the hot keys")

    def hot_keys(self, keys: int) -> int:
        """How many of ``keys`` are hot: the fraction, rounded, at least one."""
        return max(1, round(self.keys * keys))


class Tenants(Strict):
    """``key_popularity: tenants``: the keys are split into ``count`` equal contiguous ranges.
    Each session works for one tenant, chosen by ``popularity`` (zipf: tenant 0 is the busiest);
    its keys are uniform in the tenant's range. With ``clients.load_balance: UseSessionContext``
    the session's context is its tenant, so a tenant's sessions go to the same node."""

    count: int = Field(10, ge=1)
    popularity: Literal["uniform", "zipf"] = "uniform"
    zipf_exponent: float = Field(0.99, gt=0, description="s in P(tenant rank k) ~ 1/k^s, for popularity zipf")


class Workload(Strict):
    """Operations spread over the clients' sessions: when they arrive (``arrivals``), what
    they are (``mix``) and which documents they touch (``key_popularity``)."""

    rate: float = Field(
        1000.0, gt=0, description="Operations per second, all clients together (poisson, constant; base of bursts)"
    )
    arrivals: Arrivals = Arrivals()
    mix: OpMix = OpMix()
    keys: int = Field(100_000, ge=1, le=1_000_000_000, description="Documents in the database (all present at t = 0)")
    collections: dict[str, float] = Field(
        default_factory=lambda: {"docs": 1.0},
        description="Collections and the share of the keys in each (contiguous key ranges, in order); "
        "conflict resolver scripts are per collection",
    )
    transaction_documents: int = Field(3, ge=1, description="Documents written by one multi-document transaction")
    key_popularity: Literal["uniform", "zipf", "hotspot", "tenants"] = "uniform"
    zipf_exponent: float = Field(0.99, gt=0, description="s in P(rank k) ~ 1/k^s, for key_popularity zipf")
    hotspot: Hotspot = Hotspot()
    tenants: Tenants = Tenants()
    document_size: SizeDist = Field("lognormal(median=2 KiB, sigma=0.6)")
    session_length: int = Field(10, ge=1, description="Requests per session (RavenDB allows 30 by default)")
    query_results: int = Field(10, ge=0, description="Documents returned by a query")
    stop: Duration | None = Field(
        None,
        description="Stop issuing operations at this time (default: run to the end), e.g. to let replication drain",
    )
    write_collections: tuple[str, ...] | None = Field(
        None,
        description="Writes go only to these collections (default: all); reads still go anywhere, e.g. a "
        "store that writes sales and only reads the catalogue",
    )

"""Probability distributions written as scenario values.

One parser and one sampler API serve every component (network latency, service
times, fsync, document sizes, think times, fault timings)::

    2 ms                                   constant
    constant(2 ms)
    uniform(1 ms, 3 ms)
    exponential(2 ms)                      the argument is the mean
    normal(10 ms, 2 ms)                    mean, standard deviation; truncated at 0
    lognormal(median=40 ms, sigma=0.3)     also lognormal(mean=..., sigma=...)
    pareto(0.235 ms, 10)                   scale (minimum), shape
    weibull(30 d, 1.5)                     scale, shape (shape > 1: wear-out; < 1: infant mortality)
    mixture(0.9: pareto(0.235 ms, 10), 0.1: exponential(0.6 ms))
    empirical(1 ms, 2 ms, 2 ms, 9 ms)      resample from a list
    empirical(file=latency.csv, column=rtt, unit=ms)

Every distribution has a *kind* (``duration``, ``size`` or ``number``) that decides
which units its arguments take. Parsed values keep the text the user wrote, so
the resolved scenario shows exactly what was asked for.

Sampling is vectorised: ``workbench.model.kernel.kernel.Sampler`` draws blocks from a numpy
``Generator`` and hands them out one at a time, which makes a draw on the model's hot
path a list index rather than a numpy call (it lives in the kernel, which is compiled).
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist

import numpy as np

from workbench.errors import did_you_mean
from workbench.scenario.units import LIMIT_TEXT, LIMITS, UNIT_TABLES, parse_quantity

KINDS = ("duration", "size", "number")


class Distribution:
    """Base class: a distribution of non-negative values in base units."""

    text: str

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws from ``rng``, in base units (seconds, bytes or a plain number)."""
        raise NotImplementedError

    def mean(self) -> float:
        """The mean, in base units (infinite for a Pareto with shape <= 1)."""
        raise NotImplementedError

    def upper(self, tail: float) -> float:
        """A value exceeded with probability at most ``tail`` (the support's maximum when bounded)."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, eq=False)
class Constant(Distribution):
    """Always ``value`` (a bare quantity such as ``2 ms`` is one)."""

    value: float
    text: str = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` copies of the value (draws nothing)."""
        return np.full(n, self.value)

    def mean(self) -> float:
        """The value."""
        return self.value

    def upper(self, tail: float) -> float:
        """The value."""
        return self.value


@dataclass(frozen=True, eq=False)
class Uniform(Distribution):
    """Uniform on [``low``, ``high``)."""

    low: float
    high: float
    text: str = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Uniform draws on [low, high)."""
        return rng.uniform(self.low, self.high, n)

    def mean(self) -> float:
        """(low + high) / 2."""
        return (self.low + self.high) / 2

    def upper(self, tail: float) -> float:
        """The upper bound, ``high``."""
        return self.high


@dataclass(frozen=True, eq=False)
class Exponential(Distribution):
    """Exponential with mean ``mean_value`` (memoryless: Poisson gaps, M/M/c service)."""

    mean_value: float
    text: str = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Exponential draws with the given mean."""
        return rng.exponential(self.mean_value, n)

    def mean(self) -> float:
        """The mean it was given."""
        return self.mean_value

    def upper(self, tail: float) -> float:
        """The (1 - tail) quantile: mean · ln(1 / tail)."""
        return self.mean_value * math.log(1.0 / tail)


@dataclass(frozen=True, eq=False)
class TruncatedNormal(Distribution):
    """Normal(mean, sd) conditioned on being >= 0 (negative draws are redrawn)."""

    mu: float
    sd: float
    text: str = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Normal draws, each negative one redrawn until it is not."""
        out = rng.normal(self.mu, self.sd, n)
        bad = out < 0
        while bad.any():
            out[bad] = rng.normal(self.mu, self.sd, int(bad.sum()))
            bad = out < 0
        return out

    def mean(self) -> float:
        """Mean of the normal truncated at 0: mu + sd · φ(a) / (1 - Φ(a)) with a = -mu / sd."""
        if self.sd == 0:
            return self.mu
        a = -self.mu / self.sd
        pdf = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
        tail = 0.5 * math.erfc(a / math.sqrt(2))
        return self.mu + self.sd * pdf / tail

    def upper(self, tail: float) -> float:
        """The untruncated normal's (1 - tail) quantile, a slight overestimate (truncation only lowers it)."""
        return self.mu + self.sd * NormalDist().inv_cdf(1.0 - tail)  # slightly above: truncation only lowers it


@dataclass(frozen=True, eq=False)
class LogNormal(Distribution):
    """Log-normal with log-mean ``mu`` and log-sd ``sigma`` (median = exp(mu))."""

    mu: float
    sigma: float
    text: str = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Log-normal draws: exp(normal(mu, sigma))."""
        return rng.lognormal(self.mu, self.sigma, n)

    def mean(self) -> float:
        """exp(mu + sigma² / 2)."""
        return math.exp(self.mu + self.sigma**2 / 2)

    def upper(self, tail: float) -> float:
        """The (1 - tail) quantile: exp(mu + sigma · z), z the standard normal's (1 - tail) quantile."""
        return math.exp(self.mu + self.sigma * NormalDist().inv_cdf(1.0 - tail))


@dataclass(frozen=True, eq=False)
class Pareto(Distribution):
    """Classical Pareto: minimum ``scale``, tail index ``shape``."""

    scale: float
    shape: float
    text: str = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Classical Pareto draws: (Lomax + 1) · scale."""
        # numpy's pareto is the Lomax form; shifting by one gives the classical one.
        return (rng.pareto(self.shape, n) + 1.0) * self.scale

    def mean(self) -> float:
        """shape · scale / (shape - 1); infinite when shape <= 1."""
        return math.inf if self.shape <= 1 else self.shape * self.scale / (self.shape - 1)

    def upper(self, tail: float) -> float:
        """The (1 - tail) quantile: scale · tail^(-1/shape)."""
        return self.scale * tail ** (-1.0 / self.shape)


@dataclass(frozen=True, eq=False)
class Weibull(Distribution):
    """Weibull with ``scale`` (the 63rd percentile) and ``shape`` k; k = 1 is exponential."""

    scale: float
    shape: float
    text: str = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Weibull draws: scale · numpy's standard Weibull(shape)."""
        return rng.weibull(self.shape, n) * self.scale

    def mean(self) -> float:
        """scale · Γ(1 + 1/shape)."""
        return self.scale * math.gamma(1.0 + 1.0 / self.shape)

    def upper(self, tail: float) -> float:
        """The (1 - tail) quantile: scale · ln(1 / tail)^(1/shape)."""
        return self.scale * math.log(1.0 / tail) ** (1.0 / self.shape)


@dataclass(frozen=True, eq=False)
class Mixture(Distribution):
    """Each draw comes from component i with probability ``weights[i]`` (the weights add up to 1)."""

    weights: tuple[float, ...]
    components: tuple[Distribution, ...]
    text: str = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Pick a component per draw by weight, then draw each component's share in one block."""
        choice = rng.choice(len(self.components), size=n, p=np.asarray(self.weights))
        out = np.empty(n)
        for i, comp in enumerate(self.components):
            idx = np.flatnonzero(choice == i)
            if idx.size:
                out[idx] = comp.sample(rng, idx.size)
        return out

    def mean(self) -> float:
        """The weighted mean of the components' means."""
        return sum(w * c.mean() for w, c in zip(self.weights, self.components, strict=True))

    def upper(self, tail: float) -> float:
        """The largest upper bound among components with a positive weight (a safe bound, not a quantile)."""
        return max(c.upper(tail) for w, c in zip(self.weights, self.components, strict=True) if w > 0)


@dataclass(frozen=True, eq=False)
class Empirical(Distribution):
    """Resampling with replacement from the given ``values`` (listed in the text or read from a CSV column)."""

    values: tuple[float, ...] = field(repr=False)
    text: str = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Values picked uniformly at random, with replacement."""
        return np.asarray(self.values)[rng.integers(0, len(self.values), n)]

    def mean(self) -> float:
        """The mean of the values."""
        return float(np.mean(self.values))

    def upper(self, tail: float) -> float:
        """The largest value (the support is bounded)."""
        return max(self.values)


@dataclass(frozen=True, eq=False)
class Unreadable(Distribution):
    """A distribution a run's recorded scenario names that cannot be read here: an empirical
    distribution whose file is not where the run found it (results moved to another machine).
    It keeps its text (and why it could not be read) for reports; it has no values."""

    text: str
    reason: str

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Refused, with the reason: a recorded run is analysed, never re-run, from here."""
        raise ValueError(f"'{self.text}' cannot be sampled here: {self.reason}")

    def mean(self) -> float:
        """Refused, with the reason (no values to average)."""
        raise ValueError(f"'{self.text}' has no values here: {self.reason}")

    def upper(self, tail: float) -> float:
        """Refused, with the reason (no values to bound)."""
        raise ValueError(f"'{self.text}' has no values here: {self.reason}")


# --------------------------------------------------------------------------- parser

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<string>"[^"]*"|'[^']*')
      | (?P<name>[A-Za-zµ_][A-Za-z0-9µ_./\\-]*)
      | (?P<punct>[(),:=\[\]])
    )""",
    re.VERBOSE,
)

SIGNATURES: dict[str, str] = {
    "constant": "constant(VALUE)",
    "uniform": "uniform(LOW, HIGH)",
    "exponential": "exponential(MEAN)",
    "normal": "normal(MEAN, SD)",
    "lognormal": "lognormal(median=VALUE, sigma=NUMBER) or lognormal(mean=VALUE, sigma=NUMBER)",
    "pareto": "pareto(SCALE, SHAPE)",
    "weibull": "weibull(SCALE, SHAPE)",
    "mixture": "mixture(WEIGHT: DIST, WEIGHT: DIST, ...)",
    "empirical": "empirical(VALUE, VALUE, ...) or empirical(file=PATH, column=NAME, unit=UNIT)",
}


class _Tok:
    __slots__ = ("kind", "pos", "value")

    def __init__(self, kind: str, value: str, pos: int):
        self.kind, self.value, self.pos = kind, value, pos


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            bad = len(text) - len(text[pos:].lstrip())  # skip the whitespace before it
            msg = f"unexpected character {text[bad]!r} at position {bad + 1}"
            raise ValueError(msg)
        kind = m.lastgroup or ""
        tokens.append(_Tok(kind, m.group(kind), m.start(kind)))
        pos = m.end()
    return tokens


@dataclass
class _Arg:
    key: str | None
    weight: float | None
    value: object  # float (number), tuple(number, unit), Distribution text node, list, str


class _Parser:
    def __init__(self, text: str, kind: str, base_dir: Path | None):
        self.text = text
        self.kind = kind
        self.base_dir = base_dir
        self.tokens = _tokenize(text)
        self.i = 0

    # -- token helpers
    def peek(self, offset: int = 0) -> _Tok | None:
        """The token ``offset`` places ahead, without consuming it (None past the end)."""
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self, kind: str | None = None, value: str | None = None) -> _Tok:
        """Consume the next token, which must match ``kind`` and/or ``value``; ValueError naming the
        position otherwise."""
        tok = self.peek()
        if tok is None:
            want = value or kind or "more input"
            msg = f"unexpected end of text, expected {want!r}"
            raise ValueError(msg)
        if (kind and tok.kind != kind) or (value and tok.value != value):
            want = value or kind
            msg = f"expected {want!r} at position {tok.pos + 1}, found {tok.value!r}"
            raise ValueError(msg)
        self.i += 1
        return tok

    # -- grammar
    def parse(self) -> Distribution:
        """The whole text as one distribution; anything left over is an error."""
        dist = self.distribution(self.kind)
        if self.peek() is not None:
            tok = self.peek()
            msg = f"unexpected {tok.value!r} at position {tok.pos + 1}"
            raise ValueError(msg)
        return dist

    def distribution(self, kind: str) -> Distribution:
        """A distribution call (``name(...)``) or a bare quantity (a constant)."""
        tok = self.peek()
        if tok is None:
            msg = "empty distribution"
            raise ValueError(msg)
        nxt = self.peek(1)
        if tok.kind == "name" and nxt is not None and nxt.value == "(":
            return self.call(kind)
        start = tok.pos
        value = self.quantity(kind)
        return Constant(value, text=self.text[start : self._end_pos()].strip())

    def _end_pos(self) -> int:
        tok = self.peek()
        return tok.pos if tok is not None else len(self.text)

    def quantity(self, kind: str) -> float:
        """A number with an optional unit, in base units of ``kind`` (a ``number`` takes no unit)."""
        tok = self.take()
        if tok.kind != "number":
            msg = f"expected a number at position {tok.pos + 1}, found {tok.value!r}"
            raise ValueError(msg)
        unit_tok = self.peek()
        has_unit = unit_tok is not None and unit_tok.kind == "name"
        if has_unit and self.peek(1) is not None and self.peek(1).value == "(":
            has_unit = False
        if kind == "number":
            if has_unit:
                msg = f"'{unit_tok.value}' is a unit, but this value is a plain number"
                raise ValueError(msg)
            return float(tok.value)
        if has_unit:
            self.i += 1
            return parse_quantity(f"{tok.value} {unit_tok.value}", kind)
        return parse_quantity(float(tok.value), kind)

    def call(self, kind: str) -> Distribution:
        """``name(arguments)``: dispatch on the distribution's name; the result keeps the text written."""
        name_tok = self.take("name")
        start = name_tok.pos
        name = name_tok.value
        if name not in SIGNATURES:
            msg = f"unknown distribution '{name}'{did_you_mean(name, SIGNATURES)}; known: {', '.join(SIGNATURES)}"
            raise ValueError(msg)
        self.take(value="(")
        if name == "mixture":
            dist = self.mixture(kind)
        elif name == "empirical":
            dist = self.empirical(kind)
        else:
            dist = self.simple(name, kind)
        self.take(value=")")
        text = self.text[start : self._end_pos()].strip()
        object.__setattr__(dist, "text", text)
        return dist

    def _args(self, parse_value) -> list[tuple[str | None, object]]:
        args: list[tuple[str | None, object]] = []
        while self.peek() is not None and self.peek().value != ")":
            key = None
            if self.peek().kind == "name" and self.peek(1) is not None and self.peek(1).value == "=":
                key = self.take().value
                self.take(value="=")
            args.append((key, parse_value(key, len(args))))
            if self.peek() is not None and self.peek().value == ",":
                self.i += 1
            else:
                break
        return args

    def simple(self, name: str, kind: str) -> Distribution:
        """The distributions with fixed arguments (constant, uniform, exponential, normal,
        lognormal, pareto, weibull), arguments checked against :data:`SIGNATURES`."""

        def value(key: str | None, index: int) -> float:
            """One argument: unitless for ``sigma``, ``shape`` and the second positional of pareto,
            lognormal and weibull."""
            unitless = key in ("sigma", "shape") or (
                name in ("pareto", "lognormal", "weibull") and key is None and index == 1
            )
            return self.quantity("number" if unitless else kind)

        args = self._args(value)
        sig = SIGNATURES[name]
        pos = [v for k, v in args if k is None]
        kw = {k: v for k, v in args if k is not None}

        def need(n: int) -> list[float]:
            """The ``n`` positional arguments, or a ValueError showing the signature."""
            if kw or len(pos) != n:
                msg = f"{name} takes {n} argument(s): {sig}"
                raise ValueError(msg)
            return pos

        if name == "constant":
            (v,) = need(1)
            return Constant(v)
        if name == "uniform":
            lo, hi = need(2)
            if hi < lo:
                msg = f"uniform needs LOW <= HIGH: {sig}"
                raise ValueError(msg)
            return Uniform(lo, hi)
        if name == "exponential":
            (m,) = need(1)
            return Exponential(m)
        if name == "normal":
            mu, sd = need(2)
            return TruncatedNormal(mu, sd)
        if name == "pareto":
            if kw or len(pos) != 2:
                msg = f"pareto takes 2 arguments: {sig}"
                raise ValueError(msg)
            scale, shape = pos
            if shape <= 1 or scale <= 0:
                # At or below 1 the mean is infinite: the draws would outlast any run.
                msg = f"pareto needs SCALE > 0 and SHAPE > 1 (at or below 1 its mean is infinite): {sig}"
                raise ValueError(msg)
            return Pareto(scale, shape)
        if name == "weibull":
            if kw or len(pos) != 2:
                msg = f"weibull takes 2 arguments: {sig}"
                raise ValueError(msg)
            scale, shape = pos
            if shape <= 0 or scale <= 0:
                msg = f"weibull needs SCALE > 0 and SHAPE > 0: {sig}"
                raise ValueError(msg)
            return Weibull(scale, shape)
        # lognormal
        if pos or set(kw) not in ({"median", "sigma"}, {"mean", "sigma"}):
            msg = f"lognormal takes keyword arguments: {sig}"
            raise ValueError(msg)
        sigma = kw["sigma"]
        if not 0 <= sigma <= 5:
            # Above 5 the mean is e^12.5 (270,000) times the median: a heavier tail belongs in pareto.
            msg = f"lognormal needs 0 <= sigma <= 5 (got {sigma:g})"
            raise ValueError(msg)
        if "median" in kw:
            if kw["median"] <= 0:
                msg = "lognormal needs median > 0"
                raise ValueError(msg)
            return LogNormal(math.log(kw["median"]), sigma)
        if kw["mean"] <= 0:
            msg = "lognormal needs mean > 0"
            raise ValueError(msg)
        return LogNormal(math.log(kw["mean"]) - sigma**2 / 2, sigma)

    def mixture(self, kind: str) -> Distribution:
        """``WEIGHT: DIST, ...``: weights >= 0 that add up to 1."""
        weights: list[float] = []
        comps: list[Distribution] = []
        while self.peek() is not None and self.peek().value != ")":
            w = float(self.take("number").value)
            self.take(value=":")
            comps.append(self.distribution(kind))
            weights.append(w)
            if self.peek() is not None and self.peek().value == ",":
                self.i += 1
        if not comps:
            msg = f"mixture needs at least one component: {SIGNATURES['mixture']}"
            raise ValueError(msg)
        total = sum(weights)
        if any(w < 0 for w in weights) or not math.isclose(total, 1.0, abs_tol=1e-6):
            msg = f"mixture weights must be >= 0 and add up to 1 (they add up to {total:g})"
            raise ValueError(msg)
        return Mixture(tuple(w / total for w in weights), tuple(comps))

    def empirical(self, kind: str) -> Distribution:
        """A list of quantities (optionally in brackets), or ``file=, column=, unit=``."""
        tok = self.peek()
        if tok is not None and tok.kind == "name" and self.peek(1) is not None and self.peek(1).value == "=":
            return self.empirical_file(kind)
        values: list[float] = []
        bracket = tok is not None and tok.value == "["
        if bracket:
            self.i += 1
        while self.peek() is not None and self.peek().value not in (")", "]"):
            values.append(self.quantity(kind))
            if self.peek() is not None and self.peek().value == ",":
                self.i += 1
        if bracket:
            self.take(value="]")
        if not values:
            msg = f"empirical needs at least one value: {SIGNATURES['empirical']}"
            raise ValueError(msg)
        return Empirical(tuple(values))

    def empirical_file(self, kind: str) -> Distribution:
        """``empirical(file=PATH, column=NAME, unit=UNIT)``: one CSV column, scaled to base units; a
        relative path is read from the scenario's folder."""

        def value(key: str | None, index: int) -> str:
            """One argument, as written (quotes stripped)."""
            tok = self.take()
            return tok.value.strip("'\"")

        kw = dict(self._args(value))
        allowed = {"file", "column", "unit"}
        unknown = set(kw) - allowed
        if unknown or "file" not in kw or "column" not in kw:
            msg = f"empirical from a file takes file=, column= and unit=: {SIGNATURES['empirical']}"
            raise ValueError(msg)
        path = Path(kw["file"])
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        if not path.is_file():
            what = "is a folder, not a CSV file" if path.is_dir() else f"not found (looked in {path.parent})"
            msg = f"empirical: file '{kw['file']}' {what}"
            raise ValueError(msg)
        unit = kw.get("unit")
        if kind == "number":
            scale = 1.0
        elif unit is None:
            msg = f"empirical: say the unit of column '{kw['column']}', e.g. unit=ms"
            raise ValueError(msg)
        else:
            table = UNIT_TABLES[kind]
            if unit not in table:
                msg = f"empirical: unknown {kind} unit '{unit}'; allowed: {', '.join(table)}"
                raise ValueError(msg)
            scale = table[unit]
        try:
            rows = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            msg = f"empirical: cannot read {kw['file']} ({exc})"
            raise ValueError(msg) from None
        reader = csv.DictReader(rows)
        if kw["column"] not in (reader.fieldnames or []):
            cols = reader.fieldnames or []
            msg = (
                f"empirical: no column '{kw['column']}' in {kw['file']}"
                f"{did_you_mean(kw['column'], cols)}; columns: {', '.join(cols)}"
            )
            raise ValueError(msg)
        try:
            values = [float(row[kw["column"]]) * scale for row in reader if row[kw["column"]] != ""]
        except ValueError as exc:
            msg = f"empirical: column '{kw['column']}' in {kw['file']} holds a non-number ({exc})"
            raise ValueError(msg) from None
        if not values or min(values) < 0:
            msg = f"empirical: column '{kw['column']}' must hold at least one value, all >= 0"
            raise ValueError(msg)
        return Empirical(tuple(values))


def parse_distribution(text: object, kind: str = "duration", base_dir: Path | None = None) -> Distribution:
    """Parse a distribution written in a scenario file.

    Raises ``ValueError`` with a one-line explanation on bad input.
    """
    if kind not in KINDS:
        msg = f"kind must be one of {KINDS}"
        raise ValueError(msg)
    if isinstance(text, Distribution):
        return text
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        msg = f"{text!r} is not a distribution; write e.g. 'exponential(2 ms)'"
        raise ValueError(msg)
    source = str(text)
    try:
        dist = _Parser(source, kind, base_dir).parse()
    except ValueError as exc:
        msg = f"'{source}' is not a valid distribution: {exc}"
        raise ValueError(msg) from None
    mean = dist.mean()
    limit = LIMITS.get(kind, math.inf)
    if not math.isfinite(mean) or mean > limit:
        msg = f"'{source}' has a mean beyond any sensible {kind} (the limit is {LIMIT_TEXT[kind]})"
        raise ValueError(msg)
    object.__setattr__(dist, "text", source.strip())
    return dist

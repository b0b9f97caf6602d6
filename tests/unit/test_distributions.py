"""Distributions written as scenario values: parsing, text, means, sampling, errors."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from workbench.model.kernel.kernel import Sampler
from workbench.scenario.distributions import (
    Constant,
    Empirical,
    Exponential,
    LogNormal,
    Mixture,
    Pareto,
    TruncatedNormal,
    Uniform,
    Weibull,
    parse_distribution,
)

N = 200_000

# Tolerance for comparing a sample mean with .mean(): five standard errors,
# SE = s / sqrt(N) with s the sample standard deviation. For a correct sampler
# the sample mean is approximately normal around the true mean (CLT; every
# distribution below has finite variance, Pareto included since its shape is
# > 2), so a 5-SE miss has probability ~6e-7; the seeds are fixed anyway, so the
# test is deterministic. A real mistake (median used as mean, numpy's Lomax
# Pareto instead of the classical one, truncation ignored) is off by tens to
# thousands of standard errors. With N = 200k the tolerance is about 1 % of the
# mean for a coefficient of variation of 1.
SE_MULTIPLE = 5.0


def assert_mean_matches(dist, seed: int = 12345) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = dist.sample(rng, N)
    assert x.shape == (N,)
    expected = dist.mean()
    se = x.std(ddof=1) / math.sqrt(N)
    tol = SE_MULTIPLE * se
    assert abs(x.mean() - expected) <= tol + 1e-15 * abs(expected), (
        f"{dist.text}: sample mean {x.mean():.6g} vs mean() {expected:.6g} (tol {tol:.3g})"
    )
    return x


CASES = [
    # (text, kind, class, analytic mean in base units)
    ("constant(2 ms)", "duration", Constant, 2e-3),
    ("2 ms", "duration", Constant, 2e-3),
    ("4 KiB", "size", Constant, 4096.0),
    ("uniform(1 ms, 3 ms)", "duration", Uniform, 2e-3),
    ("exponential(2 ms)", "duration", Exponential, 2e-3),
    ("exponential(0.6 ms)", "duration", Exponential, 0.6e-3),
    # Truncated at 0: for normal(1, 1) the mean rises to 1 + phi(1)/Phi(1) = 1.2876.
    (
        "normal(1 ms, 1 ms)",
        "duration",
        TruncatedNormal,
        1e-3 * (1 + 0.24197072451914337 / 0.8413447460685429),
    ),
    # Five sd above zero the truncation barely matters: + sd * phi(5) / Phi(5).
    (
        "normal(10 ms, 2 ms)",
        "duration",
        TruncatedNormal,
        10e-3 + 2e-3 * 1.4867195147342977e-06 / 0.9999997133484281,
    ),
    ("lognormal(median=40 ms, sigma=0.3)", "duration", LogNormal, 40e-3 * math.exp(0.3**2 / 2)),
    ("lognormal(mean=40 ms, sigma=0.3)", "duration", LogNormal, 40e-3),
    ("lognormal(median=2 KiB, sigma=0.6)", "size", LogNormal, 2048 * math.exp(0.6**2 / 2)),
    ("pareto(0.235 ms, 10)", "duration", Pareto, 10 * 0.235e-3 / 9),
    ("weibull(30 d, 1.5)", "duration", Weibull, 30 * 86400 * math.gamma(1 + 1 / 1.5)),
    ("weibull(2 h, 0.7)", "duration", Weibull, 2 * 3600 * math.gamma(1 + 1 / 0.7)),
    (
        "mixture(0.9: pareto(0.235 ms, 10), 0.1: exponential(0.6 ms))",
        "duration",
        Mixture,
        0.9 * 10 * 0.235e-3 / 9 + 0.1 * 0.6e-3,
    ),
    ("empirical(1 ms, 2 ms, 2 ms, 9 ms)", "duration", Empirical, 3.5e-3),
    ("empirical([1 ms, 2 ms, 2 ms, 9 ms])", "duration", Empirical, 3.5e-3),
    ("exponential(3)", "number", Exponential, 3.0),
]


@pytest.mark.parametrize(("text", "kind", "cls", "mean"), CASES, ids=[c[0] for c in CASES])
def test_parses_keeps_text_and_sample_mean_matches(text: str, kind: str, cls: type, mean: float) -> None:
    dist = parse_distribution(text, kind)
    assert isinstance(dist, cls)
    assert dist.text == text
    assert str(dist) == text
    assert dist.mean() == pytest.approx(mean, rel=1e-9)
    x = assert_mean_matches(dist)
    assert (x >= 0).all()


def test_text_is_kept_verbatim_apart_from_outer_whitespace() -> None:
    dist = parse_distribution("  uniform( 1 ms ,3 ms )  ")
    assert dist.text == "uniform( 1 ms ,3 ms )"


def test_mixture_components_keep_their_text() -> None:
    dist = parse_distribution("mixture(0.9: pareto(0.235 ms, 10), 0.1: exponential(0.6 ms))")
    assert isinstance(dist, Mixture)
    assert dist.weights == pytest.approx((0.9, 0.1))
    assert [c.text for c in dist.components] == ["pareto(0.235 ms, 10)", "exponential(0.6 ms)"]


def test_units_are_converted_to_base_units() -> None:
    dist = parse_distribution("uniform(500 us, 2 ms)")
    assert (dist.low, dist.high) == pytest.approx((5e-4, 2e-3))
    size = parse_distribution("uniform(1 KiB, 1 MiB)", "size")
    assert (size.low, size.high) == (1024.0, 1024.0**2)


def test_lognormal_median_and_mean_forms() -> None:
    by_median = parse_distribution("lognormal(median=40 ms, sigma=0.3)")
    by_mean = parse_distribution("lognormal(mean=40 ms, sigma=0.3)")
    assert math.exp(by_median.mu) == pytest.approx(40e-3)
    assert by_mean.mean() == pytest.approx(40e-3)
    assert by_median.sigma == by_mean.sigma == 0.3
    # The sample median of the median= form is the median asked for (within 1 %).
    x = by_median.sample(np.random.default_rng(3), N)
    assert np.median(x) == pytest.approx(40e-3, rel=0.01)


def test_pareto_minimum_is_scale() -> None:
    dist = parse_distribution("pareto(0.235 ms, 10)")
    assert (dist.scale, dist.shape) == pytest.approx((0.235e-3, 10.0))
    x = dist.sample(np.random.default_rng(5), N)
    assert x.min() >= 0.235e-3


def test_pareto_with_an_infinite_mean_is_refused() -> None:
    """At shape 1 or below the mean is infinite: the draws would outlast any run, and the
    operations they delay would vanish from the summary."""
    for text in ("pareto(1 ms, 1)", "pareto(1 ms, 0.001)"):
        with pytest.raises(ValueError, match="infinite"):
            parse_distribution(text)


@pytest.mark.parametrize(
    "text",
    ["lognormal(median=1 ms, sigma=-1)", "lognormal(median=1 ms, sigma=1e400)", "exponential(1e12 s)"],
)
def test_absurd_distributions_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"sigma|beyond"):
        parse_distribution(text)


def test_truncated_normal_never_negative() -> None:
    # Mean 1 ms, sd 5 ms: 42 % of the untruncated mass is below zero.
    dist = parse_distribution("normal(1 ms, 5 ms)")
    x = dist.sample(np.random.default_rng(11), N)
    assert (x >= 0).all()
    assert_mean_matches(dist, seed=11)


def test_empirical_resamples_only_given_values() -> None:
    dist = parse_distribution("empirical(1 ms, 2 ms, 2 ms, 9 ms)")
    x = dist.sample(np.random.default_rng(1), 10_000)
    assert set(np.round(x * 1e3, 9)) == {1.0, 2.0, 9.0}


# ----------------------------------------------------------------------------- empirical files


@pytest.fixture
def latency_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(99)
    rtt = rng.gamma(2.0, 0.5, 500) + 0.1  # milliseconds
    lines = ["rtt,other"] + [f"{v:.6f},{i}" for i, v in enumerate(rtt)]
    path = tmp_path / "latency.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_empirical_file_with_unit(latency_csv: Path) -> None:
    text = "empirical(file=latency.csv, column=rtt, unit=ms)"
    dist = parse_distribution(text, "duration", base_dir=latency_csv.parent)
    assert isinstance(dist, Empirical)
    assert dist.text == text
    raw = np.loadtxt(latency_csv, delimiter=",", skiprows=1, usecols=0)
    assert len(dist.values) == 500
    assert dist.mean() == pytest.approx(raw.mean() * 1e-3, rel=1e-9)
    assert_mean_matches(dist)


def test_empirical_file_unit_scales_values(latency_csv: Path) -> None:
    in_ms = parse_distribution("empirical(file=latency.csv, column=rtt, unit=ms)", base_dir=latency_csv.parent)
    in_us = parse_distribution("empirical(file=latency.csv, column=rtt, unit=us)", base_dir=latency_csv.parent)
    assert in_ms.mean() == pytest.approx(1000 * in_us.mean())


def test_empirical_file_quoted_absolute_path(latency_csv: Path) -> None:
    dist = parse_distribution(f'empirical(file="{latency_csv}", column=rtt, unit=ms)')
    assert len(dist.values) == 500


def test_empirical_file_needs_a_unit_for_durations(latency_csv: Path) -> None:
    with pytest.raises(ValueError, match=r"empirical: say the unit of column 'rtt', e\.g\. unit=ms"):
        parse_distribution("empirical(file=latency.csv, column=rtt)", base_dir=latency_csv.parent)


def test_empirical_file_unknown_unit(latency_csv: Path) -> None:
    with pytest.raises(ValueError, match=r"empirical: unknown duration unit 'parsec'; allowed: ns, us"):
        parse_distribution("empirical(file=latency.csv, column=rtt, unit=parsec)", base_dir=latency_csv.parent)


def test_empirical_file_missing(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError,
        match=r"is not a valid distribution: empirical: file 'nope\.csv' not found \(looked in "
        + re.escape(str(tmp_path)),
    ):
        parse_distribution("empirical(file=nope.csv, column=rtt, unit=ms)", base_dir=tmp_path)


def test_empirical_file_column_missing_suggests(latency_csv: Path) -> None:
    with pytest.raises(
        ValueError,
        match=re.escape("empirical: no column 'rt' in latency.csv (did you mean 'rtt'?); columns: rtt, other"),
    ):
        parse_distribution("empirical(file=latency.csv, column=rt, unit=ms)", base_dir=latency_csv.parent)


# ----------------------------------------------------------------------------- sampler


@pytest.mark.parametrize(
    "text",
    ["exponential(2 ms)", "lognormal(median=1 ms, sigma=0.4)", "mixture(0.5: 1 ms, 0.5: uniform(0 s, 2 ms))"],
)
def test_sampler_same_seed_same_sequence(text: str) -> None:
    dist = parse_distribution(text)
    a = Sampler(dist, np.random.default_rng(7), block=1000)
    b = Sampler(dist, np.random.default_rng(7), block=1000)
    seq_a = [a() for _ in range(3500)]  # crosses several block boundaries
    seq_b = [b() for _ in range(3500)]
    assert seq_a == seq_b
    assert len(set(seq_a)) > 100
    c = Sampler(dist, np.random.default_rng(8), block=1000)
    assert [c() for _ in range(3500)] != seq_a


def test_sampler_draws_the_distribution_in_blocks() -> None:
    dist = parse_distribution("exponential(2 ms)")
    sampler = Sampler(dist, np.random.default_rng(21), block=64)
    drawn = [sampler() for _ in range(128)]
    rng = np.random.default_rng(21)
    expected = np.concatenate([dist.sample(rng, 64), dist.sample(rng, 64)])
    assert drawn == expected.tolist()


def test_constant_sampler_returns_the_constant() -> None:
    sampler = Sampler(parse_distribution("2 ms"), np.random.default_rng(0))
    assert sampler.constant == pytest.approx(2e-3)
    values = [sampler() for _ in range(10_000)]  # more than one block of 4096
    assert set(values) == {sampler.constant}


# ----------------------------------------------------------------------------- errors


def test_unknown_name_suggests_and_lists_known() -> None:
    expected = (
        "'expnential(1 ms)' is not a valid distribution: unknown distribution 'expnential' "
        "(did you mean 'exponential'?); known: constant, uniform, exponential, normal, "
        "lognormal, pareto, weibull, mixture, empirical"
    )
    with pytest.raises(ValueError, match=re.escape(expected)):
        parse_distribution("expnential(1 ms)")


def test_unknown_name_without_close_match_still_lists_known() -> None:
    with pytest.raises(ValueError, match=r"unknown distribution 'bogus'; known: constant, uniform, "):
        parse_distribution("bogus(1 ms)")


@pytest.mark.parametrize("text", ["exponential(1)", "uniform(1, 3 ms)", "5", "normal(10 ms, 2)"])
def test_missing_unit(text: str) -> None:
    with pytest.raises(
        ValueError, match=r"is not a valid distribution: .*has no unit; write it with one, e\.g\. '300 ms'"
    ):
        parse_distribution(text)


def test_unit_on_a_plain_number() -> None:
    with pytest.raises(ValueError, match=r"'ms' is a unit, but this value is a plain number"):
        parse_distribution("lognormal(median=1 ms, sigma=0.3 ms)")


def test_mixture_weights_must_sum_to_one() -> None:
    with pytest.raises(ValueError, match=r"mixture weights must be >= 0 and add up to 1 \(they add up to 0\.9\)"):
        parse_distribution("mixture(0.5: 1 ms, 0.4: 2 ms)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("exponential(1 ms", r"unexpected end of text, expected '\)'"),
        ("mixture(0.5: exponential(1 ms), 0.5: 2 ms", r"unexpected end of text, expected '\)'"),
        ("exponential(1 ms))", r"unexpected '\)' at position 18"),
    ],
)
def test_unbalanced_parenthesis(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=rf"^'{re.escape(text)}' is not a valid distribution: {message}$"):
        parse_distribution(text)


def test_trailing_garbage() -> None:
    with pytest.raises(ValueError, match=r"unexpected 'xyz' at position 19$"):
        parse_distribution("exponential(1 ms) xyz")


def test_lognormal_positional_args() -> None:
    with pytest.raises(
        ValueError,
        match=re.escape(
            "lognormal takes keyword arguments: lognormal(median=VALUE, sigma=NUMBER) "
            "or lognormal(mean=VALUE, sigma=NUMBER)"
        ),
    ):
        parse_distribution("lognormal(40 ms, 0.3)")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("uniform(3 ms, 1 ms)", r"uniform needs LOW <= HIGH"),
        ("uniform(1 ms)", r"uniform takes 2 argument\(s\): uniform\(LOW, HIGH\)"),
        ("pareto(0 ms, 2)", r"pareto needs SCALE > 0 and SHAPE > 1"),
        ("lognormal(median=0 ms, sigma=0.3)", r"lognormal needs median > 0"),
        ("lognormal(median=1 ms)", r"lognormal takes keyword arguments"),
        ("empirical()", r"empirical needs at least one value"),
        ("mixture()", r"mixture needs at least one component"),
        ("", r"empty distribution"),
        ("2 ms ; 3 ms", r"unexpected character ';' at position 6"),
        ("; 3 ms", r"unexpected character ';' at position 1"),
    ],
)
def test_other_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_distribution(text)


@pytest.mark.parametrize("value", [True, None, [1, 2]])
def test_non_text_rejected(value: object) -> None:
    with pytest.raises(ValueError, match=r"is not a distribution; write e\.g\. 'exponential\(2 ms\)'"):
        parse_distribution(value)


def test_bad_kind_rejected() -> None:
    with pytest.raises(ValueError, match=r"kind must be one of"):
        parse_distribution("2 ms", "speed")

"""Property test of the input contract (issue 21): a scenario with one field changed to an
arbitrary value either validates and runs to a sane end, or is refused with a
WorkbenchInputError naming a field. Never another exception, never a hang.

CI explores a fixed set of examples (derandomized); ``make fuzz`` (WORKBENCH_FUZZ=1) explores new
ones, with WORKBENCH_EXAMPLES setting how many.
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from workbench.errors import WorkbenchInputError
from workbench.experiment import run
from workbench.scenario import scenario_from_dict

BASE: dict[str, Any] = {
    "name": "fuzz",
    "seed": 1,
    "duration": "3 s",
    "blueprint": {"extends": "three-node", "database": {"members": ["A", "B", "C"]}},
    "clients": {"count": 2},
    "workload": {"rate": 100, "keys": 100},
    "faults": [{"at": "1 s", "action": "crash", "node": "A", "duration": "1 s"}],
    # A run the check accepts must end within the test's minute: at most a million operations
    # (a changed rate or duration beyond that must be refused with the estimate, as a user's is).
    "max_operations": 1_000_000,
}


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every field of the resolved base scenario (what a user could write)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value[:2]):
            yield from _paths(inner, (*prefix, i))


RESOLVED = scenario_from_dict(BASE, source="<fuzz>").model_dump(mode="json")
PATHS = sorted({p for p in _paths(RESOLVED) if p[0] not in ("name", "description")}, key=str)

weird = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "",
            "x",
            "0",
            "-1 s",
            "1e400 s",
            "1 ns",
            "0 bit/s",
            "exponential(0 s)",
            "constant(0 s)",
            "lognormal(median=1 ms, sigma=9)",
            "pareto(1 ms, 0.5)",
            "mixture(0.5: 1 ms, 0.5: 1e12 s)",
            "1e15 TB",
            "10 Tbit/s",
            "A",
            "ZZZ",
            "client1",
            "preferred",
        ]
    ),
    st.lists(st.sampled_from([None, "A", 0, [], {}]), max_size=3),
    st.dictionaries(st.sampled_from(["x", "at", "node", "kind"]), st.sampled_from([None, 1, "A"]), max_size=2),
)


def _set(data: dict, path: tuple, value: Any) -> dict:
    import copy

    out = copy.deepcopy(data)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


class _Hang(Exception):
    pass


def _alarm(_signum: int, _frame: Any) -> None:
    raise _Hang


@settings(
    max_examples=int(os.environ.get("WORKBENCH_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=not os.environ.get("WORKBENCH_FUZZ"),
)
@given(path=st.sampled_from(PATHS), value=weird)
def test_one_changed_field_is_refused_cleanly_or_runs_to_a_sane_end(path: tuple, value: Any) -> None:
    data = _set(RESOLVED, path, value)
    note(f"{'.'.join(map(str, path))} = {value!r}")
    if os.environ.get("WORKBENCH_FUZZ_TRACE"):
        print(path, repr(value)[:200], flush=True)
    try:
        scenario = scenario_from_dict(data, source="<fuzz>")
    except WorkbenchInputError as err:
        assert str(err).startswith("<fuzz>"), str(err)
        return
    # Accepted: it must run to its end within a bound (a 3 s scenario takes well under a second).
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(60)
    try:
        result = run(scenario)
    except _Hang:
        raise AssertionError(f"accepted, then ran for a minute: {'.'.join(map(str, path))} = {value!r}") from None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert result.ok, result.provenance.get("traceback")
    assert len(result.ops) == result.provenance["ops_issued"]
    summary = result.summary()
    for kind, share in summary["availability"].items():
        assert share is None or (math.isfinite(share) and 0.0 <= share <= 1.0), (kind, share)


# -- the command line and the study grammar: every call ends in exit 0 or a one-line exit 2

STUDY: dict[str, Any] = {
    "name": "fuzz-study",
    "scenario": BASE,
    "replications": 2,
    "variants": [{"name": "a", "set": {"clients.count": 2}}, {"name": "b", "set": {"clients.count": 3}}],
}
STUDY_PATHS = [
    ("name",),
    ("replications",),
    ("variants",),
    ("variants", 0),
    ("variants", 0, "name"),
    ("variants", 0, "set"),
    ("variants", 1, "set", "clients.count"),
    ("scenario",),
    ("grid",),
    ("capacity",),
    ("scenario", "duration"),
    ("scenario", "faults", 0, "node"),
]

set_paths = st.sampled_from(
    [
        "workload.rate",
        "faults.0.at",
        "faults",
        "clients",
        "duration",
        "seed",
        "x.y",
        "blueprint.database.replication_factor",
        "faults.9.node",
        "workload.mix.read",
        "",
    ]
)
set_values = st.one_of(
    st.sampled_from(
        [
            "1s",
            "-1",
            "[]",
            "{}",
            "[1, 2]",
            "inf",
            "1e400",
            "true",
            "A",
            "'a: b'",
            "{start: 1 s}",
            "&a [*a]",
            "[" * 50,
            "",
        ]
    ),
    st.text(max_size=12),
)


def _main(args: list[str], capsys: Any) -> tuple[int, str]:
    from workbench.cli import main

    code = main(args)
    err = capsys.readouterr().err
    return code, err


@settings(
    max_examples=int(os.environ.get("WORKBENCH_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=not os.environ.get("WORKBENCH_FUZZ"),
)
@given(path=set_paths, value=set_values)
def test_a_set_override_is_applied_or_refused_in_one_line(path: str, value: str, capsys: Any) -> None:
    note(f"--set {path}={value}")
    code, err = _main(["run", "scenarios/quickstart.yaml", "--set", f"{path}={value}", "--check"], capsys)
    assert code in (0, 2), err
    if code == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("workbench: error: "), err


@settings(
    max_examples=int(os.environ.get("WORKBENCH_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=not os.environ.get("WORKBENCH_FUZZ"),
)
@given(path=st.sampled_from(STUDY_PATHS), value=weird)
def test_a_study_with_one_changed_field_is_checked_in_one_line(
    path: tuple, value: Any, capsys: Any, tmp_path_factory: Any
) -> None:
    import yaml

    data = _set(STUDY, path, value)
    note(f"{path} = {value!r}")
    folder = tmp_path_factory.mktemp("study")
    file = folder / "study.yaml"
    try:
        file.write_text(yaml.safe_dump(data))
    except (yaml.YAMLError, ValueError):
        return  # a value YAML cannot hold (nan keys and the like): not an input a user can write
    code, err = _main(["compare", str(file), "--check", "--serial"], capsys)
    assert code in (0, 2), err
    if code == 2:
        lines = err.strip().splitlines()
        assert lines[-1].startswith("workbench: error: ") and "Traceback" not in err, err


# -- the trace grammar: any CSV the user points at is replayed or refused with its line

cells = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "1",
            "-1",
            "0.5",
            "1e300",
            "nan",
            "inf",
            "read",
            "write",
            "query",
            "delete",
            "x",
            "client1",
            "client99",
            "9223372036854775807",
            "2026-01-01T00:00:00Z",
            "3000-01-01T00:00:00Z",
            '"a,b"',
            "s1",
        ]
    ),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
)
headers = st.lists(
    st.sampled_from(["t", "timestamp", "op", "key", "size", "client", "session", "region", "x"]), min_size=1, max_size=6
)


@settings(
    max_examples=int(os.environ.get("WORKBENCH_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=not os.environ.get("WORKBENCH_FUZZ"),
)
@given(header=headers, rows=st.lists(st.lists(cells, min_size=1, max_size=6), max_size=8), skip=st.booleans())
def test_a_trace_is_replayed_or_refused_with_its_line(
    header: list[str], rows: list[list[str]], skip: bool, tmp_path_factory: Any
) -> None:
    folder = tmp_path_factory.mktemp("trace")
    text = ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)
    (folder / "trace.csv").write_text(text, encoding="utf-8")
    note(text)
    spec = {
        **BASE,
        "faults": [],
        "workload": {
            "keys": 100,
            "arrivals": {"kind": "trace", "file": "trace.csv", "on_error": "skip" if skip else "fail"},
        },
    }
    try:
        scenario = scenario_from_dict(spec, source="<fuzz>", base_dir=folder)
    except WorkbenchInputError:
        return
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(60)
    try:
        result = run(scenario)
    except WorkbenchInputError as err:
        # A bad row met while replaying (on_error: fail) stops the run with the file and the line.
        assert "trace.csv: line" in str(err), str(err)
        return
    except _Hang:
        raise AssertionError("accepted, then ran for a minute") from None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert result.ok, result.provenance.get("traceback")
    assert len(result.ops) == result.provenance["ops_issued"]

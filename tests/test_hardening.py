"""Bad input gets one clear line and exit 2 (issue 21): YAML that would expand without bound or
repeats a key, numbers that are not numbers or not finite, runs too big to finish, and
cross-field rules. Each case here once slipped through: a traceback, a hang, or a silent
misreading."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.test_cli import assert_one_line_error, workbench
from workbench.errors import WorkbenchInputError
from workbench.scenario import scenario_from_dict
from workbench.scenario.load import parse_yaml

BASE = "name: x\nblueprint: three-node\n"


def _cli_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    started = time.monotonic()
    line = assert_one_line_error(workbench("run", str(path), "--json", timeout=60))
    assert time.monotonic() - started < 30
    return line


def test_a_billion_laughs_is_refused_at_once(tmp_path: Path) -> None:
    laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        laughs.append(f"{name}: &{name} [{','.join(['*' + prev] * 9)}]")
    text = "\n".join(laughs) + "\nname: *i\nblueprint: three-node\n"
    line = _cli_error(tmp_path, text)
    assert "expands to more than" in line


def test_a_key_given_twice_is_an_error_not_the_last_one_winning(tmp_path: Path) -> None:
    line = _cli_error(tmp_path, BASE + "seed: 1\nseed: 2\n")
    assert "'seed' is given twice" in line and "lines 3 and 4" in line


def test_yaml_nested_thousands_deep_is_refused(tmp_path: Path) -> None:
    line = _cli_error(tmp_path, BASE + "description: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested" in line


def test_parse_yaml_keeps_ordinary_aliases() -> None:
    data = parse_yaml("base: &b {rate: 5}\nother: *b\n", "<test>")
    assert data["other"] == {"rate": 5}


@pytest.mark.parametrize(
    ("changes", "path", "says"),
    [
        ({"clients": {"count": True}}, "clients", "yes/no value"),
        ({"seed": True}, "seed", "yes/no value"),
        ({"blueprint": {"extends": "three-node", "database": {"replication_factor": True}}}, "database", "yes/no"),
        ({"workload": {"rate": float("inf")}}, "workload.rate", "finite"),
        ({"workload": {"rate": 1e9}}, "workload.rate", "max_operations"),
        ({"duration": "1e12 s"}, "duration", "beyond any sensible"),
        ({"sample_interval": "1 ns"}, "sample_interval", "samples"),
        ({"sample_interval": 0}, "sample_interval", "longer than 0 s"),  # found by make fuzz: ZeroDivisionError
        ({"clients": {"count": 10**7}}, "clients.count", "less than or equal"),
        ({"workload": {"keys": 2**63}}, "workload.keys", "less than or equal"),
        ({"blueprint": {"extends": "three-node", "network": {"bandwidth": "0 bit/s"}}}, "bandwidth", "above 0"),
        ({"workload": {"document_size": "1e15 TB"}}, "document_size", "beyond any sensible"),
        ({"clients": {"request_timeout": "0 s"}}, "request_timeout", "greater than 0"),
        (
            {"blueprint": {"extends": "three-node", "cluster": {"heartbeat_interval": "1 s"}}},
            "heartbeat_interval",
            "shorter than the election timeout",
        ),
        ({"clients": {"write_assurance": {"replicas": 10}}}, "write_assurance.replicas", "cannot be met"),
        ({"clients": {"write_assurance": {"replicas": -1}}}, "write_assurance.replicas", "cannot be met"),
        ({"faults": [{"action": "rolling_restart", "at": "1 s", "nodes": []}]}, "nodes", "at least 1"),
        ({"faults": [{"action": "rolling_restart", "at": "1 s", "nodes": ["A", "A"]}]}, "nodes[1]", "twice"),
        ({"faults": [{"action": "partition", "at": "1 s", "groups": [[]]}]}, "groups", "empty"),
        ({"faults": [{"action": "create_database", "at": "1 s", "name": ""}]}, "name", "at least 1"),
        (
            {"faults": [{"action": "random_failures", "time_to_failure": "constant(0 s)", "time_to_repair": "1 s"}]},
            "time_to_failure",
            "mean of 0",
        ),
        (
            {"blueprint": {"extends": "three-node", "hardware": {"fsync": "lognormal(median=1 ms, sigma=-1)"}}},
            "fsync",
            "sigma",
        ),
        ({"blueprint": {"extends": "three-node", "hardware": {"fsync": "pareto(1 ms, 0.001)"}}}, "fsync", "infinite"),
    ],
)
def test_absurd_values_are_refused_with_their_field(changes: dict, path: str, says: str) -> None:
    spec = {"name": "x", "blueprint": "three-node", **changes}
    with pytest.raises(WorkbenchInputError) as err:
        scenario_from_dict(spec, source="<test>")
    assert path in str(err.value) and says in str(err.value), str(err.value)


def test_max_operations_lets_a_big_run_through_on_purpose() -> None:
    spec = {"name": "x", "blueprint": "three-node", "workload": {"rate": 1e6}, "max_operations": 10**8}
    assert scenario_from_dict(spec, source="<test>").workload.rate == 1e6


@pytest.mark.parametrize(
    ("changes", "path", "says"),
    [
        (
            {
                "faults": [
                    {"at": "5 s", "action": "restart", "node": "A"},
                    {"at": "10 s", "action": "crash", "node": "A"},
                ]
            },
            "faults[0].node",
            "nothing in the plan stops A",
        ),
        ({"faults": [{"at": "5 s", "action": "restart", "node": "B"}]}, "faults[0].node", "running node"),
        (
            {"blueprint": {"extends": "three-node", "observer": {"priority_order": ["Q"]}}},
            "priority_order[0]",
            "no node",
        ),
    ],
)
def test_a_fault_plan_that_cannot_happen_is_refused(changes: dict, path: str, says: str) -> None:
    spec = {"name": "x", "blueprint": "three-node", **changes}
    with pytest.raises(WorkbenchInputError) as err:
        scenario_from_dict(spec, source="<test>")
    assert path in str(err.value) and says in str(err.value), str(err.value)


def _trace_scenario(path: Path, **arrivals: object) -> dict:
    return {
        "name": "x",
        "duration": "20 s",
        "blueprint": "three-node",
        "workload": {"keys": 100, "arrivals": {"kind": "trace", "file": str(path), **arrivals}},
    }


def test_a_trace_without_rows_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("t,op,key\n")
    with pytest.raises(WorkbenchInputError, match="no rows"):
        scenario_from_dict(_trace_scenario(path), source="<test>")


@pytest.mark.parametrize("session", [[[1, 2], [3]], [{"a": 1}, {"a": 2}]])
def test_a_parquet_trace_with_nested_values_is_refused(tmp_path: Path, session: list) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"t": [0.1, 0.2], "op": ["read", "read"], "key": [1, 2], "session": session}), path)
    with pytest.raises(WorkbenchInputError, match=r"column 'session'.*not text or numbers"):
        scenario_from_dict(_trace_scenario(path), source="<test>")


def test_a_trace_that_replays_nothing_says_so(tmp_path: Path) -> None:
    from workbench.experiment import run

    path = tmp_path / "late.csv"
    path.write_text("t,op,key\n0.1,read,1\n0.2,read,2\n")
    result = run(scenario_from_dict(_trace_scenario(path, window={"start": "100 s"}), source="<test>"))
    assert any("replayed nothing" in w for w in result.summary()["warnings"])


def test_an_empirical_distribution_from_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "latencies").mkdir()
    spec = {
        "name": "x",
        "blueprint": {"extends": "three-node", "hardware": {"fsync": "empirical(file=latencies, column=x, unit=ms)"}},
    }
    with pytest.raises(WorkbenchInputError, match="is a folder"):
        scenario_from_dict(spec, source="<test>", base_dir=tmp_path)


def test_create_database_with_more_copies_than_nodes_is_refused() -> None:
    spec = {
        "name": "x",
        "blueprint": "three-node",
        "faults": [{"at": "1 s", "action": "create_database", "name": "db2", "replication_factor": 99}],
    }
    with pytest.raises(WorkbenchInputError, match=r"faults\[0\]\.replication_factor: 99 copies on a cluster of 3"):
        scenario_from_dict(spec, source="<test>")

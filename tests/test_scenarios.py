"""Scenario files and blueprints: loading, overrides, and the error messages users see."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pydantic
import pytest
import yaml

from workbench.blueprints import blueprint_names
from workbench.errors import WorkbenchInputError
from workbench.scenario import Scenario, load_scenario, recorded_scenario, scenario_from_dict
from workbench.scenario.distributions import Unreadable
from workbench.scenario.schema import DeploymentScenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_FILES = sorted((ROOT / "scenarios").glob("*.yaml"))
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def minimal(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "x", "blueprint": "three-node"}
    data.update(fields)
    return data


def three_node_with(**blueprint: Any) -> dict[str, Any]:
    return minimal(blueprint={"extends": "three-node", **blueprint})


def write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def fails(data: Any, match: str, **kwargs: Any) -> WorkbenchInputError:
    with pytest.raises(WorkbenchInputError, match=match) as info:
        scenario_from_dict(data, **kwargs)
    return info.value


# ----------------------------------------------------------------------------- what ships


def test_there_are_scenario_files() -> None:
    assert QUICKSTART in SCENARIO_FILES


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.name for p in SCENARIO_FILES])
def test_every_scenario_file_loads(path: Path) -> None:
    scenario = load_scenario(path)
    assert isinstance(scenario, Scenario)
    assert scenario.name == path.stem  # the name the catalogue, the CLI and the reports use
    # Every section the file writes reached the scenario (none dropped on the way).
    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert set(written) <= scenario.model_fields_set


def _shipped_runs() -> list[tuple[str, Scenario]]:
    """Every scenario file as written and every run of every study (its variants or its grid)."""
    from workbench.study import compare_specs, load_study, sweep_specs

    out = [(path.stem, load_scenario(path)) for path in SCENARIO_FILES]
    for path in sorted((ROOT / "scenarios" / "studies").glob("*.yaml")):
        study = load_study(path)
        specs = compare_specs(study) if study.variants else sweep_specs(study)
        out += [(f"{path.stem}/{s.variant}/rep{s.replication}", study.scenario(s.factors, seed=s.seed)) for s in specs]
    return out


def test_every_shipped_run_rebuilds_its_typed_scenario_from_its_provenance() -> None:
    """RunResult.spec rebuilds the typed scenario from the recorded one (recorded_scenario): for
    every shipped scenario and study run, deployments of several clusters included, the same
    class and the same values (the recorded form is what the analyses read from)."""
    runs = _shipped_runs()
    assert len(runs) > 80 and any(isinstance(s, DeploymentScenario) for _, s in runs)
    for label, scenario in runs:
        recorded = scenario.model_dump(mode="json")
        rebuilt = recorded_scenario(recorded)
        assert type(rebuilt) is type(scenario), label
        assert rebuilt.model_dump(mode="json") == recorded, label
        assert rebuilt.duration == scenario.duration and rebuilt.clients.deadline == scenario.clients.deadline


def test_a_recorded_scenario_that_is_not_one_is_refused() -> None:
    with pytest.raises(WorkbenchInputError, match="must be a mapping"):
        recorded_scenario(None)
    with pytest.raises(WorkbenchInputError, match="name: required but missing"):
        recorded_scenario({"blueprint": {"nodes": []}})


def test_a_distribution_read_from_a_file_that_is_gone_is_kept_as_its_text(tmp_path: Path) -> None:
    """Results moved to another machine: the scenario still rebuilds (the analyses read its
    settings, not its samples), and the distribution says why it has no values."""
    (tmp_path / "fsync.csv").write_text("ms\n1\n2\n")
    text = "empirical(file=fsync.csv, column=ms, unit=ms)"
    data = {"name": "x", "blueprint": {"extends": "three-node", "hardware": {"fsync": text}}}
    recorded = scenario_from_dict(data, base_dir=tmp_path).model_dump(mode="json")
    fsync = recorded_scenario(recorded).blueprint.hardware.fsync  # the file is not in the working directory
    assert isinstance(fsync, Unreadable) and fsync.text == text and "not found" in fsync.reason
    with pytest.raises(ValueError, match="cannot be sampled here"):
        fsync.sample(np.random.default_rng(1), 1)
    assert recorded_scenario(recorded).model_dump(mode="json") == recorded


def test_quickstart_values() -> None:
    s = load_scenario(QUICKSTART)
    assert s.name == "quickstart"
    assert s.seed == 42
    assert s.duration == 120.0
    assert s.warmup == 10.0
    assert s.blueprint.name == "three-node"
    assert [n.tag for n in s.blueprint.nodes] == ["A", "B", "C"]
    assert s.clients.read_balance == "RoundRobin"
    assert s.workload.rate == 1500.0
    assert [(f.at, f.action) for f in s.faults] == [(40.0, "crash"), (70.0, "restart")]


def test_blueprint_catalogue() -> None:
    names = blueprint_names()
    assert {"single-node", "three-node", "five-node"} <= set(names)


@pytest.mark.parametrize("name", blueprint_names())
def test_every_blueprint_loads(name: str) -> None:
    s = scenario_from_dict({"name": "x", "blueprint": name})
    assert s.blueprint.name == name
    clusters = getattr(s.blueprint, "clusters", None) or [s.blueprint]
    for c in clusters:
        assert c.database.replication_factor <= len(c.nodes)


@pytest.mark.parametrize("name", blueprint_names())
def test_every_blueprint_says_whether_it_re_replicates(name: str) -> None:
    """Whether a copy lost for good is replaced (dynamic distribution) is in the description,
    with RavenDB's default (off) beside it (issue 20, part 7)."""
    s = scenario_from_dict({"name": "x", "blueprint": name})
    text = " ".join(s.blueprint.description.split())
    clusters = getattr(s.blueprint, "clusters", None) or [s.blueprint]
    ons = {c.database.dynamic_distribution for c in clusters}
    assert len(ons) == 1  # a deployment's clusters agree, so one sentence covers them
    if ons.pop():
        assert "Dynamic distribution on here (RavenDB's default is off)" in text
    else:
        assert re.search(r"Dynamic distribution off( in (every|both) clusters?)? \(RavenDB's default\)", text)


# ----------------------------------------------------------------------------- file-level errors


def test_misspelt_key_in_file_names_file_path_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nblueprint: three-node\nworkload:\n  rte: 2000\n")
    expected = f"{path}: workload.rte: unknown key 'rte' (did you mean 'rate'?); allowed keys in workload: rate,"
    with pytest.raises(WorkbenchInputError, match=re.escape(expected)) as info:
        load_scenario(path)
    assert info.value.source == str(path)
    assert info.value.path == "workload.rte"


def test_misspelt_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nblueprint: three-node\nworklod:\n  rate: 2000\n")
    with pytest.raises(WorkbenchInputError, match=r"worklod: unknown key 'worklod' \(did you mean 'workload'\?\)"):
        load_scenario(path)


def test_misspelt_required_key_is_reported_as_the_misspelling() -> None:
    # 'blueprnt' also leaves 'blueprint' missing; the typo is the useful message.
    fails(
        {"name": "x", "blueprnt": "three-node"},
        r"^<scenario>: blueprnt: unknown key 'blueprnt' \(did you mean 'blueprint'\?\); allowed keys: name,",
    )


def test_misspelt_key_inside_a_list(tmp_path: Path) -> None:
    text = "name: x\nblueprint: three-node\nfaults:\n  - {at: 1 s, action: crash, nod: A}\n"
    with pytest.raises(WorkbenchInputError, match=r"faults\[0\]\.nod: unknown key 'nod' \(did you mean 'node'\?\)"):
        load_scenario(write(tmp_path, text))


def test_misspelt_blueprint_name(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nblueprint: thre-node\n")
    expected = (
        f"{path}: blueprint: 'thre-node' is not a built-in blueprint (did you mean 'three-node'?); "
        "known: cluster-per-region, edge-hub, five-node, five-node-dense, five-node-many-databases, five-node-rf2, "
        "five-node-watchers, geo-stretched, "
        "offsite-dr, read-scale, seven-node-watchers, single-node, three-continents, three-node, two-node, "
        "write-behind-sql"
    )
    with pytest.raises(WorkbenchInputError, match=re.escape(expected)):
        load_scenario(path)


def test_misspelt_blueprint_in_extends() -> None:
    fails(
        minimal(blueprint={"extends": "thre-node"}),
        r"blueprint\.extends: 'thre-node' is not a built-in blueprint \(did you mean 'three-node'\?\)",
    )


def test_blueprint_of_the_wrong_type() -> None:
    fails(
        minimal(blueprint=5),
        r"blueprint: 5 is not a blueprint; name a built-in one \(cluster-per-region, edge-hub, five-node, ",
    )


def test_bad_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nblueprint: three-node\nworkload:\n  rate: 10\n   keys: 5\n")
    with pytest.raises(WorkbenchInputError, match=re.escape(f"{path}: not valid YAML: line 5, column 8: ")):
        load_scenario(path)


def test_unclosed_bracket_names_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nblueprint: three-node\nfaults: [\n")
    with pytest.raises(WorkbenchInputError, match=r"not valid YAML: line \d+, column \d+: "):
        load_scenario(path)


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- a\n- b\n", "a list"), ("just words\n", "a str"), ("", "empty"), ("# nothing\n", "empty")],
)
def test_file_that_is_not_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    path = write(tmp_path, text)
    expected = f"{path}: a scenario must be a mapping of keys to values, but the file is {kind}"
    with pytest.raises(WorkbenchInputError, match=re.escape(expected) + "$"):
        load_scenario(path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(WorkbenchInputError, match=re.escape(f"{path}: no such scenario file (looked for {path})")):
        load_scenario(path)


def test_missing_blueprint() -> None:
    fails({"name": "x"}, r"^<scenario>: blueprint: required but missing$")


# ----------------------------------------------------------------------------- field errors


def test_wrong_type(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\nblueprint: three-node\nworkload:\n  rate: abc\n")
    with pytest.raises(WorkbenchInputError, match=re.escape(f"{path}: workload.rate: 'abc' is not valid: ")):
        load_scenario(path)


def test_bad_literal_suggests() -> None:
    fails(
        minimal(clients={"read_balance": "RoundRobn"}),
        r"clients\.read_balance: 'RoundRobn' is not allowed \(did you mean 'RoundRobin'\?\); "
        r"allowed: 'None', 'RoundRobin' or 'FastestNode'",
    )


def test_bad_fault_action_suggests() -> None:
    fails(
        minimal(faults=[{"at": "1 s", "action": "crsh", "node": "A"}]),
        r"faults\[0\]\.action: unknown action 'crsh' \(did you mean 'crash'\?\); "
        r"allowed: crash, restart, shutdown, pause, partition, heal, degrade_link",
    )


def test_fault_without_action() -> None:
    fails(minimal(faults=[{"at": "1 s", "node": "A"}]), r"faults\[0\]: each fault needs an 'action'")


def test_fault_names_unknown_node() -> None:
    fails(
        minimal(faults=[{"at": "1 s", "action": "crash", "node": "D"}]),
        r"^<scenario>: faults\[0\]\.node: no node 'D'; nodes: A, B, C$",
    )


def test_restart_names_unknown_node() -> None:
    fails(
        minimal(faults=[{"at": "1 s", "action": "restart", "node": "Q"}]),
        r"faults\[0\]\.node: no node 'Q'",
    )


def test_partition_group_with_unknown_node() -> None:
    fails(
        minimal(faults=[{"at": "1 s", "action": "partition", "groups": [["A"], ["B", "Z"]]}]),
        r"faults\[0\]\.groups\[1\]\[1\]: 'Z' is not a node, client or data centre; nodes: A, B, C; "
        r"clients: client1\.\.client4; data centres: dc1",
    )


def test_partition_node_in_two_groups() -> None:
    fails(
        minimal(faults=[{"at": "1 s", "action": "partition", "groups": [["A", "B"], ["B", "C"]]}]),
        r"faults\[0\]\.groups\[1\]\[0\]: 'B' is in two groups",
    )


def test_fault_needs_a_time_or_a_trigger() -> None:
    err = fails(minimal(faults=[{"action": "crash", "node": "A"}]), r"say when the crash happens")
    assert err.path == "faults[0].at"
    err = fails(minimal(faults=[{"at": "1 s", "after": "leader_elected", "action": "heal"}]), "not both")
    assert err.path == "faults[0].after"


def test_trigger_event_must_be_known() -> None:
    err = fails(
        minimal(faults=[{"after": "leader_elect + 5 s", "action": "heal"}]),
        r"'leader_elect' is not an event a fault can follow \(did you mean 'leader_elected'\?\)",
    )
    assert err.path == "faults[0].after.event"


def test_trigger_parses_event_and_delay() -> None:
    s = scenario_from_dict(minimal(faults=[{"after": "leader_elected + 5 s", "action": "heal"}]))
    assert s.faults[0].after.event == "leader_elected" and s.faults[0].after.delay == 5.0


def test_slow_disk_needs_factor_or_fsync() -> None:
    fails(minimal(faults=[{"at": "1 s", "action": "slow_disk", "node": "A"}]), "exactly one of factor")


def test_datacenter_must_exist() -> None:
    err = fails(minimal(faults=[{"at": "1 s", "action": "datacenter_down", "datacenter": "dc2"}]), "no data centre")
    assert err.path == "faults[0].datacenter"


def test_valid_partition_and_heal() -> None:
    s = scenario_from_dict(
        minimal(
            faults=[
                {"at": "5 s", "action": "partition", "groups": [["A"], ["B", "C"]]},
                {"at": "10 s", "action": "heal"},
            ]
        )
    )
    assert s.faults[0].groups == (("A",), ("B", "C"))
    assert s.faults[1].action == "heal"


def test_replication_factor_larger_than_cluster() -> None:
    fails(
        three_node_with(database={"replication_factor": 4}),
        r"blueprint\.database\.replication_factor: 4 copies need 4 nodes, "
        r"but the blueprint has 3 \(A, B, C\)",
    )


def test_members_must_match_replication_factor() -> None:
    fails(
        three_node_with(database={"members": ["A", "B"]}),
        r"blueprint\.database\.members: 2 members listed but replication_factor is 3; list exactly that many",
    )


def test_members_naming_unknown_node() -> None:
    fails(
        three_node_with(database={"replication_factor": 2, "members": ["A", "X"]}),
        r"blueprint\.database\.members\[1\]: no node 'X'",
    )


def test_members_matching_replication_factor() -> None:
    s = scenario_from_dict(three_node_with(database={"replication_factor": 2, "members": ["A", "C"]}))
    assert s.blueprint.database.members == ("A", "C")


def test_collection_shares_must_sum_to_one() -> None:
    err = fails(minimal(workload={"collections": {"users": 0.5, "carts": 0.4}}), r"add up to 1, they add up to 0\.9")
    assert err.path == "workload.collections"
    err = fails(minimal(workload={"collections": {"users": 1.0, "carts": 0.0}}), "must be above 0")
    assert err.path == "workload.collections.carts"


def test_mix_must_sum_to_one() -> None:
    fails(
        minimal(workload={"mix": {"read": 0.5, "write": 0.2}}),
        r"workload\.mix: read \+ write \+ query \+ cluster_tx \+ compare_exchange \+ transaction must add up "
        r"to 1, they add up to 0\.7",
    )


@pytest.mark.parametrize("warmup", ["60 s", "2 min"])
def test_warmup_must_be_shorter_than_duration(warmup: str) -> None:
    fails(
        minimal(duration="60 s", warmup=warmup),
        r"^<scenario>: warmup: .* leaves nothing to measure in a 1 min run; make it shorter than duration$",
    )


def test_fault_after_the_end() -> None:
    fails(
        minimal(duration="60 s", faults=[{"at": "2 min", "action": "crash", "node": "A"}]),
        r"faults\[0\]\.at: 2 min is after the end of the run \(1 min\), so it would never happen",
    )


def test_duplicate_node_tags() -> None:
    nodes = [
        {"tag": "A", "datacenter": "dc1"},
        {"tag": "B", "datacenter": "dc1"},
        {"tag": "A", "datacenter": "dc1"},
    ]
    fails(
        three_node_with(nodes=nodes),
        r"blueprint\.nodes\[0\]\.tag: node tag 'A' is used twice; tags must be unique",
    )


def test_node_in_unknown_datacenter() -> None:
    nodes = [
        {"tag": "A", "datacenter": "dc1"},
        {"tag": "B", "datacenter": "dc2"},
        {"tag": "C", "datacenter": "dc1"},
    ]
    fails(
        three_node_with(nodes=nodes),
        r"blueprint\.nodes\[1\]\.datacenter: no data centre 'dc2' \(did you mean 'dc1'\?\); known: dc1",
    )


def test_bad_node_tag() -> None:
    nodes = [
        {"tag": "a", "datacenter": "dc1"},
        {"tag": "B", "datacenter": "dc1"},
        {"tag": "C", "datacenter": "dc1"},
    ]
    fails(
        three_node_with(nodes=nodes),
        r"blueprint\.nodes\[0\]\.tag: 'a' is not a node tag: use 1-4 uppercase letters, e\.g\. 'A'",
    )


def test_bad_node_tag_in_fault() -> None:
    fails(
        minimal(faults=[{"at": "1 s", "action": "crash", "node": "b"}]),
        r"faults\[0\]\.node: 'b' is not a node tag",
    )


def test_duration_without_unit() -> None:
    fails(minimal(duration=60), r"duration: 60 has no unit; write it with one, e\.g\. '300 ms' or '15 s'")


def test_bad_distribution_in_scenario() -> None:
    fails(
        minimal(workload={"document_size": "lognormal(2 KiB, 0.6)"}),
        r"workload\.document_size: 'lognormal\(2 KiB, 0\.6\)' is not a valid distribution: "
        r"lognormal takes keyword arguments",
    )


def test_empirical_file_is_found_next_to_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "sizes.csv").write_text("bytes\n100\n200\n300\n")
    path = write(
        tmp_path,
        "name: x\nblueprint: three-node\nworkload:\n  document_size: empirical(file=sizes.csv, column=bytes, unit=B)\n",
    )
    s = load_scenario(path)
    assert s.workload.document_size.mean() == pytest.approx(200.0)


# ----------------------------------------------------------------------------- blueprints and overrides


def test_blueprint_extends() -> None:
    s = scenario_from_dict({"name": "x", "blueprint": {"extends": "three-node", "database": {"replication_factor": 2}}})
    assert s.blueprint.database.replication_factor == 2
    assert [n.tag for n in s.blueprint.nodes] == ["A", "B", "C"]
    assert s.blueprint.name == "three-node"


def test_inline_blueprint() -> None:
    bp = {
        "name": "two-dc",
        "datacenters": [{"name": "east"}, {"name": "west", "region": "region-2"}],
        "nodes": [{"tag": "A", "datacenter": "east"}, {"tag": "B", "datacenter": "west"}],
        "database": {"replication_factor": 2},
    }
    s = scenario_from_dict(minimal(blueprint=bp))
    assert [n.datacenter for n in s.blueprint.nodes] == ["east", "west"]


def test_set_overrides_a_blueprint_field() -> None:
    s = scenario_from_dict(minimal(), overrides=["blueprint.database.replication_factor=2"])
    assert s.blueprint.database.replication_factor == 2
    assert len(s.blueprint.nodes) == 3


def test_set_switches_the_blueprint() -> None:
    s = scenario_from_dict(minimal(), overrides=["blueprint=single-node"])
    assert s.blueprint.name == "single-node"
    assert len(s.blueprint.nodes) == 1


def test_override_values_are_yaml_scalars() -> None:
    s = scenario_from_dict(minimal(), overrides=["workload.rate=2000", "duration=30 s", "seed=9"])
    assert s.workload.rate == 2000.0
    assert isinstance(s.workload.rate, float)
    assert s.duration == 30.0
    assert s.seed == 9


def test_override_with_yaml_list() -> None:
    s = load_scenario(QUICKSTART, ["faults=[]", "duration=15 s"])
    assert s.faults == ()
    assert s.duration == 15.0


def test_python_dict_overrides() -> None:
    s = scenario_from_dict(
        minimal(), overrides={"workload.rate": 5, "workload.mix.read": 0.7, "workload.mix.write": 0.3}
    )
    assert s.workload.rate == 5.0
    assert (s.workload.mix.read, s.workload.mix.write) == (0.7, 0.3)


def test_load_scenario_with_overrides_seed_and_duration() -> None:
    s = load_scenario(QUICKSTART, {"workload.rate": 5}, seed=3, duration="80 s")
    assert (s.workload.rate, s.seed, s.duration) == (5.0, 3, 80.0)


@pytest.mark.parametrize("override", ["faults.0.at=5 s", "faults[0].at=5 s"])
def test_list_index_override(override: str) -> None:
    data = minimal(faults=[{"at": "1 s", "action": "crash", "node": "A"}, {"at": "2 s", "action": "heal"}])
    s = scenario_from_dict(data, overrides=[override])
    assert s.faults[0].at == 5.0
    assert s.faults[0].node == "A"
    assert s.faults[1].at == 2.0


def test_list_index_override_in_a_dict() -> None:
    data = minimal(faults=[{"at": "1 s", "action": "crash", "node": "A"}])
    s = scenario_from_dict(data, overrides={"faults[0].node": "B"})
    assert s.faults[0].node == "B"


def test_list_index_out_of_range() -> None:
    data = minimal(faults=[{"at": "1 s", "action": "crash", "node": "A"}])
    fails(
        data,
        r"^--set faults\.3\.at=5 s: faults\.3\.at: '3' is not an index of faults \(it has 1 items, 0\.\.0\)$",
        overrides=["faults.3.at=5 s"],
    )


def test_override_on_a_value_that_is_not_a_section() -> None:
    with pytest.raises(
        WorkbenchInputError,
        match=re.escape("workload.rate is a value (1500), not a section, so it has no 'x'"),
    ) as info:
        load_scenario(QUICKSTART, ["workload.rate.x=1"])
    assert "--set workload.rate.x=1" in str(info.value)


def test_override_below_a_default_value_is_attributed() -> None:
    # workload.rate is not in the data, so the override creates a section where
    # the schema wants a number; the error must still name the override.
    err = fails(minimal(), r"workload\.rate: \{'x': 1\} is not valid", overrides=["workload.rate.x=1"])
    assert "--set workload.rate.x=1" in str(err)


def test_override_error_names_the_override() -> None:
    err = fails(
        minimal(),
        re.escape("<scenario> (--set workload.rate=abc): workload.rate: 'abc' is not valid"),
        overrides=["workload.rate=abc"],
    )
    assert err.path == "workload.rate"


def test_override_error_in_a_file_names_file_and_override() -> None:
    with pytest.raises(WorkbenchInputError, match=re.escape(f"{QUICKSTART} (--set workload.rate=abc)")):
        load_scenario(QUICKSTART, ["workload.rate=abc"])


def test_cross_check_error_names_the_override() -> None:
    fails(
        minimal(),
        re.escape("(--set blueprint.database.replication_factor=5)")
        + r": blueprint\.database\.replication_factor: 5 copies need 5 nodes",
        overrides=["blueprint.database.replication_factor=5"],
    )


def test_seed_and_duration_arguments_are_attributed() -> None:
    fails(minimal(), re.escape("(--duration 5)") + r": duration: 5 has no unit", duration=5)


def test_override_without_equals_sign() -> None:
    fails(
        minimal(),
        r"^--set: override 'workload\.rate' must look like PATH=VALUE, e\.g\. workload\.rate=2000$",
        overrides=["workload.rate"],
    )


def test_override_without_path() -> None:
    fails(minimal(), r"override '=5' has no path before '='", overrides=["=5"])


# ----------------------------------------------------------------------------- the model


def test_scenario_is_frozen() -> None:
    s = load_scenario(QUICKSTART)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        s.seed = 3  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        s.workload.rate = 1.0  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        s.blueprint.database.replication_factor = 1  # type: ignore[misc]
    assert isinstance(s.faults, tuple)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(yaml.safe_load(QUICKSTART.read_text()), id="quickstart"),
        pytest.param(
            {
                "name": "y",
                "blueprint": {"extends": "five-node", "database": {"members": ["A", "C", "E"]}},
                "duration": "90 s",
                "warmup": "1500 ms",
                "workload": {
                    "document_size": "mixture(0.9: 2 KiB, 0.1: uniform(1 MB, 2 MiB))",
                    "mix": {"read": 0.5, "write": 0.5},
                },
                "clients": {"request_overhead": "1 KiB"},
                "faults": [
                    {"at": "10 s", "action": "partition", "groups": [["A", "B"], ["C"]]},
                    {"at": "20 s", "action": "heal"},
                ],
            },
            id="five-node-partition",
        ),
    ],
)
def test_json_dump_round_trips(data: dict[str, Any]) -> None:
    s = scenario_from_dict(data)
    dump = s.model_dump(mode="json")
    again = scenario_from_dict(dump)
    assert again.model_dump(mode="json") == dump
    # The dump keeps quantities and distributions as text with units.
    assert isinstance(dump["duration"], str)
    assert dump["workload"]["document_size"] == s.workload.document_size.text

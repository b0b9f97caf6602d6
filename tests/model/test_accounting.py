"""Every operation is accounted for: issued = ok + failed + timed out + all nodes down +
conflict + unfinished, in every shipped scenario and in every variant of every shipped
study (issue 20, part 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench import load_scenario, run, scenario_from_dict
from workbench.study import compare_specs, load_study, sweep_specs

ROOT = Path(__file__).parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))
STUDIES = sorted((ROOT / "scenarios" / "studies").glob("*.yaml"))


def _balanced(result) -> None:
    issued = result.provenance["ops_issued"]
    counts = result.ops["outcome"].value_counts()
    assert issued == len(result.ops) == int(counts.sum()), counts.to_dict()
    unfinished = result.ops[result.ops["outcome"] == "unfinished"]
    assert (unfinished["end_s"] == result.provenance["sim_seconds"]).all()  # they end with the run


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_operation_of_a_shipped_scenario_is_accounted_for(path: Path) -> None:
    _balanced(run(load_scenario(path)))


@pytest.mark.slow
@pytest.mark.parametrize("path", STUDIES, ids=[p.stem for p in STUDIES])
def test_every_operation_of_a_shipped_study_is_accounted_for(path: Path) -> None:
    study = load_study(path, replications=1)
    specs = compare_specs(study) if study.variants else sweep_specs(study)
    for spec in specs[:4]:
        _balanced(run(study.scenario(spec.factors, seed=spec.seed)))


def test_a_node_cut_off_from_its_clients_shows_its_true_impact() -> None:
    """The issue's case: the preferred node cut off from its peers and every client for 90 s
    with RavenDB's default 12 h request timeout. The requests sent to it are TCP segments: their
    senders retransmit them, doubling the timeout from 200 ms plus the round trip, and each
    gets through at its first retransmission after the heal. Nothing fails, but every client
    is affected for the whole partition, and a third of the operations were far too slow."""
    clients = [f"client{i}" for i in range(1, 9)]
    result = run(
        scenario_from_dict(
            {
                "name": "cut-off",
                "duration": "180 s",
                "blueprint": "three-node",
                "clients": {"count": 8},
                "workload": {"rate": 400},
                "faults": [
                    {"at": "30 s", "action": "partition", "groups": [["C"], ["A", "B", *clients]], "duration": "90 s"}
                ],
            }
        )
    )
    _balanced(result)
    summary = result.summary()
    assert summary["ops"]["failed"] == 0 and summary["ops"]["unfinished"] == 0
    assert summary["availability_within_deadline"]["read"] < 0.6
    fault = summary["faults"][0]
    assert fault["affected_clients"] == 8 and 89.0 <= fault["rto_s"] <= 92.0
    slowest = result.ops["latency_ms"].max() / 1e3
    # Sent at 30 s, retransmitted at 30 s + 0.2002 s x (2^k - 1): the first after 120 s is k = 9.
    assert slowest == pytest.approx(511 * 0.2002, abs=0.2)
    assert any("after the 10 s deadline" in w for w in summary["warnings"])


def test_operations_issued_just_before_the_end_are_not_held_against_availability() -> None:
    result = run(
        scenario_from_dict({"name": "calm", "duration": "20 s", "blueprint": "three-node", "workload": {"rate": 2000}})
    )
    _balanced(result)
    summary = result.summary()
    assert summary["ops"]["stalled"] == 0
    assert summary["availability"]["read"] == 1.0 and summary["availability"]["write"] == 1.0


def test_availability_within_the_deadline_counts_slow_operations_as_failed() -> None:
    """Shown next to the plain figure: an operation slower than ``clients.deadline`` failed the user."""
    spec = {"name": "deadline", "duration": "10 s", "blueprint": "three-node", "workload": {"rate": 500}}
    relaxed = run(scenario_from_dict(spec)).summary()
    strict = run(scenario_from_dict({**spec, "clients": {"deadline": "1 ms"}})).summary()
    assert relaxed["availability"]["write"] == strict["availability"]["write"] == 1.0
    assert relaxed["availability_within_deadline"]["write"] == 1.0
    assert 0 < strict["availability_within_deadline"]["write"] < 0.9  # writes take 1-3 ms (fsync)
    assert strict["availability_within_deadline"]["deadline_s"] == 0.001


def test_the_summary_warns_about_waiting_operations_and_an_unreachable_request_timeout() -> None:
    clients = [f"client{i}" for i in range(1, 5)]
    cut = {"at": "5 s", "action": "partition", "groups": [["C"], ["A", "B", *clients]]}
    base = {"name": "w", "duration": "20 s", "blueprint": "three-node", "workload": {"rate": 200}}
    waiting = run(scenario_from_dict({**base, "faults": [cut]})).summary()["warnings"]
    assert any("still waiting when the run ended" in w for w in waiting)
    assert any("request timeout (12 h" in w for w in waiting)
    quiet = run(scenario_from_dict({**base, "clients": {"request_timeout": "2 s"}, "faults": [cut]})).summary()
    assert quiet["warnings"] == [] and quiet["ops"]["stalled"] == 0


def test_operation_outcomes_count_failures_and_their_waits() -> None:
    """Notebook 01's write-assurance table: every write after the crash, failures included, so
    the latency shows the wait that a table of successes hides (issue 21, item 6)."""
    from workbench.analysis.summary import operation_outcomes

    spec = {
        "name": "assured",
        "duration": "30 s",
        "blueprint": {"extends": "three-node", "database": {"members": ["A", "B", "C"]}},
        "clients": {"count": 2, "request_timeout": "5 s", "write_assurance": {"replicas": 2}},
        "workload": {"rate": 50, "keys": 100},
        "faults": [{"at": "10 s", "action": "crash", "node": "B"}],
    }
    out = operation_outcomes(run(scenario_from_dict(spec)), "write", since_s=10.0)
    assert out["operations"] > 50 and out["succeeded (%)"] == 0.0
    assert out["all_nodes_down"] + out.get("unfinished", 0) == out["operations"]
    assert out["p50 of all (ms)"] > 5_000.0

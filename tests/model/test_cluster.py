"""The cluster layer (Rachis) inside the full model: elections, quorum, cluster operations."""

from __future__ import annotations

import pytest

from workbench import run
from workbench.analysis.summary import all_succeeded
from workbench.model.assembly.world import World

FIVE = {"extends": "five-node", "database": {"members": ["A", "B", "C"]}}


def _events(result, kind):
    ev = result.events
    return ev[ev["kind"] == kind]


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_crashed_leader_is_replaced_within_the_window_the_spec_predicts(make_scenario, seed):
    """Detection takes 1-2 randomised periods (200-600 ms) after the last heartbeat, which
    came up to one heartbeat interval (100 ms) before the crash; then a pre-vote and a
    vote round on the LAN (a few ms). Writes keep succeeding throughout."""
    result = run(
        make_scenario(
            seed=seed,
            duration="40 s",
            blueprint=FIVE,
            workload={"rate": 300, "mix": {"read": 0.5, "write": 0.5}},
            faults=[{"at": "30 s", "action": "crash", "node": "leader"}],
        )
    )
    crashed = _events(result, "node_crashed")
    assert list(crashed["node"]) == ["A"]  # the bootstrap leader
    elected = _events(result, "leader_elected")
    after = elected[elected["time_s"] > 30]
    assert len(after) == 1
    took = after["time_s"].iloc[0] - 30
    assert 0.1 <= took <= 0.65, f"new leader after {took * 1e3:.0f} ms"
    assert after["term"].iloc[0] >= 2 and after["node"].iloc[0] != "A"
    writes = result.ops[result.ops["kind"] == "write"]
    assert all_succeeded(writes)
    cluster = result.summary()["cluster"]
    assert cluster["elections"] >= 1
    assert 0.1 <= cluster["leaderless_seconds"] <= 0.7


def test_without_a_majority_there_is_no_leader_and_cluster_ops_fail_after_15_s(make_scenario):
    result = run(
        make_scenario(
            duration="45 s",
            blueprint=FIVE,
            clients={"request_timeout": "12 h"},  # RavenDB's default: the server's 15 s decides
            workload={"rate": 200, "mix": {"read": 0.45, "write": 0.45, "cluster_tx": 0.05, "compare_exchange": 0.05}},
            faults=[{"at": "10 s", "action": "crash", "node": n} for n in ("C", "D", "E")],
        )
    )
    assert _events(result, "leader_elected")["time_s"].max() < 10
    assert len(_events(result, "stepped_down")) >= 1
    ops = result.ops
    late = ops[ops["start_s"] > 11]
    cluster_ops = late[late["kind"].isin(["cluster_tx", "compare_exchange"])]
    assert len(cluster_ops) > 50
    # Each waits the server's 15 s for a leader; those issued in the last 15 s are still waiting.
    ended = cluster_ops[cluster_ops["outcome"] != "unfinished"]
    assert len(ended) > 50 and (ended["outcome"] == "timeout").all()
    assert (
        cluster_ops.loc[cluster_ops["outcome"] == "unfinished", "start_s"] > result.provenance["sim_seconds"] - 15
    ).all()
    done = cluster_ops[cluster_ops["end_s"] < 45]
    assert done["latency_ms"].between(15_000, 15_010).all()
    documents = late[late["kind"].isin(["read", "write"])]
    assert len(documents) > 1000 and all_succeeded(documents)
    summary = result.summary()
    assert summary["availability"]["write"] == 1.0
    assert summary["cluster"]["availability"] < 0.3


def test_cluster_operations_commit_through_the_log_when_healthy(make_scenario):
    result = run(
        make_scenario(
            blueprint={**FIVE, "hardware": {"fsync": "1 ms"}},
            workload={"rate": 200, "mix": {"read": 0.5, "write": 0.0, "cluster_tx": 0.25, "compare_exchange": 0.25}},
        )
    )
    ops = result.ops[result.ops["kind"].isin(["cluster_tx", "compare_exchange"])]
    assert len(ops) > 500 and all_succeeded(ops)
    # A commit needs the entry on the leader's disk and on a follower's; those fsyncs
    # (1 ms each) may overlap, but neither can be skipped.
    assert ops["latency_ms"].min() >= 1.0
    assert result.summary()["cluster"]["op_latency_ms"]["p50"] > 1.0
    tx = ops[ops["kind"] == "cluster_tx"]
    assert tx["version"].is_unique  # each transaction has its own Raft index


def test_cluster_transactions_apply_on_every_member(make_scenario):
    scenario = make_scenario(
        blueprint=FIVE,
        duration="5 s",
        workload={"rate": 200, "keys": 20, "mix": {"read": 0.5, "write": 0.0, "cluster_tx": 0.5}, "stop": "3 s"},
    )
    world = World(scenario)
    world.run()
    docs = [{k: d.write_id for k, d in inst.docs.items()} for inst in world.instances]
    assert docs[0] == docs[1] == docs[2]
    assert all(d.cluster_tx for inst in world.instances for d in inst.docs.values())


def test_watchers_never_vote_or_lead(make_scenario):
    result = run(
        make_scenario(
            duration="20 s",
            blueprint={"extends": "five-node-watchers", "database": {"members": ["A", "D", "E"]}},
            faults=[
                {"at": "5 s", "action": "crash", "node": "leader"},
                {"at": "10 s", "action": "crash", "node": "follower"},
            ],
        )
    )
    elected = _events(result, "leader_elected")
    assert set(elected["node"]) <= {"A", "B", "C"}
    assert elected["time_s"].max() < 10  # with 1 of 3 members left, watchers cannot make a majority
    assert result.summary()["cluster"]["availability"] < 0.75


def test_two_node_cluster_loses_cluster_operations_but_not_documents(make_scenario):
    """The book's first experiment [spec §8.1]: kill A; B has no leader but takes writes;
    restart A; a leader is elected and B's writes replicate to A."""
    scenario = make_scenario(
        duration="40 s",
        blueprint="two-node",
        workload={"rate": 100, "keys": 50, "mix": {"read": 0.5, "write": 0.5}, "stop": "25 s"},
        faults=[
            {"at": "5 s", "action": "crash", "node": "A"},
            {"at": "15 s", "action": "restart", "node": "A"},
        ],
    )
    world = World(scenario)
    world.run()
    tables = world.recorder.tables()
    events = tables["events"]
    unavailable = events[events["kind"] == "cluster_unavailable"]["time_s"]
    assert len(unavailable) >= 1 and unavailable.iloc[0] == pytest.approx(5.0)
    elected = events[(events["kind"] == "leader_elected") & (events["time_s"] > 5)]
    assert len(elected) == 1 and elected["time_s"].iloc[0] > 15
    ops = tables["ops"]
    assert all_succeeded(ops.loc[ops["kind"] == "write"])
    a, b = ({k: d.write_id for k, d in inst.docs.items()} for inst in world.instances)
    assert a == b


def test_a_promotable_catches_up_and_becomes_a_voter(make_scenario):
    result = run(
        make_scenario(
            duration="5 s",
            blueprint={
                "extends": "five-node",
                "nodes": [
                    {"tag": t, "datacenter": "dc1", "role": "promotable" if t == "E" else "member"} for t in "ABCDE"
                ],
                "database": {"members": ["A", "B", "C"]},
            },
        )
    )
    promoted = _events(result, "voter_promoted")
    assert list(promoted["node"]) == ["E"]
    assert promoted["time_s"].iloc[0] < 1.0


def test_operator_commands_go_through_the_log(make_scenario):
    result = run(
        make_scenario(
            duration="40 s",
            blueprint=FIVE,
            faults=[
                {"at": "2 s", "action": "create_database", "name": "orders", "replication_factor": 3},
                {"at": "3 s", "action": "deploy_index", "name": "Orders/ByCustomer"},
                {"at": "5 s", "action": "crash", "node": "C"},
                {"at": "5 s", "action": "crash", "node": "D"},
                {"at": "5 s", "action": "crash", "node": "E"},
                {"at": "6 s", "action": "deploy_index", "name": "Orders/ByDate"},
            ],
        )
    )
    committed = _events(result, "command_committed")
    assert any("create_database orders on" in d for d in committed["detail"])
    assert any("deploy_index Orders/ByCustomer" in d for d in committed["detail"])
    failed = _events(result, "command_failed")
    assert len(failed) == 1 and "Orders/ByDate" in failed["detail"].iloc[0]
    assert failed["time_s"].iloc[0] == pytest.approx(21.0, abs=0.01)


def test_role_targets_resolve_when_the_action_fires(make_scenario):
    result = run(
        make_scenario(
            duration="20 s",
            blueprint=FIVE,
            faults=[
                {"at": "2 s", "action": "crash", "node": "leader"},
                {"at": "4 s", "action": "restart", "node": "last_crashed"},
                {"at": "8 s", "action": "crash", "node": "leader"},
                {"at": "9 s", "action": "crash", "node": "preferred"},
            ],
        )
    )
    crashed = _events(result, "node_crashed")
    elected = _events(result, "leader_elected")
    leader_at_8s = elected[elected["time_s"] < 8]["node"].iloc[-1]
    assert list(crashed["node"]) == ["A", leader_at_8s, "A"]
    assert leader_at_8s != "A"  # the leader elected after the first crash
    assert list(_events(result, "node_restarted")["node"]) == ["A"]
    # At 9 s no rotation has happened yet, so the preferred node is still A (back since 4 s).
    assert _events(result, "preferred_rotated")["time_s"].min() > 9
    assert crashed["detail"].iloc[-1] == "target preferred"

"""FastestNode: a speed test per client, and clients in two data centres settle on their
nearest node [spec §4.2, §7 geo effect]."""

from __future__ import annotations

import pytest

from workbench import run
from workbench.errors import WorkbenchInputError
from workbench.scenario import scenario_from_dict


def _geo(**clients):
    return scenario_from_dict(
        {
            "name": "fastest",
            "seed": 3,
            "duration": "150 s",
            "blueprint": {
                "name": "three-regions",
                "cluster": {"election_timeout": "1 s"},
                "datacenters": [
                    {"name": "east", "region": "us-east"},
                    {"name": "west", "region": "us-west"},
                    {"name": "central", "region": "us-central"},
                ],
                "nodes": [
                    {"tag": "A", "datacenter": "east"},
                    {"tag": "B", "datacenter": "west"},
                    {"tag": "C", "datacenter": "central"},
                ],
                "database": {"members": ["A", "B", "C"], "replication_factor": 3},
            },
            "clients": {
                "placement": [{"datacenter": "east", "count": 2}, {"datacenter": "west", "count": 2}],
                "read_balance": "FastestNode",
                **clients,
            },
            "workload": {"rate": 200, "keys": 1000, "mix": {"read": 0.9, "write": 0.1}},
        },
        source="<test>",
    )


def test_clients_in_two_data_centres_settle_on_their_nearest_node():
    result = run(_geo())
    ops = result.ops
    reads = ops[(ops["kind"] == "read") & (ops["start_s"] > 5.0)]
    east = reads[reads["client"].isin(["client1", "client2"])]
    west = reads[reads["client"].isin(["client3", "client4"])]
    assert (east["node"] == "A").mean() > 0.99
    assert (west["node"] == "B").mean() > 0.99
    # Writes still go to the preferred node (A), wherever the client is.
    writes = ops[ops["kind"] == "write"]
    assert (writes["node"] == "A").all()
    # Each client picked its node at the start, then again after each 1-minute interval.
    picks = result.events[result.events["kind"] == "fastest_node_selected"]
    assert set(zip(picks["client"], picks["node"], strict=True)) == {
        ("client1", "A"),
        ("client2", "A"),
        ("client3", "B"),
        ("client4", "B"),
    }
    assert len(picks) == 4 * 3  # t ~ 0, 60 and 120 s


def test_the_speed_test_sends_every_read_to_every_node_and_the_nodes_count_it():
    result = run(_geo())
    extra = result.summary()["speed_test_reads"]
    # Every node received copies: A from west clients, B from east clients, C from everyone.
    assert set(extra) == {"A", "B", "C"}
    picks = result.events[result.events["kind"] == "fastest_node_selected"]
    races = picks["races"].astype(int)
    # Each race sends one copy to each of the two other nodes; races end after 10 wins here.
    assert (races == 10).all()
    assert sum(extra.values()) >= 2 * races.sum() - 4  # a few copies may still be in flight at the end
    # The copies cost the nodes CPU: C serves no client reads, yet it received requests.
    ts = result.timeseries
    requests_c = ts[(ts["entity"] == "node.C") & (ts["metric"] == "requests")]["value"].sum()
    assert requests_c >= extra["C"] > 0


def test_placement_and_count_together_are_rejected():
    with pytest.raises(WorkbenchInputError, match=r"clients\.placement already says") as err:
        _geo(count=4)
    assert err.value.path == "clients.count"

"""The periodic probes (``model/recording/probes.py``): what each sample says, and that it
agrees with the counters it reads."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.model.assembly.world import World
from workbench.model.kernel.kernel import run_until

# Samples fall at 0.5, 1.0, ... 3.5 s. Stopping a hair after the last one leaves the counters
# as that sample read them (no request arrives in the last nanosecond at this seed).
END = 3.5 + 1e-9


def _world(make_scenario, **changes) -> World:
    world = World(make_scenario(duration="4 s", sample_interval="0.5 s", **changes))
    world.start()
    run_until(world.env, END, None, 1)
    return world


def _series(world: World, entity: str, metric: str):
    ts = world.tables()["timeseries"]
    rows = ts[(ts["entity"] == entity) & (ts["metric"] == metric)]
    return rows["time_s"].to_numpy(), rows["value"].to_numpy()


def test_every_node_is_sampled_at_every_interval(make_scenario) -> None:
    world = _world(make_scenario)
    for node in world.nodes:
        times, up = _series(world, f"node.{node.tag}", "up")
        assert times.tolist() == pytest.approx(np.arange(0.5, 3.51, 0.5).tolist())
        assert (up == 1.0).all()
        _, cpu = _series(world, f"node.{node.tag}", "cpu_utilisation")
        assert ((cpu >= 0) & (cpu <= 1)).all()


def test_requests_per_interval_add_up_to_what_each_node_served(make_scenario) -> None:
    world = _world(make_scenario)
    for node in world.nodes:
        _, requests = _series(world, f"node.{node.tag}", "requests")
        assert requests.sum() == node.requests
    assert sum(n.requests for n in world.nodes) > 1000  # 500 ops/s for 3.5 s


def test_a_crashed_node_reads_down_while_it_is_down(make_scenario) -> None:
    world = _world(make_scenario, faults=[{"at": "1.2 s", "action": "crash", "node": "C", "duration": "1.5 s"}])
    times, up = _series(world, "node.C", "up")
    down = times[up == 0.0]
    assert down.tolist() == pytest.approx([1.5, 2.0, 2.5])


def test_each_replication_channel_reports_lag_and_connection(make_scenario) -> None:
    world = _world(make_scenario)
    ts = world.tables()["timeseries"]
    channels = {e for e in ts["entity"].unique() if str(e).startswith("replication.")}
    # Three members, each replicating to the two others.
    assert channels == {f"replication.{a}->{b}" for a in "ABC" for b in "ABC" if a != b}
    for channel in channels:
        _, connected = _series(world, channel, "connected")
        assert (connected == 1.0).all()
        _, lag = _series(world, channel, "lag_ms")
        assert (lag >= 0).all() and lag.max() < 1000  # healthy links: well under a second behind


def test_link_bytes_are_the_network_counters_over_the_interval(make_scenario) -> None:
    world = _world(make_scenario)
    ts = world.tables()["timeseries"]
    total_sampled = total_sent = 0.0
    for a in world.nodes:
        for b in world.nodes:
            if a is b:
                continue
            rows = ts[(ts["entity"] == f"link.{a.tag}->{b.tag}") & (ts["metric"] == "bytes_per_s")]
            # Bytes per second times the interval, summed, is every byte sent on the link, but for
            # a message or two sent at the instant of the last sample, after it (a few hundred bytes).
            sampled, sent = rows["value"].sum() * 0.5, world.network.bytes_sent[a.index][b.index]
            assert 0 <= sent - sampled < 1_000
            total_sampled += sampled
            total_sent += sent
    assert total_sent > 1_000_000  # replication of 3.5 s of writes, and heartbeats
    assert total_sampled == pytest.approx(total_sent, rel=0.002)

"""Periodic probes (issue 22, item 1: sampling split out of the builder).

Every ``sample_interval`` the timeseries table gets, per node: up, CPU utilisation and queue,
disk utilisation and queue, requests served (and speed-test probes); per link between nodes:
bytes per second and utilisation; the bytes that crossed data centres; per replication channel:
own writes the destination has not acknowledged, replication lag and whether it is connected.
Idle-elision bookkeeping (``Quiescence.credit_bytes``) is settled at each sample, as the byte
counters are read.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import simpy

    from workbench.model.assembly.quiescence import Quiescence
    from workbench.model.cluster.node import Server
    from workbench.model.database.database import DatabaseInstance
    from workbench.model.kernel.network import Network
    from workbench.model.recording.recorder import Recorder


def sample(
    env: simpy.Environment,
    interval: float,
    recorder: Recorder,
    network: Network,
    nodes: list[Server],
    instances: list[DatabaseInstance],
    quiet: Quiescence,
) -> Generator[Any, Any, None]:
    """The sampling process. ``nodes`` and ``instances`` are the builder's own lists (a copy
    added or deleted during the run is seen at the next sample)."""
    rec = recorder
    last_busy = [0.0] * len(nodes)
    last_disk = [0.0] * len(nodes)
    last_requests = [(0, 0)] * len(nodes)
    net = network
    n_nodes = len(nodes)
    n_points = len(net.endpoints)
    last_bytes = [[0.0] * len(row) for row in net.bytes_sent]
    dcs = [loc.datacenter for loc in net.endpoints]
    while True:
        yield env.timeout(interval)
        now = env.now
        quiet.credit_bytes()
        for node in nodes:
            scope = f"node.{node.tag}"
            busy = node.cpu.busy_time()
            rec.sample(now, scope, "up", 1.0 if node.up else 0.0)
            rec.sample(
                now,
                scope,
                "cpu_utilisation",
                (busy - last_busy[node.index]) / (interval * node.cpu.capacity),
            )
            rec.sample(now, scope, "cpu_queue", float(len(node.cpu.queue)))
            rec.sample(now, scope, "disk_queue", float(len(node.disk.pending)))
            rec.sample(now, scope, "disk_utilisation", min((node.disk.busy_s - last_disk[node.index]) / interval, 1.0))
            last_disk[node.index] = node.disk.busy_s
            last_busy[node.index] = busy
            requests, probes = last_requests[node.index]
            rec.sample(now, scope, "requests", float(node.requests - requests))
            if node.speed_test_requests:
                rec.sample(now, scope, "speed_test_requests", float(node.speed_test_requests - probes))
            last_requests[node.index] = (node.requests, node.speed_test_requests)
        cross_dc = 0.0
        for a in range(n_points):
            row, last_row = net.bytes_sent[a], last_bytes[a]
            for b in range(len(row)):
                delta = row[b] - last_row[b]
                if delta:
                    if a < n_nodes and b < n_nodes:
                        link = f"link.{nodes[a].tag}->{nodes[b].tag}"
                        rec.sample(now, link, "bytes_per_s", delta / interval)
                        rec.sample(now, link, "utilisation", delta * net._inv_bw[a][b] / interval)
                    if dcs[a] != dcs[b]:
                        cross_dc += delta
                    last_row[b] = row[b]
        rec.sample(now, "network", "cross_dc_bytes", cross_dc)
        for inst in instances:
            for ch in inst.channels:
                scope = f"replication.{inst.node.tag}->{nodes[ch.dst].tag}"
                # Own writes the destination has not acknowledged yet.
                unacked = inst.own_etag - ch.dest_cv[inst.position]
                rec.sample(now, scope, "unacked_writes", float(unacked))
                rec.sample(now, scope, "lag_ms", inst.replication_lag(ch.dest_cv) * 1e3)
                rec.sample(now, scope, "connected", 1.0 if ch.connected else 0.0)

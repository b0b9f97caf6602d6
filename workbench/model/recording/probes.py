"""Periodic probes (issue 22, item 1: sampling split out of the builder).

Every ``sample_interval`` the timeseries table gets, per node: up, CPU utilisation and queue,
disk utilisation and queue, requests served (and speed-test probes); per link between nodes:
bytes per second and utilisation; the bytes that crossed data centres; per replication channel:
own writes the destination has not acknowledged, replication lag and whether it is connected.
On a cluster of several databases the channels between two nodes are summed up as one entity
``replication.A->B`` (unacknowledged writes added, the worst lag, the share connected), so the
table grows with the nodes, not with the databases; the per-database figures are the
replication table's.
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
    from workbench.model.database.group import Databases
    from workbench.model.kernel.network import Network
    from workbench.model.recording.recorder import Recorder


def sample(
    env: simpy.Environment,
    interval: float,
    recorder: Recorder,
    network: Network,
    nodes: list[Server],
    databases: Databases,
    quiet: Quiescence,
) -> Generator[Any, Any, None]:
    """The sampling process. ``nodes`` is the builder's list and ``databases`` its groups (a copy
    added or deleted during the run is seen at the next sample)."""
    rec = recorder
    last_busy = [0.0] * len(nodes)
    last_disk = [0.0] * len(nodes)
    last_requests = [(0, 0)] * len(nodes)
    last_page_reads = [0] * len(nodes)
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
            rec.sample(now, scope, "disk_queue", float(node.disk.waiting))
            rec.sample(now, scope, "disk_utilisation", min((node.disk.busy_s - last_disk[node.index]) / interval, 1.0))
            last_disk[node.index] = node.disk.busy_s
            last_busy[node.index] = busy
            requests, probes = last_requests[node.index]
            rec.sample(now, scope, "requests", float(node.requests - requests))
            if node.speed_test_requests:
                rec.sample(now, scope, "speed_test_requests", float(node.speed_test_requests - probes))
            if node.page_reads.completed or node.cpu_stretch != 1.0:
                # The cost of density (workbench.model.cluster.memory), where there is one.
                rec.sample(now, scope, "page_reads", float(node.page_reads.completed - last_page_reads[node.index]))
                rec.sample(now, scope, "background_cpu_stretch", node.cpu_stretch)
                last_page_reads[node.index] = node.page_reads.completed
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
        groups = databases.groups
        if len(groups) == 1:
            for inst in groups[0].instances:
                for ch in inst.channels:
                    scope = f"replication.{inst.node.tag}->{nodes[ch.dst].tag}"
                    # Own writes the destination has not acknowledged yet.
                    unacked = inst.own_etag - ch.dest_cv[inst.position]
                    rec.sample(now, scope, "unacked_writes", float(unacked))
                    rec.sample(now, scope, "lag_ms", inst.replication_lag(ch.dest_cv) * 1e3)
                    rec.sample(now, scope, "connected", 1.0 if ch.connected else 0.0)
            continue
        # (source, destination) -> [unacked writes, worst lag, channels, connected channels]
        pairs: dict[tuple[int, int], list[float]] = {}
        for group in groups:
            for inst in group.instances:
                for ch in inst.channels:
                    pair = pairs.get((inst.node.index, ch.dst))
                    if pair is None:
                        pair = pairs[inst.node.index, ch.dst] = [0.0, 0.0, 0.0, 0.0]
                    pair[0] += inst.own_etag - ch.dest_cv[inst.position]
                    pair[1] = max(pair[1], inst.replication_lag(ch.dest_cv))
                    pair[2] += 1
                    pair[3] += 1.0 if ch.connected else 0.0
        for (a, b), (unacked_sum, lag, channels, connected) in sorted(pairs.items()):
            scope = f"replication.{nodes[a].tag}->{nodes[b].tag}"
            rec.sample(now, scope, "unacked_writes", unacked_sum)
            rec.sample(now, scope, "lag_ms", lag * 1e3)
            rec.sample(now, scope, "connected", connected / channels)

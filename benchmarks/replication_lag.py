"""Diagnostic: what a write's replication lag is made of, step by step.

    python -m benchmarks.replication_lag                     # LAN and WAN pairs, lone writes and a stream
    python -m benchmarks.replication_lag --relay             # three nodes, A-C cut: A's writes reach C through B

Runs the ``replication-lag`` validation's setting (``workbench.validation.replication_lag``:
two members, every write to A, clients next to A asking for one replica) and follows each
write through the replication loop by wrapping the model's methods, so it runs the model
as plain Python (``WORKBENCH_PURE_PYTHON=1``: a compiled class cannot be wrapped). For each
write and destination it prints the distribution (ms) of

- ``wait at A``: commit on A -> its batch leaves (0 unless a batch was in flight);
- ``link``: the batch's one-way trip (latency and bytes);
- ``B apply``: B's CPU for the batch, queueing included;
- ``B commit``: B's journal write, waiting for one in progress included -> visible on B;
- ``ack back``: visible on B -> the client's answer (the acknowledgement's trip to A);

and the totals, beside the expected values of ``lag_theory``. A diagnostic, not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from typing import Any

os.environ["WORKBENCH_PURE_PYTHON"] = "1"  # before the model is imported: wrapping needs its sources

import numpy as np

STAGES = ("wait at A", "link", "B apply", "B commit", "visible", "ack back", "acknowledged")


def _trace() -> dict[tuple[int, int], dict[str, float]]:
    """Wrap the replication steps; returns (write id, destination) -> step -> time."""
    from workbench.model.database import database, node

    seen: dict[tuple[int, int], dict[str, float]] = defaultdict(dict)
    request, receive, cpu_done = (
        database.ReplicationChannel._request,
        node.Server.receive_replication,
        node.Server._replication_cpu_done,
    )

    def _request(self: Any, kind: str, payload: Any, then: Any) -> None:
        if kind == database.BATCH:
            for doc in payload:
                seen[doc.write_id, self.dst].setdefault("sent", self.env.now)
        request(self, kind, payload, then)

    def receive_replication(self: Any, channel: Any, kind: str, rid: int, payload: Any, cursor: int) -> None:
        if kind == database.BATCH:
            for doc in payload:
                seen[doc.write_id, self.index].setdefault("arrived", self.env.now)
        receive(self, channel, kind, rid, payload, cursor)

    def _replication_cpu_done(self: Any, job: tuple) -> None:
        for doc in job[2]:
            seen[doc.write_id, self.index].setdefault("applied", self.env.now)
        cpu_done(self, job)

    database.ReplicationChannel._request = _request  # type: ignore[method-assign]
    node.Server.receive_replication = receive_replication  # type: ignore[method-assign]
    node.Server._replication_cpu_done = _replication_cpu_done  # type: ignore[method-assign]
    return seen


def _print(title: str, columns: dict[str, np.ndarray], expected: dict[str, float] | None = None) -> None:
    print(title)
    print(f"  {'step':<14}{'mean':>10}{'p50':>10}{'p90':>10}{'p99':>10}{'max':>10}{'expected':>10}")
    for name, values in columns.items():
        if not len(values):
            continue
        p50, p90, p99, top = np.percentile(values, [50, 90, 99, 100])
        exp = "" if expected is None or name not in expected else f"{expected[name]:10.3f}"
        print(f"  {name:<14}{values.mean():10.3f}{p50:10.3f}{p90:10.3f}{p99:10.3f}{top:10.3f}{exp}")


def pairs() -> None:
    from workbench import run
    from workbench.validation.replication_lag import CASES, WARMUP_S, lag_scenario, lag_theory

    seen = _trace()
    for case in CASES:
        seen.clear()
        scenario = lag_scenario(case.latency, case.rate, case.duration_s / 4)
        result = run(scenario)
        rep = result.replication[result.replication["committed_s"] >= WARMUP_S]
        ops = result.ops
        answered = ops[(ops["kind"] == "write") & (ops["outcome"] == "ok")].set_index("version")["end_s"]
        rows = []
        for wid, dst, committed, visible in zip(
            rep["write_id"], rep["destination"].cat.codes, rep["committed_s"], rep["applied_s"], strict=True
        ):
            t = seen.get((wid, dst))
            if t is None or wid not in answered.index:
                continue
            acked = answered[wid]
            rows.append(
                (
                    t["sent"] - committed,
                    t["arrived"] - t["sent"],
                    t["applied"] - t["arrived"],
                    visible - t["applied"],
                    visible - committed,
                    acked - visible,
                    acked - committed,
                )
            )
        x = np.array(rows) * 1e3
        th = lag_theory(scenario)
        expected = {
            "wait at A": th.wait_ms,
            "link": th.one_way_ms,
            "B apply": th.apply_ms,
            "B commit": th.commit_ms,
            "visible": th.visible_ms,
            "ack back": th.back_ms,
            "acknowledged": th.acknowledged_ms,
        }
        title = f"{case.title}: one-way {case.latency}, {case.rate:g} writes/s, {len(x)} writes (ms)"
        _print(title, {name: x[:, i] for i, name in enumerate(STAGES)}, expected)


def relay() -> None:
    """Three members, the A-C link cut both ways from 5 s: A's writes reach C only through B."""
    from workbench import scenario_from_dict
    from workbench.model.assembly.world import World
    from workbench.model.kernel.kernel import Timer

    scenario = scenario_from_dict(
        {
            "name": "relay-lag",
            "seed": 3,
            "duration": "600 s",
            "warmup": "5 s",
            "blueprint": {"extends": "three-node", "database": {"members": ["A", "B", "C"]}},  # A preferred
            "clients": {"count": 1},
            "workload": {"rate": 2.0, "keys": 100_000, "mix": {"read": 0.0, "write": 1.0}},
        },
        source="<relay>",
    )
    world = World(scenario)
    a, c = world.node_by_tag["A"].index, world.node_by_tag["C"].index
    # No fault action cuts a single link while both ends reach a third node: set the layer directly.
    Timer(world.env, 5.0, lambda: world.network.set_layer("a-c", {(a, c), (c, a)}))
    world.run()
    world.finish()
    rep = world.recorder.tables()["replication"]
    rep = rep[rep["committed_s"] >= 10.0]
    columns = {
        f"{o}->{d}": rep.loc[(rep["origin"] == o) & (rep["destination"] == d), "lag_ms"].to_numpy()
        for o, d in (("A", "B"), ("A", "C"))
    }
    _print("three-node, A-C cut, 2 writes/s to A: lag to each member (ms)", columns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--relay", action="store_true", help="the relay case (three nodes, A-C cut)")
    args = parser.parse_args(argv)
    relay() if args.relay else pairs()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: does a run's cost per operation grow with the number of databases (issue 23, item 6)?

    python -m benchmarks.databases                 # 1, 10 and 100 databases, 60 simulated seconds each
    python -m benchmarks.databases --counts 1 10 100 300 --duration 120 --json

The same cluster (``five-node``), the same total load (2,000 ops/s, 80 % reads, eight
application servers) and the same total number of documents, spread over 1, 10, 100, ...
databases at RF 3, placed as RavenDB places them and sharing the sessions equally. Each
database adds what RavenDB itself runs for it: its replication connections (a keep-alive per
channel every 15 s when idle), one executor per application server (its topology fetch and
5-minute poll), its share of the observer's work every 500 ms and the maintenance reports.
For each count it prints wall seconds, simulated operations, wall microseconds and events per
operation, and their ratio to one database. A benchmark, not a test: the figures of record are
in ``docs/speed.md`` ("Many databases").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

TOTAL_KEYS = 100_000
RATE = 2_000.0


def case(count: int, duration: float, seed: int = 1) -> dict[str, Any]:
    """Run ``count`` databases for ``duration`` simulated seconds; its figures."""
    from workbench.model.assembly.world import World
    from workbench.scenario import scenario_from_dict

    blueprint: dict[str, Any] = {"extends": "five-node"}
    if count > 1:
        blueprint["database_population"] = {
            "count": count,
            "replication_factor": 3,
            "keys": TOTAL_KEYS // count,
        }
    scenario = scenario_from_dict(
        {
            "name": f"databases-{count}",
            "seed": seed,
            "duration": f"{duration:g} s",
            "blueprint": blueprint,
            "clients": {"count": 8},
            "workload": {"rate": RATE, "keys": TOTAL_KEYS, "mix": {"read": 0.8, "write": 0.2}},
        },
        source="benchmarks.databases",
    )
    start = time.perf_counter()
    world = World(scenario)
    built = time.perf_counter()
    world.run()
    world.finish()
    ran = time.perf_counter()
    ops = world.ops_issued
    return {
        "databases": count,
        "build_s": round(built - start, 3),
        "run_s": round(ran - built, 3),
        "ops": ops,
        "us_per_op": round((ran - built) / ops * 1e6, 2),
        "events_per_op": round(world.events_processed / ops, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.databases", description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--duration", type=float, default=60.0, help="simulated seconds per case")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from workbench.model import COMPILED

    rows = [case(n, args.duration) for n in args.counts]
    base = rows[0]
    for row in rows:
        row["us_per_op_vs_first"] = round(row["us_per_op"] / base["us_per_op"], 2)
        row["events_per_op_vs_first"] = round(row["events_per_op"] / base["events_per_op"], 2)
    if args.json:
        print(json.dumps({"compiled": COMPILED, "rows": rows}, indent=2))
        return 0
    print(f"five-node, RF 3, {RATE:,.0f} ops/s, {TOTAL_KEYS:,} documents in all, {args.duration:g} s simulated")
    print(f"model: {'compiled' if COMPILED else 'pure Python'}")
    print(f"{'databases':>9} {'build s':>8} {'run s':>7} {'ops':>8} {'us/op':>7} {'x':>5} {'events/op':>9} {'x':>5}")
    for r in rows:
        print(
            f"{r['databases']:>9} {r['build_s']:>8.2f} {r['run_s']:>7.2f} {r['ops']:>8} {r['us_per_op']:>7.1f} "
            f"{r['us_per_op_vs_first']:>5.2f} {r['events_per_op']:>9.2f} {r['events_per_op_vs_first']:>5.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

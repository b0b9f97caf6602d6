"""Benchmark: replay a 10-million-row trace in bounded memory.

    python -m benchmarks.trace_replay                 # 10 M rows; the full model on the first 1 M
    python benchmarks/trace_replay.py --rows 2000000 --model-rows 200000 --format parquet

Writes a synthetic trace to a temporary file (pyarrow, in batches, so writing is bounded
too), then measures two things, each in a fresh process so each peak memory is its own:

1. ``workload`` — every row through the real trace reader and replay (checks, chunking,
   Timers on the SimPy queue) into a trivial sink client that only counts: the replay's
   own speed and memory, independent of the model's.
2. ``model`` — the first ``--model-rows`` rows through the full model (single-node
   blueprint, the real clients, node, disk and recorder): the speed of the replay as
   used. The full 10 M rows would take minutes here and the ops table grows with the
   rows by design (one row per operation), so this part replays a slice.

Prints rows per wall second and the peak resident memory (``ru_maxrss``) of each
phase, which must stay under 1 GiB; exits 1 if it does not. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

LIMIT_BYTES = 1 << 30
RATE = 20_000.0  # rows per second of trace time
KEYS = 100_000
WRITE_BATCH = 1_000_000
OPS = ["read", "write", "query", "transaction"]


def write_trace(path: Path, rows: int, seed: int = 1) -> None:
    """t, op, key, size (empty for reads and queries), client: a Poisson stream at RATE."""
    rng = np.random.default_rng(seed)
    t0 = 0.0
    schema = pa.schema(
        [("t", pa.float64()), ("op", pa.string()), ("key", pa.int64()), ("size", pa.float64()), ("client", pa.string())]
    )
    ops = pa.array(OPS)
    clients = pa.array([f"client{i}" for i in range(1, 5)])
    writer = pacsv.CSVWriter(path, schema) if path.suffix == ".csv" else pq.ParquetWriter(path, schema)
    with writer:
        for start in range(0, rows, WRITE_BATCH):
            n = min(WRITE_BATCH, rows - start)
            t = t0 + np.cumsum(rng.exponential(1 / RATE, n))
            t0 = float(t[-1])
            kinds = rng.choice(len(OPS), n, p=[0.75, 0.2, 0.03, 0.02])
            sizes = np.round(rng.lognormal(np.log(2048), 0.6, n))
            batch = pa.record_batch(
                [
                    pa.array(np.round(t, 6)),
                    ops.take(pa.array(kinds)),
                    pa.array(rng.integers(0, KEYS, n)),
                    pa.array(sizes, mask=np.isin(kinds, [0, 2])),
                    clients.take(pa.array(rng.integers(0, 4, n))),
                ],
                schema=schema,
            )
            writer.write_batch(batch)


def scenario_for(path: Path, rows: int, end: float | None):
    from workbench.scenario import scenario_from_dict

    window = {"start": "0 s"} if end is None else {"start": "0 s", "end": f"{end} s"}
    span = (end if end is not None else rows / RATE) + 10
    return scenario_from_dict(
        {
            "name": "trace-benchmark",
            "duration": f"{span:.0f} s",
            "blueprint": "single-node",
            # A finite request timeout, as any real client has: with the 12 h default every
            # request stays on the client's deadline queue for the whole run (memory O(requests)).
            "clients": {"count": 4, "request_timeout": "5 s"},
            "workload": {"keys": KEYS, "arrivals": {"kind": "trace", "file": str(path), "window": window}},
        },
        source="benchmark",
    )


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def phase_workload(path: Path, rows: int) -> dict:
    """All rows through the replay into clients that only count."""
    from workbench.model.assembly.world import World

    world = World(scenario_for(path, rows, None))
    counted = [0]

    def sink(kind: int, key: int, size: float) -> None:
        counted[0] += 1

    for client in world.clients:
        client.submit = sink  # type: ignore[method-assign]
    rss_before = peak_rss()
    t0 = time.perf_counter()
    world.workload.start()
    world.env.run(until=world.scenario.duration)
    wall = time.perf_counter() - t0
    return {
        "phase": "workload (trace reader + replay -> counting sink, no model)",
        "rows": counted[0],
        "wall_s": wall,
        "rows_per_s": counted[0] / wall,
        "peak_rss_bytes": peak_rss(),
        "rss_before_replay_bytes": rss_before,
    }


def phase_model(path: Path, rows: int) -> dict:
    """The first ``rows`` rows through the full model."""
    from workbench.model.assembly.world import World

    trace = pq.ParquetFile(path) if path.suffix == ".parquet" else None
    end = _time_of_row(path, rows, trace)
    world = World(scenario_for(path, rows, end))
    t0 = time.perf_counter()
    world.run()
    wall = time.perf_counter() - t0
    ops = world.recorder.op_count
    return {
        "phase": "model (full single-node model, real clients and recorder)",
        "rows": world.workload.generated,
        "ops_recorded": ops,
        "sim_s": world.env.now,
        "wall_s": wall,
        "rows_per_s": world.workload.generated / wall,
        "events_per_s": world.events_processed / wall,
        "peak_rss_bytes": peak_rss(),
    }


def _time_of_row(path: Path, row: int, parquet: pq.ParquetFile | None) -> float:
    """The trace time of row ``row`` (0-based), read without loading the file."""
    seen = 0
    if parquet is not None:
        batches = (b.column("t") for b in parquet.iter_batches(batch_size=65536, columns=["t"]))
    else:
        reader = pacsv.open_csv(path, convert_options=pacsv.ConvertOptions(include_columns=["t"]))
        batches = (b.column("t") for b in reader)
    for col in batches:
        if seen + len(col) > row:
            return float(col[row - seen].as_py())
        seen += len(col)
    return float(col[-1].as_py()) + 1.0


def run_phase(name: str, path: Path, rows: int) -> dict:
    """Run one phase in a fresh interpreter, so its peak memory is its own."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", name, "--trace", str(path), "--rows", str(rows)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(result: dict) -> bool:
    ok = result["peak_rss_bytes"] < LIMIT_BYTES
    print(f"\n{result['phase']}")
    print(f"  rows replayed        {result['rows']:,}")
    if "sim_s" in result:
        print(f"  simulated            {result['sim_s']:,.1f} s ({result['ops_recorded']:,} ops recorded)")
    print(f"  wall                 {result['wall_s']:,.1f} s")
    print(f"  rows per wall second {result['rows_per_s']:,.0f}")
    if "events_per_s" in result:
        print(f"  events per second    {result['events_per_s']:,.0f}")
    verdict = "OK, under 1 GiB" if ok else "OVER 1 GiB"
    print(f"  peak memory (RSS)    {result['peak_rss_bytes'] / 2**20:,.0f} MiB  [{verdict}]")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description="Trace replay: rows per second and peak memory.")
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows in the trace (default 10 M)")
    parser.add_argument("--model-rows", type=int, default=1_000_000, help="rows replayed through the full model")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    parser.add_argument("--phase", choices=["workload", "model"], help=argparse.SUPPRESS)
    parser.add_argument("--trace", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase is not None:
        result = (
            phase_workload(args.trace, args.rows) if args.phase == "workload" else phase_model(args.trace, args.rows)
        )
        print(json.dumps(result))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"trace.{args.format}"
        t0 = time.perf_counter()
        write_trace(path, args.rows)
        size = path.stat().st_size
        print(f"wrote {args.rows:,} rows ({size / 2**20:,.0f} MiB {args.format}) in {time.perf_counter() - t0:.1f} s")
        ok = report(run_phase("workload", path, args.rows))
        ok &= report(run_phase("model", path, min(args.model_rows, args.rows)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Write ``sample.csv`` (or ``regions.csv``): small, made-up traces in the workbench's trace format.

``sample.csv``: a minute of web-shop traffic from four application servers: user sessions
arrive as a Poisson process whose rate ramps up and has a flash crowd at 40-45 s; each
session is a few requests a couple of hundred milliseconds apart (mostly reads by id, some
writes, queries, an order placed as a multi-document transaction, the odd cluster-wide
transaction or compare-exchange), on Zipf-popular documents. Reads leave ``size`` empty
(the replay draws one from ``workload.document_size``); writes give theirs.

``regions.csv`` (``--regions``): half a minute of the same shop served by a cluster per
region (the ``cluster-per-region`` blueprint), with a row for each way a trace routes
traffic among the clusters of a deployment (docs/traces.md): user sessions with the
``region`` (data centre) they come from, an order import on one application server
(``client: ohio/client2``), a scheduler taking a lease in one cluster (``cluster:
virginia``), and health checks that name nothing (shared among the clusters by client).

Deterministic: the same seed gives the same file, byte for byte::

    python scenarios/traces/make_sample_trace.py            # writes scenarios/traces/sample.csv
    python scenarios/traces/make_sample_trace.py --regions  # writes scenarios/traces/regions.csv
    python scenarios/traces/make_sample_trace.py --out x.csv --seed 7
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

OPS = ("read", "write", "query", "transaction", "cluster_tx", "compare_exchange")
MIX = (0.70, 0.19, 0.05, 0.03, 0.02, 0.01)
KEYS = 10_000
CLIENTS = 4
DURATION = 60.0


def session_rate(t: float) -> float:
    """New sessions per second: a ramp from 8 to 12, and 3x during a flash crowd at 40-45 s."""
    rate = 8.0 + 4.0 * t / DURATION
    return rate * 3.0 if 40.0 <= t < 45.0 else rate


def make_rows(seed: int) -> list[tuple[float, str, int, str, str, str]]:
    rng = np.random.default_rng(seed)
    peak = 3.0 * 12.0
    # Bounded Zipf(0.99) over the keys, by inverse CDF: key 0 is the most popular.
    cdf = np.cumsum(np.arange(1, KEYS + 1, dtype=float) ** -0.99)
    cdf /= cdf[-1]
    rows = []
    t, number = 0.0, 0
    while True:
        t += rng.exponential(1.0 / peak)  # thinning: candidates at the peak rate
        if t >= DURATION:
            break
        if rng.random() * peak > session_rate(t):
            continue
        number += 1
        client = f"client{rng.integers(1, CLIENTS + 1)}"
        at = t
        for _ in range(rng.geometric(1 / 6)):  # requests in this session, 6 on average
            op = OPS[rng.choice(len(OPS), p=MIX)]
            key = int(min(np.searchsorted(cdf, rng.random()), KEYS - 1))
            size = "" if op in ("read", "query") else str(int(rng.lognormal(np.log(2048), 0.6)))
            rows.append((round(at, 6), op, key, size, client, f"s{number}"))
            at += rng.exponential(0.2)
    rows = [row for row in rows if row[0] < DURATION]
    rows.sort(key=lambda row: row[0])  # stable: a session's requests stay in order
    return rows


# regions.csv: sessions per second from each data centre of cluster-per-region.
REGION_SESSIONS = {"virginia": 3.0, "ohio": 1.5, "california": 2.0}
REGION_DURATION = 30.0


def make_region_rows(seed: int) -> list[tuple[float, str, int, str, str, str, str, str]]:
    """Rows (t, op, key, size, client, session, region, cluster) of ``regions.csv``."""
    rng = np.random.default_rng(seed)
    cdf = np.cumsum(np.arange(1, KEYS + 1, dtype=float) ** -0.99)
    cdf /= cdf[-1]

    def key() -> int:
        return int(min(np.searchsorted(cdf, rng.random()), KEYS - 1))

    def size() -> str:
        return str(int(rng.lognormal(np.log(2048), 0.6)))

    rows = []
    number = 0
    for region, rate in REGION_SESSIONS.items():  # user sessions: the region they come from
        t = rng.exponential(1.0 / rate)
        while t < REGION_DURATION:
            number += 1
            at = t
            for _ in range(rng.geometric(1 / 5)):
                op = OPS[rng.choice(4, p=np.array(MIX[:4]) / sum(MIX[:4]))]  # no cluster-wide ops from users
                rows.append((at, op, key(), "" if op in ("read", "query") else size(), "", f"u{number}", region, ""))
                at += rng.exponential(0.2)
            t += rng.exponential(1.0 / rate)
    t = 0.25
    while t < REGION_DURATION:  # an order import on one application server in Ohio
        rows.append((t, "transaction", key(), size(), "ohio/client2", "", "", ""))
        t += 0.5
    t = 0.5
    while t < REGION_DURATION:  # a scheduler renewing its lease in the Virginia cluster
        rows.append((t, "compare_exchange", 0, "64", "", "", "", "virginia"))
        t += 2.0
    t = rng.exponential(0.5)
    while t < REGION_DURATION:  # health checks from a load balancer: no client, region or cluster
        rows.append((t, "read", key(), "", "", "", "", ""))
        t += rng.exponential(0.5)
    rows = [(round(row[0], 6), *row[1:]) for row in rows if row[0] < REGION_DURATION]
    rows.sort(key=lambda row: row[0])  # stable: a session's requests stay in order
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regions", action="store_true", help="write regions.csv (cluster-per-region) instead")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()
    out = args.out or Path(__file__).with_name("regions.csv" if args.regions else "sample.csv")
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        if args.regions:
            rows = make_region_rows(args.seed)
            writer.writerow(("t", "op", "key", "size", "client", "session", "region", "cluster"))
            for t, *rest in rows:
                writer.writerow((f"{t:.6f}", *rest))
        else:
            rows = make_rows(args.seed)
            writer.writerow(("t", "op", "key", "size", "client", "session"))
            for t, op, key, size, client, session in rows:
                writer.writerow((f"{t:.6f}", op, key, size, client, session))
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()

"""Replication lag of a member pair against the steps of RavenDB's replication loop.

The experiment behind ``workbench validate replication-lag``. Two members A and B
(``two-node``), every write to A (the preferred node), Poisson arrivals, nothing else
running; the A-B link gets the latency of a LAN or of a WAN, everything else keeps the
model's defaults. Clients sit next to A (zero latency) and ask for write assurance
(one replica), so a write's answer leaves A when B's acknowledgement covering it arrives.

What a write goes through, as RavenDB's code does it (``docs/validation.md``):

1. A commits it: the transaction merger's journal write (the model's ``fsync``). Only
   then are its change notifications raised (``RavenTransaction.Dispose`` ->
   ``AfterCommit``), and one of them wakes the outgoing handler
   (``OutgoingReplicationHandler.OnDocumentChange`` sets ``_waitForChanges``). The lag
   is measured from here (``Doc.committed``).
2. If the handler is idle it sends at once (``ReplicationDocumentSender.ExecuteReplicationOnce``:
   read, batch, write to the open TCP stream, flush). If a batch is already out, it waits:
   the handler waits for that batch's reply (``HandleServerResponse``) before reading
   again, one batch in flight. The write then leaves in the next batch.
3. The batch crosses the link: one one-way latency (plus its bytes over the bandwidth).
4. B's ``IncomingReplicationHandler`` reads it and hands it to its transaction merger
   (``MergedDocumentReplicationCommand``): CPU for the item (the model's ``service.write``),
   then B's journal write. The document is readable on B once that transaction commits:
   this is **visible** (the replication table's ``applied_s``).
5. B answers with its change vector (``SendHeartbeatStatusToSource``); the answer takes
   one one-way latency back. A now knows: **acknowledged** (write assurance answers here).

So with d the one-way latency, c the apply CPU, f the journal write and C = 2d + c + f the
length of one batch's round (its cycle):

    visible      = d + c + f + W
    acknowledged = visible + d

where W is the wait for a batch already in flight. One batch at a time, each taking a
cycle, with everything that arrived meanwhile going in the next, is a gated bulk-service
queue: a busy period is a run of cycles that ends with a cycle in which no write arrived,
so it lasts E[C] / E[exp(-λC)] on average, idle periods 1/λ, and a Poisson arrival finds a
batch out with probability B = busy / (busy + idle) (PASTA). It then waits the residual of
the current cycle, E[C²] / 2E[C] on average (cycles are independent draws, so the one an
arrival lands in is length-biased). Hence E[W] = B · E[C²] / 2E[C]. The expectations are
taken over the model's own distributions (a fixed-seed numpy generator, not the model's
streams).

The book (*Inside RavenDB 4.0*, ch. 6, "Replication of data in a database group") puts the
lag "between a write on a database instance and it being replicated to all the other
nodes" at "around twice the ping time between the machines", because the connection is
already open. A ping is a round trip (2d). The formula above puts the book's figure in
place: a write is acknowledged after one round trip plus B's apply and commit, and under a
steady stream it may first wait up to one more round for the batch in flight, so the
acknowledged lag runs from 2d + c + f up to twice that, i.e. about twice the ping plus two
commits. On a LAN the commit (a journal write of about 1 ms on network-attached SSD, the
model's default) outweighs the ping (0.2 ms), so the lag is mostly the commit there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from workbench.scenario.distributions import Distribution

# The latencies the check uses: the model's defaults for one availability zone and for two
# regions (N. Virginia - N. California, a 70 ms ping in the book's ch. 7 table).
LAN_LATENCY = "lognormal(median=0.1 ms, sigma=0.4)"
WAN_LATENCY = "lognormal(median=35 ms, sigma=0.1)"
WARMUP_S = 5.0
THEORY_SAMPLES = 400_000
THEORY_SEED = 20  # the theory's own Monte Carlo draws: fixed, independent of the model's streams


@dataclass(frozen=True)
class LagCase:
    """One setting of the experiment: the A-B one-way latency, the write rate (per second) and the
    simulated durations (full and quick)."""

    name: str
    title: str
    latency: str  # one-way, A <-> B
    rate: float  # writes per second, all to A
    duration_s: float
    quick_duration_s: float


CASES: tuple[LagCase, ...] = (
    LagCase("lan", "LAN pair, lone writes", LAN_LATENCY, 5.0, 1200.0, 400.0),
    LagCase("wan", "WAN pair, lone writes", WAN_LATENCY, 0.5, 4800.0, 2400.0),
    LagCase("wan-stream", "WAN pair, a stream of 10 writes/s", WAN_LATENCY, 10.0, 600.0, 300.0),
)


def lag_scenario(latency: str, rate: float, duration_s: float, seed: int = 3, **overrides: Any) -> Any:
    """Two members, writes to A only, clients next to A asking for one replica's acknowledgement.

    ``overrides`` replace blueprint fields (e.g. ``hardware={...}``)."""
    from workbench.scenario import scenario_from_dict

    blueprint: dict[str, Any] = {
        "extends": "two-node",
        "network": {"same_zone": "0 ms", "links": [{"between": ["A", "B"], "latency": latency}]},
    }
    blueprint.update(overrides)
    return scenario_from_dict(
        {
            "name": "replication-lag",
            "seed": seed,
            "duration": f"{duration_s} s",
            "warmup": f"{WARMUP_S} s",
            "blueprint": blueprint,
            "clients": {"count": 1, "write_assurance": {"replicas": 1}},
            "workload": {"rate": rate, "keys": 100_000, "mix": {"read": 0.0, "write": 1.0}},
        },
        source="<validation>",
    )


@dataclass(frozen=True)
class LagSample:
    """What one run measured, per write after the warm-up: visibility lag on B and acknowledgement
    time at the client (ms)."""

    committed_s: np.ndarray  # commit on A, after the warm-up
    visible_ms: np.ndarray  # applied on B - committed on A (same order)
    answered_committed_s: np.ndarray  # commit on A of the writes answered ok
    acknowledged_ms: np.ndarray  # answer to the client (zero latency) - committed on A (same order)
    all_ok: bool


def measure(scenario: Any) -> LagSample:
    """Run ``scenario`` and pair each write's commit with its application on B and its answer."""
    from workbench.experiment import run

    result = run(scenario)
    rep = result.replication
    rep = rep[rep["committed_s"] >= WARMUP_S]
    ops = result.ops
    # Writes issued in the last seconds may still be waiting for their acknowledgement at the end.
    end = scenario.duration - 2.0
    writes = ops[(ops["kind"] == "write") & (ops["start_s"] >= WARMUP_S) & (ops["start_s"] < end)]
    ok = writes[writes["outcome"] == "ok"]
    # The answer leaves A when B's acknowledgement arrives; the client is 0 ms away.
    answered = ok.set_index("version")["end_s"]
    committed = rep.set_index("write_id")["committed_s"]
    both = committed.index.intersection(answered.index)
    return LagSample(
        committed_s=rep["committed_s"].to_numpy(),
        visible_ms=rep["lag_ms"].to_numpy(),
        answered_committed_s=committed[both].to_numpy(),
        acknowledged_ms=((answered[both] - committed[both]) * 1e3).to_numpy(),
        # Every write answered ok, and found on B.
        all_ok=bool(len(writes) > 0 and len(ok) == len(writes) and ok["version"].isin(both).all()),
    )


@dataclass(frozen=True)
class LagTheory:
    """Expected lag (ms) and its parts, from the steps above."""

    one_way_ms: float  # the batch's trip: latency + its bytes over the link
    apply_ms: float  # B's CPU for the item
    commit_ms: float  # B's journal write
    cycle_ms: float  # E[C]: one batch's round trip with B's apply and commit
    busy: float  # share of writes that find a batch in flight
    wait_ms: float  # E[W]: the wait for that batch's acknowledgement
    back_ms: float  # the acknowledgement's trip back, and the answer to the client

    @property
    def visible_ms(self) -> float:
        """Expected lag until the write is readable on B: trip, apply, commit and the wait for a batch in flight."""
        return self.one_way_ms + self.apply_ms + self.commit_ms + self.wait_ms

    @property
    def acknowledged_ms(self) -> float:
        """Expected time until the client's answer: the visible lag plus the acknowledgement's trip back."""
        return self.visible_ms + self.back_ms


def lag_theory(scenario: Any, samples: int = THEORY_SAMPLES, seed: int = THEORY_SEED) -> LagTheory:
    """E[lag] for ``scenario`` (made by :func:`lag_scenario`), from the model's own distributions."""
    from workbench.model.assembly.world import REPLICATION_OVERHEAD_BYTES

    bp = scenario.blueprint
    latency: Distribution = bp.network.links[0].latency
    cpu: Distribution = bp.hardware.service.write
    fsync: Distribution = bp.hardware.fsync
    rate = scenario.workload.rate
    per_byte = 1.0 / bp.network.bandwidth
    batch_bytes = REPLICATION_OVERHEAD_BYTES + scenario.workload.document_size.mean()
    rng = np.random.default_rng(seed)
    out = latency.sample(rng, samples) + batch_bytes * per_byte
    apply = cpu.sample(rng, samples)
    commit = fsync.sample(rng, samples)
    back = latency.sample(rng, samples) + REPLICATION_OVERHEAD_BYTES * per_byte
    cycle = out + apply + commit + back
    mean_cycle = float(cycle.mean())
    # Gated bulk service: busy periods E[C] / E[exp(-λC)], idle periods 1/λ.
    busy_period = mean_cycle / float(np.exp(-rate * cycle).mean())
    busy = busy_period / (busy_period + 1.0 / rate)
    residual = float((cycle**2).mean()) / (2.0 * mean_cycle)
    answer = scenario.clients.request_overhead * per_byte  # the client is 0 ms from A
    return LagTheory(
        one_way_ms=float(out.mean()) * 1e3,
        apply_ms=float(apply.mean()) * 1e3,
        commit_ms=float(commit.mean()) * 1e3,
        cycle_ms=mean_cycle * 1e3,
        busy=busy,
        wait_ms=busy * residual * 1e3,
        back_ms=(float(back.mean()) + answer) * 1e3,
    )


def ping_ms(scenario: Any) -> float:
    """The book's ping: a round trip, 2 × the mean one-way latency."""
    return 2.0 * scenario.blueprint.network.links[0].latency.mean() * 1e3


# Approximations in the theory, each well under 1 % here: commits are not quite Poisson
# (A's group commit lets a few share a journal write), a batch that carried several writes
# costs B a little more CPU than one item, and Raft and the observer share the link.
THEORY_SLACK = 0.02


def check_rows(quick: bool) -> list[dict[str, Any]]:
    """``replication-lag`` rows: mean visible and acknowledged lag of each case against theory."""
    from workbench.validation.checks import LEVEL, batch_means_ci, row

    rows = []
    batches = 20
    for case in CASES:
        scenario = lag_scenario(case.latency, case.rate, case.quick_duration_s if quick else case.duration_s)
        theory = lag_theory(scenario)
        sample = measure(scenario)
        tol = f"theory inside the {LEVEL:.0%} CI ({batches} batch means) ± {THEORY_SLACK:.0%}"
        for label, order, values, expected in (
            ("visible on B", sample.committed_s, sample.visible_ms, theory.visible_ms),
            ("acknowledged to A", sample.answered_committed_s, sample.acknowledged_ms, theory.acknowledged_ms),
        ):
            mean, half = batch_means_ci(order, values, batches)
            ok = sample.all_ok and abs(mean - expected) <= half + THEORY_SLACK * expected
            metric = f"{case.title} (ping {ping_ms(scenario):.3g} ms): mean lag {label}"
            rows.append(row("replication-lag", metric, expected, mean, (mean - half, mean + half), tol, ok, "ms"))
    return rows


def decomposition(scenario: Any) -> dict[str, float]:
    """The expected parts of the lag (ms), for docs and reports."""
    t = lag_theory(scenario)
    return {
        "one-way": t.one_way_ms,
        "apply (CPU)": t.apply_ms,
        "commit (journal write)": t.commit_ms,
        "wait for the batch in flight": t.wait_ms,
        "visible": t.visible_ms,
        "acknowledgement back": t.back_ms,
        "acknowledged": t.acknowledged_ms,
        "ping": ping_ms(scenario),
        "busy share": t.busy,
        "cycle": t.cycle_ms,
    }

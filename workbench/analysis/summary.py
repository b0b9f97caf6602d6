"""The summary of a run: pure functions over its tables (no SimPy here).

Operations that start before the warm-up ends are left out. Latency figures
cover successful operations; availability is the fraction of operations that
succeeded. A stale read returned a version older than the newest write already
acknowledged to some client when the read started (design.md, metrics).
"""

from __future__ import annotations

from typing import Any, TypedDict, cast

import numpy as np
import pandas as pd

from workbench.analysis import database_tasks
from workbench.analysis.backups import backup_summary
from workbench.analysis.databases import databases_summary
from workbench.analysis.deployment import is_deployment, link_summary, per_cluster, region_outage
from workbench.analysis.etl import etl_summary
from workbench.analysis.faults import fault_summary
from workbench.analysis.subscriptions import subscription_summary
from workbench.model.recording.events import KINDS
from workbench.results import RunResult, install_summariser
from workbench.results.summary import (
    Availability,
    AvailabilityWithinDeadline,
    ClusterFigures,
    ClusterSummary,
    ConflictCounts,
    DatabasesSummary,
    Empty,
    LatencyByKind,
    LatencyStats,
    LinkSummary,
    RegionOutage,
    ReReplication,
    Summary,
)
from workbench.scenario.schema import ClusterParts, Deployment, Scenario

PERCENTILES = {"p50": 50, "p95": 95, "p99": 99, "p999": 99.9}
OP_KINDS = ("read", "write", "query", "cluster_tx", "compare_exchange", "transaction")


def latency_stats(latency_ms: pd.Series) -> LatencyStats:
    """Count, mean, percentiles and max of a latency column, in ms (None when empty)."""
    values = latency_ms.to_numpy(dtype=float)
    if values.size == 0:
        return {"count": 0, "mean": None, "p50": None, "p95": None, "p99": None, "p999": None, "max": None}
    p50, p95, p99, p999 = (_r(v) for v in np.percentile(values, list(PERCENTILES.values())))
    return {
        "count": int(values.size),
        "mean": _r(values.mean()),
        "p50": p50,
        "p95": p95,
        "p99": p99,
        "p999": p999,
        "max": _r(values.max()),
    }


def _r(x: float) -> float:
    return round(float(x), 4)


def measured_ops(ops: pd.DataFrame, warmup_s: float) -> pd.DataFrame:
    """The ops that started after the warm-up (``warmup_s``, simulated seconds): those the summary measures."""
    return ops[ops["start_s"] >= warmup_s]


def stalled(ops: pd.DataFrame) -> pd.Series:
    """Operations still waiting at the end that had already waited longer than every completed
    operation of their kind: stuck, not merely issued just before the end. They count against
    availability; younger unfinished ones are counted (issued, unfinished) but not held against it."""
    unfinished = ops["outcome"] == "unfinished"
    if not unfinished.any():
        return unfinished
    slowest = ops[~unfinished].groupby("kind", observed=True)["latency_ms"].max()
    limit = ops["kind"].map(slowest).astype(float).fillna(-np.inf)
    return unfinished & (ops["latency_ms"] > limit)


def all_succeeded(ops: pd.DataFrame) -> bool:
    """Every operation succeeded, apart from those still in flight when the run ended that had
    not yet waited longer than the slowest completed operation of their kind."""
    return bool(((ops["outcome"] == "ok") | ((ops["outcome"] == "unfinished") & ~stalled(ops))).all())


def _span(seconds: float) -> str:
    for unit, size in (("h", 3600.0), ("min", 60.0)):
        if seconds >= size:
            return f"{seconds / size:,.4g} {unit}"
    return f"{seconds:,.4g} s"


def _warnings(ops: pd.DataFrame, stuck: pd.Series, spec: Scenario, prov: dict[str, Any]) -> list[str]:
    """What a reader of the figures must know: operations left waiting, operations that
    succeeded only long after the user gave up, and then a request timeout that no failure in
    the run could ever reach."""
    out = []
    timeout_s = spec.clients.request_timeout
    deadline_s = spec.clients.deadline
    run_s = float(prov.get("sim_seconds", 0.0))
    n_stuck = int(stuck.sum())
    slow = (ops["outcome"] != "unfinished") & (ops["latency_ms"] > deadline_s * 1e3)
    n_slow = int(slow.sum())
    if n_stuck:
        out.append(
            f"{n_stuck:,} operations were still waiting when the run ended (the longest for "
            f"{ops.loc[stuck, 'latency_ms'].max() / 1e3:,.1f} s); they count against availability. "
            "Set clients.request_timeout to see them fail over instead."
        )
    if n_slow:
        out.append(
            f"{n_slow:,} operations ended only after the {_span(deadline_s)} deadline (the longest took "
            f"{ops.loc[slow, 'latency_ms'].max() / 1e3:,.1f} s): requests that waited out a partition or a "
            "silent machine in TCP retransmissions. They count as successes in the plain availability "
            "and as failures within the deadline."
        )
    if spec.workload.arrivals.kind == "trace" and ops.empty:
        out.append(
            "the trace replayed nothing in the measured window: its rows fall before the window's start, "
            "after the run's end or the warm-up; check workload.arrivals.window, duration and speedup"
        )
    # Only where something did wait: on a calm run the default would warn about nothing.
    if timeout_s > run_s > 0 and (n_stuck or n_slow):
        out.append(
            f"the clients' request timeout ({_span(timeout_s)}; RavenDB sets none, so 12 h) is longer than the "
            f"run ({_span(run_s)}): a request to a node that never answers just waits."
        )
    return out


class _DeploymentParts(TypedDict, total=False):
    """The keys a deployment's summary (or one with a dark data centre) adds before ``exception``."""

    clusters: dict[str, ClusterSummary]
    links: dict[str, LinkSummary]
    region_outage: RegionOutage
    databases: DatabasesSummary


def summarise(result: RunResult) -> Summary:
    """The summary printed by ``workbench run`` and saved as summary.json: a plain dict whose
    keys and values :class:`~workbench.results.summary.Summary` describes. The scenario's
    settings (warm-up, deadline, tasks, ...) come from ``result.spec``, the typed scenario."""
    prov = result.provenance
    spec = result.spec
    warmup = spec.warmup
    ops = measured_ops(result.ops, warmup)
    ok = ops["outcome"] == "ok"
    # Availability's denominator: every operation that ended, and those stuck at the end.
    stuck = stalled(ops)
    counted = (ops["outcome"] != "unfinished") | stuck
    by_kind: dict[str, LatencyStats] = {}
    availability: dict[str, float | None] = {}
    deadline_s = spec.clients.deadline
    # Within the deadline: an operation that ended in time counts as it ended; one that took
    # longer, or was still waiting past the deadline when the run ended, counts as failed.
    age_ms = ops["latency_ms"]
    decided = (ops["outcome"] != "unfinished") | (age_ms > deadline_s * 1e3)
    in_time = ok & (age_ms <= deadline_s * 1e3)
    within: dict[str, float | None] = {}
    for kind in OP_KINDS:
        of_kind = (ops["kind"] == kind) & decided
        n_decided = int(of_kind.sum())
        within[kind] = round(float((of_kind & in_time).sum() / n_decided), 6) if n_decided else None
    for kind in OP_KINDS:
        sel = (ops["kind"] == kind) & counted
        n = int(sel.sum())
        by_kind[kind] = latency_stats(ops.loc[sel & ok, "latency_ms"])
        availability[kind] = round(float((sel & ok).sum() / n), 6) if n else None
    reads_ok = ops[(ops["kind"] == "read") & ok]
    stale = round(float(reads_ok["stale"].mean()), 6) if len(reads_ok) else None
    ryw = round(float(reads_ok["ryw_violation"].mean()), 6) if len(reads_ok) else None
    repl = result.replication
    repl = repl[repl["committed_s"] >= warmup]
    lag = latency_stats(repl["lag_ms"])
    events = result.events
    end = float(prov.get("sim_seconds", 0.0))
    cluster_ops = ops[ops["kind"].isin(["cluster_tx", "compare_exchange"]) & ok]
    cluster_latency = latency_stats(cluster_ops["latency_ms"])
    in_window = events[events["time_s"] >= warmup] if len(events) else events
    available_s = cluster_available_seconds(events, warmup, end)
    window = max(end - warmup, 0.0)
    cluster: ClusterFigures = {
        "elections": int((in_window["kind"] == "election_started").sum()) if len(events) else 0,
        "leaders_elected": int((in_window["kind"] == "leader_elected").sum()) if len(events) else 0,
        "leaderless_seconds": round(window - available_s, 3),
        # A follower that stopped hearing its leader (and stood for election if it may):
        # with a live leader, a sign the timeout is too short for the links.
        "leader_lost": int((in_window["kind"] == "leader_lost").sum()) if len(events) else 0,
        "availability": round(available_s / window, 6) if window > 0 else None,
        "op_latency_ms": {"p50": cluster_latency["p50"], "p99": cluster_latency["p99"]},
    }
    members = prov.get("members", [])
    extra: _DeploymentParts = {}
    faults = fault_summary(result.ops, events, end, deadline_s=deadline_s)
    if is_deployment(result):
        # Several clusters: consensus and faults are per cluster; the headline is the worst.
        per = per_cluster(result, warmup, end)
        extra = {"clusters": per, "links": link_summary(result)}
        worst = min(per.values(), key=lambda c: c["leader_availability"] or 0.0)
        cluster["availability"] = worst["leader_availability"]
        cluster["leaderless_seconds"] = round(window * (1 - (worst["leader_availability"] or 0.0)), 3)
        faults = [row for c in per.values() for row in c["faults"]]
        members = [f"{name}: {', '.join(tags)}" for name, tags in dict(members).items()]
    outage = region_outage(result)
    if outage is not None:
        extra["region_outage"] = outage
    several = databases_summary(result)
    if several is not None:
        extra["databases"] = several
    summary: Summary = {
        "scenario": spec.name,
        "blueprint": spec.blueprint.name,
        "seed": spec.seed,  # the provenance's seed
        "sim_seconds": round(float(prov.get("sim_seconds", 0.0)), 3),
        "wall_seconds": round(float(prov.get("wall_seconds", 0.0)), 3),
        "events": int(prov.get("events_processed", 0)),
        "warmup_seconds": warmup,
        "members": members,
        "ops": {
            "total": len(ops),
            "ok": int(ok.sum()),
            "failed": int((~ops["outcome"].isin(["ok", "unfinished"])).sum()),
            "timeout": int((ops["outcome"] == "timeout").sum()),
            "all_nodes_down": int((ops["outcome"] == "all_nodes_down").sum()),
            "conflict": int((ops["outcome"] == "conflict").sum()),
            # Still waiting when the run ended (stalled: longer than any completed op of their kind).
            "unfinished": int((ops["outcome"] == "unfinished").sum()),
            "stalled": int(stuck.sum()),
            "retried": int((ops["attempts"] > 1).sum()),
            # Requests that failed, whether or not a retry on another node then succeeded: the
            # RequestExecutor's failed-request events, which applications see in their logs. The
            # last request of an operation still waiting at the end has not failed (yet).
            "failed_requests": int((ops["attempts"] - ops["outcome"].isin(["ok", "unfinished"])).sum()),
        },
        "throughput_ops_per_s": round(len(ops) / max(float(prov.get("sim_seconds", 0.0)) - warmup, 1e-9), 2),
        # Every kind of OP_KINDS, in its order: the TypedDicts name the same kinds.
        "latency_ms": cast("LatencyByKind", by_kind),
        "availability": cast("Availability", availability),
        "availability_within_deadline": cast("AvailabilityWithinDeadline", {"deadline_s": deadline_s, **within}),
        "warnings": _warnings(ops, stuck, spec, prov),
        "stale_read_fraction": stale,
        "ryw_violation_fraction": ryw,
        "replication_lag_ms": {
            "count": lag["count"],
            "mean": lag["mean"],
            "p50": lag["p50"],
            "p99": lag["p99"],
            "max": lag["max"],
        },
        "cluster": cluster,
        "lost_writes": int((events["kind"] == "write_lost").sum()) if len(events) else 0,
        "lost_writes_by_cause": lost_writes_by_cause(events),
        "writes_missing_after_forced_promotion": (
            int(events.loc[events["kind"] == "forced_promotion", "value"].sum()) if len(events) else 0
        ),
        "conflicts": conflict_counts(events),
        "speed_test_reads": speed_test_reads(result.timeseries),
        "faults": faults,
        "re_replication": re_replication(spec),
        # A deployment's are per cluster (under "clusters").
        "backups": Empty() if "clusters" in extra else backup_summary(result),
        "etl": {} if "clusters" in extra else etl_summary(result),
        "subscriptions": {
            task.name: subscription_summary(result, task.name)
            for task in database_tasks(spec)
            if task.kind == "subscription"
        },
        "cluster_events": events["kind"].value_counts().sort_index().to_dict() if len(events) else {},
        **extra,
        "exception": prov.get("exception"),
    }
    return summary


# RavenDB's DatabaseTopology.DynamicNodesDistribution is false unless set [spec §2.1].
RAVENDB_DYNAMIC_DISTRIBUTION = False


def re_replication(spec: Scenario) -> ReReplication | dict[str, ReReplication]:
    """Whether the run re-replicates a copy lost for good (DynamicNodesDistribution), with
    RavenDB's default beside it; a deployment's per cluster, by name."""
    if isinstance(spec.blueprint, Deployment):
        return {c.name: _re_replication(c) for c in spec.blueprint.clusters}
    return _re_replication(spec.blueprint)


def _re_replication(parts: ClusterParts) -> ReReplication:
    on = parts.database.dynamic_distribution
    observer = parts.observer
    after = observer.add_replica_after
    rehab = observer.move_to_rehab_after
    default = "RavenDB's default" if on == RAVENDB_DYNAMIC_DISTRIBUTION else "RavenDB's default is off"
    if not observer.enabled:
        text = f"dynamic distribution {'on' if on else 'off'} ({default}), but the observer is off: no rehab, no "
        text += "promotion, no replacement"
    elif on:
        text = (
            f"dynamic distribution on ({default}): a copy silent for {_span(after)} is replaced by a new one on "
            "another node, seeded by a member"
        )
    else:
        text = (
            f"dynamic distribution off ({default}): a copy that stays down moves to rehab after {_span(rehab)} "
            "and is never replaced; the group stays a copy short until it returns or an operator adds a node"
        )
    return {
        "dynamic_distribution": on,
        "ravendb_default": RAVENDB_DYNAMIC_DISTRIBUTION,
        "add_replica_after_s": after,
        "behaviour": text,
    }


def conflict_counts(events: pd.DataFrame) -> ConflictCounts:
    """Conflicts counted once per (key, versions), whichever members met them, by how they
    were resolved: latest, cluster transaction, script merge, or left for manual resolution
    (``manual``; ``resolved_manually`` counts the writes that later replaced a conflicted
    document). ``lost_acknowledged`` counts losing writes that a client had seen
    acknowledged (lost to resolution); a script merge and a manual conflict lose nothing."""
    out: ConflictCounts = {
        "total": 0,
        "resolved_latest": 0,
        "resolved_cluster_tx": 0,
        "resolved_script": 0,
        "manual": 0,
        "resolved_manually": 0,
        "lost_acknowledged": 0,
    }
    if events.empty:
        return out
    unique = unique_conflicts(events)
    how = unique["resolution"]
    out["total"] = len(unique)
    out["resolved_latest"] = int((how == "resolve to latest").sum())
    out["resolved_cluster_tx"] = int((how == "cluster transaction wins").sum())
    out["resolved_script"] = int((how == "script").sum())
    out["manual"] = int((how == "manual").sum())
    out["resolved_manually"] = int((events["kind"] == "conflict_resolved").sum())
    lost = events[events["kind"] == "write_lost"]
    out["lost_acknowledged"] = int((lost["reason"] == LOST_TO_RESOLUTION).sum())
    return out


# What tells one conflict from another: every member that meets it records the same fields.
CONFLICT_FIELDS = (*KINDS["conflict"].fields, *KINDS["conflict"].optional)
# A ``write_lost`` event's reason when the write lost a conflict.
LOST_TO_RESOLUTION = "conflict resolution"


def unique_conflicts(events: pd.DataFrame) -> pd.DataFrame:
    """The ``conflict`` events, each conflict once (every member that meets one records it)."""
    return events[events["kind"] == "conflict"].drop_duplicates(list(CONFLICT_FIELDS))


def speed_test_reads(timeseries: pd.DataFrame) -> dict[str, int]:
    """FastestNode's extra load: speed-test copies of reads received per node (sampled counts)."""
    if timeseries.empty:
        return {}
    rows = timeseries[timeseries["metric"] == "speed_test_requests"]
    totals = rows.groupby("entity", observed=True)["value"].sum()
    return {str(entity).removeprefix("node."): int(v) for entity, v in totals.items() if v}


def lost_writes_by_cause(events: pd.DataFrame) -> dict[str, int]:
    """Acknowledged writes lost by the end of the run, by cause (the model's ``write_lost`` events)."""
    if events.empty:
        return {}
    causes = events.loc[events["kind"] == "write_lost", "reason"].astype(str)
    return {str(k): int(v) for k, v in causes.value_counts().sort_index().items()}


def cluster_available_seconds(events: pd.DataFrame, start: float, end: float) -> float:
    """Time in [start, end] during which a leader was followed by a majority of voters.

    The model logs ``cluster_available`` / ``cluster_unavailable`` at every
    transition; the cluster starts unavailable until its first transition."""
    if end <= start or events.empty:
        return 0.0
    marks = events[events["kind"].isin(["cluster_available", "cluster_unavailable"])]
    up = False
    since = 0.0
    total = 0.0
    for time_s, kind in zip(marks["time_s"], marks["kind"], strict=True):
        if up:
            total += _overlap(since, time_s, start, end)
        up = kind == "cluster_available"
        since = time_s
    if up:
        total += _overlap(since, end, start, end)
    return total


def _overlap(a: float, b: float, start: float, end: float) -> float:
    return max(0.0, min(b, end) - max(a, start))


def latency_table(result: RunResult) -> pd.DataFrame:
    """Latency statistics per op kind (ms), one row per kind: for notebooks and reports."""
    summary = summarise(result)
    latency = cast("dict[str, LatencyStats]", summary["latency_ms"])
    availability = cast("dict[str, float | None]", summary["availability"])
    rows = {kind: stats for kind, stats in latency.items() if stats["count"]}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table["availability"] = [availability[k] for k in table.index]
    table.index.name = "kind"
    return table


def operation_outcomes(result: RunResult, kind: str = "write", since_s: float = 0.0) -> dict[str, Any]:
    """What happened to every operation of ``kind`` that started at or after ``since_s``: how
    many, the share that succeeded, the count of each other outcome, and latency percentiles
    over all of them, failures included (a timed-out write waited its whole timeout, which
    a latency table of successes alone would hide)."""
    ops = result.ops
    chosen = ops[(ops["kind"] == kind) & (ops["start_s"] >= since_s)]
    out: dict[str, Any] = {"operations": len(chosen)}
    if chosen.empty:
        return out
    outcomes = chosen["outcome"].astype(str)
    out["succeeded (%)"] = round(100.0 * float((outcomes == "ok").mean()), 4)
    for outcome, count in outcomes[outcomes != "ok"].value_counts().items():
        out[f"{outcome}"] = int(count)
    latency = chosen["latency_ms"]
    out["p50 of all (ms)"] = round(float(latency.quantile(0.5)), 3)
    out["p99 of all (ms)"] = round(float(latency.quantile(0.99)), 3)
    return out


def latency_over_time(result: RunResult, window_s: float = 1.0) -> pd.DataFrame:
    """p50/p99 latency and error count per time window and op kind (aggregated for charts)."""
    ops = result.ops
    if ops.empty:
        return pd.DataFrame(columns=["window_s", "kind", "ops", "errors", "p50_ms", "p99_ms"])
    window = (ops["start_s"] // window_s) * window_s
    grouped = ops.assign(window_s=window, error=ops["outcome"] != "ok").groupby(["window_s", "kind"], observed=True)
    table = grouped.agg(
        ops=("latency_ms", "size"),
        errors=("error", "sum"),
        p50_ms=("latency_ms", lambda s: s.quantile(0.5)),
        p99_ms=("latency_ms", lambda s: s.quantile(0.99)),
    )
    return table.reset_index()


# RunResult.summary() and RunResult.to_dir() call this (the results layer cannot import it).
install_summariser(summarise)

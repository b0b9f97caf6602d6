"""The schema of a run's summary: what :func:`workbench.analysis.summary.summarise` returns,
``RunResult.summary()`` gives, ``workbench run --json`` prints and ``summary.json`` holds.

The summary stays a plain ``dict`` (so its JSON is what it always was); these ``TypedDict``
classes say which keys it has and what each holds, for readers and for type checkers. Figures
that were not measured are ``None`` (``null`` in JSON): a latency with no operation of its
kind, an RTO of a client that never recovered. Times are seconds (``_s``), latencies
milliseconds (``_ms``), fractions between 0 and 1. ``tests/unit/test_summary_schema.py``
checks real summaries against it with :func:`mismatches`.

A run of several clusters (a deployment) has the same keys, with consensus and faults taken
per cluster (the headline ``cluster.availability`` is the worst cluster's) and three more:
``clusters``, ``links`` and, when a data centre went dark, ``region_outage`` (which a single
cluster's summary has too). Its ``backups`` and ``etl`` are per cluster, under ``clusters``.

The analyses that compute each part name their return type from here:
:func:`~workbench.analysis.faults.fault_summary` (:class:`FaultRow`),
:func:`~workbench.analysis.backups.backup_summary`, :func:`~workbench.analysis.etl.etl_summary`,
:func:`~workbench.analysis.subscriptions.subscription_summary` and the deployment figures
of :mod:`workbench.analysis.deployment`.
"""

# No ``from __future__ import annotations``: TypedDict records which keys are NotRequired only
# from evaluated annotations (Python 3.11).
import types
from collections.abc import Mapping
from typing import Any, Literal, NotRequired, TypedDict, Union, get_args, get_origin, get_type_hints, is_typeddict

__all__ = [
    "P50P99",
    "Availability",
    "AvailabilityWithinDeadline",
    "BackupSummary",
    "ClusterFigures",
    "ClusterSummary",
    "ConflictCounts",
    "Empty",
    "EtlLag",
    "EtlOutage",
    "EtlTaskSummary",
    "FaultRow",
    "LagStats",
    "LatencyByKind",
    "LatencyStats",
    "LinkLag",
    "LinkSummary",
    "OpCounts",
    "ReReplication",
    "RegionOutage",
    "RestorePlan",
    "RpoAt",
    "SubscriptionLag",
    "SubscriptionSummary",
    "Summary",
    "mismatches",
]


class Empty(TypedDict):
    """A part that does not apply to the run: no backup task, or a deployment's ``backups``
    (which are per cluster, under ``clusters``)."""


class LatencyStats(TypedDict):
    """Latency of the successful operations of one kind, in ms (None when there were none)."""

    count: int
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    p999: float | None
    max: float | None


class P50P99(TypedDict):
    """Median and 99th percentile, in ms (None when nothing was measured)."""

    p50: float | None
    p99: float | None


class LagStats(TypedDict):
    """Replication lag after the warm-up (``replication`` table), in ms."""

    count: int
    mean: float | None
    p50: float | None
    p99: float | None
    max: float | None


class LatencyByKind(TypedDict):
    """:class:`LatencyStats` per operation kind (every kind, measured or not)."""

    read: LatencyStats
    write: LatencyStats
    query: LatencyStats
    cluster_tx: LatencyStats
    compare_exchange: LatencyStats
    transaction: LatencyStats


class Availability(TypedDict):
    """Per kind: successes over the operations that ended or were stuck at the end (None: no operation)."""

    read: float | None
    write: float | None
    query: float | None
    cluster_tx: float | None
    compare_exchange: float | None
    transaction: float | None


class AvailabilityWithinDeadline(Availability):
    """Per kind: operations that succeeded within ``clients.deadline`` (``deadline_s``) over those
    decided (ended, or still waiting past the deadline)."""

    deadline_s: float


class OpCounts(TypedDict):
    """Operations that started after the warm-up, by how they ended."""

    total: int
    ok: int
    failed: int  # every outcome but ok and unfinished
    timeout: int
    all_nodes_down: int
    conflict: int
    unfinished: int  # still waiting when the run ended
    stalled: int  # unfinished, and older than every completed operation of their kind
    retried: int  # needed more than one request
    failed_requests: int  # requests that failed, whether or not a retry then succeeded


class ClusterFigures(TypedDict):
    """Consensus after the warm-up: elections, and the time a leader had a majority."""

    elections: int
    leaders_elected: int
    leaderless_seconds: float
    leader_lost: int  # followers that stopped hearing their leader
    availability: float | None  # share of the window with a leader followed by a majority
    op_latency_ms: P50P99  # successful cluster transactions and compare-exchanges


class ConflictCounts(TypedDict):
    """Conflicts counted once per (key, versions), by how they were resolved
    (:func:`workbench.analysis.summary.conflict_counts`)."""

    total: int
    resolved_latest: int
    resolved_cluster_tx: int
    resolved_script: int
    manual: int
    resolved_manually: int
    lost_acknowledged: int  # losing writes a client had seen acknowledged


class FaultRow(TypedDict):
    """One fault: :func:`workbench.analysis.faults.fault_table` as JSON (NaN is None, floats
    rounded to 4 decimals); the definitions are in :mod:`workbench.analysis.faults`."""

    cluster: NotRequired[str]  # a deployment's rows
    fault: str
    target: str
    start_s: float
    end_s: float
    duration_s: float
    window_end_s: float
    rpo_writes: int | None  # None: the fault put no data at risk
    rpo_seconds: float | None
    client_errors: int
    affected_clients: int
    rto_s: float | None  # None: a client never recovered
    recovered: bool
    p99_recovery_s: float | None


class ReReplication(TypedDict):
    """Whether a copy lost for good is replaced (DynamicNodesDistribution), with RavenDB's default."""

    dynamic_distribution: bool
    ravendb_default: bool
    add_replica_after_s: float
    behaviour: str  # one sentence for people


class RpoAt(TypedDict):
    """What a restore from the newest completed backup would miss if the database were lost
    at ``at_s`` (None values: no backup yet)."""

    at_s: float
    node: str | None
    backup_state_s: float | None
    age_s: float | None
    writes_missed: int | None


class RestorePlan(TypedDict):
    """The chain a restore of the newest backup reads, and how long it takes."""

    node: str
    backup_state_s: float
    files: int
    bytes: float
    copy_s: float
    import_s: float
    total_s: float


class BackupSummary(TypedDict):
    """Backups of the run (:mod:`workbench.analysis.backups`)."""

    completed: int
    full: int
    incremental: int
    failed: int
    skipped: int
    by_node: dict[str, dict[str, int]]  # node -> type (full, incremental) -> count
    bytes_written: float
    first_backup_done_s: float | None
    worst_rpo_s: float | None
    worst_rpo_at_s: float | None
    worst_rpo_writes: int | None
    rpo_at_end: RpoAt | None
    restore: RestorePlan | None


class EtlLag(TypedDict):
    """Percentiles of a SQL ETL task's lag, in ms (None: no version became visible)."""

    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None


class EtlOutage(TypedDict):
    """An outage of an ETL task and its time to drain (:mod:`workbench.analysis.etl`)."""

    kind: str  # "destination down" or "task not running"
    start_s: float
    end_s: float | None  # None: it lasted to the run's end
    duration_s: float | None
    time_to_drain_s: float | None


class EtlTaskSummary(TypedDict):
    """One SQL ETL task (:func:`workbench.analysis.etl.task_summary`)."""

    versions_visible: int
    lag_ms: EtlLag
    documents_loaded: int
    rows_at_destination: int
    max_backlog: float
    rejected_documents: int
    fallback_retries: int
    fallback_waits_s: list[float]
    fallback_times_s: list[float]
    time_in_fallback_s: float
    outages: list[EtlOutage]


class SubscriptionLag(TypedDict):
    """Time from a write's commit to the end of its first processing, in ms."""

    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None


class SubscriptionSummary(TypedDict):
    """One data subscription (:mod:`workbench.analysis.subscriptions`)."""

    name: str
    docs_processed: int
    batches: int
    duplicates: int
    failover_gap_s: float
    failover_gap_from_s: float | None
    idle_with_backlog_s: float
    lag_ms: SubscriptionLag
    connected: int
    redirected: int
    refused: int
    evicted: int
    disconnected: int
    ack_failed: int
    gave_up: int


class ClusterSummary(TypedDict):
    """One cluster of a deployment (:func:`workbench.analysis.deployment.per_cluster`)."""

    ops: int
    availability: float | None
    read_latency_ms: P50P99
    write_latency_ms: P50P99
    leader_availability: float | None
    elections: int
    faults: list[FaultRow]
    lost_writes: int
    conflicts: int
    backups: NotRequired[BackupSummary]
    etl: NotRequired[dict[str, EtlTaskSummary]]
    subscriptions: NotRequired[dict[str, SubscriptionSummary]]


class LinkLag(TypedDict):
    """How long the receiving cluster lags (source commit to stored there), in ms."""

    p50: float | None
    p99: float | None
    max: float | None


class LinkSummary(TypedDict):
    """A task between clusters (:func:`workbench.analysis.deployment.link_summary`)."""

    outages_drained_after_s: list[float]
    undrained_at_end: bool
    connections: int
    failures: int
    versions_stored: int
    lag_ms: LinkLag
    max_backlog: float
    rejected_documents: int


class RegionOutage(TypedDict):
    """The first dark data centre (:func:`workbench.analysis.deployment.region_outage`)."""

    datacenter: str
    start_s: float
    back_s: float
    users_rto_s: float | None
    others_rto_s: float | None
    rpo_writes: int
    rpo_seconds: float
    requests_unserved: int
    errors_during: int
    failovers_during: int
    write_latency_before_ms: P50P99
    write_latency_during_ms: P50P99
    read_latency_before_ms: P50P99
    read_latency_during_ms: P50P99


class DatabasesSummary(TypedDict):
    """A cluster of several databases (``workbench.analysis.databases``)."""

    count: int  # databases on the cluster
    by_replication_factor: dict[str, int]  # how many databases have each replication factor
    availability_min: float | None  # the least available database's availability
    least_available: str | None  # its name
    down_at_end_count: int  # databases none of whose operations in the run's last tenth succeeded
    down_at_end: list[str]  # the first 20 of them, in the cluster's order
    lost_writes_by_database: dict[str, int]  # acknowledged writes lost, where any were


class Summary(TypedDict):
    """A run's summary, in the order of its keys. Operations that started during the warm-up
    are left out of the operation figures."""

    scenario: str  # the scenario's name
    blueprint: str  # the blueprint's (or deployment's) name
    seed: int
    sim_seconds: float
    wall_seconds: float
    events: int  # simulation events processed
    warmup_seconds: float
    members: list[str]  # the database group at the start ("east: A, B, C" per cluster of a deployment)
    ops: OpCounts
    throughput_ops_per_s: float
    latency_ms: LatencyByKind
    availability: Availability
    availability_within_deadline: AvailabilityWithinDeadline
    warnings: list[str]  # what a reader of the figures must know, for people
    stale_read_fraction: float | None
    ryw_violation_fraction: float | None
    replication_lag_ms: LagStats
    cluster: ClusterFigures
    lost_writes: int  # acknowledged writes lost by the end of the run
    lost_writes_by_cause: dict[str, int]
    writes_missing_after_forced_promotion: int
    conflicts: ConflictCounts
    speed_test_reads: dict[str, int]  # FastestNode's speed-test reads received, per node
    faults: list[FaultRow]
    re_replication: ReReplication | dict[str, ReReplication]  # a deployment's per cluster
    backups: BackupSummary | Empty  # Empty: no backup task, or a deployment
    etl: dict[str, EtlTaskSummary]  # by task name; a deployment's are per cluster
    subscriptions: dict[str, SubscriptionSummary]  # by task name
    cluster_events: dict[str, int]  # events by kind, the whole run
    clusters: NotRequired[dict[str, ClusterSummary]]  # a deployment's, by cluster name
    links: NotRequired[dict[str, LinkSummary]]  # a deployment's tasks between clusters, by name
    region_outage: NotRequired[RegionOutage]  # when a data centre went dark
    databases: NotRequired[DatabasesSummary]  # a cluster of several databases
    exception: str | None  # why the run failed, if it did


# ----------------------------------------------------------------------------- checking


def mismatches(value: object, schema: object = Summary, path: str = "summary") -> list[str]:
    """How ``value`` differs from ``schema`` (a ``TypedDict`` of this module, or a type made
    of them: ``dict[str, X]``, ``list[X]``, ``X | None``, ``int``, ``float``, ``str``, ``bool``,
    ``Literal``): one line per difference, with its path; empty when it conforms. An ``int``
    is a ``float`` (JSON does not tell ``1.0`` from ``1``); a ``bool`` is not a number."""
    out: list[str] = []
    _check(value, schema, path, out)
    return out


def _check(value: object, schema: Any, path: str, out: list[str]) -> None:
    origin = get_origin(schema)
    if is_typeddict(schema):
        _check_typeddict(value, schema, path, out)
    elif origin in (Union, types.UnionType):
        options = get_args(schema)
        if not any(not mismatches(value, option, path) for option in options):
            names = " | ".join(getattr(o, "__name__", str(o)) for o in options)
            detail = [line for option in options for line in mismatches(value, option, path)][:3]
            out.append(f"{path}: {_short(value)} is none of {names} ({'; '.join(detail)})")
    elif origin is Literal:
        if value not in get_args(schema):
            out.append(f"{path}: {_short(value)} is not one of {get_args(schema)}")
    elif origin is dict:
        key_type, item_type = get_args(schema)
        if not isinstance(value, dict):
            out.append(f"{path}: {_short(value)} is not a mapping")
            return
        for key, item in value.items():
            _check(key, key_type, f"{path} key", out)
            _check(item, item_type, f"{path}.{key}", out)
    elif origin is list:
        (item_type,) = get_args(schema)
        if not isinstance(value, list):
            out.append(f"{path}: {_short(value)} is not a list")
            return
        for i, item in enumerate(value):
            _check(item, item_type, f"{path}[{i}]", out)
    elif schema is type(None):
        if value is not None:
            out.append(f"{path}: {_short(value)} is not None")
    elif schema is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.append(f"{path}: {_short(value)} is not a number")
    elif schema in (int, str, bool):
        if not isinstance(value, schema) or (schema is int and isinstance(value, bool)):
            out.append(f"{path}: {_short(value)} is not {schema.__name__}")
    else:
        raise TypeError(f"{path}: no check for {schema!r}")


def _check_typeddict(value: object, schema: Any, path: str, out: list[str]) -> None:
    if not isinstance(value, Mapping):
        out.append(f"{path}: {_short(value)} is not a mapping")
        return
    hints = get_type_hints(schema, include_extras=True)
    optional = {name for name, hint in hints.items() if get_origin(hint) is NotRequired}
    missing = sorted(set(hints) - optional - set(value))
    extra = sorted(str(k) for k in value if k not in hints)
    if missing:
        out.append(f"{path}: missing {', '.join(missing)} ({schema.__name__})")
    if extra:
        out.append(f"{path}: unexpected {', '.join(extra)} ({schema.__name__})")
    for name, hint in hints.items():
        if name in value:
            inner = get_args(hint)[0] if get_origin(hint) is NotRequired else hint
            _check(value[name], inner, f"{path}.{name}", out)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

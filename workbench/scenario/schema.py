"""The scenario schema: strict, frozen, typed models (pydantic v2).

A scenario = a blueprint (the topology and its hardware) + clients + a workload
+ a fault plan, with a seed and a duration. Unknown keys are errors, every
model is frozen, and cross-field rules (a fault naming a node that does not
exist, a replication factor larger than the cluster) are checked by
:func:`workbench.scenario.load.check_scenario` with the field path in the message.

Defaults and where they come from
---------------------------------
RavenDB behaviour defaults cite ``shared/docs/ravendb-behaviour.md`` (section in
brackets). Hardware and network numbers that RavenDB does not define are
engineering estimates for a current cloud server; each says so next to it and
every one of them can be set in the scenario.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from workbench.errors import did_you_mean
from workbench.scenario.types import Bandwidth, Duration, DurationDist, SignedDuration, Size, SizeDist
from workbench.scenario.units import parse_quantity

NodeTag = Annotated[str, Field(pattern=r"^[A-Z]{1,4}$", description="1-4 uppercase letters")]


def _takes_bool(annotation: object) -> bool:
    """Whether a field's type admits a yes/no value (bool itself, or a union or literal with one)."""
    if annotation is bool:
        return True
    if isinstance(annotation, str):
        return "bool" in annotation or "True" in annotation or "False" in annotation
    return any(_takes_bool(arg) or isinstance(arg, bool) for arg in get_args(annotation))


class Strict(BaseModel):
    """Base: unknown keys are errors, instances are immutable, numbers are finite (no inf or
    nan) and a yes/no value is not a number (pydantic would read ``count: true`` as 1)."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, validate_default=True, allow_inf_nan=False
    )

    @model_validator(mode="before")
    @classmethod
    def _no_bool_as_number(cls, data: object) -> object:
        if isinstance(data, dict):
            fields = cls.model_fields
            by_alias = {f.alias: f for f in fields.values() if f.alias}
            for key, value in data.items():
                if not isinstance(value, bool):
                    continue
                field = fields.get(key) or by_alias.get(key)
                if field is not None and not _takes_bool(field.annotation):
                    msg = f"{key}: {value!r} is a yes/no value; a number or text belongs here"
                    raise ValueError(msg)
        return data


# ----------------------------------------------------------------------------- blueprint


class Datacenter(Strict):
    """A data centre in a region. Zones are failure domains inside it (racks or AZs)."""

    name: str
    region: str = Field("region-1", description="Latency between data centres depends on region")
    zones: tuple[str, ...] = ("a",)


class NodeSpec(Strict):
    """One RavenDB server of the cluster: its tag, where it runs (data centre and zone), its cluster
    role and its clock skew."""

    tag: NodeTag
    datacenter: str
    zone: str | None = Field(None, description="Defaults to the data centre's first zone")
    role: Literal["member", "watcher", "promotable"] = Field(
        "member",
        description="Cluster role [spec §1.2]: members vote and can lead; watchers never vote; "
        "promotables catch up on the Raft log, then the leader makes them members",
    )
    clock_skew: SignedDuration = Field(
        "0 s",
        description="How far this node's wall clock is ahead (or, negative, behind): it stamps "
        "last-modified, so resolve-to-latest can pick the wrong 'latest' [spec §3.5]",
    )


class ServiceTimes(Strict):
    """CPU time a request worker spends per operation (queueing excluded).

    Engineering estimates for an 8-vCPU server holding the working set in
    memory: a load by id costs ~0.1 ms of CPU, a write ~0.2 ms before its
    fsync, an indexed query ~1 ms. Calibrate against your own measurements.
    """

    read: DurationDist = Field("lognormal(median=0.1 ms, sigma=0.5)")
    write: DurationDist = Field("lognormal(median=0.2 ms, sigma=0.5)")
    query: DurationDist = Field("lognormal(median=1 ms, sigma=0.8)")


class Hardware(Strict):
    """A server: request workers (CPU) and a disk.

    Writes (client writes and incoming replication batches) are group-committed:
    while the disk is busy with one fsync, arriving writes queue and share the
    next one, as RavenDB's transaction merger does. The fsync default is an
    estimate for network-attached SSD (AWS documents single-digit millisecond
    latency for EBS gp3); local NVMe is nearer 0.1 ms.
    """

    workers: int = Field(8, ge=1, description="Concurrent request workers (vCPUs)")
    service: ServiceTimes = ServiceTimes()
    fsync: DurationDist = Field("lognormal(median=1 ms, sigma=0.4)")
    max_writes_per_fsync: int = Field(1024, ge=1)
    disk_read_rate: Bandwidth = Field(
        "125 MB/s",
        description="Bulk read throughput of the disk: a mentor reads its whole copy (cold documents "
        "included) to seed a new one, taking turns with the fsyncs. AWS gp3's baseline throughput, to match "
        "the fsync default",
    )
    bulk_copy_rate: Bandwidth = Field(
        "500 MB/s",
        description="CPU rate of one worker streaming documents in bulk (a mentor sending a seed, the new "
        "copy storing it): RavenDB ships its binary documents as they are, so this is near memory speed "
        "(an estimate)",
    )


class LinkLatency(Strict):
    """A latency for the links between two particular nodes (both directions),
    replacing the pair-class default, e.g. a slow WAN hop."""

    between: tuple[NodeTag, NodeTag]
    latency: DurationDist


class RegionLatency(Strict):
    """The one-way latency between two regions (both directions, every node and client
    in them), replacing ``cross_region``: real WAN distances differ per pair."""

    between: tuple[str, str]
    latency: DurationDist


class NetworkSpec(Strict):
    """One-way latency by pair class, plus link bandwidth.

    Defaults follow the spec's §7 figures: RTT within an availability zone is
    under 1 ms (one-way median 0.1 ms), between zones of one region a few ms at
    most (one-way median 0.5 ms), and between regions tens of ms (one-way 35 ms,
    i.e. ~70 ms RTT, N. Virginia to N. California).
    """

    same_zone: DurationDist = Field("lognormal(median=0.1 ms, sigma=0.4)")
    same_region: DurationDist = Field("lognormal(median=0.5 ms, sigma=0.3)")
    cross_region: DurationDist = Field("lognormal(median=35 ms, sigma=0.1)")
    bandwidth: Bandwidth = Field("10 Gbit/s")
    regions: tuple[RegionLatency, ...] = Field(
        (), description="Per region-pair latencies that replace cross_region (applied before links)"
    )
    links: tuple[LinkLatency, ...] = Field((), description="Per node-pair latencies that replace the defaults")
    loss: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="Packet loss probability. Traffic is TCP, so a lost packet is not dropped but "
        "retransmitted after retransmit_timeout (doubling on repeated losses)",
    )
    retransmit_timeout: Duration = Field(
        "200 ms",
        description="TCP minimum RTO (Linux TCP_RTO_MIN). A connection's RTO is its round trip plus this "
        "(tcp_set_rto); retransmissions double it",
    )
    tcp_rto_max: Duration = Field("120 s", description="Longest gap between retransmissions (Linux TCP_RTO_MAX)")
    tcp_retries2: int = Field(
        15,
        ge=1,
        le=100,
        description="Retransmissions before an established connection is declared broken (Linux "
        "net.ipv4.tcp_retries2; 15 is 924.6 s from a 200 ms RTO)",
    )
    tcp_syn_retries: int = Field(
        6,
        ge=1,
        le=127,
        description="SYN retransmissions before a new connection fails (Linux net.ipv4.tcp_syn_retries; 6 is 127 s)",
    )
    tcp_syn_rto: Duration = Field(
        "1 s", description="The first SYN retransmission timeout, doubling after (Linux TCP_TIMEOUT_INIT)"
    )

    @model_validator(mode="after")
    def _rto_order(self) -> NetworkSpec:
        for name in ("retransmit_timeout", "tcp_syn_rto"):
            value = getattr(self, name)
            if not 0 < value <= self.tcp_rto_max:
                raise ValueError(
                    f"{name} must be above 0 and at most tcp_rto_max ({self.tcp_rto_max:g} s); got {value:g} s"
                )
        return self


class ConflictResolution(Strict):
    """The database's conflict solver [spec §3.5]. A cluster transaction's document
    always wins; then a collection's resolver script merges the versions; then
    resolve-to-latest, or else the document stays conflicted (reads answer 409)
    until a write resolves it."""

    resolve_to_latest: bool = Field(
        True, description="ResolveToLatest (the default); false leaves conflicts for manual resolution"
    )
    scripts: dict[str, Duration] = Field(
        default_factory=dict,
        description="Per-collection resolver scripts: collection -> time the script takes to merge one "
        "conflict (it delays the replication batch that met the conflict)",
    )


# ----------------------------------------------------------------------------- ongoing tasks


class EtlBatchLimits(Strict):
    """What one ETL batch may extract [spec §5.2, D-etl]."""

    max_documents: int = Field(8192, ge=1, description="ETL.MaxNumberOfExtractedDocuments")
    max_size: Size = Field("64 MB", description="ETL.MaxBatchSizeInMb")
    extract_timeout: Duration = Field("30 s", description="ETL.ExtractAndTransformTimeoutInSec")


class _TaskBase(Strict):
    name: str = Field(min_length=1)
    mentor: NodeTag | None = Field(
        None, description="MentorNode: the preferred responsible node while it is a member (a 'sticky' task)"
    )


class _EtlSettings(Strict):
    """What every ETL task has [spec §5.2]: what it extracts, the transform's cost, the batch
    limits and the fallback schedule."""

    collections: tuple[str, ...] | None = Field(None, description="Collections extracted (default: all)")
    transform_cost: DurationDist = Field(
        "50 us", description="CPU time of the transform script per document (an engineering estimate)"
    )
    batch: EtlBatchLimits = EtlBatchLimits()
    fallback_initial: Duration = Field("5 s", ge=0.001, description="First retry after the destination fails")
    fallback_max: Duration = Field("900 s", description="ETL.MaxFallbackTimeInSec")


class SqlEtlTask(_TaskBase, _EtlSettings):
    """SQL ETL [spec §5.2]: push the collections' documents to a relational database.

    An update is a DELETE + INSERT in one destination transaction, so a batch sent twice
    leaves one row per document. An unreachable destination puts the task in fallback
    mode (retry after 5 s, doubling per consecutive error up to 900 s); it resumes where
    it left off. A document the destination rejects raises an alert and is skipped."""

    kind: Literal["sql_etl"]
    destination: str = Field(description="The name of an external system in blueprint.externals")
    reject_probability: float = Field(
        0.0, ge=0.0, le=1.0, description="Share of documents the destination rejects (bad row): alert and skip"
    )


class BackupTask(_TaskBase):
    """A periodic backup [spec §5.5]: the schedule is cluster-wide, the responsible node
    runs it; incrementals chain only onto the same node's full backup, so a new owner
    starts with a full one unless its own last full is still within schedule."""

    kind: Literal["backup"]
    full_every: Duration = Field("24 h", ge=1.0, description="Period of full backups")
    incremental_every: Duration | None = Field("4 h", ge=1.0, description="Period of incremental backups (none: off)")
    first_at: Duration = Field("0 s", description="Time of the first (full) backup from the start of the run")
    backup_type: Literal["logical", "snapshot"] = Field(
        "logical", description="logical (JSON; restore re-indexes) or snapshot (binary, fast restore)"
    )
    write_rate: Bandwidth = Field(
        "200 MB/s", description="Rate a backup is written at (an engineering estimate for a cloud volume)"
    )
    restore_rate: Bandwidth = Field(
        "400 MB/s",
        description="Rate of each restore phase, copy then import: 250 GB takes >= 20 min [spec §5.5]",
    )


class SubscriptionTask(_TaskBase):
    """A data subscription [spec §4.4, §5.6]: worker clients hold a connection to the
    responsible node and process batches at least once."""

    kind: Literal["subscription"]
    collections: tuple[str, ...] | None = Field(None, description="Collections the subscription covers")
    workers: int = Field(1, ge=1, description="Worker clients competing for the subscription")
    strategy: Literal["OpenIfFree", "TakeOver", "WaitForFree"] = Field(
        "OpenIfFree",
        description="OpenIfFree: refused while another worker holds it; TakeOver: evicts the holder (a second "
        "TakeOver loses); WaitForFree: retries every `retry` (a hot standby)",
    )
    worker_strategies: tuple[Literal["OpenIfFree", "TakeOver", "WaitForFree"], ...] | None = Field(
        None, description="A strategy per worker, in order (cycled), instead of `strategy`"
    )
    start_spacing: Duration = Field(
        "1 s", description="Worker k first connects k x this after the start (an assumption: a fixed start order)"
    )
    max_docs_per_batch: int = Field(4096, ge=1, description="MaxDocsPerBatch")
    retry: Duration = Field("5 s", description="TimeToWaitBeforeConnectionRetry")
    max_erroneous_period: Duration = Field("5 min", description="MaxErroneousPeriod")
    processing_cost: DurationDist = Field("1 ms", description="The worker's time per document")


OngoingTask = Annotated[SqlEtlTask | BackupTask | SubscriptionTask, Field(discriminator="kind")]


class ExternalSystem(Strict):
    """A system outside the cluster that a task writes to: a relational database for SQL
    ETL. It has its own latency (from where it is placed), throughput and outages (the
    fault plan's ``external_down``)."""

    name: str = Field(min_length=1)
    kind: Literal["sql"] = "sql"
    datacenter: str | None = Field(None, description="Where it runs (default: the first data centre)")
    zone: str | None = None
    row_cost: DurationDist = Field(
        "0.2 ms", description="Time to apply one row (DELETE + INSERT, indexed id column; an estimate)"
    )
    commit_cost: DurationDist = Field("5 ms", description="Time to commit one batch's transaction (an estimate)")


class DatabaseSpec(Strict):
    """The database group. ``members`` pins placement; otherwise it is chosen as
    the spec describes (§2.1: RF nodes from a random offset)."""

    name: str = "db"
    replication_factor: int = Field(3, ge=1)
    members: tuple[NodeTag, ...] | None = None
    dynamic_distribution: bool = Field(
        False,
        description="DynamicNodesDistribution: replace a copy that is silent for observer.add_replica_after "
        "(15 min) with a new one on another node. Off by default in RavenDB (DatabaseTopology's default, and "
        "the book's sample record): a copy down for good then stays in rehab and the group stays short",
    )
    conflicts: ConflictResolution = ConflictResolution()
    tasks: tuple[OngoingTask, ...] = Field(
        (), description="Ongoing tasks (SQL ETL, backups, subscriptions); each has one responsible node [spec §5]"
    )


class ReplicationSpec(Strict):
    """Replication inside the group [spec §3.1, §3.2]."""

    max_batch_items: int = Field(16384, ge=1, description="Replication.MaxItemsCount")
    max_batch_size: Size = Field("64 MB", description="Replication.MaxSizeToSendInMb")
    heartbeat_interval: Duration = Field(
        "15 s",
        ge=0.001,
        description="Replication.ReplicationMinimalHeartbeatInSec: an idle channel's keep-alive; versions a node "
        "received by replication do not wake its channels (ripple prevention), so they are forwarded with its next "
        "local changes or after the next keep-alive",
    )
    tcp_timeout: Duration = Field(
        "15 s", description="Cluster.TcpTimeoutInMs: an unanswered batch or heartbeat breaks the connection"
    )
    reconnect_initial: Duration = Field(
        "1 s", ge=0.001, description="Reconnect backoff start (newer versions; 4.x used 500 ms)"
    )
    reconnect_factor: float = Field(2.0, ge=1.0, description="Backoff growth per failure (4.x used 4)")
    reconnect_max: Duration = Field("300 s", description="Replication.RetryMaxTimeoutInSec")


class ClusterSpec(Strict):
    """Rachis, RavenDB's Raft [spec §1.4-1.6]."""

    election_timeout: Duration = Field("300 ms", description="Cluster.ElectionTimeoutInMs (ET)")
    timeout_range: tuple[Duration, Duration] | None = Field(
        None,
        description="Draw each election timeout uniformly from [min, max] instead of RavenDB's "
        "[2/3 ET, ET), extended to [4/3 ET, 2 ET) after a round with no result",
    )
    election_timer: Literal["ravendb", "reset"] = Field(
        "ravendb",
        description="ravendb: a periodic timer that a heartbeat defers, so detection takes 1-2 periods; "
        "reset: a heartbeat restarts the timer with a fresh random timeout (the Raft paper)",
    )
    heartbeat_interval: Duration | None = Field(None, ge=0.001, description="Leader heartbeat; default ET/3")
    prevote: bool = Field(True, description="Trial election before a real one")
    operation_timeout: Duration = Field(
        "15 s", ge=0.001, description="Cluster.OperationTimeoutInSec: wait for a leader"
    )
    max_entries_per_append: int = Field(1024, ge=1)
    tcp_timeout: Duration = Field(
        "15 s",
        description="Cluster.TcpTimeoutInMs: an ambassador whose request gets no answer this long drops the "
        "connection and reconnects",
    )
    reconnect_round_trips: int = Field(
        5,
        ge=1,
        le=20,
        description="Round trips a leader's ambassador spends reconnecting before it negotiates the log: the TCP "
        "information lookup, TCP connect, protocol negotiation, log negotiation and snapshot check (an estimate "
        "from FollowerAmbassador.cs; TLS on a secured cluster adds one or two)",
    )


class ObserverSpec(Strict):
    """The Cluster Observer (supervisor) on the leader [spec §2.2-2.4]."""

    enabled: bool = True
    worker_sample_period: Duration = Field("250 ms", ge=0.001, description="Cluster.WorkerSamplePeriodInMs")
    supervisor_sample_period: Duration = Field("500 ms", ge=0.001, description="Cluster.SupervisorSamplePeriodInMs")
    stabilization: Duration = Field("5 s", description="Cluster.StatsStabilizationTimeInSec")
    rotate_preferred_after: Duration = Field("5 s", description="Cluster.TimeBeforeRotatingPreferredNodeInSec")
    move_to_rehab_after: Duration = Field("60 s", description="Cluster.TimeBeforeMovingToRehabInSec")
    add_replica_after: Duration = Field("15 min", description="Cluster.TimeBeforeAddingReplicaInSec")
    max_change_vector_distance: int = Field(
        10_000, ge=1, description="Cluster.MaxChangeVectorDistance: a member this far behind a peer goes to rehab"
    )
    promotion_position: Literal["append", "shuffle", "priority"] = Field(
        "append",
        description="Where a promoted node joins the member list: append (the book, 4.0), shuffle "
        "(newer versions), or priority (follow priority_order)",
    )
    priority_order: tuple[NodeTag, ...] = ()
    seeding_rate: Bandwidth = Field(
        "50 MB/s",
        description="Throttled rate at which a mentor seeds a new replica (RavenDB favours stability over "
        "speed; the rate is an estimate, set your own)",
    )


class _Catalogued(Strict):
    """A layout in the catalogue: its name, its notes [spec §7] and its data centres."""

    name: str
    description: str = ""
    purpose: str = Field("", description="What the layout is for")
    layout: str = Field("", description="Where the nodes (clusters) and the database copies are")
    failure: str = Field("", description="What happens when parts of it fail")
    tradeoffs: str = Field("", description="What it costs and what it gives up")
    datacenters: tuple[Datacenter, ...] = Field(min_length=1)


class ClusterParts(Strict):
    """What makes one cluster: its nodes, hardware, database group, settings and the external
    systems its tasks write to (a blueprint, or one cluster of a deployment)."""

    nodes: tuple[NodeSpec, ...] = Field(min_length=1)
    hardware: Hardware = Hardware()
    database: DatabaseSpec = DatabaseSpec()
    replication: ReplicationSpec = ReplicationSpec()
    cluster: ClusterSpec = ClusterSpec()
    observer: ObserverSpec = ObserverSpec()
    externals: tuple[ExternalSystem, ...] = Field(
        (), description="Systems outside the cluster that ongoing tasks write to"
    )


class Blueprint(ClusterParts, _Catalogued):
    """A topology: data centres, nodes, hardware, network, the database group and the
    cluster's settings, with the catalogue's notes on what it is for [spec §7]. A
    blueprint file may also carry a ``clients`` section: the clients it is meant to be
    run with (placement, read balance); the scenario's ``clients`` is merged over it."""

    network: NetworkSpec = NetworkSpec()


# ----------------------------------------------------------------------------- deployments

ClusterName = Annotated[
    str, Field(pattern=r"^[a-z][a-z0-9-]{0,31}$", description="Lowercase letters, digits and dashes, e.g. 'east'")
]


class DeploymentCluster(ClusterParts):
    """One cluster of a deployment: like a blueprint's nodes, database and settings; the
    data centres and the network belong to the deployment, which all its clusters share."""

    name: ClusterName
    write_collections: tuple[str, ...] | None = Field(
        None,
        description="The collections this cluster's applications write (default: the workload's "
        "write_collections, else all), e.g. stores write sales and only read the catalogue",
    )


class _LinkBase(Strict):
    name: str = Field(min_length=1)
    delay: Duration = Field(
        "0 s",
        description="DelayReplicationFor: a version is sent only once it is this old (a lagged copy "
        "that still holds the data from before a bad update) [spec §5.3]",
    )


class ExternalReplicationLink(_LinkBase):
    """External replication [spec §5.3]: one-way, database-wide, from a database group in
    one cluster to the same database in another. One source node is responsible (the
    task framework, §5.1: it pauses while the source cluster has no leader); it connects
    to the destination cluster's nodes in their order and fails over to the next.
    Bidirectional flow is two links, one each way."""

    kind: Literal["external_replication"]
    source: ClusterName
    destination: ClusterName
    mentor: NodeTag | None = Field(None, description="MentorNode on the source cluster")


class HubSinkLink(_LinkBase):
    """Hub/sink (pull) replication [spec §5.4]: a task of the *sink* cluster connects to
    the hub's nodes in order (preferred node first) and, per ``mode``, receives the hub's
    changes, sends its own, or both. Reconnecting is always the sink's job."""

    kind: Literal["hub_sink"]
    hub: ClusterName
    sink: ClusterName
    mode: Literal["hub_to_sink", "sink_to_hub", "both"] = "hub_to_sink"
    mentor: NodeTag | None = Field(None, description="MentorNode on the sink cluster")
    collections: tuple[str, ...] | None = Field(
        None, description="Per-path filtering (5.1+): only these collections flow (default: all)"
    )


class RavenEtlLink(_EtlSettings):
    """RavenDB ETL [spec §5.2] from a database in one cluster to one in another: push-only
    and overwriting; the destination stores each document as a new local write (its
    change vector has only the destination's entry), so there are never conflicts."""

    kind: Literal["ravendb_etl"]
    name: str = Field(min_length=1)
    source: ClusterName
    destination: ClusterName
    mentor: NodeTag | None = Field(None, description="MentorNode on the source cluster")
    reject_probability: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Share of document versions whose transform fails (a script error): alert and skip",
    )


ClusterLink = Annotated[ExternalReplicationLink | HubSinkLink | RavenEtlLink, Field(discriminator="kind")]
LINK_KINDS = ("external_replication", "hub_sink", "ravendb_etl")


class Deployment(_Catalogued):
    """Several clusters, each with its own consensus and database group, joined only by
    ongoing tasks: external replication, hub/sink and RavenDB ETL [spec §7.8, §7.9, §7.11].
    Clients never fail over across clusters; rerouting an application is a fault-plan
    action (``reroute``)."""

    network: NetworkSpec = NetworkSpec()
    clusters: tuple[DeploymentCluster, ...] = Field(min_length=1)
    links: tuple[ClusterLink, ...] = Field(
        (), description="Tasks between clusters: external replication, hub/sink, RavenDB ETL"
    )


# ----------------------------------------------------------------------------- clients


class HealthCheck(Strict):
    """Health checks of a failed node [spec §4.3]: first after 100 ms, +100 ms per try, capped at 5 s."""

    initial: Duration = Field("100 ms", ge=0.001, description="First health check after a failure (1 ms or more)")
    step: Duration = Field("100 ms")
    max: Duration = Field("5 s", ge=0.001, description="Longest gap between health checks (1 ms or more)")


class WriteAssurance(Strict):
    """WaitForReplicationAfterSaveChanges [spec §3.6]: the server answers a write only
    once ``replicas`` other members (or a majority of them) acknowledged it."""

    replicas: int | Literal["majority"] = Field(
        0, description="Other members that must hold the write; 0 turns assurance off"
    )
    timeout: Duration = Field("15 s", description="Conventions.WaitForReplicationAfterSaveChangesTimeout")
    throw_on_timeout: bool = Field(True, description="On timeout: an error (the data stays stored) or silent success")


class ClientGroup(Strict):
    """Application servers in one data centre (and zone)."""

    datacenter: str
    zone: str | None = Field(None, description="Defaults to the data centre's first zone")
    count: int = Field(1, ge=1, le=100_000)


class ClientSpec(Strict):
    """Application servers running RavenDB's RequestExecutor [spec §4]."""

    count: int = Field(4, ge=1, le=100_000)
    datacenter: str | None = Field(None, description="Defaults to the first data centre")
    zone: str | None = None
    placement: tuple[ClientGroup, ...] = Field(
        (),
        description="Clients spread over data centres, e.g. [{datacenter: east, count: 2}, "
        "{datacenter: west, count: 2}]; replaces count, datacenter and zone",
    )
    read_balance: Literal["None", "RoundRobin", "FastestNode"] = Field(
        "None",
        description="ReadBalanceBehavior. FastestNode: a speed test sends reads to every node until one "
        "wins 10 races, repeated every speed_test_interval and after topology changes",
    )
    speed_test_interval: Duration = Field("1 min", ge=0.001, description="FastestNode: time between speed tests")
    load_balance: Literal["None", "UseSessionContext"] = Field(
        "None",
        description="LoadBalanceBehavior: UseSessionContext hashes each session's context (a tenant or "
        "user) to a node, for reads and writes, and takes precedence over read_balance",
    )
    session_contexts: int = Field(
        100, ge=1, description="Distinct session contexts (tenants, users) for UseSessionContext"
    )
    load_balancer_seed: int = Field(0, description="LoadBalancerContextSeed")
    request_timeout: Duration = Field(
        "12 h",
        gt=0,
        description="Per-request timeout. RavenDB sets none, so the HttpClient's 12 h applies [spec §4.3]",
    )
    deadline: Duration = Field(
        "10 s",
        description="How long a user waits: 'availability within the deadline' counts an operation that took "
        "longer, or was still waiting after it, as failed. A product decision, not a RavenDB setting; 10 s is "
        "the limit for keeping a user's attention (Nielsen, 'Response Times: The 3 Important Limits')",
    )
    urls: tuple[str, ...] | None = Field(
        None,
        description="The nodes (by tag) in the clients' URL list (DocumentStore.Urls), tried in order for the "
        "first topology; default: every node of the cluster",
    )
    topology_cache: bool = Field(
        True,
        description="Keep the last topology on disk and use it when no listed URL answers at start "
        "(RavenDB's default: Conventions.DisableTopologyCache is false)",
    )
    topology_poll: Duration = Field(
        "5 min",
        ge=1.0,
        description="RequestExecutor's topology timer: this often, the client fetches the topology if it got "
        "no response for as long (5 min in RavenDB)",
    )
    health_check: HealthCheck = HealthCheck()
    request_overhead: Size = Field("500 B", description="HTTP headers on every request and response")
    write_assurance: WriteAssurance = WriteAssurance()


# ----------------------------------------------------------------------------- workload


class OpMix(Strict):
    """The share of each kind of operation in the workload; the shares add up to 1 (checked when the
    scenario is loaded)."""

    read: float = Field(0.8, ge=0, le=1)
    write: float = Field(0.2, ge=0, le=1)
    query: float = Field(0.0, ge=0, le=1)
    cluster_tx: float = Field(0.0, ge=0, le=1, description="Cluster-wide transactions writing one document")
    compare_exchange: float = Field(0.0, ge=0, le=1, description="Compare-exchange puts")
    transaction: float = Field(
        0.0, ge=0, le=1, description="Multi-document transactions: one SaveChanges writing transaction_documents keys"
    )


_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?\s*$")


def _time_of_day(value: object) -> float:
    """``"14:00"``, ``"14:30:15"`` or a duration after midnight (``14 h``), as seconds after midnight."""
    if isinstance(value, int | float):
        # Unquoted 14:00 is a base-60 integer (840) in YAML 1.1, so a bare number is ambiguous.
        msg = (
            f"{value!r} is not a time of day; write a clock time in quotes ('14:00') or a duration after "
            "midnight ('14 h'); YAML reads an unquoted 14:00 as the number 840"
        )
        raise ValueError(msg)
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match:
        hours, minutes, seconds = int(match[1]), int(match[2]), float(match[3] or 0)
        if minutes >= 60 or seconds >= 60:
            msg = f"{value!r} is not a clock time: minutes and seconds go up to 59"
            raise ValueError(msg)
        total = hours * 3600 + minutes * 60 + seconds
    else:
        total = parse_quantity(value, "duration")
    if not 0 <= total < 86400:
        msg = f"{value!r} is not a time of day: use 00:00 to 23:59:59 (or a duration under 24 h, e.g. '14 h')"
        raise ValueError(msg)
    return total


def _format_time_of_day(seconds: float) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{int(hours):02d}:{int(minutes):02d}"
    return text if secs == 0 else f"{text}:{secs:06.3f}".rstrip("0").rstrip(".")


TimeOfDay = Annotated[
    float,
    BeforeValidator(_time_of_day),
    PlainSerializer(_format_time_of_day, return_type=str),
    WithJsonSchema({"type": "string", "format": "time-of-day", "examples": ["14:00", "09:30"]}),
]


def _trace_path(value: object, info: ValidationInfo) -> str:
    """A trace file, relative to the scenario file; kept as an absolute path so a
    resolved scenario (provenance, a dump) still finds it from anywhere."""
    if not isinstance(value, str | Path) or not str(value).strip():
        msg = f"{value!r} is not a file path; name a .csv or .parquet file (relative to the scenario file)"
        raise ValueError(msg)
    path = Path(str(value).strip()).expanduser()
    if not path.is_absolute():
        base = info.context.get("base_dir") if info.context else None
        path = Path(base or ".") / path
    return os.path.normpath(os.path.abspath(path))


TracePath = Annotated[
    str,
    PlainValidator(_trace_path),
    WithJsonSchema({"type": "string", "format": "path", "examples": ["traces/sample.csv"]}),
]


class Burst(Strict):
    """A flash crowd: from ``at`` for ``duration`` the arrival rate is ``multiplier`` times the base rate."""

    at: Duration
    duration: Duration
    multiplier: float = Field(gt=0, description="Rate factor during the burst (below 1: a dip)")


class RandomBursts(Strict):
    """Flash crowds at random times: the time from one burst's start to the next is drawn
    from ``every`` (exponential: bursts form a Poisson process), each lasts a ``duration`` draw."""

    every: DurationDist
    duration: DurationDist
    multiplier: float = Field(gt=0, description="Rate factor during a burst")


class TraceWindow(Strict):
    """The part of the trace to replay, in trace time (seconds after the trace's time zero)."""

    start: Duration = Field("0 s", description="Rows earlier than this are passed over; it becomes time zero")
    end: Duration | None = Field(None, description="Rows at or after this end the replay (or the loop's pass)")


ARRIVAL_KINDS = ("poisson", "constant", "diurnal", "bursts", "closed", "trace")
# Which Arrivals fields each kind reads; setting another kind's field is an error.
ARRIVAL_FIELDS: dict[str, tuple[str, ...]] = {
    "poisson": (),
    "constant": (),
    "diurnal": ("peak", "trough", "peak_at", "start_at", "period"),
    "bursts": ("bursts", "random_bursts"),
    "closed": ("users", "think"),
    "trace": ("file", "speedup", "window", "loop", "on_error"),
}


class Arrivals(Strict):
    """When operations arrive.

    ``poisson``: open loop, exponential gaps at ``workload.rate`` (the default).
    ``constant``: open loop, one operation every 1/rate seconds exactly.
    ``diurnal``: open loop, a non-homogeneous Poisson process whose rate follows a
    sinusoid between ``trough`` and ``peak`` over a day, highest at ``peak_at``; the day
    lasts ``period`` (24 h, or less to compress a day into a short run).
    ``bursts``: Poisson at ``workload.rate`` plus flash crowds that multiply the rate.
    ``closed``: ``users`` each issue an operation, wait for its answer (whatever the
    outcome), think for a ``think`` draw, and repeat; users map onto clients round-robin.
    ``trace``: replay a recorded trace (``docs/traces.md``); the trace gives the times,
    op kinds, keys and optionally sizes and clients, so mix and key_popularity do not apply.
    """

    kind: Literal["poisson", "constant", "diurnal", "bursts", "closed", "trace"] = "poisson"
    peak: float | None = Field(None, gt=0, description="diurnal: highest rate (ops/s), at peak_at")
    trough: float | None = Field(None, ge=0, description="diurnal: lowest rate (ops/s), half a day from the peak")
    peak_at: TimeOfDay = Field(
        "14:00", description="diurnal: time of day of the peak (an estimate: web traffic peaks mid-afternoon)"
    )
    start_at: TimeOfDay = Field("00:00", description="diurnal: time of day at the start of the run")
    period: Duration = Field(
        "24 h", ge=1.0, description="diurnal: length of the simulated day; shorter compresses the curve"
    )
    bursts: tuple[Burst, ...] = Field((), description="bursts: flash crowds at given times")
    random_bursts: RandomBursts | None = Field(None, description="bursts: flash crowds at random times")
    users: int | None = Field(None, ge=1, description="closed: concurrent users (each has one operation at a time)")
    think: DurationDist = Field("exponential(1 s)", description="closed: think time between an answer and the next op")
    file: TracePath | None = Field(None, description="trace: CSV or Parquet file, relative to the scenario file")
    speedup: float = Field(1.0, gt=0, description="trace: replay this many times faster than recorded")
    window: TraceWindow = TraceWindow()
    loop: bool = Field(False, description="trace: start again from the window's start when it ends")
    on_error: Literal["fail", "skip"] = Field(
        "fail", description="trace: a bad row stops the run (fail) or is counted and passed over (skip)"
    )


class Hotspot(Strict):
    """``key_popularity: hotspot``: a fraction of the keys gets a fraction of the accesses,
    uniformly within each part. The hot keys are the lowest-numbered ones (as Zipf's rank 1 is key 0)."""

    keys: float = Field(0.2, gt=0, lt=1, description="Fraction of the keys that are hot")
    share: float = Field(0.8, ge=0, le=1, description="Fraction of the accesses that go to the hot keys")

    def hot_keys(self, keys: int) -> int:
        """How many of ``keys`` are hot: the fraction, rounded, at least one."""
        return max(1, round(self.keys * keys))


class Tenants(Strict):
    """``key_popularity: tenants``: the keys are split into ``count`` equal contiguous ranges.
    Each session works for one tenant, chosen by ``popularity`` (zipf: tenant 0 is the busiest);
    its keys are uniform in the tenant's range. With ``clients.load_balance: UseSessionContext``
    the session's context is its tenant, so a tenant's sessions go to the same node."""

    count: int = Field(10, ge=1)
    popularity: Literal["uniform", "zipf"] = "uniform"
    zipf_exponent: float = Field(0.99, gt=0, description="s in P(tenant rank k) ~ 1/k^s, for popularity zipf")


class Workload(Strict):
    """Operations spread over the clients' sessions: when they arrive (``arrivals``), what
    they are (``mix``) and which documents they touch (``key_popularity``)."""

    rate: float = Field(
        1000.0, gt=0, description="Operations per second, all clients together (poisson, constant; base of bursts)"
    )
    arrivals: Arrivals = Arrivals()
    mix: OpMix = OpMix()
    keys: int = Field(100_000, ge=1, le=1_000_000_000, description="Documents in the database (all present at t = 0)")
    collections: dict[str, float] = Field(
        default_factory=lambda: {"docs": 1.0},
        description="Collections and the share of the keys in each (contiguous key ranges, in order); "
        "conflict resolver scripts are per collection",
    )
    transaction_documents: int = Field(3, ge=1, description="Documents written by one multi-document transaction")
    key_popularity: Literal["uniform", "zipf", "hotspot", "tenants"] = "uniform"
    zipf_exponent: float = Field(0.99, gt=0, description="s in P(rank k) ~ 1/k^s, for key_popularity zipf")
    hotspot: Hotspot = Hotspot()
    tenants: Tenants = Tenants()
    document_size: SizeDist = Field("lognormal(median=2 KiB, sigma=0.6)")
    session_length: int = Field(10, ge=1, description="Requests per session (RavenDB allows 30 by default)")
    query_results: int = Field(10, ge=0, description="Documents returned by a query")
    stop: Duration | None = Field(
        None,
        description="Stop issuing operations at this time (default: run to the end), e.g. to let replication drain",
    )
    write_collections: tuple[str, ...] | None = Field(
        None,
        description="Writes go only to these collections (default: all); reads still go anywhere, e.g. a "
        "store that writes sales and only reads the catalogue",
    )


# ----------------------------------------------------------------------------- faults

# Events a fault can be timed after (``after: leader_elected + 5 s``).
TRIGGER_EVENTS = (
    "leader_elected",
    "leader_lost",
    "election_started",
    "stepped_down",
    "cluster_available",
    "cluster_unavailable",
    "node_crashed",
    "node_restarted",
    "node_paused",
    "node_resumed",
    "partition",
    "healed",
    "preferred_rotated",
    "moved_to_rehab",
    "promoted",
    "forced_promotion",
    "replica_added",
    "replica_deleted",
    "topology_changed",
    "conflict",
    "replication_connected",
    "replication_disconnected",
    "seeding_done",
    "database_faulted",
    "fault_started",
    "fault_ended",
    "external_down",
    "external_up",
    "task_assigned",
    "task_moved",
    "task_paused",
    "task_resumed",
    "observer_suspended",
    "observer_resumed",
    "node_promoted",
    "voter_promoted",
    "node_demoted",
    "added_to_group",
    "removed_from_group",
    "command_committed",
    "command_failed",
)


class Trigger(Strict):
    """``EVENT + DELAY``: the first ``EVENT`` recorded once the previous fault in the
    plan has fired (from the start for the first fault), plus ``DELAY``."""

    event: str
    delay: Duration = Field("0 s")

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: object) -> object:
        if isinstance(value, str):
            event, _, delay = value.partition("+")
            return {"event": event.strip(), "delay": delay.strip() or "0 s"}
        return value

    @field_validator("event")
    @classmethod
    def _known_event(cls, event: str) -> str:
        if event not in TRIGGER_EVENTS:
            msg = (
                f"'{event}' is not an event a fault can follow{did_you_mean(event, TRIGGER_EVENTS)}; "
                f"known: {', '.join(TRIGGER_EVENTS)}"
            )
            raise ValueError(msg)
        return event


class _FaultBase(Strict):
    at: Duration | None = Field(None, description="When the action fires (or use after)")
    after: Trigger | None = Field(None, description="Fire after an event: 'leader_elected + 5 s'")
    cluster: str | None = Field(
        None,
        description="In a deployment of several clusters: the cluster whose nodes the action names "
        "(data-centre actions need none: they hit every cluster there)",
    )


class _Lasting(_FaultBase):
    duration: Duration | None = Field(None, description="Undo the fault after this long (default: it lasts)")


ROLE_TARGETS = ("leader", "follower", "preferred")
NodeRef = Annotated[
    str,
    Field(
        pattern=r"^([A-Z]{1,4}|leader|follower|preferred|last_crashed)$",
        description="A node tag, or a role resolved when the action fires: leader, follower "
        "(a random voter that is not the leader), preferred (the database's preferred node), "
        "last_crashed (restart only)",
    ),
]
EndpointRef = Annotated[
    str, Field(min_length=1, description="A node tag, a client name (client1, ...) or a data centre name")
]


class CrashFault(_Lasting):
    """The RavenDB process dies: in-flight work is lost. ``how: kill`` (the default): its
    operating system resets its connections and refuses new ones, so peers and clients know
    at once. ``how: silent``: the machine vanishes (power loss, kernel hang, frozen VM, dead
    network card): nothing answers, not even a reset, and peers and clients find out only by
    their own timeouts. ``wipe_disk``: the disk is lost too (amnesia): the database copy
    restarts empty and every peer re-sends it everything."""

    action: Literal["crash"]
    node: NodeRef
    wipe_disk: bool = False
    how: Literal["kill", "silent"] = "kill"


class RestartFault(_FaultBase):
    """Start a crashed node again (its durable state intact, unless its crash wiped the disk)."""

    action: Literal["restart"]
    node: NodeRef


class ClientRestartFault(_FaultBase):
    """An application server restarts: the operations it was waiting for are lost (each ends
    ``failed``), and so are its topology, connections and failure counters. After
    ``downtime`` it starts again from its URL list (``clients.urls``), falling back on the
    topology cached on disk when no listed node answers."""

    action: Literal["client_restart"]
    client: str = Field(min_length=1, description="A client name (client1, ...), or 'all'")
    downtime: Duration = Field("0 s", ge=0, description="How long the application is down before it starts again")


class ShutdownFault(_Lasting):
    """Graceful shutdown: new requests are refused, requests in flight and pending disk
    writes finish (up to ``grace``), then the process stops."""

    action: Literal["shutdown"]
    node: NodeRef
    grace: Duration = Field("5 s", description="Longest wait for in-flight work before stopping anyway")


class PauseFault(_FaultBase):
    """The process freezes (a long GC pause, a VM stall): it sends and handles nothing
    for ``duration``, then carries on with its state; what arrived meanwhile is handled
    then. Timers that came due during the pause act at once on resume (a model
    simplification: their messages leave when the pause ends)."""

    action: Literal["pause"]
    node: NodeRef
    duration: Duration


class PartitionFault(_Lasting):
    """Endpoints in different groups cannot reach each other. Groups list node tags,
    client names and data-centre names; nodes not listed form one more group, and
    clients not listed reach everyone. ``one_way``: only traffic *from* the first group
    to the others is cut; the other direction still flows. A new partition replaces
    the previous one; ``heal`` ends it."""

    action: Literal["partition"]
    groups: tuple[tuple[EndpointRef, ...], ...] = Field(min_length=1)

    @field_validator("groups")
    @classmethod
    def _no_empty_group(cls, groups: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
        if any(not g for g in groups):
            msg = "a group is empty; list at least one node, client or data centre in each"
            raise ValueError(msg)
        return groups

    one_way: bool = False


class HealFault(_FaultBase):
    """End the current partition (a dark data centre stays cut off)."""

    action: Literal["heal"]


class DegradeLinkFault(_Lasting):
    """Degrade the links between two endpoints (nodes, clients or whole data centres),
    both directions: new latency distribution, packet loss, bandwidth."""

    action: Literal["degrade_link"]
    between: tuple[EndpointRef, EndpointRef]
    latency: DurationDist | None = None
    loss: float | None = Field(None, ge=0, lt=1, description="Probability that a segment is lost")
    bandwidth: Bandwidth | None = None


class RestoreLinkFault(_FaultBase):
    """Give the links between two endpoints back their blueprint latency, loss and bandwidth (ends a
    ``degrade_link``)."""

    action: Literal["restore_link"]
    between: tuple[EndpointRef, EndpointRef]


class DatacenterDownFault(_Lasting):
    """A whole data centre goes dark: its nodes stop without a word to anyone (no
    connection resets cross the cut), its links go silent, and the application servers
    there stop issuing requests."""

    action: Literal["datacenter_down"]
    datacenter: str


class DatacenterUpFault(_FaultBase):
    """A dark data centre comes back: its links reconnect, its stopped nodes restart and its
    application servers issue again."""

    action: Literal["datacenter_up"]
    datacenter: str


class ExternalDownFault(_Lasting):
    """An external system (an ETL destination) goes down: every request to it fails."""

    action: Literal["external_down"]
    system: str


class ExternalUpFault(_FaultBase):
    """An external system's outage ends: it accepts requests again."""

    action: Literal["external_up"]
    system: str


class RerouteAction(_FaultBase):
    """The operator points the applications of one data centre at another's (DNS or a load
    balancer): after ``delay`` the operations that would have come from the clients in
    ``from_datacenter`` are issued by the clients in ``to_datacenter`` instead, to the
    database those clients use (in a deployment, possibly another cluster's: clients never
    fail over across clusters on their own [spec §5.3, §7.8])."""

    action: Literal["reroute"]
    from_datacenter: str
    to_datacenter: str
    delay: Duration = Field("60 s", description="Until the change takes effect (a DNS TTL, an estimate)")


class SlowDiskFault(_Lasting):
    """The node's disk gets slower: fsync times multiplied by ``factor`` or drawn from ``fsync``."""

    action: Literal["slow_disk"]
    node: NodeRef
    factor: float | None = Field(None, gt=0)
    fsync: DurationDist | None = None


class FillDiskFault(_Lasting):
    """The disk fills: the database faults [spec §2.3: 'something as simple as a full
    disk can fault the database']: requests answer 503, replication stops, the node
    reports no status, so the observer rotates it (5 s) and moves it to rehab (60 s)."""

    action: Literal["fill_disk"]
    node: NodeRef


class FreeDiskFault(_FaultBase):
    """Space is freed on a full disk: the database recovers and replication resumes."""

    action: Literal["free_disk"]
    node: NodeRef


class BulkUpdateAction(_FaultBase):
    """An operator (or a bad deployment) patches every document of a collection at once on
    the database's preferred node: one new version of each, which then replicates like any
    write, the "bad mass update" a delayed replica protects against [spec §7.9]."""

    action: Literal["bulk_update"]
    collection: str


class ClockSkewFault(_FaultBase):
    """Set a node's clock offset (used for last-modified, so resolve-to-latest)."""

    action: Literal["clock_skew"]
    node: NodeRef
    skew: SignedDuration


class CreateDatabaseAction(_FaultBase):
    """An operator creates a database: a Raft command; placement per spec §2.1."""

    action: Literal["create_database"]
    name: str = Field(min_length=1)
    replication_factor: int = Field(3, ge=1)


class DeployIndexAction(_FaultBase):
    """An operator (or the query optimiser) deploys an index: a Raft command [spec §1.7]."""

    action: Literal["deploy_index"]
    name: str


class MoveToEndAction(_FaultBase):
    """An operator moves a node to the end of the database's member list (a Raft
    topology command), so clients stop preferring it [spec §8.16]."""

    action: Literal["move_to_end"]
    node: NodeRef


class SuspendObserverAction(_Lasting):
    """An operator suspends the Cluster Observer (``POST /admin/cluster/observer/suspend``),
    e.g. for maintenance [spec §2.2]. It still collects the nodes' reports but decides
    nothing: no rotation of the preferred node, no rehab, no promotion, no replacement.
    As in RavenDB (ClusterObserver.cs, ``Suspended`` of the observer of one leader term) a
    new leader's observer starts unsuspended. Without a leader nothing happens.
    ``duration`` resumes it."""

    action: Literal["suspend_observer"]


class ResumeObserverAction(_FaultBase):
    """The operator resumes the Cluster Observer (``suspend?value=false``)."""

    action: Literal["resume_observer"]


class PromoteAction(_FaultBase):
    """An operator promotes a watcher (``POST /admin/cluster/promote``): a Raft topology change
    that needs a majority; it makes the node a promotable, and the leader makes it a voting
    member once it has the whole log [spec §1.2]. Without a majority it does not happen."""

    action: Literal["promote"]
    node: NodeRef


class DemoteAction(_FaultBase):
    """An operator demotes a member (or a promotable) to watcher (``POST /admin/cluster/demote``):
    a Raft topology change that needs a majority; the node keeps its databases and tasks but
    no longer votes. RavenDB refuses to demote the leader."""

    action: Literal["demote"]
    node: NodeRef


class AddToGroupAction(_FaultBase):
    """An operator adds a node to the database group (``AddDatabaseNodeOperation``): a Raft
    command that needs a majority. The node joins as a promotable with the replication factor
    one higher; one mentor (``mentor``, a member, or else RavenDB's choice among the members)
    seeds it, throttled (``observer.seeding_rate``), which costs the mentor disk reads, CPU and
    link bandwidth; it serves no clients until the observer promotes it [spec §2.5]."""

    action: Literal["add_to_group"]
    node: NodeRef
    mentor: NodeTag | None = Field(None, description="PredefinedMentor: the member that seeds it (a member)")


class RemoveFromGroupAction(_FaultBase):
    """An operator removes a node from the database group (``DeleteDatabasesOperation`` with
    ``fromNode``): a Raft command that needs a majority; the replication factor drops by one,
    the node deletes its copy, and clients learn the new topology from the etag on their next
    response [spec §2.5]."""

    action: Literal["remove_from_group"]
    node: NodeRef


class RollingRestartPlan(_FaultBase):
    """Maintenance: restart nodes one at a time [spec §8.16]. With ``drain`` each node is
    first moved to the end of the member list and the plan waits ``drain_wait`` for
    clients to refresh their topology; then the node shuts down (gracefully unless
    ``graceful`` is false), stays down for ``downtime``, restarts, and the plan waits
    ``gap`` before the next node."""

    action: Literal["rolling_restart"]
    nodes: tuple[NodeTag, ...] | None = Field(None, min_length=1, description="Order of restarts (default: every node)")
    downtime: Duration = Field("30 s")
    gap: Duration = Field("30 s", description="Wait after a node is back before taking the next one down")
    drain: bool = False
    drain_wait: Duration = Field("5 s", description="Time for clients to pick up the new member order")
    graceful: bool = True


class RandomFailures(_FaultBase):
    """Independent node failures: each node fails after a time-to-failure draw and is
    repaired after a time-to-repair draw, again and again (an alternating renewal process)."""

    action: Literal["random_failures"]
    nodes: tuple[NodeTag, ...] | None = Field(None, min_length=1, description="Default: every node")
    time_to_failure: DurationDist
    time_to_repair: DurationDist
    wipe_disk: bool = False
    silent_share: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="Share of failures in which the machine vanishes silently (how: silent) rather than its "
        "process dying with connection resets (how: kill). 0 keeps every failure a killed process; "
        "set it from your own incident history (power, kernel and hypervisor failures)",
    )
    until: Duration | None = Field(None, description="No new failures after this time")


class RandomDatacenterFailures(_FaultBase):
    """Correlated failures: a whole data centre fails and comes back, again and again."""

    action: Literal["random_datacenter_failures"]
    datacenters: tuple[str, ...] | None = Field(None, description="Default: every data centre")
    time_to_failure: DurationDist
    time_to_repair: DurationDist
    until: Duration | None = None


Fault = Annotated[
    CrashFault
    | RestartFault
    | ClientRestartFault
    | ShutdownFault
    | PauseFault
    | PartitionFault
    | HealFault
    | DegradeLinkFault
    | RestoreLinkFault
    | DatacenterDownFault
    | DatacenterUpFault
    | ExternalDownFault
    | ExternalUpFault
    | RerouteAction
    | SlowDiskFault
    | FillDiskFault
    | FreeDiskFault
    | ClockSkewFault
    | BulkUpdateAction
    | CreateDatabaseAction
    | DeployIndexAction
    | MoveToEndAction
    | SuspendObserverAction
    | ResumeObserverAction
    | PromoteAction
    | DemoteAction
    | AddToGroupAction
    | RemoveFromGroupAction
    | RollingRestartPlan
    | RandomFailures
    | RandomDatacenterFailures,
    Field(discriminator="action"),
]
FAULT_ACTIONS = (
    "crash",
    "restart",
    "shutdown",
    "pause",
    "partition",
    "heal",
    "degrade_link",
    "restore_link",
    "datacenter_down",
    "datacenter_up",
    "external_down",
    "external_up",
    "reroute",
    "slow_disk",
    "fill_disk",
    "free_disk",
    "clock_skew",
    "bulk_update",
    "create_database",
    "deploy_index",
    "move_to_end",
    "suspend_observer",
    "resume_observer",
    "promote",
    "demote",
    "add_to_group",
    "remove_from_group",
    "rolling_restart",
    "random_failures",
    "random_datacenter_failures",
    "client_restart",
)
PLANS = ("rolling_restart", "random_failures", "random_datacenter_failures")


# ----------------------------------------------------------------------------- scenario


class Scenario(Strict):
    """One run: a blueprint, its clients, a workload and a fault plan, with a seed and a simulated
    duration. Loaded and checked by :func:`workbench.scenario.load.load_scenario`."""

    name: str
    description: str = ""
    seed: int = Field(1, ge=0, lt=2**63)
    duration: Duration = Field("60 s")
    warmup: Duration = Field("0 s", description="Operations that start earlier are left out of the summary")
    sample_interval: Duration = Field("1 s", description="Period of the timeseries samples")
    elide_idle: bool = Field(
        True,
        description="Skip ahead while the cluster is idle and steady: heartbeats, observer samples and "
        "replication keep-alives that cannot change anything are not simulated one by one (docs/speed.md)",
    )
    max_operations: int = Field(
        50_000_000,
        ge=1,
        description="A run whose workload would issue more operations than this is refused before it "
        "starts, with the estimate (50 million: about ten minutes and 2.5 GiB of results on a laptop); "
        "raise it to run a bigger one on purpose",
    )
    blueprint: Blueprint
    clients: ClientSpec = ClientSpec()
    workload: Workload = Workload()
    faults: tuple[Fault, ...] = ()


class DeploymentScenario(Scenario):
    """A scenario whose blueprint is a deployment of several clusters. Each cluster runs
    the clients placed in its data centres, with its share of the workload's rate; the
    fault plan names a cluster for node actions."""

    blueprint: Deployment  # type: ignore[assignment]

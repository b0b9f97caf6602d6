"""A blueprint: one cluster's topology and settings. Data centres and nodes, the servers'
hardware, the network between them, the database group (conflict resolution, ongoing tasks),
replication, Rachis (Raft) and the cluster observer, with the catalogue's notes.

Defaults cite ``shared/docs/ravendb-behaviour.md`` (section in brackets); hardware and
network numbers that RavenDB does not define are engineering estimates, each marked so."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from workbench.scenario.spec.base import NodeTag, Strict
from workbench.scenario.spec.tasks import ExternalSystem, OngoingTask
from workbench.scenario.types import Bandwidth, Duration, DurationDist, SignedDuration, Size


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
    # The cost of density (issue 23, item 2; docs/databases.md, "What a database costs").
    memory: Size = Field(
        "32 GiB",
        description="The server's memory: AWS's general-purpose pairing for 8 vCPUs (m6i.2xlarge); an estimate, "
        "set your own",
    )
    page_cache_share: float = Field(
        0.75,
        gt=0,
        le=1,
        description="Share of the memory the page cache (Voron's memory-mapped data) can use once the OS and the "
        "server's own allocations are served (an estimate)",
    )
    memory_per_database: Size = Field(
        "32 MiB",
        description="Memory each active database takes for itself before the page cache (scratch and journal "
        "buffers, merger and replication handlers; Voron lets each grow to 256 MB): an estimate, chosen so "
        "that about 100 active databases leave a 32 GiB server most of its cache and 800-900 leave it none "
        "(768 take all 24 GiB of its page cache), "
        "as the book describes (tests/validation/test_density.py)",
    )
    page_read: DurationDist = Field(
        "lognormal(median=0.5 ms, sigma=0.5)",
        description="A page-cache miss: one random read of a document's pages from the disk (network-attached "
        "SSD, to match the fsync default; local NVMe is nearer 0.1 ms)",
    )
    read_parallelism: int = Field(
        4,
        ge=1,
        le=1024,
        description="Page reads the disk serves at once (its queue depth): 4 at 0.5 ms is about 8,000 reads/s, "
        "above gp3's 3,000 IOPS baseline plus burst",
    )
    background_cores_per_database: float = Field(
        0.002,
        ge=0,
        description="CPU each active database beyond the first on a node keeps busy in the background (its "
        "transaction merger, replication loops, maintenance reports, idle flushes), in cores: 0.002 is 2 ms of "
        "CPU per second. The service times describe a server with one active database, its background "
        "included; the workers serve requests the more slowly the more the background takes (an estimate)",
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
    load: float = Field(
        1.0,
        ge=0.0,
        description="This database's share of the workload's sessions, as a weight against the cluster's other "
        "databases (a session works on one database, as a RavenDB session does); 0: it serves no requests",
    )
    keys: int | None = Field(
        None, ge=1, description="Documents in this database; default workload.keys (popularity keeps its shape)"
    )


class DatabasePopulation(Strict):
    """Many generated databases on one cluster (the book's "a hundred or so active databases per
    node"): ``count`` databases named ``{name_prefix}-0001`` ..., each placed by RavenDB's rule
    [spec §2.1], with a replication factor drawn from the ``replication_factor`` mix, a share of
    the load (``load``: equal, or Zipf over the databases in name order, so the first is the
    busiest) and a size (documents: lognormal around ``keys``). The draws come from the
    population's own ``seed``, so every run of a study sees the same databases."""

    count: int = Field(ge=1, le=5000, description="How many databases")
    name_prefix: str = Field("db", pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$")
    replication_factor: int | dict[int, float] = Field(
        3, description="One replication factor, or a mix {rf: share}, e.g. {2: 0.5, 3: 0.5}"
    )
    load: Literal["equal", "zipf"] = Field("equal", description="How the workload's sessions spread over them")
    zipf_exponent: float = Field(1.0, ge=0.0, le=5.0, description="With load: zipf")
    keys: int | None = Field(None, ge=1, description="Median documents per database; default workload.keys")
    keys_sigma: float = Field(
        0.0, ge=0.0, le=3.0, description="Spread of the sizes (lognormal sigma); 0: every database the same size"
    )
    dynamic_distribution: bool = False
    conflicts: ConflictResolution = ConflictResolution()
    seed: int = Field(1, ge=0, description="Draws the mix and the sizes; change it for another population")

    def expand(self) -> tuple[DatabaseSpec, ...]:
        """The generated databases, in name order."""
        rng = np.random.default_rng([self.seed, self.count])
        n = self.count
        mix = self.replication_factor if isinstance(self.replication_factor, dict) else {self.replication_factor: 1}
        factors = sorted(mix)
        weights = np.array([mix[f] for f in factors], dtype=float)
        # Exact shares (largest remainder), then shuffled: the mix is what was asked, not a draw of it.
        exact = weights / weights.sum() * n
        counts = np.floor(exact).astype(int)
        for k in np.argsort(-(exact - counts), kind="stable")[: n - int(counts.sum())]:
            counts[k] += 1
        rfs = np.repeat(factors, counts)
        rng.shuffle(rfs)
        loads = np.arange(1, n + 1, dtype=float) ** (-self.zipf_exponent) if self.load == "zipf" else np.ones(n)
        keys: list[int | None] = [self.keys] * n
        if self.keys is not None and self.keys_sigma > 0:
            drawn = np.maximum(1, np.rint(self.keys * rng.lognormal(0.0, self.keys_sigma, n))).astype(int)
            keys = [int(k) for k in drawn]
        width = max(4, len(str(n)))
        return tuple(
            DatabaseSpec(
                name=f"{self.name_prefix}-{i + 1:0{width}d}",
                replication_factor=int(rfs[i]),
                dynamic_distribution=self.dynamic_distribution,
                conflicts=self.conflicts,
                load=float(loads[i]),
                keys=keys[i],
            )
            for i in range(n)
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
    databases: tuple[DatabaseSpec, ...] = Field(
        (),
        description="Several databases on this cluster, each with its own group, replication factor, placement, "
        "conflict policy, tasks and share of the load; the first is the one faults and operator actions address "
        "(give this or database, not both)",
    )
    database_population: DatabasePopulation | None = Field(
        None, description="Generated databases, after those of database/databases (alone: they are all of them)"
    )
    replication: ReplicationSpec = ReplicationSpec()
    cluster: ClusterSpec = ClusterSpec()
    observer: ObserverSpec = ObserverSpec()
    externals: tuple[ExternalSystem, ...] = Field(
        (), description="Systems outside the cluster that ongoing tasks write to"
    )

    @model_validator(mode="after")
    def _primary_database(self) -> ClusterParts:
        # ``database`` names the cluster's first database wherever a single one is meant (faults,
        # operator actions, reports): the first of ``databases``, or of the population alone.
        if "database" in self.model_fields_set and self.databases and self.database != self.databases[0]:
            # (A recorded scenario carries both, database being the first of databases.)
            msg = "give either database (one) or databases (several), not both"
            raise ValueError(msg)
        if "database" not in self.model_fields_set:
            first = self.databases[:1] or (self.database_population.expand()[:1] if self.database_population else ())
            if first:
                object.__setattr__(self, "database", first[0])
        return self

    def declared_databases(self) -> tuple[DatabaseSpec, ...]:
        """The databases written out: ``databases``, or ``database`` (unless a population alone
        declares them, ``database`` then being its first)."""
        if self.databases:
            return self.databases
        pop = self.database_population
        if pop is None or ("database" in self.model_fields_set and self.database != pop.expand()[0]):
            return (self.database,)
        return ()

    def all_databases(self) -> tuple[DatabaseSpec, ...]:
        """Every database of the cluster, in order: the declared ones, then the generated ones
        (the first is ``database``)."""
        generated = self.database_population.expand() if self.database_population is not None else ()
        return self.declared_databases() + generated


class Blueprint(ClusterParts, _Catalogued):
    """A topology: data centres, nodes, hardware, network, the database group and the
    cluster's settings, with the catalogue's notes on what it is for [spec §7]. A
    blueprint file may also carry a ``clients`` section: the clients it is meant to be
    run with (placement, read balance); the scenario's ``clients`` is merged over it."""

    network: NetworkSpec = NetworkSpec()

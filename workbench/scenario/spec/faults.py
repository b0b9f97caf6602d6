"""The fault plan: what can happen to the cluster and when. Each action (a crash, a partition,
an operator's command, a failure process) is a model tagged by ``action``; ``Fault`` is their
discriminated union. An action fires ``at`` a time or ``after`` an event (``Trigger``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from workbench.errors import did_you_mean
from workbench.scenario.spec.base import NodeTag, Strict
from workbench.scenario.types import Bandwidth, Duration, DurationDist, SignedDuration

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


class _OnDatabase(_FaultBase):
    database: str | None = Field(
        None,
        description="The database it acts on, by name (a cluster of several databases); default: the cluster's "
        "first. A node given as 'preferred' is this database's preferred node",
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


class BulkUpdateAction(_OnDatabase):
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


class MoveToEndAction(_OnDatabase):
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


class AddToGroupAction(_OnDatabase):
    """An operator adds a node to the database group (``AddDatabaseNodeOperation``): a Raft
    command that needs a majority. The node joins as a promotable with the replication factor
    one higher; one mentor (``mentor``, a member, or else RavenDB's choice among the members)
    seeds it, throttled (``observer.seeding_rate``), which costs the mentor disk reads, CPU and
    link bandwidth; it serves no clients until the observer promotes it [spec §2.5]."""

    action: Literal["add_to_group"]
    node: NodeRef
    mentor: NodeTag | None = Field(None, description="PredefinedMentor: the member that seeds it (a member)")


class RemoveFromGroupAction(_OnDatabase):
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

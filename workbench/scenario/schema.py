"""The scenario schema: strict, frozen, typed models (pydantic v2).

A scenario = a blueprint (the topology and its hardware) + clients + a workload
+ a fault plan, with a seed and a duration. Unknown keys are errors, every
model is frozen, and cross-field rules (a fault naming a node that does not
exist, a replication factor larger than the cluster) are checked by
:func:`workbench.scenario.checks.check_scenario` with the field path in the message.

This module defines the root, :class:`Scenario` (and :class:`DeploymentScenario`), and is
where every model is imported from; the models themselves live by concern in
:mod:`workbench.scenario.spec`: ``base`` (``Strict``), ``cluster`` (the blueprint),
``tasks``, ``deployment``, ``clients``, ``workload`` and ``faults``.

Defaults and where they come from
---------------------------------
RavenDB behaviour defaults cite ``shared/docs/ravendb-behaviour.md`` (section in
brackets). Hardware and network numbers that RavenDB does not define are
engineering estimates for a current cloud server; each says so next to it and
every one of them can be set in the scenario.
"""

from __future__ import annotations

from pydantic import Field

from workbench.scenario.spec.base import NodeTag, Strict
from workbench.scenario.spec.clients import (
    ClientGroup,
    ClientSpec,
    HealthCheck,
    WriteAssurance,
)
from workbench.scenario.spec.cluster import (
    Blueprint,
    ClusterParts,
    ClusterSpec,
    ConflictResolution,
    DatabasePopulation,
    DatabaseSpec,
    Datacenter,
    Hardware,
    LinkLatency,
    NetworkSpec,
    NodeSpec,
    ObserverSpec,
    RegionLatency,
    ReplicationSpec,
    ServiceTimes,
)
from workbench.scenario.spec.deployment import (
    LINK_KINDS,
    ClusterLink,
    ClusterName,
    Deployment,
    DeploymentCluster,
    ExternalReplicationLink,
    HubSinkLink,
    RavenEtlLink,
)
from workbench.scenario.spec.faults import (
    FAULT_ACTIONS,
    PLANS,
    ROLE_TARGETS,
    TRIGGER_EVENTS,
    AddToGroupAction,
    BulkUpdateAction,
    ClientRestartFault,
    ClockSkewFault,
    CrashFault,
    CreateDatabaseAction,
    DatacenterDownFault,
    DatacenterUpFault,
    DegradeLinkFault,
    DemoteAction,
    DeployIndexAction,
    EndpointRef,
    ExternalDownFault,
    ExternalUpFault,
    Fault,
    FillDiskFault,
    FreeDiskFault,
    HealFault,
    MoveToEndAction,
    NodeRef,
    PartitionFault,
    PauseFault,
    PromoteAction,
    RandomDatacenterFailures,
    RandomFailures,
    RemoveFromGroupAction,
    RerouteAction,
    RestartFault,
    RestoreLinkFault,
    ResumeObserverAction,
    RollingRestartPlan,
    ShutdownFault,
    SlowDiskFault,
    SuspendObserverAction,
    Trigger,
)
from workbench.scenario.spec.tasks import (
    BackupTask,
    EtlBatchLimits,
    ExternalSystem,
    OngoingTask,
    SqlEtlTask,
    SubscriptionTask,
)
from workbench.scenario.spec.workload import (
    ARRIVAL_FIELDS,
    ARRIVAL_KINDS,
    Arrivals,
    Burst,
    Hotspot,
    OpMix,
    RandomBursts,
    Tenants,
    TimeOfDay,
    TracePath,
    TraceWindow,
    Workload,
)
from workbench.scenario.types import Duration

__all__ = [
    "ARRIVAL_FIELDS",
    "ARRIVAL_KINDS",
    "FAULT_ACTIONS",
    "LINK_KINDS",
    "PLANS",
    "ROLE_TARGETS",
    "TRIGGER_EVENTS",
    "AddToGroupAction",
    "Arrivals",
    "BackupTask",
    "Blueprint",
    "BulkUpdateAction",
    "Burst",
    "ClientGroup",
    "ClientRestartFault",
    "ClientSpec",
    "ClockSkewFault",
    "ClusterLink",
    "ClusterName",
    "ClusterParts",
    "ClusterSpec",
    "ConflictResolution",
    "CrashFault",
    "CreateDatabaseAction",
    "DatabasePopulation",
    "DatabaseSpec",
    "Datacenter",
    "DatacenterDownFault",
    "DatacenterUpFault",
    "DegradeLinkFault",
    "DemoteAction",
    "DeployIndexAction",
    "Deployment",
    "DeploymentCluster",
    "DeploymentScenario",
    "EndpointRef",
    "EtlBatchLimits",
    "ExternalDownFault",
    "ExternalReplicationLink",
    "ExternalSystem",
    "ExternalUpFault",
    "Fault",
    "FillDiskFault",
    "FreeDiskFault",
    "Hardware",
    "HealFault",
    "HealthCheck",
    "Hotspot",
    "HubSinkLink",
    "LinkLatency",
    "MoveToEndAction",
    "NetworkSpec",
    "NodeRef",
    "NodeSpec",
    "NodeTag",
    "ObserverSpec",
    "OngoingTask",
    "OpMix",
    "PartitionFault",
    "PauseFault",
    "PromoteAction",
    "RandomBursts",
    "RandomDatacenterFailures",
    "RandomFailures",
    "RavenEtlLink",
    "RegionLatency",
    "RemoveFromGroupAction",
    "ReplicationSpec",
    "RerouteAction",
    "RestartFault",
    "RestoreLinkFault",
    "ResumeObserverAction",
    "RollingRestartPlan",
    "Scenario",
    "ServiceTimes",
    "ShutdownFault",
    "SlowDiskFault",
    "SqlEtlTask",
    "Strict",
    "SubscriptionTask",
    "SuspendObserverAction",
    "Tenants",
    "TimeOfDay",
    "TracePath",
    "TraceWindow",
    "Trigger",
    "Workload",
    "WriteAssurance",
]


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

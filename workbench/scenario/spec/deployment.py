"""A deployment of several clusters: each cluster's parts, the network they share and the
links between them (external replication, hub/sink, RavenDB ETL: a discriminated union on
``kind``) [spec §5.2-5.4, §7.8]. How a deployment is split into one scenario per cluster is
:mod:`workbench.scenario.deployment`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from workbench.scenario.spec.base import NodeTag, Strict
from workbench.scenario.spec.cluster import ClusterParts, NetworkSpec, _Catalogued
from workbench.scenario.spec.tasks import _EtlSettings
from workbench.scenario.types import Duration

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

"""The application servers: RavenDB's RequestExecutor [spec §4] (placement, read and load
balance, timeouts, the URL list and topology cache), its health checks and write assurance."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from workbench.scenario.spec.base import Strict
from workbench.scenario.types import Duration, Size


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

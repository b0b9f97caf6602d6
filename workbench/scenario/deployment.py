"""A deployment scenario split into one scenario per cluster [spec §7.8, §7.9, §7.11].

Each cluster of a deployment runs as its own model (``workbench.model.assembly.world.World``) on
one shared clock. Its scenario is the deployment's, narrowed to that cluster:

- the blueprint: the cluster's nodes, database and settings, with the deployment's data
  centres and network (so a data centre going dark means the same in every cluster);
- the clients placed in the data centres where the cluster has nodes (applications point
  only at their local cluster [spec §7.8]); a cluster with none gets one application
  server that issues nothing (an off-site replica, say);
- the workload, with its rate (or closed-loop users) shared out in proportion to the
  clients; the key space is the same everywhere (the clusters hold the same documents);
  a replayed trace is read by every cluster with clients, each replaying the rows routed
  to it (``TraceRoute``: by the row's cluster, client, region, else by the clusters' share
  of the clients);
- the faults: those naming the cluster, and every data-centre action (``datacenter_down``,
  ``datacenter_up``, a partition or degraded link between data centres, ``heal``), which
  each cluster applies to its own nodes and the deployment to the links between clusters.
  ``reroute`` is the deployment's (it moves load between clusters), and so is
  ``random_datacenter_failures``: drawn once for the deployment, every outage hits every
  cluster there at the same instant.

The split is checked like any scenario; an error names the deployment's own field path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from workbench.errors import WorkbenchInputError, did_you_mean, one_of
from workbench.scenario.schema import (
    Arrivals,
    Blueprint,
    ClientGroup,
    ClientSpec,
    ClusterParts,
    DeploymentScenario,
    Scenario,
)
from workbench.scenario.trace import TraceRoute

# Actions on data centres rather than nodes: every cluster applies them to its own part.
DATACENTRE_ACTIONS = ("datacenter_down", "datacenter_up", "heal")
# Drawn once for the whole deployment and applied to every cluster with something in the data
# centre (and to the bridge): the deployment runs it, so no cluster's part carries it.
DEPLOYMENT_WIDE = ("random_datacenter_failures",)


@dataclass(frozen=True)
class ClusterPart:
    """One cluster's scenario, and where its pieces came from in the deployment's."""

    name: str
    index: int
    scenario: Scenario
    fault_origin: tuple[int, ...]  # faults[j] of the part is faults[fault_origin[j]] of the deployment
    client_origin: tuple[int, ...]  # clients.placement[j] likewise
    clients: int  # application servers that issue operations (0: the idle stand-in)
    trace_route: TraceRoute | None = None  # a replayed trace: which of its rows are this cluster's


def is_datacentre_fault(fault: Any, datacentres: set[str]) -> bool:
    """True for an action that names only data centres (or none: heal)."""
    if fault.action in DATACENTRE_ACTIONS:
        return True
    if fault.action == "partition":
        return all(ref in datacentres for group in fault.groups for ref in group)
    if fault.action in ("degrade_link", "restore_link"):
        return all(ref in datacentres for ref in fault.between)
    return False


def split(s: DeploymentScenario, source: str = "<scenario>") -> list[ClusterPart]:
    """One scenario per cluster. Raises WorkbenchInputError with the deployment's path."""
    base_workload = s.workload

    def fail(path: str, message: str) -> None:
        """Raise the input error at the deployment's field ``path``."""
        raise WorkbenchInputError(message, source=source, path=path)

    dep = s.blueprint
    names = [c.name for c in dep.clusters]
    for i, name in enumerate(names):
        if names.count(name) > 1:
            fail(f"blueprint.clusters[{i}].name", f"cluster '{name}' is defined twice")
    dcs = {dc.name for dc in dep.datacenters}
    link_names = [link.name for link in dep.links]
    for i, link in enumerate(dep.links):
        here = f"blueprint.links[{i}]"
        if link_names.count(link.name) > 1:
            fail(f"{here}.name", f"link '{link.name}' is defined twice; names must be unique")
        ends = ("hub", "sink") if link.kind == "hub_sink" else ("source", "destination")
        for end in ends:
            ref = getattr(link, end)
            if ref not in names:
                fail(f"{here}.{end}", f"no cluster '{ref}'{did_you_mean(ref, names)}; clusters: {one_of(names)}")
        if getattr(link, ends[0]) == getattr(link, ends[1]):
            fail(f"{here}.{ends[1]}", f"a {link.kind} link joins two different clusters")
        owner = dep.clusters[names.index(link.sink if link.kind == "hub_sink" else link.source)]
        tags = [n.tag for n in owner.nodes]
        if link.mentor is not None and link.mentor not in tags:
            fail(
                f"{here}.mentor",
                f"cluster '{owner.name}' has no node '{link.mentor}'{did_you_mean(link.mentor, tags)}; "
                f"its nodes: {one_of(tags)}",
            )

    # Which cluster serves each data centre's applications.
    serving: dict[str, str] = {}
    for c in dep.clusters:
        for node in c.nodes:
            serving.setdefault(node.datacenter, c.name)
    groups: dict[str, list[tuple[int, ClientGroup]]] = {name: [] for name in names}
    if s.clients.placement:
        placed = list(enumerate(s.clients.placement))
    else:
        dc = s.clients.datacenter or dep.datacenters[0].name
        placed = [(-1, ClientGroup(datacenter=dc, zone=s.clients.zone, count=s.clients.count))]
    for i, group in placed:
        path = f"clients.placement[{i}].datacenter" if i >= 0 else "clients.datacenter"
        if group.datacenter not in dcs:
            continue  # the per-cluster check names it
        owner_name = serving.get(group.datacenter)
        if owner_name is None:
            fail(
                path,
                f"no cluster has nodes in data centre '{group.datacenter}'; applications use their local "
                f"cluster [spec §7.8]: place them in {one_of(sorted(serving))}",
            )
        groups[owner_name].append((i, group))
    total = sum(g.count for gs in groups.values() for _i, g in gs)

    route = _trace_route(s, names, groups) if s.workload.arrivals.kind == "trace" else None

    parts = []
    for index, c in enumerate(dep.clusters):
        mine = groups[c.name]
        count = sum(g.count for _i, g in mine)
        share = count / total if total else 0.0
        faults, origin = [], []
        here_dcs = {n.datacenter for n in c.nodes} | {g.datacenter for _i, g in mine}
        partitioned = any(
            f.action == "partition" and f.cluster is None and is_datacentre_fault(f, dcs) and _touches(f, here_dcs)
            for f in s.faults
        )
        for j, fault in enumerate(s.faults):
            if fault.action in DEPLOYMENT_WIDE:
                if index == 0:
                    _check_deployment_wide(fault, f"faults[{j}]", dcs, fail)
                continue
            if fault.action == "reroute":
                continue
            if fault.cluster is None:
                if is_datacentre_fault(fault, dcs):
                    if fault.after is not None:
                        fail(
                            f"faults[{j}].after",
                            "a data-centre action in a deployment needs 'at': each cluster has its own events",
                        )
                    # Only the clusters with something there see it (and record it); a heal goes
                    # to every cluster that any partition between data centres reaches.
                    if (fault.action == "heal" and partitioned) or _touches(fault, here_dcs):
                        faults.append(fault)
                        origin.append(j)
                    continue
                if fault.action in ("external_down", "external_up"):
                    hosts = [x.name for x in c.externals]
                    if fault.system in hosts:
                        faults.append(fault)
                        origin.append(j)
                    continue
                if len(names) > 1:
                    fail(
                        f"faults[{j}].cluster",
                        f"say which cluster the {fault.action} is for, one of: {one_of(names)}",
                    )
            elif fault.cluster not in names:
                fail(
                    f"faults[{j}].cluster",
                    f"no cluster '{fault.cluster}'{did_you_mean(fault.cluster, names)}; clusters: {one_of(names)}",
                )
            elif fault.cluster != c.name:
                continue
            faults.append(fault.model_copy(update={"cluster": None}))
            origin.append(j)
        wl = base_workload
        if c.write_collections is not None:
            wl = wl.model_copy(update={"write_collections": c.write_collections})
        workload = wl
        if count:
            workload = _share(wl, share)
            values = {**dict(s.clients), "placement": tuple(g for _i, g in mine), "count": count}
            values.update(datacenter=None, zone=None)
            given = (set(s.clients.model_fields_set) - {"count", "datacenter", "zone"}) | {"placement"}
            clients = ClientSpec.model_construct(_fields_set=given, **values)
        else:
            # No application here: one client that issues nothing, so the model stays whole
            # (plain Poisson arrivals that stop at once, whatever the deployment's kind).
            first_dc = c.nodes[0].datacenter
            clients = ClientSpec(count=1, datacenter=first_dc, read_balance="None")
            workload = wl.model_copy(update={"stop": 0.0, "arrivals": Arrivals()})
        own = {field: getattr(c, field) for field in ClusterParts.model_fields}
        blueprint = Blueprint(
            name=f"{dep.name}/{c.name}",
            description=dep.description,
            datacenters=dep.datacenters,
            network=dep.network,
            **own,
        )
        # Built from validated parts (durations are already seconds), so not validated again.
        scenario = Scenario.model_construct(
            **{
                **dict(s),
                "name": f"{s.name}/{c.name}",
                "blueprint": blueprint,
                "clients": clients,
                "workload": workload,
                "faults": tuple(faults),
            }
        )
        origin_clients = tuple(i for i, _g in mine if i >= 0)
        here_route = replace(route, me=index) if route is not None and count else None
        parts.append(ClusterPart(c.name, index, scenario, tuple(origin), origin_clients, count, here_route))
    return parts


def _check_deployment_wide(fault: Any, here: str, datacentres: set[str], fail: Any) -> None:
    """Random data-centre failures in a deployment: drawn once, at times, for data centres of the
    deployment, hitting every cluster there."""
    if fault.cluster is not None:
        fail(f"{here}.cluster", "random data-centre failures hit every cluster with something there; leave out cluster")
    if fault.after is not None:
        fail(f"{here}.after", "a data-centre action in a deployment needs 'at': each cluster has its own events")
    for k, name in enumerate(fault.datacenters or ()):
        if name not in datacentres:
            fail(
                f"{here}.datacenters[{k}]",
                f"no data centre '{name}'{did_you_mean(name, sorted(datacentres))}; "
                f"data centres: {one_of(sorted(datacentres))}",
            )


def cluster_datacentres(part: ClusterPart) -> set[str]:
    """The data centres where a cluster has nodes or issuing application servers: the ones whose
    outage it sees (and records)."""
    bp = part.scenario.blueprint
    dcs = {n.datacenter for n in bp.nodes}
    if part.clients:
        dcs |= {g.datacenter for g in part.scenario.clients.placement}
    return dcs


def _trace_route(
    s: DeploymentScenario, names: list[str], groups: dict[str, list[tuple[int, ClientGroup]]]
) -> TraceRoute:
    """How a replayed trace's rows are shared among the clusters: each cluster's clients, and how
    many it has in each data centre and region (as the replay's own clients are placed)."""
    regions: dict[str, list[int]] = {}
    for dc in s.blueprint.datacenters:
        regions.setdefault(dc.name, [0] * len(names))
    for dc in s.blueprint.datacenters:
        regions.setdefault(dc.region, [0] * len(names))
    region_of = {dc.name: dc.region for dc in s.blueprint.datacenters}
    for k, name in enumerate(names):
        for _i, group in groups[name]:
            regions[group.datacenter][k] += group.count
            if region_of[group.datacenter] != group.datacenter:
                regions[region_of[group.datacenter]][k] += group.count
    counts = tuple(sum(g.count for _i, g in groups[name]) for name in names)
    return TraceRoute(
        clusters=tuple(names),
        clients=counts,
        regions=tuple((name, tuple(per)) for name, per in regions.items()),
        me=-1,
        seed=s.seed,
    )


def _touches(fault: Any, datacentres: set[str]) -> bool:
    """The data-centre action names one of ``datacentres``."""
    if fault.action == "heal":
        return False  # decided by the partitions it ends
    if fault.action in ("datacenter_down", "datacenter_up"):
        return fault.datacenter in datacentres
    if fault.action == "partition":
        return any(ref in datacentres for group in fault.groups for ref in group)
    return any(ref in datacentres for ref in fault.between)


def _share(wl: Any, share: float) -> Any:
    """The workload with its load scaled to one cluster's share of the clients."""
    a = wl.arrivals
    if a.kind == "closed":
        users = max(1, round((a.users or 1) * share))
        return wl.model_copy(update={"arrivals": a.model_copy(update={"users": users})})
    update: dict[str, Any] = {"rate": wl.rate * share}
    if a.kind == "diurnal":
        arrivals = a.model_copy(
            update={
                "peak": a.peak * share if a.peak is not None else None,
                "trough": a.trough * share if a.trough is not None else None,
            }
        )
        update["arrivals"] = arrivals
    return wl.model_copy(update=update)


def part_path(part: ClusterPart, path: str) -> str:
    """A field path of a cluster's scenario as the deployment's scenario spells it."""
    head, _, rest = path.partition(".")
    if head == "blueprint":
        field = rest.split(".")[0].split("[")[0]
        if field in ("datacenters", "network", "name", "description"):
            return path
        return f"blueprint.clusters[{part.index}].{rest}"
    if path.startswith("faults["):
        j = int(path[len("faults[") : path.index("]")])
        return f"faults[{part.fault_origin[j]}]{path[path.index(']') + 1 :]}"
    if path.startswith("clients.placement[") and part.client_origin:
        j = int(path[len("clients.placement[") : path.index("]")])
        return f"clients.placement[{part.client_origin[j]}]{path[path.index(']') + 1 :]}"
    return path

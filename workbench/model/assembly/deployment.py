"""Several clusters on one clock, joined only by ongoing tasks [spec §7.8, §7.9, §7.11].

A ``Deployment`` builds one ``World`` per cluster (``workbench.scenario.deployment.split``
gives each its scenario) on a shared simulation environment (``environment.Environment``). Each keeps its own consensus,
database group, observer, clients and fault plan: nothing fails over across clusters
[spec §5.3]. What joins them:

- change vectors span every node of every cluster (``world.Placement``: the clusters'
  nodes side by side, then one RAFT entry per cluster), so a version keeps its identity
  when it crosses, and write ids are unique across the deployment;
- the *bridge*: a network over every node of every cluster, with the deployment's data
  centres and latencies, carrying the tasks between clusters (``tasks.cross_cluster``). Data-centre
  actions of the fault plan (a dark data centre, a partition or degraded link between
  data centres) apply to it as well as inside each cluster;
- ``reroute``: the fault-plan action that points one data centre's applications at
  another's clients, possibly in another cluster;
- data at risk (RPO) at a fault counts a write as safe when a live copy in any cluster
  holds it.

Results are the clusters' tables stacked with a ``cluster`` column; node, client and
origin names are qualified with the cluster (``east/A``).

Idle elision (``Quiescence``) is off in a deployment: it was built and checked for one
cluster, and traffic arriving from another cluster is not among what wakes it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import pandas as pd

from workbench.model.assembly.world import REPLICATION_OVERHEAD_BYTES, Placement, World
from workbench.model.clients.workload import reroute
from workbench.model.kernel.environment import Environment
from workbench.model.kernel.kernel import Streams, Timer, events_scheduled, run_until
from workbench.model.kernel.network import Location, Network
from workbench.model.tasks.cross_cluster import Side, make_link
from workbench.scenario.deployment import cluster_datacentres, is_datacentre_fault, split
from workbench.scenario.schema import (
    DatacenterDownFault,
    DatacenterUpFault,
    DegradeLinkFault,
    DeploymentScenario,
    HealFault,
    PartitionFault,
    RandomDatacenterFailures,
    RerouteAction,
    RestoreLinkFault,
)

WRITE_ID_STRIDE = 1 << 40  # write ids of cluster k start at k × this


class Deployment:
    """Several clusters (one :class:`World` each) on one clock, with the bridge network that carries
    the tasks between them; built and run like a ``World`` (``start``, ``run``, ``finish``,
    ``tables``)."""

    def __init__(self, scenario: DeploymentScenario):
        self.scenario = scenario
        self.env = Environment()
        dep = scenario.blueprint
        parts = split(scenario)
        sizes = [len(c.nodes) for c in dep.clusters]
        total = sum(sizes)
        width = total + len(parts)
        tags = tuple(f"{c.name}/{n.tag}" for c in dep.clusters for n in c.nodes)
        self.worlds: dict[str, World] = {}
        self.parts = {part.name: part for part in parts}
        base = 0
        for k, part in enumerate(parts):
            placement = Placement(part.name, base, width, total + k, k * WRITE_ID_STRIDE, tags, part.trace_route)
            sub = part.scenario.model_copy(update={"elide_idle": False})
            world = World(sub, self.env, placement)
            world.group.foreign_copies = lambda w=world: self._foreign_copies(w)
            self.worlds[part.name] = world
            base += sizes[k]
        self.repl_overhead = REPLICATION_OVERHEAD_BYTES
        dcs = {dc.name: dc for dc in dep.datacenters}
        locations = [
            Location(f"{c.name}/{n.tag}", n.datacenter, dcs[n.datacenter].region, n.zone or dcs[n.datacenter].zones[0])
            for c in dep.clusters
            for n in c.nodes
        ]
        self.bridge = Network(self.env, dep.network, locations, Streams(scenario.seed, "bridge/"))
        # What each link sees of a cluster: its pieces, never the cluster's builder.
        sides = {
            name: Side(
                name,
                w.env,
                w.nodes,
                w.cluster,
                w.group,
                w.versions,
                w.keyspace,
                w.replication,
                w.recorder,
                w.streams,
            )
            for name, w in self.worlds.items()
        }
        self.links = []
        for spec in dep.links:
            owner, task = make_link(spec, sides, self.bridge, self.repl_overhead)
            self.worlds[owner].tasks.tasks.append(task)
            self.links.append(task)
        self.dark: set[str] = set()
        # The deployment's own random draws (random data-centre failures), apart from every cluster's.
        self.streams = Streams(scenario.seed, "deployment/")
        # Where each cluster has nodes or application servers: the outages it takes part in.
        self.datacentres = {part.name: cluster_datacentres(part) for part in parts}

    def _foreign_copies(self, world: World) -> list[dict]:
        """The live copies of the other clusters' first databases, which the links join (up, and
        not in a dark data centre)."""
        copies = []
        for other in self.worlds.values():
            if other is world:
                continue
            db = other.group.db
            for node in other.nodes:
                loc = other.network.endpoints[node.index]
                inst = node.instances[db]
                if node.up and inst is not None and loc.datacenter not in self.dark:
                    copies.append(inst.docs)
        return copies

    # -- the deployment's part of the fault plan
    def _plan(self) -> None:
        dcs = {dc.name for dc in self.scenario.blueprint.datacenters}
        for fault in self.scenario.faults:
            if isinstance(fault, RandomDatacenterFailures):
                for name in fault.datacenters or [dc.name for dc in self.scenario.blueprint.datacenters]:
                    self.env.process(self._random_datacenter(name, fault))
            elif isinstance(fault, RerouteAction):
                Timer(self.env, fault.at or 0.0, self._reroute_requested, (fault,))
            elif fault.cluster is None and is_datacentre_fault(fault, dcs):
                Timer(self.env, fault.at or 0.0, self._bridge_fault, (fault,))

    def _random_datacenter(self, name: str, plan: RandomDatacenterFailures) -> Generator[Any, Any, None]:
        """Alternating renewal for one data centre, as a single cluster runs it
        (``FaultInjector._alternate``): up for a time-to-failure draw, dark for a time-to-repair
        draw, until ``plan.until``. Drawn once for the deployment, from its own streams, so every
        cluster sees the same outage: the bridge goes dark first, then each cluster with nodes or
        application servers there takes its part (and records it)."""
        ttf = self.streams.sampler(f"faults.random.dc.{name}.ttf", plan.time_to_failure)
        ttr = self.streams.sampler(f"faults.random.dc.{name}.ttr", plan.time_to_repair)
        until = plan.until if plan.until is not None else math.inf
        worlds = [self.worlds[part] for part, dcs in self.datacentres.items() if name in dcs]
        yield self.env.timeout(plan.at or 0.0)
        while True:
            yield self.env.timeout(ttf())
            if self.env.now >= until:
                return
            self._bridge_fault(DatacenterDownFault(action="datacenter_down", datacenter=name))
            for world in worlds:
                world.faults.datacenter_down(name, label="random datacenter failure")
            yield self.env.timeout(ttr())
            self._bridge_fault(DatacenterUpFault(action="datacenter_up", datacenter=name))
            for world in worlds:
                world.faults.datacenter_up(name)

    def _points(self, dc_names: tuple[str, ...] | list[str]) -> list[int]:
        return [i for i, loc in enumerate(self.bridge.endpoints) if loc.datacenter in dc_names]

    def _bridge_fault(self, fault: Any) -> None:
        bridge = self.bridge
        if isinstance(fault, DatacenterDownFault):
            self.dark.add(fault.datacenter)
            bridge.isolate(f"dc:{fault.datacenter}", self._points([fault.datacenter]))
            if fault.duration is not None:
                up = DatacenterUpFault(action="datacenter_up", datacenter=fault.datacenter)
                Timer(self.env, fault.duration, self._bridge_fault, (up,))
        elif isinstance(fault, DatacenterUpFault):
            self.dark.discard(fault.datacenter)
            bridge.isolate(f"dc:{fault.datacenter}", [])
        elif isinstance(fault, PartitionFault):
            groups = [self._points(list(group)) for group in fault.groups]
            listed = {p for g in groups for p in g}
            rest = [p for p in range(len(bridge.endpoints)) if p not in listed]
            if rest:
                groups.append(rest)
            bridge.partition(groups, one_way=fault.one_way)
            if fault.duration is not None:
                Timer(self.env, fault.duration, self._bridge_fault, (HealFault(action="heal"),))
        elif isinstance(fault, HealFault):
            bridge.heal()
        elif isinstance(fault, DegradeLinkFault):
            pairs = self._pairs(fault.between)
            bridge.degrade(pairs, fault.latency, fault.loss, fault.bandwidth, stream=f"bridge.link.{fault.between}")
            if fault.duration is not None:
                undo = RestoreLinkFault(action="restore_link", between=fault.between)
                Timer(self.env, fault.duration, self._bridge_fault, (undo,))
        elif isinstance(fault, RestoreLinkFault):
            bridge.restore(self._pairs(fault.between))

    def _pairs(self, between: tuple[str, str]) -> list[tuple[int, int]]:
        a, b = (self._points([ref]) for ref in between)
        return [(x, y) for x in a for y in b if x != y] + [(y, x) for x in a for y in b if x != y]

    def _reroute_requested(self, fault: RerouteAction) -> None:
        for world in self._worlds_with_clients_in(fault.from_datacenter):
            world.recorder.event(
                "reroute_requested",
                from_datacenter=fault.from_datacenter,
                to_datacenter=fault.to_datacenter,
                wait_s=fault.delay,
            )
        Timer(self.env, fault.delay, self._reroute, (fault,))

    def _worlds_with_clients_in(self, datacenter: str) -> list[World]:
        out = []
        for name, world in self.worlds.items():
            if self.parts[name].clients and any(
                world.network.endpoints[c.index].datacenter == datacenter for c in world.clients
            ):
                out.append(world)
        return out

    def _reroute(self, fault: RerouteAction) -> None:
        receiving = self._worlds_with_clients_in(fault.to_datacenter)
        targets = [
            c
            for world in receiving
            for c in world.clients
            if world.network.endpoints[c.index].datacenter == fault.to_datacenter
        ]
        # Each receiving cluster has at least one client there, so these are the targets' clusters.
        where = sorted({world.placement.cluster for world in receiving if world.placement is not None})
        for world in self._worlds_with_clients_in(fault.from_datacenter):
            moved = reroute(world.workload, world.clients, world.network, fault.from_datacenter, targets)
            world.recorder.event(
                "rerouted",
                count=len(moved),
                from_datacenter=fault.from_datacenter,
                to_datacenter=fault.to_datacenter,
                clusters=tuple(where),
                value=float(len(moved)),
            )

    # -- running
    def start(self) -> None:
        """Schedule the deployment's own fault actions (reroutes, data-centre faults on the bridge), then
        start every cluster."""
        self._plan()  # first: at the same instant, the bridge changes before the clusters act
        for world in self.worlds.values():
            world.start()

    def run(self, progress: Callable[[float], None] | None = None, steps: int = 100) -> None:
        """Run to the scenario's duration, calling ``progress(now)`` every 1/steps of it."""
        self.start()
        run_until(self.env, self.scenario.duration, progress, steps)

    def finish(self) -> None:
        """End-of-run accounting of every cluster (:meth:`World.finish`)."""
        for world in self.worlds.values():
            world.finish()

    def run_figures(self) -> dict[str, Any]:
        """What the run's provenance says of the model (as :meth:`World.run_figures`): idle elision
        is off in a deployment; the TCP counters add up every cluster's network and the bridge."""
        networks = [world.network for world in self.worlds.values()] + [self.bridge]
        return {
            "sim_seconds": self.env.now,
            "events_processed": self.events_processed,
            "ops_issued": self.ops_issued,
            "idle_elided_seconds": 0.0,
            "idle_parks": 0,
            "network": {
                "segments_stalled": sum(n.segments_stalled for n in networks),
                "connections_broken": sum(n.connections_broken for n in networks),
            },
            "members": self.members,
        }

    @property
    def ops_issued(self) -> int:
        """Operations issued by every client of every cluster."""
        return sum(world.ops_issued for world in self.worlds.values())

    @property
    def events_processed(self) -> int:
        """Events scheduled on the shared clock so far (the speed figures' unit of work)."""
        return events_scheduled(self.env)

    @property
    def members(self) -> dict[str, list[str]]:
        """Each cluster's database group (node tags), by cluster name."""
        return {name: world.members for name, world in self.worlds.items()}

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every cluster's tables, stacked, with a ``cluster`` column and qualified names."""
        return merge_tables({name: world.recorder.tables() for name, world in self.worlds.items()})


def _qualified(column: pd.Series, cluster: str) -> pd.Series:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.rename_categories([f"{cluster}/{c}" for c in column.cat.categories])
    return column.map(lambda v: f"{cluster}/{v}" if isinstance(v, str) and v else v)


def merge_tables(per_cluster: dict[str, dict[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """Stack the clusters' ops, events, replication and timeseries tables into one table each.

    A ``cluster`` column is added first, node, client and destination names are qualified
    (``east/A``), name columns become categories (not in events) and each table is sorted by
    its time column (stable, so a cluster's order within one instant is kept)."""
    qualify = {"ops": ("node", "client"), "events": ("node",), "replication": ("destination",), "timeseries": ()}
    out: dict[str, pd.DataFrame] = {}
    for table, columns in qualify.items():
        frames = []
        for cluster, tables in per_cluster.items():
            frame = tables[table].copy()
            for column in columns:
                frame[column] = _qualified(frame[column], cluster)
            frame.insert(0, "cluster", cluster)
            frames.append(frame)
        merged = pd.concat(frames, ignore_index=True)
        for column in (*columns, "origin", "entity", "metric", "kind", "outcome"):
            if column in merged.columns and merged[column].dtype == object and table != "events":
                merged[column] = merged[column].astype("category")
        merged["cluster"] = merged["cluster"].astype("category")
        sort = {"ops": "start_s", "events": "time_s", "timeseries": "time_s", "replication": "applied_s"}[table]
        out[table] = merged.sort_values(sort, kind="stable", ignore_index=True)
    return out

"""Build the model from a scenario (build, wire, check), then run it.

``World`` owns one simulation environment (``environment.Environment``, SimPy's with the
model's event queue) and everything in it: the network,
the servers, the database group, the clients, the workload, the fault plan and
the recorder. Building is separate from running, and the wiring is checked
before the first event fires.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from workbench.model.assembly.quiescence import Quiescence
from workbench.model.clients.client import Client, DatabaseRouter
from workbench.model.clients.workload import make_workload
from workbench.model.cluster.memory import AccessProfile
from workbench.model.cluster.node import Server
from workbench.model.cluster.observer import Observer
from workbench.model.cluster.rachis import Cluster, DbTopology, RaftNode
from workbench.model.database.database import DatabaseInstance
from workbench.model.database.group import DatabaseGroup, Databases
from workbench.model.database.keyspace import Keyspace
from workbench.model.database.ledger import WriteLedger
from workbench.model.database.versions import Versions
from workbench.model.faults.faults import FaultInjector
from workbench.model.kernel.environment import Environment
from workbench.model.kernel.kernel import Streams, events_scheduled, run_until
from workbench.model.kernel.network import Location, Network
from workbench.model.recording.probes import sample
from workbench.model.recording.recorder import Recorder
from workbench.model.tasks.external import ExternalSystem
from workbench.model.tasks.tasks import Tasks, make_task
from workbench.scenario.schema import DatabaseSpec, Scenario

if TYPE_CHECKING:
    from workbench.scenario.trace import TraceRoute

# Bytes of framing on a replication message (TCP, headers, change vector).
REPLICATION_OVERHEAD_BYTES = 200.0


def place_databases(scenario: Scenario, streams: Streams) -> list[list[str]]:
    """Pick each database's members [spec §2.1], in the cluster's order: the pinned list, or RF
    nodes taken in order from a random offset among the cluster's members and watchers
    (``ServerStore.AssignNodesToDatabase``: promotables are not candidates; every node is
    connected when the databases are created; how many databases a node already hosts does not
    count). One draw per unpinned database, from one stream."""
    bp = scenario.blueprint
    tags = [n.tag for n in bp.nodes if n.role != "promotable"]
    rng = streams.rng("placement")
    placed = []
    for db in bp.all_databases():
        if db.members is not None:
            placed.append(list(db.members))
            continue
        offset = int(rng.integers(0, len(tags)))
        placed.append([tags[(offset + i) % len(tags)] for i in range(db.replication_factor)])
    return placed


class WiringError(RuntimeError):
    """The model was built inconsistently (a bug, not bad input)."""


@dataclass(frozen=True)
class Placement:
    """Where one cluster of a deployment (``workbench.model.assembly.deployment``) sits among the
    others: its name, its nodes' entries in the deployment-wide change vectors, the
    first write id it hands out (write ids are unique across the deployment) and, when the
    deployment replays a trace, which of its rows are this cluster's."""

    cluster: str
    cv_base: int  # entry of its first node
    cv_width: int  # one entry per node of every cluster, then one RAFT entry per cluster
    raft_position: int  # its RAFT entry
    first_write_id: int
    cv_tags: tuple[str, ...]  # the node of each entry, qualified ("east/A"), for the replication table
    trace_route: TraceRoute | None = None  # workbench.scenario.deployment.split's, for a trace replay


class World:
    """One cluster and everything it runs, built from a scenario and wired before the first event:
    network, servers, Rachis, database copies, observer, clients, workload, tasks, fault plan,
    recorder and write ledger. Used alone, or as one cluster of a :class:`Deployment` (then
    sharing its environment and given its ``placement``)."""

    def __init__(self, scenario: Scenario, env: simpy.Environment | None = None, placement: Placement | None = None):
        self.scenario = scenario
        self.env = env if env is not None else Environment()
        self.placement = placement
        streams = Streams(scenario.seed, f"{placement.cluster}/" if placement is not None else "")
        self.streams = streams
        bp = scenario.blueprint
        self.replication = bp.replication
        self.repl_overhead = REPLICATION_OVERHEAD_BYTES
        self.client_overhead = scenario.clients.request_overhead

        # Endpoints: nodes first, then clients.
        dcs = {dc.name: dc for dc in bp.datacenters}
        locations = [
            Location(n.tag, n.datacenter, dcs[n.datacenter].region, n.zone or dcs[n.datacenter].zones[0])
            for n in bp.nodes
        ]
        cspec = scenario.clients
        if cspec.placement:
            sites = [(g.datacenter, g.zone) for g in cspec.placement for _ in range(g.count)]
        else:
            sites = [(cspec.datacenter or bp.datacenters[0].name, cspec.zone)] * cspec.count
        client_names = [f"client{i + 1}" for i in range(len(sites))]
        locations += [
            Location(name, dc, dcs[dc].region, zone or dcs[dc].zones[0])
            for name, (dc, zone) in zip(client_names, sites, strict=True)
        ]
        # External systems (ETL destinations) come last.
        first_external = len(locations)
        for x in bp.externals:
            dc = dcs[x.datacenter or bp.datacenters[0].name]
            locations.append(Location(x.name, dc.name, dc.region, x.zone or dc.zones[0]))
        self.network = Network(self.env, bp.network, locations, streams, servers=len(bp.nodes))
        self.nodes = [
            Server(
                self.env,
                i,
                n.tag,
                bp.hardware,
                streams,
                self.network,
                self.client_overhead,
                self.repl_overhead,
                scenario.clients.write_assurance,
            )
            for i, n in enumerate(bp.nodes)
        ]
        self.node_by_tag = {n.tag: n for n in self.nodes}

        # The cluster's databases, in order: the first is the one faults and operator actions
        # address (``group``); each has its own group, keyspace, etags and write ledger.
        self.database_specs = bp.all_databases()
        placed = place_databases(scenario, streams)
        self.members = placed[0]
        # Change vectors: one entry per node (its index), then the RAFT entry. In a
        # deployment they span every cluster's nodes (Placement), so versions can cross.
        if placement is None:
            self.versions = Versions(0, len(self.nodes) + 1, len(self.nodes), [spec.clock_skew for spec in bp.nodes])
        else:
            self.versions = Versions(
                placement.cv_base,
                placement.cv_width,
                placement.raft_position,
                [spec.clock_skew for spec in bp.nodes],
                placement.first_write_id,
            )
        self.keyspace = Keyspace.from_scenario(scenario)
        self.recorder = Recorder(
            [n.tag for n in self.nodes],
            client_names,
            bp.database.name,
            origin_tags=list(placement.cv_tags) if placement is not None else None,
            databases=[db.name for db in self.database_specs],
        )
        self.recorder.now = lambda: self.env.now
        self.db_name = bp.database.name
        groups = [
            self._make_group(db, spec, members, bp)
            for db, (spec, members) in enumerate(zip(self.database_specs, placed, strict=True))
        ]
        self.databases = Databases(groups, self.nodes, self.recorder)
        self.group = groups[0]
        # Every acknowledged write of the first database, for data at risk, forced promotions and lost writes.
        self.ledger = self.group.ledger
        self.instances = self.group.instances  # the same list, for probes and tests

        self.cluster = Cluster(
            self.env,
            self.network,
            self.nodes,
            self.recorder,
            bp.cluster,
            {n.index: spec.role for n, spec in zip(self.nodes, bp.nodes, strict=True)},
            streams,
            {
                spec.name: DbTopology([self.node_by_tag[t].index for t in members], spec.replication_factor)
                for spec, members in zip(self.database_specs, placed, strict=True)
            },
            on_apply=self.databases.on_cluster_apply,
        )
        for group in groups:
            group.cluster = self.cluster
        for node in self.nodes:
            node.connect(self.recorder, self.versions.zero_cv, groups, self.cluster)
        self.observer: Observer | None = None  # the current leader's
        if bp.observer.enabled:
            self.cluster.on_leader = self._start_observer
        self.quiet = Quiescence(
            self.env,
            self.cluster,
            self.nodes,
            self.network,
            self.databases,
            bp.observer,
            self.replication,
            self.repl_overhead,
            scenario.elide_idle,
        )
        self.cluster.quiet = self.quiet
        # The initial copies, once the quiescence they tell of their writes exists (nothing
        # built in between looks at them).
        for group in groups:
            group.place()
        for node in self.nodes:
            node.refresh_memory()

        n_nodes = len(self.nodes)
        # The URL list each client starts from (DocumentStore.Urls): the configured nodes, or all.
        urls = [self.node_by_tag[t].index for t in self.scenario.clients.urls or [n.tag for n in bp.nodes]]
        # One executor per application server and database (RavenDB keeps a RequestExecutor per
        # database); the first database's are the ones the workload drives (``clients``), and on
        # a cluster of several databases each hands a session to the database it works on.
        self.executors_by_database = [
            [
                Client(
                    self.env,
                    n_nodes + i,
                    i,
                    urls,
                    scenario.clients,
                    session_length=scenario.workload.session_length,
                    transaction_documents=self.keyspace.transaction_documents,
                    db_name=group.name,
                    db=group.db,
                    network=self.network,
                    servers=self.nodes,
                    cluster=self.cluster,
                    recorder=self.recorder,
                    ledger=group.ledger,
                    versions=group.versions,
                    streams=streams,
                )
                for i in range(len(client_names))
            ]
            for group in groups
        ]
        self.clients = self.executors_by_database[0]
        self.executors = [c for executors in self.executors_by_database for c in executors]
        keys = [group.keyspace.keys for group in groups]
        if len(groups) > 1 or keys[0] != scenario.workload.keys:
            # The router also scales the workload's keys to a database of another size.
            weights = [spec.load for spec in self.database_specs]
            for i, client in enumerate(self.clients):
                client.router = DatabaseRouter(
                    [executors[i] for executors in self.executors_by_database],
                    weights,
                    keys,
                    scenario.workload.keys,
                    streams.rng(f"client.{i}.databases"),
                )
        self.workload = make_workload(
            self.env,
            scenario,
            streams,
            self.clients,
            self.recorder,
            self.network,
            # The workload draws keys in its own key space (the router scales them to each database's).
            self.keyspace
            if self.keyspace.keys == scenario.workload.keys
            else Keyspace.from_scenario(scenario, bp.database.model_copy(update={"keys": None})),
            placement.trace_route if placement is not None else None,
            self.executors_by_database,
            {group.name: (group.db, group.keyspace.keys) for group in groups},
        )
        self.externals = {
            x.name: ExternalSystem(self.env, x, first_external + i, streams, self.network, self.recorder)
            for i, x in enumerate(bp.externals)
        }
        # What a task may be handed, by name: each kind's constructor takes only the ones it
        # names. Each database's tasks get that database's group, keys and ledger.
        tasks = []
        for group, spec in zip(groups, self.database_specs, strict=True):
            task_peers = {
                "env": self.env,
                "nodes": self.nodes,
                "cluster": self.cluster,
                "recorder": self.recorder,
                "db_name": group.name,
                "db": group.db,
                "network": self.network,
                "streams": streams,
                "clients": self.clients,
                "keyspace": group.keyspace,
                "instances": group.instances,
                "ledger": group.ledger,
                "externals": self.externals,
                "sample_interval": self.scenario.sample_interval,
            }
            tasks += [make_task(task, task_peers) for task in spec.tasks]
        self.tasks = Tasks(self.nodes, tasks)
        self.cluster.on_state_change = lambda raft: self.tasks.reassess(raft.index)
        self.faults = FaultInjector(
            self.env,
            scenario.faults,
            streams,
            nodes=self.nodes,
            node_by_tag=self.node_by_tag,
            network=self.network,
            cluster=self.cluster,
            recorder=self.recorder,
            quiet=self.quiet,
            group=self.group,
            versions=self.versions,
            keyspace=self.keyspace,
            clients=self.clients,
            workload=self.workload,
            databases=self.databases,
            executors=self.executors,
            tasks=self.tasks,
            externals=self.externals,
            datacenters=[dc.name for dc in bp.datacenters],
            observer_enabled=bp.observer.enabled,
        )
        for group in groups:
            group.on_topology.append(lambda index, _topo: self.tasks.reassess(index))
            group.on_topology.append(lambda _index, topo, name=group.name: self.faults.on_topology(topo, name))
        self._check_wiring()

    def _make_group(self, db: int, spec: DatabaseSpec, members: list[str], bp: Any) -> DatabaseGroup:
        """Database ``db`` of the cluster: its group on ``members``, with its own keyspace, etags
        (the cluster's change-vector layout and write ids) and write ledger."""
        keyspace = self.keyspace if db == 0 else Keyspace.from_scenario(self.scenario, spec)
        versions = self.versions if db == 0 else self.versions.for_database()
        ledger = WriteLedger(lambda: self.env.now, self.recorder, spec.name)
        group = DatabaseGroup(
            spec.name,
            db,
            members,
            self.nodes,
            self.recorder,
            ledger,
            lambda i: DatabaseInstance(
                self.env,
                self.nodes,
                i,
                versions,
                keyspace,
                self.recorder,
                ledger,
                self.quiet,
                self.network,
                self.replication,
                self.repl_overhead,
                bp.hardware,
                bp.observer.seeding_rate,
                spec.name,
                db,
            ),
        )
        group.keyspace = keyspace
        group.versions = versions
        group.profile = access_profile(self.scenario, spec, keyspace.keys)
        return group

    def _start_observer(self, raft: RaftNode) -> None:
        bp = self.scenario.blueprint
        self.observer = Observer(
            self.env,
            raft,
            bp.observer,
            list(self.database_specs),
            self.nodes,
            self.network,
            self.quiet,
            self.databases.groups,
            self.recorder,
            self.streams,
        )
        self.quiet.on_new_observer(self.observer)
        self.faults.on_new_observer(self.observer)

    def _check_wiring(self) -> None:
        for group, spec in zip(self.databases.groups, self.database_specs, strict=True):
            if len(group.instances) != spec.replication_factor:
                msg = f"database {spec.name} placed on the wrong number of nodes"
                raise WiringError(msg)

    # -- running
    def start(self) -> None:
        """Create the database (bootstrap Rachis, open replication, assign tasks), then start the
        workload, the fault plan and the periodic probes."""
        for group in self.databases.groups:
            self.recorder.event(
                "database_created", database=group.name, members=tuple(group.members), rf=len(group.members)
            )
        self.cluster.bootstrap()
        for group in self.databases.groups:
            for inst in group.instances:
                group.sync_channels(inst.node.index)
        self.tasks.reassess_all()
        self.workload.start()
        self.faults.start()
        probes = sample(
            self.env, self.scenario.sample_interval, self.recorder, self.network, self.nodes, self.databases, self.quiet
        )
        self.env.process(probes)

    def run(self, progress: Callable[[float], None] | None = None, steps: int = 100) -> None:
        """Run to the scenario's duration, calling ``progress(now)`` every 1/steps of it."""
        self.start()
        run_until(self.env, self.scenario.duration, progress, steps)

    def finish(self) -> None:
        """End-of-run accounting: every acknowledged write is present, superseded by a later
        write of the same key, or counted lost with its cause [design.md, metrics]:

        - ``conflict resolution``: it lost a conflict (to the latest, or to a cluster
          transaction not applied on top of it), so its content was discarded;
        - ``no copy holds it``: no copy of the database holds it, directly or through a
          later version that includes it (its change vector covers the write's entry),
          e.g. a replica deleted before it passed its writes on."""
        self.quiet.finish()
        rec = self.recorder
        self.databases.record_losses()
        unfinished = sum(c.record_unfinished() for c in self.executors)
        if unfinished:
            rec.event("ops_unfinished", count=unfinished, value=float(unfinished))
        unserved = sum(c.not_issued for c in self.executors)
        if unserved:
            # Operations whose application server was down (a dark data centre): no client saw them.
            rec.event("requests_unserved", count=unserved, value=float(unserved))

    def tables(self) -> dict[str, Any]:
        """The run's four tables (ops, events, timeseries, replication) as DataFrames."""
        return self.recorder.tables()

    def run_figures(self) -> dict[str, Any]:
        """What the run's provenance says of the model: simulated time, events, operations
        issued (each ends in one row of the ops table), idle elision, TCP give-ups and the
        database's initial members."""
        return {
            "sim_seconds": self.env.now,
            "events_processed": self.events_processed,
            "ops_issued": self.ops_issued,
            # Idle elision (Quiescence): simulated time skipped ahead, and how often it parked.
            "idle_elided_seconds": self.quiet.elided_seconds,
            "idle_parks": self.quiet.parks,
            # TCP: segments that met a cut link (retransmitted), and connections whose retries ran out.
            "network": {
                "segments_stalled": self.network.segments_stalled,
                "connections_broken": self.network.connections_broken,
            },
            "members": self.members,
        }

    @property
    def ops_issued(self) -> int:
        """Operations issued by every client so far."""
        return sum(c.issued for c in self.executors)

    @property
    def events_processed(self) -> int:
        """Events scheduled on the clock so far (the speed figures' unit of work)."""
        return events_scheduled(self.env)


def access_profile(scenario: Scenario, spec: DatabaseSpec, keys: int) -> AccessProfile:
    """How one copy of database ``spec`` is requested, for the page-cache model: its share of the
    sessions (``load``) times what reaches a copy (every write, as each member applies it, and
    its share of the reads), and the workload's key popularity over its ``keys`` documents."""
    wl = scenario.workload
    mix = wl.mix
    writes = mix.write + mix.cluster_tx + mix.transaction * wl.transaction_documents
    weight = spec.load * (writes + mix.read / spec.replication_factor)
    if wl.key_popularity == "zipf":
        return AccessProfile.zipf(keys, weight, wl.zipf_exponent)
    if wl.key_popularity == "hotspot":
        return AccessProfile.hotspot(keys, weight, wl.hotspot.hot_keys(keys), wl.hotspot.share)
    return AccessProfile.uniform(keys, weight)

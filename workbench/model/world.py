"""Build the model from a scenario (build, wire, check), then run it.

``World`` owns one simulation environment (``environment.Environment``, SimPy's with the
model's event queue) and everything in it: the network,
the servers, the database group, the clients, the workload, the fault plan and
the recorder. Building is separate from running, and the wiring is checked
before the first event fires.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import simpy

from workbench.model.client import Client
from workbench.model.database import DatabaseInstance
from workbench.model.environment import Environment
from workbench.model.external import ExternalSystem
from workbench.model.faults import FaultInjector
from workbench.model.kernel import Streams, events_scheduled, run_until
from workbench.model.ledger import WriteLedger
from workbench.model.network import Location, Network
from workbench.model.node import Server
from workbench.model.observer import Observer
from workbench.model.probes import sample
from workbench.model.quiescence import Quiescence
from workbench.model.rachis import Cluster, DbTopology, Entry, RaftNode
from workbench.model.recorder import Recorder
from workbench.model.tasks import Tasks, make_task
from workbench.model.workload import make_workload
from workbench.scenario.schema import Scenario

# Bytes of framing on a replication message (TCP, headers, change vector).
REPLICATION_OVERHEAD_BYTES = 200.0


def place_database(scenario: Scenario, streams: Streams) -> list[str]:
    """Pick the database's members [spec §2.1]: the pinned list, or RF nodes
    taken in order from a random offset among the cluster's nodes."""
    bp = scenario.blueprint
    if bp.database.members is not None:
        return list(bp.database.members)
    tags = [n.tag for n in bp.nodes]
    offset = int(streams.rng("placement").integers(0, len(tags)))
    return [tags[(offset + i) % len(tags)] for i in range(bp.database.replication_factor)]


class WiringError(RuntimeError):
    """The model was built inconsistently (a bug, not bad input)."""


@dataclass(frozen=True)
class Placement:
    """Where one cluster of a deployment (``workbench.model.deployment``) sits among the
    others: its name, its nodes' entries in the deployment-wide change vectors, and the
    first write id it hands out (write ids are unique across the deployment)."""

    cluster: str
    cv_base: int  # entry of its first node
    cv_width: int  # one entry per node of every cluster, then one RAFT entry per cluster
    raft_position: int  # its RAFT entry
    first_write_id: int
    cv_tags: tuple[str, ...]  # the node of each entry, qualified ("east/A"), for the replication table


class World:
    """One cluster and everything it runs, built from a scenario and wired before the first event:
    network, servers, Rachis, database copies, observer, clients, workload, tasks, fault plan,
    recorder and write ledger. Used alone, or as one cluster of a :class:`Deployment` (then
    sharing its environment and given its ``placement``)."""

    def __init__(self, scenario: Scenario, env: simpy.Environment | None = None, placement: Placement | None = None):
        self.scenario = scenario
        self.env = env if env is not None else Environment()
        self.placement = placement
        self.copies_created = 0  # database copies ever made: each gets its own id
        streams = Streams(scenario.seed, f"{placement.cluster}/" if placement is not None else "")
        self.streams = streams
        bp = scenario.blueprint
        self.replication = bp.replication
        self.repl_overhead = REPLICATION_OVERHEAD_BYTES
        self.client_overhead = scenario.clients.request_overhead
        wl = scenario.workload
        self.initial_size = wl.document_size.mean()
        self.query_response_size = wl.query_results * self.initial_size
        self.transaction_documents = wl.transaction_documents
        self.n_keys = wl.keys

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
        self.nodes = [Server(self, i, n.tag, bp.hardware, streams) for i, n in enumerate(bp.nodes)]
        self.node_by_tag = {n.tag: n for n in self.nodes}

        members = place_database(scenario, streams)
        self.members = members
        group = [self.node_by_tag[t].index for t in members]
        # Change vectors: one entry per node (its index), then the RAFT entry. In a
        # deployment they span every cluster's nodes (Placement), so versions can cross.
        if placement is None:
            self.cv_base, self.cv_width, self.raft_position = 0, len(self.nodes) + 1, len(self.nodes)
        else:
            self.cv_base, self.cv_width = placement.cv_base, placement.cv_width
            self.raft_position = placement.raft_position
        self.zero_cv = (0,) * self.cv_width
        self.recorder = Recorder(
            [n.tag for n in self.nodes],
            client_names,
            bp.database.name,
            origin_tags=list(placement.cv_tags) if placement is not None else None,
        )
        self.recorder.now = lambda: self.env.now
        self.instances: list[DatabaseInstance] = []
        for node_index in group:
            inst = DatabaseInstance(self, node_index)
            self.nodes[node_index].instance = inst
            self.instances.append(inst)

        self.cluster = Cluster(
            self,
            bp.cluster,
            {n.index: spec.role for n, spec in zip(self.nodes, bp.nodes, strict=True)},
            streams,
            {bp.database.name: DbTopology(group, bp.database.replication_factor)},
            on_apply=self._on_cluster_apply,
        )
        self.last_crashed: str | None = None
        # In a deployment: the live copies in the other clusters (Deployment sets it).
        self.foreign_copies: Callable[[World], list[dict]] | None = None
        self.etags_issued = [0] * self.cv_width  # highest etag each node's entry has used
        self.clock_skew = [spec.clock_skew for spec in bp.nodes]
        self.db_name = bp.database.name
        # Collections are contiguous key ranges; the conflict solver works per collection.
        self.collection_names = list(wl.collections)
        bounds, acc = [], 0.0
        for share in wl.collections.values():
            acc += share
            bounds.append(round(acc * wl.keys))
        bounds[-1] = wl.keys
        self.collection_bounds = bounds
        solver = bp.database.conflicts
        self.resolve_to_latest = solver.resolve_to_latest
        self._script_costs = [solver.scripts.get(name) for name in self.collection_names]
        self.has_scripts = bool(solver.scripts)
        self.observer: Observer | None = None  # the current leader's
        if bp.observer.enabled:
            self.cluster.on_leader = self._start_observer
        self.quiet = Quiescence(self)
        self.cluster.quiet = self.quiet

        # Every acknowledged write, for data at risk, forced promotions and lost writes.
        self.ledger = WriteLedger(lambda: self.env.now, self.recorder)
        self.write_counter = placement.first_write_id if placement is not None else 0

        n_nodes = len(self.nodes)
        # The URL list each client starts from (DocumentStore.Urls): the configured nodes, or all.
        urls = [self.node_by_tag[t].index for t in self.scenario.clients.urls or [n.tag for n in bp.nodes]]
        self.clients = [Client(self, n_nodes + i, i, urls) for i in range(len(client_names))]
        self.workload = make_workload(self, streams)
        self.externals = {x.name: ExternalSystem(self, x, first_external + i) for i, x in enumerate(bp.externals)}
        self.tasks = Tasks(self, [make_task(self, spec) for spec in bp.database.tasks])
        self.cluster.on_state_change = lambda raft: self.tasks.reassess(raft.index)
        self.faults = FaultInjector(self)
        self._check_wiring()

    def _start_observer(self, raft: RaftNode) -> None:
        self.observer = Observer(self, raft)
        self.faults.on_new_observer(self.observer)

    def _check_wiring(self) -> None:
        if len(self.instances) != self.scenario.blueprint.database.replication_factor:
            msg = "database placed on the wrong number of nodes"
            raise WiringError(msg)

    def sync_channels(self, node_index: int) -> None:
        """Open the replication channels this node's view of the topology asks for."""
        inst = self.nodes[node_index].instance
        if inst is None:
            return
        topo = self.cluster.nodes[node_index].state_machine.databases[self.db_name]
        mentees = [p for p in topo.promotables if topo.mentors.get(p) == node_index]
        if node_index in topo.promotables:
            destinations: list[int] = []  # a promotable only receives, from its mentor
        else:
            destinations = [n for n in topo.members + topo.rehabs if n != node_index] + mentees
        inst.sync_channels(destinations)
        for ch in inst.channels:
            # A promotable has no other source, so nothing it needs is held back.
            ch.relay_free = ch.dst in mentees

    def _apply_topology(self, raft: RaftNode) -> None:
        """A node applied a new topology of the simulated database: create or delete
        its copy, and re-open its replication channels."""
        node = self.nodes[raft.index]
        topo = raft.state_machine.databases[self.db_name]
        wanted = raft.index in topo.all_nodes()
        if wanted and node.instance is None and node.up:
            inst = DatabaseInstance(self, raft.index)
            inst.seeded = False
            node.instance = inst
            self.instances.append(inst)
        elif not wanted and node.instance is not None:
            inst = node.instance
            inst.sync_channels([])
            node.instance = None
            self.instances.remove(inst)
            self.recorder.event("replica_removed", node=node.tag)
        if node.up:
            self.sync_channels(raft.index)

    def _on_cluster_apply(self, raft: RaftNode, index: int, entry: Entry, result: Any) -> None:
        if entry.kind in ("topology", "group_change") and entry.payload[0] == self.db_name:
            if entry.kind == "group_change" and raft.state in ("leader", "leader-elect") and result[0] == "ok":
                self._record_group_change(raft, index, entry)
            self._apply_topology(raft)
            self.tasks.reassess(raft.index)
            self.faults.on_topology(raft.state_machine.databases[self.db_name])
            return
        if entry.kind == "cluster_tx":
            instance = self.nodes[raft.index].instance
            if instance is not None:
                key, size, write_id = entry.payload
                instance.apply_cluster_tx(key, size, write_id, index)
        elif entry.kind == "config" and raft.state in ("leader", "leader-elect"):
            self.recorder.event("command_committed", node=raft.tag, term=raft.term, action="topology", raft_index=index)
            for node, (before, after) in sorted(result[2].items()):
                # An operator's promote (watcher -> promotable) or demote (-> watcher), now committed.
                tag = self.nodes[node].tag
                if before == "watcher" and after == "promotable":
                    self.recorder.event("node_promoted", node=tag, term=raft.term)
                elif after == "watcher" and before is not None:
                    self.recorder.event("node_demoted", node=tag, term=raft.term, previous_role=before)

    def _record_group_change(self, raft: RaftNode, index: int, entry: Entry) -> None:
        """An operator's add_to_group or remove_from_group, committed: say what it did."""
        _name, op, node, _mentor = entry.payload
        topo = raft.state_machine.databases[self.db_name]
        tag = self.nodes[node].tag
        if op == "add":
            mentor = topo.mentors.get(node)
            by = self.nodes[mentor].tag if mentor is not None else None
            self.recorder.event("added_to_group", node=tag, term=raft.term, mentor=by, rf=topo.rf)
        else:
            self.recorder.event("removed_from_group", node=tag, term=raft.term, rf=topo.rf)
        fields = topo.event_fields(lambda i: self.nodes[i].tag)
        self.recorder.event("topology_changed", node=raft.tag, term=raft.term, etag=index, **fields)

    def transaction_keys(self, first: int) -> list[int]:
        """A multi-document transaction writes consecutive keys (an order and its lines)."""
        return [(first + i) % self.n_keys for i in range(self.transaction_documents)]

    def collection_keys(self, name: str) -> range:
        """The keys of collection ``name`` (a contiguous range)."""
        k = self.collection_names.index(name)
        return range(self.collection_bounds[k - 1] if k else 0, self.collection_bounds[k])

    def collection_of(self, key: int) -> str:
        """The collection that document ``key`` belongs to."""
        return self.collection_names[bisect_right(self.collection_bounds, key)]

    def script_cost(self, key: int) -> float | None:
        """Run time of the conflict resolver script of the key's collection (None: no script)."""
        if not self.has_scripts:
            return None
        return self._script_costs[bisect_right(self.collection_bounds, key)]

    # -- running
    def start(self) -> None:
        """Create the database (bootstrap Rachis, open replication, assign tasks), then start the
        workload, the fault plan and the periodic probes."""
        self.recorder.event("database_created", members=tuple(self.members), rf=len(self.members))
        self.cluster.bootstrap()
        for inst in self.instances:
            self.sync_channels(inst.node.index)
        self.tasks.reassess_all()
        self.workload.start()
        self.faults.start()
        probes = sample(
            self.env, self.scenario.sample_interval, self.recorder, self.network, self.nodes, self.instances, self.quiet
        )
        self.env.process(probes)

    def run(self, progress: Callable[[float], None] | None = None, steps: int = 100) -> None:
        """Run to the scenario's duration, calling ``progress(now)`` every 1/steps of it."""
        self.start()
        run_until(self.env, self.scenario.duration, progress, steps)

    def surviving_nodes(self) -> list[int]:
        """The nodes that keep the system going right now: up, answering (not paused,
        stopping or faulted), and on the side of any partition that holds most voters
        (ties: the leader's side, then the larger side)."""
        net = self.network
        now = self.env.now
        alive = [
            n.index for n in self.nodes if n.up and n.accepting and not n.disk_full and net.paused_until[n.index] <= now
        ]
        sides: list[list[int]] = []
        seen: set[int] = set()
        for a in alive:
            if a in seen:
                continue
            side, stack = [a], [a]
            seen.add(a)
            while stack:
                x = stack.pop()
                for b in alive:
                    if b not in seen and not net.cut[x][b] and not net.cut[b][x]:
                        seen.add(b)
                        side.append(b)
                        stack.append(b)
            sides.append(side)
        if not sides:
            return []
        voters = {n.index for n in self.cluster.nodes if n.role == "member"}
        lead = self.cluster.leader()

        def rank(side: list[int]) -> tuple[int, bool, int]:
            """Order sides by voters held, then holding the leader, then size."""
            return (len(voters.intersection(side)), lead is not None and lead.index in side, len(side))

        return sorted(max(sides, key=rank))

    def data_at_risk(self, survivors: list[int]) -> tuple[int, float]:
        """RPO of a fault that hits now: acknowledged writes that no surviving node's copy
        holds (directly or through a later version that includes them), and the age in
        seconds of the oldest of them (0 if none) [design.md, metrics]."""
        copies = [self.nodes[i].instance.docs for i in survivors if self.nodes[i].instance is not None]
        if self.foreign_copies is not None:
            copies += self.foreign_copies(self)  # other clusters of a deployment hold them too
        return self.ledger.at_risk(copies)

    def missing_on(self, node_index: int) -> int:
        """Acknowledged writes that this node's copy does not hold (nor supersede)."""
        inst = self.nodes[node_index].instance
        return self.ledger.missing(inst.docs if inst is not None else None)

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
        self.ledger.record_losses([inst.docs for inst in self.instances])
        unfinished = sum(c.record_unfinished() for c in self.clients)
        if unfinished:
            rec.event("ops_unfinished", count=unfinished, value=float(unfinished))
        unserved = sum(c.not_issued for c in self.clients)
        if unserved:
            # Operations whose application server was down (a dark data centre): no client saw them.
            rec.event("requests_unserved", count=unserved, value=float(unserved))

    @property
    def ops_issued(self) -> int:
        """Operations issued by every client so far."""
        return sum(c.issued for c in self.clients)

    @property
    def events_processed(self) -> int:
        """Events scheduled on the clock so far (the speed figures' unit of work)."""
        return events_scheduled(self.env)

"""The database groups of one cluster (issue 22, item 1: run-time work split out of the builder).

A group is the set of nodes that hold a copy of one database; a cluster hosts one group per
database (:class:`Databases`), each with its own topology record. Which nodes those
are is decided by Rachis: every node applies the committed topology records, and on each apply
the node creates or deletes its own copy and re-opens the replication channels its view of the
topology asks for (RavenDB's ``DatabasesLandlord`` reacting to ``DatabaseRecord`` changes, and
``ReplicationLoader.HandleDatabaseRecordChange``). The group also answers the ledger's
questions that need copies: what a fault puts at risk given the survivors, and what one copy
lacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.model.database.ledger import WriteLedger
from workbench.model.recording.recorder import Recorder

if TYPE_CHECKING:
    from workbench.model.cluster.memory import AccessProfile
    from workbench.model.cluster.node import Server
    from workbench.model.cluster.rachis import Cluster, DbTopology, Entry, RaftNode
    from workbench.model.database.database import DatabaseInstance
    from workbench.model.database.keyspace import Keyspace
    from workbench.model.database.versions import Versions


class DatabaseGroup:
    """The copies of one database on the nodes of one cluster, kept in step with the topology
    each node has applied. ``db`` is the database's place among the cluster's databases: each
    node keeps its copy at that index (``Server.instances``).

    ``make_copy(node_index)`` builds a new, empty copy on a node (the builder's factory).
    ``cluster`` is set once Rachis is built; ``on_topology`` callbacks (ongoing tasks, the
    fault plan) hear of every topology a node applies; ``foreign_copies`` (set by a deployment)
    lists the other clusters' live copies, which hold acknowledged writes too.
    """

    def __init__(
        self,
        name: str,
        db: int,
        members: list[str],
        nodes: list[Server],
        recorder: Recorder,
        ledger: WriteLedger,
        make_copy: Callable[[int], DatabaseInstance],
    ) -> None:
        self.name = name
        self.db = db
        self.members = members  # the initial placement, by tag
        self.nodes = nodes
        self.recorder = recorder
        self.ledger = ledger
        self.make_copy = make_copy
        self.instances: list[DatabaseInstance] = []
        # Its documents, its etags and how its documents are requested (for the page-cache
        # model, workbench.model.cluster.memory), set by the builder with the copies' factory.
        self.keyspace: Keyspace | None = None
        self.versions: Versions | None = None
        self.profile: AccessProfile | None = None
        self.cluster: Cluster | None = None
        self.on_topology: list[Callable[[int, DbTopology], None]] = []
        self.foreign_copies: Callable[[], list[dict]] | None = None

    def place(self) -> None:
        """Create the initial copies on the placed members (before the first event; the builder
        then has every node work out its memory once, with all its copies)."""
        for tag in self.members:
            node = next(n for n in self.nodes if n.tag == tag)
            self._add(node.index, seeded=True, refresh=False)

    def _add(self, node_index: int, seeded: bool, refresh: bool = True) -> DatabaseInstance:
        inst = self.make_copy(node_index)
        inst.seeded = seeded
        self.nodes[node_index].instances[self.db] = inst
        self.instances.append(inst)
        if refresh:
            self.nodes[node_index].refresh_memory()
        return inst

    def renew_copy(self, node_index: int) -> DatabaseInstance:
        """Replace the node's copy with a new, empty one (its disk was lost)."""
        old = self.nodes[node_index].instances[self.db]
        fresh = self.make_copy(node_index)
        self.instances[self.instances.index(old)] = fresh
        self.nodes[node_index].instances[self.db] = fresh
        self.nodes[node_index].refresh_memory()
        return fresh

    def topology(self, raft: RaftNode) -> DbTopology:
        """This database's topology as node ``raft`` has applied it."""
        return raft.state_machine.databases[self.name]

    def sync_channels(self, node_index: int) -> None:
        """Open the replication channels this node's view of the topology asks for."""
        inst = self.nodes[node_index].instances[self.db]
        if inst is None:
            return
        assert self.cluster is not None
        topo = self.topology(self.cluster.nodes[node_index])
        mentees = [p for p in topo.promotables if topo.mentors.get(p) == node_index]
        if node_index in topo.promotables:
            destinations: list[int] = []  # a promotable only receives, from its mentor
        else:
            destinations = [n for n in topo.members + topo.rehabs if n != node_index] + mentees
        inst.sync_channels(destinations)
        for ch in inst.channels:
            # A promotable has no other source, so nothing it needs is held back.
            ch.relay_free = ch.dst in mentees

    def apply_topology(self, raft: RaftNode) -> None:
        """A node applied a new topology of the database: create or delete its copy, and
        re-open its replication channels."""
        node = self.nodes[raft.index]
        wanted = raft.index in self.topology(raft).all_nodes()
        inst = node.instances[self.db]
        if wanted and inst is None and node.up:
            self._add(raft.index, seeded=False)
        elif not wanted and inst is not None:
            inst.sync_channels([])
            node.instances[self.db] = None
            self.instances.remove(inst)
            node.refresh_memory()
            self.recorder.event("replica_removed", node=node.tag, database=self.name)
        if node.up:
            self.sync_channels(raft.index)

    def on_topology_entry(self, raft: RaftNode, index: int, entry: Entry, result: Any) -> None:
        """A committed change of this database's record (an observer decision or an operator's
        group change), on the node that applied it: copies and channels follow, and the
        listeners hear of it."""
        if entry.kind == "group_change" and raft.state in ("leader", "leader-elect") and result[0] == "ok":
            self._record_group_change(raft, index, entry)
        self.apply_topology(raft)
        topo = self.topology(raft)
        for hear in self.on_topology:
            hear(raft.index, topo)

    def on_cluster_tx(self, raft: RaftNode, index: int, entry: Entry) -> None:
        """A committed cluster-wide transaction of this database: the node's copy stores it."""
        instance = self.nodes[raft.index].instances[self.db]
        if instance is not None:
            key, size, write_id, _db = entry.payload
            instance.apply_cluster_tx(key, size, write_id, index)

    def _record_group_change(self, raft: RaftNode, index: int, entry: Entry) -> None:
        """An operator's add_to_group or remove_from_group, committed: say what it did."""
        _name, op, node, _mentor = entry.payload
        topo = self.topology(raft)
        tag = self.nodes[node].tag
        if op == "add":
            mentor = topo.mentors.get(node)
            by = self.nodes[mentor].tag if mentor is not None else None
            self.recorder.event("added_to_group", node=tag, term=raft.term, database=self.name, mentor=by, rf=topo.rf)
        else:
            self.recorder.event("removed_from_group", node=tag, term=raft.term, database=self.name, rf=topo.rf)
        fields = topo.event_fields(lambda i: self.nodes[i].tag)
        self.recorder.event("topology_changed", node=raft.tag, term=raft.term, database=self.name, etag=index, **fields)

    def data_at_risk(self, survivors: list[int]) -> tuple[int, float]:
        """RPO of a fault that hits now: acknowledged writes that no surviving node's copy
        holds (directly or through a later version that includes them), and the age in
        seconds of the oldest of them (0 if none) [design.md, metrics]."""
        copies = [inst.docs for i in survivors if (inst := self.nodes[i].instances[self.db]) is not None]
        if self.foreign_copies is not None:
            copies += self.foreign_copies()  # other clusters of a deployment hold them too
        return self.ledger.at_risk(copies)

    def missing_on(self, node_index: int) -> int:
        """Acknowledged writes that this node's copy does not hold (nor supersede)."""
        inst = self.nodes[node_index].instances[self.db]
        return self.ledger.missing(inst.docs if inst is not None else None)

    def record_losses(self) -> None:
        """End of run: settle every acknowledged write against the copies that exist now."""
        self.ledger.record_losses([inst.docs for inst in self.instances])


class Databases:
    """Every database group of one cluster, in the cluster's order (``groups[i].db == i``; the
    first is the one faults and operator actions address). It routes each committed command to
    the group it is about, and answers the questions asked of all of them at once."""

    def __init__(self, groups: list[DatabaseGroup], nodes: list[Server], recorder: Recorder) -> None:
        self.groups = groups
        self.by_name = {g.name: g for g in groups}
        self.nodes = nodes
        self.recorder = recorder

    @property
    def primary(self) -> DatabaseGroup:
        """The first database."""
        return self.groups[0]

    def instances(self) -> list[DatabaseInstance]:
        """Every copy of every database (a new list)."""
        if len(self.groups) == 1:
            return list(self.groups[0].instances)
        return [inst for g in self.groups for inst in g.instances]

    def on_cluster_apply(self, raft: RaftNode, index: int, entry: Entry, result: Any) -> None:
        """What a committed command does on the node that applied it: a topology change moves
        its database's copies and channels, a cluster transaction is stored by its database, a
        configuration change is told (once, by the leader)."""
        kind = entry.kind
        if kind in ("topology", "group_change"):
            group = self.by_name.get(entry.payload[0])
            if group is not None:
                group.on_topology_entry(raft, index, entry, result)
        elif kind == "cluster_tx":
            self.groups[entry.payload[3]].on_cluster_tx(raft, index, entry)
        elif kind == "config" and raft.state in ("leader", "leader-elect"):
            rec = self.recorder
            rec.event("command_committed", node=raft.tag, term=raft.term, action="topology", raft_index=index)
            for node, (before, after) in sorted(result[2].items()):
                # An operator's promote (watcher -> promotable) or demote (-> watcher), now committed.
                tag = self.nodes[node].tag
                if before == "watcher" and after == "promotable":
                    rec.event("node_promoted", node=tag, term=raft.term)
                elif after == "watcher" and before is not None:
                    rec.event("node_demoted", node=tag, term=raft.term, previous_role=before)

    def data_at_risk(self, survivors: list[int]) -> tuple[int, float]:
        """RPO of a fault that hits now, over every database: acknowledged writes no surviving
        copy of their database holds, and the age of the oldest of them."""
        count, age = 0, 0.0
        for group in self.groups:
            n, a = group.data_at_risk(survivors)
            count += n
            age = max(age, a)
        return count, age

    def record_losses(self) -> None:
        """End of run: settle every database's acknowledged writes."""
        for group in self.groups:
            group.record_losses()

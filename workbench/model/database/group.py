"""The database group of one cluster (issue 22, item 1: run-time work split out of the builder).

The group is the set of nodes that hold a copy of the simulated database. Which nodes those
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
    from workbench.model.cluster.node import Server
    from workbench.model.cluster.rachis import Cluster, DbTopology, Entry, RaftNode
    from workbench.model.database.database import DatabaseInstance


class DatabaseGroup:
    """The copies of one database on the nodes of one cluster, kept in step with the topology
    each node has applied.

    ``make_copy(node_index)`` builds a new, empty copy on a node (the builder's factory).
    ``cluster`` is set once Rachis is built; ``on_topology`` callbacks (ongoing tasks, the
    fault plan) hear of every topology a node applies; ``foreign_copies`` (set by a deployment)
    lists the other clusters' live copies, which hold acknowledged writes too.
    """

    def __init__(
        self,
        name: str,
        members: list[str],
        nodes: list[Server],
        recorder: Recorder,
        ledger: WriteLedger,
        make_copy: Callable[[int], DatabaseInstance],
    ) -> None:
        self.name = name
        self.members = members  # the initial placement, by tag
        self.nodes = nodes
        self.recorder = recorder
        self.ledger = ledger
        self.make_copy = make_copy
        self.instances: list[DatabaseInstance] = []
        self.cluster: Cluster | None = None
        self.on_topology: list[Callable[[int, DbTopology], None]] = []
        self.foreign_copies: Callable[[], list[dict]] | None = None

    def place(self) -> None:
        """Create the initial copies on the placed members (before the first event)."""
        for tag in self.members:
            node = next(n for n in self.nodes if n.tag == tag)
            self._add(node.index, seeded=True)

    def _add(self, node_index: int, seeded: bool) -> DatabaseInstance:
        inst = self.make_copy(node_index)
        inst.seeded = seeded
        self.nodes[node_index].instance = inst
        self.instances.append(inst)
        return inst

    def renew_copy(self, node_index: int) -> DatabaseInstance:
        """Replace the node's copy with a new, empty one (its disk was lost)."""
        old = self.nodes[node_index].instance
        fresh = self.make_copy(node_index)
        self.instances[self.instances.index(old)] = fresh
        self.nodes[node_index].instance = fresh
        return fresh

    def topology(self, raft: RaftNode) -> DbTopology:
        """This database's topology as node ``raft`` has applied it."""
        return raft.state_machine.databases[self.name]

    def sync_channels(self, node_index: int) -> None:
        """Open the replication channels this node's view of the topology asks for."""
        inst = self.nodes[node_index].instance
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
        if wanted and node.instance is None and node.up:
            self._add(raft.index, seeded=False)
        elif not wanted and node.instance is not None:
            inst = node.instance
            inst.sync_channels([])
            node.instance = None
            self.instances.remove(inst)
            self.recorder.event("replica_removed", node=node.tag)
        if node.up:
            self.sync_channels(raft.index)

    def on_cluster_apply(self, raft: RaftNode, index: int, entry: Entry, result: Any) -> None:
        """What a committed command does on the node that applied it: a topology change moves
        copies and channels, a cluster transaction is stored, a configuration change is told."""
        if entry.kind in ("topology", "group_change") and entry.payload[0] == self.name:
            if entry.kind == "group_change" and raft.state in ("leader", "leader-elect") and result[0] == "ok":
                self._record_group_change(raft, index, entry)
            self.apply_topology(raft)
            topo = self.topology(raft)
            for hear in self.on_topology:
                hear(raft.index, topo)
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
        topo = self.topology(raft)
        tag = self.nodes[node].tag
        if op == "add":
            mentor = topo.mentors.get(node)
            by = self.nodes[mentor].tag if mentor is not None else None
            self.recorder.event("added_to_group", node=tag, term=raft.term, mentor=by, rf=topo.rf)
        else:
            self.recorder.event("removed_from_group", node=tag, term=raft.term, rf=topo.rf)
        fields = topo.event_fields(lambda i: self.nodes[i].tag)
        self.recorder.event("topology_changed", node=raft.tag, term=raft.term, etag=index, **fields)

    def data_at_risk(self, survivors: list[int]) -> tuple[int, float]:
        """RPO of a fault that hits now: acknowledged writes that no surviving node's copy
        holds (directly or through a later version that includes them), and the age in
        seconds of the oldest of them (0 if none) [design.md, metrics]."""
        copies = [self.nodes[i].instance.docs for i in survivors if self.nodes[i].instance is not None]
        if self.foreign_copies is not None:
            copies += self.foreign_copies()  # other clusters of a deployment hold them too
        return self.ledger.at_risk(copies)

    def missing_on(self, node_index: int) -> int:
        """Acknowledged writes that this node's copy does not hold (nor supersede)."""
        inst = self.nodes[node_index].instance
        return self.ledger.missing(inst.docs if inst is not None else None)

    def record_losses(self) -> None:
        """End of run: settle every acknowledged write against the copies that exist now."""
        self.ledger.record_losses([inst.docs for inst in self.instances])

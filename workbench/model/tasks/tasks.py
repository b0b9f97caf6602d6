"""Ongoing tasks and their responsible node [spec §5.1].

Every node that hosts the database answers "whose task is it?" from its *own* view:
its Rachis state and the topology it has applied. A node runs a task exactly when its
answer is itself, so during a partition two nodes can each believe they own a task
(the book's backups during a partition), and a node with no leader (a candidate)
owns nothing, except a backup that stays with its last node.

``whose_task_is_it`` follows ``DatabaseTopology.WhoseTaskIsIt``:

1. a candidate answers nobody, and so (in the model) does a follower that has not
   heard a leader yet or not yet applied what its leader had committed, e.g. just after
   a restart, while its topology may be stale;
2. a mentor node that is a member gets the task (a "sticky" task);
3. otherwise jump consistent hash of the task key over the sorted group (members,
   promotables, rehabs); a pick that is not a member is removed, the key re-mixed,
   and the hash tried again;
4. a resource-intensive task (a backup) avoids the preferred node, Members[0], when
   there is more than one member.

Newer versions keep a backup on its last node while that node is still a member
(``keepTaskOnOriginalMemberNode``); the model follows the book instead [B17]: when
the original node is back and caught up, ownership returns to it. A task therefore
moves only when the topology changes (its node moved to rehab, about 60 s after it
went silent) and the new owner resumes from the last progress persisted in the
cluster (a Raft command, ``task_state``).

Events: ``task_assigned`` (first owner), ``task_moved`` (a different node starts it),
``task_paused`` (no node runs it any more: its node has no leader, is down or lost
its copy; not for a hand-over, where the old owner stops a moment before the new one
applies the same topology), ``task_resumed`` (the same node starts it again).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from workbench.model.cluster.rachis import CANDIDATE, DOWN, FOLLOWER, DbTopology
from workbench.model.database.database import covers

if TYPE_CHECKING:
    import simpy

    from workbench.model.cluster.node import Server
    from workbench.model.cluster.rachis import Cluster, RaftNode
    from workbench.model.database.database import Doc
    from workbench.model.recording.recorder import Recorder

MASK64 = (1 << 64) - 1


def task_key(name: str) -> int:
    """A stable 64-bit key for a task name (RavenDB hashes the task's key the same way)."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little")


def remix(key: int) -> int:
    """A new 64-bit key from an old one (splitmix64's finaliser), for the retry in step 3."""
    key = (key ^ (key >> 30)) * 0xBF58476D1CE4E5B9 & MASK64
    key = (key ^ (key >> 27)) * 0x94D049BB133111EB & MASK64
    return key ^ (key >> 31)


def jump_hash(key: int, buckets: int) -> int:
    """Jump consistent hash (Lamping and Veach, 2014): a bucket in [0, buckets)."""
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & MASK64
        j = int((b + 1) * ((1 << 31) / ((key >> 33) + 1)))
    return b


def whose_task_is_it(
    state: str, topo: DbTopology | None, key: int, mentor: int | None = None, resource_intensive: bool = False
) -> int | None:
    """The node that should run a task, as a node in Rachis ``state`` with ``topo`` sees it."""
    if state in (CANDIDATE, DOWN) or topo is None or not topo.members:
        return None
    members = topo.members
    if mentor is not None and mentor in members:
        return mentor
    group = sorted(topo.all_nodes())
    if resource_intensive and len(members) > 1:
        group.remove(members[0])
    while group:
        pick = group[jump_hash(key, len(group))]
        if pick in members:
            return pick
        group.remove(pick)
        key = remix(key)
    return None


class Task:
    """One ongoing task: which nodes run it, and the events when that changes.

    Subclasses implement ``start(node)`` and ``stop(node)`` (what running means for
    them) and may set ``resource_intensive`` and ``keep_without_leader``.

    It is given the clock, its spec, its cluster's servers (``nodes``, by index), that
    cluster's Rachis (``cluster``: each node's view of the topology and the log that
    persists progress), the recorder, and the name of the database whose topology decides
    ownership (``db_name``) with its place among the cluster's databases (``db``: where each
    node keeps its copy). A subclass adds the peers it talks to as further constructor
    parameters, which :func:`make_task` passes by name."""

    resource_intensive = False
    keep_without_leader = False  # a backup keeps running on its last node with no leader

    def __init__(
        self,
        env: simpy.Environment,
        spec: Any,
        nodes: list[Server],
        cluster: Cluster,
        recorder: Recorder,
        db_name: str,
        db: int = 0,
    ):
        self.env = env
        self.spec = spec
        self.nodes = nodes
        self.cluster = cluster
        self.recorder = recorder
        self.db_name = db_name
        self.db = db
        self.name = spec.name
        self.key = task_key(spec.name)
        self.mentor = {n.tag: n for n in nodes}[spec.mentor].index if spec.mentor is not None else None
        self.running: set[int] = set()  # nodes running it right now (two during a partition)
        self.last_runner: int | None = None
        self.progress_commands = 0

    # -- ownership
    def owner_seen_by(self, raft: RaftNode) -> int | None:
        """The node that runs this task as ``raft``'s node sees it (None: nobody, e.g. no leader yet
        or its log not caught up)."""
        if raft.state == FOLLOWER and (raft.leader is None or not raft.caught_up()):
            # No leader heard yet (just restarted), or the log not yet caught up with it: its
            # view of the topology may be stale, and it runs no task until it is current.
            return None
        topo = raft.state_machine.databases.get(self.db_name)
        return whose_task_is_it(raft.state, topo, self.key, self.mentor, self.resource_intensive)

    def reassess(self, index: int) -> None:
        """Node ``index``'s view changed (topology applied, Rachis state, crash, restart)."""
        node = self.nodes[index]
        raft = self.cluster.nodes[index]
        # A faulted database (a full disk) runs nothing.
        hosts = node.up and node.instances[self.db] is not None and not node.disk_full
        owner = self.owner_seen_by(raft) if hosts else None
        if owner is None and hosts and index in self.running and self.keep_without_leader and raft.state != DOWN:
            owner = index  # "we don't want to stop the backup process" [spec §5.1]
        if owner == index and index not in self.running:
            self._start(index)
        elif owner != index and index in self.running:
            self._stop(index, raft, node)

    def _start(self, index: int) -> None:
        tag = self.nodes[index].tag
        previous = self.last_runner
        self.running.add(index)
        self.last_runner = index
        if previous is None:
            self.recorder.event("task_assigned", node=tag, database=self.db_name, task=self.name)
        elif previous == index:
            self.recorder.event("task_resumed", node=tag, database=self.db_name, task=self.name)
        else:
            self.recorder.event(
                "task_moved", node=tag, database=self.db_name, task=self.name, source=self.nodes[previous].tag
            )
        self.start(index)

    def _stop(self, index: int, raft: RaftNode, node: Any) -> None:
        self.running.discard(index)
        self.stop(index)
        if not self.running:
            if not node.up:
                why = "its node is down"
            elif node.instances[self.db] is None:
                why = "its node lost its copy"
            elif node.disk_full:
                why = "its database is faulted (disk full)"
            elif raft.state == CANDIDATE or raft.leader is None:
                why = "its node has no leader"
            else:
                return  # handed over: the new owner records task_moved when it starts
            self.recorder.event("task_paused", node=node.tag, database=self.db_name, task=self.name, reason=why)

    # -- progress kept in the cluster (RavenDB persists task state through Raft)
    def persist(self, index: int, value: Any) -> None:
        """Record progress from node ``index``: a Raft command; lost if the node has no leader."""
        self.progress_commands += 1
        raft = self.cluster.nodes[index]
        raft.submit("task_state", (self.name, value), 200.0, _ignore)

    def persisted(self, index: int) -> Any:
        """The last progress that node ``index`` has applied (None: never run)."""
        return self.cluster.nodes[index].state_machine.task_states.get(self.name)

    # -- subclasses
    def start(self, index: int) -> None:
        """Node ``index`` starts running the task (it just became the owner in its own view)."""
        raise NotImplementedError

    def stop(self, index: int) -> None:
        """Node ``index`` stops running the task (it no longer owns it, went down or lost its copy)."""
        raise NotImplementedError


class LogRun:
    """A task running on one node that follows its copy's storage log (ETL, subscriptions),
    from one start to its stop. Its progress is persisted as (change vector, copy
    incarnation, log position). It is given the node it runs on and the database it reads
    (its place among the cluster's databases)."""

    def __init__(self, node: Server, db: int):
        self.index = node.index
        self.node = node
        self.tag = node.tag
        self.epoch = node.epoch
        inst = node.instances[db]
        assert inst is not None  # a task runs only on a node that holds a copy
        self.inst = inst
        self.db = db
        self.cv: list[int] | tuple[int, ...] = list(self.inst.zero_cv)  # what the progress covers
        self.cursor = 0  # next log position to read
        # Log positions before this were stored before the run started: only there does the
        # persisted vector decide what is already done. A version stored during the run is
        # always taken: per-document vectors can cover a version that never arrived (an
        # origin's writes can arrive out of order), so "covered" does not mean "done".
        self.filter_end = 0
        self.stopped = False

    def resume(self, state: tuple | None) -> None:
        """Start from persisted progress: its own copy carries on from its log position;
        another copy reads its whole log, skipping what the vector covers."""
        if state is None:
            return
        cv, incarnation, cursor = state
        self.cv = list(cv)
        if incarnation == self.inst.incarnation and cursor <= len(self.inst.log):
            self.cursor = cursor
        else:
            self.filter_end = len(self.inst.log)

    def done_before(self, doc: Doc, position: int) -> bool:
        """The version at log ``position`` was handled before this run started."""
        return position < self.filter_end and covers(self.cv, doc.cv)

    def alive(self) -> bool:
        """The run may go on: not stopped, and its node is up, has not restarted since and still holds the same copy."""
        node = self.node
        return not self.stopped and node.epoch == self.epoch and node.up and node.instances[self.db] is self.inst


def raise_to(cv: list[int], other: tuple[int, ...] | list[int]) -> None:
    """Raise each entry of ``cv`` to ``other``'s where that is higher: ``cv`` then covers ``other``
    (the progress of a task that has handled a version)."""
    for i, x in enumerate(other):
        if x > cv[i]:
            cv[i] = x


def _ignore(_outcome: Any) -> None:
    return None


class Tasks:
    """Every ongoing task of the database, re-assessed whenever a node's view changes; given the
    cluster's servers (``nodes``) whose views those are."""

    def __init__(self, nodes: list[Server], tasks: list[Task]):
        self.nodes = nodes
        self.tasks = tasks

    def reassess(self, index: int) -> None:
        """Node ``index``'s view changed: every task decides again whether that node runs it."""
        for task in self.tasks:
            task.reassess(index)

    def reassess_all(self) -> None:
        """Every task re-assessed on every node (at the start of a run)."""
        for index in range(len(self.nodes)):
            self.reassess(index)


# Each kind of ongoing task the scenario may declare (``scenario.schema.OngoingTask``), and the
# module and class that model it: imported when a run has one, so a run without ETL never loads
# the ETL model. A kind the schema allows but this table lacks is an error, never a guess.
TASK_MODELS: dict[str, tuple[str, str]] = {
    "sql_etl": ("workbench.model.tasks.etl", "SqlEtl"),
    "backup": ("workbench.model.tasks.backup", "Backup"),
    "subscription": ("workbench.model.tasks.subscription", "Subscription"),
}


def make_task(spec: Any, peers: Mapping[str, Any]) -> Task:
    """The model of one task of the scenario, by its kind (:data:`TASK_MODELS`).

    ``peers`` holds the pieces the builder can hand a task, by name (``env``, ``nodes``,
    ``cluster``, ``recorder``, ...); the model's constructor is given ``spec`` and exactly the
    ones its parameters name, so each kind receives only what it uses."""
    import importlib

    entry = TASK_MODELS.get(spec.kind)
    if entry is None:
        known = ", ".join(TASK_MODELS)
        raise ValueError(f"no model for ongoing tasks of kind {spec.kind!r}; modelled kinds: {known}")
    module, name = entry
    model: type[Task] = getattr(importlib.import_module(module), name)
    wanted = [p for p in inspect.signature(model).parameters if p != "spec"]
    missing = [p for p in wanted if p not in peers]
    if missing:
        raise TypeError(f"{name} needs {', '.join(missing)}, which the builder does not provide")
    return model(spec=spec, **{p: peers[p] for p in wanted})

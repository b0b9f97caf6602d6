"""Periodic backups: an ongoing task with one responsible node [spec §5.5, §5.1, §8.11].

The schedule is cluster-wide: full backups at ``first_at + k * full_every`` and, in
between, incrementals every ``incremental_every``. One timer per due time (no polling);
when it fires, every node that runs the task right now (``Task.running``: one node,
two during a partition, where the old owner keeps its backups with no leader) backs up.

*What kind.* Incrementals chain only onto the same node's full backup [B17], so a node
takes a full backup when the slot is a full one, or when it has no full backup of its
own since the latest full slot (a new owner starts with a full one); otherwise an
incremental covering every change since that node's own previous backup.

*When.* A backup due while nobody runs the task (the owner went down just before, the
rehab grace not yet over) or whose run failed (its node crashed mid-backup) stays
*owed*: the next node to take the task runs it as soon as it does. Otherwise a change
of owner does not trigger a backup: the schedule is shared, so the new owner waits for
the next due time ("a failure does not trigger an immediate backup").

*How long.* A backup captures its node's state (change vector) when it starts and
writes ``bytes / write_rate`` seconds: a full one the copy's size, an incremental the
documents changed since the node's previous backup. A crash meanwhile fails it
(``backup_failed``; it does not count). A change of owner does not stop a backup that
is already being written. A backup due while the node's previous one is still being
written is skipped (``backup_skipped``).

*Status.* On completion the node persists the cluster-wide backup status (the last
backup of every node) with a Raft command; with no leader it cannot (the command times
out), but the backup exists in the node's own folder.

Records: events ``backup_started``, ``backup_done``, ``backup_failed``,
``backup_skipped`` (value: bytes), and, at each ``backup_done``, timeseries samples for
entity ``backup.<task>.<node>``: ``bytes``, ``full`` (1 or 0), ``captured_s`` (the state's
time), ``since_s`` (the previous backup an incremental builds on; -1 for a full one) and
``missing_writes`` (acknowledged write operations the captured state lacks), which
``workbench.analysis.backups`` turns into RPO and restore-time figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.model.database.database import covers
from workbench.model.kernel.kernel import Timer
from workbench.model.tasks.tasks import Task

if TYPE_CHECKING:
    import simpy

    from workbench.model.cluster.node import Server
    from workbench.model.cluster.rachis import Cluster
    from workbench.model.database.ledger import WriteLedger
    from workbench.model.recording.recorder import Recorder

EPS = 1e-6  # seconds: slot times compared with this tolerance


@dataclass
class BackupRecord:
    """One backup in a node's folder."""

    full: bool
    captured: float  # start: the state it holds
    done: float
    bytes: float
    cv: tuple[int, ...]
    since: float | None  # an incremental: the capture time of the backup it builds on
    incarnation: int  # the database copy it was taken from


@dataclass
class Run:
    """A backup being written."""

    full: bool
    started: float
    bytes: float
    cv: tuple[int, ...]
    since: float | None
    epoch: int
    incarnation: int
    missing: int
    timer: Timer | None = field(default=None, repr=False)


class Backup(Task):
    """The periodic backup task: its cluster-wide schedule, each node's folder of backups and the
    backups being written.

    Resource-intensive, so it avoids the preferred node, and it keeps running on its last node while
    that node has no leader [spec §5.1, §1.8].

    Besides what every task is given (:class:`Task`), it is given the write ledger: the
    acknowledged writes a backup's captured state may lack."""

    resource_intensive = True  # PeriodicBackupConfiguration.IsResourceIntensive() [spec §5.1]
    keep_without_leader = True  # keeps running on its last node with no leader [spec §1.8]

    def __init__(
        self,
        env: simpy.Environment,
        spec: Any,
        nodes: list[Server],
        cluster: Cluster,
        recorder: Recorder,
        db_name: str,
        db: int,
        ledger: WriteLedger,
    ):
        super().__init__(env, spec, nodes, cluster, recorder, db_name, db)
        self.ledger = ledger
        self.full_every = float(spec.full_every)
        self.incremental_every = float(spec.incremental_every) if spec.incremental_every else None
        self.first_at = float(spec.first_at)
        self.write_rate = float(spec.write_rate)
        self.folders: dict[int, list[BackupRecord]] = {}  # node -> its backups, oldest first
        self.writing: dict[int, Run] = {}  # node -> the backup it is writing
        self.owed: tuple[float, bool] | None = None  # (due time, full slot) of a backup nobody has made
        # Acknowledged writes a node's copy lacked when last checked (ack positions), per node:
        # (copy incarnation, acks checked, missing positions); holding a write is monotonic.
        self._unheld: dict[int, tuple[int, int, list[int]]] = {}
        self._k = 0  # full period of the next slot
        self._j = 0  # incremental within it (0: the full one)
        due, full = self._slot()
        Timer(self.env, max(due - self.env.now, 0.0), self._due, (due, full))

    # -- schedule
    def _slot(self) -> tuple[float, bool]:
        base = self.first_at + self._k * self.full_every
        if self._j == 0:
            return base, True
        return base + self._j * self.incremental_every, False  # type: ignore[operator]

    def _advance(self) -> tuple[float, bool]:
        self._j += 1
        if self.incremental_every is None or self._j * self.incremental_every >= self.full_every - EPS:
            self._k += 1
            self._j = 0
        return self._slot()

    def last_full_slot(self, t: float) -> float:
        """The latest full slot at or before ``t`` (the first one if none yet)."""
        if t < self.first_at:
            return self.first_at
        return self.first_at + int((t - self.first_at + EPS) // self.full_every) * self.full_every

    def _due(self, due: float, full: bool) -> None:
        if self.owed is not None and self.owed[1]:
            full = True  # a full slot nobody served stays a full one
        self.owed = (due, full)
        running = sorted(self.running)
        if running and all(index in self.writing for index in running):
            # Every owner is still writing its previous backup: this slot is skipped, not
            # owed (a later owner would otherwise make a stale backup for it).
            for index in running:
                self._launch(index)  # records backup_skipped
            self.owed = None
        else:
            for index in running:
                self._launch(index)
        nxt, nxt_full = self._advance()
        Timer(self.env, nxt - self.env.now, self._due, (nxt, nxt_full))

    # -- the task framework
    def start(self, index: int) -> None:
        """Node ``index`` took the task: it makes a backup nobody made (owed) at once, else waits
        for the next due time."""
        if self.owed is not None and not self._owed_in_progress():
            self._launch(index)  # a backup due while nobody ran it: the new owner makes it now

    def _owed_in_progress(self) -> bool:
        """Another node is already writing a backup for the owed due time."""
        return any(run.started >= self.owed[0] - EPS for run in self.writing.values())  # type: ignore[index]

    def stop(self, index: int) -> None:
        """Node ``index`` no longer runs the task: a backup it is writing goes on unless its node
        crashed or lost its copy."""
        self._check_crash(index)

    def reassess(self, index: int) -> None:
        """Ownership as in :meth:`Task.reassess`, then fail a backup that node ``index`` was writing
        if it crashed or lost its copy."""
        super().reassess(index)
        self._check_crash(index)  # also a backup still being written by a former owner

    # -- one backup
    def _has_full_in_schedule(self, index: int, now: float) -> bool:
        inst = self.nodes[index].instances[self.db]
        slot = self.last_full_slot(now)
        for rec in reversed(self.folders.get(index, ())):
            if rec.full and inst is not None and rec.incarnation == inst.incarnation:
                return rec.captured >= slot - EPS
        return False

    def _launch(self, index: int) -> None:
        node = self.nodes[index]
        inst = node.instances[self.db]
        if not node.up or inst is None:
            return
        now = self.env.now
        if index in self.writing:
            self.recorder.event(
                "backup_skipped",
                node=node.tag,
                database=self.db_name,
                task=self.name,
                state_at_s=self.writing[index].started,
            )
            return
        slot_full = self.owed[1] if self.owed is not None else False
        full = slot_full or not self._has_full_in_schedule(index, now)
        cv = tuple(inst.db_cv)
        if full:
            size, since = inst.snapshot_bytes(), None
        else:
            prev = self.folders[index][-1]
            size = sum(d.size for d in inst.docs.values() if not covers(prev.cv, d.cv))
            since = prev.captured
        run = Run(full, now, size, cv, since, node.epoch, inst.incarnation, self._missing_writes(index))
        run.timer = Timer(self.env, size / self.write_rate, self._finish, (index, run))
        self.writing[index] = run
        self.recorder.event(
            "backup_started",
            node=node.tag,
            database=self.db_name,
            task=self.name,
            full=full,
            bytes=size,
            since_s=since,
            value=size,
        )

    def _finish(self, index: int, run: Run) -> None:
        if self.writing.get(index) is not run:
            return
        del self.writing[index]
        node = self.nodes[index]
        now = self.env.now
        rec = BackupRecord(run.full, run.started, now, run.bytes, run.cv, run.since, run.incarnation)
        self.folders.setdefault(index, []).append(rec)
        if self.owed is not None and run.started >= self.owed[0] - EPS:
            self.owed = None
        self.recorder.event(
            "backup_done",
            node=node.tag,
            database=self.db_name,
            task=self.name,
            full=run.full,
            bytes=run.bytes,
            state_at_s=run.started,
            since_s=run.since,
            value=run.bytes,
        )
        entity = f"backup.{self.name}.{node.tag}"
        sample = self.recorder.sample
        sample(now, entity, "bytes", run.bytes)
        sample(now, entity, "full", 1.0 if run.full else 0.0)
        sample(now, entity, "captured_s", run.started)
        sample(now, entity, "since_s", -1.0 if run.since is None else run.since)
        sample(now, entity, "missing_writes", float(run.missing))
        # The cluster-wide status: the last backup of every node (lost with no leader).
        status = dict(self.persisted(index) or {})
        status[node.tag] = {"full": run.full, "captured": run.started, "done": now, "bytes": run.bytes}
        self.persist(index, status)

    def _check_crash(self, index: int) -> None:
        run = self.writing.get(index)
        node = self.nodes[index]
        if run is None or (node.up and node.epoch == run.epoch and node.instances[self.db] is not None):
            return
        del self.writing[index]
        if run.timer is not None:
            run.timer.cancel()
        why = "its node crashed" if not node.up or node.epoch != run.epoch else "its node lost its copy"
        self.recorder.event(
            "backup_failed",
            node=node.tag,
            database=self.db_name,
            task=self.name,
            full=run.full,
            state_at_s=run.started,
            reason=why,
            value=run.bytes,
        )
        if self.owed is not None and not self._owed_in_progress():
            for other in sorted(self.running - {index}):
                self._launch(other)  # still owed: a node that runs the task now makes it

    def _missing_writes(self, index: int) -> int:
        """Acknowledged write operations that node ``index``'s copy lacks right now.

        Checked incrementally: a write once held stays held (a later version's change
        vector includes it), so only the writes missing at the last check and the ones
        acknowledged since are looked at."""
        inst = self.nodes[index].instances[self.db]
        if inst is None:
            return 0
        incarnation, checked, missing = self._unheld.get(index, (inst.incarnation, 0, []))
        if incarnation != inst.incarnation:
            checked, missing = 0, []
        ledger = self.ledger
        still = ledger.unheld([inst.docs], [*missing, *range(checked, len(ledger))])
        self._unheld[index] = (inst.incarnation, len(ledger), still)
        return len({ledger.entry(i)[3] for i in still})

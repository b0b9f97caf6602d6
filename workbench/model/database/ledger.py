"""The ledger of acknowledged writes (issue 22, item 1: bookkeeping split out of the builder).

Every write the cluster acknowledged to a client, and what becomes of it. Three questions
are asked of it [design.md, metrics]:

- **data at risk** (RPO) when a fault hits: acknowledged writes that no surviving copy holds,
  directly or through a later version whose change vector includes them, and the age of the
  oldest (:meth:`WriteLedger.at_risk`);
- **missing on a copy**: what a copy about to be promoted lacks (:meth:`WriteLedger.missing`,
  for the observer's forced promotion);
- **lost by the end**: each acknowledged write is present, superseded by a later write of the
  same key, or lost, with its cause (:meth:`WriteLedger.record_losses`).

It is given the clock and the recorder, and is told of writes by the clients (acknowledged),
by conflict resolution (a version that lost) and by cluster transactions (a version applied
over). Copies are handed in by the caller as document maps (key -> stored version), so the
ledger knows nothing of nodes, clusters or the network.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from workbench.model.recording.recorder import Recorder


class WriteLedger:
    """Every acknowledged write (key, change-vector position, etag, write id, time)."""

    def __init__(self, now: Callable[[], float], recorder: Recorder, database: str | None = None) -> None:
        self._now = now
        self._recorder = recorder
        self._database = database  # the database whose writes these are (named in its events)
        # The newest acknowledged write per key (cv position, etag): what a read must see.
        self.newest: dict[int, tuple[int, int]] = {}
        self._key = array("q")
        self._pos = array("i")
        self._etag = array("q")
        self._write = array("q")
        self._time = array("d")
        # Versions that lost a conflict ((write id, key) -> how it was resolved), and versions a
        # cluster transaction was applied over (not lost: the transaction superseded them).
        self.resolution_losers: dict[tuple[int, int], str] = {}
        self.superseded_by_cluster_tx: set[tuple[int, int]] = set()

    def acknowledged(self, key: int, pos: int, etag: int, write_id: int) -> None:
        """A client was told its write of ``key`` succeeded: note the version (change-vector
        position, etag), its write id and the time."""
        self._key.append(key)
        self._pos.append(pos)
        self._etag.append(etag)
        self._write.append(write_id)
        self._time.append(self._now())

    def __len__(self) -> int:
        return len(self._key)

    def entry(self, i: int) -> tuple[int, int, int, int]:
        """The ``i``-th acknowledged write: (key, cv position, etag, write id)."""
        return self._key[i], self._pos[i], self._etag[i], self._write[i]

    def unheld(self, copies: list[Mapping[int, Any]], positions: Iterable[int] | None = None) -> list[int]:
        """Positions (among ``positions``, default all) of the acknowledged writes that none of
        ``copies`` holds, directly or through a later version whose change vector includes them."""
        keys, cv_positions, etags = self._key, self._pos, self._etag
        missing = []
        for i in range(len(keys)) if positions is None else positions:
            key, pos, etag = keys[i], cv_positions[i], etags[i]
            for docs in copies:
                doc = docs.get(key)
                if doc is not None and doc.cv[pos] >= etag:
                    break
            else:
                missing.append(i)
        return missing

    def at_risk(self, copies: list[Mapping[int, Any]]) -> tuple[int, float]:
        """RPO of a fault that hits now, given the surviving copies: how many acknowledged
        writes none holds, and the age in seconds of the oldest of them (0 if none)."""
        missing = self.unheld(copies)
        now = self._now()
        return len(missing), now - min((self._time[i] for i in missing), default=now)

    def missing(self, docs: Mapping[int, Any] | None) -> int:
        """Acknowledged writes that one copy does not hold (nor supersede); None: no copy."""
        return len(self.unheld([docs] if docs is not None else []))

    def record_losses(self, copies: list[Mapping[int, Any]]) -> int:
        """End of run: record each acknowledged write that is lost, with its cause, and return
        how many:

        - ``conflict resolution``: it lost a conflict (to the latest, or to a cluster
          transaction not applied on top of it), so its content was discarded;
        - ``no copy holds it``: no copy of the database holds it, directly or through a later
          version that includes it (e.g. a replica deleted before it passed its writes on)."""
        rec = self._recorder
        lost = 0
        # Built only when some write lost a conflict: a set of every acknowledged write is a
        # second or more of allocation (and of collector passes over it) after a long run.
        acked = set(zip(self._write, self._key, strict=True)) if self.resolution_losers else set()
        for (write_id, key), how in sorted(self.resolution_losers.items()):
            if (write_id, key) in acked and (write_id, key) not in self.superseded_by_cluster_tx:
                lost += 1
                rec.event(
                    "write_lost",
                    database=self._database,
                    key=key,
                    write=write_id,
                    reason="conflict resolution",
                    resolution=how,
                    value=write_id,
                )
        for i in self.unheld(copies):
            key, write_id = self._key[i], self._write[i]
            lost += 1
            rec.event(
                "write_lost",
                database=self._database,
                key=key,
                write=write_id,
                reason="no copy holds it",
                value=write_id,
            )
        if lost:
            rec.event("writes_lost", database=self._database, count=lost, value=lost)
        return lost

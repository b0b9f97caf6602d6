"""Where versions come from (issue 22, item 1: counters split out of the builder).

A change vector has one entry per node, then a "RAFT" entry for cluster-wide transactions
[spec §3.4]. In a deployment of several clusters the vectors span every cluster's nodes
(``world.Placement``), so each cluster's entries start at ``cv_base``. The counters here are
shared by everything that makes a version: the clients number their writes, each copy takes the
next etag of its node's entry (never reused, even by a copy made again later), each copy gets its
own incarnation, and each node stamps last-modified from its own clock, skew included.
"""

from __future__ import annotations


class WriteIds:
    """The last write id handed out, shared by every database of a cluster (ids are unique
    across the deployment)."""

    __slots__ = ("last",)

    def __init__(self, last: int) -> None:
        self.last = last


class Versions:
    """Change-vector layout and version counters of one database on one cluster. The databases of
    a cluster share the layout (one entry per node), the clocks and the write ids; each has its
    own etags, as each RavenDB database keeps its own (``for_database``)."""

    __slots__ = (
        "clock_skew",
        "copies_created",
        "cv_base",
        "cv_width",
        "etags_issued",
        "ids",
        "raft_position",
        "zero_cv",
    )

    def __init__(
        self, cv_base: int, cv_width: int, raft_position: int, clock_skew: list[float], first_write_id: int = 0
    ) -> None:
        self.cv_base = cv_base  # entry of this cluster's first node
        self.cv_width = cv_width
        self.raft_position = raft_position  # this cluster's RAFT entry
        self.zero_cv: tuple[int, ...] = (0,) * cv_width
        self.etags_issued = [0] * cv_width  # highest etag each entry has used
        self.clock_skew = clock_skew  # per node of this cluster (a fault may change it)
        self.ids = WriteIds(first_write_id)
        self.copies_created = 0  # database copies ever made: each gets its own incarnation

    def for_database(self) -> Versions:
        """The counters of another database of the same cluster: same layout, clocks and write
        ids; its own etags and copies."""
        other = Versions(self.cv_base, self.cv_width, self.raft_position, self.clock_skew)
        other.ids = self.ids
        return other

    @property
    def write_counter(self) -> int:
        """The last write id handed out (by any database of the cluster)."""
        return self.ids.last

    def next_write_id(self) -> int:
        """A new write id, unique across the deployment."""
        ids = self.ids
        ids.last += 1
        return ids.last

    def next_incarnation(self) -> int:
        """A new database copy's id."""
        self.copies_created += 1
        return self.copies_created

"""Where versions come from (issue 22, item 1: counters split out of the builder).

A change vector has one entry per node, then a "RAFT" entry for cluster-wide transactions
[spec §3.4]. In a deployment of several clusters the vectors span every cluster's nodes
(``world.Placement``), so each cluster's entries start at ``cv_base``. The counters here are
shared by everything that makes a version: the clients number their writes, each copy takes the
next etag of its node's entry (never reused, even by a copy made again later), each copy gets its
own incarnation, and each node stamps last-modified from its own clock, skew included.
"""

from __future__ import annotations


class Versions:
    """Change-vector layout and the run's version counters, for one cluster."""

    __slots__ = (
        "clock_skew",
        "copies_created",
        "cv_base",
        "cv_width",
        "etags_issued",
        "raft_position",
        "write_counter",
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
        self.write_counter = first_write_id  # the last write id handed out
        self.copies_created = 0  # database copies ever made: each gets its own incarnation

    def next_write_id(self) -> int:
        """A new write id, unique across the deployment."""
        self.write_counter += 1
        return self.write_counter

    def next_incarnation(self) -> int:
        """A new database copy's id."""
        self.copies_created += 1
        return self.copies_created

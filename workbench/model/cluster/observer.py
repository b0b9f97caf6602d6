"""The Cluster Observer: the leader's supervisor of database groups [spec §2.2-2.4].

It runs only on the leader and is rebuilt, with empty history, at every new
term. Every ``worker_sample_period`` it polls each node for a report (each of its
databases' change vectors); every ``supervisor_sample_period`` it looks at every
database of the cluster, in order, and makes at most one topology change per
database, each as its own Raft command (``ClusterObserver.AnalyzeLatestStats``
walks every database record and collects one ``UpdateTopologyCommand`` per
database that needs one). For each database the first rule that fires wins:

1. a member silent for longer than ``move_to_rehab_after`` (60 s) moves to rehab;
2. the preferred member (``Members[0]``) silent for longer than
   ``rotate_preferred_after`` (5 s) moves to the end of the list, if another
   member is healthy;
3. with fewer members than the replication factor, a rehab or promotable that
   has caught up with its mentor (its change vector covers the mentor's from
   the previous sample, and it answered the last two polls) is promoted; where
   it joins the list follows ``promotion_position``;
4. with no member left, the most up-to-date rehab is force-promoted;
5. with dynamic distribution on, a rehab silent for ``add_replica_after``
   (15 min) gets a replacement: a promotable on the fittest node (not in the
   group, answering, hosting the fewest databases), seeded by one mentor;
6. once the members reach the replication factor, every remaining rehab and
   promotable is deleted (the loser of the race).

Nothing is decided during the ``stabilization`` wait after the observer starts
or after the database's last topology change, nor while an operator has it
suspended (``suspend_observer``): it keeps collecting reports but decides
nothing, and as in RavenDB a suspension belongs to one leader's observer. "Caught up" compares change
vectors, where RavenDB compares the mentor's last-sent etag with its last etag:
the same question asked of the same data.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from workbench.model.cluster.rachis import LEADER, DbTopology, pick_mentor
from workbench.model.database.database import covers
from workbench.model.kernel.kernel import Grid, Timer

if TYPE_CHECKING:
    import simpy

    from workbench.model.assembly.quiescence import Quiescence
    from workbench.model.cluster.node import Server
    from workbench.model.cluster.rachis import RaftNode
    from workbench.model.database.group import DatabaseGroup
    from workbench.model.kernel.kernel import Streams
    from workbench.model.kernel.network import Network
    from workbench.model.recording.recorder import Recorder
    from workbench.scenario.schema import DatabaseSpec, ObserverSpec

REPORT_BYTES = 400.0  # the observer's request and each node's report


class Observer:
    """The Cluster Observer of one leader's term (``ClusterObserver.cs``): polls every node for its
    databases' change vectors and, at each supervisor sample, makes at most one change of each
    database group as a Raft command (the rules of the module docstring).

    It runs on ``env`` for leader ``raft``, with its own ``spec``, the cluster's ``databases``
    (each one's name and whether dynamic distribution is on) and their ``groups`` (in the same
    order; asked what a force-promoted copy lacks); it polls the ``nodes`` over the
    ``network``, stops while ``quiet`` has the cluster parked, records its decisions on
    ``recorder``, and draws the shuffle of ``promotion_position`` from ``streams``."""

    def __init__(
        self,
        env: simpy.Environment,
        raft: RaftNode,
        spec: ObserverSpec,
        databases: list[DatabaseSpec],
        nodes: list[Server],
        network: Network,
        quiet: Quiescence,
        groups: list[DatabaseGroup],
        recorder: Recorder,
        streams: Streams,
    ):
        self.env = env
        self.raft = raft
        self.spec = spec
        self.databases = databases
        self.nodes = nodes
        self.network = network
        self.quiet = quiet
        self.groups = groups
        self.recorder = recorder
        self.generation = raft.generation
        self.started = self.env.now
        # node -> (when, its databases' change vectors in the cluster's order)
        self.reports: dict[int, tuple[float, tuple[tuple[int, ...], ...]]] = {}
        self.previous: dict[int, tuple[float, tuple[tuple[int, ...], ...]]] = {}
        self.proposing: set[str] = set()  # databases whose change is on its way through Raft
        # Suspended by an operator (ClusterObserver.cs ``Suspended``): a field of this term's
        # observer, so the next leader's starts unsuspended.
        self.suspended = False
        self.rng = streams.rng(f"observer.term{raft.term}")
        # Both loops run on exact grids; each stops where it is while the cluster is parked
        # (Quiescence) and resumes on the same grid.
        self.poll_grid = Grid(self.started, self.spec.worker_sample_period)
        self.analyse_grid = Grid(self.started, self.spec.supervisor_sample_period, 1)
        self.poll_parked = self.analyse_parked = False
        Timer(self.env, 0.0, self._poll)
        Timer(self.env, self.spec.supervisor_sample_period, self._analyse)

    def alive(self) -> bool:
        """Its node still leads in the term it started in (a new term gets a new observer, with empty history)."""
        return self.raft.state == LEADER and self.raft.generation == self.generation

    # ------------------------------------------------------------------ reports
    def _poll(self) -> None:
        if not self.alive():
            return
        if self.quiet.parked:
            self.poll_parked = True
            return
        me = self.raft.index
        for node in self.nodes:
            if node.index == me:
                self.on_report(me, node.report())
            else:
                self.network.send(me, node.index, REPORT_BYTES, node.receive_report_request, self)
        Timer(self.env, self.poll_grid.step() - self.env.now, self._poll)

    def on_report(self, node: int, cvs: tuple[tuple[int, ...], ...] | None) -> None:
        """Node ``node``'s report arrived: its databases' change vectors (None: its databases are
        faulted, which counts as silence)."""
        if not self.alive() or cvs is None:
            return
        if node in self.reports:
            self.previous[node] = self.reports[node]
        self.reports[node] = (self.env.now, cvs)

    def silent_for(self, node: int) -> float:
        """Seconds since node ``node`` last reported (since this observer started, if never)."""
        last = self.reports.get(node)
        return self.env.now - (last[0] if last is not None else self.started)

    def _answering(self, node: int) -> bool:
        """Reported in the current and the previous sample."""
        period = self.spec.worker_sample_period
        return node in self.previous and self.silent_for(node) <= 2 * period + 1e-9

    # ------------------------------------------------------------------ decisions
    def _analyse(self) -> None:
        if not self.alive():
            return
        if self.quiet.parked:
            self.analyse_parked = True
            return
        Timer(self.env, self.analyse_grid.step() - self.env.now, self._analyse)
        if self.suspended:
            return  # ClusterObserver.Run analyses only ``if (Suspended == false)``; the reports still come
        now = self.env.now
        if self.network.paused_until[self.raft.index] > now:
            return  # the leader's process is frozen (a pause fault): no decisions
        if now - self.started < self.spec.stabilization:
            return
        records = self.raft.state_machine.databases
        for db, database in enumerate(self.databases):
            if database.name in self.proposing:
                continue
            topo = records.get(database.name)
            if topo is None or now - topo.changed_at < self.spec.stabilization:
                continue
            decision = self.decide(db, topo)
            if decision is not None:
                self._propose(db, *decision)

    def decide(self, db: int, topo: DbTopology) -> tuple[DbTopology, str, dict[str, Any]] | None:
        """The observer's next change of database ``db``'s group, if any: the new topology, the
        event kind that says what it does, and that event's fields."""
        spec = self.spec
        name = self.databases[db].name
        nodes = self.nodes
        tag = lambda i: nodes[i].tag  # noqa: E731
        members = topo.members
        healthy = [m for m in members if self.silent_for(m) <= spec.rotate_preferred_after]
        for m in members:
            silent = self.silent_for(m)
            if silent > spec.move_to_rehab_after:
                new = topo.copy()
                new.members.remove(m)
                new.rehabs.append(m)
                if new.members:
                    new.mentors[m] = self._mentor(name, m, new.members)
                return new, "moved_to_rehab", {"affected": tag(m), "silent_s": silent}
            if m == members[0] and silent > spec.rotate_preferred_after and len(members) > 1 and healthy:
                new = topo.copy()
                new.members.remove(m)
                new.members.append(m)
                return (
                    new,
                    "preferred_rotated",
                    {"affected": tag(m), "silent_s": silent, "preferred": tag(new.members[0])},
                )
        lagging = self._lagging(db, members)
        if lagging is not None and len(members) > 1:
            m, distance = lagging
            new = topo.copy()
            new.members.remove(m)
            new.rehabs.append(m)
            new.mentors[m] = self._mentor(name, m, new.members)
            return new, "moved_to_rehab", {"affected": tag(m), "etags_behind": distance}
        if not members:
            return self._force_promotion(db, topo)
        for candidate in topo.rehabs + topo.promotables:
            mentor = topo.mentors.get(candidate)
            if mentor not in members or not self._answering(mentor):
                live = [m for m in members if self._answering(m)]
                if live:
                    # RavenDB picks the mentor from the current members (task hash); a
                    # mentor that left or stopped answering is replaced.
                    new = topo.copy()
                    new.mentors[candidate] = self._mentor(name, candidate, live)
                    if new.mentors[candidate] != mentor:
                        return (
                            new,
                            "mentor_changed",
                            {"affected": tag(candidate), "mentor": tag(new.mentors[candidate])},
                        )
        if len(members) < topo.rf:
            for candidate in topo.rehabs + topo.promotables:
                mentor = topo.mentors.get(candidate)
                if mentor not in members:
                    mentor = self._mentor(name, candidate, members)
                if self._caught_up(db, candidate, mentor):
                    new = topo.copy()
                    if candidate in new.rehabs:
                        new.rehabs.remove(candidate)
                    else:
                        new.promotables.remove(candidate)
                    new.mentors.pop(candidate, None)
                    new.members = self._place(new.members, candidate)
                    return new, "promoted", {"affected": tag(candidate), "mentor": tag(mentor)}
        if len(members) >= topo.rf and (topo.rehabs or topo.promotables):
            new = topo.copy()
            gone = new.rehabs + new.promotables
            new.rehabs, new.promotables = [], []
            for g in gone:
                new.mentors.pop(g, None)
            return new, "replica_deleted", {"nodes": tuple(tag(g) for g in gone)}
        if self.databases[db].dynamic_distribution:
            return self._replacement(name, topo)
        return None

    def _replacement(self, name: str, topo: DbTopology) -> tuple[DbTopology, str, dict[str, Any]] | None:
        """A replacement copy for one that has been silent too long, on the fittest node: not in
        the group, answering, and hosting the fewest databases (``ClusterObserver.TryFindFitNode``:
        fewest assigned databases, the first on a tie)."""
        spec = self.spec
        bad = [r for r in topo.rehabs + topo.promotables if self.silent_for(r) > spec.add_replica_after]
        responding = [n for n in topo.all_nodes() if n not in bad]
        if not bad or len(responding) >= topo.rf or not topo.members:
            return None
        in_group = set(topo.all_nodes())
        config = self.raft.state_machine_config()
        hosting = {i: 0 for i in config}
        for t in self.raft.state_machine.databases.values():
            for n in t.all_nodes():
                hosting[n] = hosting.get(n, 0) + 1
        fit = [
            i
            for i, role in sorted(config.items())
            if role in ("member", "watcher") and i not in in_group and self._answering(i)
        ]
        if not fit:
            return None
        target = min(fit, key=lambda i: (hosting.get(i, 0), i))
        new = topo.copy()
        new.promotables.append(target)
        new.mentors[target] = self._mentor(name, target, new.members)
        nodes = self.nodes
        fields = {
            "affected": nodes[target].tag,
            "nodes": tuple(nodes[b].tag for b in bad),
            "mentor": nodes[new.mentors[target]].tag,
        }
        return new, "replica_added", fields

    def _force_promotion(self, db: int, topo: DbTopology) -> tuple[DbTopology, str, dict[str, Any]] | None:
        """No member left: promote the most up-to-date rehab (or promotable) that answers."""
        candidates = [r for r in topo.rehabs if self._answering(r)] or [
            p for p in topo.promotables if self._answering(p)
        ]
        if not candidates:
            return None
        best = max(candidates, key=lambda r: (sum(self.reports[r][1][db]), -r))
        new = topo.copy()
        if best in new.rehabs:
            new.rehabs.remove(best)
        else:
            new.promotables.remove(best)
        new.members = [best]
        new.mentors = {n: best for n in new.rehabs + new.promotables}
        return new, "forced_promotion", {"affected": self.nodes[best].tag}

    def _lagging(self, db: int, members: list[int]) -> tuple[int, int] | None:
        """A member of database ``db`` more than max_change_vector_distance etags behind a peer's
        own entry, in the current and the previous sample [spec §2.3]."""
        limit = self.spec.max_change_vector_distance

        def behind(samples: dict[int, tuple[float, tuple[tuple[int, ...], ...]]], m: int) -> int:
            """Etags member ``m`` lacks of the furthest-ahead peer's own entry, in one sample."""
            if m not in samples:
                return 0
            own = samples[m][1][db]
            return max((samples[p][1][db][p] - own[p] for p in members if p != m and p in samples), default=0)

        for m in members:
            now, before = behind(self.reports, m), behind(self.previous, m)
            if now > limit and before > limit:
                return m, now
        return None

    # ------------------------------------------------------------------ quiescence
    def idle_until(self) -> float | None:
        """None if a decision may come soon; otherwise the time until which every rule
        stays quiet while the reports stay as they are (inf: until something changes)."""
        if not self.alive() or self.proposing:
            return None
        if self.suspended:
            return math.inf  # it decides nothing until an operator resumes it (a fault: woken ahead)
        spec = self.spec
        now = self.env.now
        if now - self.started < spec.stabilization:
            return None
        nodes = self.nodes
        # Answering now and able to keep answering, per node (asked once, whatever the databases).
        steady: dict[int, bool] = {}
        due = math.inf
        records = self.raft.state_machine.databases
        for db, database in enumerate(self.databases):
            topo = records.get(database.name)
            if topo is None:
                continue
            members = topo.members
            if not members or now - topo.changed_at < spec.stabilization:
                return None
            for m in members:
                # A member that just went silent is about to be rotated or moved to rehab.
                ok = steady.get(m)
                if ok is None:
                    ok = steady[m] = self._answering(m) and nodes[m].up and nodes[m].report() is not None
                if not ok:
                    return None
            if self._lagging(db, members) is not None:
                return None
            extras = topo.rehabs + topo.promotables
            if extras and len(members) >= topo.rf:
                return None  # the extra copies are about to be deleted
            for c in extras:
                if self._answering(c) or (nodes[c].up and nodes[c].report() is not None):
                    return None  # catching up: it may be promoted
                mentor = topo.mentors.get(c)
                if mentor not in members:
                    return None  # its mentor is about to change
                if database.dynamic_distribution:
                    last = self.reports.get(c)
                    replace_at = (last[0] if last is not None else self.started) + spec.add_replica_after
                    if replace_at <= now:
                        if self._replacement(database.name, topo) is not None:
                            return None
                    else:
                        due = min(due, replace_at)
        return due

    def resume(self) -> None:
        """The cluster wakes: restart both sampling loops on their grids. Every node that
        would have answered the skipped polls holds the last two, with its vector as now."""
        if not self.alive():
            return
        now = self.env.now
        period = self.spec.worker_sample_period
        if self.poll_parked:
            self.poll_parked = False
            skipped = self.poll_grid.catch_up(now)
            if skipped:
                last = self.poll_grid.at() - period
                for node in self.nodes:
                    cv = node.report() if node.up else None
                    if cv is None:
                        continue
                    if skipped >= 2:
                        self.previous[node.index] = (last - period, cv)
                    elif node.index in self.reports:
                        self.previous[node.index] = self.reports[node.index]
                    self.reports[node.index] = (last, cv)
            Timer(self.env, self.poll_grid.at() - now, self._poll)
        if self.analyse_parked:
            self.analyse_parked = False
            self.analyse_grid.catch_up(now)
            Timer(self.env, self.analyse_grid.at() - now, self._analyse)

    # ------------------------------------------------------------------ helpers
    def _mentor(self, name: str, candidate: int, members: list[int]) -> int:
        return pick_mentor(name, candidate, members)

    def _caught_up(self, db: int, candidate: int, mentor: int) -> bool:
        if not self._answering(candidate) or not self._answering(mentor):
            return False
        (t_prev, mentor_prev), (t_now, _) = self.previous[mentor], self.reports[mentor]
        if t_now - t_prev > 3 * self.spec.supervisor_sample_period:
            return False
        return covers(self.reports[candidate][1][db], mentor_prev[db])

    def _place(self, members: list[int], node: int) -> list[int]:
        policy = self.spec.promotion_position
        out = [*members, node]
        if policy == "shuffle":
            order = self.rng.permutation(len(out))
            out = [out[i] for i in order]
        elif policy == "priority":
            tags = {n.tag: n.index for n in self.nodes}
            rank = {tags[t]: k for k, t in enumerate(self.spec.priority_order)}
            out.sort(key=lambda i: rank.get(i, len(rank)))
        return out

    def _propose(self, db: int, new: DbTopology, kind: str, fields: dict[str, Any]) -> None:
        name = self.databases[db].name
        self.proposing.add(name)
        nodes, recorder = self.nodes, self.recorder

        def done(outcome: tuple) -> None:
            """The command's outcome: on success record the decision and the new topology; either
            way the observer may propose again."""
            self.proposing.discard(name)
            ok, index, result = outcome
            if ok and result[0] == "ok":
                value = None
                if kind == "forced_promotion":
                    # Acknowledged writes the promoted copy lacks: lost unless an old copy returns.
                    missing = self.groups[db].missing_on(new.members[0])
                    fields["missing_writes"] = missing
                    value = float(missing)
                recorder.event(kind, node=self.raft.tag, term=self.raft.term, value=value, database=name, **fields)
                tag = lambda i: nodes[i].tag  # noqa: E731
                recorder.event(
                    "topology_changed",
                    node=self.raft.tag,
                    term=self.raft.term,
                    database=name,
                    etag=index,
                    **new.event_fields(tag),
                )

        self.raft.submit("topology", (name, new, new.etag), 300.0, done)

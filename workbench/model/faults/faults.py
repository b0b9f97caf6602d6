"""The fault plan: scripted actions, maintenance plans and random failures.

Faults change the simulated system, not the callers: a crash is a node state, a partition
a set of cut links, a pause a frozen endpoint, a dark data centre a cut layer
plus stopped nodes and application servers. Every action lands in ``events``:
its own event (``node_crashed``, ``partition``, ...) plus ``fault_started`` /
``fault_ended`` carrying the fault's id (field ``fault_id``, and ``value``), and, when a
fault hits, ``rpo_writes`` / ``rpo_seconds`` (data at risk) with the same ``fault_id``.

Timing: ``at: 30 s``, or ``after: EVENT + DELAY`` — the first EVENT recorded
once the previous entry of the plan has fired (from the start for the first
entry), plus DELAY. Plans (``rolling_restart``, ``random_failures``,
``random_datacenter_failures``) start at ``at`` (default 0).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from workbench.model.clients.workload import reroute
from workbench.model.cluster.rachis import LEADER, LEADER_ELECT, MEMBER, PROMOTABLE, WATCHER
from workbench.model.kernel.kernel import Timer
from workbench.scenario.schema import (
    ROLE_TARGETS,
    AddToGroupAction,
    BulkUpdateAction,
    ClientRestartFault,
    ClockSkewFault,
    CrashFault,
    CreateDatabaseAction,
    DatacenterDownFault,
    DatacenterUpFault,
    DegradeLinkFault,
    DemoteAction,
    DeployIndexAction,
    ExternalDownFault,
    ExternalUpFault,
    FillDiskFault,
    FreeDiskFault,
    HealFault,
    MoveToEndAction,
    PartitionFault,
    PauseFault,
    PromoteAction,
    RandomDatacenterFailures,
    RandomFailures,
    RemoveFromGroupAction,
    RerouteAction,
    RestartFault,
    RestoreLinkFault,
    ResumeObserverAction,
    RollingRestartPlan,
    ShutdownFault,
    SlowDiskFault,
    SuspendObserverAction,
)

if TYPE_CHECKING:
    import simpy

    from workbench.model.assembly.quiescence import Quiescence
    from workbench.model.clients.client import Client
    from workbench.model.clients.workload import Generator
    from workbench.model.cluster.node import Server
    from workbench.model.cluster.observer import Observer
    from workbench.model.cluster.rachis import Cluster
    from workbench.model.database.group import DatabaseGroup, Databases
    from workbench.model.database.keyspace import Keyspace
    from workbench.model.database.versions import Versions
    from workbench.model.kernel.kernel import Streams
    from workbench.model.kernel.network import Network
    from workbench.model.recording.recorder import Recorder
    from workbench.model.tasks.external import ExternalSystem
    from workbench.model.tasks.tasks import Tasks


def surviving_nodes(nodes: list[Server], network: Network, cluster: Cluster, now: float) -> list[int]:
    """The nodes that keep the system going right now: up, answering (not paused,
    stopping or faulted), and on the side of any partition that holds most voters
    (ties: the leader's side, then the larger side)."""
    net = network
    alive = [n.index for n in nodes if n.up and n.accepting and not n.disk_full and net.paused_until[n.index] <= now]
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
    voters = {n.index for n in cluster.nodes if n.role == "member"}
    lead = cluster.leader()

    def rank(side: list[int]) -> tuple[int, bool, int]:
        """Order sides by voters held, then holding the leader, then size."""
        return (len(voters.intersection(side)), lead is not None and lead.index in side, len(side))

    return sorted(max(sides, key=rank))


class _Scaled:
    """An fsync sampler slowed by a factor."""

    __slots__ = ("factor", "sampler")

    def __init__(self, sampler: Callable[[], float], factor: float):
        self.sampler = sampler
        self.factor = factor

    def __call__(self) -> float:
        return self.sampler() * self.factor


class FaultInjector:
    """Runs the scenario's fault plan against one cluster: fires each action at its time or after
    its trigger event, undoes it when its duration ends, and records ``fault_started`` /
    ``fault_ended`` with the data at risk when a fault hits (see the module docstring).

    It is handed the plan, its random streams and the peers its actions change or read. The
    builder keeps it current through two hooks: :meth:`on_new_observer` when a new leader's
    observer starts (the one ``suspend_observer`` acts on), :meth:`on_topology` when a node
    applies a database topology. ``last_crashed`` (the node last crashed or stopped) is its own."""

    def __init__(
        self,
        env: simpy.Environment,
        plan: Sequence[Any],
        streams: Streams,
        *,
        nodes: list[Server],
        node_by_tag: dict[str, Server],
        network: Network,
        cluster: Cluster,
        recorder: Recorder,
        quiet: Quiescence,
        group: DatabaseGroup,
        versions: Versions,
        keyspace: Keyspace,
        clients: list[Client],
        workload: Generator,
        databases: Databases | None = None,
        executors: list[Client] | None = None,
        tasks: Tasks,
        externals: dict[str, ExternalSystem],
        datacenters: list[str],
        observer_enabled: bool,
    ):
        self.env = env
        self.streams = streams
        self.rng = streams.rng("faults")
        self.placement_rng = streams.rng("placement.actions")
        self.plan = list(plan)
        # The peers an action changes or reads.
        self.nodes = nodes
        self.node_by_tag = node_by_tag
        self.network = network
        self.cluster = cluster
        self.recorder = recorder
        self.quiet = quiet
        self.group = group  # the database actions address (the cluster's first)
        # Every database of the cluster: what a fault puts at risk is counted over all of them.
        self.databases = databases
        self.versions = versions  # the write counter (bulk updates), the clock skews
        self.keyspace = keyspace
        self.clients = clients  # one per application server: what a reroute moves
        # Every executor of every application server (one per database it works with).
        self.executors = executors if executors is not None else clients
        self.workload = workload  # its operations are what a reroute moves
        self.tasks = tasks
        self.externals = externals
        self.datacenters = datacenters  # the blueprint's data centre names, in order
        self.observer_enabled = observer_enabled
        self.observer: Observer | None = None  # the current leader's (set by on_new_observer)
        self.last_crashed: str | None = None  # the node ``last_crashed`` names: the last crashed or stopped
        self._waiting: list[int] = []  # plan entries armed and waiting for their trigger event
        self._ids = 0
        self.active: dict[tuple, int] = {}  # what a later action undoes -> the fault's id
        self._dc_stopped: dict[str, list[int]] = {}
        self._suspended: Any = None  # the observer an operator suspended, while it lasts
        # (database, node added to its group) -> seen in the group yet
        self._joining: dict[tuple[str, int], bool] = {}
        self._topology_etag: dict[str, int] = {}  # per database, the newest topology applied anywhere

    # ------------------------------------------------------------------ timing
    def start(self) -> None:
        """Schedule the timed plan entries and arm the first ``after:`` entry; listen to the
        recorder for trigger events."""
        for i, fault in enumerate(self.plan):
            if fault.after is None:
                self._at(fault.at or 0.0, self._fire, i)
        self._arm_next(-1)
        self.recorder.listeners.append(self._on_event)

    def _arm_next(self, i: int) -> None:
        j = i + 1
        if j < len(self.plan) and self.plan[j].after is not None:
            self._waiting.append(j)

    def _on_event(self, kind: str, _node: str | None) -> None:
        if not self._waiting:
            return
        for j in [j for j in self._waiting if self.plan[j].after.event == kind]:
            self._waiting.remove(j)
            self._at(self.plan[j].after.delay, self._fire, j)

    def _at(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        """Schedule a fault-plan step; the idle cluster is woken ahead of it (Quiescence)."""
        self.quiet.expect(delay)
        Timer(self.env, delay, fn, args)

    def _sleep(self, delay: float) -> Any:
        """``yield self._sleep(d)`` in a plan's process: a timeout the idle cluster wakes for."""
        self.quiet.expect(delay)
        return self.env.timeout(delay)

    def _fire(self, i: int) -> None:
        self._dispatch(self.plan[i], i)
        # Armed only now, so the events this action itself caused do not trigger the next.
        self._arm_next(i)

    # ------------------------------------------------------------------ bookkeeping
    def resolve(self, ref: str, group: DatabaseGroup | None = None) -> str | None:
        """A node tag, or a role resolved now: leader, follower, preferred (of ``group``'s
        database, default the first), last_crashed."""
        if ref == "leader":
            lead = self.cluster.leader()
            return lead.tag if lead is not None else None
        if ref == "follower":
            lead = self.cluster.leader()
            options = [n.tag for n in self.cluster.nodes if n.state != "down" and n is not lead and n.role == "member"]
            return options[int(self.rng.integers(0, len(options)))] if options else None
        if ref == "preferred":
            lead = self.cluster.leader()
            view = (lead or self.cluster.nodes[0]).state_machine.databases[(group or self.group).name]
            return self.nodes[view.members[0]].tag if view.members else None
        if ref == "last_crashed":
            return self.last_crashed
        return ref

    def _begin(
        self,
        label: str,
        target: str | None,
        key: tuple,
        node: str | None = None,
        rpo: bool = True,
        disk_lost: bool = False,
        silent: bool = False,
    ) -> int:
        """Record a fault's start; ``key`` names what a later action (or its duration) undoes.
        ``label`` is the fault (``crash``, ``random failure``, ``rolling restart``, ...)."""
        self._ids += 1
        fid = self._ids
        previous = self.active.pop(key, None)
        if previous is not None:
            self._record_end(previous, node)
        self.active[key] = fid
        flags: dict[str, bool] = {}
        if disk_lost:
            flags["disk_lost"] = True
        if silent:
            flags["silent"] = True
        rec = self.recorder
        rec.event("fault_started", node=node, action=label, target=target, fault_id=fid, value=fid, **flags)
        if rpo:
            survivors = surviving_nodes(self.nodes, self.network, self.cluster, self.env.now)
            at_risk = self.databases if self.databases is not None else self.group
            count, age = at_risk.data_at_risk(survivors)
            rec.event("rpo_writes", node=node, fault_id=fid, value=float(count))
            rec.event("rpo_seconds", node=node, fault_id=fid, value=age)
        return fid

    def _end(self, key: tuple, node: str | None = None) -> None:
        fid = self.active.pop(key, None)
        if fid is not None:
            self._record_end(fid, node)

    def _record_end(self, fid: int, node: str | None) -> None:
        self.recorder.event("fault_ended", node=node, fault_id=fid, value=fid)

    def _later(self, duration: float | None, fn: Callable[..., None], *args: Any) -> None:
        if duration is not None:
            self._at(duration, fn, *args)

    def _skip(self, action: str, why: str, node: str | None = None) -> None:
        self.recorder.event("fault_skipped", node=node, action=action, reason=why)

    def _group_of(self, fault: Any) -> DatabaseGroup:
        """The database group an operator action names (``database``), else the first."""
        name = getattr(fault, "database", None)
        if name is None or self.databases is None:
            return self.group
        return self.databases.by_name[name]

    def _node(self, fault: Any) -> Any:
        tag = self.resolve(fault.node, self._group_of(fault))
        if tag is None:
            self._skip(fault.action, f"no node is '{fault.node}' right now")
            return None
        return self.node_by_tag[tag]

    def endpoints(self, ref: str) -> list[int]:
        """Network endpoints named by a node tag, a role (resolved now), a client name or a
        data centre."""
        if ref in ROLE_TARGETS:
            tag = self.resolve(ref)
            return [self.node_by_tag[tag].index] if tag is not None else []
        if ref in self.node_by_tag:
            return [self.node_by_tag[ref].index]
        net = self.network
        if ref in net.index and ref not in self.datacenters:
            return [net.index[ref]]
        return [i for i, loc in enumerate(net.endpoints) if loc.datacenter == ref]

    # ------------------------------------------------------------------ actions
    def _dispatch(self, fault: Any, i: int) -> None:
        self.quiet.wake()  # woken ahead already; this covers a fault with no lookahead
        rec = self.recorder
        if isinstance(fault, CrashFault):
            node = self._node(fault)
            if node is not None:
                self.crash(node, f"target {fault.node}", wipe=fault.wipe_disk, silent=fault.how == "silent")
                self._later(fault.duration, self.restart, node)
        elif isinstance(fault, RestartFault):
            node = self._node(fault)
            if node is not None:
                self.restart(node)
        elif isinstance(fault, ClientRestartFault):
            self.client_restart(fault.client, fault.downtime)
        elif isinstance(fault, ShutdownFault):
            node = self._node(fault)
            if node is not None:
                self.shutdown(node, fault.grace)
                self._later(fault.duration, self.restart, node)
        elif isinstance(fault, PauseFault):
            node = self._node(fault)
            if node is not None:
                self.pause(node, fault.duration)
        elif isinstance(fault, BulkUpdateAction):
            self.bulk_update(fault.collection, self._group_of(fault))
        elif isinstance(fault, RerouteAction):
            rec.event(
                "reroute_requested",
                from_datacenter=fault.from_datacenter,
                to_datacenter=fault.to_datacenter,
                wait_s=fault.delay,
            )
            self._at(fault.delay, self.reroute, fault.from_datacenter, fault.to_datacenter)
        elif isinstance(fault, PartitionFault):
            self.partition(fault)
        elif isinstance(fault, HealFault):
            self.heal()
        elif isinstance(fault, DegradeLinkFault):
            self.degrade(fault, i)
        elif isinstance(fault, RestoreLinkFault):
            self.restore(fault.between)
        elif isinstance(fault, DatacenterDownFault):
            self.datacenter_down(fault.datacenter)
            self._later(fault.duration, self.datacenter_up, fault.datacenter)
        elif isinstance(fault, DatacenterUpFault):
            self.datacenter_up(fault.datacenter)
        elif isinstance(fault, ExternalDownFault):
            self.external_down(fault.system)
            self._later(fault.duration, self.external_up, fault.system)
        elif isinstance(fault, ExternalUpFault):
            self.external_up(fault.system)
        elif isinstance(fault, SlowDiskFault):
            node = self._node(fault)
            if node is not None:
                self.slow_disk(node, fault, i)
        elif isinstance(fault, FillDiskFault):
            node = self._node(fault)
            if node is not None:
                node.fill_disk()
                self.tasks.reassess(node.index)
                self._begin("fill_disk", node.tag, ("disk_full", node.tag), node.tag)
                self._later(fault.duration, self.free_disk, node)
        elif isinstance(fault, FreeDiskFault):
            node = self._node(fault)
            if node is not None:
                self.free_disk(node)
        elif isinstance(fault, ClockSkewFault):
            node = self._node(fault)
            if node is not None:
                self.versions.clock_skew[node.index] = fault.skew
                rec.event("clock_skewed", node=node.tag, skew_s=fault.skew, value=fault.skew)
                if fault.skew:
                    self._begin("clock_skew", node.tag, ("clock", node.tag), node.tag, rpo=False)
                else:
                    self._end(("clock", node.tag), node.tag)
        elif isinstance(fault, MoveToEndAction):
            node = self._node(fault)
            if node is not None:
                self.move_to_end(node, group=self._group_of(fault))
        elif isinstance(fault, SuspendObserverAction):
            self.suspend_observer(fault.duration)
        elif isinstance(fault, ResumeObserverAction):
            self.resume_observer()
        elif isinstance(fault, PromoteAction | DemoteAction):
            node = self._node(fault)
            if node is not None:
                self.change_role(fault.action, node)
        elif isinstance(fault, AddToGroupAction | RemoveFromGroupAction):
            node = self._node(fault)
            if node is not None:
                mentor = getattr(fault, "mentor", None)
                self.change_group(
                    fault.action,
                    node,
                    self.node_by_tag[mentor] if mentor is not None else None,
                    self._group_of(fault),
                )
        elif isinstance(fault, RollingRestartPlan):
            self.env.process(self._rolling_restart(fault))
        elif isinstance(fault, RandomFailures):
            tags = fault.nodes or [n.tag for n in self.nodes]
            for tag in tags:
                node = self.node_by_tag[tag]
                how = self.streams.rng(f"faults.random.{tag}.how")
                self.env.process(
                    self._alternate(
                        f"faults.random.{tag}",
                        fault,
                        lambda node=node, wipe=fault.wipe_disk, how=how, share=fault.silent_share: self.crash(
                            node,
                            "random failure",
                            wipe=wipe,
                            label="random failure",
                            silent=bool(share) and float(how.random()) < share,
                        ),
                        lambda node=node: node.up or self.restart(node),
                    )
                )
        elif isinstance(fault, RandomDatacenterFailures):
            names = fault.datacenters or self.datacenters
            for name in names:
                self.env.process(
                    self._alternate(
                        f"faults.random.dc.{name}",
                        fault,
                        lambda name=name: self.datacenter_down(name, label="random datacenter failure"),
                        lambda name=name: self.datacenter_up(name),
                    )
                )
        elif isinstance(fault, CreateDatabaseAction | DeployIndexAction):
            self._cluster_command(fault)

    def crash(self, node: Any, why: str, wipe: bool = False, label: str = "crash", silent: bool = False) -> None:
        """Crash ``node`` (``why`` goes in the event): its process dies, with its disk (``wipe``) or
        without a trace (``silent``). ``label`` names the fault in ``fault_started``."""
        if not node.up:
            self._skip("crash", "node already down", node.tag)
            return
        node.crash(silent)
        node.wiped = wipe
        self.last_crashed = node.tag
        self.recorder.event("node_crashed", node=node.tag, reason=why, disk_lost=wipe, silent=silent)
        self._begin(label, node.tag, ("node", node.tag), node.tag, disk_lost=wipe, silent=silent)

    def restart(self, node: Any) -> None:
        """Start a crashed ``node`` again; ends its crash fault."""
        if node.up:
            self._skip("restart", "node already up", node.tag)
            return
        node.restart()
        self.recorder.event("node_restarted", node=node.tag)
        self._end(("node", node.tag), node.tag)

    def client_restart(self, name: str, downtime: float) -> None:
        """Restart the application server(s) ``name`` (``all``: every client): operations in flight
        are lost and the client is away for ``downtime`` seconds, then starts again from its URL list."""
        names = self.network.endpoints
        restarted = 0
        servers: dict[str, list[Client]] = {}  # an application server's executors, one per database
        for client in self.executors:
            servers.setdefault(names[client.index].name, []).append(client)
        for label, executors in servers.items():
            if name not in ("all", label):
                continue
            if not executors[0].up:
                self._skip("client_restart", f"{label} is down")
                continue
            lost = 0
            for client in executors:
                lost += client.restart(downtime)
            restarted += 1
            self.recorder.event("client_restarted", client=label, count=lost, duration_s=downtime, value=float(lost))
        if restarted:
            # A fault of its own, so what the clients go through is charged to it, not to the
            # fault before; it puts no data at risk.
            self._begin("client_restart", name, ("client_restart", name), rpo=False)
            self._at(downtime, self._end, ("client_restart", name))

    def shutdown(self, node: Any, grace: float, label: str = "shutdown") -> None:
        """Graceful stop of ``node``: it refuses new work, drains for at most ``grace`` seconds, then stops."""
        if not node.up or not node.accepting:
            self._skip("shutdown", "node already down", node.tag)
            return
        self.last_crashed = node.tag
        self.recorder.event("node_shutdown", node=node.tag, grace_s=grace)
        node.accepting = False  # before the RPO: it no longer counts as a survivor
        self._begin(label, node.tag, ("node", node.tag), node.tag)
        self.env.process(node.shutdown(grace))

    def pause(self, node: Any, duration: float) -> None:
        """Freeze ``node``'s process for ``duration`` seconds (a GC pause, a stopped VM): it neither sends nor reads."""
        net = self.network
        net.pause(node.index, self.env.now + duration)
        self.recorder.event("node_paused", node=node.tag, duration_s=duration)
        self._begin("pause", node.tag, ("pause", node.tag), node.tag)
        self._at(duration, self._resume, node)

    def _resume(self, node: Any) -> None:
        if self.network.paused_until[node.index] <= self.env.now + 1e-12:
            self.network.resume(node.index)
            self.recorder.event("node_resumed", node=node.tag)
            self._end(("pause", node.tag), node.tag)

    def partition(self, fault: PartitionFault) -> None:
        """Cut the network between the fault's groups (nodes not listed form one more group), both
        ways or one way, until its duration ends or a ``heal``; Rachis rechecks who can reach a
        majority."""
        groups: list[list[int]] = []
        placed: set[int] = set()
        for group in fault.groups:  # a role may resolve to a node listed again: it stays in its first group
            members = {e for ref in group for e in self.endpoints(ref)} - placed
            placed |= members
            groups.append(sorted(members))
        listed = {e for g in groups for e in g}
        rest = [n.index for n in self.nodes if n.index not in listed]
        if rest:
            groups.append(rest)
        self.network.partition(groups, one_way=fault.one_way)
        names = self.network.endpoints
        text = (" -/-> " if fault.one_way else " | ").join(",".join(names[e].name for e in g) for g in groups)
        self.recorder.event("partition", groups=text, one_way=fault.one_way)
        self.cluster.update_availability()
        self._begin("partition", text, ("partition",))
        self._later(fault.duration, self.heal)

    def heal(self) -> None:
        """End the partition (a dark data centre stays cut off)."""
        self.network.heal()
        self.recorder.event("healed")
        self.cluster.update_availability()
        self._end(("partition",))

    def _pairs(self, between: tuple[str, str]) -> list[tuple[int, int]]:
        a, b = (self.endpoints(ref) for ref in between)
        return [(x, y) for x in a for y in b if x != y] + [(y, x) for x in a for y in b if x != y]

    def degrade(self, fault: DegradeLinkFault, i: int) -> None:
        """Give the links between the two named endpoints or data centres the fault's latency, loss
        or bandwidth (``i``: its plan entry, which names the latency stream)."""
        pairs = self._pairs(fault.between)
        self.network.degrade(pairs, fault.latency, fault.loss, fault.bandwidth, stream=f"faults.link.{i}")
        text = f"{fault.between[0]}<->{fault.between[1]}"
        self.recorder.event(
            "link_degraded",
            between=tuple(fault.between),
            latency=f"{fault.latency}" if fault.latency is not None else None,
            loss=fault.loss,
            bandwidth=fault.bandwidth,
        )
        self._begin("degrade_link", text, ("link", *sorted(fault.between)), rpo=False)
        self._later(fault.duration, self.restore, fault.between)

    def restore(self, between: tuple[str, str]) -> None:
        """Links between ``between``'s two ends get back what they had before :meth:`degrade`."""
        self.network.restore(self._pairs(between))
        self.recorder.event("link_restored", between=tuple(between))
        self._end(("link", *sorted(between)))

    def datacenter_down(self, name: str, label: str = "datacenter_down") -> None:
        """Data centre ``name`` goes dark: cut off first, then its nodes stop and its application
        servers stop issuing."""
        if name in self._dc_stopped:
            self._skip("datacenter_down", f"{name} is already down")
            return
        members = self.endpoints(name)
        # Cut first: the stopped nodes' connection resets must not reach anyone.
        self.network.isolate(f"dc:{name}", members)
        stopped = [n.index for n in self.nodes if n.index in members and n.up]
        for index in stopped:
            self.nodes[index].crash()
        self._dc_stopped[name] = stopped
        for client in self.executors:
            if client.index in members:
                client.up = False
        self.recorder.event("datacenter_down", datacenter=name, nodes=tuple(self.nodes[i].tag for i in stopped))
        self.cluster.update_availability()
        self._begin(label, name, ("dc", name))

    def external_down(self, name: str) -> None:
        """The external system ``name`` (an ETL destination) has an outage."""
        system = self.externals[name]
        if not system.up:
            self._skip("external_down", f"{name} is already down")
            return
        system.go_down()
        self.recorder.event("external_down", system=name)
        self._begin("external_down", name, ("external", name), rpo=False)

    def external_up(self, name: str) -> None:
        """The outage of the external system ``name`` ends."""
        system = self.externals[name]
        if system.up:
            self._skip("external_up", f"{name} is not down")
            return
        system.come_up()
        self.recorder.event("external_up", system=name)
        self._end(("external", name))

    def datacenter_up(self, name: str) -> None:
        """Data centre ``name`` comes back: reconnected, the nodes it stopped restart, its
        application servers issue again."""
        if name not in self._dc_stopped:
            self._skip("datacenter_up", f"{name} is not down")
            return
        self.network.isolate(f"dc:{name}", [])
        for index in self._dc_stopped.pop(name, []):
            if not self.nodes[index].up:
                self.nodes[index].restart()
        members = set(self.endpoints(name))
        for client in self.executors:
            if client.index in members:
                client.up = True
        self.recorder.event("datacenter_up", datacenter=name)
        self.cluster.update_availability()
        self._end(("dc", name))

    def bulk_update(self, collection: str, group: DatabaseGroup | None = None) -> None:
        """Rewrite every document of ``collection`` of ``group``'s database (default the first) on
        its preferred node, all at one instant."""
        group = group or self.group
        tag = self.resolve("preferred", group)
        node = self.node_by_tag[tag] if tag is not None else None
        if node is None or not node.up or node.instances[group.db] is None or node.disk_full:
            self._skip("bulk_update", "the preferred node cannot take writes", node=tag)
            return
        keyspace = group.keyspace if group.keyspace is not None else self.keyspace
        versions = group.versions if group.versions is not None else self.versions
        keys = keyspace.collection_keys(collection)
        inst = node.instances[group.db]
        assert inst is not None  # checked above
        write_first = versions.write_counter + 1
        for key in keys:
            local = inst.docs.get(key)
            inst.commit_local(key, local.size if local is not None else keyspace.initial_size, versions.next_write_id())
        self.recorder.event(
            "bulk_update",
            node=node.tag,
            database=group.name,
            collection=collection,
            count=len(keys),
            first_write=write_first,
            last_write=versions.write_counter,
            value=float(write_first),
        )

    def reroute(self, from_datacenter: str, to_datacenter: str) -> None:
        """Operations of the applications in ``from_datacenter`` are issued through the clients in
        ``to_datacenter`` from now on."""
        endpoints = self.network.endpoints
        targets = [c for c in self.clients if endpoints[c.index].datacenter == to_datacenter]
        moved = reroute(self.workload, self.clients, self.network, from_datacenter, targets)
        self.recorder.event(
            "rerouted",
            count=len(moved),
            from_datacenter=from_datacenter,
            to_datacenter=to_datacenter,
            value=float(len(moved)),
        )

    def slow_disk(self, node: Any, fault: SlowDiskFault, i: int) -> None:
        """Slow ``node``'s fsyncs for the fault's duration: a ``factor`` times the normal draws, or
        an ``fsync`` distribution of its own."""
        if fault.factor is not None:
            sampler: Callable[[], float] = _Scaled(node._normal_fsync, fault.factor)
            how: dict[str, Any] = {"factor": fault.factor}
        else:
            sampler = self.streams.sampler(f"faults.disk.{i}", fault.fsync)
            how = {"fsync": f"{fault.fsync}"}
        node.slow_disk(sampler)
        self.recorder.event("disk_slowed", node=node.tag, **how)
        self._begin("slow_disk", node.tag, ("disk_slow", node.tag), node.tag, rpo=False)
        self._later(fault.duration, self._restore_disk, node)

    def _restore_disk(self, node: Any) -> None:
        node.restore_disk()
        self.recorder.event("disk_restored", node=node.tag)
        self._end(("disk_slow", node.tag), node.tag)

    def free_disk(self, node: Any) -> None:
        """Space is freed on ``node``'s full disk: the database recovers and its tasks are reassessed."""
        node.free_disk()
        self.tasks.reassess(node.index)
        self._end(("disk_full", node.tag), node.tag)

    # ------------------------------------------------------------------ operator commands
    def move_to_end(
        self, node: Any, done: Callable[[bool], None] | None = None, group: DatabaseGroup | None = None
    ) -> None:
        """Move a member to the end of ``group``'s database's member list (default the first),
        through Raft."""
        group = group or self.group
        via = self._command_node()
        if via is None:
            self.recorder.event("command_failed", action="move_to_end", target=node.tag, reason="every node is down")
            return
        topo = via.state_machine.databases[group.name]
        if node.index not in topo.members or topo.members[-1] == node.index:
            self.recorder.event(
                "command_skipped", action="move_to_end", target=node.tag, reason="already last or not a member"
            )
            return
        new = topo.copy()
        new.members.remove(node.index)
        new.members.append(node.index)

        def committed(outcome: tuple) -> None:
            """The command's outcome: record the new member order, or why it failed."""
            ok, index, result = outcome
            if ok and result[0] == "ok":
                # The new member order (rehabs and promotables left unsaid, as the operator's view).
                order = tuple(self.nodes[i].tag for i in new.members)
                self.recorder.event(
                    "topology_changed", node=via.tag, term=via.term, database=group.name, members=order, etag=index
                )
            else:
                self.recorder.event(
                    "command_failed", node=via.tag, action="move_to_end", target=node.tag, reason=f"{result}"
                )

        via.submit("topology", (group.name, new, topo.etag), 300.0, committed)

    def _refused(self, kind: str, action: str, node: Any, why: str) -> None:
        """An operator's request that changes nothing: ``command_skipped`` when RavenDB rejects
        it for what it asks (not a watcher, not in the group), ``command_failed`` when the
        cluster cannot take it (no leader, no majority)."""
        self.recorder.event(kind, node=node.tag, action=action, target=node.tag, reason=why)

    # ------------------------------------------------------------------ operator: the observer
    def suspend_observer(self, duration: float | None) -> None:
        """``POST /admin/cluster/observer/suspend`` on the leader (a redirect finds it): the
        current term's observer stops deciding (ClusterObserver.cs ``Suspended``)."""
        observer = self.observer
        if not self.observer_enabled:
            self.recorder.event(
                "command_skipped", action="suspend_observer", reason="the observer is off (observer.enabled)"
            )
            return
        if observer is None or not observer.alive():
            self.recorder.event(
                "command_failed", action="suspend_observer", reason="no leader, so no observer to suspend"
            )
            return
        raft = observer.raft
        if observer.suspended:
            self.recorder.event("command_skipped", node=raft.tag, action="suspend_observer", reason="already suspended")
            return
        observer.suspended = True
        self._suspended = observer
        self.recorder.event("observer_suspended", node=raft.tag, term=raft.term)
        self._begin("suspend_observer", f"{raft.tag} term {raft.term}", ("observer",), raft.tag, rpo=False)
        self._later(duration, self.resume_observer)

    def resume_observer(self) -> None:
        """The operator resumes the suspended observer (if the node still leads that term; a new
        leader's observer never was)."""
        observer = self._suspended
        if observer is None:
            self.recorder.event("command_skipped", action="resume_observer", reason="the observer is not suspended")
            return
        self._suspended = None
        observer.suspended = False
        raft = observer.raft
        if observer.alive():
            self.recorder.event("observer_resumed", node=raft.tag, term=raft.term)
        else:
            self.recorder.event(
                "command_skipped",
                node=raft.tag,
                action="resume_observer",
                reason=f"{raft.tag} no longer leads term {raft.term}; the next leader's observer starts unsuspended",
            )
        self._end(("observer",), raft.tag)

    def on_new_observer(self, observer: Observer) -> None:
        """A new leader's observer started (the builder calls this): it is the current one from
        now on, and a suspension belonged to the previous term's."""
        self.observer = observer
        old = self._suspended
        if old is None or old is observer:
            return
        self._suspended = None
        raft = observer.raft
        self.recorder.event("observer_resumed", node=raft.tag, term=raft.term, suspended_term=old.raft.term)
        self._end(("observer",), raft.tag)

    # ------------------------------------------------------------------ operator: cluster roles
    def change_role(self, action: str, node: Any) -> None:
        """Promote a watcher or demote a voter: ``/admin/cluster/promote`` and ``/demote``
        (RachisAdminHandler.cs ``PromoteNode``, ``DemoteNode``), each a ``TryModifyTopology``
        on the leader. A promoted watcher becomes a promotable, and the leader makes it a
        member once it holds the whole log [spec §1.2]."""
        lead = self.cluster.leader()
        if lead is None:
            # The handler answers 204 and does nothing when the node knows no leader.
            self._refused("command_failed", action, node, "no leader (no majority): nothing changes")
            return
        role = lead.state_machine_config().get(node.index, WATCHER)
        if action == "promote" and role != WATCHER:
            self._refused("command_skipped", action, node, f"not a watcher (it is a {role})")
            return
        if action == "demote" and node.index == lead.index:
            self._refused("command_skipped", action, node, "it is the leader: RavenDB asks for a step-down first")
            return
        if action == "demote" and role not in (MEMBER, PROMOTABLE):
            self._refused("command_skipped", action, node, f"not a voter (it is a {role})")
            return
        self._begin(action, node.tag, ("role", node.tag), node.tag, rpo=False)
        target = PROMOTABLE if action == "promote" else WATCHER
        self._modify_role(lead, action, node, target, self.env.now + self.cluster.spec.operation_timeout)

    def _modify_role(self, lead: Any, action: str, node: Any, role: str, deadline: float) -> None:
        def done(outcome: tuple) -> None:
            """The topology change's outcome: record a failure; either way the role change's period ends."""
            ok, _index, why = outcome
            if not ok:
                self._refused("command_failed", action, node, f"{why}; it does not happen")
            self._end(("role", node.tag), node.tag)

        if lead.state not in (LEADER, LEADER_ELECT):
            done((False, None, f"{lead.tag} is no longer the leader"))
            return
        why = lead.modify_topology(node.index, role, done)
        if why == "busy" and self.env.now < deadline:
            # ModifyTopologyAsync waits for the change in progress, then tries again.
            Timer(self.env, self.cluster.heartbeat, self._modify_role, (lead, action, node, role, deadline))
        elif why == "busy":
            done((False, None, "another topology change did not commit within the operation timeout"))
        elif why is not None:
            done((False, None, why))

    # ------------------------------------------------------------------ operator: the database group
    def change_group(self, action: str, node: Any, mentor: Any, group: DatabaseGroup | None = None) -> None:
        """Add a node to ``group``'s database group (default the first; a promotable seeded by one
        mentor) or remove one: a Raft command applied to the record as it then is
        (``ClusterState._change_group``)."""
        group = group or self.group
        via = self._command_node()
        if via is None:
            self._refused("command_failed", action, node, "every node is down")
            return
        topo = via.state_machine.databases[group.name]
        in_group = node.index in topo.all_nodes()
        if action == "add_to_group":
            if in_group:
                self._refused("command_skipped", action, node, "it is already in the database group")
                return
            if mentor is not None and mentor.index not in topo.members:
                # AddDatabaseNode: "not valid for the operation because it is not a member".
                self._refused("command_skipped", action, node, f"the mentor {mentor.tag} is not a member")
                return
        elif not in_group:
            self._refused("command_skipped", action, node, "it is not in the database group")
            return
        elif len(topo.all_nodes()) == 1:
            self._refused("command_skipped", action, node, "it holds the last copy (that would delete the database)")
            return
        key = ("group", node.tag) if group is self.group else ("group", f"{group.name}/{node.tag}")
        self._begin(action, node.tag, key, node.tag, rpo=False)
        if action == "add_to_group":
            self._joining[group.name, node.index] = False
        op = "add" if action == "add_to_group" else "remove"
        payload = (group.name, op, node.index, mentor.index if mentor is not None else None)

        def done(outcome: tuple) -> None:
            """The group change's outcome: a removal ends at once, an addition when the node becomes
            a member; a failure is recorded."""
            ok, _index, result = outcome
            if ok and result[0] == "ok":
                if op == "remove":
                    self._end(key, node.tag)
                return  # an added node's period ends when the observer promotes it (on_topology)
            why = result[1] if ok else "no leader with a majority within the operation timeout"
            self._refused("command_failed", action, node, f"{why}; it does not happen")
            self._joining.pop((group.name, node.index), None)
            self._end(key, node.tag)

        via.submit("group_change", payload, 300.0, done)

    def on_topology(self, topo: Any, name: str | None = None) -> None:
        """A node applied a new topology of database ``name`` (default the first): an added
        node's period (seeding, catching up, no clients) ends once it is a member, or if it
        left the group again."""
        name = name if name is not None else self.group.name
        if topo.etag < self._topology_etag.get(name, -1):
            return  # a node catching up on an older topology
        self._topology_etag[name] = topo.etag
        for (db, index), seen in list(self._joining.items()):
            if db != name:
                continue
            if index in topo.members or (seen and index not in topo.all_nodes()):
                del self._joining[db, index]
                tag = self.nodes[index].tag
                self._end(("group", tag) if db == self.group.name else ("group", f"{db}/{tag}"), tag)
            elif index in topo.all_nodes():
                self._joining[db, index] = True

    def _command_node(self) -> Any:
        cluster = self.cluster
        lead = cluster.leader()
        return lead if lead is not None else next((n for n in cluster.nodes if n.state != "down"), None)

    def _cluster_command(self, action: CreateDatabaseAction | DeployIndexAction) -> None:
        """An operator's command, sent to the leader if there is one, else to the first live node."""
        via = self._command_node()
        if via is None:
            self.recorder.event("command_failed", action=action.action, target=action.name, reason="every node is down")
            return
        if isinstance(action, CreateDatabaseAction):
            payload = (action.name, self._placement(action.replication_factor, via.index))
            if payload[1] is None:
                self.recorder.event(
                    "command_failed",
                    node=via.tag,
                    action="create_database",
                    target=action.name,
                    reason=f"RF {action.replication_factor} exceeds the cluster size",
                )
                return
        else:
            payload = action.name
        submitted = self.env.now

        def done(outcome: tuple) -> None:
            """The command's outcome: ``command_committed`` with the time it took (ms) and where it
            placed the database, or ``command_failed``."""
            ok, index, result = outcome
            took = (self.env.now - submitted) * 1e3
            if ok:
                placed: dict[str, Any] = {}
                if isinstance(action, CreateDatabaseAction):
                    if result[0] == "created":
                        placed["nodes"] = tuple(self.nodes[i].tag for i in result[1])
                    else:
                        placed["existed"] = True
                self.recorder.event(
                    "command_committed",
                    node=via.tag,
                    term=via.term,
                    action=action.action,
                    target=action.name,
                    raft_index=index,
                    took_ms=took,
                    **placed,
                )
            else:
                self.recorder.event(
                    "command_failed",
                    node=via.tag,
                    action=action.action,
                    target=action.name,
                    reason="no leader within the operation timeout",
                )

        via.submit(action.action, payload, 500.0, done)

    def _placement(self, rf: int, via: int) -> list[str] | None:
        """Spec §2.1: members and watchers from a random offset, connected nodes first."""
        config = self.cluster.nodes[via].state_machine_config()
        candidates = [i for i, role in sorted(config.items()) if role in ("member", "watcher")]
        if rf > len(candidates):
            return None
        offset = int(self.placement_rng.integers(0, len(candidates)))
        ordered = candidates[offset:] + candidates[:offset]
        net = self.network
        connected = [i for i in ordered if self.nodes[i].up and not net.cut[via][i]]
        others = [i for i in ordered if i not in connected]
        return (connected + others)[:rf]

    # ------------------------------------------------------------------ plans
    def _rolling_restart(self, plan: RollingRestartPlan):
        """One node at a time [spec §8.16]: optionally drain it (move it to the end of the
        member list and wait for clients to refresh), stop it, wait, restart it, wait."""
        tags = plan.nodes or [n.tag for n in self.nodes]
        self.recorder.event("maintenance_started", action="rolling restart", nodes=tuple(tags))
        for tag in tags:
            node = self.node_by_tag[tag]
            if plan.drain:
                self.move_to_end(node)
                yield self._sleep(plan.drain_wait)
            if plan.graceful:
                self.shutdown(node, grace=5.0, label="rolling restart")
            else:
                self.crash(node, "rolling restart", label="rolling restart")
            yield self._sleep(plan.downtime)
            while node.up:  # a graceful stop still finishing its in-flight work
                yield self.env.timeout(0.01)
            self.restart(node)
            yield self._sleep(plan.gap)
        self.recorder.event("maintenance_done", action="rolling restart")

    def _alternate(self, stream: str, plan: Any, fail: Callable[[], None], repair: Callable[[], None]):
        """Alternating renewal: up for a time-to-failure draw, down for a time-to-repair draw,
        until ``plan.until``. One process per failing thing (a node or a data centre)."""
        streams = self.streams
        ttf = streams.sampler(f"{stream}.ttf", plan.time_to_failure)
        ttr = streams.sampler(f"{stream}.ttr", plan.time_to_repair)
        until = plan.until if plan.until is not None else float("inf")
        while True:
            yield self._sleep(ttf())
            if self.env.now >= until:
                return
            fail()
            yield self._sleep(ttr())
            repair()

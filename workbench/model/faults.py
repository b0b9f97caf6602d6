"""Fault plan, first cut: timed crash, restart, partition and heal actions.

Faults change the world, not the callers: a crash is a node state, a partition
is a link state. Every action lands in the ``events`` table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.model.kernel import Timer
from workbench.scenario.schema import (
    CrashFault,
    CreateDatabaseAction,
    DeployIndexAction,
    HealFault,
    PartitionFault,
    RestartFault,
)

if TYPE_CHECKING:
    from workbench.model.world import World


class FaultInjector:
    def __init__(self, world: World):
        self.world = world
        self.rng = world.streams.rng("faults")
        self.placement_rng = world.streams.rng("placement.actions")

    def start(self) -> None:
        for fault in self.world.scenario.faults:
            Timer(self.world.env, fault.at, self._fire, (fault,))

    def resolve(self, ref: str) -> str | None:
        """A node tag, or a role resolved now: leader, follower, preferred, last_crashed."""
        world = self.world
        if ref == "leader":
            lead = world.cluster.leader()
            return lead.tag if lead is not None else None
        if ref == "follower":
            lead = world.cluster.leader()
            options = [n.tag for n in world.cluster.nodes if n.state != "down" and n is not lead and n.role == "member"]
            return options[int(self.rng.integers(0, len(options)))] if options else None
        if ref == "preferred":
            lead = world.cluster.leader()
            view = (lead or world.cluster.nodes[0]).state_machine.databases[world.db_name]
            return world.nodes[view.members[0]].tag if view.members else None
        if ref == "last_crashed":
            return world.last_crashed
        return ref

    def _fire(self, fault: object) -> None:
        world = self.world
        rec = world.recorder
        if isinstance(fault, CrashFault | RestartFault):
            tag = self.resolve(fault.node)
            if tag is None:
                rec.event("fault_skipped", detail=f"{fault.action}: no node is '{fault.node}' right now")
                return
        if isinstance(fault, CrashFault):
            node = world.node_by_tag[tag]
            if node.up:
                node.crash()
                world.last_crashed = tag
                rec.event("node_crashed", node=node.tag, detail=f"target {fault.node}")
                self._record_rpo(node.tag, [n.index for n in world.nodes if n.up])
            else:
                rec.event("fault_skipped", node=node.tag, detail="crash: node already down")
        elif isinstance(fault, RestartFault):
            node = world.node_by_tag[tag]
            if not node.up:
                node.restart()
                rec.event("node_restarted", node=node.tag)
            else:
                rec.event("fault_skipped", node=node.tag, detail="restart: node already up")
        elif isinstance(fault, PartitionFault):
            listed = {t for g in fault.groups for t in g}
            groups = [list(g) for g in fault.groups]
            rest = [n.tag for n in world.nodes if n.tag not in listed]
            if rest:
                groups.append(rest)
            world.network.partition([[world.node_by_tag[t].index for t in g] for g in groups])
            text = " | ".join(",".join(g) for g in groups)
            rec.event("partition", detail=text)
            world.cluster.update_availability()
            self._record_rpo(None, self._majority_side(groups))
        elif isinstance(fault, HealFault):
            world.network.heal()
            rec.event("healed")
            world.cluster.update_availability()
        elif isinstance(fault, CreateDatabaseAction | DeployIndexAction):
            self._cluster_command(fault)

    def _record_rpo(self, target: str | None, survivors: list[int]) -> None:
        """Data at risk when a fault hits: acknowledged writes on no surviving member."""
        count, age = self.world.data_at_risk(survivors)
        self.world.recorder.event("rpo_writes", node=target, value=float(count))
        self.world.recorder.event("rpo_seconds", node=target, value=age)

    def _majority_side(self, groups: list[list[str]]) -> list[int]:
        """The side of a partition that keeps the cluster going: the group with a majority
        of the voters (else the one holding the leader, else the largest); its live nodes
        survive, the others are cut off."""
        world = self.world
        voters = {n.tag for n in world.cluster.nodes if n.role == "member"}
        lead = world.cluster.leader()

        def rank(group: list[str]) -> tuple[bool, bool, int]:
            in_group = len(voters.intersection(group))
            return (2 * in_group > len(voters), lead is not None and lead.tag in group, len(group))

        side = max(groups, key=rank)
        return [world.node_by_tag[t].index for t in side if world.node_by_tag[t].up]

    def _cluster_command(self, action: CreateDatabaseAction | DeployIndexAction) -> None:
        """An operator's command, sent to the leader if there is one, else to the first live node."""
        world = self.world
        cluster = world.cluster
        lead = cluster.leader()
        via = lead if lead is not None else next((n for n in cluster.nodes if n.state != "down"), None)
        if via is None:
            world.recorder.event("command_failed", detail=f"{action.action} {action.name}: every node is down")
            return
        if isinstance(action, CreateDatabaseAction):
            payload = (action.name, self._placement(action.replication_factor, via.index))
            if payload[1] is None:
                world.recorder.event(
                    "command_failed",
                    node=via.tag,
                    detail=f"create_database {action.name}: RF {action.replication_factor} exceeds the cluster size",
                )
                return
        else:
            payload = action.name
        submitted = world.env.now

        def done(outcome: tuple) -> None:
            ok, index, result = outcome
            took = (world.env.now - submitted) * 1e3
            if ok:
                text = f"{action.action} {action.name}"
                if isinstance(action, CreateDatabaseAction):
                    nodes = ", ".join(world.nodes[i].tag for i in result[1])
                    text += f" on {nodes}" if result[0] == "created" else " (already exists)"
                world.recorder.event(
                    "command_committed", node=via.tag, term=via.term, detail=f"{text}, index {index}, {took:.1f} ms"
                )
            else:
                world.recorder.event(
                    "command_failed",
                    node=via.tag,
                    detail=f"{action.action} {action.name}: no leader within the operation timeout",
                )

        via.submit(action.action, payload, 500.0, done)

    def _placement(self, rf: int, via: int) -> list[str] | None:
        """Spec §2.1: members and watchers from a random offset, connected nodes first."""
        world = self.world
        config = world.cluster.nodes[via].state_machine_config()
        candidates = [i for i, role in sorted(config.items()) if role in ("member", "watcher")]
        if rf > len(candidates):
            return None
        offset = int(self.placement_rng.integers(0, len(candidates)))
        ordered = candidates[offset:] + candidates[:offset]
        net = world.network
        connected = [i for i in ordered if world.nodes[i].up and not net.cut[via][i]]
        others = [i for i in ordered if i not in connected]
        return (connected + others)[:rf]

"""Fault plan, first cut: timed crash, restart, partition and heal actions.

Faults change the world, not the callers: a crash is a node state, a partition
is a link state. Every action lands in the ``events`` table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.model.kernel import Timer
from workbench.scenario.schema import CrashFault, HealFault, PartitionFault, RestartFault

if TYPE_CHECKING:
    from workbench.model.world import World


class FaultInjector:
    def __init__(self, world: World):
        self.world = world

    def start(self) -> None:
        for fault in self.world.scenario.faults:
            Timer(self.world.env, fault.at, self._fire, (fault,))

    def _fire(self, fault: CrashFault | RestartFault | PartitionFault | HealFault) -> None:
        world = self.world
        rec = world.recorder
        if isinstance(fault, CrashFault):
            node = world.node_by_tag[fault.node]
            if node.up:
                node.crash()
                rec.event("node_crashed", node=node.tag)
            else:
                rec.event("fault_skipped", node=node.tag, detail="crash: node already down")
        elif isinstance(fault, RestartFault):
            node = world.node_by_tag[fault.node]
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
        elif isinstance(fault, HealFault):
            world.network.heal()
            rec.event("healed")

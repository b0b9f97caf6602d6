"""Node states: each node's cluster role and database state over the run, from the events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from workbench.charts._common import STATE_COLORS, _end_s, _fault_layer, _fixed_scale, _members, _time_x
from workbench.model.recording.events import items
from workbench.results import RunResult


def _topology(members: Any, rehabs: Any = None, promotables: Any = None) -> dict[str, str]:
    """Database states from a ``topology_changed`` / ``database_created`` event's list fields:
    members B,C,A and rehabs D -> {B: preferred, C: member, A: member, D: rehab}."""
    states: dict[str, str] = {}
    for i, tag in enumerate(items(members)):
        states[tag] = "preferred" if i == 0 else "member"
    for tag in items(rehabs):
        states[tag] = "rehab"
    for tag in items(promotables):
        states[tag] = "promotable"
    return states


class _Lanes:
    """Open intervals per (node, lane), closed as states change."""

    def __init__(self) -> None:
        self.open: dict[tuple[str, str], tuple[str, float]] = {}
        self.rows: list[dict[str, Any]] = []

    def set(self, node: str, lane: str, state: str | None, time_s: float) -> None:
        """Put ``node``'s ``lane`` in ``state`` from ``time_s`` on (None: no bar), ending the interval of the
        state it leaves; the state it is already in changes nothing."""
        current = self.open.get((node, lane))
        if current is not None and current[0] == state:
            return
        if current is not None:
            self.rows.append({"node": node, "lane": lane, "state": current[0], "start_s": current[1], "end_s": time_s})
            del self.open[(node, lane)]
        if state is not None:
            self.open[(node, lane)] = (state, time_s)

    def close(self, end_s: float) -> list[dict[str, Any]]:
        """Every interval, those still open ended at ``end_s`` (the run's end)."""
        for node, lane in list(self.open):
            self.set(node, lane, None, end_s)
        return self.rows


def node_states(result: RunResult) -> pd.DataFrame:
    """Intervals of each node's states, derived from the events table: one row per interval.

    Columns: node, lane (``cluster``: leader / follower / watcher / down / shut down /
    paused; ``database``: preferred / member / rehab / promotable), state, start_s, end_s.
    The database lane follows the group's topology (``database_created``,
    ``topology_changed``); a node outside the group has no database bar."""
    end = _end_s(result)
    tags = _members(result)
    nodes = result.provenance.get("scenario", {}).get("blueprint", {}).get("nodes", [])
    watchers = {n["tag"] for n in nodes if isinstance(n, Mapping) and n.get("role") == "watcher"}
    promotables = {n["tag"] for n in nodes if isinstance(n, Mapping) and n.get("role") == "promotable"}
    lanes = _Lanes()
    process = dict.fromkeys(tags, "up")
    leader: str | None = None

    def role(tag: str) -> str:
        """The node's state in the cluster lane: its process state when it is not up, else its role."""
        if process.get(tag, "up") != "up":
            return process[tag]
        if tag == leader:
            return "leader"
        if tag in watchers:
            return "watcher"
        return "promotable" if tag in promotables else "follower"

    for tag in tags:
        lanes.set(tag, "cluster", role(tag), 0.0)
    dc_down: dict[str, list[str]] = {}
    events = result.events
    if not events.empty:
        columns = ("affected", "datacenter", "nodes", "members", "rehabs", "promotables")
        for time_s, kind, node, affected, datacenter, nodes_down, members, rehabs, promoting in zip(
            events["time_s"].to_numpy(dtype=float),
            events["kind"].astype(str),
            events["node"],
            *(events[c].astype(object).where(events[c].notna(), None) for c in columns),
            strict=True,
        ):
            node = None if node is None or (isinstance(node, float) and np.isnan(node)) else str(node)
            changed: set[str] = set()
            if kind == "node_crashed" and node:
                process[node], changed = "down", {node}
            elif kind == "node_shutdown" and node:
                process[node], changed = "shut down", {node}
            elif kind == "node_paused" and node:
                process[node], changed = "paused", {node}
            elif kind in ("node_restarted", "node_resumed") and node:
                process[node], changed = "up", {node}
            elif kind == "datacenter_down":
                dc_down[datacenter] = items(nodes_down)
                for tag in dc_down[datacenter]:
                    process[tag] = "down"
                changed = set(dc_down[datacenter])
            elif kind == "datacenter_up":
                for tag in dc_down.pop(datacenter, []):
                    process[tag] = "up"
                    changed.add(tag)
            elif kind == "leader_elected" and node:
                changed = {node} | ({leader} if leader else set())
                leader = node
            elif kind == "stepped_down" and node and node == leader:
                leader, changed = None, {node}
            elif kind in ("node_demoted", "node_promoted", "voter_promoted") and node:
                # An operator's demote (-> watcher) or promote (-> promotable), the leader's promotion.
                watchers.discard(node)
                promotables.discard(node)
                if kind == "node_demoted":
                    watchers.add(node)
                elif kind == "node_promoted":
                    promotables.add(node)
                changed = {node}
            elif kind == "promoted" and node:
                promotables.discard(affected)
                changed = {affected}
            elif kind in ("topology_changed", "database_created"):
                states = _topology(members, rehabs, promoting)
                for tag in set(tags) | set(states):
                    lanes.set(tag, "database", states.get(tag), float(time_s))
            if kind == "node_crashed" and node == leader:
                leader = None
            for tag in changed:
                lanes.set(tag, "cluster", role(tag), float(time_s))
    rows = lanes.close(end)
    table = pd.DataFrame(rows, columns=["node", "lane", "state", "start_s", "end_s"])
    table = table[table["end_s"] > table["start_s"]]
    return table.sort_values(["node", "lane", "start_s"], kind="stable").reset_index(drop=True)


def node_state_timeline(result: RunResult) -> alt.LayerChart:
    """A Gantt chart of each node's cluster role and database state over the run, faults shaded."""
    data = node_states(result).copy()
    data["row"] = data["node"] + " · " + data["lane"]
    order = [f"{t} · {lane}" for t in sorted(set(data["node"])) for lane in ("cluster", "database")]
    order = [r for r in order if r in set(data["row"])]
    bars = (
        alt.Chart(data)
        .mark_bar(height={"band": 0.8})
        .encode(
            x=_time_x("start_s:Q", result),
            x2="end_s:Q",
            y=alt.Y("row:N", sort=order, title="node · lane"),
            color=alt.Color("state:N", scale=_fixed_scale(STATE_COLORS, data["state"]), title="state"),
            tooltip=[
                "node:N",
                "lane:N",
                "state:N",
                alt.Tooltip("start_s:Q", title="from (s)", format=".2f"),
                alt.Tooltip("end_s:Q", title="to (s)", format=".2f"),
            ],
        )
    )
    return alt.layer(*_fault_layer(result), bars).properties(
        width=680, height=max(120, 22 * len(order)), title="Node states over time (shaded: faults)"
    )

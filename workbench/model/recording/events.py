"""Every kind of event the model records, declared once.

An event is a row of the events table: ``time_s``, ``kind``, ``node`` (the node that saw or
did it, if any), ``term`` (the Raft term, for the cluster's events), ``database``,
``detail`` (one line for people) and ``value`` (one number, whose meaning the kind gives),
then one column per field below. The model records fields, never sentences::

    recorder.event("task_moved", node="A", task="nightly", source="C")

and ``detail`` is rendered from them ("nightly from C to A") when the table is built.
Readers use the fields (``events["task"] == "nightly"``), never the text: a sentence may be
reworded freely, and a chart that read it would break without a word.

A kind declares its fields by name, from one vocabulary (:data:`FIELDS`: each name has one
type, one unit and one meaning, and is one column of the events table, empty on the rows of
kinds without it). Recording an unknown kind, leaving out a required field or giving one the
kind does not declare raises :class:`EventError`, as does a value of the wrong type.

A list field (type ``list[str]`` or ``list[int]``) is recorded as a tuple and stored in its
column as the items joined by commas (node tags and write ids hold none); :func:`items`
turns a cell back into the list.

``docs/events.md`` is generated from this registry (:func:`markdown`; the command is
:data:`REGENERATE`), and a test keeps the two the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.scenario.units import format_duration

__all__ = [
    "FIELDS",
    "KINDS",
    "EventError",
    "EventKind",
    "Field",
    "clock",
    "items",
    "render",
]


class EventError(ValueError):
    """An event the registry does not allow: an unknown kind, or fields that do not fit it."""


@dataclass(frozen=True)
class Field:
    """One field of the vocabulary: a column of the events table."""

    name: str
    type: str  # "str", "int", "float", "bool", "list[str]" or "list[int]"
    unit: str  # "" when it has none
    meaning: str

    @property
    def dtype(self) -> str:
        """The column's pandas dtype (nullable: a row of a kind without the field is empty)."""
        return _DTYPES[self.type]


_DTYPES = {
    "str": "string",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "list[str]": "string",
    "list[int]": "string",
}
# What a recorded value may be, per field type (an int is a float; a bool is not an int).
_ACCEPTS: dict[str, Callable[[Any], bool]] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "list[str]": lambda v: isinstance(v, tuple) and all(isinstance(x, str) for x in v),
    "list[int]": lambda v: isinstance(v, tuple) and all(isinstance(x, int) and not isinstance(x, bool) for x in v),
}

_VOCABULARY = (
    # -- what and where
    Field("task", "str", "", "the ongoing task (backup, ETL, subscription, link between clusters)"),
    Field("action", "str", "", "the fault, plan or operator command (crash, rolling restart, promote, ...)"),
    Field("target", "str", "", "what a fault or command acts on: a node, link, data centre or name"),
    Field("affected", "str", "", "the node the event is about, when `node` is the one that decided it"),
    Field("source", "str", "", "where data or a task comes from: a node (cluster/node between clusters)"),
    Field("destination", "str", "", "where data or a connection goes: a node (cluster/node between clusters)"),
    Field("leader", "str", "", "the leader a node stopped hearing from"),
    Field("mentor", "str", "", "the member a copy catches up from"),
    Field("preferred", "str", "", "the new preferred node (first member)"),
    Field("previous_role", "str", "", "the node's cluster role before the change"),
    Field("client", "str", "", "the application server (client)"),
    Field("worker", "str", "", "the subscription worker"),
    Field("holder", "str", "", "the subscription worker that holds the subscription, or takes it over"),
    Field("strategy", "str", "", "the worker's connection strategy (OpenIfFree, TakeOver, WaitForFree)"),
    Field("system", "str", "", "the external system (an ETL destination)"),
    Field("datacenter", "str", "", "the data centre"),
    Field("from_datacenter", "str", "", "the data centre whose application servers are rerouted"),
    Field("to_datacenter", "str", "", "the data centre they are rerouted to"),
    Field("collection", "str", "", "the collection"),
    Field("path", "str", "", "a file"),
    # -- lists
    Field("members", "list[str]", "", "the database group's members, in order (the first is preferred)"),
    Field("rehabs", "list[str]", "", "the group's nodes in rehab"),
    Field("promotables", "list[str]", "", "the group's promotables (new copies catching up)"),
    Field("nodes", "list[str]", "", "the nodes concerned"),
    Field("between", "list[str]", "", "the two ends of a link (node tags, clients or data centres)"),
    Field("clusters", "list[str]", "", "the clusters concerned"),
    Field("writes", "list[int]", "", "write ids, in order"),
    # -- why and how
    Field("reason", "str", "", "why (a cause, an error, what the model saw)"),
    Field(
        "resolution",
        "str",
        "",
        "how a conflict was resolved: resolve to latest, cluster transaction wins, script, manual",
    ),
    Field("groups", "str", "", "a partition's sides: endpoints joined by ',', sides by ' | ' (' -/-> ' one way)"),
    Field("one_way", "bool", "", "the partition cuts one direction only"),
    Field("latency", "str", "", "a link's new latency distribution"),
    Field("loss", "float", "fraction", "a link's new probability of losing a segment"),
    Field("bandwidth", "float", "B/s", "a link's new bandwidth"),
    Field("fsync", "str", "", "a disk's new fsync time distribution"),
    Field("factor", "float", "x", "a disk's fsync times multiplied by this"),
    Field("examples", "str", "", "the first bad rows, as the reader reported them"),
    Field("bootstrap", "bool", "", "the cluster's first leader, at start"),
    Field("cached", "bool", "", "the client fell back on its cached topology"),
    Field("existed", "bool", "", "the database already existed"),
    Field("full", "bool", "", "a full backup (else incremental)"),
    Field("disk_lost", "bool", "", "the node's disk was lost with it"),
    Field("silent", "bool", "", "the node vanished silently: no connection resets"),
    # -- numbers
    Field("fault_id", "int", "", "the fault's number in the run (each cluster numbers its own)"),
    Field("key", "int", "", "the document's key"),
    Field("write", "int", "", "a write's id"),
    Field("winning_write", "int", "", "the write a conflict kept"),
    Field("losing_write", "int", "", "the write a conflict discarded"),
    Field("first_write", "int", "", "the first write id of a range"),
    Field("last_write", "int", "", "the last write id of a range"),
    Field("count", "int", "", "how many (of what the kind says)"),
    Field("total", "int", "", "out of how many"),
    Field("errors", "int", "", "errors in a row"),
    Field("races", "int", "", "speed-test races run"),
    Field("rf", "int", "", "the database's replication factor"),
    Field("etag", "int", "", "the topology's etag (the Raft index that committed it)"),
    Field("raft_index", "int", "", "the Raft index of a committed command"),
    Field("etags_behind", "int", "", "how far a member's copy is behind a peer's"),
    Field("missing_writes", "int", "", "acknowledged writes a copy lacks"),
    Field("suspended_term", "int", "", "the term whose observer was suspended"),
    Field("bytes", "float", "B", "a size: a backup, a copy to seed"),
    Field("duration_s", "float", "s", "how long it lasts, or lasted"),
    Field("wait_s", "float", "s", "the wait before it happens (a retry, a reroute)"),
    Field("grace_s", "float", "s", "a graceful shutdown's grace period"),
    Field("silent_s", "float", "s", "how long the node had not answered the observer"),
    Field("skew_s", "float", "s", "the node's clock offset"),
    Field("state_at_s", "float", "s", "a backup's moment: the simulated time of the state it holds"),
    Field("since_s", "float", "s", "an incremental backup's base: the time of the backup it builds on"),
    Field("took_ms", "float", "ms", "from submitting a command to its commit"),
    Field("multiplier", "float", "x", "the arrival rate multiplied by this"),
)

FIELDS: dict[str, Field] = {f.name: f for f in _VOCABULARY}
if len(FIELDS) != len(_VOCABULARY):  # pragma: no cover - a registry typo
    raise EventError("a field is declared twice")

# Per field, the types a value may have exactly (the check's fast path; anything else, such as
# a tuple for a list field or None for an optional one, takes the full check).
_EXACT: dict[str, frozenset[type]] = {
    f.name: frozenset({"str": {str}, "int": {int}, "float": {float, int}, "bool": {bool}}.get(f.type, set()))
    for f in _VOCABULARY
}

_BASE_COLUMNS = ("time_s", "kind", "node", "term", "database", "detail", "value")
if set(FIELDS) & set(_BASE_COLUMNS):  # pragma: no cover - a registry typo
    raise EventError("a field has the name of a base column")


def clock(t: float) -> str:
    """Simulated time as a wall clock from the start of the run: ``08:00:00`` or ``d1 04:00:00``."""
    s = round(t)
    days, s = divmod(s, 86400)
    text = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"d{days} {text}" if days else text


def items(cell: Any) -> list[str]:
    """A list field's cell as its items (strings; an empty cell is no items)."""
    if not isinstance(cell, str) or not cell:
        return []
    return cell.split(",")


Render = Callable[[Mapping[str, Any]], str]


@dataclass(frozen=True)
class EventKind:
    """One kind of event: what it means, its fields, what ``value`` holds and how its
    ``detail`` reads. ``detail`` is a format string over the fields (and ``node``, ``term``),
    or a function of them for a line with optional parts."""

    name: str
    meaning: str
    detail: str | Render
    fields: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    value: str = ""  # what the value column holds, with its unit; "" = nothing
    example: Mapping[str, Any] = field(default_factory=dict)  # node, term, value and fields
    required: frozenset[str] = field(init=False, repr=False, compare=False)
    allowed: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = [f for f in (*self.fields, *self.optional) if f not in FIELDS]
        if unknown:
            raise EventError(f"{self.name}: no such field {unknown} (declare it in FIELDS)")
        object.__setattr__(self, "required", frozenset(self.fields))
        object.__setattr__(self, "allowed", frozenset(self.fields) | frozenset(self.optional))

    def check(self, fields: Mapping[str, Any]) -> None:
        """Raise :class:`EventError` unless ``fields`` are this kind's, with values of their types."""
        keys = fields.keys()
        if keys != self.required:
            missing = self.required - keys
            extra = keys - self.allowed
            if missing or extra:
                parts = [f"missing {sorted(missing)}"] if missing else []
                parts += [f"not its fields: {sorted(extra)}"] if extra else []
                raise EventError(f"event {self.name!r}: {'; '.join(parts)} (it has {self.describe_fields()})")
        exact = _EXACT
        for name, value in fields.items():
            if type(value) in exact[name]:
                continue  # the common case, at the cost of a lookup: a str, int, float or bool as declared
            if value is None and name in self.optional:
                continue
            kind = FIELDS[name].type
            if not _ACCEPTS[kind](value):
                raise EventError(f"event {self.name!r}: {name} must be {kind}, not {type(value).__name__} {value!r}")

    def describe_fields(self) -> str:
        """Its fields, the optional ones marked."""
        listed = list(self.fields) + [f"{f} (optional)" for f in self.optional]
        return ", ".join(listed) if listed else "no fields"

    def render(self, node: str | None, term: int | None, fields: Mapping[str, Any]) -> str:
        """The ``detail`` line of an event of this kind."""
        row: dict[str, Any] = dict.fromkeys(self.optional)
        row.update(fields)
        row["node"] = node
        row["term"] = term
        if isinstance(self.detail, str):
            return self.detail.format_map(row)
        return self.detail(row)


def _joined(values: tuple[Any, ...]) -> str:
    return ", ".join(map(str, values))


def _kind(name: str, meaning: str, detail: str | Render, fields: str = "", optional: str = "", **kw: Any) -> EventKind:
    return EventKind(name, meaning, detail, tuple(fields.split()), tuple(optional.split()), **kw)


# ---------------------------------------------------------------------------- detail lines with parts


def _leader_elected(e: Mapping[str, Any]) -> str:
    return f"{e['node']} leads term {e['term']}" + (" (bootstrap)" if e["bootstrap"] else "")


def _topology(e: Mapping[str, Any]) -> str:
    view = _joined(e["members"]) or "(none)"
    if e["rehabs"]:
        view += f"; rehab {_joined(e['rehabs'])}"
    if e["promotables"]:
        view += f"; promotable {_joined(e['promotables'])}"
    return f"members {view} (etag {e['etag']})"


def _moved_to_rehab(e: Mapping[str, Any]) -> str:
    if e["silent_s"] is not None:
        return f"{e['affected']} silent for {e['silent_s']:.1f} s"
    return f"{e['affected']} is {e['etags_behind']} etags behind a peer (lagging)"


def _added_to_group(e: Mapping[str, Any]) -> str:
    by = f", seeded by {e['mentor']}" if e["mentor"] is not None else ""
    return f"{e['node']} joins as a promotable{by}; RF {e['rf']}"


def _command_committed(e: Mapping[str, Any]) -> str:
    if e["took_ms"] is None:
        return f"{e['action']} (index {e['raft_index']})"
    text = f"{e['action']} {e['target']}"
    if e["nodes"] is not None:
        text += f" on {_joined(e['nodes'])}"
    elif e["existed"]:
        text += " (already exists)"
    return f"{text}, index {e['raft_index']}, {e['took_ms']:.1f} ms"


def _command(e: Mapping[str, Any]) -> str:
    action = f"{e['action']} {e['target']}" if e["target"] is not None else e["action"]
    return f"{action}: {e['reason']}"


def _observer_resumed(e: Mapping[str, Any]) -> str:
    if e["suspended_term"] is None:
        return "by the operator"
    return f"new leader {e['node']} in term {e['term']}: the suspension held for term {e['suspended_term']} only"


def _conflict(e: Mapping[str, Any]) -> str:
    how = e["resolution"]
    if how in ("script", "manual"):
        writes = e["writes"]
        listed = _joined(writes[:-1]) + f" and {writes[-1]}"
        return f"key {e['key']}: writes {listed} " + ("merged (script)" if how == "script" else "in conflict (manual)")
    return f"key {e['key']}: write {e['winning_write']} beat {e['losing_write']} ({how})"


def _write_lost(e: Mapping[str, Any]) -> str:
    how = f" ({e['resolution']})" if e["resolution"] is not None else ""
    return f"key {e['key']}, write {e['write']}: {e['reason']}{how}"


def _client_topology(e: Mapping[str, Any]) -> str:
    if e["cached"]:
        return f"{e['client']}: no listed node answered; topology from the cache"
    return f"{e['client']}: no listed node answered and no cached topology"


def _rerouted(e: Mapping[str, Any]) -> str:
    text = f"{e['count']} application servers in {e['from_datacenter']} now use those in {e['to_datacenter']}"
    return text + (f" (cluster {_joined(e['clusters'])})" if e["clusters"] is not None else "")


def _node_crashed(e: Mapping[str, Any]) -> str:
    return e["reason"] + (", disk lost" if e["disk_lost"] else "") + (", silently (no resets)" if e["silent"] else "")


def _link_degraded(e: Mapping[str, Any]) -> str:
    what = [f"latency {e['latency']}" if e["latency"] is not None else ""]
    what += [f"loss {e['loss']:g}" if e["loss"] is not None else ""]
    what += [f"bandwidth {e['bandwidth']:g} B/s" if e["bandwidth"] is not None else ""]
    a, b = e["between"]
    return f"{a}<->{b}: {', '.join(w for w in what if w)}"


def _link_restored(e: Mapping[str, Any]) -> str:
    a, b = e["between"]
    return f"{a}<->{b}"


def _disk_slowed(e: Mapping[str, Any]) -> str:
    return f"fsync x{e['factor']:g}" if e["factor"] is not None else f"fsync {e['fsync']}"


def fault_label(action: str, disk_lost: bool | None, silent: bool | None) -> str:
    """A fault's name as the fault log writes it: ``crash (disk lost) (silent)``."""
    return action + (" (disk lost)" if disk_lost else "") + (" (silent)" if silent else "")


def _fault_started(e: Mapping[str, Any]) -> str:
    return f"{fault_label(e['action'], e['disk_lost'], e['silent'])} {e['target'] or ''}".strip()


def _kind_of_backup(e: Mapping[str, Any]) -> str:
    return "full" if e["full"] else "incremental"


def _backup_started(e: Mapping[str, Any]) -> str:
    covers = "everything" if e["full"] else f"changes since {clock(e['since_s'])}"
    return f"{e['task']} on {e['node']}: {_kind_of_backup(e)}, {e['bytes'] / 1e6:.1f} MB, {covers}"


def _backup_done(e: Mapping[str, Any]) -> str:
    what = "everything" if e["full"] else f"changes {clock(e['since_s'])} to {clock(e['state_at_s'])}"
    return (
        f"{e['task']} on {e['node']}: {_kind_of_backup(e)}, {e['bytes'] / 1e6:.1f} MB, "
        f"state at {clock(e['state_at_s'])}, {what}"
    )


def _backup_failed(e: Mapping[str, Any]) -> str:
    started = clock(e["state_at_s"])
    return f"{e['task']} on {e['node']}: {_kind_of_backup(e)} backup started {started} failed: {e['reason']}"


def _etl_rejected(e: Mapping[str, Any]) -> str:
    head = f"{e['task']}: document {e['key']} (write {e['write']})"
    if e["system"] is not None:
        return f"{head} rejected by {e['system']}, skipped"
    return f"{head}: the transform failed, skipped"


def _subscription_refused(e: Mapping[str, Any]) -> str:
    if e["strategy"] == "WaitForFree":
        return f"{e['task']}: {e['worker']} waits: {e['holder']} holds it on {e['node']}"
    return f"{e['task']}: {e['worker']} ({e['strategy']}) ends: {e['holder']} holds it on {e['node']}"


_TOPOLOGY_EXAMPLE = {"node": "C", "term": 2, "members": ("B", "C"), "rehabs": ("A",), "promotables": (), "etag": 1800}

_REGISTRY = (
    # ------------------------------------------------------------------ the cluster (Rachis)
    _kind(
        "leader_elected",
        "A node leads the cluster: its first entry of the term committed (or the bootstrap leader at start).",
        _leader_elected,
        "bootstrap",
        example={"node": "A", "term": 1, "bootstrap": True},
    ),
    _kind(
        "cluster_available",
        "A leader is followed by a majority of the voters again (`node`: the leader).",
        "",
        example={"node": "A", "term": 1},
    ),
    _kind("cluster_unavailable", "No leader is followed by a majority of the voters.", ""),
    _kind(
        "leader_lost",
        "A follower's election timer ran out: it stopped hearing from its leader.",
        "{node} stopped hearing from {leader}",
        "leader",
        example={"node": "C", "term": 1, "leader": "A"},
    ),
    _kind(
        "election_started",
        "A node stands for election in a new term.",
        "{node} stands for term {term}",
        example={"node": "C", "term": 2},
    ),
    _kind(
        "stepped_down",
        "A leader became a follower (it saw a newer term, or lost touch with a majority).",
        "{node} {reason}",
        "reason",
        example={"node": "A", "term": 3, "reason": "lost touch with a majority"},
    ),
    _kind(
        "voter_promoted",
        "The leader made a promotable node a voting member (it holds the whole log).",
        "{node} is now a voting member",
        example={"node": "D", "term": 2},
    ),
    # ------------------------------------------------------------------ the database group
    _kind(
        "database_created",
        "The simulated database exists from the start, on these members.",
        lambda e: f"members {_joined(e['members'])} (RF {e['rf']})",
        "members rf",
        example={"members": ("A", "B", "C"), "rf": 3},
    ),
    _kind(
        "topology_changed",
        "A new database topology committed: its members in order, rehabs and promotables.",
        _topology,
        "members etag",
        "rehabs promotables",
        example=_TOPOLOGY_EXAMPLE,
    ),
    _kind(
        "moved_to_rehab",
        "The observer moved a member to rehab: silent too long, or too far behind a peer.",
        _moved_to_rehab,
        "affected",
        "silent_s etags_behind",
        example={"node": "C", "term": 2, "affected": "A", "silent_s": 60.2},
    ),
    _kind(
        "preferred_rotated",
        "The observer moved a silent preferred node to the end of the member list.",
        "{affected} silent for {silent_s:.1f} s; preferred is now {preferred}",
        "affected silent_s preferred",
        example={"node": "C", "term": 2, "affected": "A", "silent_s": 5.5, "preferred": "B"},
    ),
    _kind(
        "mentor_changed",
        "The observer gave a copy that is catching up a new mentor.",
        "{affected} now catches up from {mentor}",
        "affected mentor",
        example={"node": "C", "term": 2, "affected": "A", "mentor": "B"},
    ),
    _kind(
        "promoted",
        "The observer made a rehab or promotable a member again: it caught up with its mentor.",
        "{affected} caught up with {mentor}",
        "affected mentor",
        example={"node": "C", "term": 2, "affected": "A", "mentor": "B"},
    ),
    _kind(
        "replica_deleted",
        "The observer deleted extra copies (the group has its replication factor of members).",
        lambda e: _joined(e["nodes"]),
        "nodes",
        example={"node": "C", "term": 2, "nodes": ("D",)},
    ),
    _kind(
        "replica_added",
        "The observer added a copy on another node to replace unanswering ones (dynamic distribution).",
        lambda e: f"{e['affected']} replaces {_joined(e['nodes'])} (mentor {e['mentor']})",
        "affected nodes mentor",
        example={"node": "C", "term": 2, "affected": "D", "nodes": ("B",), "mentor": "C"},
    ),
    _kind(
        "forced_promotion",
        "No member left: the observer promoted the most up-to-date copy, data may be lost.",
        "{affected} promoted with no member left; data may be lost; it lacks {missing_writes} acknowledged writes",
        "affected missing_writes",
        value="acknowledged writes the promoted copy lacks",
        example={"node": "C", "term": 3, "affected": "B", "missing_writes": 12, "value": 12.0},
    ),
    _kind(
        "replica_removed",
        "A node deleted its copy of the database (it left the group).",
        "its copy was deleted",
        example={"node": "B"},
    ),
    _kind(
        "node_promoted",
        "An operator's promote committed: the watcher is a promotable.",
        "{node} is a promotable: it becomes a voting member once it holds the whole log",
        example={"node": "D", "term": 2},
    ),
    _kind(
        "node_demoted",
        "An operator's demote committed: the node is a watcher.",
        "{node} is a watcher: it no longer votes (was a {previous_role})",
        "previous_role",
        example={"node": "C", "term": 2, "previous_role": "member"},
    ),
    _kind(
        "added_to_group",
        "An operator's add_to_group committed: the node joins the database group as a promotable.",
        _added_to_group,
        "rf",
        "mentor",
        example={"node": "D", "term": 2, "mentor": "B", "rf": 4},
    ),
    _kind(
        "removed_from_group",
        "An operator's remove_from_group committed.",
        "RF {rf}",
        "rf",
        example={"node": "C", "term": 2, "rf": 2},
    ),
    _kind(
        "command_committed",
        "An operator's cluster command committed (a topology change, create_database, deploy_index).",
        _command_committed,
        "action raft_index",
        "target nodes existed took_ms",
        example={
            "node": "A",
            "term": 1,
            "action": "create_database",
            "target": "orders",
            "nodes": ("A", "B"),
            "raft_index": 12,
            "took_ms": 3.25,
        },
    ),
    _kind(
        "command_failed",
        "An operator's command the cluster could not take (no leader, no majority, every node down).",
        _command,
        "action reason",
        "target",
        example={"node": "D", "action": "promote", "target": "D", "reason": "no leader (no majority): nothing changes"},
    ),
    _kind(
        "command_skipped",
        "An operator's command RavenDB refuses for what it asks (not a watcher, already last, ...).",
        _command,
        "action reason",
        "target",
        example={"action": "suspend_observer", "reason": "already suspended"},
    ),
    _kind(
        "observer_suspended",
        "An operator suspended the leader's cluster observer: it decides nothing.",
        "the observer of term {term} on {node} decides nothing until resumed or a new leader",
        example={"node": "A", "term": 2},
    ),
    _kind(
        "observer_resumed",
        "The observer decides again: resumed by the operator, or a new leader's observer started.",
        _observer_resumed,
        optional="suspended_term",
        example={"node": "B", "term": 3, "suspended_term": 2},
    ),
    # ------------------------------------------------------------------ replication
    _kind(
        "replication_connected",
        "A replication channel between two copies (re)connected.",
        "{source}->{destination}",
        "source destination",
        example={"node": "A", "source": "A", "destination": "B"},
    ),
    _kind(
        "replication_disconnected",
        "A replication channel lost its connection; it reconnects after a back-off.",
        "{source}->{destination}",
        "source destination",
        example={"node": "A", "source": "A", "destination": "B"},
    ),
    _kind(
        "seeding_started",
        "A mentor started sending a full copy to a new or wiped copy.",
        lambda e: f"{e['source']}->{e['destination']}, {e['bytes'] / 1e6:.1f} MB",
        "source destination bytes",
        example={"node": "B", "source": "B", "destination": "D", "bytes": 52_428_800.0},
    ),
    _kind(
        "seeding_done",
        "A full copy arrived; replication carries on from there.",
        "{source}->{destination}",
        "source destination",
        example={"node": "B", "source": "B", "destination": "D"},
    ),
    # ------------------------------------------------------------------ conflicts and lost writes
    _kind(
        "conflict",
        "Two concurrent versions of a document met on a member (each member logs it: count it once).",
        _conflict,
        "key resolution",
        "winning_write losing_write writes",
        value="the losing write's id (resolved by latest or cluster transaction)",
        example={
            "node": "C",
            "key": 0,
            "resolution": "cluster transaction wins",
            "winning_write": 2827,
            "losing_write": 2828,
            "value": 2828.0,
        },
    ),
    _kind(
        "conflict_resolved",
        "A write replaced a document left in conflict (manual resolution).",
        lambda e: f"key {e['key']}: write {e['write']} replaced writes {_joined(e['writes'])}",
        "key write writes",
        example={"node": "A", "key": 7, "write": 310, "writes": (301, 305)},
    ),
    _kind(
        "write_lost",
        "An acknowledged write no copy holds at the end of the run (recorded at the end).",
        _write_lost,
        "key write reason",
        "resolution",
        value="the write's id",
        example={
            "key": 3,
            "write": 1200,
            "reason": "conflict resolution",
            "resolution": "resolve to latest",
            "value": 1200.0,
        },
    ),
    _kind(
        "writes_lost",
        "How many acknowledged writes were lost (recorded at the end, if any).",
        "{count} acknowledged writes lost",
        "count",
        value="the count",
        example={"count": 4, "value": 4.0},
    ),
    _kind(
        "ops_unfinished",
        "Operations still waiting for an answer when the run ended.",
        "{count} operations were still waiting for an answer when the run ended",
        "count",
        value="the count",
        example={"count": 2, "value": 2.0},
    ),
    _kind(
        "requests_unserved",
        "Operations that arrived at an application server that was down (a dark data centre).",
        "{count} operations arrived at an application server that was down",
        "count",
        value="the count",
        example={"count": 150, "value": 150.0},
    ),
    # ------------------------------------------------------------------ clients and workload
    _kind(
        "fastest_node_selected",
        "A client's FastestNode speed test chose the node it reads from.",
        "{client} after {races} races",
        "client races",
        example={"node": "B", "client": "client1", "races": 12},
    ),
    _kind(
        "client_topology",
        "A client's first topology update found no listed node answering.",
        _client_topology,
        "client cached",
        example={"client": "client1", "cached": True},
    ),
    _kind(
        "client_restarted",
        "An application server restarted: its operations in flight are lost.",
        "{client}: {count} operations lost, back in {duration_s:g} s",
        "client count duration_s",
        value="operations lost",
        example={"client": "client2", "count": 3, "duration_s": 5.0, "value": 3.0},
    ),
    _kind(
        "burst",
        "The arrival rate changes for a while (the workload's bursts).",
        lambda e: f"arrival rate x{e['multiplier']:g} for {format_duration(e['duration_s'])}",
        "multiplier duration_s",
        value="the multiplier",
        example={"multiplier": 3.0, "duration_s": 60.0, "value": 3.0},
    ),
    _kind(
        "trace_rows_skipped",
        "Bad rows of a replayed trace passed over (recorded at the end of the replay).",
        "{count} bad rows of {path} passed over (first: {examples})",
        "count path examples",
        value="the count",
        example={"count": 2, "path": "trace.csv", "examples": "row 5: bad op 'delete'", "value": 2.0},
    ),
    _kind(
        "reroute_requested",
        "An operator asked to send one data centre's application servers to another's.",
        "{from_datacenter} -> {to_datacenter}, effective in {wait_s:g} s",
        "from_datacenter to_datacenter wait_s",
        example={"from_datacenter": "virginia", "to_datacenter": "ohio", "wait_s": 60.0},
    ),
    _kind(
        "rerouted",
        "A data centre's application servers now use another's.",
        _rerouted,
        "count from_datacenter to_datacenter",
        "clusters",
        value="application servers rerouted",
        example={
            "count": 2,
            "from_datacenter": "virginia",
            "to_datacenter": "ohio",
            "clusters": ("ohio",),
            "value": 2.0,
        },
    ),
    # ------------------------------------------------------------------ nodes, disks and the network
    _kind(
        "node_crashed",
        "A node's process stopped at once (a fault, a random failure, a rolling restart).",
        _node_crashed,
        "reason disk_lost silent",
        example={"node": "A", "reason": "target leader", "disk_lost": False, "silent": False},
    ),
    _kind("node_restarted", "A node's process started again.", "", example={"node": "A"}),
    _kind(
        "node_shutdown",
        "A node stops gracefully: it refuses new work and finishes what it has.",
        "graceful, grace {grace_s:g} s",
        "grace_s",
        example={"node": "A", "grace_s": 5.0},
    ),
    _kind(
        "node_paused",
        "A node's process froze (a long GC pause, a VM migration).",
        "for {duration_s:g} s",
        "duration_s",
        example={"node": "B", "duration_s": 10.0},
    ),
    _kind("node_resumed", "A paused node runs again.", "", example={"node": "B"}),
    _kind(
        "disk_wiped",
        "A node restarted without its disk: its copy starts empty.",
        "the database copy restarts empty",
        example={"node": "A"},
    ),
    _kind("database_faulted", "A node's disk is full: its copy takes no writes.", "disk full", example={"node": "B"}),
    _kind(
        "database_recovered",
        "A full disk was freed: the copy works again.",
        "disk space freed",
        example={"node": "B"},
    ),
    _kind(
        "disk_slowed",
        "A node's disk got slower.",
        _disk_slowed,
        optional="factor fsync",
        example={"node": "C", "factor": 10.0},
    ),
    _kind("disk_restored", "A slowed disk is back to normal.", "", example={"node": "C"}),
    _kind(
        "clock_skewed",
        "A node's clock is set off (or back).",
        "{skew_s:+g} s",
        "skew_s",
        value="the offset (s)",
        example={"node": "B", "skew_s": -2.0, "value": -2.0},
    ),
    _kind(
        "partition",
        "The network splits into sides that cannot reach each other.",
        "{groups}",
        "groups one_way",
        example={"groups": "A | B,C", "one_way": False},
    ),
    _kind("healed", "The partition is over.", ""),
    _kind(
        "link_degraded",
        "Links between two ends got worse: latency, loss or bandwidth.",
        _link_degraded,
        "between",
        "latency loss bandwidth",
        example={"between": ("A", "B"), "latency": "50 ms", "loss": 0.01},
    ),
    _kind(
        "link_restored",
        "Degraded links are back to normal.",
        _link_restored,
        "between",
        example={"between": ("A", "B")},
    ),
    _kind(
        "datacenter_down",
        "A data centre went dark: its nodes stopped, its application servers too.",
        lambda e: f"{e['datacenter']}: nodes {_joined(e['nodes'])}",
        "datacenter nodes",
        example={"datacenter": "virginia", "nodes": ("A", "B")},
    ),
    _kind(
        "datacenter_up", "A dark data centre is back.", "{datacenter}", "datacenter", example={"datacenter": "virginia"}
    ),
    _kind(
        "external_down",
        "An external system (an ETL destination) went down.",
        "{system}",
        "system",
        example={"system": "warehouse"},
    ),
    _kind("external_up", "An external system is back.", "{system}", "system", example={"system": "warehouse"}),
    _kind(
        "bulk_update",
        "Every document of a collection rewritten on the preferred node at one instant.",
        "{collection}: {count} documents rewritten (writes {first_write}-{last_write})",
        "collection count first_write last_write",
        value="the first write's id",
        example={
            "node": "A",
            "collection": "Products",
            "count": 100,
            "first_write": 501,
            "last_write": 600,
            "value": 501.0,
        },
    ),
    # ------------------------------------------------------------------ the fault plan
    _kind(
        "fault_started",
        "A fault (or operator action) of the plan begins: the fault table's rows.",
        _fault_started,
        "action fault_id",
        "target disk_lost silent",
        value="the fault's id",
        example={"node": "A", "action": "crash", "target": "A", "silent": True, "fault_id": 1, "value": 1.0},
    ),
    _kind(
        "fault_ended",
        "A fault is over (its duration ran out, or an action undid it).",
        "",
        "fault_id",
        value="the fault's id",
        example={"node": "A", "fault_id": 1, "value": 1.0},
    ),
    _kind(
        "rpo_writes",
        "Acknowledged writes that no surviving copy held when the fault hit.",
        "fault {fault_id}",
        "fault_id",
        value="the count",
        example={"node": "A", "fault_id": 1, "value": 3.0},
    ),
    _kind(
        "rpo_seconds",
        "The age of the oldest of those writes when the fault hit.",
        "fault {fault_id}",
        "fault_id",
        value="seconds",
        example={"node": "A", "fault_id": 1, "value": 0.25},
    ),
    _kind(
        "fault_skipped",
        "A fault that could not apply (its node already down, nothing to act on).",
        "{action}: {reason}",
        "action reason",
        example={"node": "A", "action": "crash", "reason": "node already down"},
    ),
    _kind(
        "maintenance_started",
        "A maintenance plan begins (a rolling restart).",
        lambda e: f"{e['action']} of {_joined(e['nodes'])}",
        "action nodes",
        example={"action": "rolling restart", "nodes": ("A", "B", "C")},
    ),
    _kind(
        "maintenance_done",
        "A maintenance plan is over.",
        "{action}",
        "action",
        example={"action": "rolling restart"},
    ),
    # ------------------------------------------------------------------ ongoing tasks
    _kind(
        "task_assigned",
        "A node runs an ongoing task for the first time.",
        "{task} on {node}",
        "task",
        example={"node": "C", "task": "nightly"},
    ),
    _kind(
        "task_resumed",
        "A task starts again on the node that ran it last.",
        "{task} on {node}",
        "task",
        example={"node": "C", "task": "nightly"},
    ),
    _kind(
        "task_moved",
        "Another node runs a task now.",
        "{task} from {source} to {node}",
        "task source",
        example={"node": "A", "task": "nightly", "source": "C"},
    ),
    _kind(
        "task_paused",
        "No node runs a task (its node is down, lost its copy, has no leader, ...).",
        "{task}: {reason}",
        "task reason",
        example={"node": "C", "task": "nightly", "reason": "its node is down"},
    ),
    _kind(
        "backup_skipped",
        "A backup is due while the node is still writing the one before.",
        lambda e: f"{e['task']}: {e['node']} is still writing its backup of {clock(e['state_at_s'])}",
        "task state_at_s",
        example={"node": "C", "task": "nightly", "state_at_s": 3600.0},
    ),
    _kind(
        "backup_started",
        "A node starts writing a backup (full, or incremental since the one before).",
        _backup_started,
        "task full bytes",
        "since_s",
        value="the backup's size (B)",
        example={"node": "C", "task": "nightly", "full": False, "bytes": 2.5e6, "since_s": 3600.0, "value": 2.5e6},
    ),
    _kind(
        "backup_done",
        "A backup is complete (its figures are in the timeseries, entity backup.<task>.<node>).",
        _backup_done,
        "task full bytes state_at_s",
        "since_s",
        value="the backup's size (B)",
        example={
            "node": "C",
            "task": "nightly",
            "full": True,
            "bytes": 8e8,
            "state_at_s": 7200.0,
            "value": 8e8,
        },
    ),
    _kind(
        "backup_failed",
        "A backup being written was lost (its node crashed or lost its copy).",
        _backup_failed,
        "task full state_at_s reason",
        value="bytes it would have held",
        example={
            "node": "C",
            "task": "nightly",
            "full": True,
            "state_at_s": 7200.0,
            "reason": "its node crashed",
            "value": 8e8,
        },
    ),
    _kind(
        "etl_started",
        "An ETL task starts on a node, from the progress the cluster persisted.",
        "{task}: from the persisted progress, {count} documents to load",
        "task count",
        value="documents to load",
        example={"node": "A", "task": "to-warehouse", "count": 120, "value": 120.0},
    ),
    _kind(
        "etl_caught_up",
        "An ETL task has nothing left to load.",
        "{task}: nothing left to load",
        "task",
        value="seconds it took to drain",
        example={"node": "A", "task": "to-warehouse", "value": 12.5},
    ),
    _kind(
        "etl_document_rejected",
        "A document an ETL task or link skipped: the destination rejected it, or the transform failed.",
        _etl_rejected,
        "task key write",
        "system",
        value="the document's key",
        example={"node": "A", "task": "to-warehouse", "key": 42, "write": 900, "system": "warehouse", "value": 42.0},
    ),
    _kind(
        "etl_resumed",
        "An ETL destination answers again after errors.",
        "{task}: {system} answers again after {errors} errors",
        "task system errors",
        value="seconds in fallback",
        example={"node": "A", "task": "to-warehouse", "system": "warehouse", "errors": 4, "value": 75.0},
    ),
    _kind(
        "etl_fallback",
        "An ETL load failed: the task waits, then tries again (the wait doubles, up to a maximum).",
        "{task}: {system} {reason}; retry in {wait_s:g} s (error {errors})",
        "task system reason wait_s errors",
        value="the wait (s)",
        example={
            "node": "A",
            "task": "to-warehouse",
            "system": "warehouse",
            "reason": "refused the connection",
            "wait_s": 15.0,
            "errors": 1,
            "value": 15.0,
        },
    ),
    _kind(
        "link_connected",
        "A task between clusters (external replication, hub/sink, ETL to RavenDB) connected.",
        "{task}: {source} -> {destination}",
        "task source destination",
        example={"node": "A", "task": "catalog-to-store1", "source": "hq/A", "destination": "store1/B"},
    ),
    _kind(
        "link_caught_up",
        "A task between clusters has nothing left to send.",
        "{task}: nothing left to send ({source} -> {destination})",
        "task source destination",
        value="seconds since it connected",
        example={"node": "A", "task": "catalog-to-store1", "source": "hq/A", "destination": "store1/B", "value": 2.0},
    ),
    _kind(
        "link_failed",
        "A task between clusters lost or could not make its connection; it retries after a back-off.",
        "{task}: {reason}; retry in {wait_s:g} s",
        "task reason wait_s",
        value="the wait (s)",
        example={"node": "A", "task": "catalog-to-store1", "reason": "hq/A crashed", "wait_s": 15.0, "value": 15.0},
    ),
    _kind(
        "subscription_connected",
        "A subscription worker connected to a node.",
        "{task}: {worker} ({strategy}) connected to {node}",
        "task worker strategy",
        example={"node": "A", "task": "orders", "worker": "worker1", "strategy": "OpenIfFree"},
    ),
    _kind(
        "subscription_batch",
        "A worker received a batch of documents to process.",
        "{task}: {worker} on {node}: {count} documents",
        "task worker count",
        value="documents in the batch",
        example={"node": "A", "task": "orders", "worker": "worker1", "count": 50, "value": 50.0},
    ),
    _kind(
        "subscription_duplicates",
        "A batch held documents the subscription had processed before.",
        "{task}: {worker}: {count} of {total} documents processed before",
        "task worker count total",
        value="documents processed again",
        example={"node": "B", "task": "orders", "worker": "worker1", "count": 3, "total": 50, "value": 3.0},
    ),
    _kind(
        "subscription_redirected",
        "A node told a worker to connect to the node that runs the subscription.",
        "{task}: {worker} redirected from {node} to {destination}",
        "task worker destination",
        example={"node": "A", "task": "orders", "worker": "worker1", "destination": "B"},
    ),
    _kind(
        "subscription_refused",
        "Another worker holds the subscription: this one waits (WaitForFree) or ends.",
        _subscription_refused,
        "task worker strategy holder",
        example={"node": "A", "task": "orders", "worker": "worker2", "strategy": "WaitForFree", "holder": "worker1"},
    ),
    _kind(
        "subscription_evicted",
        "A TakeOver worker took the subscription from this one.",
        "{task}: {worker} evicted on {node} by {holder} (TakeOver)",
        "task worker holder",
        example={"node": "A", "task": "orders", "worker": "worker1", "holder": "worker2"},
    ),
    _kind(
        "subscription_disconnected",
        "A worker's connection failed or broke; it retries after a wait.",
        "{task}: {worker}: {reason}; retry in {wait_s:g} s",
        "task worker reason wait_s",
        example={"node": "A", "task": "orders", "worker": "worker1", "reason": "A: reset", "wait_s": 15.0},
    ),
    _kind(
        "subscription_ack_failed",
        "A batch's acknowledgement failed on the node (no leader, or it no longer runs the subscription).",
        "{task}: {worker}'s acknowledgement on {node} failed ({reason})",
        "task worker reason",
        example={
            "node": "A",
            "task": "orders",
            "worker": "worker1",
            "reason": "no leader: the progress command timed out",
        },
    ),
    _kind(
        "subscription_gave_up",
        "A worker stopped after failing for longer than its maximum erroneous period.",
        "{task}: {worker} gave up after {duration_s:g} s of errors ({reason})",
        "task worker duration_s reason",
        value="seconds in error",
        example={
            "node": "A",
            "task": "orders",
            "worker": "worker1",
            "duration_s": 300.0,
            "reason": "A: reset",
            "value": 300.0,
        },
    ),
)

KINDS: dict[str, EventKind] = {k.name: k for k in _REGISTRY}
if len(KINDS) != len(_REGISTRY):  # pragma: no cover - a registry typo
    raise EventError("an event kind is declared twice")


def render(kind: str, node: str | None, term: int | None, fields: Mapping[str, Any]) -> str:
    """The ``detail`` line of an event."""
    return KINDS[kind].render(node, term, fields)


def kinds_with(name: str) -> list[str]:
    """The kinds that have field ``name``."""
    return [k.name for k in KINDS.values() if name in k.fields or name in k.optional]


# ---------------------------------------------------------------------------- the document

REGENERATE = (
    "python -c 'from workbench.model.recording.events import markdown; print(markdown(), end=\"\")' > docs/events.md"
)


def markdown() -> str:
    """``docs/events.md``: every kind with its fields, and the fields' vocabulary."""
    lines = [
        "# Events",
        "",
        f"<!-- Generated from workbench/model/recording/events.py by `{REGENERATE}`;",
        "     tests/unit/test_events.py keeps the two the same. -->",
        "",
        "Every row of a run's events table is one of these kinds. Its columns: `time_s`, `kind`,",
        "`node` (the node that saw or did it, if any), `term` (the Raft term, for the cluster's",
        "events), `database`, `detail` (one line for people, rendered from the fields), `value`",
        "(one number: what it holds is given per kind), then one column per field. A field is",
        "empty on the rows of kinds without it. Read the fields, never `detail`: its wording may",
        "change.",
        "",
        "A list field is stored as its items joined by commas (`workbench.model.recording.events.items`",
        "splits a cell). In a run of several clusters the table has a `cluster` column first and",
        "`node` is qualified (`hq/A`); the fields are as the cluster recorded them.",
        "",
        "## Kinds",
        "",
        "| kind | meaning | fields | value | example `detail` |",
        "|---|---|---|---|---|",
    ]
    for kind in KINDS.values():
        fields = ", ".join([f"`{f}`" for f in kind.fields] + [f"`{f}`?" for f in kind.optional]) or "—"
        example = kind.example
        detail = kind.render(example.get("node"), example.get("term"), _fields_of(kind, example))
        shown = f"`{detail}`" if detail else "(empty)"
        shown = shown.replace("|", "\\|")  # a pipe inside a table cell, even in code
        lines.append(f"| `{kind.name}` | {kind.meaning} | {fields} | {kind.value or '—'} | {shown} |")
    lines += [
        "",
        "`?`: optional (may be empty on a row of that kind).",
        "",
        "## Fields",
        "",
        "| field | type | unit | meaning | column dtype |",
        "|---|---|---|---|---|",
    ]
    for f in FIELDS.values():
        meaning = f.meaning.replace("|", "\\|")
        lines.append(f"| `{f.name}` | {f.type} | {f.unit or '—'} | {meaning} | `{f.dtype}` |")
    return "\n".join(lines) + "\n"


def _fields_of(kind: EventKind, example: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in example.items() if k not in ("node", "term", "value")}

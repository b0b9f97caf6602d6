"""Plain-text renderings of a summary, for terminals (the CLI) and logs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from workbench.results.summary import ConflictCounts, LatencyStats, Summary
from workbench.scenario.schema import (
    Blueprint,
    ClientSpec,
    ClusterLink,
    ClusterParts,
    Datacenter,
    Deployment,
    ExternalReplicationLink,
    NodeSpec,
    OngoingTask,
    RavenEtlLink,
)
from workbench.scenario.units import format_duration


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _cell(value: Any) -> str:
    """A table cell of at most 8 characters: large values get a k or M suffix."""
    if isinstance(value, int | float) and abs(value) >= 100_000:
        return f"{value / 1e3:,.0f}k" if abs(value) < 10_000_000 else f"{value / 1e6:,.1f}M"
    if isinstance(value, float) and abs(value) >= 10_000:
        return f"{value:,.0f}"  # no room for decimals
    return _fmt(value)


def _lag(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms:,.1f} ms" if ms < 10_000 else _duration(ms / 1e3)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.3f} %"


def format_summary(summary: Summary) -> str:
    """A compact, aligned table that fits an 80-column terminal."""
    ops = summary["ops"]
    lines = [
        f"Scenario  {summary['scenario']}  (blueprint {summary['blueprint']}, seed {summary['seed']})",
        f"Simulated {_fmt(summary['sim_seconds'], 1)} s in {_fmt(summary['wall_seconds'], 2)} s wall; "
        f"{_fmt(summary['events'])} events; members {', '.join(summary.get('members') or [])}",
        f"Measured after a {_fmt(summary['warmup_seconds'], 1)} s warm-up: {_fmt(ops['total'])} ops "
        f"({_fmt(summary['throughput_ops_per_s'], 1)}/s), {_fmt(ops['ok'])} ok, {_fmt(ops['failed'])} failed "
        f"({_fmt(ops['timeout'])} timed out), {_fmt(ops['retried'])} retried"
        + (
            f"; {_fmt(ops['unfinished'])} still waiting at the end ({_fmt(ops['stalled'])} stalled)"
            if ops.get("unfinished")
            else ""
        ),
        "",
        f"{'latency (ms)':<14}{'count':>9}{'mean':>9}{'p50':>9}{'p95':>9}{'p99':>9}{'p99.9':>9}{'max':>9}",
    ]
    for kind, s in cast("dict[str, LatencyStats]", summary["latency_ms"]).items():
        if not s["count"]:
            continue
        lines.append(
            f"{kind:<14}{_cell(s['count']):>9}{_cell(s['mean']):>9}{_cell(s['p50']):>9}{_cell(s['p95']):>9}"
            f"{_cell(s['p99']):>9}{_cell(s['p999']):>9}{_cell(s['max']):>9}"
        )
    lag = summary["replication_lag_ms"]
    lines.append(
        f"{'replication':<14}{_cell(lag['count']):>9}{_cell(lag['mean']):>9}{_cell(lag['p50']):>9}{'':>9}"
        f"{_cell(lag['p99']):>9}{'':>9}{_cell(lag['max']):>9}"
    )
    avail = cast("dict[str, float | None]", summary["availability"])
    within = cast("dict[str, float | None]", summary.get("availability_within_deadline") or {})
    lines += [
        "",
        "availability  " + "  ".join(f"{k} {_pct(v)}" for k, v in avail.items() if v is not None),
        *(
            [
                f"  within {within['deadline_s']:g} s  "
                + "  ".join(f"{k} {_pct(within.get(k))}" for k, v in avail.items() if v is not None)
            ]
            if within
            else []
        ),
        f"stale reads   {_pct(summary['stale_read_fraction'])}    read-your-writes violations "
        f"{_pct(summary.get('ryw_violation_fraction'))}",
        _conflict_line(summary["conflicts"]),
        f"lost writes   {summary.get('lost_writes', 0)}"
        + "".join(f", {n} {cause}" for cause, n in (summary.get("lost_writes_by_cause") or {}).items()),
    ]
    cl = summary.get("cluster")
    if cl:
        lines.append(
            f"cluster       availability {_pct(cl['availability'])}, {cl['elections']} elections, "
            f"{_fmt(cl['leaderless_seconds'], 3)} s without a quorum leader"
        )
    for name, c in (summary.get("clusters") or {}).items():
        lines.append(
            f"cluster       {name}: {_fmt(c['ops'])} ops, availability {_pct(c['availability'])}, write p50/p99 "
            f"{_fmt(c['write_latency_ms']['p50'])}/{_fmt(c['write_latency_ms']['p99'])} ms, leader "
            f"{_pct(c['leader_availability'])}, {c['conflicts']} conflicts"
        )
    for name, link in (summary.get("links") or {}).items():
        link_lag = link["lag_ms"]
        lines.append(
            f"link          {name}: lag p50 {_lag(link_lag['p50'])} p99 {_lag(link_lag['p99'])} "
            f"max {_lag(link_lag['max'])}, "
            f"{link['connections']} connections, {link['failures']} failures"
            + (
                f", drained {_duration(max(link['outages_drained_after_s']))} after the worst outage"
                if link.get("outages_drained_after_s")
                else ""
            )
            + (", not drained since its last outage" if link.get("undrained_at_end") else "")
        )
    for f in summary.get("faults") or []:
        rto = "not recovered" if not f["recovered"] else f"RTO {_fmt(f['rto_s'], 3)} s"
        rpo = (
            "" if f["rpo_writes"] is None else f", RPO {f['rpo_writes']} writes ({_fmt(f['rpo_seconds'], 3)} s of data)"
        )
        where = f"[{f['cluster']}] " if "cluster" in f else ""
        lines.append(
            f"fault         {where}{f['fault']} {f['target']} at {_fmt(f['start_s'], 1)} s: {rto}{rpo}, "
            f"{f['client_errors']} client errors, {f['affected_clients']} clients affected"
        )
    recovery = summary.get("re_replication") or {}
    for where, how in [("", recovery)] if "behaviour" in recovery else [(f"[{k}] ", v) for k, v in recovery.items()]:
        lines.append(f"recovery      {where}{how['behaviour']}")
    outage = summary.get("region_outage")
    if outage:
        users = "never" if outage["users_rto_s"] is None else f"after {_fmt(outage['users_rto_s'], 1)} s"
        lines.append(
            f"region out    {outage['datacenter']}: its users served again {users} "
            f"({_fmt(outage['requests_unserved'])} requests unserved), RPO {outage['rpo_writes']} writes "
            f"({_fmt(outage['rpo_seconds'], 3)} s), {_fmt(outage['errors_during'])} errors elsewhere, write p99 "
            f"{_fmt(outage['write_latency_before_ms']['p99'])} -> {_fmt(outage['write_latency_during_ms']['p99'])} ms"
        )
    for where, backups in _with_clusters(summary, "backups"):
        if not backups:
            continue
        line = (
            f"backups       {where}{backups['completed']} done ({backups['full']} full, {backups['incremental']} "
            f"incremental), {backups['failed']} failed"
        )
        if backups.get("worst_rpo_s") is not None:
            restore = backups["restore"]
            line += (
                f"; worst RPO {_duration(backups['worst_rpo_s'])} ({backups['worst_rpo_writes']} writes); "
                f"restoring the newest takes {_duration(restore['total_s'])} ({restore['files']} files)"
            )
        lines.append(line)
    etls = [
        (where, name, etl) for where, tasks in _with_clusters(summary, "etl") for name, etl in (tasks or {}).items()
    ]
    for where, name, etl in etls:
        lag = etl["lag_ms"]
        line = (
            f"etl           {where}{name}: {_fmt(etl['documents_loaded'])} loaded, lag p50 {_lag(lag['p50'])} "
            f"p99 {_lag(lag['p99'])}, backlog max {_fmt(int(etl['max_backlog']))}"
        )
        if etl["fallback_retries"]:
            line += f", {etl['fallback_retries']} fallback retries"
        drains = [o["time_to_drain_s"] for o in etl["outages"] if o.get("time_to_drain_s") is not None]
        if drains:
            line += f", drained {_duration(max(drains))} after the worst outage"
        lines.append(line)
    subs = [
        (where, name, sub)
        for where, tasks in _with_clusters(summary, "subscriptions")
        for name, sub in (tasks or {}).items()
    ]
    for where, name, sub in subs:
        if not sub:
            continue
        lines.append(
            f"subscription  {where}{name}: {_fmt(sub['docs_processed'])} processed in {_fmt(sub['batches'])} batches, "
            f"{_fmt(sub['duplicates'])} duplicates, longest gap with a backlog {_duration(sub['failover_gap_s'])}, "
            f"lag p99 {_lag(sub['lag_ms']['p99'])}"
        )
    dbs = summary.get("databases")
    if dbs:
        factors = ", ".join(f"{n} at RF {rf}" for rf, n in dbs["by_replication_factor"].items())
        line = f"databases     {dbs['count']} ({factors}); least available {dbs['least_available']}"
        line += f" {_pct(dbs['availability_min'])}"
        if dbs["down_at_end_count"]:
            more = dbs["down_at_end_count"] - len(dbs["down_at_end"])
            line += f"; not served at the end: {', '.join(dbs['down_at_end'])}" + (f" and {more} more" if more else "")
        lost = dbs["lost_writes_by_database"]
        if lost:
            line += f"; writes lost in {len(lost)} of them"
        lines.append(line)
    events = summary.get("cluster_events") or {}
    if events:
        lines.append("events        " + ", ".join(f"{k} {v}" for k, v in events.items()))
    for warning in summary.get("warnings") or []:
        lines.append(f"warning       {warning}")
    if summary.get("exception"):
        lines.append(f"RUN FAILED    {summary['exception']}")
    return "\n".join(lines)


def _with_clusters(summary: Summary, section: str) -> list[tuple[str, Any]]:
    """``summary[section]``, then each cluster's own (a deployment's), tagged ``[cluster] ``."""
    clusters = summary.get("clusters") or {}
    return [("", summary.get(section)), *((f"[{name}] ", c.get(section)) for name, c in clusters.items())]


def _conflict_line(c: ConflictCounts) -> str:
    how = [
        f"{c.get(k, 0)} {label}"
        for k, label in (
            ("resolved_latest", "to latest"),
            ("resolved_cluster_tx", "to the cluster transaction"),
            ("resolved_script", "merged by script"),
            ("manual", "left for manual resolution"),
        )
        if c.get(k)
    ]
    text = f"conflicts     {c['total']}"
    if how:
        text += f" ({', '.join(how)})"
    return text + f"; {c['lost_acknowledged']} acknowledged writes lost to resolution"


def format_blueprints(rows: list[dict[str, Any]]) -> str:
    """``workbench blueprints``: one line per built-in blueprint, its name, size and summary."""
    width = max(len(r["name"]) for r in rows)
    sizes = []
    for r in rows:
        clusters = f"{r['clusters']} clusters, " if r.get("clusters", 1) > 1 else ""
        factors = r.get("replication_factors") or [r["replication_factor"]]
        rf = f"{factors[0]}-{factors[-1]}" if len(factors) > 1 else f"{factors[0]}"
        several = f", {r['databases']} databases" if r.get("databases", 1) > 1 else ""
        sizes.append(f"{clusters}{r['nodes']} nodes, RF {rf}{several}")
    size_width = max(len("3 clusters, 12 nodes, RF 3"), *(len(s) for s in sizes))
    return "\n".join(
        f"{r['name']:<{width}}  {size:<{size_width}}  {r['summary']}" for r, size in zip(rows, sizes, strict=True)
    )


def format_blueprint(bp: Blueprint, clients: ClientSpec | None = None) -> str:
    """One blueprint: its notes, then a drawing of its layout in text, region by region.

    ``bp`` is a validated :class:`~workbench.scenario.schema.Blueprint`; ``clients`` the
    client settings it suggests (a :class:`ClientSpec`), if any."""
    members = set(bp.database.members or ())
    lines = _notes(bp)
    placed: dict[tuple[str, str], int] = {}
    if clients is not None:
        groups = clients.placement or ()
        for g in groups:
            key = (g.datacenter, g.zone or "")
            placed[key] = placed.get(key, 0) + g.count
    for region, dcs in _by_region(bp.datacenters).items():
        lines.append(f"region {region}")
        for dc in dcs:
            lines.append(f"  data centre {dc.name}")
            for zone in dc.zones:
                nodes = [n for n in bp.nodes if n.datacenter == dc.name and (n.zone or dc.zones[0]) == zone]
                boxes = " ".join(_node_box(n, members) for n in nodes)
                systems = [
                    x.name
                    for x in bp.externals
                    if (x.datacenter or bp.datacenters[0].name) == dc.name and (x.zone or dc.zones[0]) == zone
                ]
                if systems:
                    boxes = " ".join([boxes, *(f"{{{name}}}" for name in systems)]).strip()
                users = placed.get((dc.name, zone), 0) + (placed.get((dc.name, ""), 0) if zone == dc.zones[0] else 0)
                extra = f"   + {users} client{'s' if users != 1 else ''}" if users else ""
                lines.append(f"    zone {zone}: {boxes or '(no nodes)'}{extra}")
    lines.append("")
    legend = "legend: [A] voting member, (A) watcher, * holds a pinned copy of the database"
    lines.append(legend + (", {name} external system" if bp.externals else ""))
    databases = bp.all_databases()
    if len(databases) > 1:
        counts: dict[int, int] = {}
        for d in databases:
            counts[d.replication_factor] = counts.get(d.replication_factor, 0) + 1
        mix = ", ".join(f"{n} at RF {rf}" for rf, n in sorted(counts.items()))
        lines.append(f"{len(databases)} databases ({mix}), each its own group:")
    shown = databases[:8]
    for db in shown:
        where = ", ".join(db.members) if db.members else "placed from a random offset (spec §2.1)"
        share = f", load {db.load:.3g}" if len(databases) > 1 else ""
        lines.append(f"database {db.name}: RF {db.replication_factor}, {where}{share}")
        for task in db.tasks:
            lines.append(f"task {task.name}: {_task_text(task)}")
    if len(databases) > len(shown):
        lines.append(f"... and {len(databases) - len(shown)} more databases")
    lines.append(f"re-replication: {_dynamic_text(bp)}")
    cl = bp.cluster
    lines.append(
        f"cluster: election timeout {cl.election_timeout * 1e3:g} ms, pre-vote {'on' if cl.prevote else 'off'}"
    )
    net = bp.network
    lines.append("one-way latency:")
    lines.append(f"  same zone {net.same_zone}; same region {net.same_region}")
    lines.append(f"  other regions {net.cross_region}")
    for pair in net.regions:
        lines.append(f"  {pair.between[0]} <-> {pair.between[1]}: {pair.latency}")
    for link in net.links:
        lines.append(f"  {link.between[0]} <-> {link.between[1]}: {link.latency}")
    if clients is not None and clients.read_balance != "None":
        lines.append(f"clients: read balance {clients.read_balance}")
    return "\n".join(lines)


def format_deployment(dep: Deployment, clients: ClientSpec | None = None) -> str:
    """A deployment of several clusters: its notes, each region's data centres with every
    cluster's nodes there, the databases, and the links between clusters."""
    lines = _notes(dep)
    placed: dict[str, int] = {}
    for g in (clients.placement or ()) if clients is not None else ():
        placed[g.datacenter] = placed.get(g.datacenter, 0) + g.count
    for region, dcs in _by_region(dep.datacenters).items():
        lines.append(f"region {region}")
        for dc in dcs:
            users = placed.get(dc.name, 0)
            extra = f"   + {users} client{'s' if users != 1 else ''}" if users else ""
            lines.append(f"  data centre {dc.name}{extra}")
            for c in dep.clusters:
                nodes = [n for n in c.nodes if n.datacenter == dc.name]
                if nodes:
                    members = set(c.database.members or ())
                    lines.append(f"    cluster {c.name}: {' '.join(_node_box(n, members) for n in nodes)}")
    lines.append("")
    lines.append("legend: [A] voting member, (A) watcher, * holds a pinned copy of the database")
    for c in dep.clusters:
        db = c.database
        where = ", ".join(db.members) if db.members else "placed from a random offset (spec §2.1)"
        lines.append(
            f"cluster {c.name}: database {db.name}, RF {db.replication_factor}, {where}; "
            f"election timeout {c.cluster.election_timeout * 1e3:g} ms; {_dynamic_text(c)}"
        )
        for task in db.tasks:
            lines.append(f"  task {task.name}: {_task_text(task)}")
    lines.append("links between clusters (clients never fail over across them):")
    for link in dep.links:
        lines.append(f"  {link.name}: {_link_text(link)}")
    if not dep.links:
        lines.append("  (none)")
    net = dep.network
    lines.append("one-way latency:")
    lines.append(f"  same zone {net.same_zone}; same region {net.same_region}")
    lines.append(f"  other regions {net.cross_region}")
    for pair in net.regions:
        lines.append(f"  {pair.between[0]} <-> {pair.between[1]}: {pair.latency}")
    return "\n".join(lines)


def _dynamic_text(parts: ClusterParts) -> str:
    """Whether a cluster (a blueprint, or one cluster of a deployment) re-replicates a lost copy."""
    if parts.database.dynamic_distribution:
        after = format_duration(parts.observer.add_replica_after)
        return f"dynamic distribution on (RavenDB's default is off): a copy silent {after} is replaced"
    return "dynamic distribution off (RavenDB's default): a copy lost for good is not replaced"


def _by_region(datacenters: Iterable[Datacenter]) -> dict[str, list[Datacenter]]:
    """Data centres grouped by region, in the order they are declared."""
    regions: dict[str, list[Datacenter]] = {}
    for dc in datacenters:
        regions.setdefault(dc.region, []).append(dc)
    return regions


def _notes(bp: Blueprint | Deployment) -> list[str]:
    """A blueprint's (or deployment's) name, description and catalogue notes, then a blank line."""
    lines = [bp.name, *_wrapped("  ", " ".join(bp.description.split())), ""]
    for label, text in (
        ("purpose", bp.purpose),
        ("layout", bp.layout),
        ("failure", bp.failure),
        ("trade-offs", bp.tradeoffs),
    ):
        if text:
            lines += _wrapped(f"{label:<11}", " ".join(text.split()))
    return [*lines, ""]


def _link_text(link: ClusterLink) -> str:
    delay = f", delayed {format_duration(link.delay)}" if not isinstance(link, RavenEtlLink) and link.delay else ""
    what = ""
    if not isinstance(link, ExternalReplicationLink) and link.collections:
        what = f" ({', '.join(link.collections)})"
    if link.kind == "external_replication":
        return f"external replication {link.source} -> {link.destination}{delay}"
    if link.kind == "hub_sink":
        arrow = {"hub_to_sink": "->", "sink_to_hub": "<-", "both": "<->"}[link.mode]
        return f"hub/sink: hub {link.hub} {arrow} sink {link.sink}{what}{delay} (the sink connects)"
    return f"RavenDB ETL {link.source} -> {link.destination}{what}"


def _task_text(task: OngoingTask) -> str:
    sticky = f", mentor {task.mentor}" if task.mentor else ""
    if task.kind == "sql_etl":
        what = ", ".join(task.collections) if task.collections else "every collection"
        return f"SQL ETL of {what} to {task.destination}{sticky}"
    if task.kind == "backup":
        inc = f", incremental every {format_duration(task.incremental_every)}" if task.incremental_every else ""
        return f"{task.backup_type} backup, full every {format_duration(task.full_every)}{inc}{sticky}"
    what = ", ".join(task.collections) if task.collections else "every collection"
    return f"subscription to {what}, {task.workers} worker(s), {task.strategy}{sticky}"


def _node_box(node: NodeSpec, members: set[str]) -> str:
    tag = node.tag + ("*" if node.tag in members else "")
    return f"({tag})" if node.role == "watcher" else f"[{tag}]"


def _wrapped(label: str, text: str, width: int = 100) -> list[str]:
    import textwrap

    body = textwrap.wrap(text, width - len(label)) or [""]
    return [label + body[0]] + [" " * len(label) + rest for rest in body[1:]]

"""The rules that span several fields of a validated scenario (pydantic checks each field
alone): names that must exist (nodes, data centres, clients, collections, external systems),
counts that must agree, the fault plan's timing and the size of the run. Each error names the
offending field path. ``check_scenario`` runs them all; ``check_deployment`` adds a deployment's
own rules and checks each of its clusters as a scenario."""

from __future__ import annotations

import re
from typing import Any

from workbench.errors import WorkbenchInputError, did_you_mean, one_of
from workbench.scenario.schema import (
    ARRIVAL_FIELDS,
    PLANS,
    ROLE_TARGETS,
    Arrivals,
    ClientRestartFault,
    CreateDatabaseAction,
    DegradeLinkFault,
    DeploymentScenario,
    PartitionFault,
    RestartFault,
    RestoreLinkFault,
    Scenario,
    SlowDiskFault,
)
from workbench.scenario.trace import check_trace_file, read_header
from workbench.scenario.units import format_duration


def check_scenario(s: Scenario, source: str, *, deployment: bool = False) -> None:
    """Rules that span several fields. Each error names the offending path. ``deployment``: ``s``
    is one cluster's part of a deployment of several clusters (``check_deployment``)."""

    def fail(path: str, message: str) -> None:
        """Raise the input error at field ``path`` of the scenario."""
        raise WorkbenchInputError(message, source=source, path=path)

    bp = s.blueprint
    dcs = {dc.name: dc for dc in bp.datacenters}
    if len(dcs) != len(bp.datacenters):
        for i, dc in enumerate(bp.datacenters):
            if [d.name for d in bp.datacenters].count(dc.name) > 1:
                fail(f"blueprint.datacenters[{i}].name", f"data centre '{dc.name}' is defined twice")
    tags = [n.tag for n in bp.nodes]
    for i, node in enumerate(bp.nodes):
        if tags.count(node.tag) > 1:
            fail(f"blueprint.nodes[{i}].tag", f"node tag '{node.tag}' is used twice; tags must be unique")
        if node.datacenter not in dcs:
            fail(
                f"blueprint.nodes[{i}].datacenter",
                f"no data centre '{node.datacenter}'{did_you_mean(node.datacenter, dcs)}; known: {one_of(dcs)}",
            )
        zones = dcs[node.datacenter].zones
        if node.zone is not None and node.zone not in zones:
            fail(
                f"blueprint.nodes[{i}].zone",
                f"data centre '{node.datacenter}' has no zone '{node.zone}'; its zones: {one_of(zones)}",
            )
    _check_size(s, fail)
    for i, tag in enumerate(bp.observer.priority_order):
        if tag not in tags:
            fail(
                f"blueprint.observer.priority_order[{i}]",
                f"no node '{tag}'{did_you_mean(tag, tags)}; nodes: {one_of(tags)}",
            )
    n_clients = sum(g.count for g in s.clients.placement) if s.clients.placement else s.clients.count
    for i, dc in enumerate(bp.datacenters):
        if dc.name in tags or (
            dc.name.startswith("client") and dc.name[6:].isdigit() and 0 < int(dc.name[6:]) <= n_clients
        ):
            fail(
                f"blueprint.datacenters[{i}].name",
                f"'{dc.name}' is also the name of a node or a client, so a fault naming it would be "
                "ambiguous; rename it",
            )
    for i, url in enumerate(s.clients.urls or ()):
        if url not in tags:
            fail(f"clients.urls[{i}]", f"no node '{url}'{did_you_mean(url, tags)}; nodes: {one_of(tags)}")
    if s.clients.urls is not None and not s.clients.urls:
        fail("clients.urls", "the URL list is empty; name at least one node, or leave it out for every node")
    regions = sorted({dc.region for dc in bp.datacenters})
    for i, pair in enumerate(bp.network.regions):
        for j, region in enumerate(pair.between):
            if region not in regions:
                fail(
                    f"blueprint.network.regions[{i}].between[{j}]",
                    f"no data centre is in region '{region}'{did_you_mean(region, regions)}; "
                    f"regions: {one_of(regions)}",
                )
        if pair.between[0] == pair.between[1]:
            fail(f"blueprint.network.regions[{i}].between", "name two different regions (same_region covers one)")
    for i, link in enumerate(bp.network.links):
        for j, tag in enumerate(link.between):
            if tag not in tags:
                fail(
                    f"blueprint.network.links[{i}].between[{j}]",
                    f"no node '{tag}'{did_you_mean(tag, tags)}; nodes: {one_of(tags)}",
                )
        if link.between[0] == link.between[1]:
            fail(
                f"blueprint.network.links[{i}].between",
                f"a link joins two different nodes, got {link.between[0]} twice",
            )
    for here, db in declared_databases(bp):
        _check_database(here, db, tags, fail)
    names = [db.name for db in bp.all_databases()]
    for i, name in enumerate(names):
        if names.index(name) != i:
            fail(f"{_database_path(bp, i)}.name", f"database '{name}' is declared twice; database names are unique")
    pop = bp.database_population
    if pop is not None:
        if pop.keys_sigma > 0 and pop.keys is None:
            fail(
                "blueprint.database_population.keys_sigma",
                "spreads the sizes around keys, which is not set; set keys (the median documents per database)",
            )
        if "zipf_exponent" in pop.model_fields_set and pop.load != "zipf":
            fail(
                "blueprint.database_population.zipf_exponent",
                f"applies to load: zipf, but load is {pop.load}; remove it or set load: zipf",
            )
        mix = pop.replication_factor if isinstance(pop.replication_factor, dict) else {pop.replication_factor: 1.0}
        for rf, share in mix.items():
            if not 1 <= rf <= len(tags):
                fail(
                    "blueprint.database_population.replication_factor",
                    f"replication factor {rf} needs 1 to {len(tags)} nodes (the blueprint has {len(tags)})",
                )
            if not share > 0:
                fail(
                    f"blueprint.database_population.replication_factor.{rf}",
                    f"a share of the mix must be above 0, got {share!r}",
                )
    if not any(db.load > 0 for db in bp.all_databases()):
        fail(_database_path(bp, 0) + ".load", "at least one database must take load (a load above 0)")
    if len(names) > 1:
        # A trace row names its database (a tenant would need one too: not yet; docs/databases.md).
        a = s.workload.arrivals
        if a.kind == "trace" and a.file is not None and "database" not in read_header(a.file):
            fail(
                "workload.arrivals.file",
                f"{a.file}: on a cluster of several databases ({len(names)}) each row names its database: "
                "add a database column",
            )
        if s.workload.key_popularity == "tenants":
            fail(
                "workload.key_popularity",
                f"per-tenant keys run on a cluster of one database; this one has {len(names)} "
                "(with several databases, each database is a tenant: use load to weigh them)",
            )
    if s.clients.placement:
        clash = sorted({"count", "datacenter", "zone"} & s.clients.model_fields_set)
        if clash:
            fail(
                f"clients.{clash[0]}",
                "clients.placement already says where the clients are and how many; "
                f"remove clients.{clash[0]} or the placement",
            )
        for i, group in enumerate(s.clients.placement):
            if group.datacenter not in dcs:
                fail(
                    f"clients.placement[{i}].datacenter",
                    f"no data centre '{group.datacenter}'{did_you_mean(group.datacenter, dcs)}; known: {one_of(dcs)}",
                )
            if group.zone is not None and group.zone not in dcs[group.datacenter].zones:
                fail(
                    f"clients.placement[{i}].zone",
                    f"data centre '{group.datacenter}' has no zone '{group.zone}'; "
                    f"its zones: {one_of(dcs[group.datacenter].zones)}",
                )
    if s.clients.datacenter is not None and s.clients.datacenter not in dcs:
        fail(
            "clients.datacenter",
            f"no data centre '{s.clients.datacenter}'{did_you_mean(s.clients.datacenter, dcs)}; known: {one_of(dcs)}",
        )
    cdc = dcs[s.clients.datacenter or bp.datacenters[0].name]
    if s.clients.zone is not None and s.clients.zone not in cdc.zones:
        fail(
            "clients.zone",
            f"data centre '{cdc.name}' has no zone '{s.clients.zone}'; its zones: {one_of(cdc.zones)}",
        )
    mix = s.workload.mix
    total = mix.read + mix.write + mix.query + mix.cluster_tx + mix.compare_exchange + mix.transaction
    if abs(total - 1.0) > 1e-6:
        fail(
            "workload.mix",
            "read + write + query + cluster_tx + compare_exchange + transaction must add up to 1, "
            f"they add up to {total:g}",
        )
    collections = s.workload.collections
    if not collections:
        fail("workload.collections", "name at least one collection, e.g. {docs: 1.0}")
    for name, share in collections.items():
        if not share > 0:
            fail(f"workload.collections.{name}", f"a collection's share of the keys must be above 0, got {share!r}")
    shares = sum(collections.values())
    if abs(shares - 1.0) > 1e-6:
        fail("workload.collections", f"the shares of the keys must add up to 1, they add up to {shares:g}")
    if s.workload.transaction_documents > s.workload.keys and mix.transaction > 0:
        fail(
            "workload.transaction_documents",
            f"a transaction writes {s.workload.transaction_documents} distinct documents, "
            f"but there are only {s.workload.keys} keys",
        )
    if mix.transaction > 0:
        for i, db in enumerate(bp.all_databases()):
            if db.keys is not None and db.keys < s.workload.transaction_documents:
                fail(
                    f"{_database_path(bp, i)}.keys",
                    f"a transaction writes {s.workload.transaction_documents} distinct documents, but database "
                    f"'{db.name}' has only {db.keys}",
                )
    check_workload(s, fail, deployment=deployment)
    check_tasks(s, fail)
    for here, db in declared_databases(bp):
        for name, cost in db.conflicts.scripts.items():
            if name not in collections:
                fail(
                    f"{here}.conflicts.scripts.{name}",
                    f"no collection '{name}'{did_you_mean(name, collections)}; "
                    f"workload.collections: {one_of(collections)}",
                )
            if cost < 0:
                fail(f"{here}.conflicts.scripts.{name}", "a script's run time cannot be negative")
    cl = bp.cluster
    if cl.timeout_range is not None and not 0.001 <= cl.timeout_range[0] <= cl.timeout_range[1]:
        fail("blueprint.cluster.timeout_range", "needs 1 ms <= min <= max, e.g. [150 ms, 300 ms]")
    if cl.election_timeout < 0.001:
        # Below a millisecond a leader's heartbeats would be most of what the run simulates.
        fail("blueprint.cluster.election_timeout", "must be 1 ms or longer")
    shortest = cl.timeout_range[0] if cl.timeout_range is not None else cl.election_timeout
    if cl.heartbeat_interval is not None and not 0 < cl.heartbeat_interval < shortest:
        fail(
            "blueprint.cluster.heartbeat_interval",
            f"{format_duration(cl.heartbeat_interval)} must be above 0 and shorter than the election timeout "
            f"({format_duration(shortest)}), or followers depose the leader between its heartbeats",
        )
    assurance = s.clients.write_assurance
    if isinstance(assurance.replicas, int):
        # The smallest group that takes writes decides (a group of one ignores the setting).
        groups = [d for d in bp.all_databases() if d.load > 0 and d.replication_factor > 1] or [bp.database]
        db = min(groups, key=lambda d: d.replication_factor)
        siblings = db.replication_factor - 1
        if not 0 <= assurance.replicas <= siblings:
            which = f"database '{db.name}', " if len(groups) > 1 else ""
            fail(
                "clients.write_assurance.replicas",
                f"{assurance.replicas} cannot be met: a write can wait for 0 to {siblings} other members "
                f"({which}replication factor {db.replication_factor}), or 'majority'",
            )
    if not any(n.role == "member" for n in bp.nodes):
        fail("blueprint.nodes", "at least one node must be a member (voter)")
    if s.duration <= 0:
        fail("duration", "must be longer than 0 s")
    if s.warmup >= s.duration:
        fail(
            "warmup",
            f"{format_duration(s.warmup)} leaves nothing to measure in a {format_duration(s.duration)} run; "
            "make it shorter than duration",
        )
    if s.sample_interval <= 0:
        fail("sample_interval", "must be longer than 0 s")
    if s.workload.stop is not None and s.workload.stop > s.duration:
        fail(
            "workload.stop",
            f"{format_duration(s.workload.stop)} is after the end of the run ({format_duration(s.duration)})",
        )
    check_faults(s, fail)
    _check_restarts(s, fail)


def declared_databases(bp: Any) -> list[tuple[str, Any]]:
    """The databases written out in the blueprint, each with its field path."""
    if bp.databases:
        return [(f"blueprint.databases[{i}]", db) for i, db in enumerate(bp.databases)]
    return [("blueprint.database", db) for db in bp.declared_databases()]


def _database_path(bp: Any, i: int) -> str:
    """The field path of database ``i`` of ``bp.all_databases()``."""
    declared = declared_databases(bp)
    return declared[i][0] if i < len(declared) else "blueprint.database_population"


def _check_database(here: str, db: Any, tags: list[str], fail: Any) -> None:
    if db.replication_factor > len(tags):
        fail(
            f"{here}.replication_factor",
            f"{db.replication_factor} copies need {db.replication_factor} nodes, "
            f"but the blueprint has {len(tags)} ({one_of(tags)})",
        )
    if db.members is not None:
        for i, tag in enumerate(db.members):
            if tag not in tags:
                fail(f"{here}.members[{i}]", f"no node '{tag}'{did_you_mean(tag, tags)}; nodes: {one_of(tags)}")
            if db.members.count(tag) > 1:
                fail(f"{here}.members[{i}]", f"node '{tag}' is listed twice")
        if len(db.members) != db.replication_factor:
            fail(
                f"{here}.members",
                f"{len(db.members)} members listed but replication_factor is {db.replication_factor}; "
                "list exactly that many",
            )


def check_workload(s: Scenario, fail: Any, *, deployment: bool = False) -> None:
    """Arrivals (each kind's settings, the trace file's header: a ``cluster`` column only in a
    ``deployment``) and key popularity."""
    wl = s.workload
    names = list(wl.collections)
    if wl.write_collections is not None and not wl.write_collections:
        fail("workload.write_collections", "the list is empty; name at least one collection, or leave it out")
    for i, name in enumerate(wl.write_collections or ()):
        if name not in names:
            fail(
                f"workload.write_collections[{i}]",
                f"no collection '{name}'{did_you_mean(name, names)}; workload.collections: {one_of(names)}",
            )
    if wl.write_collections is not None and wl.key_popularity == "tenants":
        fail("workload.write_collections", "write_collections does not combine with key_popularity: tenants")
    a = wl.arrivals
    here = "workload.arrivals"
    defaults = Arrivals().model_dump(mode="json")
    given = a.model_dump(mode="json")
    owner = {name: kind for kind, names in ARRIVAL_FIELDS.items() for name in names}
    for name in ARRIVAL_FIELDS["poisson"] + tuple(owner):
        if name not in ARRIVAL_FIELDS[a.kind] and given[name] != defaults[name]:
            fail(
                f"{here}.{name}",
                f"{name} is a setting of kind {owner[name]}, but kind is {a.kind}; "
                f"remove it or set kind: {owner[name]}",
            )
    if a.kind == "diurnal":
        for name, example in (("peak", 3000), ("trough", 300)):
            if getattr(a, name) is None:
                fail(f"{here}.{name}", f"diurnal arrivals need a {name} rate in operations per second, e.g. {example}")
        if a.trough > a.peak:
            fail(f"{here}.trough", f"the trough ({a.trough:g}/s) is above the peak ({a.peak:g}/s)")
        if a.period <= 0:
            fail(f"{here}.period", "must be longer than 0 s, e.g. 24 h (or 10 min to compress a day)")
    elif a.kind == "bursts":
        if not a.bursts and a.random_bursts is None:
            fail(
                f"{here}.bursts",
                "bursts arrivals need bursts, e.g. [{at: 30 s, duration: 10 s, multiplier: 5}], or random_bursts",
            )
        for i, burst in enumerate(a.bursts):
            if burst.duration <= 0:
                fail(f"{here}.bursts[{i}].duration", "must be longer than 0 s")
            if burst.at >= s.duration:
                fail(
                    f"{here}.bursts[{i}].at",
                    f"{format_duration(burst.at)} is not before the end of the run ({format_duration(s.duration)}), "
                    "so the burst would never happen",
                )
        rb = a.random_bursts
        if rb is not None:
            if not rb.every.mean() > 0:
                fail(f"{here}.random_bursts.every", f"'{rb.every.text}' must average more than 0 s between bursts")
            if not rb.duration.mean() > 0:
                fail(f"{here}.random_bursts.duration", f"'{rb.duration.text}' must average more than 0 s")
    elif a.kind == "closed":
        if a.users is None:
            fail(f"{here}.users", "closed-loop arrivals need a number of users, e.g. users: 50")
    elif a.kind == "trace":
        if a.file is None:
            fail(f"{here}.file", "trace arrivals need a file, e.g. file: traces/sample.csv (relative to the scenario)")
        try:
            check_trace_file(a.file, deployment=deployment)
        except WorkbenchInputError as err:
            fail(f"{here}.file", str(err))
        if a.window.end is not None and a.window.end <= a.window.start:
            fail(
                f"{here}.window.end",
                f"{format_duration(a.window.end)} is not after window.start ({format_duration(a.window.start)})",
            )
    for name, section in (("hotspot", wl.hotspot), ("tenants", wl.tenants)):
        if wl.key_popularity != name and section.model_dump(mode="json") != type(section)().model_dump(mode="json"):
            fail(
                f"workload.{name}",
                f"applies to key_popularity: {name}, but key_popularity is {wl.key_popularity}; "
                f"remove it or set key_popularity: {name}",
            )
    if wl.key_popularity == "hotspot" and wl.hotspot.hot_keys(wl.keys) >= wl.keys:
        fail(
            "workload.hotspot.keys",
            f"{wl.hotspot.keys:g} of {wl.keys} keys leaves no cold keys; use a smaller fraction or more keys",
        )
    if wl.key_popularity == "tenants" and wl.tenants.count > wl.keys:
        fail("workload.tenants.count", f"{wl.tenants.count} tenants need at least as many keys; there are {wl.keys}")


def check_tasks(s: Scenario, fail: Any) -> None:
    """Ongoing tasks and the external systems they write to."""
    bp = s.blueprint
    tags = [n.tag for n in bp.nodes]
    dcs = {dc.name: dc for dc in bp.datacenters}
    systems = [x.name for x in bp.externals]
    for i, system in enumerate(bp.externals):
        here = f"blueprint.externals[{i}]"
        if systems.count(system.name) > 1:
            fail(f"{here}.name", f"external system '{system.name}' is defined twice")
        if system.name in tags or system.name in dcs or re.fullmatch(r"client\d+", system.name):
            fail(f"{here}.name", f"'{system.name}' is already a node, data centre or client name; pick another")
        if system.datacenter is not None and system.datacenter not in dcs:
            fail(
                f"{here}.datacenter",
                f"no data centre '{system.datacenter}'{did_you_mean(system.datacenter, dcs)}; known: {one_of(dcs)}",
            )
        dc = dcs[system.datacenter or bp.datacenters[0].name]
        if system.zone is not None and system.zone not in dc.zones:
            fail(f"{here}.zone", f"data centre '{dc.name}' has no zone '{system.zone}'; its zones: {one_of(dc.zones)}")
    tasks = [(f"{path}.tasks[{i}]", task) for path, db in declared_databases(bp) for i, task in enumerate(db.tasks)]
    names = [task.name for _, task in tasks]
    collections = list(s.workload.collections)
    for here, task in tasks:
        if names.count(task.name) > 1:
            fail(f"{here}.name", f"task name '{task.name}' is used twice; task names must be unique in a cluster")
        if task.mentor is not None and task.mentor not in tags:
            fail(f"{here}.mentor", f"no node '{task.mentor}'{did_you_mean(task.mentor, tags)}; nodes: {one_of(tags)}")
        for j, name in enumerate(getattr(task, "collections", None) or ()):
            if name not in collections:
                fail(
                    f"{here}.collections[{j}]",
                    f"no collection '{name}'{did_you_mean(name, collections)}; workload.collections: "
                    f"{one_of(collections)}",
                )
        if task.kind == "sql_etl" and task.destination not in systems:
            hint = f"; known: {one_of(systems)}" if systems else "; define it under blueprint.externals"
            fail(
                f"{here}.destination",
                f"no external system '{task.destination}'{did_you_mean(task.destination, systems)}{hint}",
            )
        if task.kind == "backup" and task.incremental_every is not None and task.incremental_every >= task.full_every:
            fail(
                f"{here}.incremental_every",
                "incremental backups come between full ones: make incremental_every shorter than full_every, "
                "or set it to null",
            )


def _check_restarts(s: Scenario, fail: Any) -> None:
    """A restart of a named node needs something to stop it first. Checked only where the plan
    says so plainly: explicit times and tags, and no failure process or data-centre outage that
    could stop nodes at other times."""
    faults = s.faults
    if any(
        f.action in ("random_failures", "random_datacenter_failures", "datacenter_down", "rolling_restart")
        or f.at is None
        for f in faults
    ):
        return
    stopped: dict[str, float] = {}
    for i, f in sorted(enumerate(faults), key=lambda item: item[1].at or 0.0):
        node = getattr(f, "node", None)
        if f.action in ("crash", "shutdown") and node is not None and node not in ("leader", "follower", "preferred"):
            stopped.setdefault(node, f.at)
        if f.action == "restart" and node not in (None, "last_crashed") and node not in stopped:
            fail(
                f"faults[{i}].node",
                f"restart of {node} at {format_duration(f.at)}, but nothing in the plan stops {node} before then "
                "(a restart of a running node does nothing); crash or shut it down first, or give the crash a duration",
            )


# Timeseries rows a run may record: each sample is a row per node and metric.
MAX_SAMPLES = 5_000_000


def _check_size(s: Scenario, fail: Any) -> None:
    """Resources bounded up front: a run that would take hours or exhaust memory is refused with
    the estimate and how to shrink it (``max_operations`` lets a user ask for it on purpose)."""
    arrivals = s.workload.arrivals
    rate = {"diurnal": arrivals.peak or s.workload.rate, "closed": None, "trace": None}.get(
        arrivals.kind, s.workload.rate
    )
    if rate is not None:
        ops = rate * s.duration
        if ops > s.max_operations:
            minutes = ops / 100_000 / 60  # the hot path's speed on one core (docs/speed.md)
            gib = ops * 55 / 2**30  # bytes per recorded operation
            fail(
                "workload.rate",
                f"{rate:,.6g} operations/s for {format_duration(s.duration)} is about {ops:,.0f} operations "
                f"(roughly {minutes:,.0f} min of wall time and {gib:,.1f} GiB of results), more than "
                f"max_operations ({s.max_operations:,}); shorten the run or lower the rate, or raise "
                "max_operations to run it anyway",
            )
    samples = s.duration / s.sample_interval if s.sample_interval > 0 else 0.0  # 0 s: refused on its own
    if samples > MAX_SAMPLES:
        fail(
            "sample_interval",
            f"{format_duration(s.sample_interval)} over {format_duration(s.duration)} is {samples:,.0f} samples "
            f"(at most {MAX_SAMPLES:,}); sample less often",
        )


def check_faults(s: Scenario, fail: Any) -> None:
    """The fault plan: timing, and every node, client and data centre it names."""
    bp = s.blueprint
    tags = [n.tag for n in bp.nodes]
    dcs = [dc.name for dc in bp.datacenters]
    n_clients = sum(g.count for g in s.clients.placement) if s.clients.placement else s.clients.count
    clients = [f"client{i + 1}" for i in range(n_clients)]
    endpoints = [*tags, *clients, *dcs]

    def node_ref(path: str, ref: str, *, restart: bool = False) -> None:
        """Check a node reference: a tag or a role (``last_crashed`` only for a restart, which takes no other role)."""
        if ref == "last_crashed" and not restart:
            fail(path, "'last_crashed' is for restart; name a tag or a role (leader, follower, preferred)")
        if restart and ref in ROLE_TARGETS:
            fail(path, f"restart a node by tag or 'last_crashed', not '{ref}'")
        if ref not in tags and ref not in (*ROLE_TARGETS, "last_crashed"):
            fail(path, f"no node '{ref}'{did_you_mean(ref, tags)}; nodes: {one_of(tags)}")

    def endpoint_ref(path: str, ref: str) -> None:
        """Check an endpoint reference: a node tag, a client name or a data centre."""
        if ref not in endpoints:
            fail(
                path,
                f"'{ref}' is not a node, client or data centre{did_you_mean(ref, endpoints)}; "
                f"nodes: {one_of(tags)}; clients: client1..client{n_clients}; data centres: {one_of(dcs)}",
            )

    def dc_ref(path: str, ref: str) -> None:
        """Check a data-centre name."""
        if ref not in dcs:
            fail(path, f"no data centre '{ref}'{did_you_mean(ref, dcs)}; known: {one_of(dcs)}")

    databases = [db.name for db in bp.all_databases()] if hasattr(bp, "all_databases") else []
    for i, fault in enumerate(s.faults):
        here = f"faults[{i}]"
        named = getattr(fault, "database", None)
        if named is not None and named not in databases:
            fail(
                f"{here}.database",
                f"no database '{named}'{did_you_mean(named, databases)}; databases: {one_of(databases[:20])}",
            )
        if fault.at is not None and fault.after is not None:
            fail(f"{here}.after", "give either 'at' or 'after', not both")
        if fault.at is None and fault.after is None and fault.action not in PLANS:
            fail(f"{here}.at", f"say when the {fault.action} happens: 'at: 30 s' or 'after: leader_elected + 5 s'")
        if fault.at is not None and fault.at > s.duration:
            fail(
                f"{here}.at",
                f"{format_duration(fault.at)} is after the end of the run ({format_duration(s.duration)}), "
                "so it would never happen; move it earlier or lengthen duration",
            )
        if fault.action == "bulk_update" and fault.collection not in s.workload.collections:
            names = list(s.workload.collections)
            fail(
                f"{here}.collection",
                f"no collection '{fault.collection}'{did_you_mean(fault.collection, names)}; "
                f"workload.collections: {one_of(names)}",
            )
        if fault.cluster is not None:
            fail(f"{here}.cluster", "'cluster' is for deployments of several clusters; this blueprint is one cluster")
        if fault.action == "reroute":
            _reroute_needs_open_loop(s, here, fail)
            placed = [g.datacenter for g in s.clients.placement] or [s.clients.datacenter or dcs[0]]
            for end in ("from_datacenter", "to_datacenter"):
                dc_ref(f"{here}.{end}", getattr(fault, end))
            if fault.from_datacenter == fault.to_datacenter:
                fail(f"{here}.to_datacenter", "reroute to another data centre than the one it comes from")
            if fault.to_datacenter not in placed:
                fail(
                    f"{here}.to_datacenter",
                    f"no clients in '{fault.to_datacenter}' to take the load; "
                    f"clients are in {one_of(sorted(set(placed)))}",
                )
        node = getattr(fault, "node", None)
        if node is not None:
            node_ref(f"{here}.node", node, restart=isinstance(fault, RestartFault))
        if isinstance(fault, CreateDatabaseAction) and fault.replication_factor > len(tags):
            fail(
                f"{here}.replication_factor",
                f"{fault.replication_factor} copies on a cluster of {len(tags)} nodes; at most {len(tags)}",
            )
        listed = getattr(fault, "nodes", None) or ()
        for j, tag in enumerate(listed):
            if tag not in tags:
                fail(f"{here}.nodes[{j}]", f"no node '{tag}'{did_you_mean(tag, tags)}; nodes: {one_of(tags)}")
            if tag in listed[:j]:
                fail(f"{here}.nodes[{j}]", f"node '{tag}' is listed twice")
        for field in ("time_to_failure",):
            dist = getattr(fault, field, None)
            if dist is not None and not dist.mean() > 0:
                fail(f"{here}.{field}", f"'{dist.text}' has a mean of 0: failures would never stop coming")
        if getattr(fault, "datacenter", None) is not None:
            dc_ref(f"{here}.datacenter", fault.datacenter)
        system = getattr(fault, "system", None)
        if system is not None and system not in [x.name for x in bp.externals]:
            known = [x.name for x in bp.externals]
            fail(
                f"{here}.system",
                f"no external system '{system}'{did_you_mean(system, known)}"
                + (f"; known: {one_of(known)}" if known else "; blueprint.externals is empty"),
            )
        for j, dc in enumerate(getattr(fault, "datacenters", None) or ()):
            dc_ref(f"{here}.datacenters[{j}]", dc)
        if isinstance(fault, ClientRestartFault) and fault.client != "all" and fault.client not in clients:
            fail(
                f"{here}.client",
                f"no client '{fault.client}'{did_you_mean(fault.client, clients)}; "
                f"clients: client1..client{n_clients}, or 'all'",
            )
        if isinstance(fault, PartitionFault):
            seen: set[str] = set()
            for g, group in enumerate(fault.groups):
                for j, ref in enumerate(group):
                    if ref not in ROLE_TARGETS:  # a role (leader, follower, preferred) resolves when it fires
                        endpoint_ref(f"{here}.groups[{g}][{j}]", ref)
                    if ref in seen:
                        fail(f"{here}.groups[{g}][{j}]", f"'{ref}' is in two groups")
                    seen.add(ref)
        if isinstance(fault, DegradeLinkFault | RestoreLinkFault):
            for j, ref in enumerate(fault.between):
                endpoint_ref(f"{here}.between[{j}]", ref)
            if fault.between[0] == fault.between[1]:
                fail(f"{here}.between", f"a link joins two different endpoints, got {fault.between[0]} twice")
        if (
            isinstance(fault, DegradeLinkFault)
            and fault.latency is None
            and fault.loss is None
            and (fault.bandwidth is None)
        ):
            fail(here, "degrade_link needs at least one of latency, loss or bandwidth")
        if isinstance(fault, SlowDiskFault) and (fault.factor is None) == (fault.fsync is None):
            fail(here, "slow_disk needs exactly one of factor (e.g. 10) or fsync (a distribution, e.g. 50 ms)")
        if fault.action in OPERATOR_NODE_ACTIONS:
            _check_operator_action(s, i, fail)


# Operator actions on one node's cluster role or database-group membership.
OPERATOR_NODE_ACTIONS = ("promote", "demote", "add_to_group", "remove_from_group")


def _check_operator_action(s: Scenario, i: int, fail: Any) -> None:
    """What can be known before the run about promote, demote, add_to_group and
    remove_from_group: the role or copy the node has in the blueprint, unless an earlier
    entry of the plan changes it (roles like 'preferred' resolve when the action fires)."""
    bp = s.blueprint
    fault = s.faults[i]
    here = f"faults[{i}]"
    ref = fault.node
    earlier = s.faults[:i]

    def changed_by(*actions: str) -> bool:
        """An earlier entry of the plan runs one of ``actions`` on the same node (so its blueprint
        role no longer tells)."""
        return any(f.action in actions and getattr(f, "node", None) == ref for f in earlier)

    if fault.action == "promote" and ref in ("leader", "follower"):
        fail(f"{here}.node", f"promote takes a watcher; '{ref}' is a voting member: name the watcher's tag")
    if fault.action == "demote" and ref == "leader":
        fail(
            f"{here}.node",
            "RavenDB refuses to demote the leader (it asks for a step-down first); name a tag or 'follower'",
        )
    roles = {n.tag: n.role for n in bp.nodes}
    if ref in roles and fault.action == "promote" and roles[ref] != "watcher" and not changed_by("demote"):
        fail(f"{here}.node", f"{ref} is a {roles[ref]}, not a watcher: only a watcher can be promoted")
    if ref in roles and fault.action == "demote" and roles[ref] == "watcher" and not changed_by("promote"):
        fail(f"{here}.node", f"{ref} is a watcher already: only a member or a promotable can be demoted")
    named = getattr(fault, "database", None)
    members = next((db.members for db in bp.all_databases() if db.name == named), bp.database.members)
    if fault.action == "add_to_group":
        mentor = fault.mentor
        if mentor is not None and mentor not in roles:
            tags = list(roles)
            fail(f"{here}.mentor", f"no node '{mentor}'{did_you_mean(mentor, tags)}; nodes: {one_of(tags)}")
        if mentor is not None and mentor == ref:
            fail(f"{here}.mentor", "a node cannot seed itself: name a member of the group as its mentor")
        if members is not None and ref in members and not changed_by("remove_from_group"):
            fail(f"{here}.node", f"{ref} already holds a copy (database.members: {', '.join(members)})")
        if (
            members is not None
            and mentor is not None
            and mentor not in members
            and not any(f.action == "add_to_group" and f.node == mentor for f in earlier)
        ):
            fail(
                f"{here}.mentor",
                f"the mentor must be a member of the group; {mentor} holds no copy "
                f"(database.members: {', '.join(members)})",
            )
    if (
        fault.action == "remove_from_group"
        and members is not None
        and ref in roles
        and ref not in members
        and not changed_by("add_to_group")
    ):
        fail(f"{here}.node", f"{ref} holds no copy to remove (database.members: {', '.join(members)})")


def _reroute_needs_open_loop(s: Scenario, here: str, fail: Any) -> None:
    kind = s.workload.arrivals.kind
    if kind in ("closed", "trace"):
        fail(
            f"{here}.action",
            f"reroute moves open-loop arrivals (poisson, constant, diurnal, bursts); workload.arrivals.kind is {kind}",
        )


def check_deployment(s: DeploymentScenario, source: str) -> None:
    """A deployment: its own rules, then each cluster's scenario checked like any scenario,
    with errors named by the deployment's field paths."""
    from workbench.scenario.deployment import part_path, split

    def fail(path: str, message: str) -> None:
        """Raise the input error at field ``path`` of the deployment scenario."""
        raise WorkbenchInputError(message, source=source, path=path)

    if s.elide_idle and "elide_idle" in s.model_fields_set:
        fail(
            "elide_idle",
            "idle elision is not available for deployments of several clusters yet (every heartbeat is "
            "simulated; docs/multi-cluster.md); remove elide_idle",
        )
    parts = split(s, source)
    for part in parts:
        try:
            check_scenario(part.scenario, source, deployment=True)
        except WorkbenchInputError as err:
            path = part_path(part, err.path or "")
            raise WorkbenchInputError(f"cluster '{part.name}': {err.message}", source=source, path=path) from None
    dcs = [dc.name for dc in s.blueprint.datacenters]
    placed = {dc for part in parts if part.clients for dc in (g.datacenter for g in part.scenario.clients.placement)}
    for i, fault in enumerate(s.faults):
        if fault.action != "reroute":
            continue
        here = f"faults[{i}]"
        _reroute_needs_open_loop(s, here, fail)
        if fault.after is not None:
            fail(f"{here}.after", "a reroute in a deployment needs 'at': each cluster has its own events")
        for end in ("from_datacenter", "to_datacenter"):
            ref = getattr(fault, end)
            if ref not in dcs:
                fail(f"{here}.{end}", f"no data centre '{ref}'{did_you_mean(ref, dcs)}; known: {one_of(dcs)}")
        if fault.from_datacenter == fault.to_datacenter:
            fail(f"{here}.to_datacenter", "reroute to another data centre than the one it comes from")
        if fault.to_datacenter not in placed:
            fail(
                f"{here}.to_datacenter",
                f"no clients in '{fault.to_datacenter}' to take the load; clients are in {one_of(sorted(placed))}",
            )

"""Figures for runs of several clusters (a deployment) and for region outages.

Pure functions over a run's tables. A deployment's tables carry a ``cluster`` column
(``workbench.model.assembly.deployment``); a single cluster's do not, and each function here
treats that as one cluster.

- :func:`per_cluster`: each cluster's operations, availability and latency, its
  consensus (leader) availability, and its faults (RTO, RPO) on its own clients.
- :func:`link_summary`: each task between clusters: connections, failures, how long the
  receiving side lags (source commit to stored there), versions stored, and for each outage
  the time from its first failure until nothing was left to send (time to drain).
- :func:`region_outage`: what a dark data centre cost: how long its users had no service
  (until rerouted or back: the users' RTO), data at risk when it went dark (RPO, counted
  against every live copy in any cluster), the RTO of clients elsewhere (defined as in
  ``analysis.faults``), their errors and failovers, and write and read latency before and
  during the outage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.analysis import database_tasks
from workbench.analysis.backups import backup_summary
from workbench.analysis.etl import etl_summary
from workbench.analysis.faults import ERROR_OUTCOMES, fault_summary
from workbench.analysis.subscriptions import subscription_summary
from workbench.results import RunResult
from workbench.results.summary import P50P99, ClusterSummary, LinkSummary, RegionOutage


def is_deployment(result: RunResult) -> bool:
    """Whether the run was of several clusters (its tables have a ``cluster`` column)."""
    return "cluster" in result.ops.columns


def clusters(result: RunResult) -> list[str]:
    """The names of a deployment's clusters (none for a single cluster)."""
    if not is_deployment(result):
        return []
    return list(result.provenance.get("members", {}) or result.events["cluster"].unique())


def cluster_view(result: RunResult, name: str) -> RunResult:
    """One cluster's part of a deployment's result, shaped like a single cluster's (node
    names without the cluster; a scenario whose blueprint is the cluster's own, in the
    deployment's data centres and network), so the single-cluster analyses (backups, ETL,
    subscriptions) apply to it."""
    prefix = f"{name}/"

    def own(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
        """This cluster's rows of ``frame``, without the ``cluster`` column and with ``name/``
        taken off the node names in ``columns``."""
        frame = frame[frame["cluster"] == name].drop(columns="cluster")
        for column in columns:
            values = frame[column].astype(object)
            frame[column] = values.map(lambda v: v.removeprefix(prefix) if isinstance(v, str) else v)
        return frame.reset_index(drop=True)

    scenario = dict(result.scenario)
    dep = scenario["blueprint"]
    own_parts = next(c for c in dep["clusters"] if c["name"] == name)
    # A blueprint: the cluster's parts (not its deployment-only keys), where the deployment put it.
    parts = {key: value for key, value in own_parts.items() if key not in ("name", "write_collections")}
    scenario["blueprint"] = {
        **parts,
        "name": f"{dep['name']}/{name}",
        "datacenters": dep["datacenters"],
        "network": dep["network"],
    }
    return RunResult(
        ops=own(result.ops, ("node", "client")),
        events=own(result.events, ("node",)),
        timeseries=own(result.timeseries, ()),
        replication=own(result.replication, ("destination",)),
        provenance={**result.provenance, "scenario": scenario},
    )


def _latency(ops: pd.DataFrame, kind: str) -> P50P99:
    sel = ops[(ops["kind"] == kind) & (ops["outcome"] == "ok")]["latency_ms"]
    if sel.empty:
        return {"p50": None, "p99": None}
    return {"p50": round(float(sel.quantile(0.5)), 4), "p99": round(float(sel.quantile(0.99)), 4)}


def per_cluster(result: RunResult, warmup_s: float, end_s: float) -> dict[str, ClusterSummary]:
    """Each cluster's figures (see the module description)."""
    from workbench.analysis.summary import cluster_available_seconds, stalled

    deadline_s = result.spec.clients.deadline
    out: dict[str, ClusterSummary] = {}
    window = max(end_s - warmup_s, 0.0)
    for name in clusters(result):
        ops = result.ops[(result.ops["cluster"] == name) & (result.ops["start_s"] >= warmup_s)]
        events = result.events[result.events["cluster"] == name]
        counted = ops[(ops["outcome"] != "unfinished") | stalled(ops)]  # as in the run summary
        ok = counted["outcome"] == "ok"
        available = cluster_available_seconds(events, warmup_s, end_s)
        out[name] = {
            "ops": len(ops),
            "availability": round(float(ok.mean()), 6) if len(counted) else None,
            "read_latency_ms": _latency(ops, "read"),
            "write_latency_ms": _latency(ops, "write"),
            "leader_availability": round(available / window, 6) if window > 0 else None,
            "elections": int((events["kind"] == "election_started").sum()),
            "faults": [
                {"cluster": name, **row}
                for row in fault_summary(
                    result.ops[result.ops["cluster"] == name], events, end_s, deadline_s=deadline_s
                )
            ],
            "lost_writes": int((events["kind"] == "write_lost").sum()),
            "conflicts": int((events["kind"] == "conflict").sum()),
        }
        view = cluster_view(result, name)
        backups = backup_summary(view)
        if backups:
            out[name]["backups"] = backups
        etl = etl_summary(view)
        if etl:
            out[name]["etl"] = etl
        tasks = database_tasks(view.spec)
        subscriptions = {t.name: subscription_summary(view, t.name) for t in tasks if t.kind == "subscription"}
        if subscriptions:
            out[name]["subscriptions"] = subscriptions
    return out


def link_summary(result: RunResult) -> dict[str, LinkSummary]:
    """Each task between clusters, by name (see the module description)."""
    events = result.events
    links = events[events["kind"].isin(["link_connected", "link_failed", "link_caught_up"])]
    names = sorted({str(t) for t in links["task"].dropna()})
    ts = result.timeseries
    out: dict[str, LinkSummary] = {}
    for name in names:
        mine = links[links["task"] == name]
        lag = ts[(ts["entity"] == f"task.{name}") & (ts["metric"] == "link_lag_ms")]["value"]
        backlog = ts[(ts["entity"] == f"task.{name}") & (ts["metric"] == "link_backlog")]["value"]
        # Each outage: from its first failure to the next time nothing was left to send.
        drains, failing_since = [], None
        for time_s, kind in zip(mine["time_s"], mine["kind"], strict=True):
            if kind == "link_failed" and failing_since is None:
                failing_since = float(time_s)
            elif kind == "link_caught_up" and failing_since is not None:
                drains.append(round(float(time_s) - failing_since, 3))
                failing_since = None
        out[name] = {
            "outages_drained_after_s": drains,
            # Failed since and not caught up by the end (disconnected, or reconnected and draining).
            "undrained_at_end": failing_since is not None,
            "connections": int((mine["kind"] == "link_connected").sum()),
            "failures": int((mine["kind"] == "link_failed").sum()),
            "versions_stored": len(lag),
            "lag_ms": {
                "p50": round(float(lag.quantile(0.5)), 3) if len(lag) else None,
                "p99": round(float(lag.quantile(0.99)), 3) if len(lag) else None,
                "max": round(float(lag.max()), 3) if len(lag) else None,
            },
            "max_backlog": float(backlog.max()) if len(backlog) else 0.0,
            "rejected_documents": int(((events["kind"] == "etl_document_rejected") & (events["task"] == name)).sum()),
        }
    return out


def region_outage(result: RunResult, datacenter: str | None = None) -> RegionOutage | None:
    """The first ``datacenter_down`` (of ``datacenter``, if given): see the module description.
    None if the run has none."""
    events = result.events
    downs = events[events["kind"] == "datacenter_down"]
    if datacenter is not None:
        downs = downs[downs["datacenter"] == datacenter]
    if downs.empty:
        return None
    start = float(downs["time_s"].min())
    dc = str(downs.iloc[0]["datacenter"])
    end_s = float(result.provenance.get("sim_seconds", 0.0))
    ups = events[(events["kind"] == "datacenter_up") & (events["datacenter"] == dc) & (events["time_s"] >= start)]
    back = float(ups["time_s"].min()) if len(ups) else end_s
    rerouted = events[(events["kind"] == "rerouted") & (events["from_datacenter"] == dc) & (events["time_s"] >= start)]
    served_again = min(float(rerouted["time_s"].min()) if len(rerouted) else np.inf, back)
    unserved = events[events["kind"] == "requests_unserved"]
    # Data at risk: the fault ids of this data centre's outage, in every cluster that recorded it.
    started = events[
        (events["kind"] == "fault_started") & (events["action"] == "datacenter_down") & (events["target"] == dc)
    ]
    rpo_writes, rpo_seconds = 0.0, 0.0
    for _, row in started.iterrows():
        same = events["cluster"] == row["cluster"] if "cluster" in events.columns else True
        fid = int(row["fault_id"])
        w = events[same & (events["kind"] == "rpo_writes") & (events["fault_id"] == fid)]["value"]
        s = events[same & (events["kind"] == "rpo_seconds") & (events["fault_id"] == fid)]["value"]
        rpo_writes += float(w.sum())
        rpo_seconds = max(rpo_seconds, float(s.max()) if len(s) else 0.0)
    ops = result.ops
    before = ops[(ops["end_s"] <= start) & (ops["start_s"] >= max(0.0, start - 60.0))]
    during = ops[(ops["start_s"] >= start) & (ops["start_s"] < back)]
    errors = during[during["outcome"].isin(ERROR_OUTCOMES)]
    # Clients elsewhere, as the fault table measures RTO: an op in flight at the outage or
    # started during it is disrupted if it failed or needed a failover; the client has
    # recovered at the end of its first success ending at or after its first disrupted op.
    touched = ops[(ops["end_s"] > start) & (ops["start_s"] < back)]
    disrupted = touched[touched["outcome"].isin(ERROR_OUTCOMES) | (touched["attempts"] > 1)]
    others_rto = 0.0
    for client, mine in disrupted.groupby("client", observed=True):
        first = float(mine["end_s"].min())
        theirs = ops[(ops["client"] == client) & ~ops["outcome"].isin(ERROR_OUTCOMES) & (ops["end_s"] >= first)]
        others_rto = max(others_rto, (float(theirs["end_s"].min()) if len(theirs) else np.inf) - start)
    return {
        "datacenter": dc,
        "start_s": start,
        "back_s": back,
        "users_rto_s": round(served_again - start, 3) if np.isfinite(served_again) else None,
        "others_rto_s": round(others_rto, 3) if np.isfinite(others_rto) else None,
        "rpo_writes": int(rpo_writes),
        "rpo_seconds": round(rpo_seconds, 4),
        "requests_unserved": int(unserved["value"].sum()) if len(unserved) else 0,
        "errors_during": len(errors),
        "failovers_during": int((during["attempts"] > 1).sum()),
        "write_latency_before_ms": _latency(before, "write"),
        "write_latency_during_ms": _latency(during, "write"),
        "read_latency_before_ms": _latency(before, "read"),
        "read_latency_during_ms": _latency(during, "read"),
    }

"""Altair chart builders over run results and study tables.

Each builder aggregates before it charts (quantiles, time windows, per-link
bins), so a chart never carries more than a few thousand rows whatever the
run's size. Each chart has a pure ``*_data`` helper next to it that returns the
table it draws, so tests (and curious readers) can check the aggregation.

Colours are fixed: a variant (blueprint) gets its colour from its position in the
comparison, a node gets its colour from its tag (A is always the first palette colour, B the
second, ...), and node and database states have one colour each, so the same thing looks the
same in every chart of a report.

Every public name below is importable from ``workbench.charts``; the modules hold:

``_common.py``       what every chart shares: ``PALETTE`` and the fixed colours (``KIND_COLORS``,
                     ``STATE_COLORS``, ``RESOLUTION_COLORS``; ``node_color``, ``node_scale``,
                     ``variant_scale``), ``MAX_WINDOWS`` and ``LOG_LABEL_SEPARATION``, the private
                     helpers for axis titles, time windows and time axes, the faults' periods
                     (``fault_spans``) and grey bands, and ``spec`` (a chart's Vega-Lite spec)
``latency.py``       latency distribution per variant and op kind, p50/p99 over time
                     (``latency_cdf``, ``latency_timeline``)
``availability.py``  share of operations that succeeded over time (``availability_timeline``)
``nodes.py``         each node's cluster role and database state over time (``node_states``,
                     ``node_state_timeline``)
``replication.py``   replication lag per link over time (``replication_lag_heatmap``)
``staleness.py``     the t-visibility curve (``t_visibility_curve``)
``conflicts.py``     conflicts over time by resolution (``conflicts_timeline``)
``tasks.py``         ongoing tasks: who runs them, their backups and retries, their backlog
                     (``task_timeline``, ``task_backlog``)
``replay.py``        the cluster at a moment chosen with a time slider (``cluster_replay``)
``capacity.py``      throughput against a latency objective (``capacity_curve``)
``pareto.py``        cost, latency and availability per variant (``pareto_chart``)
``election.py``      time without a leader, the Raft paper's Figure 16 (``election_cdf``)
``databases.py``     several databases on one cluster: each one's availability
                     (``database_availability``)
``deployments.py``   several clusters: their faults (``deployment_fault_spans``), the lag of the
                     links between them (``link_lag``), p99 latency per cluster (``cluster_latency``)

May import: ``analysis``, ``results``, ``model`` (table schemas), ``scenario``, ``display`` and
the layers below; never ``study``, reports, the UI or the CLI.
"""

from __future__ import annotations

from workbench.charts._common import (
    KIND_COLORS,
    LOG_LABEL_SEPARATION,
    MAX_WINDOWS,
    PALETTE,
    RESOLUTION_COLORS,
    STATE_COLORS,
    fault_spans,
    node_color,
    node_scale,
    spec,
    variant_scale,
)
from workbench.charts.availability import availability_data, availability_timeline
from workbench.charts.capacity import capacity_curve
from workbench.charts.conflicts import RESOLUTION_LABELS, conflicts_data, conflicts_timeline
from workbench.charts.databases import database_availability, database_availability_data
from workbench.charts.deployments import (
    cluster_latency,
    cluster_latency_data,
    deployment_fault_spans,
    link_lag,
    link_lag_data,
)
from workbench.charts.election import election_cdf, election_cdf_data
from workbench.charts.latency import QUANTILES, latency_cdf, latency_cdf_data, latency_timeline, latency_timeline_data
from workbench.charts.nodes import node_state_timeline, node_states
from workbench.charts.pareto import pareto_chart, pareto_data
from workbench.charts.replay import cluster_layout, cluster_replay, cluster_replay_data, replay_ops_data
from workbench.charts.replication import replication_lag_data, replication_lag_heatmap
from workbench.charts.staleness import T_VISIBILITY_EDGES_MS, t_visibility_curve, t_visibility_data
from workbench.charts.tasks import TASK_EVENTS, task_backlog, task_backlog_data, task_marks, task_owners, task_timeline

__all__ = [
    "KIND_COLORS",
    "LOG_LABEL_SEPARATION",
    "MAX_WINDOWS",
    "PALETTE",
    "QUANTILES",
    "RESOLUTION_COLORS",
    "RESOLUTION_LABELS",
    "STATE_COLORS",
    "TASK_EVENTS",
    "T_VISIBILITY_EDGES_MS",
    "availability_data",
    "availability_timeline",
    "capacity_curve",
    "cluster_latency",
    "cluster_latency_data",
    "cluster_layout",
    "cluster_replay",
    "cluster_replay_data",
    "conflicts_data",
    "conflicts_timeline",
    "database_availability",
    "database_availability_data",
    "deployment_fault_spans",
    "election_cdf",
    "election_cdf_data",
    "fault_spans",
    "latency_cdf",
    "latency_cdf_data",
    "latency_timeline",
    "latency_timeline_data",
    "link_lag",
    "link_lag_data",
    "node_color",
    "node_scale",
    "node_state_timeline",
    "node_states",
    "pareto_chart",
    "pareto_data",
    "replay_ops_data",
    "replication_lag_data",
    "replication_lag_heatmap",
    "spec",
    "t_visibility_curve",
    "t_visibility_data",
    "task_backlog",
    "task_backlog_data",
    "task_marks",
    "task_owners",
    "task_timeline",
    "variant_scale",
]

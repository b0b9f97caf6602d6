"""Ongoing tasks (ETL, backups, subscriptions): which node runs each, their marks, their backlog."""

from __future__ import annotations

import altair as alt
import pandas as pd

from workbench.charts._common import MAX_WINDOWS, _end_s, _fault_layer, _members, _time_x, node_scale
from workbench.results import RunResult

TASK_EVENTS = ("task_assigned", "task_moved", "task_resumed", "task_paused")


def task_owners(result: RunResult) -> pd.DataFrame:
    """Which node ran each ongoing task, and when: one row per stretch (task, node, start_s, end_s).

    From the task events: assigned, moved and resumed open a stretch on their node, moved
    closes the previous one, paused closes it with nothing running."""
    events = result.events
    rows = events[events["kind"].isin(TASK_EVENTS)]
    end = _end_s(result)
    spans: list[tuple[str, str, float, float]] = []
    open_: dict[str, tuple[str, float]] = {}
    for t, kind, node, name in zip(
        rows["time_s"], rows["kind"].astype(str), rows["node"].astype(str), rows["task"].astype(str), strict=True
    ):
        if name in open_:
            owner, since = open_.pop(name)
            spans.append((name, owner, since, float(t)))
        if kind != "task_paused":
            open_[name] = (node, float(t))
    for name, (owner, since) in open_.items():
        spans.append((name, owner, since, end))
    return pd.DataFrame(spans, columns=["task", "node", "start_s", "end_s"])


def task_marks(result: RunResult) -> pd.DataFrame:
    """Moments worth seeing on a task's row: backups done (full or incremental), ETL
    fallback retries, and subscription acknowledgements that failed."""
    events = result.events
    kinds = {"backup_done": None, "etl_fallback": "ETL retry", "subscription_ack_failed": "ack failed"}
    rows = events[events["kind"].isin(list(kinds))]
    out = []
    for t, kind, node, name, full in zip(
        rows["time_s"],
        rows["kind"].astype(str),
        rows["node"].astype(str),
        rows["task"].astype(str),
        rows["full"].astype(object),
        strict=True,
    ):
        backup = "full backup" if full is True else "incremental backup"
        what = backup if kind == "backup_done" else kinds[kind]
        out.append((name, node, float(t), what))
    return pd.DataFrame(out, columns=["task", "node", "time_s", "mark"])


def task_timeline(result: RunResult) -> alt.LayerChart:
    """Each ongoing task's responsible node over time (bars coloured by node; gaps: nothing
    ran it), with its backups, ETL retries and failed acknowledgements marked; faults shaded."""
    owners = task_owners(result)
    marks = task_marks(result)
    tasks = sorted(set(owners["task"]) | set(marks["task"]))
    nodes = sorted(set(owners["node"]) | set(marks["node"]) | set(_members(result)))
    y = alt.Y("task:N", sort=tasks, title="task")
    bars = (
        alt.Chart(owners)
        .mark_bar(height={"band": 0.6}, opacity=0.8)
        .encode(
            x=_time_x("start_s:Q", result),
            x2="end_s:Q",
            y=y,
            color=alt.Color("node:N", scale=node_scale(nodes), title="runs on"),
            tooltip=[
                "task:N",
                "node:N",
                alt.Tooltip("start_s:Q", title="from (s)", format=",.1f"),
                alt.Tooltip("end_s:Q", title="to (s)", format=",.1f"),
            ],
        )
    )
    points = (
        alt.Chart(marks)
        .mark_point(filled=True, size=60, color="black")
        .encode(
            x="time_s:Q",
            y=y,
            shape=alt.Shape("mark:N", title="event"),
            tooltip=["task:N", "node:N", "mark:N", alt.Tooltip("time_s:Q", title="at (s)", format=",.1f")],
        )
    )
    layers = [*_fault_layer(result), bars] + ([points] if not marks.empty else [])
    return alt.layer(*layers).properties(
        width=680, height=max(80, 40 * len(tasks)), title="Ongoing tasks: who runs them (shaded: faults)"
    )


def task_backlog_data(result: RunResult, max_bins: int = MAX_WINDOWS) -> pd.DataFrame:
    """Documents waiting per task over time (ETL ``etl_backlog``, subscriptions
    ``subscription_backlog``): the largest sample per time bin, at most ``max_bins`` bins."""
    ts = result.timeseries
    rows = ts[
        ts["metric"].isin(["etl_backlog", "subscription_backlog"]) & ts["entity"].astype(str).str.startswith("task.")
    ]
    if rows.empty:
        return pd.DataFrame(columns=["task", "time_s", "backlog"])
    width = max(max(_end_s(result), float(rows["time_s"].max())) / max_bins, 1e-9)
    table = pd.DataFrame(
        {
            "task": rows["entity"].astype(str).str.removeprefix("task.").to_numpy(),
            "time_s": ((rows["time_s"] // width) * width).to_numpy(dtype=float),
            "backlog": rows["value"].to_numpy(dtype=float),
        }
    )
    return table.groupby(["task", "time_s"], as_index=False)["backlog"].max()


def task_backlog(result: RunResult) -> alt.LayerChart:
    """Backlog of each ETL or subscription over time (a step line), faults shaded."""
    data = task_backlog_data(result)
    line = (
        alt.Chart(data)
        .mark_line(interpolate="step-after")
        .encode(
            x=_time_x("time_s:Q", result),
            y=alt.Y("backlog:Q", title="documents waiting (largest per bin)"),
            color=alt.Color("task:N", title="task"),
            tooltip=["task:N", alt.Tooltip("time_s:Q", title="at (s)", format=",.1f"), "backlog:Q"],
        )
    )
    return alt.layer(*_fault_layer(result), line).properties(
        width=680, height=220, title="Task backlog (shaded: faults)"
    )

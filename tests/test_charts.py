"""Chart builders: each builds and serialises, aggregates before charting, keeps colours fixed,
and labels its axes with units."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from workbench import charts as ch
from workbench import load_scenario, run, scenario_from_dict
from workbench.charts.nodes import _topology
from workbench.results import REPLICATION_COLUMNS, RunResult, events_table

ROOT = Path(__file__).parents[1]
MAX_ROWS = 5000


@pytest.fixture(scope="module")
def rehab() -> Any:
    """The book's cascading rehab: crashes, rehab, a forced promotion, conflicts (about 2 s)."""
    result = run(load_scenario(ROOT / "scenarios" / "cascading-rehab.yaml"))
    assert result.ok
    return result


@pytest.fixture(scope="module")
def long_run() -> RunResult:
    """A synthetic hour-long result with 300,000 operations and 2,000 conflicts."""
    rng = np.random.default_rng(1)
    n = 300_000
    start = np.sort(rng.uniform(0, 3600, n))
    latency = rng.lognormal(0, 0.5, n)
    ops = pd.DataFrame(
        {
            "start_s": start,
            "end_s": start + latency / 1e3,
            "latency_ms": latency,
            "kind": pd.Categorical(rng.choice(["read", "write"], n)),
            "key": rng.integers(0, 1000, n),
            "client": pd.Categorical(rng.choice(["client1", "client2"], n)),
            "session": np.arange(n) // 10,
            "node": pd.Categorical(rng.choice(["A", "B", "C"], n)),
            "attempts": np.ones(n, dtype="int8"),
            "outcome": pd.Categorical(rng.choice(["ok", "failed"], n, p=[0.999, 0.001])),
            "version": np.arange(n),
            "stale": rng.random(n) < 0.01,
            "ryw_violation": np.zeros(n, dtype=bool),
        }
    )
    times = np.arange(0, 3600, 1.0)
    links = [f"replication.{a}->{b}" for a in "ABC" for b in "ABC" if a != b]
    timeseries = pd.DataFrame(
        {
            "time_s": np.tile(times, len(links)),
            "entity": np.repeat(links, len(times)),
            "metric": "lag_ms",
            "value": rng.exponential(5, len(times) * len(links)),
        }
    )
    conflict_times = np.sort(rng.uniform(0, 3600, 2000))
    latest = {"resolution": "resolve to latest", "winning_write": 2, "losing_write": 1}
    events = events_table(
        [
            (0.0, "leader_elected", "A", 1, None, {"bootstrap": False}),
            (100.0, "node_crashed", "B", None, None, {"reason": "target B", "disk_lost": False, "silent": False}),
            (200.0, "node_restarted", "B", None, None, {}),
        ]
        + [(float(t), "conflict", "C", None, None, {"key": i, **latest}) for i, t in enumerate(conflict_times)],
        "db",
    )
    scenario = scenario_from_dict({"name": "synthetic", "duration": "1 h", "blueprint": "three-node"})
    provenance = {"sim_seconds": 3600.0, "members": ["A", "B", "C"], "scenario": scenario.model_dump(mode="json")}
    replication = pd.DataFrame(columns=REPLICATION_COLUMNS)
    return RunResult(ops=ops, events=events, timeseries=timeseries, replication=replication, provenance=provenance)


def _rows_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "variant": ["three-node", "three-node", "five-node", "five-node", "bad"],
            "nodes": [3, 3, 5, 5, 5],
            "latency_ms.write.p99": [3.0, 3.2, 2.5, 2.7, 4.0],
            "availability.write": [0.999, 0.998, 0.9995, 0.9999, 0.99],
        }
    )


def _charts(result: Any) -> dict[str, Any]:
    return {
        "latency_cdf": ch.latency_cdf({"x": result}),
        "latency_timeline": ch.latency_timeline(result),
        "availability_timeline": ch.availability_timeline({"x": result}),
        "node_state_timeline": ch.node_state_timeline(result),
        "replication_lag_heatmap": ch.replication_lag_heatmap(result),
        "t_visibility_curve": ch.t_visibility_curve({"x": result}),
        "conflicts_timeline": ch.conflicts_timeline(result),
        "pareto_chart": ch.pareto_chart(_rows_table()),
        "cluster_replay": ch.cluster_replay(result),
        "capacity_curve": ch.capacity_curve(
            {"x": pd.DataFrame({"throughput": [100, 200], "p99_write_ms": [2.0, 5.0], "meets": [True, False]})},
            "p99_write_ms",
            4.0,
        ),
    }


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _data_rows(spec: dict[str, Any]) -> int:
    return sum(len(rows) for rows in spec.get("datasets", {}).values())


def test_every_chart_builds_and_round_trips(rehab: Any) -> None:
    for name, chart in _charts(rehab).items():
        spec = ch.spec(chart)
        assert "$schema" not in spec, name
        json.loads(json.dumps(spec))  # serialisable
        assert _data_rows(spec) > 0, name


def test_charts_have_titles_and_units_on_quantitative_axes(rehab: Any) -> None:
    for name, chart in _charts(rehab).items():
        spec = ch.spec(chart)
        assert spec.get("title"), name
        for node in _walk(spec):
            encoding = node.get("encoding") if isinstance(node.get("encoding"), dict) else None
            for channel in ("x", "y"):
                enc = (encoding or {}).get(channel)
                if isinstance(enc, dict) and enc.get("type") == "quantitative" and "title" in enc:
                    assert "(" in enc["title"] and ")" in enc["title"], f"{name}: {channel} title {enc['title']!r}"


def test_long_runs_are_aggregated_before_charting(long_run: Any) -> None:
    for name, chart in _charts(long_run).items():
        rows = _data_rows(ch.spec(chart))
        assert 0 < rows <= MAX_ROWS, f"{name}: {rows} rows"
    assert len(ch.latency_timeline_data(long_run)) <= 2 * 2 * ch.MAX_WINDOWS
    assert len(ch.availability_data({"x": long_run})) <= ch.MAX_WINDOWS
    assert len(ch.replication_lag_data(long_run, max_bins=60)) == 6 * 60
    conflicts = ch.conflicts_data(long_run)
    assert conflicts["conflicts"].sum() == 2000 and len(conflicts) <= 200


def test_node_states_follow_the_events(rehab: Any) -> None:
    states = ch.node_states(rehab)
    a = states[(states["node"] == "A") & (states["lane"] == "cluster")]
    assert list(a["state"]) == ["leader", "down", "follower"]
    assert a["start_s"].iloc[1] == pytest.approx(100.05)
    b_db = states[(states["node"] == "B") & (states["lane"] == "database")]
    assert list(b_db["state"]) == ["member", "rehab", "preferred"]  # forced promotion from rehab
    c = states[(states["node"] == "C") & (states["lane"] == "cluster")]
    assert list(c["state"]) == ["follower", "leader"]
    assert (states["end_s"] > states["start_s"]).all()
    # Intervals of a lane never overlap, and every lane ends at run end.
    for _, lane in states.groupby(["node", "lane"]):
        assert (lane["start_s"].to_numpy()[1:] >= lane["end_s"].to_numpy()[:-1] - 1e-9).all()
    assert states.groupby(["node", "lane"])["end_s"].max().eq(260.0).all()


def test_topology_fields_give_each_node_its_database_state() -> None:
    assert _topology("B,C,A", "D") == {"B": "preferred", "C": "member", "A": "member", "D": "rehab"}
    assert _topology("", "B,A", pd.NA) == {"B": "rehab", "A": "rehab"}
    assert _topology("A,B", None, "C") == {"A": "preferred", "B": "member", "C": "promotable"}


def test_node_and_variant_colours_are_fixed() -> None:
    assert ch.node_color("A") == ch.PALETTE[0]
    assert ch.node_color("C") == ch.PALETTE[2]
    scale = ch.node_scale(["C", "A"]).to_dict()
    assert scale["domain"] == ["A", "C"] and scale["range"] == [ch.PALETTE[0], ch.PALETTE[2]]
    variants = ch.variant_scale(["five-node", "three-node"]).to_dict()
    assert variants["range"][:2] == ch.PALETTE[:2]


def _variant_colours(spec: dict[str, Any]) -> dict[str, str]:
    for node in _walk(spec):
        color = node.get("color")
        if isinstance(color, dict) and color.get("field") == "variant" and "scale" in color:
            return dict(zip(color["scale"]["domain"], color["scale"]["range"], strict=True))
    return {}


def test_a_variant_keeps_its_colour_across_charts(rehab: Any) -> None:
    results = {"three-node": rehab, "five-node": rehab}
    cdf = _variant_colours(ch.spec(ch.latency_cdf(results)))
    availability = _variant_colours(ch.spec(ch.availability_timeline(results)))
    visibility = _variant_colours(ch.spec(ch.t_visibility_curve(results)))
    assert cdf == availability == visibility == {"three-node": ch.PALETTE[0], "five-node": ch.PALETTE[1]}


def test_pareto_marks_the_non_dominated_variants() -> None:
    data = ch.pareto_data(_rows_table())
    assert list(data["variant"]) == ["three-node", "five-node", "bad"]
    assert data.set_index("variant")["pareto"].to_dict() == {"three-node": True, "five-node": True, "bad": False}
    assert data.loc[0, "latency_ms"] == pytest.approx(3.1)
    with pytest.raises(KeyError, match="no column"):
        ch.pareto_data(_rows_table(), latency="latency_ms.read.p99")


def test_fault_spans_and_t_visibility(rehab: Any) -> None:
    spans = ch.fault_spans(rehab)
    assert list(spans["label"]) == ["crash B", "crash A"]
    curve = ch.t_visibility_data({"x": rehab})
    assert curve["p_consistent"].between(0, 1).all() and (curve["reads"] > 0).all()


def test_cluster_replay_places_nodes_by_data_centre(rehab: Any) -> None:
    layout = ch.cluster_layout(rehab)
    assert list(layout["node"]) == ["A", "B", "C"]
    assert layout["x"].nunique() == 1 and list(layout["y"]) == [0.0, 1.0, 2.0]
    data = ch.cluster_replay_data(rehab)
    assert set(data["links"]["link"]) == {"A → B", "B → A"}
    assert data["links"][["x", "y", "x2", "y2"]].notna().all().all()
    spec = ch.spec(ch.cluster_replay(rehab))
    assert spec["params"][0]["name"] == "t" and spec["params"][0]["bind"]["max"] == pytest.approx(260.0)
    # Operations per node and moment: the replay shows who answered and where requests failed.
    ops = data["ops"]
    assert len(ops) <= 60 * 3 and set(ops["node"]) <= {"A", "B", "C"}
    served = ops.groupby("node")["ops_per_s"].sum()
    assert served.sum() > 0
    total = (ops["ops_per_s"] * (ops["time_end_s"] - ops["time_s"])).sum()
    assert total == pytest.approx(len(rehab.ops))


def test_task_charts_follow_the_task_events() -> None:
    """Who ran a task (from task events) and its marks (backups), and an ETL backlog that
    rises during the SQL server's outage and is binned before charting."""
    backups = run(load_scenario(ROOT / "scenarios" / "backup-handoff.yaml"))
    owners = ch.task_owners(backups)
    assert list(owners["node"]) == ["C", "A", "C"]
    assert owners["start_s"].iloc[0] == 0 and 43_255 < owners["start_s"].iloc[1] < 43_320
    assert owners["end_s"].iloc[0] == 43_200  # C's crash: nothing ran it until A took over
    marks = ch.task_marks(backups)
    assert list(marks["mark"]).count("full backup") == 2 and len(marks) == 6
    json.loads(ch.task_timeline(backups).to_json())
    etl = run(load_scenario(ROOT / "scenarios" / "etl-outage.yaml"))
    backlog = ch.task_backlog_data(etl)
    assert len(backlog) <= ch.MAX_WINDOWS
    during = backlog[(backlog["time_s"] > 130) & (backlog["time_s"] < 700)]["backlog"]
    assert during.is_monotonic_increasing and during.max() > 1000
    assert backlog[backlog["time_s"] > 800]["backlog"].max() <= 5  # drained: only the batch in flight
    json.loads(ch.task_backlog(etl).to_json())


# ----------------------------------------------------------------------------- deployments (several clusters)

REGIONS = ["virginia", "ohio", "california"]


@pytest.fixture(scope="module")
def deployment() -> Any:
    """cluster-per-region for 20 s, Virginia dark from 5 s to 15 s (under a second)."""
    from workbench import scenario_from_dict

    scenario = scenario_from_dict(
        {
            "name": "d",
            "duration": "20 s",
            "blueprint": "cluster-per-region",
            "workload": {"rate": 100},
            "faults": [{"action": "datacenter_down", "datacenter": "virginia", "at": "5 s", "duration": "10 s"}],
        }
    )
    result = run(scenario)
    assert result.ok
    return result


def test_link_lag_bins_each_link_and_breaks_where_nothing_was_stored(deployment: Any) -> None:
    data = ch.link_lag_data(deployment)
    assert list(data.columns) == ["link", "time_s", "time_end_s", "versions", "statistic", "lag_ms"]
    names = {f"{a}-to-{b}" for a in REGIONS for b in REGIONS if a != b}
    assert set(data["link"]) == names  # one series per link (and not the network's link.A->B rows)
    assert set(data["statistic"]) == {"p50", "max"}
    per_series = data.groupby(["link", "statistic"]).size()
    assert (per_series <= ch.MAX_WINDOWS).all() and per_series.nunique() == 1  # every link: the same bins
    ts = deployment.timeseries
    samples = ts[ts["metric"] == "link_lag_ms"]
    p50 = data[data["statistic"] == "p50"].set_index(["link", "time_s"])
    top = data[data["statistic"] == "max"].set_index(["link", "time_s"])
    assert p50["versions"].sum() == len(samples)  # every stored version counted once
    assert (top["lag_ms"] >= p50["lag_ms"]).eq(p50["versions"] > 0).all()  # NaN both where nothing was stored
    # The worst sample of a link over the run is its worst bin.
    worst = samples.groupby(samples["entity"].astype(str).str.removeprefix("task."))["value"].max()
    assert top.groupby("link")["lag_ms"].max().to_dict() == pytest.approx(worst.to_dict())
    # Virginia is dark from 5 s to 15 s: nothing leaves it, so its links' lines break there.
    dark = p50.loc["virginia-to-ohio"].loc[6.0:14.0]
    assert (dark["versions"] == 0).all() and dark["lag_ms"].isna().all()
    assert (p50.loc["ohio-to-california"].loc[6.0:14.0, "versions"] > 0).all()  # the others carry on


def test_link_lag_is_binned_on_long_runs(long_run: Any) -> None:
    times = np.arange(0, 3600, 0.5)
    extra = pd.DataFrame(
        {"time_s": times, "entity": "task.east-to-west", "metric": "link_lag_ms", "value": 20.0 + times % 7}
    )
    run_ = dataclasses.replace(long_run, timeseries=pd.concat([long_run.timeseries, extra]))
    data = ch.link_lag_data(run_)
    assert set(data["link"]) == {"east-to-west"}  # replication.X->Y rows are not links between clusters
    assert len(data) == 2 * ch.MAX_WINDOWS and data["versions"].sum() == 2 * len(times)
    assert _data_rows(ch.spec(ch.link_lag(run_))) <= MAX_ROWS
    assert ch.link_lag_data(long_run).empty  # a single cluster without links: an empty chart, no error
    json.loads(json.dumps(ch.spec(ch.link_lag(long_run))))


def test_cluster_latency_has_a_line_per_cluster_and_op_kind(deployment: Any) -> None:
    data = ch.cluster_latency_data(deployment)
    assert list(data.columns) == ["cluster", "kind", "window_s", "ops", "p99_ms"]
    assert set(data["cluster"]) == set(REGIONS) and set(data["kind"]) == {"read", "write"}
    per_series = data.groupby(["cluster", "kind"]).size()
    assert len(per_series) == 6 and (per_series <= ch.MAX_WINDOWS).all() and per_series.nunique() == 1
    ops = deployment.ops
    ok = ops[ops["outcome"] == "ok"]
    assert data["ops"].sum() == len(ok[ok["kind"].isin(["read", "write"])])
    # A window's p99 is its own operations' p99, in its own cluster.
    row = data[(data["cluster"] == "ohio") & (data["kind"] == "write") & (data["window_s"] == 3.0)].iloc[0]
    mine = ok[(ok["cluster"] == "ohio") & (ok["kind"] == "write") & (ok["start_s"] // 1.0 == 3.0)]["latency_ms"]
    assert row["ops"] == len(mine) and row["p99_ms"] == pytest.approx(np.quantile(mine, 0.99))
    # Virginia's clients are dark with it: no operation, a gap in its line (not a line drawn across).
    virginia = data[(data["cluster"] == "virginia") & data["window_s"].between(5.0, 14.0)]
    assert len(virginia) == 20 and (virginia["ops"] == 0).all() and virginia["p99_ms"].isna().all()
    others = data[(data["cluster"] != "virginia") & data["window_s"].between(5.0, 14.0)]
    assert len(others) == 40 and (others["ops"] > 0).all()


def test_cluster_latency_is_binned_on_long_runs(long_run: Any) -> None:
    data = ch.cluster_latency_data(long_run)
    assert set(data["cluster"]) == {"three-node"}  # a single cluster is one line, named by its blueprint
    assert data.groupby("kind").size().le(ch.MAX_WINDOWS).all()
    assert _data_rows(ch.spec(ch.cluster_latency(long_run))) <= MAX_ROWS


def test_deployment_charts_render_with_titles_units_and_fixed_cluster_colours(deployment: Any) -> None:
    for chart in (ch.link_lag(deployment), ch.cluster_latency(deployment)):
        spec = ch.spec(chart)
        json.loads(json.dumps(spec))
        assert spec.get("title") and _data_rows(spec) > 0
        for node in _walk(spec):
            encoding = node.get("encoding") if isinstance(node.get("encoding"), dict) else None
            for channel in ("x", "y"):
                enc = (encoding or {}).get(channel)
                if isinstance(enc, dict) and enc.get("type") == "quantitative" and "title" in enc:
                    assert "(" in enc["title"] and ")" in enc["title"], enc["title"]
        # The dark data centre is one grey band, in both charts.
        bands = [n for n in _walk(spec) if n.get("mark", {}) == {"type": "rect", "opacity": 0.15, "color": "#888"}]
        assert bands
    colours = {}
    for node in _walk(ch.spec(ch.cluster_latency(deployment))):
        color = node.get("color")
        if isinstance(color, dict) and color.get("field") == "cluster":
            colours = dict(zip(color["scale"]["domain"], color["scale"]["range"], strict=True))
    assert colours == dict(zip(REGIONS, ch.PALETTE[:3], strict=True))  # the blueprint's order


def test_deployment_fault_spans_keep_colliding_fault_ids_apart(deployment: Any) -> None:
    spans = ch.deployment_fault_spans(deployment)
    assert list(spans["label"]) == ["datacenter_down virginia [virginia]"]
    assert spans[["start_s", "end_s"]].iloc[0].tolist() == [5.0, 15.0]
    # Each cluster numbers its faults from 1: a crash in each, ending at different times.
    crash = {"action": "crash", "target": "A", "fault_id": 1}
    events = events_table(
        [
            (10.0, "fault_started", None, None, 1.0, crash),
            (20.0, "fault_started", None, None, 1.0, crash),
            (30.0, "fault_ended", None, None, 1.0, {"fault_id": 1}),
            (80.0, "fault_ended", None, None, 1.0, {"fault_id": 1}),
        ],
        "db",
    )
    events.insert(0, "cluster", ["hq", "store", "hq", "store"])
    ops = deployment.ops.iloc[:0]
    fake = dataclasses.replace(deployment, ops=ops, events=events, provenance={"sim_seconds": 100.0})
    spans = ch.deployment_fault_spans(fake)
    assert spans[["label", "start_s", "end_s"]].values.tolist() == [
        ["crash A [hq]", 10.0, 30.0],
        ["crash A [store]", 20.0, 80.0],
    ]


def test_election_cdf_keeps_censored_trials_in_the_denominator():
    from workbench.charts import election_cdf, election_cdf_data

    curves = {
        "paper": {"150-155": np.array([100.0, 200.0, 300.0, 400.0])},
        "model": {"150-155": np.array([100.0, np.inf])},
    }
    data = election_cdf_data(curves, points=11)
    model = data[data["source"] == "model"]
    assert model["fraction"].max() == 0.5  # one of two trials never elected a leader
    assert data[data["source"] == "paper"]["downtime_ms"].max() == 400.0
    assert set(data["range"]) == {"150-155 ms"}
    chart = election_cdf(curves, log_x=True).to_dict()
    assert chart["encoding"]["x"]["scale"]["type"] == "log"

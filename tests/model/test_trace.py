"""Trace replay: times, keys and kinds reproduced; bad rows located; skip, window, loop."""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workbench import run
from workbench.cli import main
from workbench.errors import WorkbenchInputError
from workbench.model.recording.tables import OP_KINDS
from workbench.scenario import load_scenario, scenario_from_dict
from workbench.scenario import trace as trace_module
from workbench.scenario.trace import TraceError, TraceReader

ROOT = Path(__file__).resolve().parents[2]
SINGLE = {"extends": "single-node", "database": {"members": ["A"]}}


def write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def random_trace(n: int = 600, seed: int = 3, span: float = 20.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.choice(np.arange(1, int(span * 1000)), size=n, replace=False)) / 1000  # distinct times
    return pd.DataFrame(
        {
            "t": t,
            "op": rng.choice(["read", "write", "query", "transaction"], size=n, p=[0.6, 0.3, 0.05, 0.05]),
            "key": rng.integers(0, 1000, n),
            "client": [f"client{c}" for c in rng.integers(1, 5, n)],
        }
    )


def replay(make_scenario, file: Path, duration: str = "30 s", **arrivals: Any):
    return make_scenario(
        duration=duration,
        blueprint=SINGLE,
        workload={"arrivals": {"kind": "trace", "file": str(file), **arrivals}},
    )


def by_start(ops: pd.DataFrame) -> pd.DataFrame:
    return ops.sort_values("start_s", kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------------------- reproduction


@pytest.mark.parametrize("speedup", [1.0, 2.5])
def test_replay_reproduces_times_keys_and_kinds(make_scenario, tmp_path, speedup):
    trace = random_trace()
    path = tmp_path / "trace.csv"
    trace.to_csv(path, index=False)
    ops = by_start(run(replay(make_scenario, path, speedup=speedup)).ops)
    assert len(ops) == len(trace)
    np.testing.assert_array_equal(ops.start_s.to_numpy(), trace.t.to_numpy() / speedup)  # exactly
    np.testing.assert_array_equal(ops.key.to_numpy(), trace.key.to_numpy())
    assert ops.kind.astype(str).tolist() == trace.op.tolist()
    assert ops.client.astype(str).tolist() == trace.client.tolist()


def test_timestamps_start_the_clock_at_the_first_row(make_scenario, tmp_path):
    trace = random_trace(200)
    zero = pd.Timestamp("2024-05-01T22:59:58.5Z")
    stamps = zero + pd.to_timedelta(trace.t + 7.0, unit="s")  # the first row is time zero, whatever its date
    rows = [
        [s.isoformat().replace("+00:00", "Z"), op, key] for s, op, key in zip(stamps, trace.op, trace.key, strict=True)
    ]
    path = write_csv(tmp_path / "ts.csv", ["timestamp", "op", "key"], rows)
    ops = by_start(run(replay(make_scenario, path, speedup=2)).ops)
    expected = (trace.t - trace.t.iloc[0]).to_numpy() / 2
    np.testing.assert_allclose(ops.start_s.to_numpy(), expected, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ops.key.to_numpy(), trace.key.to_numpy())


def test_epoch_seconds_and_offsets_are_timestamps_too(tmp_path):
    rows = [
        ["1714604400", "read", 1],
        ["2024-05-01T23:00:00.250Z", "read", 2],
        ["2024-05-02T01:00:00.5+02:00", "write", 3],
        ["1714604401.75", "query", 4],
    ]
    path = write_csv(tmp_path / "mixed.csv", ["timestamp", "op", "key"], rows)
    reader = TraceReader(path, keys=10, clients=1, region_clients={})
    (chunk,) = list(reader.chunks())
    np.testing.assert_allclose(chunk.time, [0.0, 0.25, 0.5, 1.75])
    assert chunk.kind.tolist() == [0, 0, 1, 2]


def test_parquet_replays_like_csv(make_scenario, tmp_path):
    trace = random_trace(300)
    table = pa.table(
        {
            "t": trace.t.to_numpy(),
            "op": pa.array(trace.op).dictionary_encode(),
            "key": pa.array(trace.key, pa.int32()),
            "size": pa.array([100.0 if i % 2 else None for i in range(len(trace))]),
            "client": pa.array(trace.client.str.removeprefix("client").astype(int) - 1),  # numbers: 0 is client1
        }
    )
    pq.write_table(table, tmp_path / "trace.parquet", row_group_size=64)
    ops = by_start(run(replay(make_scenario, tmp_path / "trace.parquet")).ops)
    np.testing.assert_array_equal(ops.start_s.to_numpy(), trace.t.to_numpy())
    np.testing.assert_array_equal(ops.key.to_numpy(), trace.key.to_numpy())
    assert ops.client.astype(str).tolist() == trace.client.tolist()


@pytest.mark.parametrize("with_clients", [True, False], ids=["clients", "drawn-clients-and-sizes"])
def test_many_small_chunks_give_the_same_replay(make_scenario, tmp_path, monkeypatch, with_clients):
    trace = random_trace(2000, span=25)
    if not with_clients:  # clients and sizes drawn per row: the same draws whatever the chunks
        trace = trace.drop(columns="client")
    path = tmp_path / "trace.csv"
    trace.to_csv(path, index=False)
    whole = run(replay(make_scenario, path)).ops
    monkeypatch.setattr(trace_module, "CSV_BLOCK_BYTES", 512)  # ~20 rows a chunk
    chunked = run(replay(make_scenario, path)).ops
    pd.testing.assert_frame_equal(whole, chunked)


def test_sessions_and_regions(make_scenario, tmp_path):
    rows = [
        [0.1, "write", 5, "", "east", "alice"],
        [0.2, "read", 5, "", "east", "alice"],
        [0.3, "read", 6, "", "west", "bob"],
        [0.4, "read", 7, "", "east", "carol"],
        [0.5, "read", 7, "", "east", "alice"],
        [0.6, "read", 8, "client1", "", "dave"],
        [0.7, "read", 9, "", "region-2", ""],
    ]
    path = write_csv(tmp_path / "s.csv", ["t", "op", "key", "client", "region", "session"], rows)
    scenario = scenario_from_dict(
        {
            "name": "regions",
            "duration": "2 s",
            "blueprint": {
                "name": "two-dc",
                "datacenters": [{"name": "east"}, {"name": "west", "region": "region-2"}],
                "nodes": [{"tag": "A", "datacenter": "east"}, {"tag": "B", "datacenter": "west"}],
                "database": {"replication_factor": 2, "members": ["A", "B"]},
            },
            "clients": {"placement": [{"datacenter": "east", "count": 2}, {"datacenter": "west", "count": 2}]},
            "workload": {"keys": 100, "arrivals": {"kind": "trace", "file": str(path)}},
        }
    )
    ops = by_start(run(scenario).ops)
    clients = ops.client.astype(str).tolist()
    assert clients[0] in ("client1", "client2") and clients[1] == clients[0]  # a session stays on its client
    assert clients[2] in ("client3", "client4") and clients[6] in ("client3", "client4")
    assert clients[5] == "client1"
    sessions = ops.session.tolist()
    assert sessions[0] == sessions[1]  # same trace session, same RavenDB session
    if clients[3] == clients[0]:
        assert sessions[3] != sessions[1] and sessions[4] != sessions[3]  # carol interrupts alice: a new one


# ----------------------------------------------------------------------------- bad traces


def test_bad_header_fails_at_load_time_with_line_and_column(make_scenario, tmp_path):
    path = write_csv(tmp_path / "h.csv", ["t", "op", "kee"], [[0, "read", 1]])
    with pytest.raises(WorkbenchInputError) as info:
        replay(make_scenario, path)
    err = info.value
    assert err.path == "workload.arrivals.file"
    assert f"{path}: line 1, column 3 'kee': unknown column (did you mean 'key'?)" in str(err)


@pytest.mark.parametrize(
    ("header", "match"),
    [
        (["op", "key"], "line 1: no time column; add t"),
        (["t", "key"], "line 1: no 'op' column"),
        (["t", "timestamp", "op", "key"], "either t .* or timestamp, not both"),
        (["t", "op", "key", "op"], "line 1, column 4 'op': column 'op' appears twice"),
    ],
)
def test_header_problems(make_scenario, tmp_path, header, match):
    path = write_csv(tmp_path / "h.csv", header, [])
    with pytest.raises(WorkbenchInputError, match=match):
        replay(make_scenario, path)


def test_header_is_checked_when_a_scenario_file_is_loaded(tmp_path):
    (tmp_path / "traces").mkdir()
    write_csv(tmp_path / "traces" / "t.csv", ["time", "op", "key"], [])
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: x\nblueprint: single-node\nworkload:\n  arrivals: {kind: trace, file: traces/t.csv}\n")
    with pytest.raises(WorkbenchInputError, match=r"line 1, column 1 'time': unknown column") as info:
        load_scenario(scenario)
    assert str(info.value).startswith(f"{scenario}: workload.arrivals.file: {tmp_path / 'traces' / 't.csv'}: ")


def good_rows(n: int) -> list[list[Any]]:
    return [[f"{i / 10:.1f}", "read", i % 100] for i in range(n)]


BAD_ROWS = [
    (["5.6", "read", "abc"], "key", r"'abc' is not a whole number"),
    (["5.6", "reed", "3"], "op", r"unknown op 'reed' \(did you mean 'read'\?\)"),
    (["-1", "read", "3"], "t", "negative time"),
    (["1.0", "read", "3"], "t", r"time goes backwards: '1.0'"),
    (["5.6", "read", "1000"], "key", r"key 1000 is outside the key space \[0, 1000\)"),
    (["x", "read", "3"], "t", r"'x' is not a number of seconds"),
    (["5.6", "", "3"], "op", "a value is required here"),
    (["5.6", "read"], None, "2 values, but the header has 3 columns"),
]


@pytest.mark.parametrize(("row", "column", "match"), BAD_ROWS, ids=[m for _, _, m in BAD_ROWS])
@pytest.mark.parametrize("block", [None, 300], ids=["one-chunk", "small-chunks"])
def test_bad_row_mid_stream_names_line_and_column(make_scenario, tmp_path, monkeypatch, row, column, match, block):
    if block:
        monkeypatch.setattr(trace_module, "CSV_BLOCK_BYTES", block)
    rows = good_rows(120)
    rows[55] = row  # file line 57: the header is line 1
    path = write_csv(tmp_path / "bad.csv", ["t", "op", "key"], rows)
    scenario = replay(make_scenario, path)  # the header is fine, so loading passes
    with pytest.raises(TraceError, match=match) as info:
        run(scenario)
    err = info.value
    assert (err.line, err.column) == (57, column)
    where = "line 57" + (f", column {column!r}" if column else "")
    assert str(err).startswith(f"{path}: {where}: ")


def test_line_numbers_count_blank_lines_and_short_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(trace_module, "CSV_BLOCK_BYTES", 64)
    text = "t,op,key\n0.1,read,1\n\n0.2,read\n0.3,read,3\n0.4,read,4,4\n\n0.5,read,x\n0.6,read,6\n"
    path = tmp_path / "t.csv"
    path.write_text(text)
    reader = TraceReader(path, keys=10, clients=1, region_clients={}, on_error="skip")
    chunks = list(reader.chunks())
    assert np.concatenate([c.key for c in chunks]).tolist() == [1, 3, 6]
    assert reader.skipped == 3  # blank lines are not errors
    assert reader.examples == [
        "line 4: 2 values, but the header has 3 columns",
        "line 6: 4 values, but the header has 3 columns",
        "line 8, column 'key': 'x' is not a whole number",
    ]
    with pytest.raises(TraceError, match=r"^.*: line 4: 2 values"):
        list(TraceReader(path, keys=10, clients=1, region_clients={}).chunks())


def test_parquet_rows_are_numbered_from_one(tmp_path):
    table = pa.table({"t": [0.0, 1.0, 2.0], "op": ["read", "read", "nope"], "key": [1, 2, 3]})
    pq.write_table(table, tmp_path / "t.parquet")
    with pytest.raises(TraceError, match=r": row 3, column 'op': unknown op 'nope'"):
        list(TraceReader(tmp_path / "t.parquet", keys=10, clients=1, region_clients={}).chunks())


def test_bad_client_and_region_values(tmp_path):
    path = write_csv(
        tmp_path / "c.csv",
        ["t", "op", "key", "client", "region"],
        [
            [0, "read", 1, "client9", ""],
            [1, "read", 1, "", "mars"],
            [2, "read", 1, "7", "dc2"],
            [3, "read", 1, "", "dc1"],
        ],
    )
    reader = TraceReader(path, keys=10, clients=4, region_clients={"dc1": (0,), "dc2": ()}, on_error="skip")
    (chunk,) = list(reader.chunks())
    assert (
        reader.examples[0]
        == "line 2, column 'client': 'client9' is not a client: write client1..client4 or a number (taken modulo 4)"
    )
    assert reader.examples[1].startswith("line 3, column 'region': no data centre or region 'mars'")
    assert reader.examples[2] == "line 4, column 'region': no client is placed in 'dc2' (clients.placement)"
    assert chunk.region.tolist() == [0]


def test_cli_reports_a_bad_row_in_one_line_and_exits_2(tmp_path, capsys):
    rows = good_rows(80)
    rows[55] = ["5.6", "read", "abc"]
    write_csv(tmp_path / "bad.csv", ["t", "op", "key"], rows)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: x\nduration: 10 s\nblueprint: single-node\n"
        "workload:\n  keys: 1000\n  arrivals: {kind: trace, file: bad.csv}\n"
    )
    assert main(["run", str(scenario), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"workbench: error: {tmp_path / 'bad.csv'}: line 57, column 'key': 'abc' is not a whole number "
        "(or set workload.arrivals.on_error: skip)"
    ]
    # on_error: skip counts the row and runs to the end.
    assert main(["run", str(scenario), "--no-progress", "--json", "--set", "workload.arrivals.on_error=skip"]) == 0


def test_skip_counts_bad_rows_and_carries_on(make_scenario, tmp_path):
    rows = good_rows(100)
    rows[10] = ["1.0", "write", "99999"]
    rows[40] = ["4.0", "delete", "3"]
    rows[70] = ["0.5", "read", "3"]  # goes backwards
    path = write_csv(tmp_path / "bad.csv", ["t", "op", "key"], rows)
    result = run(replay(make_scenario, path, on_error="skip"))
    assert len(result.ops) == 97
    event = result.events[result.events.kind == "trace_rows_skipped"]
    assert event.value.tolist() == [3.0]
    detail = event.detail.iloc[0]
    assert "3 bad rows" in detail and "line 12, column 'key'" in detail and "line 42, column 'op'" in detail


def test_a_looping_replay_counts_its_bad_rows_once(make_scenario, tmp_path):
    rows = good_rows(20)
    rows[5] = ["0.5", "read", "x"]
    path = write_csv(tmp_path / "bad.csv", ["t", "op", "key"], rows)
    result = run(replay(make_scenario, path, duration="10 s", loop=True, on_error="skip"))
    assert len(result.ops) == 19 * 5  # five passes of 2 s
    assert result.events[result.events.kind == "trace_rows_skipped"].value.tolist() == [1.0]


# ----------------------------------------------------------------------------- window and loop


def test_window_replays_a_slice_from_time_zero(make_scenario, tmp_path):
    rows = [[i / 2, "read", i] for i in range(40)]  # t = 0, 0.5, ..., 19.5
    path = write_csv(tmp_path / "t.csv", ["t", "op", "key"], rows)
    ops = by_start(run(replay(make_scenario, path, window={"start": "5 s", "end": "10 s"})).ops)
    assert ops.key.tolist() == list(range(10, 20))
    np.testing.assert_array_equal(ops.start_s.to_numpy(), np.arange(10, 20) / 2 - 5)


def test_loop_with_a_window_repeats_every_window_length(make_scenario, tmp_path):
    rows = [[i / 2, "read", i] for i in range(40)]
    path = write_csv(tmp_path / "t.csv", ["t", "op", "key"], rows)
    ops = by_start(
        run(
            replay(make_scenario, path, duration="12 s", speedup=2, loop=True, window={"start": "2 s", "end": "6 s"})
        ).ops
    )
    # Window [2 s, 6 s) is 8 rows lasting 4 s of trace time, 2 s replayed at 2x: six passes in 12 s.
    assert len(ops) == 48
    assert ops.key.tolist() == list(range(4, 12)) * 6
    expected = np.concatenate([p * 2.0 + (np.arange(4, 12) / 2 - 2) / 2 for p in range(6)])
    np.testing.assert_allclose(ops.start_s.to_numpy(), expected, rtol=0, atol=1e-12)


def test_loop_without_a_window_end_adds_one_mean_gap(make_scenario, tmp_path):
    path = write_csv(tmp_path / "t.csv", ["t", "op", "key"], [[0, "read", 0], [1, "read", 1], [3, "write", 2]])
    ops = by_start(run(replay(make_scenario, path, duration="10 s", loop=True)).ops)
    # One pass lasts up to the last row (3 s) plus the mean gap (1.5 s): 4.5 s.
    np.testing.assert_allclose(ops.start_s.to_numpy(), [0, 1, 3, 4.5, 5.5, 7.5, 9.0], atol=1e-12)
    assert ops.kind.astype(str).tolist()[:3] == ["read", "read", "write"]


def test_replay_stops_at_workload_stop_and_without_loop_at_the_end(make_scenario, tmp_path):
    trace = random_trace(300, span=8)
    path = tmp_path / "t.csv"
    trace.to_csv(path, index=False)
    assert len(run(replay(make_scenario, path, duration="20 s")).ops) == 300
    stopped = make_scenario(
        duration="20 s",
        blueprint=SINGLE,
        workload={"stop": "4 s", "arrivals": {"kind": "trace", "file": str(path)}},
    )
    assert len(run(stopped).ops) == int((trace.t < 4).sum())


def test_a_trace_without_a_span_cannot_loop(make_scenario, tmp_path):
    path = write_csv(tmp_path / "t.csv", ["t", "op", "key"], [[0, "read", 0], [0, "write", 1]])
    with pytest.raises(TraceError, match=r"spans no time; set workload\.arrivals\.window\.end"):
        run(replay(make_scenario, path, loop=True))


# ----------------------------------------------------------------------------- what ships


def test_the_sample_trace_is_what_its_script_makes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_sample_trace", ROOT / "scenarios/traces/make_sample_trace.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.make_rows(2024)
    shipped = pd.read_csv(ROOT / "scenarios/traces/sample.csv", keep_default_na=False)
    assert 1000 < len(rows) < 10_000 and len(shipped) == len(rows)
    assert shipped.t.round(6).tolist() == [r[0] for r in rows]
    assert shipped.op.tolist() == [r[1] for r in rows]
    assert set(shipped.op) <= set(OP_KINDS)


def test_the_trace_replay_scenario_runs(tmp_path):
    scenario = load_scenario(ROOT / "scenarios/trace-replay.yaml", ["faults=[]"], duration="15 s")
    result = run(scenario)
    assert result.ok
    trace = pd.read_csv(ROOT / "scenarios/traces/sample.csv")
    assert len(result.ops) == int((trace.t < 15).sum())


# ----------------------------------------------------------------------------- deployments of several clusters

REGIONS = ("virginia", "ohio", "california")  # cluster-per-region: a cluster per data centre, in this order


def deployment(file: Path, *, seed: int = 5, duration: str = "20 s", **changes: Any):
    """cluster-per-region (two application servers per region) replaying ``file``."""
    arrivals = {"kind": "trace", "file": str(file), **changes.pop("arrivals", {})}
    data = {
        "name": "regions",
        "seed": seed,
        "duration": duration,
        "blueprint": "cluster-per-region",
        "workload": {"keys": 1000, "arrivals": arrivals},
        **changes,
    }
    return scenario_from_dict(data, source="<test>")


def routed_trace(n: int = 3000, seed: int = 11) -> pd.DataFrame:
    """Rows at distinct times (so each op finds its row by its start), one kind of routing each."""
    rng = np.random.default_rng(seed)
    t = np.sort(rng.choice(np.arange(1, 18_000), size=n, replace=False)) / 1000
    rule = rng.choice(["cluster", "region", "qualified", "bare", "number", "session", "none"], size=n)
    df = pd.DataFrame({"t": t, "op": rng.choice(["read", "write"], size=n), "key": rng.integers(0, 1000, n)})
    df["rule"] = rule
    df["cluster"] = np.where(rule == "cluster", rng.choice(REGIONS, size=n), "")
    regions = rng.choice([*REGIONS, "us-east-2"], size=n)  # a region name works as well as a data centre
    df["region"] = np.where(rule == "region", regions, "")
    qualified = [f"{REGIONS[c]}/client{k}" for c, k in zip(rng.integers(0, 3, n), rng.integers(1, 3, n), strict=True)]
    df["client"] = np.where(rule == "qualified", qualified, "")
    df.loc[rule == "bare", "client"] = [f"client{k}" for k in rng.integers(1, 7, int((rule == "bare").sum()))]
    df.loc[rule == "number", "client"] = [str(k) for k in rng.integers(0, 1000, int((rule == "number").sum()))]
    df["session"] = np.where(rule == "session", [f"s{k}" for k in rng.integers(0, 300, n)], "")
    return df


def replayed(result, trace: pd.DataFrame) -> pd.DataFrame:
    """Each op with the trace row it replays (joined on time: the trace's times are distinct)."""
    ops = result.ops.assign(cluster=result.ops.cluster.astype(str), client=result.ops.client.astype(str))
    ops = ops.rename(columns={"cluster": "ran_in", "client": "ran_on", "key": "op_key"})
    joined = trace.merge(ops[["start_s", "ran_in", "ran_on", "op_key"]], left_on="t", right_on="start_s", how="left")
    assert joined.ran_in.notna().all() and len(joined) == len(result.ops)  # every row is exactly one op
    assert (joined.op_key == joined.key).all()
    return joined


@pytest.mark.parametrize("block", [None, 2048], ids=["one-chunk", "small-chunks"])
def test_a_deployment_replays_every_row_once_in_the_cluster_its_route_names(tmp_path, monkeypatch, block):
    if block:  # chunks with none of a cluster's rows, and chunks with only some
        monkeypatch.setattr(trace_module, "CSV_BLOCK_BYTES", block)
    trace = routed_trace()
    path = tmp_path / "trace.csv"
    trace.drop(columns="rule").to_csv(path, index=False)
    result = run(deployment(path))
    assert result.ok, result.provenance["traceback"]
    assert result.provenance["ops_issued"] == len(trace)
    rows = replayed(result, trace)
    by = {rule: rows[rows.rule == rule] for rule in set(rows.rule)}
    # 1. The cluster column wins.
    assert (by["cluster"].ran_in == by["cluster"].cluster).all()
    # 2. A qualified client is that client; a bare one or a number is numbered across the clusters in order.
    assert (by["qualified"].ran_on == by["qualified"].client).all()
    everyone = [f"{c}/client{k}" for c in REGIONS for k in (1, 2)]
    bare = by["bare"]
    assert bare.ran_on.tolist() == [everyone[int(c[6:]) - 1] for c in bare.client]
    number = by["number"]
    assert number.ran_on.tolist() == [everyone[int(c) % 6] for c in number.client]
    # 3. A region goes to the cluster whose clients are there (us-east-2 is Ohio's region).
    region = by["region"]
    assert (region.ran_in == region.region.replace("us-east-2", "ohio")).all()
    # 4. The rest is shared by client: a session stays in one cluster and on one client.
    sessions = by["session"].groupby("session")
    assert (sessions.ran_on.nunique() == 1).all()
    assert sessions.ngroups > 150 and set(by["session"].ran_in) == set(REGIONS)
    for rule in ("session", "none"):
        share = by[rule].ran_in.value_counts(normalize=True)
        assert set(share.index) == set(REGIONS) and share.between(0.2, 0.47).all(), (rule, share.to_dict())


def test_unrouted_rows_follow_the_clusters_share_of_the_clients(tmp_path):
    n = 4000
    path = write_csv(tmp_path / "t.csv", ["t", "op", "key"], [[f"{i / 200:.3f}", "read", i % 1000] for i in range(n)])
    placement = [{"datacenter": "virginia", "count": 6}, {"datacenter": "ohio", "count": 2}]
    result = run(deployment(path, clients={"placement": placement}))
    share = result.ops.cluster.astype(str).value_counts(normalize=True)
    assert len(result.ops) == n and set(share.index) == {"virginia", "ohio"}  # california has no clients: no rows
    assert abs(share["virginia"] - 0.75) < 0.03, share.to_dict()


def test_a_region_served_by_two_clusters_keeps_each_session_in_one(tmp_path):
    blueprint = {
        "name": "one-region-two-clusters",
        "datacenters": [{"name": "dc1", "region": "r1"}, {"name": "dc2", "region": "r1"}],
        "clusters": [
            {"name": "a", "nodes": [{"tag": "A", "datacenter": "dc1"}], "database": {"replication_factor": 1}},
            {"name": "b", "nodes": [{"tag": "A", "datacenter": "dc2"}], "database": {"replication_factor": 1}},
        ],
        "links": [],
    }
    rows = [[f"{i / 100:.2f}", "read", i % 100, "r1", f"s{i % 97}"] for i in range(2000)]
    path = write_csv(tmp_path / "t.csv", ["t", "op", "key", "region", "session"], rows)
    trace = pd.DataFrame(rows, columns=["t", "op", "key", "region", "session"]).astype({"t": float})
    placement = [{"datacenter": "dc1", "count": 1}, {"datacenter": "dc2", "count": 3}]
    scenario = scenario_from_dict(
        {
            "name": "r",
            "duration": "25 s",
            "blueprint": blueprint,
            "clients": {"placement": placement},
            "workload": {"keys": 100, "arrivals": {"kind": "trace", "file": str(path)}},
        }
    )
    joined = replayed(run(scenario), trace)
    assert (joined.groupby("session").ran_in.nunique() == 1).all()
    share = joined.ran_in.value_counts(normalize=True)
    assert 0.1 < share["a"] < 0.4, share.to_dict()  # by the clients there: a has one of four


def test_a_deployment_replay_is_deterministic_and_the_seed_reshuffles_it(tmp_path):
    trace = routed_trace(800)
    path = tmp_path / "trace.csv"
    trace.drop(columns="rule").to_csv(path, index=False)
    a, b = run(deployment(path)), run(deployment(path))
    for name in ("ops", "events", "timeseries", "replication"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    other = run(deployment(path, seed=6))
    unrouted = trace.rule.isin(["session", "none"]).to_numpy()
    before, after = replayed(a, trace), replayed(other, trace)
    assert (before.ran_in[unrouted] != after.ran_in[unrouted]).any()
    assert (before.ran_in[~unrouted] == after.ran_in[~unrouted]).all()  # the routed rows stay where they are told


@pytest.mark.parametrize("block", [None, 256], ids=["one-chunk", "small-chunks"])
def test_the_clusters_readers_split_the_rows_between_them(tmp_path, monkeypatch, block):
    if block:
        monkeypatch.setattr(trace_module, "CSV_BLOCK_BYTES", block)
    trace = routed_trace(500)
    path = tmp_path / "trace.csv"
    trace.drop(columns="rule").to_csv(path, index=False)
    base = trace_module.TraceRoute(
        clusters=REGIONS,
        clients=(2, 2, 2),
        regions=(("virginia", (2, 0, 0)), ("ohio", (0, 2, 0)), ("california", (0, 0, 2)), ("us-east-2", (0, 2, 0))),
        me=0,
        seed=5,
    )
    seen = []
    for me in range(3):
        reader = TraceReader(
            path, keys=1000, clients=2, region_clients={REGIONS[me]: (0, 1)}, route=replace(base, me=me)
        )
        chunks = list(reader.chunks())
        seen.append(np.concatenate([c.time for c in chunks]))
        np.testing.assert_array_equal(np.concatenate([c.every for c in chunks]), trace.t.to_numpy())
    everything = np.concatenate(seen)
    assert len(everything) == len(trace) and set(everything) == set(trace.t)  # each row once, in one cluster


def test_loop_and_window_follow_every_clusters_rows(tmp_path):
    # Virginia's rows end at 2 s, the trace at 4 s: each pass lasts 4 s plus the mean gap in every cluster.
    rows = [[0.0, "read", 1, "virginia"], [2.0, "read", 2, "virginia"], [4.0, "read", 3, "ohio"]]
    path = write_csv(tmp_path / "t.csv", ["t", "op", "key", "cluster"], rows)
    ops = run(deployment(path, duration="12 s", arrivals={"loop": True})).ops
    starts = {c: ops[ops.cluster == c].start_s.tolist() for c in ("virginia", "ohio")}
    assert starts == {"virginia": [0.0, 2.0, 6.0, 8.0], "ohio": [4.0, 10.0]}
    # A window that ends after a cluster's last row still ends at its end in every cluster.
    windowed = run(deployment(path, duration="12 s", arrivals={"loop": True, "window": {"end": "3 s"}})).ops
    assert windowed.start_s.tolist() == [0.0, 2.0, 3.0, 5.0, 6.0, 8.0, 9.0, 11.0]
    assert set(windowed.cluster.astype(str)) == {"virginia"}


def test_a_cluster_stops_reading_when_the_trace_passes_the_end_of_the_run(tmp_path, monkeypatch):
    # Ohio's only rows come after the run; its reader stops with the others' rows at the end (as a
    # single cluster's does), so it never reaches the bad row at 50 s.
    monkeypatch.setattr(trace_module, "CSV_BLOCK_BYTES", 256)
    rows = [[f"{i / 10:.1f}", "read", i % 100, "virginia"] for i in range(600)]
    rows[300][3] = "ohio"
    rows[500][2] = "x"
    path = write_csv(tmp_path / "t.csv", ["t", "op", "key", "cluster"], rows)
    ops = run(deployment(path, duration="10 s")).ops
    assert len(ops) == 100 and set(ops.cluster.astype(str)) == {"virginia"}


def test_skipped_rows_are_counted_once_in_a_deployment(tmp_path):
    rows = [[f"{i / 10:.1f}", "read", i % 100, ""] for i in range(60)]
    rows[7][3] = "nowhere"
    rows[20][2] = "x"
    path = write_csv(tmp_path / "t.csv", ["t", "op", "key", "cluster"], rows)
    result = run(deployment(path, arrivals={"on_error": "skip"}))
    assert len(result.ops) == 58
    skipped = result.events[result.events.kind == "trace_rows_skipped"]
    assert skipped.value.tolist() == [2.0]
    assert "line 9, column 'cluster': no cluster 'nowhere'" in skipped.detail.iloc[0]


BAD_ROUTES = [
    ("cluster", "nowhere", "", "", "no cluster 'nowhere'; clusters: virginia, ohio, california"),
    ("cluster", "ohio ", "", "", None),  # surrounding spaces are trimmed: a good row
    ("cluster", "Ohio", "", "", "no cluster 'Ohio' (did you mean 'ohio'?)"),
    ("client", "", "ohio/client3", "", "'ohio/client3': cluster 'ohio' has client1..client2"),
    ("client", "", "mars/client1", "", "'mars/client1': no cluster 'mars'"),
    ("client", "", "client7", "", "'client7' is not a client: the deployment has client1..client6"),
    ("client", "", "virginia-client1", "", "'virginia-client1' is not a client: write cluster/clientN"),
    ("client", "ohio", "virginia/client1", "", "'virginia/client1' is not a client of cluster 'ohio'"),
    ("client", "ohio", "client3", "", "'client3' is not a client of cluster 'ohio': with a cluster"),
    ("region", "ohio", "", "virginia", "cluster 'ohio' (the row's cluster) has no client in 'virginia'"),
    ("region", "", "", "mars", "no data centre or region 'mars'"),
]


@pytest.mark.parametrize(("column", "cluster", "client", "region", "match"), BAD_ROUTES)
def test_bad_routes_name_file_line_and_column(tmp_path, column, cluster, client, region, match):
    rows = [[f"{i / 10:.1f}", "read", i, "", "", ""] for i in range(30)]
    rows[12][3:] = [cluster, client, region]  # line 14
    path = write_csv(tmp_path / "t.csv", ["t", "op", "key", "cluster", "client", "region"], rows)
    scenario = deployment(path, duration="5 s")
    if match is None:
        assert len(run(scenario).ops) == 30
        return
    with pytest.raises(TraceError) as info:
        run(scenario)
    err = info.value
    assert (err.line, err.column) == (14, column)
    assert str(err).startswith(f"{path}: line 14, column {column!r}: ")
    assert match in str(err)


def test_a_cluster_without_applications_gets_no_rows(tmp_path):
    path = write_csv(
        tmp_path / "t.csv", ["t", "op", "key", "cluster"], [[0.1, "read", 1, "prod"], [0.2, "read", 2, "dr"]]
    )
    data = {
        "name": "dr",
        "duration": "2 s",
        "blueprint": "offsite-dr",
        "workload": {"keys": 10, "arrivals": {"kind": "trace", "file": str(path)}},
    }
    with pytest.raises(TraceError, match=r"line 3, column 'cluster': cluster 'dr' has no application servers"):
        run(scenario_from_dict(data))
    path.write_text("t,op,key\n0.1,read,1\n0.2,write,2\n")
    ops = run(scenario_from_dict(data)).ops
    assert ops.cluster.astype(str).tolist() == ["prod", "prod"]


def test_cli_reports_a_bad_route_in_one_line_and_exits_2(tmp_path, capsys):
    rows = [[f"{i / 10:.1f}", "read", i, ""] for i in range(30)]
    rows[4][3] = "texas"
    write_csv(tmp_path / "t.csv", ["t", "op", "key", "cluster"], rows)
    scenario = tmp_path / "s.yaml"
    scenario.write_text(
        "name: x\nduration: 5 s\nblueprint: cluster-per-region\n"
        "workload:\n  keys: 100\n  arrivals: {kind: trace, file: t.csv}\n"
    )
    assert main(["run", str(scenario), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"workbench: error: {tmp_path / 't.csv'}: line 6, column 'cluster': no cluster 'texas'; clusters: "
        "virginia, ohio, california (or set workload.arrivals.on_error: skip)"
    ]


def test_a_cluster_column_on_a_single_cluster_fails_at_load_time(make_scenario, tmp_path):
    path = write_csv(tmp_path / "t.csv", ["t", "op", "key", "cluster"], [[0, "read", 1, "east"]])
    with pytest.raises(
        WorkbenchInputError, match=r"line 1, column 4 'cluster': the cluster column routes rows"
    ) as info:
        replay(make_scenario, path)
    assert info.value.path == "workload.arrivals.file"
    with pytest.raises(TraceError, match="this scenario has one cluster"):
        TraceReader(path, keys=10, clients=1, region_clients={})


def test_the_regions_trace_is_what_its_script_makes():
    spec = importlib.util.spec_from_file_location("make_sample_trace", ROOT / "scenarios/traces/make_sample_trace.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.make_region_rows(2024)
    shipped = pd.read_csv(ROOT / "scenarios/traces/regions.csv", keep_default_na=False)
    assert 500 < len(rows) < 5000 and len(shipped) == len(rows)
    assert shipped.t.round(6).tolist() == [r[0] for r in rows]
    assert shipped.cluster.tolist() == [r[7] for r in rows]


def test_the_trace_replay_regions_scenario_runs():
    result = run(load_scenario(ROOT / "scenarios/trace-replay-regions.yaml", ["faults=[]"]))
    assert result.ok
    trace = pd.read_csv(ROOT / "scenarios/traces/regions.csv", keep_default_na=False)
    rows = replayed(result, trace.assign(rule=""))
    assert len(rows) == len(trace)
    assert (rows.ran_in[rows.cluster != ""] == "virginia").all()
    assert (rows.ran_on[rows.client != ""] == "ohio/client2").all()
    assert (rows.ran_in[rows.region != ""] == rows.region[rows.region != ""]).all()

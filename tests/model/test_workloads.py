"""Arrival generators and key popularity: each does what its settings say."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workbench import run
from workbench.errors import WorkbenchInputError
from workbench.model.assembly.world import World

SINGLE = {"extends": "single-node", "database": {"members": ["A"]}}


def world_after_run(scenario) -> tuple[World, pd.DataFrame]:
    world = World(scenario)
    world.run()
    return world, world.recorder.tables()["ops"]


# ----------------------------------------------------------------------------- open loop


def test_constant_rate_gives_exact_gaps(make_scenario):
    ops = run(make_scenario(workload={"rate": 250, "arrivals": {"kind": "constant"}})).ops
    starts = np.sort(ops.start_s.to_numpy())
    k = np.arange(1, len(starts) + 1)
    assert len(starts) == 10 * 250 - 1  # arrivals at k/250 s for k/250 < 10 s
    np.testing.assert_array_equal(starts, k / 250)  # exactly, not within a tolerance
    assert np.allclose(np.diff(starts), 1 / 250, rtol=0, atol=1e-12)


def test_diurnal_arrivals_per_hour_follow_the_curve(make_scenario):
    # A day compressed into 240 s (one simulated "hour" = 10 s); trough at 06:00, peak at 18:00.
    peak, trough = 300.0, 30.0
    scenario = make_scenario(
        duration="240 s",
        blueprint=SINGLE,
        workload={
            "arrivals": {
                "kind": "diurnal",
                "peak": peak,
                "trough": trough,
                "peak_at": "18:00",
                "start_at": "06:00",
                "period": "240 s",
            }
        },
    )
    world, ops = world_after_run(scenario)
    counts = np.histogram(ops.start_s, bins=24, range=(0, 240))[0]
    # Expected arrivals per hour: the integral of the rate over it.
    rate = world.workload.rate_at
    expected = np.array([sum(rate(h * 10 + (i + 0.5) * 0.01) * 0.01 for i in range(1000)) for h in range(24)])
    assert rate(120.0) == pytest.approx(peak) and rate(0.0) == pytest.approx(trough)
    assert np.all(np.abs(counts - expected) < 4 * np.sqrt(expected) + 5), (counts, expected.round())
    # The hour around 18:00 sees about peak/trough times the arrivals of the hour around 06:00.
    assert counts[11] + counts[12] > 8 * (counts[0] + counts[23])


def test_bursts_raise_the_rate_only_inside_the_burst(make_scenario):
    scenario = make_scenario(
        blueprint=SINGLE,
        workload={
            "rate": 200,
            "arrivals": {"kind": "bursts", "bursts": [{"at": "4 s", "duration": "2 s", "multiplier": 5}]},
        },
    )
    result = run(scenario)
    starts = result.ops.start_s
    inside = starts.between(4, 6, inclusive="left").sum() / 2
    before = (starts < 4).sum() / 4
    after = (starts >= 6).sum() / 4
    assert inside == pytest.approx(1000, rel=0.1)
    assert before == pytest.approx(200, rel=0.1)
    assert after == pytest.approx(200, rel=0.1)
    burst = result.events[result.events.kind == "burst"]
    assert burst.time_s.tolist() == [4.0] and burst.value.tolist() == [5.0]


def test_random_bursts_are_drawn_from_their_stream(make_scenario):
    scenario = make_scenario(
        duration="30 s",
        blueprint=SINGLE,
        workload={
            "rate": 100,
            "arrivals": {
                "kind": "bursts",
                "random_bursts": {"every": "exponential(4 s)", "duration": "500 ms", "multiplier": 10},
            },
        },
    )
    world, ops = world_after_run(scenario)
    bursts = world.workload.bursts
    assert 3 <= len(bursts) <= 16
    assert all(end - start == pytest.approx(0.5) for start, end, _ in bursts)
    starts = ops.start_s.to_numpy()
    in_burst = np.zeros(len(starts), dtype=bool)
    for start, end, _ in bursts:
        in_burst |= (starts >= start) & (starts < end)
    burst_time = sum(min(end, 30) - start for start, end, _ in bursts)  # bursts may overlap rarely
    assert in_burst.sum() / burst_time == pytest.approx(1000, rel=0.2)
    assert (~in_burst).sum() / (30 - burst_time) == pytest.approx(100, rel=0.1)
    # The same seed draws the same bursts, whatever else changes.
    other = World(make_scenario(duration="30 s", workload=scenario.workload.model_dump(mode="json")))
    assert other.workload.bursts == bursts


# ----------------------------------------------------------------------------- closed loop


def _max_in_flight(ops: pd.DataFrame) -> int:
    times = np.concatenate([ops.start_s.to_numpy(), ops.end_s.to_numpy()])
    steps = np.concatenate([np.ones(len(ops)), -np.ones(len(ops))])
    order = np.lexsort((steps, times))  # at equal times, an answer comes before the next request
    return int(np.cumsum(steps[order]).max())


@pytest.mark.parametrize(("users", "think_ms"), [(20, 20), (50, 5)])
def test_closed_loop_follows_littles_law(make_scenario, users, think_ms):
    scenario = make_scenario(
        blueprint={"extends": "single-node", "database": {"members": ["A"]}, "hardware": {"workers": 2}},
        workload={"arrivals": {"kind": "closed", "users": users, "think": f"exponential({think_ms} ms)"}},
    )
    ops = run(scenario).ops
    steady = ops[(ops.start_s >= 1) & (ops.start_s < 9)]
    throughput = len(steady) / 8
    response = steady.latency_ms.mean() / 1e3
    assert throughput == pytest.approx(users / (think_ms / 1e3 + response), rel=0.05)
    assert _max_in_flight(ops) <= users
    # Users map onto the four clients round-robin.
    shares = ops.client.value_counts(normalize=True)
    assert len(shares) == 4 and shares.max() < 0.3


def test_closed_loop_under_a_crash_never_exceeds_its_users(make_scenario):
    scenario = make_scenario(
        faults=[{"at": "3 s", "action": "crash", "node": "A"}],
        workload={"arrivals": {"kind": "closed", "users": 12, "think": "10 ms"}},
    )
    ops = run(scenario).ops
    assert _max_in_flight(ops) <= 12
    assert len(ops) > 1000


# ----------------------------------------------------------------------------- keys


def test_hotspot_gives_the_stated_share_to_the_hot_keys(make_scenario):
    ops = run(
        make_scenario(
            blueprint=SINGLE,
            workload={"keys": 1000, "key_popularity": "hotspot", "hotspot": {"keys": 0.1, "share": 0.9}},
        )
    ).ops
    hot = ops.key < 100
    assert hot.mean() == pytest.approx(0.9, abs=0.015)
    # Uniform within each part.
    hot_counts = np.bincount(ops.key[hot], minlength=100)
    assert hot_counts.min() > 0.5 * hot_counts.mean()
    assert ops.key.max() >= 990


def test_default_hotspot_is_80_20(make_scenario):
    ops = run(make_scenario(blueprint=SINGLE, workload={"key_popularity": "hotspot"})).ops
    assert (ops.key < 200).mean() == pytest.approx(0.8, abs=0.015)


@pytest.mark.parametrize("popularity", ["uniform", "zipf"])
def test_tenants_partition_the_keys(make_scenario, popularity):
    ops = run(
        make_scenario(
            blueprint=SINGLE,
            workload={"keys": 1000, "key_popularity": "tenants", "tenants": {"count": 8, "popularity": popularity}},
        )
    ).ops
    tenant = ops.key // 125
    # Each session works for one tenant: all its keys fall in that tenant's range.
    assert ops.assign(tenant=tenant).groupby(["client", "session"], observed=True).tenant.nunique().max() == 1
    counts = tenant.value_counts()
    assert set(counts.index) == set(range(8))
    if popularity == "zipf":
        assert counts.idxmax() == 0 and counts[0] > 2 * counts[7]
    else:
        assert counts.max() < 2 * counts.min()


def test_under_use_session_context_a_tenants_sessions_share_a_node(make_scenario):
    ops = run(
        make_scenario(
            clients={"load_balance": "UseSessionContext"},
            workload={"keys": 1000, "key_popularity": "tenants", "tenants": {"count": 12}},
        )
    ).ops
    bounds = np.array([k * 1000 // 12 for k in range(13)])  # tenant k holds keys bounds[k]..bounds[k+1]-1
    tenant = np.searchsorted(bounds, ops.key.to_numpy(), side="right") - 1
    nodes = ops.assign(tenant=tenant).groupby("tenant").node.nunique()
    assert nodes.max() == 1  # the context (the tenant) picks the node
    assert ops.node.nunique() > 1  # and different tenants land on different nodes


# ----------------------------------------------------------------------------- determinism


@pytest.mark.parametrize(
    "arrivals",
    [
        {"kind": "constant"},
        {"kind": "diurnal", "peak": 800, "trough": 100, "period": "10 s"},
        {"kind": "bursts", "random_bursts": {"every": "exponential(2 s)", "duration": "1 s", "multiplier": 3}},
        {"kind": "closed", "users": 30, "think": "exponential(10 ms)"},
    ],
    ids=lambda a: a["kind"],
)
def test_generators_are_deterministic_and_ignore_the_fault_plan(make_scenario, arrivals):
    calm = run(make_scenario(workload={"arrivals": arrivals}, duration="5 s")).ops
    again = run(make_scenario(workload={"arrivals": arrivals}, duration="5 s")).ops
    pd.testing.assert_frame_equal(calm, again)
    if arrivals["kind"] != "closed":  # a closed loop's arrivals depend on the answers, by design
        faulty = run(
            make_scenario(
                workload={"arrivals": arrivals}, duration="5 s", faults=[{"at": "2 s", "action": "crash", "node": "C"}]
            )
        ).ops
        cols = ["start_s", "kind", "key", "client"]
        a = calm.sort_values("start_s", kind="stable")[cols].reset_index(drop=True)
        b = faulty.sort_values("start_s", kind="stable")[cols].reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b)


def test_stop_ends_every_generator(make_scenario):
    for arrivals in ({"kind": "constant"}, {"kind": "diurnal", "peak": 500, "trough": 50}):
        ops = run(make_scenario(workload={"stop": "3 s", "arrivals": arrivals})).ops
        assert ops.start_s.max() < 3


# ----------------------------------------------------------------------------- validation


def bad(make_scenario, path: str, match: str, **changes) -> None:
    with pytest.raises(WorkbenchInputError, match=match) as info:
        make_scenario(**changes)
    assert info.value.path == path, str(info.value)


@pytest.mark.parametrize(
    ("arrivals", "path", "match"),
    [
        ({"kind": "diurnl"}, "workload.arrivals.kind", r"'diurnl' is not allowed \(did you mean 'diurnal'\?\)"),
        ({"kind": "diurnal", "peak": 100}, "workload.arrivals.trough", "diurnal arrivals need a trough rate"),
        ({"kind": "diurnal", "trough": 10}, "workload.arrivals.peak", "need a peak rate"),
        ({"kind": "diurnal", "peak": 10, "trough": 20}, "workload.arrivals.trough", r"is above the peak"),
        ({"kind": "diurnal", "peak": 10, "trough": 2, "peak_at": 840}, "workload.arrivals.peak_at", "in quotes"),
        ({"kind": "diurnal", "peak": 10, "trough": 2, "peak_at": "25:00"}, "workload.arrivals.peak_at", "time of day"),
        (
            {"kind": "diurnal", "peak": 10, "trough": 2, "period": "0 s"},
            "workload.arrivals.period",
            "greater than or equal to 1",
        ),
        ({"kind": "poisson", "users": 5}, "workload.arrivals.users", "users is a setting of kind closed"),
        ({"kind": "constant", "peak": 5}, "workload.arrivals.peak", "setting of kind diurnal, but kind is constant"),
        ({"kind": "closed"}, "workload.arrivals.users", "need a number of users"),
        ({"kind": "closed", "users": 0}, "workload.arrivals.users", "greater than or equal to 1"),
        ({"kind": "closed", "users": 3, "think": "exponential(1)"}, "workload.arrivals.think", "has no unit"),
        ({"kind": "bursts"}, "workload.arrivals.bursts", "need bursts"),
        (
            {"kind": "bursts", "bursts": [{"at": "1 s", "duration": "1 s", "multiplier": 0}]},
            "workload.arrivals.bursts[0].multiplier",
            "greater than 0",
        ),
        (
            {"kind": "bursts", "bursts": [{"at": "1 s", "duration": "0 s", "multiplier": 2}]},
            "workload.arrivals.bursts[0].duration",
            "longer than 0",
        ),
        (
            {"kind": "bursts", "bursts": [{"at": "1 min", "duration": "1 s", "multiplier": 2}]},
            "workload.arrivals.bursts[0].at",
            "never happen",
        ),
        (
            {"kind": "bursts", "random_bursts": {"every": "0 s", "duration": "1 s", "multiplier": 2}},
            "workload.arrivals.random_bursts.every",
            "more than 0 s",
        ),
        ({"kind": "trace"}, "workload.arrivals.file", "trace arrivals need a file"),
        ({"kind": "trace", "file": "/nonexistent/t.csv"}, "workload.arrivals.file", "no such trace file"),
        ({"kind": "trace", "file": "/nonexistent/t.json"}, "workload.arrivals.file", "cannot tell the format"),
        ({"kind": "trace", "speedup": 0}, "workload.arrivals.speedup", "greater than 0"),
        ({"kind": "trace", "on_error": "ignore"}, "workload.arrivals.on_error", "'fail' or 'skip'"),
        ({"kind": "poisson", "speedup": 2}, "workload.arrivals.speedup", "setting of kind trace"),
        ({"kind": "poisson", "windw": {}}, "workload.arrivals.windw", r"did you mean 'window'"),
    ],
)
def test_bad_generator_settings_name_the_field(make_scenario, arrivals, path, match):
    bad(make_scenario, path, match, workload={"arrivals": arrivals})


def test_trace_window_must_end_after_it_starts(make_scenario, tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("t,op,key\n0,read,1\n")
    arrivals = {"kind": "trace", "file": str(trace), "window": {"start": "10 s", "end": "5 s"}}
    bad(make_scenario, "workload.arrivals.window.end", "is not after window.start", workload={"arrivals": arrivals})


@pytest.mark.parametrize(
    ("workload", "path", "match"),
    [
        ({"hotspot": {"share": 0.5}}, "workload.hotspot", "applies to key_popularity: hotspot"),
        ({"key_popularity": "zipf", "tenants": {"count": 3}}, "workload.tenants", "but key_popularity is zipf"),
        ({"key_popularity": "hotspot", "hotspot": {"keys": 1.0}}, "workload.hotspot.keys", "less than 1"),
        ({"key_popularity": "hotspot", "keys": 1}, "workload.hotspot.keys", "leaves no cold keys"),
        ({"key_popularity": "tenants", "tenants": {"count": 2000}}, "workload.tenants.count", "there are 1000"),
        ({"key_popularity": "tenants", "tenants": {"popularity": "zipff"}}, "workload.tenants.popularity", "zipf"),
        ({"key_popularity": "hotspt"}, "workload.key_popularity", r"did you mean 'hotspot'"),
    ],
)
def test_bad_key_popularity_settings_name_the_field(make_scenario, workload, path, match):
    bad(make_scenario, path, match, workload=workload)


def test_time_of_day_accepts_clock_times_and_durations(make_scenario):
    s = make_scenario(
        workload={"arrivals": {"kind": "diurnal", "peak": 10, "trough": 1, "peak_at": "14:30", "start_at": "9 h"}}
    )
    assert s.workload.arrivals.peak_at == 14.5 * 3600 and s.workload.arrivals.start_at == 9 * 3600
    dump = s.model_dump(mode="json")["workload"]["arrivals"]
    assert (dump["peak_at"], dump["start_at"]) == ("14:30", "09:00")
    assert math.isclose(make_scenario(workload=s.model_dump(mode="json")["workload"]).workload.arrivals.peak_at, 52200)

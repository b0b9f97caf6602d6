"""Property test: after random partitions and crashes heal, every member of the database
group holds the same documents, and every acknowledged write is present, superseded by a
later write of the same key, or counted lost with its cause (design.md, invariants).

Clients use ``UseSessionContext``, so writes land on every member and partitions make
real conflicts."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from workbench.model.assembly.world import World
from workbench.scenario import scenario_from_dict

TAGS = ("A", "B", "C")
LAST_FAULT_S = 20.0
STOP_S = 25.0

partition = st.tuples(
    st.just("partition"),
    st.floats(1.0, LAST_FAULT_S - 1.0),
    st.floats(0.2, 8.0),
    st.sets(st.sampled_from(TAGS), min_size=1, max_size=2),
)
crash = st.tuples(st.just("crash"), st.floats(1.0, LAST_FAULT_S - 1.0), st.floats(0.2, 8.0), st.sampled_from(TAGS))
plans = st.lists(st.one_of(partition, crash), min_size=1, max_size=5)


def _faults(plan: list[tuple]) -> list[dict]:
    """Each item becomes an action and its undoing; a partition heals before the next starts."""
    faults: list[dict] = []
    busy_until = 0.0
    for kind, at, length, target in sorted(plan, key=lambda p: p[1]):
        end = min(at + length, LAST_FAULT_S)
        if kind == "partition":
            if at < busy_until:
                continue
            faults.append({"at": f"{at!r} s", "action": "partition", "groups": [sorted(target)]})
            faults.append({"at": f"{end!r} s", "action": "heal"})
            busy_until = end
        else:
            faults.append({"at": f"{at!r} s", "action": "crash", "node": target})
            faults.append({"at": f"{end!r} s", "action": "restart", "node": target})
    return faults


def _scenario(seed: int, faults: list[dict]):
    return scenario_from_dict(
        {
            "name": "convergence",
            "seed": seed,
            "duration": "120 s",
            "blueprint": {"extends": "three-node", "database": {"members": list(TAGS)}},
            "clients": {"count": 3, "load_balance": "UseSessionContext", "session_contexts": 30},
            "workload": {"rate": 60, "keys": 40, "mix": {"read": 0.5, "write": 0.5}, "stop": f"{STOP_S} s"},
            "faults": faults,
        },
        source="<property>",
    )


@settings(
    max_examples=int(os.environ.get("WORKBENCH_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=not os.environ.get("WORKBENCH_FUZZ"),
)
@given(seed=st.integers(0, 2**16), plan=plans)
def test_members_converge_and_every_acknowledged_write_is_accounted_for(seed: int, plan: list[tuple]) -> None:
    faults = _faults(plan)
    note(f"seed={seed}, faults={faults}")
    world = World(_scenario(seed, faults))
    world.run()
    world.finish()

    # Convergence: identical documents (version, change vector, conflict state) on every member.
    def state(inst):
        return {
            k: (d.write_id, d.cv, None if d.conflicts is None else tuple(v.write_id for v in d.conflicts))
            for k, d in inst.docs.items()
        }

    states = [state(inst) for inst in world.instances]
    assert len(states) == 3
    for other in states[1:]:
        assert other == states[0]
    converged = world.instances[0].docs

    events = world.recorder.tables()["events"]
    lost = events[events["kind"] == "write_lost"]
    lost_keys = {
        (int(k), int(w)): str(cause) for k, w, cause in zip(lost["key"], lost["write"], lost["reason"], strict=True)
    }
    assert len(lost_keys) == len(lost)
    acked = [world.ledger.entry(i) for i in range(len(world.ledger))]
    assert acked, "the run acknowledged no writes"
    for key, pos, etag, write_id in acked:
        doc = converged[key]
        if (key, write_id) in lost_keys:
            assert doc.write_id != write_id, f"write {write_id} counted lost but present"
            assert lost_keys[(key, write_id)].startswith(("conflict resolution", "no copy holds it"))
        elif doc.write_id != write_id:
            # Superseded: a later version of the key includes it.
            assert doc.cv[pos] >= etag, f"key {key}: write {write_id} vanished without being counted"

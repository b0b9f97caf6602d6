"""The kernel's run loop: SimPy's semantics, and the collector settings it borrows."""

from __future__ import annotations

import gc

import pytest
import simpy

from workbench.model.kernel import YOUNG_THRESHOLD, Timer, run_to, run_until


def _trace(env: simpy.Environment, log: list) -> None:
    def proc():
        for _ in range(3):
            yield env.timeout(0.5)
            log.append(("process", env.now))

    env.process(proc())
    for t in (0.25, 1.0, 1.0, 2.5):
        Timer(env, t, lambda t=t: log.append(("timer", env.now)))


def test_run_to_processes_the_events_simpy_would_in_the_same_order() -> None:
    ours, theirs = [], []
    env_a, env_b = simpy.Environment(), simpy.Environment()
    _trace(env_a, ours)
    _trace(env_b, theirs)
    run_to(env_a, 1.0)
    run_to(env_a, 3.0)
    env_b.run(until=1.0)
    env_b.run(until=3.0)
    assert ours == theirs and len(ours) == 7
    assert env_a.now == env_b.now == 3.0
    assert next(env_a._eid) == next(env_b._eid)  # the same count of scheduled events


def test_a_failed_event_nobody_handles_crashes_the_run_as_in_simpy() -> None:
    env = simpy.Environment()

    def boom():
        yield env.timeout(1.0)
        raise RuntimeError("boom")

    env.process(boom())
    with pytest.raises(RuntimeError, match="boom"):
        run_to(env, 2.0)
    with pytest.raises(ValueError):
        run_to(env, 0.5)  # not after the current time


def test_collector_settings_are_borrowed_for_the_run_and_given_back() -> None:
    before = gc.get_threshold()
    frozen_before = gc.get_freeze_count()
    seen = []
    env = simpy.Environment()
    Timer(env, 1.0, lambda: seen.append(gc.get_threshold()[0]))
    run_until(env, 2.0)
    assert seen == [YOUNG_THRESHOLD]
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen_before

"""The kernel: the event queue keeps SimPy's order, the run loop SimPy's semantics, and the
collector settings a run borrows are given back."""

from __future__ import annotations

import gc
import random

import pytest
import simpy

from workbench.model.kernel.environment import Environment
from workbench.model.kernel.kernel import YOUNG_THRESHOLD, Agenda, Scheduled, Timer, events_scheduled, run_to, run_until


def _trace(env: simpy.Environment, log: list, timers: bool) -> None:
    """Processes, timeouts and callbacks that tie at the same instants (priorities included).
    ``timers``: the callbacks are the kernel's Timers (else SimPy timeouts, for plain SimPy)."""

    def later(delay: float, tag: str) -> None:
        def fire(*_args: object) -> None:
            log.append((tag, env.now))

        if timers:
            Timer(env, delay, fire)
        else:
            env.timeout(delay).callbacks.append(fire)

    def proc(name: str):
        for _ in range(3):
            yield env.timeout(0.5)
            log.append((name, env.now))
            later(0.5, f"{name} timer")  # ties with the process's next step
        child = env.process(waiter(name))
        yield child
        log.append((f"{name} joined", env.now))

    def waiter(name: str):
        log.append((f"{name} child starts", env.now))  # Initialize: URGENT
        yield env.timeout(0.0)
        log.append((f"{name} child ends", env.now))

    env.process(proc("p"))
    env.process(proc("q"))
    for t in (0.25, 1.0, 1.0, 2.5, 3.0):
        later(t, "timer")


def test_the_model_environment_processes_events_in_simpys_order() -> None:
    simpys: list = []
    plain = simpy.Environment()
    _trace(plain, simpys, timers=False)
    plain.run(until=1.0)
    plain.run(until=4.0)
    scheduled = next(plain._eid)  # SimPy's count of scheduled events

    for drive in ("run_to", "env.run"):
        ours: list = []
        env = Environment()
        _trace(env, ours, timers=True)
        if drive == "run_to":
            run_to(env, 1.0)
            run_to(env, 4.0)
        else:
            env.run(until=1.0)
            env.run(until=4.0)
        assert ours == simpys and len(ours) > 20, drive
        assert env.now == plain.now == 4.0
        assert events_scheduled(env) == scheduled


def test_run_until_an_event_and_peek_behave_as_in_simpy() -> None:
    env = Environment()
    done = env.event()
    Timer(env, 2.0, lambda: done.succeed("ok"))
    assert env.peek() == 2.0
    assert env.run(until=done) == "ok"
    # SimPy puts the stopping event back (its remaining callbacks run on resume): due now.
    assert env.now == 2.0 and env.peek() == 2.0
    env.run()
    assert env.peek() == float("inf")


def test_the_agenda_pops_entries_by_time_then_priority_then_scheduling_order() -> None:
    rng = random.Random(7)
    agenda = Agenda()
    expected = []
    for i in range(2000):
        entry = Scheduled()
        entry.callbacks = ()
        at = float(rng.randrange(50))  # many ties
        priority = rng.choice((-1, 0, 1))
        agenda.push_priority(entry, at, priority)
        expected.append(((at, priority, i), entry))
    expected.sort(key=lambda pair: pair[0])
    popped = [agenda.pop() for _ in range(len(expected))]
    assert popped == [entry for _, entry in expected]
    with pytest.raises(IndexError):
        agenda.pop()


def test_cancelled_timers_are_swept_without_changing_the_order() -> None:
    env = Environment()
    fired: list = []
    timers = [Timer(env, float(i % 7), fired.append, (i,)) for i in range(200)]
    for timer in timers[::2]:
        timer.cancel()
    agenda = env.agenda
    assert len(agenda.queue) < 200  # swept at least once
    run_to(env, 10.0)
    assert fired == sorted(range(1, 200, 2), key=lambda i: (i % 7, i))
    assert events_scheduled(env) == 200 + 2  # the stop entry, and the id SimPy's stop takes


def test_a_failed_event_nobody_handles_crashes_the_run_as_in_simpy() -> None:
    env = Environment()

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
    env = Environment()
    Timer(env, 1.0, lambda: seen.append(gc.get_threshold()[0]))
    run_until(env, 2.0)
    assert seen == [YOUNG_THRESHOLD]
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == frozen_before

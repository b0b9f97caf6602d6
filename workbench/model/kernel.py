"""Kernel: the simulation environment, named random streams and cheap timers.

The per-request hot path never creates a SimPy process. It schedules
:class:`Timer` objects: a plain event carrying a callback and its arguments,
pushed straight onto the environment's queue. That is several times cheaper
than a generator process per message (``design.md``, Speed), and it is what
lets one core simulate tens of thousands of client operations per second.
"""

from __future__ import annotations

import gc
import math
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from heapq import heapify, heappop, heappush
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL, URGENT

from workbench.scenario.distributions import Constant, Distribution


class Streams:
    """Independent random streams derived from one seed, one per name.

    A stream depends only on the seed and its name, never on which other
    streams exist or the order they are created in. Changing the fault plan
    therefore leaves the workload's arrivals untouched, and two blueprints run
    with the same seed see the same arrivals (common random numbers).
    """

    def __init__(self, seed: int, prefix: str = ""):
        self.seed = int(seed)
        # Several clusters in one deployment draw from their own streams ("east/..."), so
        # two identical clusters do not fail or receive load in lockstep.
        self.prefix = prefix
        self.names: list[str] = []

    def rng(self, name: str) -> np.random.Generator:
        name = self.prefix + name
        self.names.append(name)
        key = zlib.crc32(name.encode("utf-8"))
        seq = np.random.SeedSequence(entropy=self.seed, spawn_key=(key,))
        return np.random.Generator(np.random.PCG64(seq))

    def sampler(self, name: str, dist: Distribution) -> Sampler:
        return Sampler(dist, self.rng(name))


class Sampler:
    """Draws one value at a time from a distribution, in blocks, for the hot path.

    The sequence of values depends only on the distribution, the generator and
    the block size, so a run is reproducible from its seed.
    """

    __slots__ = ("_block", "_buf", "_dist", "_i", "_rng", "constant")

    def __init__(self, dist: Distribution, rng: np.random.Generator, block: int = 4096):
        self._dist = dist
        self._rng = rng
        self._block = block
        self._buf: list[float] = []
        self._i = 0
        self.constant = dist.value if isinstance(dist, Constant) else None

    @property
    def dist(self) -> Distribution:
        return self._dist

    def __call__(self) -> float:
        i = self._i
        if i >= len(self._buf):
            if self.constant is not None:
                return self.constant
            self._buf = self._dist.sample(self._rng, self._block).tolist()
            i = 0
        self._i = i + 1
        return self._buf[i]


def _fire(timer: Timer) -> None:
    timer.fn(*timer.args)


def _noop(*_args: Any) -> None:
    return None


# Every timer's callback list: ``Environment.step`` only iterates it and then sets the
# timer's own attribute to None, so one shared tuple saves a list allocation per timer.
_FIRE = (_fire,)


# Cancelled timers stay in the event queue until their time comes (a heap cannot drop an
# entry cheaply), and the replication channels cancel one or two 15-second timers per
# request: left alone, the queue holds ~16k dead entries on the hot path, and every push
# and pop pays for its depth. Once at least this many are dead, and they are at least
# half the queue, it is rebuilt without them. The live part is small (~15 entries on the hot
# path), so the threshold is too: at 1024 the queue averaged ~490 entries, 97 % of them dead,
# and the heap's tuple comparisons were a fifth of the instructions per operation. A rebuild
# costs about two entries looked at per cancelled timer, whatever the threshold.
COMPACT_AFTER = 8


class Scheduled:
    """The model's own entries in the event queue: timers, messages, worker and disk jobs.

    Each quacks like a triggered SimPy event as far as ``Environment.step`` cares
    (``callbacks`` and ``_ok``), without the cost of a full ``Event``. They never fail, so
    :func:`run_to` fires them without SimPy's failure check, and the compiled model reads
    their callbacks directly.
    """

    __slots__ = ("callbacks",)
    _ok = True  # a class constant: step() only reads it
    callbacks: tuple | None


class Timer(Scheduled):
    """A callback scheduled ``delay`` seconds from now; ``cancel()`` makes it a no-op."""

    __slots__ = ("args", "env", "fn")

    def __init__(self, env: simpy.Environment, delay: float, fn: Callable[..., Any], args: tuple = ()):
        self.callbacks = _FIRE
        self.fn = fn
        self.args = args
        self.env = env
        # Environment.schedule inlined: this line runs for every message in the model.
        heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), self))  # type: ignore[attr-defined, misc]

    def cancel(self) -> None:
        if self.fn is _noop or self.callbacks is None:
            self.fn = _noop
            return  # cancelled before, or already fired (step() cleared its callbacks): not queued
        self.fn = _noop
        env = self.env
        try:
            dead = env._dead_timers + 1  # type: ignore[attr-defined]
        except AttributeError:  # the environment's first cancelled timer
            dead = 1
        queue = env._queue  # type: ignore[attr-defined]
        if dead >= COMPACT_AFTER and 2 * dead >= len(queue):
            _drop_cancelled(queue)
            dead = 0
        env._dead_timers = dead  # type: ignore[attr-defined]


def _drop_cancelled(queue: list) -> None:
    """Rebuild the event queue without its cancelled timers, in place.

    Nothing else changes: an entry's key (time, priority, event id) is unique, so the
    queue pops the remaining events in exactly the order it would have; and the event
    count (``events_scheduled``) is taken when an event is scheduled, not when it fires.
    """
    queue[:] = [entry for entry in queue if not (type(entry[3]) is Timer and entry[3].fn is _noop)]
    heapify(queue)


class Recurring(Scheduled):
    """A reusable timer for a callback with at most one firing pending at a time (an arrival
    process re-armed from its own callback): no object and no argument tuple per firing.

    ``fn`` is the event's own callback, so it receives this object as its one argument.
    Scheduling it again while a firing is pending would make that firing fail in SimPy.
    """

    __slots__ = ("_callbacks", "env")

    def __init__(self, env: simpy.Environment, fn: Callable[[Recurring], None]):
        self.env = env
        self._callbacks = (fn,)
        self.callbacks = None

    def schedule(self, delay: float) -> None:
        """Fire ``delay`` seconds from now (the same queue entry a :class:`Timer` would make)."""
        self.callbacks = self._callbacks
        env = self.env
        heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), self))  # type: ignore[attr-defined, misc]


def _check_simpy_internals() -> None:
    env = simpy.Environment()
    for name in ("_queue", "_now", "_eid"):
        if not hasattr(env, name):  # pragma: no cover - guards a SimPy upgrade
            msg = f"simpy {simpy.__version__} lacks Environment.{name}; Timer needs updating"
            raise ImportError(msg)


_check_simpy_internals()


def events_scheduled(env: simpy.Environment) -> int:
    """How many events the environment has scheduled so far (a speed measure)."""
    # SimPy numbers every scheduled event from one counter; peeking at it costs nothing.
    eid = env._eid  # type: ignore[attr-defined]
    value = next(eid)
    return value


class Grid:
    """The instants ``anchor + k * period`` of a periodic timer, computed rather than
    accumulated (no drift from adding ``period`` over and over), so that a timer stopped
    while the cluster is idle (Quiescence) resumes on exactly the instants it would have
    reached. ``Timer(env, grid.at() - env.now, ...)`` lands exactly on ``grid.at()`` once
    ``env.now`` is at least half of it (the subtraction is then exact)."""

    __slots__ = ("anchor", "k", "period")

    def __init__(self, anchor: float, period: float, k: int = 0):
        self.anchor = anchor
        self.period = period
        self.k = k

    def at(self) -> float:
        return self.anchor + self.k * self.period

    def step(self) -> float:
        self.k += 1
        return self.anchor + self.k * self.period

    def catch_up(self, now: float) -> int:
        """Move to the first instant at or after ``now``; returns how many were passed."""
        if self.at() >= now:
            return 0
        k = max(self.k, math.ceil((now - self.anchor) / self.period))
        while self.anchor + k * self.period < now:  # the division can round down
            k += 1
        skipped = k - self.k
        self.k = k
        return skipped


def run_until(
    env: simpy.Environment, end: float, progress: Callable[[float], None] | None = None, steps: int = 100
) -> None:
    """Run ``env`` to ``end``, calling ``progress(now)`` every 1/steps of the way (if given)."""
    with _rare_collections():
        if progress is None:
            run_to(env, end)
            return
        for i in range(1, steps + 1):
            run_to(env, end * i / steps)
            progress(env.now)


def run_to(env: simpy.Environment, at: float) -> None:
    """``env.run(until=at)`` with SimPy's ``step`` inlined into the loop.

    The same events in the same order: the stop event is scheduled exactly as SimPy
    schedules its own (URGENT, so it comes before anything else at ``at``), and each
    event is processed as ``Environment.step`` does, failures included. Only the
    method call per event is gone, which on the hot path is a tenth of the time.
    """
    now = env._now  # type: ignore[attr-defined]
    if at <= now:
        raise ValueError(f"until ({at}) must be greater than the current simulation time")
    stop = simpy.Event(env)
    stop._ok = True
    stop._value = None
    env.schedule(stop, URGENT, at - now)
    queue: list = env._queue  # type: ignore[attr-defined]
    pop = heappop
    while True:
        try:
            when, _, _, event = pop(queue)
        except IndexError:  # pragma: no cover - the stop event is always queued
            raise RuntimeError(f'No scheduled events left but "until" event was not triggered: {stop}') from None
        env._now = when  # type: ignore[attr-defined]
        if event is stop:
            stop.callbacks = None
            # SimPy re-schedules its stop event once it has fired; take the event id it would,
            # so the events-scheduled count stays the same.
            next(env._eid)  # type: ignore[attr-defined]
            return
        if isinstance(event, Scheduled):
            callbacks = event.callbacks
            event.callbacks = None
            for callback in callbacks:  # type: ignore[union-attr]  # queued, so set
                callback(event)
            continue
        handlers: Any = event.callbacks  # a SimPy event's: a list
        event.callbacks = None
        for handler in handlers:
            handler(event)
        if not event._ok and not hasattr(event, "_defused"):
            # Environment.step: a failed event nobody handled crashes the run, with a fresh traceback.
            failure = event._value
            exc = type(failure)(*failure.args)
            exc.__cause__ = failure
            raise exc


# The run allocates a few objects per event (messages, jobs, argument tuples), and nearly all
# die young. CPython's default collects the young generation every 700 net allocations and each
# collection walks every young object: about 8 % of the hot path. During a run the model and its
# setup are frozen out of the collector, and the young generation is collected every
# YOUNG_THRESHOLD allocations instead. The model keeps no weak references and no finalisers, so
# when the collector runs cannot change a result.
YOUNG_THRESHOLD = 50_000
_running = 0  # runs in progress in this process (a run inside a run leaves the settings alone)


@contextmanager
def _rare_collections() -> Iterator[None]:
    global _running
    if _running:
        yield
        return
    saved = gc.get_threshold()
    _running += 1
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, saved[1], saved[2])
    try:
        yield
    finally:
        gc.set_threshold(*saved)
        gc.unfreeze()
        _running -= 1

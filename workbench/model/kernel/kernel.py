"""Kernel: the simulation environment, its event queue, named random streams and cheap timers.

The per-request hot path never creates a SimPy process. It schedules
:class:`Timer` objects and the model's other :class:`Scheduled` entries (messages,
worker and disk jobs): plain objects carrying a callback, pushed straight onto the
environment's :class:`Agenda`. That is several times cheaper than a generator process
per message (``design.md``, Speed), and it is what lets one core simulate tens of
thousands of client operations per second.

The model runs in a :class:`workbench.model.kernel.environment.Environment`, a
``simpy.Environment`` whose queue is that agenda: SimPy's own events (processes,
timeouts) are scheduled on it too, wrapped, in the same order SimPy keeps (time, then
priority, then the order they were scheduled in).
"""

from __future__ import annotations

import gc
import math
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from heapq import heapify, heappop, heappush
from typing import Any, cast

import numpy as np
import simpy
from simpy.core import Infinity, StopSimulation
from simpy.events import NORMAL, URGENT, Event, EventPriority

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
        """The generator of stream ``name`` (PCG64, seeded from the seed and a CRC-32 of the
        prefixed name); the name is remembered in ``names``."""
        name = self.prefix + name
        self.names.append(name)
        key = zlib.crc32(name.encode("utf-8"))
        seq = np.random.SeedSequence(entropy=self.seed, spawn_key=(key,))
        return np.random.Generator(np.random.PCG64(seq))

    def sampler(self, name: str, dist: Distribution) -> Sampler:
        """A :class:`Sampler` drawing ``dist`` from stream ``name``."""
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
        """The distribution it draws from."""
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
    """An entry of the event queue (:class:`Agenda`): the model's timers, messages, worker
    and disk jobs, and a wrapper for SimPy's own events.

    Firing one calls each of its ``callbacks`` with the entry itself, once; ``callbacks`` is
    None after (or before) that. ``at`` is when it fires and ``order`` breaks ties as SimPy
    does: by priority, then by when it was scheduled (:meth:`Agenda.push`).
    """

    __slots__ = ("at", "callbacks", "order")
    callbacks: tuple | None
    at: float
    order: int


# SimPy orders events by (time, priority, event id). Priority and id are folded into one
# number, ``order``, so that the heap compares two native numbers per entry instead of tuples.
# Priorities are -1 (a run stopped mid-event), URGENT (0) and NORMAL (1); ids stay below 2**50
# (at the hot path's 700,000 events per wall second, that is fifty years of running).
_ORDER_SHIFT = 50
_NORMAL_ORDER = (NORMAL + 1) << _ORDER_SHIFT


class Agenda:
    """The event queue: a binary heap of :class:`Scheduled` entries, earliest ``at`` first,
    ties in ``order``. Every (at, order) is unique, so entries leave in exactly one order:
    SimPy's, whatever the heap's internal layout.

    ``now`` is the simulation time (``Environment.now`` reads it) and ``eid`` the count of
    events scheduled so far (SimPy's event ids).
    """

    __slots__ = ("dead", "eid", "now", "queue")

    def __init__(self, now: float = 0.0):
        self.queue: list[Scheduled] = []
        self.now = now
        self.eid = 0
        self.dead = 0  # cancelled timers still in the queue (Timer.cancel)

    def push(self, entry: Scheduled, at: float) -> None:
        """Schedule ``entry`` at ``at`` with SimPy's NORMAL priority (its callbacks set)."""
        entry.at = at
        entry.order = _NORMAL_ORDER + self.eid
        self.eid += 1
        self._sift_up(entry)

    def push_priority(self, entry: Scheduled, at: float, priority: int) -> None:
        """Schedule ``entry`` at ``at`` with a SimPy priority (URGENT 0, NORMAL 1, -1 for a stopped run's leftovers)."""
        entry.at = at
        entry.order = ((priority + 1) << _ORDER_SHIFT) + self.eid
        self.eid += 1
        self._sift_up(entry)

    def _sift_up(self, entry: Scheduled) -> None:
        queue = self.queue
        pos = len(queue)
        queue.append(entry)
        at = entry.at
        order = entry.order
        while pos > 0:
            up = (pos - 1) >> 1
            parent = queue[up]
            if at < parent.at or (at == parent.at and order < parent.order):
                queue[pos] = parent
                pos = up
            else:
                break
        queue[pos] = entry

    def pop(self) -> Scheduled:
        """The earliest entry, taken out of the queue. IndexError when it is empty."""
        queue = self.queue
        last = queue.pop()
        if not queue:
            return last
        first = queue[0]
        self._sift_down(last, 0)
        return first

    def _sift_down(self, entry: Scheduled, pos: int) -> None:
        queue = self.queue
        n = len(queue)
        at = entry.at
        order = entry.order
        child = 2 * pos + 1
        while child < n:
            low = queue[child]
            right = child + 1
            if right < n:
                other = queue[right]
                if other.at < low.at or (other.at == low.at and other.order < low.order):
                    child = right
                    low = other
            if low.at < at or (low.at == at and low.order < order):
                queue[pos] = low
                pos = child
                child = 2 * pos + 1
            else:
                break
        queue[pos] = entry

    def peek(self) -> float:
        """When the earliest entry fires (infinity if the queue is empty)."""
        return self.queue[0].at if self.queue else Infinity

    def drop_cancelled(self) -> None:
        """Rebuild the queue without its cancelled timers, in place.

        Nothing else changes: the remaining entries leave in exactly the order they would
        have (their (at, order) keys are unique), and the event count (``eid``) is taken
        when an event is scheduled, not when it fires.
        """
        queue = self.queue
        queue[:] = [entry for entry in queue if not (type(entry) is Timer and cast(Timer, entry).fn is _noop)]
        for pos in range(len(queue) // 2 - 1, -1, -1):
            self._sift_down(queue[pos], pos)
        self.dead = 0


def _use_heapq_when_interpreted() -> None:
    """Run as plain Python, a heap written in Python is slower than heapq's, which is C: the
    interpreted agenda keeps (at, order, entry) tuples on a heapq heap instead. The order is
    the same, since (at, order) is unique; only the compiled model uses the native heap."""

    def push(self: Agenda, entry: Scheduled, at: float) -> None:
        """heapq version of :meth:`Agenda.push`."""
        entry.at = at
        entry.order = order = _NORMAL_ORDER + self.eid
        self.eid += 1
        queue: list = self.queue
        heappush(queue, (at, order, entry))

    def push_priority(self: Agenda, entry: Scheduled, at: float, priority: int) -> None:
        """heapq version of :meth:`Agenda.push_priority`."""
        entry.at = at
        entry.order = order = ((priority + 1) << _ORDER_SHIFT) + self.eid
        self.eid += 1
        queue: list = self.queue
        heappush(queue, (at, order, entry))

    def pop(self: Agenda) -> Scheduled:
        """heapq version of :meth:`Agenda.pop`."""
        queue: list = self.queue
        return heappop(queue)[2]

    def peek(self: Agenda) -> float:
        """heapq version of :meth:`Agenda.peek`."""
        queue: list = self.queue
        return queue[0][0] if queue else Infinity

    def drop_cancelled(self: Agenda) -> None:
        """heapq version of :meth:`Agenda.drop_cancelled`."""
        queue: list = self.queue
        queue[:] = [item for item in queue if not (type(item[2]) is Timer and item[2].fn is _noop)]
        heapify(queue)
        self.dead = 0

    for name, method in (
        ("push", push),
        ("push_priority", push_priority),
        ("pop", pop),
        ("peek", peek),
        ("drop_cancelled", drop_cancelled),
    ):
        setattr(Agenda, name, method)


class SimPyEvent(Scheduled):
    """A SimPy event (a process step, a timeout...) in the agenda."""

    __slots__ = ("event",)

    def __init__(self, event: Event):
        self.event = event
        self.callbacks = _SIMPY


def _fire_simpy(entry: SimPyEvent) -> None:
    """``simpy.Environment.step`` for one SimPy event, failures included."""
    event: Any = entry.event
    callbacks = event.callbacks
    event.callbacks = None
    for callback in callbacks:
        try:
            callback(event)
        except StopSimulation:
            # Environment.run(until=...) stops here: the event's other callbacks run when
            # the simulation resumes, as SimPy does.
            event.callbacks = callbacks[callbacks.index(callback) + 1 :]
            event.env.schedule(event, EventPriority(-1))
            raise
    if not event._ok and not hasattr(event, "_defused"):
        # A failed event nobody handled crashes the run, with a fresh traceback.
        failure = event._value
        exc = type(failure)(*failure.args)
        exc.__cause__ = failure
        raise exc


_SIMPY = (_fire_simpy,)


class Timer(Scheduled):
    """A callback scheduled ``delay`` seconds from now; ``cancel()`` makes it a no-op."""

    __slots__ = ("agenda", "args", "fn")

    def __init__(self, env: simpy.Environment, delay: float, fn: Callable[..., Any], args: tuple = ()):
        self.callbacks = _FIRE
        self.fn = fn
        self.args = args
        agenda: Agenda = env.agenda  # type: ignore[attr-defined]
        self.agenda = agenda
        agenda.push(self, agenda.now + delay)

    def cancel(self) -> None:
        """Make the timer a no-op. It stays in the queue until its time (counted in
        ``Agenda.dead``), and the queue is compacted once enough dead timers make up half of it."""
        if self.fn is _noop or self.callbacks is None:
            self.fn = _noop
            return  # cancelled before, or already fired (step() cleared its callbacks): not queued
        self.fn = _noop
        agenda = self.agenda
        agenda.dead += 1
        if agenda.dead >= COMPACT_AFTER and 2 * agenda.dead >= len(agenda.queue):
            agenda.drop_cancelled()


class Recurring(Scheduled):
    """A reusable timer for a callback with at most one firing pending at a time (an arrival
    process re-armed from its own callback): no object and no argument tuple per firing.

    ``fn`` is the entry's own callback, so it receives this object as its one argument.
    Scheduling it again while a firing is pending would queue it twice.
    """

    __slots__ = ("_callbacks", "agenda")

    def __init__(self, env: simpy.Environment, fn: Callable[[Recurring], None]):
        self.agenda: Agenda = env.agenda  # type: ignore[attr-defined]
        self._callbacks = (fn,)
        self.callbacks = None

    def schedule(self, delay: float) -> None:
        """Fire ``delay`` seconds from now (the same queue entry a :class:`Timer` would make)."""
        self.callbacks = self._callbacks
        agenda = self.agenda
        agenda.push(self, agenda.now + delay)


def events_scheduled(env: simpy.Environment) -> int:
    """How many events the environment has scheduled so far (a speed measure)."""
    agenda: Agenda = env.agenda  # type: ignore[attr-defined]
    return agenda.eid


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
        """The current instant of the grid."""
        return self.anchor + self.k * self.period

    def step(self) -> float:
        """Move to the next instant and return it."""
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
    """``env.run(until=at)``, with ``Environment.step`` inlined into the loop.

    The same events in the same order: the stop entry is scheduled as SimPy schedules its
    own stop event (URGENT, so it comes before anything else at ``at``), and each entry is
    fired as ``step`` fires it, SimPy's events with their failure check (``_fire_simpy``).
    """
    agenda: Agenda = env.agenda  # type: ignore[attr-defined]
    if at <= agenda.now:
        raise ValueError(f"until ({at}) must be greater than the current simulation time")
    stop = Scheduled()
    stop.callbacks = ()
    agenda.push_priority(stop, at, URGENT)
    while True:
        try:
            entry = agenda.pop()
        except IndexError:  # pragma: no cover - the stop entry is always queued
            raise RuntimeError(f"No scheduled events left but the run did not reach {at}") from None
        agenda.now = entry.at
        if entry is stop:
            # SimPy re-schedules its stop event once it has fired; take the event id it would,
            # so the events-scheduled count stays the same.
            agenda.eid += 1
            return
        callbacks = entry.callbacks
        entry.callbacks = None
        for callback in callbacks:  # type: ignore[union-attr]  # queued, so set
            callback(entry)


# The run allocates a few objects per event (messages, jobs, argument tuples), and nearly all
# die young. CPython's default collects the young generation every 700 net allocations and each
# collection walks every young object: about 8 % of the hot path. During a run the young
# generation is collected every YOUNG_THRESHOLD allocations instead, and the caller's setting
# comes back when the run ends. (Freezing the heap out of the collector as well saved another
# 2 % but moves every object of the process, a notebook kernel's too, into the permanent
# generation: not a thing a library does to its caller.) The model keeps no weak references and
# no finalisers, so when the collector runs cannot change a result.
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
    gc.set_threshold(YOUNG_THRESHOLD, saved[1], saved[2])
    try:
        yield
    finally:
        gc.set_threshold(*saved)
        _running -= 1


if __file__.endswith(".py"):  # running from source (a compiled kernel is an extension module)
    _use_heapq_when_interpreted()

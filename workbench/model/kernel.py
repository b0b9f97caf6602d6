"""Kernel: the simulation environment, named random streams and cheap timers.

The per-request hot path never creates a SimPy process. It schedules
:class:`Timer` objects: a plain event carrying a callback and its arguments,
pushed straight onto the environment's queue. That is several times cheaper
than a generator process per message (``design.md``, Speed), and it is what
lets one core simulate tens of thousands of client operations per second.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from heapq import heappush
from typing import Any

import numpy as np
import simpy
from simpy.events import NORMAL

from workbench.scenario.distributions import Distribution, Sampler


class Streams:
    """Independent random streams derived from one seed, one per name.

    A stream depends only on the seed and its name, never on which other
    streams exist or the order they are created in. Changing the fault plan
    therefore leaves the workload's arrivals untouched, and two blueprints run
    with the same seed see the same arrivals (common random numbers).
    """

    def __init__(self, seed: int):
        self.seed = int(seed)
        self.names: list[str] = []

    def rng(self, name: str) -> np.random.Generator:
        self.names.append(name)
        key = zlib.crc32(name.encode("utf-8"))
        seq = np.random.SeedSequence(entropy=self.seed, spawn_key=(key,))
        return np.random.Generator(np.random.PCG64(seq))

    def sampler(self, name: str, dist: Distribution) -> Sampler:
        return Sampler(dist, self.rng(name))


def _fire(timer: Timer) -> None:
    timer.fn(*timer.args)


def _noop(*_args: Any) -> None:
    return None


class Timer:
    """A callback scheduled ``delay`` seconds from now; ``cancel()`` makes it a no-op.

    Quacks like a triggered SimPy event as far as ``Environment.step`` cares
    (``callbacks`` and ``_ok``), without the cost of a full ``Event``.
    """

    __slots__ = ("_ok", "args", "callbacks", "fn")

    def __init__(self, env: simpy.Environment, delay: float, fn: Callable[..., Any], args: tuple = ()):
        self._ok = True
        self.callbacks = [_fire]
        self.fn = fn
        self.args = args
        # Environment.schedule inlined: this line runs for every message in the model.
        heappush(env._queue, (env._now + delay, NORMAL, next(env._eid), self))  # type: ignore[attr-defined]

    def cancel(self) -> None:
        self.fn = _noop


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

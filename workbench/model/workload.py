"""Workload, first cut: open-loop Poisson arrivals with a read/write/query mix.

Arrivals are drawn in blocks from their own named streams (gaps, op kinds,
keys, sizes, clients), so the same seed gives the same sequence of operations
whatever the blueprint or fault plan. Each arrival is one :class:`Timer`, not a
process. Keys are uniform or bounded Zipf(s) over ``keys`` documents.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from workbench.model.kernel import Streams, Timer

if TYPE_CHECKING:
    from workbench.model.world import World

BLOCK = 4096


def zipf_cdf(n: int, s: float) -> np.ndarray:
    """CDF of the bounded Zipf law P(rank k) ∝ 1/k^s, k = 1..n."""
    weights = np.arange(1, n + 1, dtype=np.float64) ** (-s)
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return cdf


class OpenLoopWorkload:
    def __init__(self, world: World, streams: Streams):
        self.world = world
        self.env = world.env
        spec = world.scenario.workload
        self.spec = spec
        self.until = spec.stop if spec.stop is not None else world.scenario.duration
        self._gaps = streams.rng("workload.arrivals")
        self._kinds = streams.rng("workload.kinds")
        self._keys = streams.rng("workload.keys")
        self._sizes = streams.rng("workload.sizes")
        self._clients = streams.rng("workload.clients")
        mix = spec.mix
        self._thresholds = np.cumsum([mix.read, mix.write, mix.query, mix.cluster_tx, mix.compare_exchange])
        self._cdf = zipf_cdf(spec.keys, spec.zipf_exponent) if spec.key_popularity == "zipf" else None
        self._buf: list[tuple[float, int, int, float, int]] = []
        self._i = 0
        self.generated = 0

    def start(self) -> None:
        self._schedule_next()

    def _refill(self) -> None:
        spec = self.spec
        gaps = self._gaps.exponential(1.0 / spec.rate, BLOCK)
        kinds = np.minimum(np.searchsorted(self._thresholds, self._kinds.random(BLOCK), side="right"), 5)
        if self._cdf is None:
            keys = self._keys.integers(0, spec.keys, BLOCK)
        else:
            keys = np.minimum(np.searchsorted(self._cdf, self._keys.random(BLOCK)), spec.keys - 1)
        sizes = spec.document_size.sample(self._sizes, BLOCK)
        clients = self._clients.integers(0, len(self.world.clients), BLOCK)
        self._buf = list(
            zip(gaps.tolist(), kinds.tolist(), keys.tolist(), sizes.tolist(), clients.tolist(), strict=True)
        )
        self._i = 0

    def _schedule_next(self) -> None:
        if self._i >= len(self._buf):
            self._refill()
        item = self._buf[self._i]
        self._i += 1
        if self.env.now + item[0] < self.until:
            Timer(self.env, item[0], self._arrive, item)

    def _arrive(self, _gap: float, kind: int, key: int, size: float, client: int) -> None:
        self.generated += 1
        self.world.clients[client].submit(kind, key, size)
        self._schedule_next()

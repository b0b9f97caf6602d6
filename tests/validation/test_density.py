"""The cost of density (issue 23, item 2): the page-cache model against an LRU cache, and the
defaults against the book's statements about databases per node.

**Validation.** Che's approximation (Che, Tung and Wang, IEEE JSAC 2002) predicts the hit ratio
of an LRU cache under independent requests. Here it is checked against an exact LRU simulation
of the same request streams: uniform, Zipf and several databases sharing one cache. The
tolerance is 0.015 absolute. The approximation is known to be within about 1 % for these
laws (Fricker, Robert and Roberts, ITC 2012), and the simulations' own error at 400,000
requests is about 0.002.

**Calibration, not validation.** The book gives no numbers beyond "you shouldn't host more than
a hundred or so active databases per machine" (Ch07) and "customers packing 800-900 databases
into a single server ... each of those databases was quite small, 1-5GB in size ... the
server was struggling" (Ch15). ``hardware.memory_per_database`` was chosen so that the
defaults reproduce both. The checks below pin that choice. If the defaults change, they say
whether the book's picture still holds.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

from workbench.model.cluster.memory import AccessProfile, cache_documents, hit_ratios
from workbench.scenario.schema import Hardware


def _lru(streams: list[tuple[np.ndarray, float, int]], capacity: int, n: int = 400_000) -> list[float]:
    """Exact LRU: requests drawn from each (probabilities, rate, offset) stream in proportion
    to the rates; each stream's hit ratio after a warm-up."""
    rng = np.random.default_rng(7)
    rates = np.array([r for _, r, _ in streams])
    which = rng.choice(len(streams), size=n, p=rates / rates.sum())
    keys = np.empty(n, dtype=np.int64)
    for s, (p, _, offset) in enumerate(streams):
        mine = which == s
        keys[mine] = offset + rng.choice(len(p), size=int(mine.sum()), p=p)
    cache: OrderedDict[int, None] = OrderedDict()
    hits = np.zeros(len(streams))
    seen = np.zeros(len(streams))
    warm = n // 8
    for i in range(n):
        k = int(keys[i])
        if k in cache:
            cache.move_to_end(k)
            hit = True
        else:
            cache[k] = None
            if len(cache) > capacity:
                cache.popitem(last=False)
            hit = False
        if i >= warm:
            seen[which[i]] += 1
            hits[which[i]] += hit
    return list(hits / seen)


def _zipf(n: int, s: float) -> np.ndarray:
    w = np.arange(1, n + 1, dtype=float) ** -s
    return w / w.sum()


@pytest.mark.parametrize(("capacity", "exponent"), [(100, 0.99), (300, 0.99), (200, 0.6)])
def test_one_database_matches_an_lru_cache(capacity, exponent):
    model = hit_ratios(capacity, [AccessProfile.zipf(2000, 1.0, exponent)])[0]
    simulated = _lru([(_zipf(2000, exponent), 1.0, 0)], capacity)[0]
    assert model == pytest.approx(simulated, abs=0.015)
    uniform = hit_ratios(capacity, [AccessProfile.uniform(2000, 1.0)])[0]
    assert uniform == pytest.approx(capacity / 2000, abs=1e-9)  # uniform: exactly the share that fits


def test_databases_sharing_a_cache_match_an_lru_cache():
    """A busy database keeps more of its documents cached than a quiet one of the same size."""
    profiles = [AccessProfile.zipf(1500, 3.0, 0.8), AccessProfile.zipf(1500, 1.0, 0.8), AccessProfile.uniform(800, 0.5)]
    model = hit_ratios(600, profiles)
    simulated = _lru(
        [(_zipf(1500, 0.8), 3.0, 0), (_zipf(1500, 0.8), 1.0, 1500), (np.full(800, 1 / 800), 0.5, 3000)], 600
    )
    assert model == pytest.approx(simulated, abs=0.015)
    assert model[0] > model[1] > model[2]


def test_everything_that_fits_hits_and_no_room_misses():
    assert hit_ratios(5000, [AccessProfile.uniform(2000, 1.0), AccessProfile.zipf(3000, 1.0, 1.0)]) == [1.0, 1.0]
    assert hit_ratios(0, [AccessProfile.uniform(2000, 1.0)]) == [0.0]


def _book_node(databases: int) -> float:
    """The hit ratio on a default server hosting ``databases`` active databases of 2 GB each
    (documents of 2 KiB, Zipf 0.99 within each, equal load)."""
    hw = Hardware()
    size = 2048.0
    keys = int(2e9 / size)
    capacity = cache_documents(hw.memory, hw.page_cache_share, hw.memory_per_database, databases, size)
    profile = AccessProfile.zipf(keys, 1.0, 0.99)
    return hit_ratios(capacity, [profile] * databases)[0]


def test_calibration_a_hundred_active_databases_per_node_keep_most_requests_in_memory():
    """Ch07: "a hundred or so active databases per machine" is fine."""
    assert _book_node(100) > 0.75
    assert _book_node(10) > _book_node(100)


def test_calibration_eight_to_nine_hundred_small_databases_leave_no_page_cache():
    """Ch15: 800-900 databases of 1-5 GB, all accessed, and the server struggled: their own
    memory takes all of it, and every request reads the disk."""
    assert _book_node(800) == 0.0 and _book_node(900) == 0.0
    assert _book_node(300) < _book_node(100)

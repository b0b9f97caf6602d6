"""A node's memory: the page cache its databases compete for (issue 23, item 2).

RavenDB's storage (Voron) memory-maps its data files, so a document that is not in the page
cache costs a disk read before a request can use it. Every database on a node competes for the
same memory: "the more databases you have on a single node ... If all these databases are
active at once, they are going to use memory" (the book, Ch15, "Ideal number of databases per
node"). Two things take it:

- each *active* database's own memory (``hardware.memory_per_database``): scratch buffers,
  journal buffers, its transaction merger and replication handlers (Voron's defaults let the
  journal grow to 256 MB and the scratch buffers to 256 MB per storage environment; an active
  database with a steady trickle of writes holds a fraction of that);
- the page cache, which gets what is left of ``memory * page_cache_share``.

The hit ratio of each database's copy comes from Che's approximation of an LRU cache (Che, Tung
and Wang, IEEE JSAC 2002; Fricker, Robert and Roberts, ITC 2012): with a *characteristic time*
``T`` such that the documents requested at least once in the last ``T`` seconds exactly fill
the cache, a document requested at rate ``r`` is in the cache with probability
``1 - exp(-r T)``. The requests reaching a copy are its database's reads and writes (a member
applies every write, replicated or its own). Each database's share of the load (``load``), its
read/write mix and its key popularity (uniform, Zipf or hotspot, as the workload draws keys)
give each document's relative rate. Only relative rates matter, so the absolute request rate is
not needed. Documents are the cache's items, of the workload's mean document size. When every
document fits, every request hits.

This is a steady-state model: a restarted node's cold cache, and the time a new copy takes to
warm up, are not modelled. What a miss costs (a read of ``hardware.page_read`` on one of
``hardware.read_parallelism`` disk queues) is the server's part (``node.Server``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Zipf ranks are grouped into this many bins per database (exact for the first ranks).
ZIPF_BINS = 192


@dataclass(frozen=True)
class AccessProfile:
    """How one database's documents are requested, for the cache model: its number of
    documents, the relative request rate of one copy (``weight``), and its popularity as
    ``(documents, probability of each)`` classes whose probabilities sum to 1 over the
    documents."""

    keys: int
    weight: float
    classes: tuple[tuple[float, float], ...]

    @classmethod
    def uniform(cls, keys: int, weight: float) -> AccessProfile:
        """Every document equally likely."""
        return cls(keys, weight, ((float(keys), 1.0 / keys),))

    @classmethod
    def hotspot(cls, keys: int, weight: float, hot_keys: int, share: float) -> AccessProfile:
        """``hot_keys`` documents get ``share`` of the requests, the rest the remainder."""
        cold = keys - hot_keys
        classes = [(float(hot_keys), share / hot_keys)]
        if cold > 0:
            classes.append((float(cold), (1.0 - share) / cold))
        return cls(keys, weight, tuple(classes))

    @classmethod
    def zipf(cls, keys: int, weight: float, exponent: float) -> AccessProfile:
        """P(rank k) ~ 1/k^s over ``keys`` ranks, grouped into bins (sums by the integral of
        x^-s over each bin's ranks, exact enough past the first ranks, which are bins of one)."""
        edges = np.unique(np.round(np.geomspace(1, keys + 1, ZIPF_BINS + 1)).astype(np.int64))
        edges = np.concatenate(([1], edges[edges > 1])) if edges[0] != 1 else edges
        if edges[-1] != keys + 1:
            edges = np.concatenate((edges[edges < keys + 1], [keys + 1]))
        lo, hi = edges[:-1].astype(float), edges[1:].astype(float)
        counts = hi - lo
        if abs(exponent - 1.0) < 1e-12:
            mass = np.log((hi - 0.5) / (lo - 0.5))
        else:
            mass = ((hi - 0.5) ** (1 - exponent) - (lo - 0.5) ** (1 - exponent)) / (1 - exponent)
        single = counts == 1
        mass[single] = lo[single] ** (-exponent)  # exact for ranks on their own
        mass /= mass.sum()
        return cls(keys, weight, tuple(zip(counts.tolist(), (mass / counts).tolist(), strict=True)))


def hit_ratios(capacity_documents: float, profiles: list[AccessProfile]) -> list[float]:
    """Che's approximation of an LRU cache holding ``capacity_documents`` documents, shared by
    the copies whose requests ``profiles`` describe: each copy's hit ratio (1 where every
    document fits; 0 where there is no room at all)."""
    if not profiles:
        return []
    total = sum(p.keys for p in profiles)
    if total <= capacity_documents:
        return [1.0] * len(profiles)
    if capacity_documents <= 0:
        return [0.0] * len(profiles)
    weight = sum(p.weight for p in profiles)
    counts = np.concatenate([np.array([c for c, _ in p.classes]) for p in profiles])
    # Each class's per-document request rate, relative (the profiles' weights sum to 1).
    rates = np.concatenate([np.array([q for _, q in p.classes]) * (p.weight / weight) for p in profiles])
    active = rates > 0
    idle_docs = float(counts[~active].sum())  # never requested: never cached

    def filled(t: float) -> float:
        """Documents in the cache at characteristic time ``t`` (requested within the last ``t``)."""
        return float((counts[active] * -np.expm1(-rates[active] * t)).sum())

    if total - idle_docs <= capacity_documents:
        return [1.0 if p.weight > 0 else 0.0 for p in profiles]
    # filled(t) grows from 0 to the requested documents: bisect on log t.
    lo, hi = 1e-12, 1.0
    while filled(hi) < capacity_documents:
        hi *= 2.0
    for _ in range(200):
        mid = math.sqrt(lo * hi)
        if filled(mid) < capacity_documents:
            lo = mid
        else:
            hi = mid
        if hi / lo < 1 + 1e-12:
            break
    t = hi
    out = []
    for p in profiles:
        if p.weight <= 0:
            out.append(0.0)
            continue
        r = np.array([q for _, q in p.classes]) * (p.weight / weight)
        c = np.array([c for c, _ in p.classes])
        probability = np.array([q for _, q in p.classes])
        out.append(float((c * probability * -np.expm1(-r * t)).sum()))
    return out


def cache_documents(
    memory: float, share: float, per_database: float, active_copies: int, document_size: float
) -> float:
    """How many documents a node's page cache holds: the memory left to it after each active
    database's own, in documents of the workload's mean size."""
    return max(0.0, memory * share - active_copies * per_database) / document_size

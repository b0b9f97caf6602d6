"""Network: endpoints placed in data centres and zones, directed links between them.

A message from ``src`` to ``dst`` waits for the link to be free (bandwidth:
transfer time = size / bandwidth, serialised per directed link), then travels
for a latency drawn from the distribution of the pair's class (same zone, same
region, cross region). A partition is a link state: a message sent over a cut
link, or still in flight when it is cut, is dropped. Bytes are counted per link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import simpy

from workbench.model.kernel import Streams, Timer
from workbench.scenario.schema import NetworkSpec


@dataclass(frozen=True)
class Location:
    name: str
    datacenter: str
    region: str
    zone: str


PAIR_CLASSES = ("same_zone", "same_region", "cross_region")


def pair_class(a: Location, b: Location) -> str:
    if a.datacenter == b.datacenter and a.zone == b.zone:
        return "same_zone"
    if a.region == b.region:
        return "same_region"
    return "cross_region"


class Network:
    """All endpoints (nodes first, then clients) and the links between them."""

    def __init__(self, env: simpy.Environment, spec: NetworkSpec, endpoints: list[Location], streams: Streams):
        self.env = env
        self.endpoints = endpoints
        n = len(endpoints)
        samplers = {cls: streams.sampler(f"network.{cls}", getattr(spec, cls)) for cls in PAIR_CLASSES}
        self._latency = [[samplers[pair_class(a, b)] for b in endpoints] for a in endpoints]
        index = {loc.name: i for i, loc in enumerate(endpoints)}
        for link in spec.links:
            a, b = (index[t] for t in link.between)
            sampler = streams.sampler(f"network.link.{link.between[0]}-{link.between[1]}", link.latency)
            self._latency[a][b] = self._latency[b][a] = sampler
        self._inv_bandwidth = 1.0 / spec.bandwidth
        self._busy_until = [[0.0] * n for _ in range(n)]
        self.bytes_sent = [[0.0] * n for _ in range(n)]
        self.cut = [[False] * n for _ in range(n)]
        self.loss = spec.loss
        self.rto = spec.retransmit_timeout
        self._loss_rng = streams.rng("network.loss")
        self.retransmissions = 0

    def send(self, src: int, dst: int, size: float, fn: Callable[..., Any], *args: Any) -> bool:
        """Deliver ``fn(*args)`` at ``dst`` after transfer and latency. False if dropped now."""
        if self.cut[src][dst]:
            return False
        now = self.env.now
        busy = self._busy_until[src]
        start = busy[dst]
        if start < now:
            start = now
        done = start + size * self._inv_bandwidth
        busy[dst] = done
        self.bytes_sent[src][dst] += size
        delay = done - now + self._latency[src][dst]()
        if self.loss:
            rto = self.rto
            while self._loss_rng.random() < self.loss:
                delay += rto  # TCP: the segment is resent after the RTO, which doubles each time
                rto *= 2
                self.retransmissions += 1
        Timer(self.env, delay, self._deliver, (src, dst, fn, args))
        return True

    def _deliver(self, src: int, dst: int, fn: Callable[..., Any], args: tuple) -> None:
        if self.cut[src][dst]:
            return
        fn(*args)

    def reachable(self, src: int, dst: int) -> bool:
        return not self.cut[src][dst]

    def partition(self, groups: list[list[int]]) -> None:
        """Cut every link between endpoints of different groups (both directions)."""
        group_of: dict[int, int] = {}
        for g, members in enumerate(groups):
            for m in members:
                group_of[m] = g
        for a, ga in group_of.items():
            for b, gb in group_of.items():
                if ga != gb:
                    self.cut[a][b] = True

    def heal(self) -> None:
        for row in self.cut:
            for j in range(len(row)):
                row[j] = False

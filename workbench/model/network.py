"""Network: endpoints placed in data centres and zones, directed links between them.

A message from ``src`` to ``dst`` waits for the link to be free (bandwidth:
transfer time = size / bandwidth, serialised per directed link), then travels
for a latency drawn from the distribution of the pair's class (same zone, same
region, cross region). A partition is a link state: a message sent over a cut
link, or still in flight when it is cut, is dropped. Bytes are counted per link.
Faults can degrade a link (latency, loss, bandwidth), cut links one way, take a
data centre dark, or pause an endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import simpy

from workbench.model.kernel import Agenda, Sampler, Scheduled, Streams
from workbench.scenario.schema import NetworkSpec


@dataclass(frozen=True)
class Location:
    name: str
    datacenter: str
    region: str
    zone: str


class _Message(Scheduled):
    """A message in flight, scheduled as its own event (see :class:`Scheduled`).

    Built with no ``__init__`` and plain attribute stores rather than a ``Timer``:
    one Python call fewer per message when sent, and one fewer when delivered.
    """

    __slots__ = ("args", "cut", "dst", "fn")

    cut: list[bool]  # the source's row of the cut matrix (changed in place, so always current)
    dst: int
    fn: Callable[..., Any]
    args: tuple


PAIR_CLASSES = ("same_zone", "same_region", "cross_region")


def pair_class(a: Location, b: Location) -> str:
    if a.datacenter == b.datacenter and a.zone == b.zone:
        return "same_zone"
    if a.region == b.region:
        return "same_region"
    return "cross_region"


class Network:
    """All endpoints (nodes first, then clients) and the links between them.

    Link state is per directed pair: a latency sampler, the time per byte, a
    segment-loss probability. Cuts come in named layers (the current partition,
    each data centre that is down), so healing a partition leaves a dark data
    centre dark. A paused endpoint neither sends nor handles anything until it
    resumes: what it sends waits, what reaches it is handled on resume.
    """

    def __init__(self, env: simpy.Environment, spec: NetworkSpec, endpoints: list[Location], streams: Streams):
        self.env = env
        self.agenda: Agenda = env.agenda  # type: ignore[attr-defined]
        self.endpoints = endpoints
        self.streams = streams
        n = len(endpoints)
        samplers = {cls: streams.sampler(f"network.{cls}", getattr(spec, cls)) for cls in PAIR_CLASSES}
        self._latency = [[samplers[pair_class(a, b)] for b in endpoints] for a in endpoints]
        self.index = {loc.name: i for i, loc in enumerate(endpoints)}
        for pair in spec.regions:
            r1, r2 = pair.between
            sampler = streams.sampler(f"network.region.{r1}-{r2}", pair.latency)
            for i, a in enumerate(endpoints):
                for j, b in enumerate(endpoints):
                    if (a.region, b.region) in ((r1, r2), (r2, r1)):
                        self._latency[i][j] = sampler
        for link in spec.links:
            ia, ib = (self.index[t] for t in link.between)
            sampler = streams.sampler(f"network.link.{link.between[0]}-{link.between[1]}", link.latency)
            self._latency[ia][ib] = self._latency[ib][ia] = sampler
        inv = 1.0 / spec.bandwidth
        self._inv_bw = [[inv] * n for _ in range(n)]
        self._loss = [[spec.loss] * n for _ in range(n)]
        self.any_loss = spec.loss > 0
        self._busy_until = [[0.0] * n for _ in range(n)]
        self.bytes_sent = [[0.0] * n for _ in range(n)]
        self.cut = [[False] * n for _ in range(n)]
        self._layers: dict[str, set[tuple[int, int]]] = {}
        self.paused_until = [0.0] * n
        self.pauses = 0  # endpoints paused right now: the hot path checks this one number
        self.rto = spec.retransmit_timeout
        self._loss_rng = streams.rng("network.loss")
        self.retransmissions = 0
        self._saved: dict[tuple[int, int], tuple] = {}
        # Per source, its rows of the link matrices, fetched with one lookup per message. The
        # rows are the matrices' own lists (changed in place, never replaced), so they stay current.
        self._rows = [
            (self.cut[i], self._busy_until[i], self._inv_bw[i], self.bytes_sent[i], self._latency[i]) for i in range(n)
        ]
        self._arrive_callbacks = (self._arrive,)  # shared by every message (step() never mutates it)

    def send(self, src: int, dst: int, size: float, fn: Callable[..., Any], *args: Any) -> bool:
        """Deliver ``fn(*args)`` at ``dst`` after transfer and latency. False if dropped now."""
        cut, busy, inv_bw, sent, latency = self._rows[src]
        if cut[dst]:
            return False
        now = self.agenda.now
        start = busy[dst]
        if start < now:
            start = now
        if self.pauses and self.paused_until[src] > start:
            start = self.paused_until[src]  # a frozen process sends nothing until it resumes
        done = start + size * inv_bw[dst]
        busy[dst] = done
        sent[dst] += size
        # Sampler.__call__ inlined (the common case: a value left in its buffer).
        sampler = latency[dst]
        i = sampler._i
        buf = sampler._buf
        if i < len(buf):
            sampler._i = i + 1
            delay = done - now + buf[i]
        else:
            delay = done - now + sampler()
        if self.any_loss:
            delay += self._resends(src, dst)
        self._launch(cut, dst, fn, args, now + delay)
        return True

    def send_via(self, latency: Sampler, src: int, dst: int, size: float, fn: Callable[..., Any], *args: Any) -> bool:
        """``send``, with the latency drawn from the caller's own ``latency`` sampler instead of
        the link's shared one (the Raft layer: its draws then depend on Raft traffic alone)."""
        cut, busy, inv_bw, sent, _shared = self._rows[src]
        if cut[dst]:
            return False
        now = self.agenda.now
        start = max(busy[dst], now)
        if self.pauses and self.paused_until[src] > start:
            start = self.paused_until[src]
        done = start + size * inv_bw[dst]
        busy[dst] = done
        sent[dst] += size
        delay = done - now + latency()
        if self.any_loss:
            delay += self._resends(src, dst)
        self._launch(cut, dst, fn, args, now + delay)
        return True

    def _launch(self, cut: list[bool], dst: int, fn: Callable[..., Any], args: tuple, at: float) -> None:
        # A Timer, inlined: the message is its own event, and firing it is the delivery.
        msg = _Message()
        msg.callbacks = self._arrive_callbacks
        msg.cut = cut
        msg.dst = dst
        msg.fn = fn
        msg.args = args
        self.agenda.push(msg, at)

    def _resends(self, src: int, dst: int) -> float:
        """TCP: each lost segment is resent after the RTO, which doubles each time."""
        loss = self._loss[src][dst]
        delay = 0.0
        if loss:
            rto = self.rto
            while self._loss_rng.random() < loss:
                delay += rto
                rto *= 2
                self.retransmissions += 1
        return delay

    def _arrive(self, msg: _Message) -> None:
        if msg.cut[msg.dst]:
            return  # the link was cut while the message was in flight
        if self.pauses:
            agenda = self.agenda
            now = agenda.now
            until = self.paused_until[msg.dst]
            if until > now:
                # Queued in the socket until the process resumes: the same message fires again then.
                msg.callbacks = self._arrive_callbacks
                agenda.push(msg, now + (until - now))
                return
        msg.fn(*msg.args)

    def reachable(self, src: int, dst: int) -> bool:
        return not self.cut[src][dst]

    # -- cuts
    def set_layer(self, name: str, pairs: set[tuple[int, int]]) -> None:
        """Replace one named layer of cut directed links, and rebuild the cut matrix."""
        if pairs:
            self._layers[name] = pairs
        else:
            self._layers.pop(name, None)
        cut = self.cut
        for row in cut:
            for j in range(len(row)):
                row[j] = False
        for layer in self._layers.values():
            for a, b in layer:
                cut[a][b] = True

    def partition(self, groups: list[list[int]], one_way: bool = False) -> None:
        """Cut every link between endpoints of different groups (both directions), or with
        ``one_way`` only the links from the first group to the others. Replaces the
        previous partition."""
        pairs: set[tuple[int, int]] = set()
        for g, members in enumerate(groups):
            for h, others in enumerate(groups):
                if g == h or (one_way and g != 0):
                    continue
                pairs.update((a, b) for a in members for b in others)
        self.set_layer("partition", pairs)

    def heal(self) -> None:
        """End the partition (data centres that are down stay cut off)."""
        self.set_layer("partition", set())

    def isolate(self, name: str, members: list[int]) -> None:
        """Cut every link into and out of ``members`` (a data centre going dark)."""
        inside = set(members)
        pairs = {
            (a, b)
            for a in range(len(self.endpoints))
            for b in range(len(self.endpoints))
            if (a in inside) != (b in inside)
        }
        self.set_layer(name, pairs)

    # -- degraded links
    def degrade(
        self,
        pairs: list[tuple[int, int]],
        latency: Any = None,
        loss: float | None = None,
        bandwidth: float | None = None,
        stream: str = "network.degraded",
    ) -> None:
        """Change the given directed links; ``restore`` puts back what they had before."""
        sampler = self.streams.sampler(stream, latency) if latency is not None else None
        for a, b in pairs:
            self._saved.setdefault((a, b), (self._latency[a][b], self._inv_bw[a][b], self._loss[a][b]))
            if sampler is not None:
                self._latency[a][b] = sampler
            if bandwidth is not None:
                self._inv_bw[a][b] = 1.0 / bandwidth
            if loss is not None:
                self._loss[a][b] = loss
                self.any_loss = self.any_loss or loss > 0

    def restore(self, pairs: list[tuple[int, int]]) -> None:
        for pair in pairs:
            saved = self._saved.pop(pair, None)
            if saved is not None:
                a, b = pair
                self._latency[a][b], self._inv_bw[a][b], self._loss[a][b] = saved

    # -- pauses
    def pause(self, endpoint: int, until: float) -> None:
        if self.paused_until[endpoint] <= self.env.now:
            self.pauses += 1
        self.paused_until[endpoint] = max(self.paused_until[endpoint], until)

    def resume(self, endpoint: int) -> None:
        if self.paused_until[endpoint] > 0:
            self.pauses -= 1
        self.paused_until[endpoint] = 0.0

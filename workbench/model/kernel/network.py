"""Network: endpoints placed in data centres and zones, directed links between them.

A message from ``src`` to ``dst`` waits for the link to be free (bandwidth:
transfer time = size / bandwidth, serialised per directed link), then travels
for a latency drawn from the distribution of the pair's class (same zone, same
region, cross region). Bytes are counted per link. Faults can degrade a link
(latency, loss, bandwidth), cut links one way, take a data centre dark, take a
machine off the network without a trace (a silent crash), or pause an endpoint.

Two kinds of message cross a cut link differently:

- a *datagram* (``send``: health checks, the observer's polls, a reset, and Raft,
  whose ambassadors model their own connection) is dropped when sent over a cut
  link or when the link is cut while it travels;
- a *segment* of a TCP connection (``send_tcp``: client requests and responses,
  replication) is retransmitted by the sender's kernel as Linux does
  (``net/ipv4/tcp_timer.c``): the first retransmission after one RTO (the
  measured round trip plus ``TCP_RTO_MIN``, ``tcp_set_rto``), doubling up to
  ``TCP_RTO_MAX``. The first retransmission after the path heals gets through.
  When the time since the first send passes what ``tcp_retries2`` retries take
  (``retransmits_timed_out``: 924.6 s with the defaults) the connection is
  broken and the sender's stream hears it; a connection attempt (SYN) gives up
  after ``tcp_syn_retries`` (127 s). A segment that reaches a machine rebooted
  since the connection was made is answered with a reset. The application's
  own timeouts (a client's request timeout, replication's read timeout) run on
  top and close the connection first when they are shorter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import simpy

from workbench.model.kernel.kernel import Agenda, Sampler, Scheduled, Streams, Timer
from workbench.scenario.schema import NetworkSpec


@dataclass(frozen=True)
class Location:
    """Where an endpoint sits: its data centre, region and availability zone (they choose the
    latency class of a pair)."""

    name: str
    datacenter: str
    region: str
    zone: str


class Stream:
    """The sending side of a TCP connection, as far as the network needs it: whether the
    data is still wanted (the application has not closed the connection), and what the
    sender hears when the connection breaks under it. The base class is a sender that
    nobody waits on (a server's response: if it never gets through, the client's own
    timeout decides)."""

    syn: bool = False  # a connection attempt: retried on the SYN schedule

    def wanted(self, args: tuple) -> bool:
        """The data is still wanted (the sender has not closed the connection); if not, a stalled segment is dropped."""
        return True

    def connection_lost(self, args: tuple) -> None:
        """The kernel gave up on the connection (retries ran out): tell the sender. The base class
        has nobody to tell."""
        return None


SYN_BYTES = 60.0  # a SYN or SYN-ACK: IP and TCP headers with options

# The server side of every connection: responses are retransmitted until delivered or given up.
SERVER = Stream()


class _Message(Scheduled):
    """A message in flight, scheduled as its own event (see :class:`Scheduled`).

    Built with no ``__init__`` and plain attribute stores rather than a ``Timer``:
    one Python call fewer per message when sent, and one fewer when delivered.
    """

    __slots__ = ("args", "cut", "dst", "fn", "sent", "size", "src", "stream")

    cut: list[bool]  # the source's row of the cut matrix (changed in place, so always current)
    dst: int
    fn: Callable[..., Any]
    args: tuple
    stream: Stream | None  # None: a datagram, dropped when its link is cut
    src: int
    sent: float  # when the segment was first sent (its retransmissions count from then)
    size: float


class _Stalled:
    """A TCP segment that cannot get through: its sender retransmits it on the schedule."""

    __slots__ = ("args", "dst", "fn", "give_up_at", "rto", "sent", "size", "src", "stream", "waking")

    def __init__(self, msg: _Message, rto: float, give_up_at: float):
        self.src = msg.src
        self.dst = msg.dst
        self.size = msg.size
        self.stream: Stream = msg.stream  # type: ignore[assignment]
        self.fn = msg.fn
        self.args = msg.args
        self.sent = msg.sent
        self.rto = rto  # the first retransmission's timeout; each later one doubles, up to the cap
        self.give_up_at = give_up_at
        self.waking = False  # a retransmission after the path healed is scheduled


def linux_retry_timeout(boundary: int, rto_base: float, rto_max: float) -> float:
    """How long ``boundary`` retransmissions take before Linux gives up on a connection:
    ``tcp_model_timeout`` in ``net/ipv4/tcp_timer.c`` (the RTO doubles from ``rto_base``
    until it reaches ``rto_max``). ``tcp_retries2`` = 15 from 200 ms: 924.6 s;
    ``tcp_syn_retries`` = 6 from 1 s: 127 s."""
    thresh = 0
    while rto_base * (2 << thresh) <= rto_max:
        thresh += 1  # ilog2(rto_max / rto_base)
    if boundary <= thresh:
        return ((2 << boundary) - 1) * rto_base
    return ((2 << thresh) - 1) * rto_base + (boundary - thresh) * rto_max


def retransmissions(rto: float, rto_max: float) -> Iterator[float]:
    """Offsets from the first send at which the sender retransmits: rto, 3 rto, 7 rto, ...
    with each gap capped at ``rto_max``."""
    at = 0.0
    gap = rto
    while True:
        at += gap
        yield at
        gap = min(gap * 2, rto_max)


PAIR_CLASSES = ("same_zone", "same_region", "cross_region")


def pair_class(a: Location, b: Location) -> str:
    """The latency class of a pair of locations: ``same_zone``, ``same_region`` or ``cross_region``."""
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

    def __init__(
        self,
        env: simpy.Environment,
        spec: NetworkSpec,
        endpoints: list[Location],
        streams: Streams,
        servers: int = -1,
    ):
        self.env = env
        self.agenda: Agenda = env.agenda  # type: ignore[attr-defined]
        self.endpoints = endpoints
        self.streams = streams
        n = len(endpoints)
        # Every conversation has a server (a node) at one end: clients and external systems talk
        # to nodes, never to each other. So a server's row of each link matrix spans every
        # endpoint and anyone else's spans only the servers (the first ``servers`` endpoints):
        # memory and per-sample work grow with nodes x endpoints, not endpoints squared
        # (10,000 clients would otherwise need 10^8 cells a matrix).
        self.servers = n if servers < 0 else servers
        widths = [n if i < self.servers else self.servers for i in range(n)]
        self.widths = widths
        samplers = {cls: streams.sampler(f"network.{cls}", getattr(spec, cls)) for cls in PAIR_CLASSES}
        self._latency = [
            [samplers[pair_class(a, endpoints[j])] for j in range(widths[i])] for i, a in enumerate(endpoints)
        ]
        self.index = {loc.name: i for i, loc in enumerate(endpoints)}
        for pair in spec.regions:
            r1, r2 = pair.between
            sampler = streams.sampler(f"network.region.{r1}-{r2}", pair.latency)
            for i, a in enumerate(endpoints):
                for j in range(widths[i]):
                    if (a.region, endpoints[j].region) in ((r1, r2), (r2, r1)):
                        self._latency[i][j] = sampler
        for link in spec.links:
            ia, ib = (self.index[t] for t in link.between)
            sampler = streams.sampler(f"network.link.{link.between[0]}-{link.between[1]}", link.latency)
            self._latency[ia][ib] = self._latency[ib][ia] = sampler
        inv = 1.0 / spec.bandwidth
        self._inv_bw = [[inv] * widths[i] for i in range(n)]
        self._loss = [[spec.loss] * widths[i] for i in range(n)]
        self.any_loss = spec.loss > 0
        self._busy_until = [[0.0] * widths[i] for i in range(n)]
        self.bytes_sent = [[0.0] * widths[i] for i in range(n)]
        self.cut = [[False] * widths[i] for i in range(n)]
        self._layers: dict[str, set[tuple[int, int]]] = {}
        self.paused_until = [0.0] * n
        self.pauses = 0  # endpoints paused right now: the hot path checks this one number
        self.rto = spec.retransmit_timeout
        self.rto_max = spec.tcp_rto_max
        self.syn_rto = spec.tcp_syn_rto
        # When each kind of connection gives up (Linux: counted from TCP_RTO_MIN and the SYN RTO).
        self.data_give_up = linux_retry_timeout(spec.tcp_retries2, self.rto, self.rto_max)
        self.syn_give_up = linux_retry_timeout(spec.tcp_syn_retries, self.syn_rto, self.rto_max)
        # Insertion-ordered, so heals wake segments in the order they stalled; a dict, so a
        # retransmission or give-up finds and drops its own in O(1) in a long partition.
        self._stalled: dict[_Stalled, None] = {}
        self.segments_stalled = 0  # TCP segments that met a cut link (for the run's counters)
        self.connections_broken = 0  # connections whose retries ran out
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
        """A datagram: deliver ``fn(*args)`` at ``dst`` after transfer and latency. False if
        dropped now (the link is cut)."""
        return self.send_tcp(src, dst, size, None, fn, *args)

    def send_tcp(
        self, src: int, dst: int, size: float, stream: Stream | None, fn: Callable[..., Any], *args: Any
    ) -> bool:
        """Deliver ``fn(*args)`` at ``dst`` after transfer and latency, over a connection whose
        sending side is ``stream`` (None: a datagram). False if a datagram was dropped now."""
        cut, busy, inv_bw, sent, latency = self._rows[src]
        if cut[dst]:
            if stream is None:
                return False
            now = self.agenda.now
            self._stall_new(src, dst, size, stream, fn, args, now)
            return True
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
        # _launch inlined, with the segment's sender.
        msg = _Message()
        msg.callbacks = self._arrive_callbacks
        msg.cut = cut
        msg.dst = dst
        msg.fn = fn
        msg.args = args
        msg.stream = stream
        if stream is not None:
            msg.src = src
            msg.sent = now
            msg.size = size
        self.agenda.push(msg, now + delay)
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

    def _launch(
        self,
        cut: list[bool],
        dst: int,
        fn: Callable[..., Any],
        args: tuple,
        at: float,
        stream: Stream | None = None,
        src: int = 0,
        sent: float = 0.0,
        size: float = 0.0,
    ) -> None:
        # A Timer, inlined: the message is its own event, and firing it is the delivery.
        # (send_tcp inlines this again: it is the hot path.)
        msg = _Message()
        msg.callbacks = self._arrive_callbacks
        msg.cut = cut
        msg.dst = dst
        msg.fn = fn
        msg.args = args
        msg.stream = stream
        if stream is not None:
            msg.src = src
            msg.sent = sent
            msg.size = size
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
            # The link was cut while the message was in flight: a datagram is lost, a segment
            # is retransmitted.
            if msg.stream is not None:
                self._stall(msg)
            return
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

    # -- TCP: segments that cannot get through
    def _stall_new(
        self, src: int, dst: int, size: float, stream: Stream, fn: Callable[..., Any], args: tuple, now: float
    ) -> None:
        msg = _Message()
        msg.src = src
        msg.dst = dst
        msg.size = size
        msg.stream = stream
        msg.fn = fn
        msg.args = args
        msg.sent = now
        self.bytes_sent[src][dst] += size  # sent into the void, as the first transmission is
        self._stall(msg)

    def _stall(self, msg: _Message) -> None:
        stream = msg.stream
        assert stream is not None
        if not stream.wanted(msg.args):
            return  # the application closed the connection: its kernel stops retransmitting
        if stream.syn:
            rto, give_up = self.syn_rto, self.syn_give_up
        else:
            rto, give_up = min(self.rto_max, self.rto + self.mean_rtt(msg.src, msg.dst)), self.data_give_up
        # Linux gives up at the first retransmission timer that finds the time since the first
        # send past the limit.
        limit = msg.sent + give_up
        give_up_at = msg.sent
        for offset in retransmissions(rto, self.rto_max):
            give_up_at = msg.sent + offset
            if give_up_at >= limit - 1e-9:
                break
        stalled = _Stalled(msg, rto, give_up_at)
        self._stalled[stalled] = None
        self.segments_stalled += 1
        now = self.agenda.now
        Timer(self.env, max(0.0, give_up_at - now), self._give_up, (stalled,))

    def mean_rtt(self, a: int, b: int) -> float:
        """The round trip a connection between ``a`` and ``b`` has measured (its smoothed RTT)."""
        return self._latency[a][b].dist.mean() + self._latency[b][a].dist.mean()

    def _give_up(self, stalled: _Stalled) -> None:
        if stalled not in self._stalled:
            return  # delivered meanwhile
        del self._stalled[stalled]
        if stalled.stream.wanted(stalled.args):
            self.connections_broken += 1
            stalled.stream.connection_lost(stalled.args)

    def _paths_changed(self) -> None:
        """Links healed: each stalled segment whose path is open again goes at its sender's
        next retransmission."""
        if not self._stalled:
            return
        now = self.agenda.now
        cut = self.cut
        for stalled in self._stalled:
            if stalled.waking or cut[stalled.src][stalled.dst]:
                continue
            for offset in retransmissions(stalled.rto, self.rto_max):
                at = stalled.sent + offset
                if at >= now - 1e-12:
                    break
            if at > stalled.give_up_at:
                continue  # gives up first
            stalled.waking = True
            Timer(self.env, at - now, self._retransmit, (stalled,))

    def _retransmit(self, stalled: _Stalled) -> None:
        stalled.waking = False
        if stalled not in self._stalled:
            return
        if self.cut[stalled.src][stalled.dst]:
            return  # cut again: the next heal wakes it
        del self._stalled[stalled]
        if not stalled.stream.wanted(stalled.args):
            return
        src, dst = stalled.src, stalled.dst
        now = self.agenda.now
        self.bytes_sent[src][dst] += stalled.size
        at = now + stalled.size * self._inv_bw[src][dst] + self._latency[src][dst]()
        # A retransmission: the connection's clock keeps running from the first send.
        self._launch(self.cut[src], dst, stalled.fn, stalled.args, at, stalled.stream, src, stalled.sent, stalled.size)

    def forget(self, endpoint: int) -> None:
        """A machine died: its kernel retransmits nothing more."""
        self._stalled = {s: None for s in self._stalled if s.src != endpoint}

    def reachable(self, src: int, dst: int) -> bool:
        """The directed link from ``src`` to ``dst`` is not cut right now."""
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
        widths = self.widths
        for layer in self._layers.values():
            for a, b in layer:
                if b < widths[a]:  # a pair that never talks (two clients) has no link to cut
                    cut[a][b] = True
        self._paths_changed()

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
        """Cut every link into and out of ``members`` (a data centre going dark, or a machine
        that vanished); an empty list ends that cut."""
        inside = set(members)
        outside = [b for b in range(len(self.endpoints)) if b not in inside]
        pairs = {(a, b) for a in inside for b in outside} | {(b, a) for a in inside for b in outside}
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
            if b >= self.widths[a]:
                continue  # a pair that never talks (two clients)
            self._saved.setdefault((a, b), (self._latency[a][b], self._inv_bw[a][b], self._loss[a][b]))
            if sampler is not None:
                self._latency[a][b] = sampler
            if bandwidth is not None:
                self._inv_bw[a][b] = 1.0 / bandwidth
            if loss is not None:
                self._loss[a][b] = loss
                self.any_loss = self.any_loss or loss > 0

    def restore(self, pairs: list[tuple[int, int]]) -> None:
        """Give the directed links back what they had before :meth:`degrade` (latency, bandwidth, loss)."""
        for pair in pairs:
            saved = self._saved.pop(pair, None)
            if saved is not None:
                a, b = pair
                self._latency[a][b], self._inv_bw[a][b], self._loss[a][b] = saved

    # -- pauses
    def pause(self, endpoint: int, until: float) -> None:
        """Freeze ``endpoint``'s process until ``until`` (seconds): it sends nothing and what
        arrives waits in its socket until then (a GC pause or a stopped VM)."""
        if self.paused_until[endpoint] <= self.env.now:
            self.pauses += 1
        self.paused_until[endpoint] = max(self.paused_until[endpoint], until)

    def resume(self, endpoint: int) -> None:
        """End a pause of ``endpoint`` now."""
        if self.paused_until[endpoint] > 0:
            self.pauses -= 1
        self.paused_until[endpoint] = 0.0

"""Workloads: when operations arrive, what they are, and which documents they touch.

``workload.arrivals.kind`` picks the generator (:func:`make_workload`, which hands each
generator the pieces it uses: the environment, the workload settings, its random streams
and the clients it drives, and the recorder where it records events):

- ``poisson``: open loop, exponential gaps at ``workload.rate``;
- ``constant``: open loop, exactly 1/rate between arrivals;
- ``diurnal``: open loop, a non-homogeneous Poisson process whose rate follows a
  day-long sinusoid between ``trough`` and ``peak``, drawn by thinning (candidates at
  the peak rate, each kept with probability rate(t)/peak: exact, Lewis & Shedler 1979);
- ``bursts``: open loop, Poisson whose rate is multiplied during flash crowds; the rate
  is piecewise constant, so arrivals are drawn by time rescaling (a unit-rate
  exponential spent across the segments' rates: exact, no rejected draws);
- ``closed``: N users, each with one operation in flight, thinking between them;
- ``trace``: a recorded trace replayed row by row (:mod:`workbench.scenario.trace`).

Randomness comes in blocks from named streams (arrival times, kinds, keys, sizes,
clients, tenants, think times), so the same seed gives the same operations whatever
the blueprint or fault plan, and per-arrival work is a few list lookups. Each arrival
is one :class:`Timer`, never a process.

Keys follow ``workload.key_popularity``: uniform; bounded Zipf(s) (key 0 is rank 1);
``hotspot`` (the first ``hotspot.keys`` fraction of the keys gets ``hotspot.share`` of
the accesses, uniform within the hot and the cold part); ``tenants`` (the keys split
into equal contiguous ranges; each session works for one tenant drawn uniformly or by
Zipf, and its keys are uniform in the tenant's range; under UseSessionContext the
session's context is the tenant, so one tenant's sessions share a node).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.model.kernel.kernel import Recurring, Sampler, Streams, Timer
from workbench.model.recording.tables import OP_KINDS
from workbench.scenario.distributions import Exponential, Uniform
from workbench.scenario.trace import TRACE_OPS, TraceError, TraceReader, TraceRoute

if TYPE_CHECKING:
    import simpy

    from workbench.model.clients.client import Client, Op
    from workbench.model.database.keyspace import Keyspace
    from workbench.model.kernel.network import Network
    from workbench.model.recording.recorder import Recorder
    from workbench.scenario.schema import Datacenter, Scenario, Workload

BLOCK = 4096
WRITE_KINDS = (1, 3, 5)  # write, cluster_tx, transaction (OP_KINDS order)
# A trace session stays open until the trace names another one on that client.
TRACE_SESSION_LENGTH = 2**62

if TRACE_OPS != OP_KINDS:  # pragma: no cover - guards a reordering of the op kinds
    msg = "trace op names are out of step with the client's op kinds"
    raise ImportError(msg)


def zipf_cdf(n: int, s: float) -> np.ndarray:
    """CDF of the bounded Zipf law P(rank k) ∝ 1/k^s, k = 1..n."""
    weights = np.arange(1, n + 1, dtype=np.float64) ** (-s)
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return cdf


def open_session(client: Client, context: int, length: int) -> None:
    """Open the client's next session with this context (a tenant, a trace session).

    ``Client.submit`` opens a session itself when the last one is used up, with a random
    context; opening it here, with the same steps, lets the workload say whose session it is.
    """
    client.session_id += 1
    client.session_left = length
    client.session_writes = {}
    client.session_context = context


def _delay_to(now: float, when: float) -> float:
    """The delay with ``now + delay == when`` exactly (``when - now`` can miss by an ulp), so
    constant-rate and replayed arrivals land on their times. Two steps at most: when >= now."""
    delay = when - now
    while now + delay < when:
        delay = math.nextafter(delay, math.inf)
    while now + delay > when:
        delay = math.nextafter(delay, -math.inf)
    return delay


class OpSource:
    """What each generated operation is: kind (the mix), key (the popularity), size and
    client, drawn in blocks of :data:`BLOCK` from their own streams.

    ``spec``: the workload settings; ``clients``: the clients it submits through;
    ``keyspace``: the collections' key ranges (for ``write_collections``);
    ``load_balance``: the clients' setting (under ``UseSessionContext`` a tenant is the
    session's context)."""

    def __init__(self, spec: Workload, clients: list[Client], streams: Streams, keyspace: Keyspace, load_balance: str):
        self.spec = spec
        self.clients = clients
        self._kinds = streams.rng("workload.kinds")
        self._keys = streams.rng("workload.keys")
        self._sizes = streams.rng("workload.sizes")
        self._clients = streams.rng("workload.clients")
        mix = spec.mix
        self._thresholds = np.cumsum([mix.read, mix.write, mix.query, mix.cluster_tx, mix.compare_exchange])
        popularity = spec.key_popularity
        self._cdf = zipf_cdf(spec.keys, spec.zipf_exponent) if popularity == "zipf" else None
        self._hot = spec.hotspot.hot_keys(spec.keys) if popularity == "hotspot" else 0
        self._tenanted = popularity == "tenants"
        if self._tenanted:
            tenants = spec.tenants
            bounds = [k * spec.keys // tenants.count for k in range(tenants.count + 1)]
            self._lo = bounds[:-1]
            self._width = [hi - lo for lo, hi in itertools.pairwise(bounds)]
            self._tenant_rng = streams.rng("workload.tenants")
            self._tenant_cdf = zipf_cdf(tenants.count, tenants.zipf_exponent) if tenants.popularity == "zipf" else None
            self._tenant_buf: list[int] = []
            self._t = 0
            self.tenant_of = [0] * len(clients)  # each client's current session's tenant
            self._context_is_tenant = load_balance == "UseSessionContext"
        self._buf: list[tuple[int, int | float, float, int]] = []
        self._i = 0
        # workload.write_collections: writes land only in those collections' key ranges.
        self._write_ranges: tuple[np.ndarray, np.ndarray, int] | None = None
        if spec.write_collections is not None:
            ranges = [keyspace.collection_keys(c) for c in spec.write_collections]
            lows = np.array([r.start for r in ranges], dtype=np.int64)
            widths = np.array([len(r) for r in ranges], dtype=np.int64)
            self._write_ranges = (lows, np.cumsum(widths), int(widths.sum()))

    def _draw_keys(self) -> np.ndarray:
        spec = self.spec
        if self._tenanted:
            return self._keys.random(BLOCK)  # a position in the session's tenant's range
        if self._cdf is not None:
            return np.minimum(np.searchsorted(self._cdf, self._keys.random(BLOCK)), spec.keys - 1)
        if self._hot:
            u = self._keys.random(BLOCK)
            share, hot, cold = spec.hotspot.share, self._hot, spec.keys - self._hot
            with np.errstate(divide="ignore", invalid="ignore"):
                hot_keys = np.minimum((u / share * hot).astype(np.int64), hot - 1) if share > 0 else 0
                cold_keys = hot + np.minimum(((u - share) / (1 - share) * cold).astype(np.int64), cold - 1)
            return np.where(u < share, hot_keys, cold_keys)
        return self._keys.integers(0, spec.keys, BLOCK)

    def _refill(self) -> None:
        kinds = np.minimum(np.searchsorted(self._thresholds, self._kinds.random(BLOCK), side="right"), 5)
        keys = self._draw_keys()
        if self._write_ranges is not None:
            keys = self._writes_in_their_collections(kinds, keys)
        sizes = self.spec.document_size.sample(self._sizes, BLOCK)
        clients = self._clients.integers(0, len(self.clients), BLOCK)
        self._buf = list(zip(kinds.tolist(), keys.tolist(), sizes.tolist(), clients.tolist(), strict=True))
        self._i = 0

    def _writes_in_their_collections(self, kinds: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """Move each write's key to the same relative place in the allowed collections'
        ranges (so the popularity shape is kept, squeezed into them)."""
        lows, ends, total = self._write_ranges  # type: ignore[misc]
        writes = np.isin(kinds, WRITE_KINDS)
        position = keys[writes] * total // self.spec.keys
        part = np.searchsorted(ends, position, side="right")
        starts = np.concatenate(([0], ends[:-1]))
        keys = keys.copy()
        keys[writes] = lows[part] + position - starts[part]
        return keys

    def issue(self, client_index: int | None = None) -> Op | None:
        """Submit the next operation (from the drawn client, or the given one); None if
        its application server is down."""
        if self._i >= len(self._buf):
            self._refill()
        kind, key, size, drawn = self._buf[self._i]
        self._i += 1
        client = self.clients[drawn if client_index is None else client_index]
        if self._tenanted:
            key = self._tenant_key(client, key)
        return client.submit(kind, key, size)  # type: ignore[arg-type]  # a tenant's key is mapped to an int

    def _tenant_key(self, client: Client, u: float) -> int:
        if client.session_left == 0:  # this op opens the client's next session: whose is it?
            if self._t >= len(self._tenant_buf):
                self._refill_tenants()
            tenant = self._tenant_buf[self._t]
            self._t += 1
            self.tenant_of[client.cid] = tenant
            if self._context_is_tenant and client.up:
                open_session(client, tenant, client.session_length)
        tenant = self.tenant_of[client.cid]
        return self._lo[tenant] + int(u * self._width[tenant])

    def _refill_tenants(self) -> None:
        count = self.spec.tenants.count
        if self._tenant_cdf is None:
            tenants = self._tenant_rng.integers(0, count, BLOCK)
        else:
            tenants = np.minimum(np.searchsorted(self._tenant_cdf, self._tenant_rng.random(BLOCK)), count - 1)
        self._tenant_buf = tenants.tolist()
        self._t = 0


def reroute(
    workload: Generator, clients: list[Client], network: Network, from_datacenter: str, targets: list[Client]
) -> list[Client]:
    """Operations ``workload`` draws for ``clients`` (its cluster's own) in ``from_datacenter``
    (a data centre of ``network``) are issued by ``targets`` instead, in turn (an application
    rerouted by DNS or a load balancer). Returns the clients moved away. Open-loop arrivals
    only (checked when loading)."""
    ops: OpSource = workload.ops  # type: ignore[attr-defined]
    endpoints = network.endpoints
    moved = [c for c in clients if endpoints[c.index].datacenter == from_datacenter]
    clients = list(ops.clients)
    for k, client in enumerate(moved):
        clients[client.cid] = targets[k % len(targets)]
    ops.clients = clients
    if ops._tenanted:
        need = max(t.cid for t in targets) + 1
        ops.tenant_of += [0] * max(0, need - len(ops.tenant_of))
    return moved


class Generator:
    """Base of the workloads: the stop time (``workload.stop``, else the run's ``duration``)
    and a count of arrivals issued."""

    def __init__(self, env: simpy.Environment, spec: Workload, duration: float):
        self.env = env
        self.spec = spec
        self.until = spec.stop if spec.stop is not None else duration
        self.generated = 0

    def start(self) -> None:
        """Schedule the first arrivals (at time 0 of the run)."""
        raise NotImplementedError


class PoissonArrivals(Generator):
    """Open loop: exponential gaps at ``workload.rate``."""

    def __init__(self, env: simpy.Environment, spec: Workload, duration: float, ops: OpSource, streams: Streams):
        super().__init__(env, spec, duration)
        self.ops = ops
        self._rng = streams.rng("workload.arrivals")
        self._gaps: list[float] = []
        self._g = 0
        # One arrival is pending at a time: a single reusable timer (the hot path's busiest).
        self._timer = Recurring(self.env, self._arrive)

    def start(self) -> None:
        """Schedule the first arrival; each one schedules the next."""
        self._schedule_next()

    def _schedule_next(self) -> None:
        if self._g >= len(self._gaps):
            self._gaps = self._rng.exponential(1.0 / self.spec.rate, BLOCK).tolist()
            self._g = 0
        gap = self._gaps[self._g]
        self._g += 1
        timer = self._timer
        if timer.agenda.now + gap < self.until:
            timer.schedule(gap)

    def _arrive(self, _timer: Recurring | None = None) -> None:
        self.generated += 1
        # OpSource.issue inlined: the hot path's busiest caller.
        ops = self.ops
        i = ops._i
        if i >= len(ops._buf):
            ops._refill()
            i = 0
        kind, key, size, drawn = ops._buf[i]
        ops._i = i + 1
        client = ops.clients[drawn]
        if ops._tenanted:
            key = ops._tenant_key(client, key)
        client.submit(kind, key, size)  # type: ignore[arg-type]  # a tenant's key is mapped to an int
        self._schedule_next()


class ConstantArrivals(Generator):
    """Open loop: arrival k at exactly k / rate seconds."""

    def __init__(self, env: simpy.Environment, spec: Workload, duration: float, ops: OpSource):
        super().__init__(env, spec, duration)
        self.ops = ops
        self._k = 0

    def start(self) -> None:
        """Schedule the first arrival; each one schedules the next."""
        self._schedule_next()

    def _schedule_next(self) -> None:
        self._k += 1
        when = self._k / self.spec.rate  # not a running sum, so no drift
        if when < self.until:
            Timer(self.env, _delay_to(self.env.now, when), self._arrive)

    def _arrive(self) -> None:
        self.generated += 1
        self.ops.issue()
        self._schedule_next()


class DiurnalArrivals(Generator):
    """Open loop: Poisson with rate ``trough + (peak - trough) (1 + cos(2π (τ - peak_at) / 24 h)) / 2``
    at time of day τ = start_at + t × 24 h / period, by thinning."""

    def __init__(self, env: simpy.Environment, spec: Workload, duration: float, ops: OpSource, streams: Streams):
        super().__init__(env, spec, duration)
        self.ops = ops
        a = self.spec.arrivals
        self.peak = float(a.peak)  # type: ignore[arg-type]  # the schema requires both for this shape
        self.trough = float(a.trough)  # type: ignore[arg-type]
        self._omega = 2 * math.pi / a.period
        self._phase = 2 * math.pi * (a.start_at - a.peak_at) / 86400.0
        self._gap = Sampler(Exponential(1.0 / self.peak), streams.rng("workload.arrivals"))
        self._keep = Sampler(Uniform(0.0, 1.0), streams.rng("workload.thinning"))
        self._t = 0.0

    def rate_at(self, t: float) -> float:
        """Arrivals per second at simulated time ``t``."""
        return self.trough + (self.peak - self.trough) * 0.5 * (1.0 + math.cos(self._omega * t + self._phase))

    def start(self) -> None:
        """Schedule the first candidate arrival; each one schedules the next."""
        self._schedule_next()

    def _schedule_next(self) -> None:
        t, peak, until = self._t, self.peak, self.until
        while True:
            t += self._gap()
            if t >= until:
                return
            if self._keep() * peak <= self.rate_at(t):
                break
        self._t = t
        Timer(self.env, _delay_to(self.env.now, t), self._arrive)

    def _arrive(self) -> None:
        self.generated += 1
        self.ops.issue()
        self._schedule_next()


class BurstArrivals(Generator):
    """Open loop: Poisson at ``workload.rate``, multiplied during bursts (where bursts
    overlap, the largest multiplier applies). Random bursts are drawn up front from the
    ``workload.bursts`` stream; each burst's start is recorded as a ``burst`` event (in ``recorder``)."""

    def __init__(
        self,
        env: simpy.Environment,
        spec: Workload,
        duration: float,
        ops: OpSource,
        streams: Streams,
        recorder: Recorder,
    ):
        super().__init__(env, spec, duration)
        self.ops = ops
        self.recorder: Recorder = recorder
        a = self.spec.arrivals
        bursts = [(b.at, b.at + b.duration, b.multiplier) for b in a.bursts]
        if a.random_bursts is not None:
            rb = a.random_bursts
            rng = streams.rng("workload.bursts")
            every, length = Sampler(rb.every, rng), Sampler(rb.duration, rng)
            t = every()
            while t < self.until:
                bursts.append((t, t + length(), rb.multiplier))
                t += every()
        self.bursts = sorted(b for b in bursts if b[0] < self.until and b[1] > b[0])
        base = self.spec.rate
        points = sorted({0.0, *(s for s, _, _ in self.bursts), *(e for _, e, _ in self.bursts)})
        points = [p for p in points if p < self.until]
        self._ends = [*points[1:], math.inf]
        self._rates = []
        for start in points:
            active = [m for s, e, m in self.bursts if s <= start < e]
            self._rates.append(base * max(active) if active else base)
        self._unit = Sampler(Exponential(1.0), streams.rng("workload.arrivals"))
        self._t = 0.0
        self._seg = 0

    def rate_at(self, t: float) -> float:
        """Arrivals per second at simulated time ``t``."""
        for end, rate in zip(self._ends, self._rates, strict=True):
            if t < end:
                return rate
        return self._rates[-1]

    def start(self) -> None:
        """Schedule the flash crowds' rate changes and the first arrival."""
        for s, e, m in self.bursts:
            Timer(self.env, s, self._burst_event, (s, e, m))
        self._schedule_next()

    def _burst_event(self, start: float, end: float, multiplier: float) -> None:
        self.recorder.event("burst", multiplier=multiplier, duration_s=end - start, value=multiplier)

    def _schedule_next(self) -> None:
        # Time rescaling: spend one unit-rate exponential across the piecewise-constant rates.
        e, t, k = self._unit(), self._t, self._seg
        ends, rates = self._ends, self._rates
        while True:
            end = ends[k]
            dt = e / rates[k]
            if t + dt < end:
                t += dt
                break
            e = max(0.0, e - (end - t) * rates[k])
            t = end
            k += 1
        self._t, self._seg = t, k
        if t < self.until:
            Timer(self.env, _delay_to(self.env.now, t), self._arrive)

    def _arrive(self) -> None:
        self.generated += 1
        self.ops.issue()
        self._schedule_next()


class ClosedLoop(Generator):
    """``users`` users; user u works through client u mod N. Each issues an operation,
    waits for its answer (whatever the outcome), thinks for a ``think`` draw, and repeats;
    each starts after a first think time, so they do not all arrive at t = 0. A user
    whose application server is down (its data centre is dark) thinks and tries again.

    An operation ends exactly when the recorder records it (that is what makes a row of
    the ops table), so the workload listens there (``Recorder.op_listener`` of ``recorder``)."""

    def __init__(
        self,
        env: simpy.Environment,
        spec: Workload,
        duration: float,
        ops: OpSource,
        streams: Streams,
        recorder: Recorder,
    ):
        super().__init__(env, spec, duration)
        self.ops = ops
        a = self.spec.arrivals
        self.users = int(a.users)  # type: ignore[arg-type]  # required for closed arrivals
        self._think = streams.sampler("workload.think", a.think)
        self._n_clients = len(ops.clients)
        self._waiting: dict[Op, int] = {}
        recorder.op_listener = self._op_done

    def _op_done(self, op: Op) -> None:
        user = self._waiting.pop(op, None)
        if user is not None:
            self._think_then_issue(user)

    @property
    def in_flight(self) -> int:
        """Operations issued by users and not yet answered."""
        return len(self._waiting)

    def start(self) -> None:
        """Every user starts with a think time, then issues its first operation."""
        for user in range(self.users):
            self._think_then_issue(user)

    def _think_then_issue(self, user: int) -> None:
        delay = self._think()
        if self.env.now + delay < self.until:
            Timer(self.env, delay, self._issue, (user,))

    def _issue(self, user: int) -> None:
        self.generated += 1
        op = self.ops.issue(user % self._n_clients)
        if op is None:
            self._think_then_issue(user)
        else:
            self._waiting[op] = user


class TraceReplay(Generator):
    """Replays a trace: each row is one operation at ``(t - window.start) / speedup`` (plus
    the loop's offset), with the row's op, key and (if given) size, client, region, session.

    Rows without a client go to a client in their region (if given), else to one chosen
    by the session's hash (a session stays on one client), else to a random client; rows
    without a size draw one from ``workload.document_size``. A row whose session differs
    from the last one on its client opens a new session there (its UseSessionContext
    context is the session's hash). Only the chunk being replayed is in memory; the next
    chunk is read when it runs out, and every row is checked as it is read.

    ``clients``: the clients it replays through, placed in ``datacenters`` (the blueprint's)
    by ``network``; skipped rows are reported to ``recorder`` when the replay ends.
    ``route``: in a deployment of several clusters, which rows are this cluster's
    (:class:`~workbench.scenario.trace.TraceRoute`); the others are read and passed over. The
    window, the loop's period and the end of the replay follow every cluster's rows, so the
    clusters replay one trace on one time line.
    """

    def __init__(
        self,
        env: simpy.Environment,
        spec: Workload,
        duration: float,
        streams: Streams,
        clients: list[Client],
        datacenters: Sequence[Datacenter],
        network: Network,
        recorder: Recorder,
        route: TraceRoute | None = None,
        executors: list[list[Client]] | None = None,
        databases: dict[str, tuple[int, int]] | None = None,
    ):
        super().__init__(env, spec, duration)
        a = self.spec.arrivals
        self.clients = clients
        # A cluster of several databases: each row names its database, and goes to that
        # database's executor on the row's application server (by database, then client).
        self._executors: list[list[Client]] = executors if executors is not None else [clients]
        self.recorder: Recorder = recorder
        region_clients: dict[str, list[int]] = {}
        for dc in datacenters:
            region_clients.setdefault(dc.name, [])
        for dc in datacenters:
            region_clients.setdefault(dc.region, [])
        for i, client in enumerate(clients):
            loc = network.endpoints[client.index]
            region_clients[loc.datacenter].append(i)
            if loc.region != loc.datacenter:
                region_clients[loc.region].append(i)
        self.reader = TraceReader(
            a.file,  # type: ignore[arg-type]  # required for trace arrivals
            keys=self.spec.keys,
            clients=len(clients),
            region_clients={name: tuple(ids) for name, ids in region_clients.items()},
            on_error=a.on_error,
            route=route,
            databases=databases,
        )
        groups = self.reader.region_groups
        self._group_size = np.array([max(1, len(g)) for g in groups] or [1], dtype=np.int64)
        self._group_start = np.concatenate(([0], np.cumsum([len(g) for g in groups])))[:-1].astype(np.int64)
        self._group_members = np.array([c for g in groups for c in g] or [0], dtype=np.int64)
        self._size_rng = streams.rng("workload.sizes")
        self._client_rng = streams.rng("workload.clients")
        self.start_t = a.window.start
        self.end_t = a.window.end
        self.speedup = a.speedup
        self.loop = a.loop
        self.passes = 0  # completed passes over the window (loop)
        self._offset = 0.0  # simulated time of this pass's window start
        self._pass_rows = 0  # rows of this pass's window (of every cluster, in a deployment)
        self._pass_mine = 0  # of them, this cluster's
        self._pass_first = self._pass_last = 0.0
        self._chunks: Iterator[Any] | None = None
        # The trace session open on each executor (database d's of client c at d * clients + c).
        self._open: list[str | None] = [None] * (len(clients) * len(self._executors))
        self._n = self._i = 0
        self._when: list[float] = []
        self._kind: list[int] = []
        self._key: list[int] = []
        self._size: list[float] = []
        self._client: list[int] = []
        self._session: list[str | None] | None = None
        self._context: list[int] = []
        self._database: list[int] | None = None
        self.finished = False

    def start(self) -> None:
        """Open the trace and schedule its first row."""
        self._chunks = self.reader.chunks()
        self._schedule_next()

    def _schedule_next(self) -> None:
        if self._i >= self._n and not self._load():
            self._finish()
            return
        when = self._when[self._i]
        if when >= self.until:
            self._finish()
            return
        now = self.env.now
        delay = when - now
        if now + delay != when:
            delay = _delay_to(now, when)
        Timer(self.env, delay, self._arrive)

    def _arrive(self) -> None:
        i = self._i
        self._i = i + 1
        c = self._client[i]
        databases = self._database
        if databases is None:
            client = self.clients[c]
            slot = c
        else:
            db = databases[i]
            client = self._executors[db][c]
            slot = db * len(self.clients) + c
        if self._session is not None:
            session = self._session[i]
            if session is not None and session != self._open[slot]:
                self._open[slot] = session
                open_session(client, self._context[i], TRACE_SESSION_LENGTH)
        self.generated += 1
        client.submit(self._kind[i], self._key[i], self._size[i], databases is not None)
        self._schedule_next()

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        reader = self.reader
        if reader.skipped:
            shown = "; ".join(reader.examples)
            self.recorder.event(
                "trace_rows_skipped", count=reader.skipped, path=f"{reader.path}", examples=shown, value=reader.skipped
            )

    # -- reading
    def _load(self) -> bool:
        """Make the next rows of the window current; False when the replay is over."""
        while True:
            chunk: Any = next(self._chunks, None) if self._chunks is not None else None
            if chunk is None:
                if not self._next_pass():
                    return False
                continue
            # The window, by every cluster's rows (on a single cluster, ``every`` is ``time``).
            every = chunk.every  # never decreasing: the reader drops rows that go back
            first = int(np.searchsorted(every, self.start_t, side="left"))
            last = len(every)
            if self.end_t is not None:
                last = int(np.searchsorted(every, self.end_t, side="left"))
                if last < len(every):
                    self._chunks = None  # the window ends inside this chunk
            if first < last:
                if self._pass_rows == 0:
                    self._pass_first = float(every[first])
                self._pass_last = float(every[last - 1])
                self._pass_rows += last - first
            t = chunk.time
            if t is not every:  # a deployment: this cluster's rows in the window
                last = int(np.searchsorted(t, every[last - 1], side="right")) if first < last else 0
                first = int(np.searchsorted(t, self.start_t, side="left"))
                if first >= last and self._pass_rows and self._at(self._pass_last) >= self.until:
                    return False  # the rest of the trace is after the end, whichever cluster it is for
            if first >= last:
                continue
            self._take(chunk, first, last)
            return True

    def _at(self, t: float) -> float:
        """The simulated time of a row at trace time ``t`` in this pass."""
        return self._offset + (t - self.start_t) / self.speedup

    def _next_pass(self) -> bool:
        if not self.loop or self._pass_mine == 0:  # routing is the same in every pass: none of ours again
            return False
        if self.end_t is not None:
            period = self.end_t - self.start_t
        else:
            # Up to the last row, plus the mean gap between rows, so the seam looks like the rest.
            rows, first, last = self._pass_rows, self._pass_first, self._pass_last
            period = last - self.start_t + ((last - first) / (rows - 1) if rows > 1 else 0.0)
        if period <= 0:
            msg = "cannot loop a trace window that spans no time; set workload.arrivals.window.end"
            raise TraceError(msg, source=self.reader.path)
        self._offset += period / self.speedup
        self.passes += 1
        self._pass_rows = self._pass_mine = 0
        self._chunks = self.reader.chunks()
        return True

    def _take(self, chunk, first: int, last: int) -> None:
        n = last - first
        t = chunk.time[first:last]
        self._pass_mine += n
        self._when = (self._offset + (t - self.start_t) / self.speedup).tolist()
        self._kind = chunk.kind[first:last].tolist()
        self._key = chunk.key[first:last].tolist()
        dist = self.spec.document_size
        if chunk.size is None:
            sizes = dist.sample(self._size_rng, n)
        else:
            sizes = chunk.size[first:last].copy()
            missing = np.isnan(sizes)
            if missing.any():
                sizes[missing] = dist.sample(self._size_rng, int(missing.sum()))
        self._size = sizes.tolist()
        self._client = self._clients_for(chunk, first, last).tolist()
        if chunk.session is not None:
            self._session = chunk.session[first:last]
            self._context = chunk.session_hash[first:last].tolist()
        else:
            self._session = None
        self._database = chunk.database[first:last].tolist() if chunk.database is not None else None
        self._n, self._i = n, 0

    def _clients_for(self, chunk, first: int, last: int) -> np.ndarray:
        n = last - first
        clients = chunk.client[first:last].copy() if chunk.client is not None else np.full(n, -1, dtype=np.int64)
        need = clients < 0
        if not need.any():
            return clients
        count = int(need.sum())
        # A ticket per row picks the client: the session's hash (a session stays on one
        # client), or a random draw (one double per row, so chunk boundaries do not matter).
        ticket = (self._client_rng.random(count) * 2**31).astype(np.int64)
        if chunk.session_hash is not None:
            hashes = chunk.session_hash[first:last][need]
            ticket = np.where(hashes >= 0, hashes, ticket)
        regions = chunk.region[first:last][need] if chunk.region is not None else np.full(count, -1)
        in_region = regions >= 0
        picked = ticket % len(self.clients)
        if in_region.any():
            g = regions[in_region]
            picked[in_region] = self._group_members[self._group_start[g] + ticket[in_region] % self._group_size[g]]
        clients[need] = picked
        return clients


def make_workload(
    env: simpy.Environment,
    scenario: Scenario,
    streams: Streams,
    clients: list[Client],
    recorder: Recorder,
    network: Network,
    keyspace: Keyspace,
    route: TraceRoute | None = None,
    executors: list[list[Client]] | None = None,
    databases: dict[str, tuple[int, int]] | None = None,
) -> Generator:
    """The workload ``workload.arrivals.kind`` asks for, driving ``clients``; each generator
    is handed the pieces it uses (all but the trace replay draw through an :class:`OpSource`).
    ``route``: a trace's rows for this cluster, in a deployment of several clusters;
    ``executors`` and ``databases``: on a cluster of several databases, every database's
    executors (by database, then client) and each database's (index, documents), for a trace
    whose rows name their database."""
    spec = scenario.workload
    kind = spec.arrivals.kind
    duration = scenario.duration
    if kind == "trace":
        datacenters = scenario.blueprint.datacenters
        return TraceReplay(
            env, spec, duration, streams, clients, datacenters, network, recorder, route, executors, databases
        )
    ops = OpSource(spec, clients, streams, keyspace, scenario.clients.load_balance)
    if kind == "poisson":
        return PoissonArrivals(env, spec, duration, ops, streams)
    if kind == "constant":
        return ConstantArrivals(env, spec, duration, ops)
    if kind == "diurnal":
        return DiurnalArrivals(env, spec, duration, ops, streams)
    if kind == "bursts":
        return BurstArrivals(env, spec, duration, ops, streams, recorder)
    if kind == "closed":
        return ClosedLoop(env, spec, duration, ops, streams, recorder)
    msg = f"unknown arrivals kind {kind!r}"
    raise ValueError(msg)

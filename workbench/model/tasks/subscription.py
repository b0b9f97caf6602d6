"""Data subscriptions: worker clients and the responsible node [spec §4.4, §5.1, §5.6, §1.8,
§8.7, §8.12].

*Workers* (client side). Worker k runs on application server ``k % len(clients)``. It opens
a connection (TCP) to a node: at first the first node of its client's topology, later the
node a redirect named, or else the next node of the topology. The node answers:

- *Accepted*: it runs the task (the framework started it there) and the opening strategy
  lets this worker in. Batches follow.
- *Redirect* to the node it believes responsible, when that is another node [spec §4.4].
- *In use*: another worker holds the subscription. ``OpenIfFree`` ends the worker; a
  ``TakeOver`` newcomer evicts a holder that is not ``TakeOver`` itself (a second TakeOver
  loses and ends); ``WaitForFree`` keeps retrying, a hot standby [spec §4.4, B5].
- An error: no responsible node in its view (no leader, §1.8), no copy of the database,
  or the process is down (connection refused); no answer at all within
  ``CONNECTION_STREAM_TIMEOUT`` (a cut link) is an error too.

After any failure, a redirect or a lost connection the worker waits
``TimeToWaitBeforeConnectionRetry`` (``retry``, 5 s) before it connects again. Errors
(not redirects, not WaitForFree's "in use") start the erroneous period; a successful
connection ends it; a worker still failing ``MaxErroneousPeriod`` (5 min) after its first
error gives up (``subscription_gave_up``).

*The responsible node* (server side; ``Task``: the framework starts and stops it as the
node's own view of "whose task is it" changes, §5.1). While a worker holds the
subscription the node sends batches of up to ``MaxDocsPerBatch`` (4096) current versions
of the subscription's collections that its progress does not cover, read from its storage
log in order, one batch at a time. The worker processes a batch (``processing_cost`` per
document on its own machine), then acknowledges it; the node persists the progress (a
change vector, plus its log position for its own copy) through Raft and, once that is
committed, confirms the acknowledgement and sends the next batch, or waits for new data
(a watcher on its copy wakes it; nothing polls). A new owner resumes from the last progress
persisted in the cluster, so a batch processed but not acknowledged (and persisted) is
processed again: at least once [spec §4.4].

*When the node stops running it* (its view changed):

- it crashed: the OS resets the connection (if the reset can reach the worker; if not, the
  worker notices after ``CONNECTION_STREAM_TIMEOUT``, as its stream read would time out);
- the task moved (a new topology): the node drops the connection with a redirect to the new
  owner, as RavenDB does on a database-record change;
- it has no leader [spec §1.8]: an idle connection is dropped; a batch already with the
  worker is processed, and its acknowledgement then fails (the Raft command cannot commit
  within the operation timeout, 15 s, or the node no longer runs the task when it does) and
  the connection aborts (``subscription_ack_failed``). This is the book's partition case
  [spec §8.12, B5]: the isolated node's worker processes a batch that the majority's new
  owner sends again to another worker; one acknowledgement fails.

A connection whose link stays cut for ``CONNECTION_STREAM_TIMEOUT`` breaks at both ends
(the server's heartbeats and the client's stream read both time out); the model checks
this when a partition or a data-centre outage begins, not by polling heartbeats.

Records (entity ``task.<name>``): events ``subscription_connected``,
``subscription_redirected``, ``subscription_refused`` (in use: the worker ends, or waits
if WaitForFree), ``subscription_evicted`` (a TakeOver), ``subscription_disconnected`` (the
connection broke; the worker will retry), ``subscription_batch`` (a batch reached a worker;
value: documents), ``subscription_duplicates`` (at the end of a batch's processing: value =
versions in it that had been processed before), ``subscription_ack_failed``,
``subscription_gave_up``; timeseries ``subscription_backlog`` (versions written and not yet
processed, cluster-wide: a watcher on every copy notes each new write of a covered
document), ``subscription_busy`` (workers processing a batch now), ``subscription_processed``
(documents processed so far, repeats included) and ``subscription_lag_ms`` (per version, at
its first processing: processing end minus the write's commit on its origin).

Departures and assumptions (also in docs/subscriptions.md): no server CPU cost for reading
batches; batches limited by count only; documents present at t = 0 count as processed;
a conflicted document is skipped until resolved; WaitForFree retries every ``retry`` (the
spec's "keeps retrying") rather than waiting on the server; the workers' first connections
are spaced by ``start_spacing`` so their order is fixed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.model.kernel.kernel import Timer
from workbench.model.tasks.tasks import LogRun, Task, raise_to

if TYPE_CHECKING:
    import simpy

    from workbench.model.clients.client import Client
    from workbench.model.cluster.node import Server
    from workbench.model.cluster.rachis import Cluster
    from workbench.model.database.database import DatabaseInstance, Doc
    from workbench.model.database.keyspace import Keyspace
    from workbench.model.kernel.kernel import Streams
    from workbench.model.kernel.network import Network
    from workbench.model.recording.recorder import Recorder

CONNECTION_STREAM_TIMEOUT = 30.0  # SubscriptionWorkerOptions.ConnectionStreamTimeout [spec §4.4]
MESSAGE_BYTES = 200.0  # framing of one subscription message (status, ack, batch header)
PROGRESS_BYTES = 200.0  # the Raft command that persists the progress

OPEN_IF_FREE, TAKE_OVER, WAIT_FOR_FREE = "OpenIfFree", "TakeOver", "WaitForFree"

# Worker states.
WAITING = "waiting"  # before connecting, or the retry wait
CONNECTING = "connecting"
CONNECTED = "connected"  # waiting for a batch
PROCESSING = "processing"
ACKING = "acking"
DONE = "done"  # ended: refused, evicted or gave up


class _Worker:
    """One subscription worker (SubscriptionWorker) on an application server (``client``); its
    processing times are drawn from ``streams``."""

    def __init__(self, task: Subscription, k: int, strategy: str, client: Client, streams: Streams):
        self.k = k
        self.name = f"worker{k + 1}"
        self.client = client
        self.strategy = strategy
        self.state = WAITING
        self.conn = 0  # id of the current connection attempt; answers to older ones are ignored
        self.node: int | None = None  # the node of the current connection
        self.redirect: int | None = None  # where to connect next, if a redirect named a node
        self.position = -1  # index in the client's topology of the last node tried without a redirect
        self.failing_since: float | None = None  # start of the erroneous period
        self.standby = False  # WaitForFree, refused: retrying until the holder goes away
        self.timer: Timer | None = None
        self.batch: tuple[int, list[Doc]] | None = None  # (batch id, documents) being processed
        self.dropped: tuple[str, int | None, bool] | None = None  # a drop that came while processing
        self.process = streams.sampler(f"subscription.{task.name}.{self.name}", task.spec.processing_cost)


class _Run(LogRun):
    """The subscription on one node, from a start to its stop; ``cv`` and ``cursor`` are
    the acknowledged (persisted) progress."""

    def __init__(self, task: Subscription, index: int):
        super().__init__(task.nodes[index], task.db)
        self.holder: _Worker | None = None
        self.holder_conn = 0
        self.batch: tuple[int, list[Doc], int, tuple[int, ...]] | None = None  # (id, docs, end, cv) in flight
        self.batches = 0
        self.idle = False  # connected and caught up: the watcher wakes it
        self.lame = False  # no leader: only the batch in flight may still finish (its ack will fail)
        self.watcher = lambda: task._on_data(self)


class Subscription(Task):
    """A data subscription: its worker clients, and on the responsible node the run that sends them
    batches and persists their acknowledgements (the protocol of the module docstring) [spec §4.4].

    Besides what every task is given (:class:`Task`): the network its messages travel on, the
    random streams of its workers' processing times, the clients (application servers) its
    workers run on, the keyspace (each document's collection), the database's copies at the
    start (watched for the backlog; a copy created later is watched when a run starts on it)
    and the interval at which it samples its backlog."""

    def __init__(
        self,
        env: simpy.Environment,
        spec: Any,
        nodes: list[Server],
        cluster: Cluster,
        recorder: Recorder,
        db_name: str,
        db: int,
        network: Network,
        streams: Streams,
        clients: list[Client],
        keyspace: Keyspace,
        instances: list[DatabaseInstance],
        sample_interval: float,
    ):
        super().__init__(env, spec, nodes, cluster, recorder, db_name, db)
        self.network = network
        self.keyspace = keyspace
        self.collections = frozenset(spec.collections) if spec.collections else None
        self.batch_limit = spec.max_docs_per_batch
        self.retry = spec.retry
        self.max_erroneous = spec.max_erroneous_period
        self.entity = f"task.{spec.name}"
        self.sample_interval = sample_interval
        strategies = spec.worker_strategies or (spec.strategy,)
        self.workers = [
            _Worker(self, k, strategies[k % len(strategies)], clients[k % len(clients)], streams)
            for k in range(spec.workers)
        ]
        self.runs: dict[int, _Run] = {}
        # Accounting, cluster-wide.
        self.times: dict[tuple[int, int], int] = {}  # (key, write id) -> times processed
        self.processed = 0  # documents processed, repeats included
        self.repeats = 0  # processings of a version processed before
        self.newest: dict[int, int] = {}  # key -> newest write id stored anywhere
        self.done_upto: dict[int, int] = {}  # key -> newest write id processed
        self.backlog: set[int] = set()  # keys whose newest write is not processed yet
        self.busy = 0
        self.next_sample = 0.0
        self.watched: set[int] = set()  # copies (by incarnation) whose new writes feed the backlog
        recorder.sample(0.0, self.entity, "subscription_backlog", 0.0)
        recorder.sample(0.0, self.entity, "subscription_busy", 0.0)
        for inst in instances:
            self._watch(inst)
        recorder.listeners.append(self._on_event)
        for w in self.workers:
            Timer(self.env, w.k * spec.start_spacing, self._connect, (w,))

    # ================================================================ the framework
    def start(self, index: int) -> None:
        """Node ``index`` runs the subscription: resume from the persisted progress and wait for a
        worker (a run left waiting for its last acknowledgement, whose node leads again, simply
        carries on)."""
        run = self.runs.get(index)
        if run is not None and run.alive():
            run.lame = False  # the leader is back before the batch in flight was acknowledged
            return
        run = _Run(self, index)
        self._watch(run.inst)
        run.resume(self.persisted(index))
        run.inst.watchers.append(run.watcher)
        self.runs[index] = run

    def stop(self, index: int) -> None:
        """Node ``index`` no longer runs it: a crash resets the worker's connection, a move
        redirects the worker to the new owner, and with no leader a batch already with the worker is
        processed but its acknowledgement will fail."""
        run = self.runs.get(index)
        if run is None:
            return
        node = run.node
        if not node.up or node.epoch != run.epoch:
            self._end_run(run)
            if run.holder is not None:
                # The OS resets the dead process's connection.
                self._to_worker(run, run.holder, run.holder_conn, "reset", None)
            return
        raft = self.cluster.nodes[index]
        owner = self.owner_seen_by(raft) if node.instances[self.db] is run.inst else None
        if owner is None and run.batch is not None and node.instances[self.db] is run.inst:
            run.lame = True  # the worker finishes its batch; the acknowledgement will fail
            return
        self._end_run(run)
        if run.holder is not None:
            if owner is not None:
                self._to_worker(run, run.holder, run.holder_conn, "moved", owner)
            else:
                self._to_worker(run, run.holder, run.holder_conn, "closed", None)

    def reassess(self, index: int) -> None:
        """Ownership as in :meth:`Task.reassess`, then end a run left waiting for its last
        acknowledgement if its node crashed."""
        super().reassess(index)
        run = self.runs.get(index)
        if run is not None and run.lame and not run.alive():
            # A run left waiting for its last batch's acknowledgement has already left
            # ``running``, so the framework will not stop it: a crash ends it here.
            self._end_run(run)
            if run.holder is not None:
                self._to_worker(run, run.holder, run.holder_conn, "reset", None)

    # ================================================================ helpers
    def _end_run(self, run: _Run) -> None:
        run.stopped = True
        if self.runs.get(run.index) is run:
            del self.runs[run.index]
        if run.watcher in run.inst.watchers:
            run.inst.watchers.remove(run.watcher)

    def _wanted(self, doc: Doc) -> bool:
        if doc.conflicts is not None:
            return False  # in conflict: sent once resolved
        return self.collections is None or self.keyspace.collection_of(doc.key) in self.collections

    def _watch(self, inst: DatabaseInstance) -> None:
        if inst.incarnation not in self.watched:
            self.watched.add(inst.incarnation)
            inst.watchers.append(lambda: self._note_write(inst))

    def _note_write(self, inst: DatabaseInstance) -> None:
        """Any copy stored a version: a new write of a covered document joins the backlog."""
        doc = inst.log[-1]
        key, wid = doc.key, doc.write_id
        if wid <= self.newest.get(key, 0) or not self._wanted(doc):
            return
        self.newest[key] = wid
        if self.done_upto.get(key, 0) < wid and key not in self.backlog:
            self.backlog.add(key)
            if len(self.backlog) == 1 or self.env.now >= self.next_sample:
                self._sample_backlog()

    def _sample_backlog(self) -> None:
        now = self.env.now
        self.next_sample = now + self.sample_interval
        self.recorder.sample(now, self.entity, "subscription_backlog", float(len(self.backlog)))

    def _event(self, kind: str, node: int | None, w: _Worker, value: float | None = None, **fields: Any) -> None:
        """Record a subscription event of worker ``w`` on node ``node`` (an index)."""
        tag = self.nodes[node].tag if node is not None else None
        self.recorder.event(kind, node=tag, value=value, database=self.db_name, task=self.name, worker=w.name, **fields)

    # ================================================================ worker side
    def _connect(self, w: _Worker) -> None:
        if w.state != WAITING:
            return
        w.timer = None
        if w.redirect is not None:
            target, w.redirect = w.redirect, None
        else:
            topo = w.client.topology or w.client.urls  # before its first topology: the URL list
            w.position = (w.position + 1) % len(topo)
            target = topo[w.position]
        w.conn += 1
        w.node = target
        w.state = CONNECTING
        self.network.send(w.client.index, target, MESSAGE_BYTES, self._on_connect, target, w, w.conn)
        w.timer = Timer(self.env, CONNECTION_STREAM_TIMEOUT, self._no_answer, (w, w.conn))

    def _no_answer(self, w: _Worker, conn: int) -> None:
        if w.conn == conn and w.state in (CONNECTING, ACKING):
            w.timer = None
            self._failed(w, f"no answer from {self.nodes[w.node].tag} in {CONNECTION_STREAM_TIMEOUT:g} s")

    def _retry_later(self, w: _Worker) -> None:
        w.state = WAITING
        w.batch = None
        w.timer = Timer(self.env, self.retry, self._connect, (w,))

    def _failed(self, w: _Worker, why: str, redirect: int | None = None, error: bool = True) -> None:
        """The connection failed or broke: retry after ``retry`` (or give up)."""
        if w.timer is not None:
            w.timer.cancel()
            w.timer = None
        w.conn += 1  # whatever the old connection still sends is ignored
        now = self.env.now
        if error:
            if w.failing_since is None:
                w.failing_since = now
            elif now - w.failing_since >= self.max_erroneous:
                w.state = DONE
                self._event(
                    "subscription_gave_up",
                    w.node,
                    w,
                    now - w.failing_since,
                    duration_s=now - w.failing_since,
                    reason=why,
                )
                return
        self._event("subscription_disconnected", w.node, w, reason=why, wait_s=self.retry)
        w.redirect = redirect
        self._retry_later(w)

    def _at_worker(self, w: _Worker, conn: int, kind: str, arg: Any) -> None:
        """A message from the node of connection ``conn`` reached worker ``w``."""
        if conn != w.conn or w.state in (WAITING, DONE):
            return  # an answer to an older connection
        node = w.node
        tag = self.nodes[node].tag
        if w.state == PROCESSING:
            if kind in ("reset", "moved", "closed", "aborted", "evicted"):
                w.dropped = (kind, arg, True)  # handled when the batch is done
            return
        if kind == "accepted" or (kind == "batch" and w.state == CONNECTING):
            if w.state == CONNECTING:
                w.timer.cancel()
                w.timer = None
                w.state = CONNECTED
                w.failing_since = None
                w.standby = False
                self._event("subscription_connected", node, w, strategy=w.strategy)
            if kind == "accepted":
                return
        if kind == "batch":
            if w.state == ACKING:  # the batch overtook the confirmation of the last one
                w.timer.cancel()
                w.timer = None
            self._process(w, arg)
        elif kind == "ack_ok":
            if w.state == ACKING:
                w.timer.cancel()
                w.timer = None
                w.state = CONNECTED
        elif kind == "redirect":
            self._event("subscription_redirected", node, w, destination=self.nodes[arg].tag)
            self._failed(w, f"redirected to {self.nodes[arg].tag}", arg, error=False)
        elif kind == "in_use":
            self._refused(w, arg)
        elif kind == "evicted":
            w.state = DONE
            w.conn += 1
            self._event("subscription_evicted", node, w, holder=arg)
        elif kind == "moved":
            self._failed(w, f"the task moved from {tag} to {self.nodes[arg].tag}", arg, error=False)
        elif kind == "aborted":
            self._failed(w, f"{tag} aborted the connection: {arg}")
        else:  # reset, closed, error, timeout
            self._failed(w, f"{tag}: {arg or kind}")

    def _refused(self, w: _Worker, holder: str) -> None:
        if w.timer is not None:
            w.timer.cancel()
            w.timer = None
        w.conn += 1
        if w.strategy == WAIT_FOR_FREE:
            if not w.standby:  # recorded once per stretch of waiting, not at every retry
                w.standby = True
                self._event("subscription_refused", w.node, w, strategy=w.strategy, holder=holder)
            w.failing_since = None  # a hot standby is not in error
            w.redirect = w.node
            self._retry_later(w)
            return
        w.state = DONE
        self._event("subscription_refused", w.node, w, strategy=w.strategy, holder=holder)

    def _process(self, w: _Worker, batch: tuple[int, list[Doc]]) -> None:
        w.state = PROCESSING
        w.batch = batch
        docs = batch[1]
        self._event("subscription_batch", w.node, w, float(len(docs)), count=len(docs))
        self.busy += 1
        self.recorder.sample(self.env.now, self.entity, "subscription_busy", float(self.busy))
        cost = 0.0
        for _ in docs:
            cost += w.process()
        w.timer = Timer(self.env, cost, self._processed, (w, w.conn))

    def _processed(self, w: _Worker, conn: int) -> None:
        if w.conn != conn or w.state != PROCESSING:
            return
        w.timer = None
        bid, docs = w.batch
        now = self.env.now
        rec = self.recorder
        again = 0
        times, done_upto, newest, backlog = self.times, self.done_upto, self.newest, self.backlog
        for doc in docs:
            version = (doc.key, doc.write_id)
            n = times.get(version, 0)
            times[version] = n + 1
            if n:
                again += 1
            else:
                rec.sample(now, self.entity, "subscription_lag_ms", (now - doc.committed) * 1e3)
            if doc.write_id > done_upto.get(doc.key, 0):
                done_upto[doc.key] = doc.write_id
                if doc.write_id >= newest.get(doc.key, 0):
                    backlog.discard(doc.key)
        self.processed += len(docs)
        self.repeats += again
        self.busy -= 1
        rec.sample(now, self.entity, "subscription_busy", float(self.busy))
        rec.sample(now, self.entity, "subscription_processed", float(self.processed))
        self._sample_backlog()
        if again:
            self._event("subscription_duplicates", w.node, w, float(again), count=again, total=len(docs))
        if w.dropped is not None:
            kind, arg, _ = w.dropped
            w.dropped = None
            w.state = CONNECTED
            self._at_worker(w, conn, kind, arg)
            return
        w.state = ACKING
        self.network.send(w.client.index, w.node, MESSAGE_BYTES, self._on_ack, w.node, w, conn, bid)
        w.timer = Timer(self.env, CONNECTION_STREAM_TIMEOUT, self._no_answer, (w, conn))

    # ================================================================ server side
    def _to_worker(self, run: _Run | None, w: _Worker, conn: int, kind: str, arg: Any, size: float = 0.0) -> None:
        src = run.index if run is not None else w.node
        sent = self.network.send(src, w.client.index, MESSAGE_BYTES + size, self._at_worker, w, conn, kind, arg)
        if not sent and kind == "reset":
            # The reset cannot get through: the worker's stream read times out instead.
            Timer(self.env, CONNECTION_STREAM_TIMEOUT, self._at_worker, (w, conn, "timeout", "stream timed out"))

    def _answer(self, index: int, w: _Worker, conn: int, kind: str, arg: Any = None) -> None:
        self.network.send(index, w.client.index, MESSAGE_BYTES, self._at_worker, w, conn, kind, arg)

    def _on_connect(self, index: int, w: _Worker, conn: int) -> None:
        """A worker's connection reached node ``index``."""
        node = self.nodes[index]
        if not node.up or not node.accepting:
            self._answer(index, w, conn, "reset", "connection refused")
            return
        if node.instances[self.db] is None:
            self._answer(index, w, conn, "error", f"the database is not on {node.tag}")
            return
        run = self.runs.get(index)
        if run is not None and run.alive() and not run.lame:
            self._accept(run, w, conn)
            return
        owner = self.owner_seen_by(self.cluster.nodes[index])
        if owner is not None and owner != index:
            self._answer(index, w, conn, "redirect", owner)
        else:
            self._answer(index, w, conn, "error", f"no responsible node in {node.tag}'s view")

    def _accept(self, run: _Run, w: _Worker, conn: int) -> None:
        holder = run.holder
        if holder is not None and holder is not w:
            if w.strategy == TAKE_OVER and holder.strategy != TAKE_OVER:
                self._answer(run.index, holder, run.holder_conn, "evicted", w.name)
            else:
                self._answer(run.index, w, conn, "in_use", holder.name)
                return
        run.holder = w
        run.holder_conn = conn
        run.batch = None  # a reconnecting holder gets its unacknowledged batch again
        run.idle = False
        self._answer(run.index, w, conn, "accepted")
        self._next(run)

    def _drop(self, run: _Run) -> None:
        run.holder = None
        run.batch = None
        run.idle = False

    def _on_data(self, run: _Run) -> None:
        """Watcher: the run's copy stored a version."""
        if run.idle and run.holder is not None:
            run.idle = False
            # Once the current event is done: a transaction's documents are all stored first.
            Timer(self.env, 0.0, self._next, (run,))

    def _next(self, run: _Run) -> None:
        if not run.alive() or run.lame or run.holder is None or run.batch is not None:
            return
        inst = run.inst
        log, docs = inst.log, inst.docs
        cursor, end = run.cursor, len(log)
        items: list[Doc] = []
        new_cv = list(run.cv)
        size = 0.0
        while cursor < end and len(items) < self.batch_limit:
            doc = log[cursor]
            cursor += 1
            if docs[doc.key] is doc and self._wanted(doc) and not run.done_before(doc, cursor - 1):
                items.append(doc)
                size += doc.size
                raise_to(new_cv, doc.cv)
        if not items:
            run.cursor = cursor  # nothing in that stretch is for this subscription
            run.idle = True
            return
        run.batches += 1
        run.batch = (run.batches, items, cursor, tuple(new_cv))
        self._to_worker(run, run.holder, run.holder_conn, "batch", (run.batches, items), size)

    def _on_ack(self, index: int, w: _Worker, conn: int, bid: int) -> None:
        """A worker's acknowledgement reached node ``index``: persist the progress through Raft."""
        run = self.runs.get(index)
        if run is None or not run.alive() or run.holder is not w or run.holder_conn != conn:
            node = self.nodes[index]
            if node.up:
                self._answer(index, w, conn, "aborted", "the connection is gone")
            return
        if run.batch is None or run.batch[0] != bid:
            return
        _bid, _items, end, new_cv = run.batch
        self.progress_commands += 1
        raft = self.cluster.nodes[index]
        value = (new_cv, run.inst.incarnation, end)
        raft.submit(
            "task_state", (self.name, value), PROGRESS_BYTES, lambda out: self._persisted(run, w, conn, bid, out)
        )

    def _persisted(self, run: _Run, w: _Worker, conn: int, bid: int, outcome: tuple) -> None:
        if not run.alive() or run.holder is not w or run.holder_conn != conn:
            return  # crashed (the worker got a reset), or the connection was replaced
        if run.batch is None or run.batch[0] != bid:
            return
        ok = outcome[0] and run.index in self.running and not run.lame
        if ok:
            _bid, _items, end, new_cv = run.batch
            run.cv = new_cv
            run.cursor = end
            run.batch = None
            self._answer(run.index, w, conn, "ack_ok")
            self._next(run)
            return
        why = "no leader: the progress command timed out" if not outcome[0] else f"{run.tag} no longer runs it"
        self._event("subscription_ack_failed", run.index, w, reason=why)
        self._answer(run.index, w, conn, "aborted", why)
        self._drop(run)
        if run.lame:
            self._end_run(run)

    # ================================================================ cut links
    def _on_event(self, kind: str, _node: str | None) -> None:
        if kind not in ("partition", "datacenter_down"):
            return
        for run in list(self.runs.values()):
            if run.holder is not None and self._cut(run.index, run.holder):
                Timer(self.env, CONNECTION_STREAM_TIMEOUT, self._check_cut, (run, run.holder, run.holder_conn))
        # A worker mid-processing on a link that is now cut finds out when it acknowledges.

    def _cut(self, index: int, w: _Worker) -> bool:
        cut = self.network.cut
        return bool(cut[index][w.client.index] or cut[w.client.index][index])

    def _check_cut(self, run: _Run, w: _Worker, conn: int) -> None:
        if run.holder is not w or run.holder_conn != conn or not self._cut(run.index, w):
            return
        if run.alive():
            self._drop(run)
            if run.lame:
                self._end_run(run)
        if w.conn == conn and w.state not in (WAITING, DONE):
            self._at_worker(w, conn, "timeout", "the connection timed out (link cut)")

"""The broker's state machine: messages and deadlines in, effects out (SPEC.md 5-7).

Theory of operation.  ``BrokerState`` owns every job, queue and worker.  It
never does I/O and never reads the clock: the actor shell passes ``now`` and
executes the returned effects in order (send to a client or worker, publish
an event, persist rows then send what was waiting for the commit, run a read
query in the writer thread).

The job lifecycle is the transition table in lifecycle.py; every status
change goes through it.  Scheduling (queues, dispatch, deadlines) is in
scheduling.py, the worker channel in workerside.py, store-answered requests
in queries.py and retries in retries.py: mixins of this one owner.  A
request that needs a store read leaves a typed ``Pending`` continuation
under the Query's token.  STARTs and finished jobs do not dispatch one by one:
they mark a dispatch due, and ``settle`` (after each message, or once per loop
turn when the actor asks) dispatches once and sends the STARTs' acks.

Results whose attempt is not the job's current attempt are ignored.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable
from itertools import count
from typing import Any

from medialoom.protocol import messages as m
from medialoom.protocol.codec import MAX_BODIES
from medialoom.protocol.constants import MAX_BODY_BYTES, PRIORITY_RANK, TERMINAL_STATUSES
from medialoom.protocol.errors import RequestError
from medialoom.workers.specs import KindSpec

from .config import BrokerConfig
from .effects import Effect, Pending, Persist, Query, ToClient, ToWorker, Worker, fail
from .jobs import Job, JobIds, job_map, job_row
from .jsontext import dumps as to_json
from .lifecycle import Lifecycle
from .paths import PathIndex
from .queries import StoreQueries
from .retries import RetryStarts
from .scheduling import Scheduling
from .tokens import Budgets
from .workerside import WorkerChannel

VERSION = "0.1.0"
SEQ_RESTART_GAP = 100_000
class BrokerState(Lifecycle, Scheduling, RetryStarts, StoreQueries, WorkerChannel):
    """All broker state; see the module docstring for the lifecycle."""

    def __init__(self, config: BrokerConfig, kinds: dict[str, KindSpec], recovered: list[Job],
                 now: float, rng: random.Random | None = None) -> None:
        self.config = config
        self.kinds = dict(kinds)
        self.ids = JobIds()
        self.rng = rng or random.Random()
        self.active: dict[str, Job] = {}
        self.finished: OrderedDict[str, Job] = OrderedDict()
        self.ready: dict[str, list[tuple[int, float, str]]] = {}
        self.delayed: list[tuple[float, str]] = []
        #: queued jobs no connected worker can reach, per kind (scheduling.py, SPEC 6.9)
        self.stranded: dict[str, list[tuple[int, float, str]]] = {}
        self.queued = 0
        self.paths = PathIndex()
        self.workers: dict[bytes, Worker] = {}
        self.waiters: dict[str, list[tuple[bytes, int]]] = {}
        self.pending: dict[int, Pending] = {}
        #: settle() is due to dispatch (a START or a freed slot since the last one); the
        #: STARTs it acks; what a dispatch before it (a full queue) gave workers meanwhile
        self.dispatch_due = False
        self.unacked: list[tuple[Job, ToClient]] = []
        self.dispatched_early: list[Effect] = []
        self.tokens = count(1)
        self.next_heartbeat = now
        self.next_retention = now + 5.0
        self._client_handlers: dict[type, Callable[[bytes, Any, float], list[Effect]]] = {
            m.Hello: self.handle_hello, m.Ping: self.handle_ping, m.Status: self.handle_status,
            m.Wait: self.handle_wait, m.Cancel: self.handle_cancel, m.Clear: self.handle_clear,
            m.List: self.handle_list, m.Stats: self.handle_stats, m.Results: self.handle_results,
            m.Plan: self.handle_plan}
        #: request-token budgets shared by every worker (W:TOKEN, broker/tokens.py)
        self.budgets = Budgets()
        #: does any subscriber take this job's events?  (the actor knows XPUB's subscriptions)
        self.heard: Callable[[str], bool] = lambda job_id: True
        self.counters = {"requests": 0, "errors": 0, "dispatched": 0, "events": 0, "dropped": 0,
                         "internal": 0, "unknown_peer": 0, "stale": 0, "gaps": 0,
                         "refused": 0}
        for job in recovered:
            # events after the last stored row were numbered past job.seq: jump beyond them so
            # subscribers never see a number again (at most ~10 events/s per job are published)
            job.seq += SEQ_RESTART_GAP
            self.active[job.id] = job
            self.paths.add(job.paths)
            if job.status == "queued":
                self._enqueue(job, now)
            else:
                job.lease_until = now + config.reclaim_lease_s

    def __repr__(self) -> str:
        counters = " ".join(f"{k}={v}" for k, v in self.counters.items())
        return (f"<BrokerState active={len(self.active)} queued={self.queued} "
                f"workers={len(self.workers)} cached={len(self.finished)} {counters}>")

    # --- lookups -----------------------------------------------------------------

    def job(self, job_id: str) -> Job | None:
        """A job held in memory (active, or recently finished)."""
        return self.active.get(job_id) or self.finished.get(job_id)

    def known_kinds(self) -> list[str]:
        """Kinds in the registry plus those any connected worker announced."""
        names = set(self.kinds)
        for w in self.workers.values():
            names |= w.kinds
        return sorted(names)

    # --- client requests ---------------------------------------------------------

    def handle_client(self, peer: bytes, msg: m.ClientRequest, now: float,
                      resolved: list[str] | None = None, settle: bool = True) -> list[Effect]:
        """One client request; errors become ERROR replies.  settle: also what it left
        to do (Scheduling.settle); the actor settles once per loop turn instead."""
        self.counters["requests"] += 1
        try:
            if isinstance(msg, m.Start):
                out = self.handle_start(peer, msg, now, resolved or [])
            else:
                out = self._client_handlers[type(msg)](peer, msg, now)
        except RequestError as exc:
            out = [self.error(peer, msg.rid, exc)]
        return out + self.settle(now) if settle else out

    def error(self, peer: bytes, rid: int, exc: RequestError) -> ToClient:
        """An ERROR reply for a refused request."""
        self.counters["errors"] += 1
        return ToClient(peer, m.Error(rid=rid, code=exc.code, message=exc.message,
                                      details=exc.details))

    def handle_hello(self, peer: bytes, msg: m.Hello, now: float) -> list[Effect]:
        kinds = self.known_kinds()
        specs = {k: spec.to_map() for k in kinds if (spec := self.spec_of(k)) is not None}
        data = {"protocol": 1, "broker": f"medialoom {VERSION}", "kinds": kinds, "specs": specs,
                "limits": {"max_body_bytes": MAX_BODY_BYTES, "queue_max": self.config.queue_max,
                           "max_bodies": MAX_BODIES},
                "roots": list(self.config.roots), "batch": True}
        return [ToClient(peer, m.Reply(rid=msg.rid, data=data))]

    def handle_ping(self, peer: bytes, msg: m.Ping, now: float) -> list[Effect]:
        return [ToClient(peer, m.Reply(rid=msg.rid, data={"now": now}))]

    def spec_of(self, kind: str) -> KindSpec | None:
        """The spec of a kind: the broker's own, else the one a connected worker announced."""
        spec = self.kinds.get(kind)
        if spec is None:
            spec = next((w.specs[kind] for w in self.workers.values() if kind in w.specs), None)
        return spec

    def validate_start(self, msg: m.Start, resolved: list[str]) -> dict[str, Any]:
        """The START's params with defaults; RequestError if anything is wrong."""
        if msg.priority not in PRIORITY_RANK:
            raise fail("job.bad_params", f"priority must be one of {', '.join(PRIORITY_RANK)}",
                       {"field": "priority"})
        if msg.max_attempts < 0 or msg.max_attempts > 100:
            raise fail("job.bad_params", "max_attempts must be 0..100", {"field": "max_attempts"})
        spec = self.spec_of(msg.kind)
        if spec is None:
            if msg.kind not in self.known_kinds():
                raise fail("job.unknown_kind", f"unknown job kind {msg.kind!r} "
                           f"(known: {', '.join(self.known_kinds())})", {"field": "kind"})
            return dict(msg.params)  # a worker announced the kind without a spec
        return spec.validate(msg.params, msg.paths and resolved)

    def handle_start(self, peer: bytes, msg: m.Start, now: float,
                     resolved: list[str]) -> list[Effect]:
        if msg.retry_of:
            return self._start_retry(peer, msg, now)
        params = self.validate_start(msg, resolved)
        spec = self.spec_of(msg.kind)
        if spec is not None and spec.target_param:
            target = params.get(spec.target_param)
            found = self.job(target) if isinstance(target, str) else None
            if found is None and isinstance(target, str):
                token = next(self.tokens)  # the target is only in the store: look it up first
                self.pending[token] = Pending(self._finish_start_target, peer, msg.rid, (msg, resolved, params))
                return [Query("get", (target,), token)]
            self._check_target(spec, target, found)
        return self._create(peer, msg, resolved, params, now)

    def _check_target(self, spec: KindSpec, target: Any, found: Job | None) -> None:
        """A rollback's target job: it exists, has finished, and changes files."""
        where = f"params.{spec.target_param}"
        if found is None:
            raise fail("job.not_found", f"no job {target}", {"field": where, "job": target})
        if found.status not in TERMINAL_STATUSES:
            raise fail("job.not_finished", f"job {target} is {found.status}; roll it back once "
                       "it has finished", {"field": where, "job": target})
        target_spec = self.spec_of(found.kind)
        if target_spec is not None and not target_spec.changes_files:
            raise fail("job.bad_params", f"job {target} is a {found.kind} job, which changes no "
                       "files: there is nothing to roll back", {"field": where, "job": target})

    def _finish_start_target(self, peer: bytes, rid: int, msg: Any, found: Job | None,
                             now: float) -> list[Effect]:
        start, resolved, params = msg
        spec = self.spec_of(start.kind)
        assert spec is not None
        target = params[spec.target_param]
        self._check_target(spec, target, self.job(target) or found)
        return self._create(peer, start, resolved, params, now)

    def _create(self, peer: bytes, msg: m.Start, resolved: list[str], params: dict[str, Any],
                now: float, retry_of: str | None = None) -> list[Effect]:
        if self.queued >= self.config.queue_max and self.dispatch_due:
            # the turn's earlier STARTs may have room on workers: it counts them as running
            self.dispatched_early += self.dispatch(now)
        if self.queued >= self.config.queue_max:
            raise fail("queue.full", f"the queue is full ({self.config.queue_max} jobs queued); "
                       "try again later")
        if not msg.allow_conflict:
            for path in resolved:
                other = self.paths.overlap(path)
                if other is not None:
                    owner = next((j.id for j in self.active.values() if other in j.paths), "")
                    raise fail("job.conflict", f"{path} overlaps {other} of active job {owner}",
                               {"path": path, "job": owner})
        try:  # the store keeps them as JSON: made once here, for every row of the job
            fixed = (to_json(resolved), to_json(params))
        except (TypeError, ValueError):
            raise fail("job.bad_params", "params must hold only maps, arrays, strings, numbers, "
                       "booleans and nil", {"field": "params"}) from None
        job = Job(id=self.ids.new(now), kind=msg.kind, paths=resolved, params=params,
                  priority=PRIORITY_RANK[msg.priority], dry_run=msg.dry_run, created=now,
                  updated=now, max_attempts=msg.max_attempts or self.config.max_attempts,
                  retry_of=retry_of, status="new", fixed_json=fixed)
        self._move(job, "create")
        self.active[job.id] = job
        self.paths.add(job.paths)
        self._enqueue(job, now)
        event = self._event(job, now)  # first: the ack and the row carry its seq (SPEC.md 4.3)
        ack = ToClient(peer, m.Reply(rid=msg.rid, data={"job": job_map(job)}), created=job.id)
        self.unacked.append((job, ack))  # settle() sends it (after the DISPATCH, if any)
        self.dispatch_due = True
        return [Persist((("job", job_row(job)),)), event]

    def _lookup(self, peer: bytes, msg: Any, now: float,
                then: Callable[[bytes, int, Any, Any, float], list[Effect]]) -> list[Effect]:
        """Finish a request about a job not in memory through a store read."""
        token = next(self.tokens)
        self.pending[token] = Pending(then, peer, msg.rid, msg)
        return [Query("get", (msg.job,), token)]

    def handle_status(self, peer: bytes, msg: m.Status, now: float) -> list[Effect]:
        job = self.job(msg.job)
        if job is None:
            return self._lookup(peer, msg, now, self._finish_status)
        return [ToClient(peer, m.Reply(rid=msg.rid, data={"job": job_map(job)}))]

    def handle_wait(self, peer: bytes, msg: m.Wait, now: float) -> list[Effect]:
        job = self.job(msg.job)
        if job is None:
            return self._lookup(peer, msg, now, self._finish_status)
        if job.status in TERMINAL_STATUSES:
            return [ToClient(peer, m.Reply(rid=msg.rid, data={"job": job_map(job)}))]
        self.waiters.setdefault(job.id, []).append((peer, msg.rid))
        return []

    def handle_cancel(self, peer: bytes, msg: m.Cancel, now: float) -> list[Effect]:
        job = self.active.get(msg.job)
        if job is None:
            if msg.job in self.finished:
                raise fail("job.finished", f"job {msg.job} already finished "
                           f"({self.finished[msg.job].status})", {"job": msg.job})
            return self._lookup(peer, msg, now, self._finish_cancel)
        if job.status == "queued":
            out = self._finish(job, "cancelled", now)
        else:
            if job.cancel_requested:
                return [ToClient(peer, m.Reply(rid=msg.rid, data={"job": job_map(job)}))]
            job.cancel_requested = True
            job.updated = now
            then: tuple[Any, ...] = ()
            if job.worker is not None and job.worker in self.workers:
                # after the commit, so it follows the DISPATCH of this attempt
                then = (ToWorker(job.worker, m.CancelJob(job=job.id, attempt=job.attempts)),)
            # only the flag: it commits ahead of the job's queued item rows (whose job rows
            # cannot take it back), so the answer does not wait behind them (SPEC.md 7.3)
            out = [Persist((("cancel_flag", job.id),), then=then), self._event(job, now)]
        reply = ToClient(peer, m.Reply(rid=msg.rid, data={"job": job_map(job)}))
        return [*out, Persist((), then=(reply,))]

    def handle_clear(self, peer: bytes, msg: m.Clear, now: float) -> list[Effect]:
        if msg.job in self.active:
            raise fail("job.not_finished", f"job {msg.job} is {self.active[msg.job].status}; "
                       "cancel it first", {"job": msg.job})
        if self.finished.pop(msg.job, None) is None:
            return self._lookup(peer, msg, now, self._finish_clear)
        return self._delete(peer, msg.rid, msg.job)

    def _delete(self, peer: bytes, rid: int, job_id: str) -> list[Effect]:
        reply = ToClient(peer, m.Reply(rid=rid, data={"cleared": job_id}))
        return [Persist((("delete", job_id),), then=(reply,))]

    def finish_query(self, token: int, result: Any, now: float,
                     settle: bool = True) -> list[Effect]:
        """Complete the request that asked for a store read (result: an exception if it
        failed); settle as handle_client does (a RETRY's new job)."""
        out = self._finish_query(token, result, now)
        return out + self.settle(now) if settle else out

    def _finish_query(self, token: int, result: Any, now: float) -> list[Effect]:
        p = self.pending.pop(token)
        if isinstance(result, Exception):
            self.counters["internal"] += 1
            if p.failed is not None:
                return p.failed(p.peer, p.rid, p.msg)
            return [self.error(p.peer, p.rid, RequestError(
                "the broker failed to read its store; its log has the details", code="internal"))]
        try:
            return p.done(p.peer, p.rid, p.msg, result, now)
        except RequestError as exc:
            return [self.error(p.peer, p.rid, exc)]

    def write_failed(self, then: tuple[Any, ...], now: float) -> list[Effect]:
        """A write was not stored: what waited for it is answered ``internal`` instead."""
        self.counters["internal"] += 1
        out: list[Effect] = []
        for effect in then:
            if not isinstance(effect, ToClient) or not isinstance(effect.msg, m.Reply):
                continue  # an ACK is not sent: the worker sends the message again
            if effect.created:
                job = self.active.get(effect.created)
                if job is not None and job.status == "queued":
                    self.queued -= 1
                    self._move(job, "lose")
                    self.active.pop(job.id, None)
                    self.paths.remove(job.paths)
            out.append(self.error(effect.peer, effect.msg.rid, RequestError(
                "the broker could not store this change; its log has the details",
                code="internal")))
        return out

    def _finish_status(self, peer: bytes, rid: int, msg: Any, found: Job | None,
                       now: float) -> list[Effect]:
        job = self.job(msg.job) or found
        if job is None:
            raise fail("job.not_found", f"no job {msg.job}", {"job": msg.job})
        if isinstance(msg, m.Wait) and job.status not in TERMINAL_STATUSES:
            self.waiters.setdefault(job.id, []).append((peer, rid))
            return []
        return [ToClient(peer, m.Reply(rid=rid, data={"job": job_map(job)}))]

    def _finish_cancel(self, peer: bytes, rid: int, msg: Any, found: Job | None,
                       now: float) -> list[Effect]:
        if msg.job in self.active:
            return self.handle_cancel(peer, msg, now)
        if found is None:
            raise fail("job.not_found", f"no job {msg.job}", {"job": msg.job})
        raise fail("job.finished", f"job {msg.job} already finished ({found.status})",
                   {"job": msg.job})

    def _finish_clear(self, peer: bytes, rid: int, msg: Any, found: Job | None,
                      now: float) -> list[Effect]:
        if msg.job in self.active:
            raise fail("job.not_finished", f"job {msg.job} is still active", {"job": msg.job})
        if found is None:
            raise fail("job.not_found", f"no job {msg.job}", {"job": msg.job})
        self.finished.pop(msg.job, None)
        return self._delete(peer, rid, msg.job)

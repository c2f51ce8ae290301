"""The worker channel of the broker's state machine (SPEC.md section 6).

A mixin of ``BrokerState``: the same single owner of all job state, split
out by channel to keep modules small.

Theory of operation.  A worker's results for an attempt form one *reliable
stream*: ITEMS, PLAN and the final DONE / FAILED / CANCELLED carry a number
``n`` (1, 2, 3, ... per attempt).  The broker takes message n only from the
connection that holds the attempt and only right after n - 1; it stores it
(and the job row with ``batches = n``) in one transaction, then answers
B:ACK n.  The worker keeps every unacknowledged message and sends them again
after it re-registers (and when an ACK is overdue), so nothing it reported is
lost around a broker restart and nothing is stored twice.  A resent n that
is already stored is acknowledged again; a message after a gap waits for
the resend.  Results of an attempt that is not current (or of a job that is
not running) are acknowledged and dropped, so the worker can forget them.

``completed`` is a promise, checked against the store before it is made:
the stored plan (if the attempt planned) has exactly the rows 0..n-1 the
worker announced, there is one item row per planned operation, and the item
rows are as many as the counters say.
"""

from __future__ import annotations

import logging
from typing import Any

from medialoom.protocol import messages as m
from medialoom.protocol.constants import MAX_PAGE
from medialoom.workers.pathmap import check_announced
from medialoom.workers.specs import spec_from_map

from .effects import Effect, Pending, Persist, Query, ToWorker, Worker
from .jobs import Job, job_row
from .rows import item_row, plan_row

log = logging.getLogger(__name__)

MAX_ROWS = 1024
#: codes of FAILED that never retry, whatever the worker asks (the params will not get better)
NEVER_RETRIED = frozenset({"job.bad_params", "path.forbidden"})
#: longest wait a FAILED retry_after_s gets (a day)
MAX_RETRY_AFTER_S = 86_400.0
RELIABLE = (m.Items, m.PlanOps, m.Done, m.Failed, m.Cancelled)


class WorkerChannel:
    """Handlers of worker messages; mixed into BrokerState (which defines the attributes)."""

    # --- entry point ---------------------------------------------------------------

    def handle_worker(self, peer: bytes, msg: m.WorkerMessage, now: float,
                      settle: bool = True) -> list[Effect]:
        """One message from a worker process.  settle: also what it left to do
        (Scheduling.settle); the actor settles once per loop turn instead."""
        out = self._handle_worker(peer, msg, now)
        return out + self.settle(now) if settle else out

    def _handle_worker(self, peer: bytes, msg: m.WorkerMessage, now: float) -> list[Effect]:
        worker = self.workers.get(peer)
        if worker is not None:
            worker.expiry = now + self.config.worker_timeout_s
        if isinstance(msg, m.Ready):
            return self.handle_ready(peer, msg, now)
        if isinstance(msg, m.Disconnect):
            return self.purge_worker(peer, now, "worker disconnected") if worker else []
        if worker is None:
            # nothing from a connection that did not register reaches state or store
            self.counters["unknown_peer"] += 1
            return [ToWorker(peer, m.Disconnect(reason="unknown worker; send READY"))]
        if isinstance(msg, m.Fetch):
            return self.handle_fetch(peer, msg, now)
        if isinstance(msg, m.Token):  # a request token of a shared budget (broker/tokens.py)
            return [ToWorker(peer, m.Grant(rid=msg.rid,
                                           **self.budgets.answer(msg.key, msg.rate, now)))]
        if isinstance(msg, RELIABLE):
            return self._reliable(peer, msg, now)
        return []  # HEARTBEAT, ACCEPT: liveness only

    def _reliable(self, peer: bytes, msg: Any, now: float) -> list[Effect]:
        ack = ToWorker(peer, m.Ack(acks=[[msg.job, msg.attempt, msg.n]]))
        job = self._current(msg.job, msg.attempt)
        if job is None or job.worker != peer:
            self.counters["stale"] += 1
            return [ack]  # the attempt is over, or not this connection's: nothing to keep
        if msg.n <= job.batches:
            # a resend of a message already taken: ACK once it is stored (it may still be
            # queued behind other item rows; the barrier keeps the job's write order)
            return [Persist((("barrier", job.id),), then=(ack,))]
        if msg.n != job.batches + 1:
            self.counters["gaps"] += 1
            return []  # an earlier message is missing: the worker sends it again
        job.batches = msg.n
        job.updated = now
        if isinstance(msg, m.Items):
            return self.handle_items(job, msg, ack)
        if isinstance(msg, m.PlanOps):
            return self.handle_plan_ops(job, peer, msg, ack)
        if isinstance(msg, m.Done):
            return self.handle_done(job, peer, msg, ack, now)
        if isinstance(msg, m.Failed):
            return self.handle_failed(job, msg, ack, now)
        job.apply_progress(msg.progress)
        if not job.cancel_requested:
            # nobody asked: the worker stopped the attempt (it is shutting down); the job is
            # not the user's to lose, so it goes on elsewhere like a lost attempt
            job.error = {"code": "worker.lost", "message": f"the worker stopped attempt "
                         f"{job.attempts} without a cancel request (it was shutting down)"}
            return [*self._abandon(job, now), Persist((), then=(ack,))]
        return self._finish(job, "cancelled", now, after=(ack,))

    # --- registration --------------------------------------------------------------

    def handle_ready(self, peer: bytes, msg: m.Ready, now: float) -> list[Effect]:
        out: list[Effect] = []
        if peer in self.workers:
            out += self.purge_worker(peer, now, "worker re-registered")
        try:
            path_map = check_announced(msg.path_map, self.config.roots)
        except ValueError as exc:
            # a mapping that can serve no job (SPEC 6.9): refused, the worker must not retry
            self.counters["refused"] += 1
            log.warning("refused worker %s:%s: %s", msg.host[:255], msg.pid, exc)
            return [*out, ToWorker(peer, m.Disconnect(reason=f"READY refused: {exc}",
                                                      code="worker.bad_path_map"))]
        for old in [w for w in self.workers.values() if (w.host, w.pid) == (msg.host, msg.pid)]:
            # the same process on a new connection: its attempts move with it (listed below)
            del self.workers[old.peer]
            for job_id in old.jobs:
                job = self.active.get(job_id)
                if job is not None and job.worker == old.peer:
                    job.worker = None
                    job.lease_until = now + self.config.reclaim_lease_s
        worker = Worker(peer=peer, kinds=frozenset(k for k in msg.kinds if isinstance(k, str)),
                        slots=max(0, min(msg.slots, 1024)),
                        host=msg.host[:255], pid=msg.pid,
                        expiry=now + self.config.worker_timeout_s, path_map=path_map,
                        batch=msg.batch)
        for data in msg.specs:
            try:
                spec = spec_from_map(data)
            except ValueError as exc:
                self.counters["dropped"] += 1
                log.warning("worker %s:%s announced a bad kind spec: %s", msg.host, msg.pid, exc)
                continue
            if spec.name in worker.kinds:
                worker.specs[spec.name] = spec
        self.workers[peer] = worker
        for entry in msg.running:
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str) and isinstance(entry[1], int)
                    and not isinstance(entry[1], bool)):
                continue
            job_id, attempt = entry
            job = self.active.get(job_id)
            owner = self.workers.get(job.worker) if job and job.worker else None
            if (job is None or job.status != "running" or job.attempts != attempt
                    or (owner is not None and owner is not worker)):
                out.append(ToWorker(peer, m.CancelJob(job=job_id, attempt=attempt)))
                continue
            job.worker = peer
            job.lease_until = None
            worker.jobs[job_id] = attempt
            if job.cancel_requested:
                out.append(ToWorker(peer, m.CancelJob(job=job_id, attempt=attempt)))
        self.release_stranded(worker)
        return out + self.dispatch(now)

    def unreachable(self, peer: bytes, msg: Any, now: float) -> list[Effect]:
        """The connection of peer is gone (a send failed): forget the connection at once.

        A DISPATCH that could not be delivered never started: the attempt is
        taken back (it costs no attempt) and the job goes to another worker.
        """
        out: list[Effect] = []
        if isinstance(msg, m.Dispatch):
            job = self._current(msg.job, msg.attempt)
            if job is not None and job.worker == peer:
                self._move(job, "undeliver")
                self._release(job)
                job.attempts -= 1
                if not job.attempts:
                    job.started = None
                job.not_before = 0.0
                job.updated = now
                self._enqueue(job, now)
                out += [Persist((("job", job_row(job)),)), self._event(job, now)]
        worker = self.workers.pop(peer, None)
        if worker is not None:
            # a broken connection is not a dead process (a busy worker reconnects when the
            # broker seemed silent): its attempts wait a lease for the same process to come
            # back on a new connection (READY lists them); then they are lost (tick)
            for job_id in worker.jobs:
                job = self.active.get(job_id)
                if job is not None and job.status == "running" and job.worker == peer:
                    job.worker = None
                    job.lease_until = now + self.config.reclaim_lease_s
        return out + self.dispatch(now)

    def purge_worker(self, peer: bytes, now: float, reason: str) -> list[Effect]:
        """Forget a worker; its jobs are requeued (or failed/cancelled)."""
        worker = self.workers.pop(peer, None)
        if worker is None:
            return []
        out: list[Effect] = []
        for job_id in list(worker.jobs):
            job = self.active.get(job_id)
            if job is not None and job.status == "running" and job.worker == peer:
                job.worker = None
                out += self._lost(job, now, f"{reason}: {worker.host}:{worker.pid}")
        return out + self.dispatch(now)

    def _lost(self, job: Job, now: float, why: str) -> list[Effect]:
        job.error = {"code": "worker.lost", "message": f"{why} (attempt {job.attempts} "
                     f"of {job.max_attempts})"}
        return self._abandon(job, now)

    def _abandon(self, job: Job, now: float) -> list[Effect]:
        """The current attempt will not finish (job.error says why): retry, fail or cancel."""
        if job.cancel_requested:
            return self._finish(job, "cancelled", now)
        if job.attempts >= job.max_attempts:
            return self._finish(job, "failed", now)
        return self._requeue(job, now)

    def _current(self, job_id: str, attempt: int) -> Job | None:
        """The job if this attempt is the one running now; None for stale results."""
        job = self.active.get(job_id)
        if job is None or job.status != "running" or job.attempts != attempt:
            return None
        return job

    def _release(self, job: Job) -> None:
        worker = self.workers.get(job.worker) if job.worker else None
        if worker is not None:
            worker.jobs.pop(job.id, None)
        job.worker = None

    # --- the reliable stream ---------------------------------------------------------

    def handle_items(self, job: Job, msg: m.Items, ack: ToWorker) -> list[Effect]:
        rows = [r for r in (item_row(job.id, it) for it in msg.items[:MAX_ROWS]) if r]
        job.apply_progress(msg.progress)
        # the job row goes along, so STATUS after a broker restart shows the progress so far
        return [Persist((("items", tuple(rows)), ("job", job_row(job))), then=(ack,))]

    def handle_plan_ops(self, job: Job, peer: bytes, msg: m.PlanOps,
                        ack: ToWorker) -> list[Effect]:
        if job.planned:
            # a complete plan is never replaced
            return [Persist((("barrier", job.id),), then=(ack,))]
        rows = [r for r in (plan_row(job.id, op) for op in msg.ops[:MAX_ROWS]) if r]
        job.plan_seen = True
        out: list[Effect] = [Persist((("plan", tuple(rows)), ("job", job_row(job))), then=(ack,))]
        if msg.complete:
            token = next(self.tokens)
            self.pending[token] = Pending(self._finish_plan_check, peer, 0,
                                          (job.id, job.attempts, msg.total),
                                          failed=_nothing)  # unchecked: DONE finds the plan not whole
            out.append(Query("plan_check", (job.id,), token))
        return out

    def _finish_plan_check(self, peer: bytes, rid: int, msg: Any,
                           result: tuple[int, int, int], now: float) -> list[Effect]:
        job_id, attempt, total = msg
        job = self._current(job_id, attempt)
        if job is None:
            return []
        count, low, high = result
        if count == total and (total == 0 or (low == 0 and high == total - 1)):
            job.planned = True
            return [Persist((("job", job_row(job)),))]
        job.error = {"code": "plan.incomplete", "message": f"the worker planned {total} "
                     f"operations but {count} rows (indices {low}..{high}) were stored; "
                     "the job is planned again"}
        out: list[Effect] = []
        if job.worker is not None:
            out.append(ToWorker(job.worker, m.CancelJob(job=job.id, attempt=attempt)))
        return out + self._abandon(job, now)

    def handle_done(self, job: Job, peer: bytes, msg: m.Done, ack: ToWorker,
                    now: float) -> list[Effect]:
        job.apply_progress(msg.progress)
        job.result = msg.result
        if not (job.processed or job.planned or job.plan_seen):
            return self._finish(job, "completed", now, after=(ack,))
        token = next(self.tokens)
        self.pending[token] = Pending(self._finish_done_check, peer, 0,
                                      (job.id, job.attempts, ack), failed=_ack_only)
        return [Query("tally", (job.id,), token)]

    def _finish_done_check(self, peer: bytes, rid: int, msg: Any,
                           result: tuple[int, int, int, int], now: float) -> list[Effect]:
        job_id, attempt, ack = msg
        job = self._current(job_id, attempt)
        if job is None:
            return [ack]
        items, plan_rows, low, high = result
        problem = ""
        whole = plan_rows == 0 or (low == 0 and high == plan_rows - 1)
        if (job.planned or job.plan_seen or plan_rows) and not (job.planned and whole):
            problem = f"the stored plan is not whole ({plan_rows} rows, indices {low}..{high})"
        elif job.planned and items != plan_rows:
            problem = f"{plan_rows} operations were planned but {items} have a result"
        elif items != job.processed:
            problem = f"the worker reported {job.processed} items but {items} were stored"
        if not problem:
            return self._finish(job, "completed", now, after=(ack,))
        job.error = {"code": "job.incomplete", "message": f"{problem}; attempt {attempt} "
                     "does not count as completed"}
        return [*self._abandon(job, now), Persist((), then=(ack,))]

    def handle_failed(self, job: Job, msg: m.Failed, ack: ToWorker, now: float) -> list[Effect]:
        job.apply_progress(msg.progress)
        job.error = {"code": msg.code[:64], "message": msg.message[:4096]}
        retry = msg.retry and msg.code not in NEVER_RETRIED
        if retry and not job.cancel_requested and job.attempts < job.max_attempts:
            wait = msg.retry_after_s
            wait = min(wait, MAX_RETRY_AFTER_S) if wait == wait and wait > 0 else 0.0  # NaN: 0
            out = self._requeue(job, now, wait)
        else:
            out = self._finish(job, "cancelled" if job.cancel_requested else "failed", now)
        return [*out, Persist((), then=(ack,))]

    # --- reads and progress --------------------------------------------------------

    def handle_fetch(self, peer: bytes, msg: m.Fetch, now: float) -> list[Effect]:
        """A worker reads a stored plan or item results (its own job's, or a rollback target's)."""
        job = self._current(msg.job, msg.attempt)
        if job is None or job.worker != peer:
            error = {"code": "job.not_found", "message": f"attempt {msg.attempt} of job "
                     f"{msg.job} is not running on this connection"}
            return [ToWorker(peer, m.Page(rid=msg.rid, error=error))]
        if msg.what not in ("plan", "items") or not 0 < msg.limit <= MAX_PAGE:
            error = {"code": "protocol.bad_field", "message": "what must be plan or items, "
                     f"limit 1..{MAX_PAGE}"}
            return [ToWorker(peer, m.Page(rid=msg.rid, error=error))]
        token = next(self.tokens)
        self.pending[token] = Pending(self._finish_fetch, peer, msg.rid, msg, failed=_page_failed)
        name = "plan" if msg.what == "plan" else "results"
        return [Query(name, (msg.source, tuple(msg.status), msg.limit, msg.offset), token)]

    def _finish_fetch(self, peer: bytes, rid: int, msg: Any,
                      result: tuple[list[dict[str, Any]], int] | None,
                      now: float) -> list[Effect]:
        if result is None:
            error = {"code": "job.not_found", "message": f"no job {msg.source}"}
            return [ToWorker(peer, m.Page(rid=rid, error=error))]
        rows, total = result
        return [ToWorker(peer, m.Page(rid=rid, rows=rows, total=total))]

    def handle_progress(self, msg: m.Progress, now: float) -> list[Effect]:
        """A worker's progress event: apply it and republish it with the next seq."""
        job = self._current(msg.job, msg.attempt)
        if job is None or not job.apply_progress(msg.progress):
            return []
        job.updated = now
        return [self._event(job, now)]


# --- answers to a store read that failed ---------------------------------------------

def _nothing(peer: bytes, rid: int, msg: Any) -> list[Effect]:
    return []


def _ack_only(peer: bytes, rid: int, msg: Any) -> list[Effect]:
    """DONE could not be checked: acknowledged, the job stays running (lost or retried)."""
    return [msg[2]]


def _page_failed(peer: bytes, rid: int, msg: Any) -> list[Effect]:
    text = "the broker failed to read its store; its log has the details"
    return [ToWorker(peer, m.Page(rid=rid, error={"code": "internal", "message": text}))]

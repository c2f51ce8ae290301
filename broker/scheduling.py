"""Scheduling: the queues, dispatch to workers with credit, deadlines (SPEC.md 5.3).

A mixin of ``BrokerState`` (the single owner of job state).  Queued jobs
wait in one heap per kind ordered by (priority, created); a job with a
backoff waits in ``delayed`` until its ``not_before``.  ``dispatch`` gives
the best queued job of each kind to the worker with the most free credit.

Reachability (SPEC.md 6.9).  A worker that announced path mappings gets only
jobs whose paths lie under its library prefixes (one without mappings reaches
every path).  A job that no connected worker of its kind can reach leaves its
heap for ``stranded`` with ``waiting`` saying why, and goes back when a worker
that reaches it registers; one that only busy workers reach is skipped this
round (at most HOLD_MAX per kind), so it holds up no job behind it.
"""

from __future__ import annotations

import heapq
from typing import Any

from medialoom.protocol import messages as m
from medialoom.workers.pathmap import reaches

from .effects import Effect, Persist, ToWorker, Worker
from .jobs import Job, job_row

#: jobs of one kind that only busy workers reach, passed over in one dispatch round
HOLD_MAX = 64


class Scheduling:
    """Queues, dispatch and the periodic tick; mixed into BrokerState."""

    def next_deadline(self) -> float:
        """The earliest time tick() has something to do."""
        deadline = min(self.next_heartbeat, self.next_retention)
        if self.delayed:
            deadline = min(deadline, self.delayed[0][0])
        return deadline

    def _enqueue(self, job: Job, now: float) -> None:
        """Put a queued job in its kind's heap (or the delayed heap until not_before)."""
        assert job.status == "queued", job
        self.queued += 1
        if job.not_before > now:
            heapq.heappush(self.delayed, (job.not_before, job.id))
        else:
            heapq.heappush(self.ready.setdefault(job.kind, []), (job.priority, job.created, job.id))

    def _requeue(self, job: Job, now: float, at_least_s: float = 0.0) -> list[Effect]:
        """Back to the queue after the backoff, or after at_least_s if that is longer."""
        self._move(job, "requeue")
        self._release(job)
        base = self.config.backoff_base_s * 2 ** max(job.attempts - 1, 0)
        delay = min(base, self.config.backoff_max_s) * self.rng.uniform(0.5, 1.5)
        job.not_before = now + max(delay, at_least_s)
        job.updated = now
        job.reset_progress()
        self._enqueue(job, now)
        return [Persist((("job", job_row(job)),)), self._event(job, now)]

    def settle(self, now: float) -> list[Effect]:
        """What the requests and worker messages since the last settle left to do, once:
        the dispatch their STARTs and finished jobs allow (one pass for a whole bundle or
        loop turn, not one per START or DONE), then the acks of those STARTs.

        A START dispatched here has its ack follow its DISPATCH (same commit, and a broker
        killed right after the client saw the ack has already handed the DISPATCH to its
        socket); one still queued is acked with its row, once that is stored.  The actor
        settles at the end of each loop turn, before it hands the turn's writes to the store;
        ``handle_client`` and ``handle_worker`` settle after each message unless told not to.
        """
        out, self.dispatched_early = self.dispatched_early, []
        if self.dispatch_due:
            out += self.dispatch(now)
        if not self.unacked:
            return out
        acks = {job.id: ack for job, ack in self.unacked}
        for i, effect in enumerate(out):
            if type(effect) is Persist and effect.then:
                sent = effect.then[0]
                if type(sent) is ToWorker and type(sent.msg) is m.Dispatch:
                    ack = acks.pop(sent.msg.job, None)
                    if ack is not None:
                        out[i] = Persist(effect.ops, (*effect.then, ack), effect.durable)
        for job, ack in self.unacked:
            if job.id in acks:  # still queued (or dispatched earlier in the turn, or ended)
                out.append(Persist((("job", job_row(job)),), then=(ack,)))
        self.unacked = []
        return out

    def dispatch(self, now: float) -> list[Effect]:
        """Give queued jobs to workers with free credit for their kind, best job first.

        The best queued job of every kind whose workers have credit is compared (priority,
        then creation), so a webhook job of one kind goes before normal jobs of another.
        """
        out: list[Effect] = []
        self.dispatch_due = False
        if not self.queued:
            return out
        able: dict[str, list[Worker]] = {}
        heads: list[tuple[tuple[int, float, str], str]] = []
        for kind, heap in self.ready.items():
            self._drop_stale(heap)
            if not heap:
                continue
            workers = [w for w in self.workers.values() if kind in w.kinds and w.free > 0]
            if workers:
                able[kind] = workers
                heads.append((heap[0], kind))
        heapq.heapify(heads)
        mapped = any(w.path_map for w in self.workers.values())
        held: dict[str, list[tuple[int, float, str]]] = {}
        while heads:
            _, kind = heapq.heappop(heads)
            workers = [w for w in able[kind] if w.free > 0]  # credit is shared across kinds
            if not workers:
                continue
            heap = self.ready[kind]
            entry = heapq.heappop(heap)
            job = self.active[entry[2]]
            if mapped:
                workers = self._reaching(job, workers, entry, held)
            if workers:
                job.waiting = ""
                out += self._start_attempt(job, max(workers, key=lambda w: w.free), now)
            self._drop_stale(heap)
            if heap and len(held.get(kind, ())) < HOLD_MAX:
                heapq.heappush(heads, (heap[0], kind))
        for kind, entries in held.items():
            for entry in entries:
                heapq.heappush(self.ready[kind], entry)
        return out

    def _reaching(self, job: Job, workers: list[Worker], entry: tuple[int, float, str],
                  held: dict[str, list[tuple[int, float, str]]]) -> list[Worker]:
        """Those of workers that reach job's paths.  None: the job is held for this round
        (a busy worker reaches it) or stranded with ``waiting`` saying why (none does)."""
        paths = self._paths_to_reach(job)
        fit = [w for w in workers if reaches(w.path_map, paths)]
        if fit:
            return fit
        connected = [w for w in self.workers.values() if job.kind in w.kinds]
        if any(reaches(w.path_map, paths) for w in connected):
            held.setdefault(job.kind, []).append(entry)
            return []
        missing = next((p for p in paths if not any(reaches(w.path_map, [p])
                                                    for w in connected)), None)
        covers = sorted({lib for w in connected for lib, _ in w.path_map})
        job.waiting = (f"no connected worker can reach {missing}" if missing else
                       f"no connected worker can reach all of {', '.join(paths[:4])}") + \
            f" (the {job.kind} workers map {', '.join(covers)})"
        self.stranded.setdefault(job.kind, []).append(entry)
        return []

    def _paths_to_reach(self, job: Job) -> list[str]:
        """The library paths a worker needs for job: its own, or for a kind that works on
        another job's files (rollback), that job's paths when the broker still holds it."""
        if job.paths:
            return job.paths
        spec = self.spec_of(job.kind)
        target = job.params.get(spec.target_param) if spec and spec.target_param else None
        found = self.job(target) if isinstance(target, str) else None
        return found.paths if found is not None else []

    def release_stranded(self, worker: Worker) -> None:
        """A worker registered: the stranded jobs it reaches go back to their queues."""
        for kind in worker.kinds & self.stranded.keys():
            keep = []
            for entry in self.stranded[kind]:
                job = self.active.get(entry[2])
                if job is None or job.status != "queued":
                    continue
                if reaches(worker.path_map, self._paths_to_reach(job)):
                    job.waiting = ""
                    heapq.heappush(self.ready.setdefault(kind, []), entry)
                else:
                    keep.append(entry)
            if keep:
                self.stranded[kind] = keep
            else:
                del self.stranded[kind]

    def _drop_stale(self, heap: list[tuple[int, float, str]]) -> None:
        """Pop entries of jobs no longer queued (cancelled, or moved to the delayed heap)."""
        while heap:
            job = self.active.get(heap[0][2])
            if job is not None and job.status == "queued":
                return
            heapq.heappop(heap)

    def _start_attempt(self, job: Job, worker: Worker, now: float) -> list[Effect]:
        self._move(job, "dispatch")
        self.queued -= 1
        job.attempts += 1
        job.started = job.started or now
        job.updated = now
        job.worker = worker.peer
        job.reset_progress()
        job.batches = 0
        job.plan_seen = False
        worker.jobs[job.id] = job.attempts
        self.counters["dispatched"] += 1
        ops: tuple[tuple[Any, ...], ...] = (("job", job_row(job)),)
        if job.attempts > 1:
            # the new attempt reports every item again; a partial plan is planned from scratch
            ops = (("delete_items", job.id), *ops)
            if not job.planned:
                ops = (("delete_plan", job.id), *ops)
        dispatch = m.Dispatch(job=job.id, attempt=job.attempts, kind=job.kind, paths=job.paths,
                              params=job.params, dry_run=job.dry_run,
                              roots=list(self.config.roots), has_plan=job.planned)
        # the DISPATCH leaves only once the raised attempt number is stored: a broker killed
        # before that commit must never hand out the same attempt number twice
        return [Persist(ops, then=(ToWorker(worker.peer, dispatch),)), self._event(job, now)]

    def tick(self, now: float) -> list[Effect]:
        """Expire workers and leases, release delayed jobs, heartbeat, clean up history."""
        out: list[Effect] = []
        for peer in [p for p, w in self.workers.items() if w.expiry <= now]:
            out += self.purge_worker(peer, now, "worker missed its heartbeats")
        for job in [j for j in self.active.values()
                    if j.lease_until is not None and j.lease_until <= now and j.worker is None
                    and j.status == "running"]:
            job.lease_until = None
            out += self._lost(job, now, "no worker reclaimed the job within its lease (after a "
                                            "broker restart or a broken connection)")
        while self.delayed and self.delayed[0][0] <= now:
            _, job_id = heapq.heappop(self.delayed)
            job = self.active.get(job_id)
            if job is not None and job.status == "queued":
                heapq.heappush(self.ready.setdefault(job.kind, []),
                               (job.priority, job.created, job.id))
        out += self.dispatch(now)
        if now >= self.next_heartbeat:
            self.next_heartbeat = now + self.config.heartbeat_interval_s
            out += [ToWorker(peer, m.Heartbeat()) for peer in self.workers]
        if now >= self.next_retention:
            self.next_retention = now + self.config.retention_check_s
            cutoff = now - self.config.retention_days * 86400
            for job_id in [j for j, job in self.finished.items()
                           if (job.finished or now) < cutoff]:
                del self.finished[job_id]
            out.append(Persist((("purge", cutoff),)))
        return out

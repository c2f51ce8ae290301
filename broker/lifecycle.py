"""The job lifecycle: one transition table that every status change goes through.

A mixin of ``BrokerState`` (the single owner of job state).  ``_move(job,
event)`` is the only place a job's status is assigned; an event the table
does not allow for the job's status raises IllegalTransition, a bug the
actor counts as ``internal`` (the job keeps its status).  ``_finish`` ends a
job: it leaves the active set, its WAIT replies go out after the commit of
its terminal row, and its slot goes to the next queued job at the next settle.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from medialoom.protocol import messages as m

from .effects import UNHEARD, Effect, Persist, Publish, ToClient
from .jobs import Job, job_map, job_row, progress_map

#: (status, event) -> the new status.  ``new`` is a job being created by START.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("new", "create"): "queued",
    ("queued", "dispatch"): "running",        # a worker with credit got its DISPATCH
    ("queued", "cancel"): "cancelled",        # CANCEL before any worker took it
    ("queued", "lose"): "failed",             # its row could not be stored
    ("running", "complete"): "completed",     # DONE, checked against the store
    ("running", "requeue"): "queued",         # retry after a failure or a lost worker
    ("running", "undeliver"): "queued",       # the DISPATCH never reached the worker
    ("running", "cancel"): "cancelled",       # CANCELLED, or lost while a cancel was asked
    ("running", "fail"): "failed",            # FAILED for good, or out of attempts
}
#: the event that ends a job with each terminal status
FINISH = {"completed": "complete", "failed": "fail", "cancelled": "cancel"}


class IllegalTransition(Exception):
    """A status change the lifecycle does not allow (a bug in the broker)."""


def next_status(status: str, event: str) -> str:
    """The status after event, or IllegalTransition."""
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise IllegalTransition(f"event {event!r} is not allowed for a {status} job") from None


class Lifecycle:
    """Status changes and the end of a job; mixed into BrokerState."""

    def _move(self, job: Job, event: str) -> str:
        """Change job's status through the transition table; the new status."""
        job.status = next_status(job.status, event)
        return job.status

    def _finish(self, job: Job, status: str, now: float,
                after: tuple[Any, ...] = ()) -> list[Effect]:
        """End the job; ``after`` (a worker's ACK) goes out with the replies after the commit."""
        was = job.status
        self._move(job, FINISH[status])
        if was == "queued":
            self.queued -= 1
        self._release(job)
        job.finished = job.updated = now
        job.lease_until = None
        if status == "completed":
            job.error = None
        self.active.pop(job.id, None)
        self.paths.remove(job.paths)
        self.finished[job.id] = job
        event = self._event(job, now)  # first: the WAIT replies and the row carry its seq
        data = {"job": job_map(job)}
        replies = tuple(ToClient(peer, m.Reply(rid=rid, data=data))
                        for peer, rid in self.waiters.pop(job.id, ()))
        self.dispatch_due = True  # its slot is free: settle() gives it to a queued job
        return [Persist((("job", job_row(job)),), then=(*replies, *after), durable=(job.id,)),
                event]

    def _event(self, job: Job, now: float) -> Publish:
        job.seq += 1
        self.counters["events"] += 1
        if not self.heard(job.id):  # numbered all the same: seq counts every change
            return UNHEARD
        return Publish(m.Event(job=job.id, seq=job.seq, status=job.status, kind=job.kind,
                               attempts=job.attempts, progress=progress_map(job), error=job.error,
                               ts=now))

    def committed(self, job_ids: Iterable[str]) -> None:
        """The writer committed these jobs' terminal rows: they may leave memory."""
        for job_id in job_ids:
            job = self.finished.get(job_id)
            if job is not None:
                job.durable = True
        while len(self.finished) > self.config.finished_cache:
            job_id, job = next(iter(self.finished.items()))
            if not job.durable:
                break
            del self.finished[job_id]

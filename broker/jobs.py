"""The job model the broker keeps: the Job record, its wire map and its store row.

SPEC.md section 5 ("The job map") documents every field of ``job_map``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from medialoom.protocol.constants import PRIORITIES

from .jsontext import dumps as to_json

#: priority rank (the job record's int) -> name
PRIORITY_NAMES = dict(enumerate(PRIORITIES))
#: largest counter the broker takes from a worker (sums over a million jobs stay in int64)
MAX_COUNT = 10**12
#: rates below this give no ETA; an ETA is at most about a hundred years
MIN_RATE, MAX_ETA_S = 1e-6, 3.2e9

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # 10 bits -> two digits
_SHIFTS = range(120, -1, -10)


class JobIds:
    """Time-sortable 26-character ids (ULID layout), strictly increasing in one process."""

    #: ids whose random bits one read from the OS gives (os.urandom releases the GIL and
    #: makes a system call: once per 256 STARTs, not once per START)
    CHUNK = 256

    def __init__(self) -> None:
        self._last = 0
        self._random, self._at = b"", 0

    def new(self, now: float) -> str:
        """A new id for a job created at unix time now."""
        at = self._at
        if at >= len(self._random):
            self._random, at = os.urandom(10 * self.CHUNK), 0
        self._at = at + 10
        value = (int(now * 1000) << 80) | int.from_bytes(self._random[at:at + 10], "big")
        if value <= self._last:
            value = self._last + 1
        self._last = value
        # 130 bits as 13 pairs of base-32 digits, the most significant first
        return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


@dataclass(slots=True)
class Job:
    """One job as the broker actor holds it; only the actor mutates it."""

    id: str
    kind: str
    paths: list[str]
    params: dict[str, Any]
    priority: int
    dry_run: bool
    created: float
    max_attempts: int
    status: str = "queued"
    attempts: int = 0
    started: float | None = None
    updated: float = 0.0
    finished: float | None = None
    error: dict[str, Any] | None = None
    cancel_requested: bool = False
    seq: int = 0
    result: dict[str, Any] = field(default_factory=dict)
    total: int = 0
    processed: int = 0
    succeeded: int = 0
    skipped: int = 0
    failed: int = 0
    current: str = ""
    rate: float = 0.0
    planned: bool = False
    #: number of the last reliable worker message of the current attempt that was stored
    batches: int = 0
    #: the finished job whose failed items this job retries (START retry_of), else None
    retry_of: str | None = None
    # broker-only, never stored
    worker: bytes | None = None
    not_before: float = 0.0
    lease_until: float | None = None
    durable: bool = False
    #: a PLAN batch of the current attempt was accepted (the plan must then be complete)
    plan_seen: bool = False
    #: paths and params as stored (JSON), made once: they never change (job_row)
    fixed_json: tuple[str, str] | None = None
    #: why a queued job is not dispatched, when the broker knows ("" otherwise; SPEC 6.9)
    waiting: str = ""

    def __repr__(self) -> str:
        return (f"<Job {self.id} {self.kind} {self.status} attempts={self.attempts} "
                f"processed={self.processed}/{self.total} seq={self.seq}>")

    def reset_progress(self) -> None:
        """Counters start again for a new attempt (its items replace the old ones)."""
        self.total = self.processed = self.succeeded = self.skipped = self.failed = 0
        self.current = ""
        self.rate = 0.0

    def apply_progress(self, p: dict[str, Any]) -> bool:
        """Take a worker's progress map; False if it is older than what we have.

        Counters beyond MAX_COUNT and rates that are negative or not finite are ignored, so
        every map the broker derives from them (percent, ETA, STATS sums) stays representable.
        """
        processed = p.get("processed", 0)
        if not _count(processed) or processed < self.processed:
            return False
        self.processed = processed
        for name in ("total", "succeeded", "skipped", "failed"):
            value = p.get(name)
            if _count(value):
                setattr(self, name, value)
        current = p.get("current")
        if isinstance(current, str):
            self.current = current[:4096]
        rate = p.get("rate")
        if isinstance(rate, (int, float)) and not isinstance(rate, bool) and \
                0.0 <= rate <= MAX_COUNT:
            self.rate = float(rate)
        return True


def _count(value: Any) -> bool:
    return type(value) is int and 0 <= value <= MAX_COUNT


def progress_map(job: Job) -> dict[str, Any]:
    """The progress map of SPEC.md: counters plus remaining, percent, rate and ETA."""
    total = max(job.total, job.processed)
    remaining = max(total - job.processed, 0)
    if job.status == "completed":  # done, even if the worker's total was an overestimate
        remaining, percent = 0, 100.0
    elif total:
        percent = round(100.0 * job.processed / total, 2)
    else:
        percent = 0.0
    eta = None
    if job.rate >= MIN_RATE and job.status == "running":
        eta = min(round(remaining / job.rate, 1), MAX_ETA_S)
    return {"total": total, "processed": job.processed, "succeeded": job.succeeded,
            "skipped": job.skipped, "failed": job.failed, "remaining": remaining,
            "percent": percent, "rate": job.rate, "eta_seconds": eta, "current": job.current}


def job_map(job: Job) -> dict[str, Any]:
    """The job as sent to clients (SPEC.md, the job map)."""
    return {"id": job.id, "kind": job.kind, "paths": job.paths, "params": job.params,
            "priority": PRIORITY_NAMES[job.priority], "dry_run": job.dry_run,
            "status": job.status, "attempts": job.attempts, "max_attempts": job.max_attempts,
            "created": job.created, "started": job.started, "updated": job.updated,
            "finished": job.finished, "error": job.error,
            "cancel_requested": job.cancel_requested, "seq": job.seq, "result": job.result,
            "planned": job.planned, "progress": progress_map(job), "retry_of": job.retry_of,
            "waiting": job.waiting if job.status == "queued" else ""}


COLUMNS = ("id", "kind", "paths", "params", "priority", "dry_run", "status", "attempts",
           "max_attempts", "created", "started", "updated", "finished", "error",
           "cancel_requested", "seq", "result", "total", "processed", "succeeded", "skipped",
           "failed", "current", "rate", "planned", "batches", "retry_of")
_JSON = frozenset({"paths", "params", "error", "result"})


def _json_or_null(value: Any) -> str:
    return "null" if value is None else to_json(value)


_ERROR, _RESULT = COLUMNS.index("error"), COLUMNS.index("result")


def job_row(job: Job) -> tuple[Any, ...]:
    """An immutable snapshot of the job for the writer thread (COLUMNS order).

    paths and params are JSON text (checked at START: a job the store cannot hold is
    refused there); error and result are the job's maps themselves, which the broker only
    ever replaces, never changes, and which the writer thread turns into JSON (stored_job).
    """
    fixed = job.fixed_json
    if fixed is None:
        fixed = job.fixed_json = (to_json(job.paths),
                                  to_json(job.params))
    return (job.id, job.kind, fixed[0], fixed[1], job.priority, job.dry_run, job.status,
            job.attempts, job.max_attempts, job.created, job.started, job.updated, job.finished,
            job.error, job.cancel_requested, job.seq, job.result, job.total, job.processed,
            job.succeeded, job.skipped, job.failed, job.current, job.rate, job.planned,
            job.batches, job.retry_of)


def stored_job(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A job_row as the store takes it: error and result as JSON text (writer thread)."""
    values = list(row)
    values[_ERROR] = _json_or_null(values[_ERROR])
    values[_RESULT] = _json_or_null(values[_RESULT])
    return tuple(values)


def job_from_row(row: tuple[Any, ...]) -> Job:
    """A Job rebuilt from a store row (COLUMNS order)."""
    values = {c: (json.loads(v) if c in _JSON and v is not None else v)
              for c, v in zip(COLUMNS, row, strict=True)}
    values["dry_run"] = bool(values["dry_run"])
    values["cancel_requested"] = bool(values["cancel_requested"])
    values["planned"] = bool(values["planned"])
    job = Job(**values)
    job.durable = True
    return job

"""Errors raised inside worker processes and job kinds."""

from __future__ import annotations

from medialoom.protocol.errors import MedialoomError


class JobCancelled(Exception):
    """Raised by JobContext.checkpoint() once the broker asked to cancel the attempt."""


class JobFailed(MedialoomError):
    """A kind gives up on the whole job (not one item); retry=True asks for a requeue.

    retry_after_s (with retry): wait at least this long before the next attempt, for a
    transient failure that lasts ("the catalog answered 503 for minutes"); the broker waits
    the longer of it and its own backoff, and only while attempts remain.  A
    ``job.bad_params`` failure is never retried.
    """

    code = "job.failed"

    def __init__(self, message: str, *, code: str | None = None, retry: bool = False,
                 retry_after_s: float = 0.0) -> None:
        super().__init__(message, code=code)
        self.retry = retry
        self.retry_after_s = float(retry_after_s)


class PathForbidden(MedialoomError):
    """A path the job would touch resolves outside the library roots."""

    code = "path.forbidden"

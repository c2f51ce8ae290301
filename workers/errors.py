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


class ToolError(MedialoomError):
    """An external tool could not be run (ctx.run_tool, workers/tools.py)."""

    code = "tool.failed"


class ToolTimeout(ToolError):
    """A tool ran past its timeout and was killed (report the item with status ``timeout``)."""

    code = "tool.timeout"

    def __init__(self, message: str, *, argv: list[str] | None = None,
                 timeout_s: float = 0.0) -> None:
        super().__init__(message)
        self.argv = list(argv or [])
        self.timeout_s = timeout_s


class HttpError(MedialoomError):
    """An HTTP request through ctx.http failed for good (after its retries).

    ``status`` is the last HTTP status, or None when no answer came (connection
    errors, timeouts); ``transient`` is True for 429, 5xx and no answer.
    """

    code = "http.failed"

    def __init__(self, message: str, *, status: int | None = None, url: str = "",
                 transient: bool = False) -> None:
        super().__init__(message, code="http.unavailable" if status is None else None)
        self.status = status
        self.url = url
        self.transient = transient

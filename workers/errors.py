"""Errors raised inside worker processes and job kinds."""

from __future__ import annotations

from medialoom.protocol.errors import MedialoomError


class JobCancelled(Exception):
    """Raised by JobContext.checkpoint() once the broker asked to cancel the attempt."""


class JobFailed(MedialoomError):
    """A kind gives up on the whole job (not one item); retry=True asks for a requeue."""

    code = "job.failed"

    def __init__(self, message: str, *, code: str | None = None, retry: bool = False) -> None:
        super().__init__(message, code=code)
        self.retry = retry


class PathForbidden(MedialoomError):
    """A path the job would touch resolves outside the library roots."""

    code = "path.forbidden"

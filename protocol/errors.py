"""Error codes of the medialoom wire protocol (SPEC.md section "Errors").

On the wire an error is data: ``{code, message, details}``.  Codes are stable
and namespaced; each maps to an HTTP status for the gateway.
"""

from __future__ import annotations

from typing import Any

#: code -> (HTTP status, one-line meaning).  SPEC.md and README.md list the same table.
CODES: dict[str, tuple[int, str]] = {
    "protocol.bad_frame": (400, "the frames are not a version tag plus one msgpack map"),
    "protocol.bad_version": (400, "the version tag frame is not one this broker speaks"),
    "protocol.unknown_command": (400, "the body's cmd is not a known command"),
    "protocol.bad_field": (400, "a field is missing or has the wrong type"),
    "protocol.too_large": (413, "the message is larger than the size limit"),
    "auth.unauthorized": (401, "a bearer token is required and was missing or wrong"),
    "auth.forbidden": (403, "the connection's CURVE key may not send this command (its role "
                       "allows less), or it was revoked"),
    "path.forbidden": (403, "a path resolves outside the configured library roots"),
    "path.not_found": (404, "a path does not exist"),
    "job.not_found": (404, "no job has this id"),
    "job.unknown_kind": (400, "no worker or registry entry serves this job kind"),
    "job.bad_params": (400, "a job parameter is missing, unknown or has the wrong type"),
    "job.conflict": (409, "another queued or running job covers an overlapping path"),
    "job.not_finished": (409, "the job is still queued or running"),
    "job.finished": (409, "the job has already finished"),
    "job.nothing_to_retry": (409, "the finished job has no failed items to retry"),
    "queue.full": (503, "the queue holds its maximum number of queued jobs"),
    "broker.unavailable": (502, "the broker cannot be reached"),
    "internal": (500, "an unexpected error; the broker log has the traceback"),
}


def http_status(code: str) -> int:
    """HTTP status for an error code (500 for codes this version does not know)."""
    return CODES.get(code, (500, ""))[0]


class MedialoomError(Exception):
    """Base class: an error that has a stable wire code."""

    code = "internal"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.details = details

    def to_wire(self) -> dict[str, Any]:
        """The error as the wire map ``{code, message, details}``."""
        return {"code": self.code, "message": self.message, "details": self.details}


class RemoteProtocolError(MedialoomError):
    """A peer sent bytes that do not follow the protocol; log, count, answer or drop."""

    code = "protocol.bad_frame"


class RequestError(MedialoomError):
    """A well-formed request that the broker refuses (not found, conflict, full, ...)."""


class BrokerUnavailable(MedialoomError):
    """A client got no answer from the broker within its timeout."""

    code = "broker.unavailable"

"""What both Python clients share: the request builders (``_Api``), ``ClientError``,
and the merge of an EVENT into a job map (clients/client.py has the clients)."""

from __future__ import annotations

import itertools
from typing import Any

from medialoom.certs import Curve
from medialoom.protocol import messages as m
from medialoom.protocol.constants import DEFAULT_EVENTS_OUT, TERMINAL_STATUSES
from medialoom.protocol.errors import BrokerUnavailable, MedialoomError

#: the names this module has always offered (the values live in protocol/constants.py)
DEFAULT_EVENTS, TERMINAL = DEFAULT_EVENTS_OUT, TERMINAL_STATUSES
Job = dict[str, Any]


class ClientError(MedialoomError):
    """The broker refused a request; ``code`` is the stable wire code."""


def merge_event(job: Job, event: dict[str, Any]) -> Job:
    """The job map after an EVENT body (status, attempts, progress, error, seq)."""
    out = dict(job)
    for key in ("status", "attempts", "progress", "error", "seq"):
        if key in event:
            out[key] = event[key]
    if event.get("kind"):
        out["kind"] = event["kind"]
    out.setdefault("id", event.get("job"))
    return out


class _Api:
    """Request builders shared by both clients; ``_call`` is sync or async."""

    #: it reads replies of several bodies (SPEC.md 2), and says so in its HELLO
    BATCH = False

    def __init__(self, endpoint: str, events: str, timeout_s: float,
                 curve: Curve | None = None) -> None:
        self.endpoint = endpoint
        self.events = events
        self.timeout_s = timeout_s
        #: this client's CURVE keys and the broker's public key (medialoom.keys.client_curve)
        self.curve = curve
        self._rids = itertools.count(1)

    def _call(self, msg: Any, key: str | None) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def _rid(self) -> int:
        return next(self._rids)

    def _unreachable(self) -> BrokerUnavailable:
        hint = ("; does the broker allow this key, and is --broker-key its public key?"
                if self.curve else "; if it runs with CURVE, give --key (or MEDIALOOM_KEY; on the "
                "broker's host, MEDIALOOM_CURVE=1 takes the key medialoom up --curve made)")
        return BrokerUnavailable(f"no answer from the broker at {self.endpoint} within "
                                 f"{self.timeout_s:g} s; is it running (medialoom up)?{hint}")

    @staticmethod
    def _result(msg: m.Reply | m.Error, key: str | None) -> Any:
        if isinstance(msg, m.Error):
            raise ClientError(msg.message, code=msg.code, details=msg.details)
        return msg.data if key is None else msg.data[key]

    def hello(self) -> Any:
        """Protocol version, broker version, kinds and limits."""
        return self._call(self._hello(), None)

    def _hello(self) -> m.Hello:
        return m.Hello(rid=self._rid(), client="medialoom-python", batch=self.BATCH)

    def ping(self) -> Any:
        """The broker's clock; raises BrokerUnavailable if it does not answer."""
        return self._call(m.Ping(rid=self._rid()), "now")

    def start(self, kind: str, paths: list[str] | None = None, params: dict[str, Any] | None = None,
              *, priority: str = "normal", dry_run: bool = False, allow_conflict: bool = False,
              max_attempts: int = 0) -> Any:
        """Start a job; returns its job map once the broker has persisted it."""
        return self._call(m.Start(rid=self._rid(), kind=kind, paths=list(paths or []),
                                  params=dict(params or {}), priority=priority, dry_run=dry_run,
                                  allow_conflict=allow_conflict, max_attempts=max_attempts), "job")

    def retry(self, job_id: str, *, priority: str = "normal", allow_conflict: bool = False,
              max_attempts: int = 0) -> Any:
        """Start a new job over only the failed items of a finished job (its ``retry_of``).

        The broker gathers the failed items itself; ``job.nothing_to_retry`` if there are none.
        """
        return self._call(m.Start(rid=self._rid(), kind="", priority=priority,
                                  allow_conflict=allow_conflict, max_attempts=max_attempts,
                                  retry_of=job_id), "job")

    def status(self, job_id: str) -> Any:
        """The job map now."""
        return self._call(m.Status(rid=self._rid(), job=job_id), "job")

    def cancel(self, job_id: str) -> Any:
        """Cancel a queued job at once, or ask the worker to stop a running one."""
        return self._call(m.Cancel(rid=self._rid(), job=job_id), "job")

    def clear(self, job_id: str) -> Any:
        """Delete a finished job and its results."""
        return self._call(m.Clear(rid=self._rid(), job=job_id), "cleared")

    def list(self, status: list[str] | None = None, kind: list[str] | None = None,
             limit: int = 50, offset: int = 0, order: str = "-created") -> Any:
        """``{"jobs": [...], "total": n}``."""
        return self._call(m.List(rid=self._rid(), status=list(status or []),
                                 kind=list(kind or []), limit=limit, offset=offset,
                                 order=order), None)

    def stats(self) -> Any:
        """Counts by status, items processed, success rate, mean duration, workers."""
        return self._call(m.Stats(rid=self._rid()), None)

    def results(self, job_id: str, status: list[str] | None = None, limit: int = 100,
                offset: int = 0) -> Any:
        """``{"items": [...], "total": n}``: a page of the job's item results."""
        return self._call(m.Results(rid=self._rid(), job=job_id, status=list(status or []),
                                    limit=limit, offset=offset), None)


    def plan(self, job_id: str, status: list[str] | None = None, limit: int = 100,
             offset: int = 0) -> Any:
        """``{"ops": [...], "total": n, "complete": bool}``: a page of a job's planned operations."""
        return self._call(m.Plan(rid=self._rid(), job=job_id, status=list(status or []),
                                 limit=limit, offset=offset), None)

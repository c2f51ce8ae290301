"""START retry_of: a new job over the failed items of a finished job (SPEC.md 5.2, rule 10).

A mixin of ``BrokerState``, like ``WorkerChannel``.

Theory of operation.  The client names only the finished job; the broker
gathers the paths of its failed items itself, so a job with 100,000 failed
items needs no large client message.  An item is failed when its status
counts as failed by the kind's spec outcomes (undeclared statuses count as
failed, section 5.4): the store read selects the items whose status is *not*
one of the ok or skipped statuses.  The original job comes from memory when
it is held there, else from the store (one ``get`` read first, to learn its
kind and so its outcomes).  The new job has the original's kind, params and
dry_run, the message's priority, allow_conflict and max_attempts, and
``retry_of`` set to the original's id.  For a kind that takes paths its
paths are the failed items' paths (in item order, each once); a kind that
takes no paths runs again with the original's paths and params.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from medialoom.protocol import messages as m
from medialoom.protocol.constants import PRIORITY_RANK, TERMINAL_STATUSES
from medialoom.workers.specs import COMMON_OUTCOMES

from .effects import Effect, Pending, Query, fail
from .jobs import Job

#: most failed items one retry takes (their paths must also fit a job map, see below)
MAX_RETRY_PATHS = 100_000
#: the paths of the new job, summed, stay below this so its job map fits a 1 MiB message
MAX_RETRY_PATH_BYTES = 768 * 1024


class RetryStarts:
    """START with retry_of; mixed into BrokerState (which defines the attributes)."""

    def _start_retry(self, peer: bytes, msg: m.Start, now: float) -> list[Effect]:
        where = {"field": "retry_of", "job": msg.retry_of}
        if msg.paths or msg.params:
            raise fail("job.bad_params", "a START with retry_of takes the paths and params of "
                       "the job it retries: send neither", where)
        if msg.priority not in PRIORITY_RANK:
            raise fail("job.bad_params", f"priority must be one of {', '.join(PRIORITY_RANK)}",
                       {"field": "priority"})
        if msg.max_attempts < 0 or msg.max_attempts > 100:
            raise fail("job.bad_params", "max_attempts must be 0..100", {"field": "max_attempts"})
        found = self.job(msg.retry_of)
        if found is None:
            token = next(self.tokens)
            self.pending[token] = Pending(self._finish_retry_lookup, peer, msg.rid, msg)
            return [Query("get", (msg.retry_of,), token)]
        return self._retry_items(peer, msg, found)

    def _finish_retry_lookup(self, peer: bytes, rid: int, msg: Any, found: Job | None,
                             now: float) -> list[Effect]:
        return self._retry_items(peer, msg, self.job(msg.retry_of) or found)

    def _retry_items(self, peer: bytes, msg: m.Start, found: Job | None) -> list[Effect]:
        where = {"field": "retry_of", "job": msg.retry_of}
        if found is None:
            raise fail("job.not_found", f"no job {msg.retry_of}", where)
        if found.status not in TERMINAL_STATUSES:
            raise fail("job.not_finished", f"job {found.id} is {found.status}; retry it once "
                       "it has finished", where)
        if msg.kind and msg.kind != found.kind:
            raise fail("job.bad_params", f"job {found.id} is a {found.kind} job, not "
                       f"{msg.kind}", {"field": "kind", "job": found.id})
        token = next(self.tokens)
        self.pending[token] = Pending(self._finish_retry_items, peer, msg.rid, msg)
        return [Query("retry", (found.id, self._not_failed(found.kind), MAX_RETRY_PATHS),
                      token)]

    def _not_failed(self, kind: str) -> tuple[str, ...]:
        """The item statuses that do not count as failed for a kind."""
        spec = self.spec_of(kind)
        outcomes = {**COMMON_OUTCOMES, **(spec.outcomes if spec is not None else {})}
        return tuple(sorted(s for s, outcome in outcomes.items() if outcome != "failed"))

    def _finish_retry_items(self, peer: bytes, rid: int, msg: Any,
                            result: tuple[Job | None, list[str], bool],
                            now: float) -> list[Effect]:
        stored, failed_paths, more = result
        where = {"field": "retry_of", "job": msg.retry_of}
        found = self.job(msg.retry_of) or stored
        if found is None:
            raise fail("job.not_found", f"no job {msg.retry_of}", where)
        if not failed_paths:
            raise fail("job.nothing_to_retry", f"job {found.id} ({found.status}) has no failed "
                       "items to retry; start it again to run it once more", where)
        if more:
            raise fail("protocol.too_large", f"job {found.id} has more than {MAX_RETRY_PATHS} "
                       "failed items; retry them with jobs over parts of its paths", where)
        spec = self.spec_of(found.kind)
        if spec is not None and not spec.needs_paths:
            paths = list(found.paths)
        else:
            paths = list(dict.fromkeys(p for p in failed_paths if p.startswith("/")))
            if not paths:
                raise fail("job.nothing_to_retry", f"job {found.id} has failed items but none "
                           "names a file to retry", where)
            if sum(len(p.encode()) + 2 for p in paths) > MAX_RETRY_PATH_BYTES:
                raise fail("protocol.too_large", f"the {len(paths)} failed items of job "
                           f"{found.id} have paths too long for one job; retry them with jobs "
                           "over parts of its paths", where)
        params = dict(found.params)
        if spec is not None:  # the spec may have changed since: the params are checked again
            params = spec.validate(params, paths)
        start = replace(msg, kind=found.kind, paths=paths, params=params,
                        dry_run=found.dry_run)
        return self._create(peer, start, paths, params, now, retry_of=found.id)

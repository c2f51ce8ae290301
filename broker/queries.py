"""Client requests answered from the store: LIST, STATS, RESULTS, PLAN (SPEC.md 4.8-4.11).

A mixin of ``BrokerState`` (the one owner of all state): each request is
checked, becomes a Query run in the writer thread after the writes queued
before it, and its ``_finish_<name>`` continuation builds the reply.
"""

from __future__ import annotations

from typing import Any

from medialoom.protocol import messages as m
from medialoom.protocol.constants import JOB_STATUSES, MAX_PAGE

from .effects import Effect, Pending, Query, ToClient, fail
from .jobs import Job, job_map

ORDERS = ("created", "-created", "updated", "-updated", "priority", "-priority", "status",
          "-status", "kind", "-kind", "finished", "-finished")


class StoreQueries:
    """Read-only requests; mixed into BrokerState (which defines the attributes)."""

    def handle_list(self, peer: bytes, msg: m.List, now: float) -> list[Effect]:
        bad = [s for s in msg.status if s not in JOB_STATUSES]
        if bad:
            raise fail("protocol.bad_field", f"unknown status {bad[0]!r}", {"field": "status"})
        if msg.order not in ORDERS:
            raise fail("protocol.bad_field", f"order must be one of {', '.join(ORDERS)}",
                       {"field": "order"})
        if not 0 < msg.limit <= MAX_PAGE or msg.offset < 0:
            raise fail("protocol.bad_field", f"limit must be 1..{MAX_PAGE}, offset >= 0",
                       {"field": "limit"})
        token = next(self.tokens)
        self.pending[token] = Pending(self._finish_list, peer, msg.rid, msg)
        return [Query("list", (tuple(msg.status), tuple(msg.kind), msg.limit, msg.offset,
                               msg.order), token)]

    def handle_stats(self, peer: bytes, msg: m.Stats, now: float) -> list[Effect]:
        token = next(self.tokens)
        self.pending[token] = Pending(self._finish_stats, peer, msg.rid, msg)
        return [Query("stats", (), token)]

    def handle_results(self, peer: bytes, msg: m.Results, now: float) -> list[Effect]:
        if not 0 < msg.limit <= MAX_PAGE or msg.offset < 0:
            raise fail("protocol.bad_field", f"limit must be 1..{MAX_PAGE}, offset >= 0",
                       {"field": "limit"})
        token = next(self.tokens)
        self.pending[token] = Pending(self._finish_results, peer, msg.rid, msg)
        return [Query("results", (msg.job, tuple(msg.status), msg.limit, msg.offset), token)]

    def handle_plan(self, peer: bytes, msg: m.Plan, now: float) -> list[Effect]:
        if not 0 < msg.limit <= MAX_PAGE or msg.offset < 0:
            raise fail("protocol.bad_field", f"limit must be 1..{MAX_PAGE}, offset >= 0",
                       {"field": "limit"})
        token = next(self.tokens)
        self.pending[token] = Pending(self._finish_plan, peer, msg.rid, msg)
        return [Query("plan_page", (msg.job, tuple(msg.status), msg.limit, msg.offset), token)]

    def _finish_list(self, peer: bytes, rid: int, msg: Any, result: tuple[list[Job], int],
                     now: float) -> list[Effect]:
        jobs, total = result
        maps = [job_map(self.job(j.id) or j) for j in jobs]
        return [ToClient(peer, m.Reply(rid=rid, data={"jobs": maps, "total": total}))]

    def _finish_stats(self, peer: bytes, rid: int, msg: Any, stats: dict[str, Any],
                      now: float) -> list[Effect]:
        stats = dict(stats)
        stats["workers"] = [{"host": w.host, "pid": w.pid, "kinds": sorted(w.kinds),
                             "slots": w.slots, "running": len(w.jobs), "jobs": sorted(w.jobs),
                             "path_map": [list(pair) for pair in w.path_map]}
                            for w in self.workers.values()]
        stats["waiting"] = sum(1 for entries in self.stranded.values() for e in entries
                               if (j := self.active.get(e[2])) is not None
                               and j.status == "queued")
        stats["queued_now"] = self.queued
        stats["broker"] = dict(self.counters)
        return [ToClient(peer, m.Reply(rid=rid, data=stats))]

    def _finish_results(self, peer: bytes, rid: int, msg: Any,
                        result: tuple[list[dict[str, Any]], int] | None,
                        now: float) -> list[Effect]:
        if result is None:
            raise fail("job.not_found", f"no job {msg.job}", {"job": msg.job})
        items, total = result
        return [ToClient(peer, m.Reply(rid=rid, data={"items": items, "total": total}))]

    def _finish_plan(self, peer: bytes, rid: int, msg: Any,
                     result: tuple[list[dict[str, Any]], int] | None,
                     now: float) -> list[Effect]:
        if result is None:
            raise fail("job.not_found", f"no job {msg.job}", {"job": msg.job})
        ops, total, planned = result
        job = self.job(msg.job)
        data = {"ops": ops, "total": total, "complete": bool(job.planned if job else planned)}
        return [ToClient(peer, m.Reply(rid=rid, data=data))]

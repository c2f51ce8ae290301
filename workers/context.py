"""JobContext: what job kind code sees of the worker (SPEC.md section 6, ITEMS/PROGRESS).

A kind is ``async def run(ctx) -> dict | None``.  It reports a total, one
result per item, and calls ``await ctx.checkpoint()`` between items; that
raises JobCancelled once a cancel arrived, and it is where item batches are
flushed to the broker and coalesced progress is published.  Blocking work
goes through ``await ctx.run_blocking(fn, ...)``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol, TypeVar

from .errors import JobCancelled, PathForbidden
from .specs import KindSpec, builtin_specs
from .wire import wire_safe

T = TypeVar("T")
log = logging.getLogger("medialoom.job")

ITEM_BATCH = 256
PROGRESS_INTERVAL_S = 0.1


class Reporter(Protocol):
    """Where a context sends what it learns (the worker process, or a test sink)."""

    def send_items(self, ctx: JobContext, items: list[dict[str, Any]]) -> None: ...
    def send_progress(self, ctx: JobContext) -> None: ...
    def send_plan(self, ctx: JobContext, ops: list[dict[str, Any]], complete: bool) -> None: ...
    async def fetch(self, ctx: JobContext, what: str, job_id: str, offset: int, limit: int,
                    statuses: list[str]) -> tuple[list[dict[str, Any]], int]: ...
    async def wait_window(self, ctx: JobContext) -> None: ...


class JobContext:
    """One attempt of one job as the kind's code sees it."""

    def __init__(self, *, job_id: str, attempt: int, kind: str, paths: list[str],
                 params: dict[str, Any], dry_run: bool, roots: list[str],
                 reporter: Reporter, has_plan: bool = False,
                 spec: KindSpec | None = None) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self.kind = kind
        self.paths = paths
        self.params = params
        self.dry_run = dry_run
        #: True when the broker already holds this job's complete plan (a retried attempt)
        self.has_plan = has_plan
        self._plan: list[dict[str, Any]] = []
        #: outcome class (ok / skipped / failed) of an item status, from the kind's spec
        self.outcome = (spec or builtin_specs().get(kind) or KindSpec(kind)).outcome
        #: operations added to the plan so far (the total sent when it is complete)
        self.planned = 0
        self.roots = [os.path.realpath(r) for r in roots]
        self.result: dict[str, Any] = {}
        self._reporter = reporter
        self._cancel = asyncio.Event()
        self._pending: list[dict[str, Any]] = []
        self._index = 0
        self.total = 0
        self.processed = self.succeeded = self.skipped = self.failed = 0
        self.current = ""
        self._started = time.monotonic()
        self._last_progress = 0.0
        self._dirty = False

    def __repr__(self) -> str:
        return (f"<JobContext {self.kind} {self.job_id} attempt={self.attempt} "
                f"processed={self.processed}/{self.total} failed={self.failed}>")

    # --- reporting ---------------------------------------------------------------

    def set_total(self, total: int) -> None:
        """Set how many items the job will process (may grow with add_total)."""
        self.total = total
        self._dirty = True

    def add_total(self, count: int) -> None:
        """Raise the total while a walk is still discovering items."""
        self.total += count
        self._dirty = True

    def set_current(self, path: str) -> None:
        """Name the item in progress (shown as the current item)."""
        self.current = path

    def item(self, path: str, status: str, message: str = "", *, duration_ms: float = 0.0,
             details: dict[str, Any] | None = None, index: int | None = None) -> None:
        """Record one item result; it is sent to the broker in the next batch."""
        if index is None:
            index = self._index
        self._index = max(self._index, index + 1)
        self._pending.append({"i": index, "path": str(path), "status": str(status),
                              "message": str(message), "duration_ms": round(duration_ms, 3),
                              "details": wire_safe(details) if details else {}})
        self.processed += 1
        outcome = self.outcome(status)
        if outcome == "failed":
            self.failed += 1
        elif outcome == "skipped":
            self.skipped += 1
        else:
            self.succeeded += 1
        self.current = path
        self._dirty = True
        if len(self._pending) >= ITEM_BATCH:
            self.flush_items()

    def log(self, message: str, *args: Any) -> None:
        """Log a line tagged with the job id."""
        log.info("[%s] " + message, self.job_id, *args)

    def progress(self) -> dict[str, Any]:
        """Counters as sent on the wire (see SPEC.md, the progress map)."""
        elapsed = max(time.monotonic() - self._started, 1e-6)
        return {"total": max(self.total, self.processed), "processed": self.processed,
                "succeeded": self.succeeded, "skipped": self.skipped, "failed": self.failed,
                "current": self.current, "rate": round(self.processed / elapsed, 2)}

    # --- cooperation ---------------------------------------------------------------

    @property
    def cancelled(self) -> bool:
        """True once the broker asked to cancel this attempt."""
        return self._cancel.is_set()

    @property
    def cancel_event(self) -> asyncio.Event:
        """Set once the broker asked to cancel this attempt (to wait on)."""
        return self._cancel

    def request_cancel(self) -> None:
        """Called by the worker when a CANCEL for this attempt arrives."""
        self._cancel.set()

    async def checkpoint(self) -> None:
        """Yield to the loop, publish coalesced progress; raise JobCancelled if asked to stop."""
        await asyncio.sleep(0)
        now = time.monotonic()
        if self._dirty and now - self._last_progress >= PROGRESS_INTERVAL_S:
            self.flush_items()
            self._reporter.send_progress(self)
            self._last_progress = now
            self._dirty = False
            await self._reporter.wait_window(self)
        if self._cancel.is_set():
            raise JobCancelled(self.job_id)

    def flush_items(self) -> None:
        """Send the pending item results now."""
        if self._pending:
            batch, self._pending = self._pending, []
            self._reporter.send_items(self, batch)

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking function in the worker's thread pool."""
        return await asyncio.to_thread(fn, *args)

    # --- plans (file-changing kinds, SPEC.md section 8) -----------------------------

    def add_plan(self, op: dict[str, Any]) -> None:
        """Add one planned operation ``{i, op, src, dst, expect, status, message, details}``."""
        self._plan.append(wire_safe(op))
        self.planned += 1
        if len(self._plan) >= ITEM_BATCH:
            batch, self._plan = self._plan, []
            self._reporter.send_plan(self, batch, False)

    def plan_complete(self) -> None:
        """Send the rest of the plan and mark it complete at the broker."""
        batch, self._plan = self._plan, []
        self._reporter.send_plan(self, batch, True)
        self.has_plan = True

    def stored_plan(self, job_id: str | None = None, page: int = 1000,
                    ) -> AsyncIterator[dict[str, Any]]:
        """The plan stored at the broker for this job (or another one), in index order."""
        return self._stored("plan", job_id or self.job_id, [], page)

    def stored_items(self, job_id: str | None = None, statuses: list[str] | None = None,
                     page: int = 1000) -> AsyncIterator[dict[str, Any]]:
        """Item results stored at the broker for this job (or another one), in index order."""
        return self._stored("items", job_id or self.job_id, list(statuses or []), page)

    async def _stored(self, what: str, job_id: str, statuses: list[str],
                      page: int) -> AsyncIterator[dict[str, Any]]:
        offset = 0
        while True:
            rows, total = await self._reporter.fetch(self, what, job_id, offset, page, statuses)
            for row in rows:
                yield row
            offset += len(rows)
            if not rows or offset >= total:
                return

    def check_path(self, path: str) -> str:
        """The real path of path; PathForbidden if it lies outside the library roots."""
        real = os.path.realpath(path)
        if self.roots and not any(real == r or real.startswith(r.rstrip("/") + "/")
                                  for r in self.roots):
            raise PathForbidden(f"{path} resolves to {real}, outside the library roots")
        return real


class CollectingReporter:
    """A Reporter that keeps everything in memory: for running kinds in-process (tests, tools).

    Like the broker, it keeps item results and plans per job id, the last
    report for an index winning, so one reporter can serve a job, its retry
    and its rollback.
    """

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.progress: list[dict[str, Any]] = []
        self.plans: dict[str, dict[int, dict[str, Any]]] = {}
        self.results: dict[str, dict[int, dict[str, Any]]] = {}
        self.complete: set[str] = set()

    def send_items(self, ctx: JobContext, items: list[dict[str, Any]]) -> None:
        self.items.extend(items)
        store = self.results.setdefault(ctx.job_id, {})
        for item in items:
            store[item["i"]] = item

    def send_progress(self, ctx: JobContext) -> None:
        self.progress.append(ctx.progress())

    def send_plan(self, ctx: JobContext, ops: list[dict[str, Any]], complete: bool) -> None:
        store = self.plans.setdefault(ctx.job_id, {})
        for op in ops:
            store[op["i"]] = op
        if complete:
            self.complete.add(ctx.job_id)

    async def wait_window(self, ctx: JobContext) -> None:
        """Nothing to wait for: everything is kept at once."""

    async def fetch(self, ctx: JobContext, what: str, job_id: str, offset: int, limit: int,
                    statuses: list[str]) -> tuple[list[dict[str, Any]], int]:
        store = (self.plans if what == "plan" else self.results).get(job_id, {})
        rows = [store[i] for i in sorted(store)
                if not statuses or store[i].get("status") in statuses]
        return rows[offset:offset + limit], len(rows)

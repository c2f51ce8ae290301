"""JobContext: what job kind code sees of the worker (SPEC.md section 6, ITEMS/PROGRESS).

A kind is ``async def run(ctx) -> dict | None``.  It reports a total, one
result per item, and calls ``await ctx.checkpoint()`` between items; that
raises JobCancelled once a cancel arrived, and it is where item batches are
flushed to the broker and coalesced progress is published.  Blocking work
goes through ``await ctx.run_blocking(fn, ...)``; waits through
``await ctx.sleep(seconds)``, which ends at once on a cancel.

External programs: ``await ctx.run_tool(argv, timeout_s, stdin=None, cwd=None)``
returns a ToolResult (returncode, stdout, stderr as bytes, duration_s); argv
is never given to a shell, the tool runs in its own process group, output is
capped (16 MiB each), and past timeout_s its group gets SIGTERM, then SIGKILL
after 2 s, and ToolTimeout is raised: report that item with status
``timeout``.  A tool that survives SIGKILL is abandoned, never awaited.
Kinds start processes only this way (workers/tools.py).

HTTP: ``await ctx.http.get_json(url, params=..., headers=...)`` or
``await ctx.http.request(method, url, ...)`` (an HttpResponse: status,
headers, body).  One aiohttp session per worker process; at most 4 requests
of a job at a time (``ctx.use_http(concurrency=N)`` before the first
request to change it); a token bucket per host shared by the process's jobs
(``ctx.http.limit_host(host, per_s)``), or one budget for every worker of
the broker (``limit_host(host, per_s, shared=True)``: request tokens granted
by the broker); connection errors, timeouts, 429 and 5xx are retried with
exponential backoff and jitter, honouring Retry-After; User-Agent
``medialoom/<version> ( <contact> )`` (the ``contact`` setting).  A
request that fails for good raises HttpError (workers/errors.py).  aiohttp
is imported only when a kind first uses ``ctx.http`` (workers/http.py).
``ctx.data_dir`` is the worker's data folder (caches kept across jobs).

Cancel: a CANCEL sets ``ctx.cancelled``; a kind that does not reach a
checkpoint within CANCEL_GRACE_S has its task cancelled (any tool it runs is
killed), except while it waits on ``run_blocking`` (a thread cannot be
interrupted; it is cancelled once that returns).  The attempt ends
CANCELLED with the items reported so far either way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from medialoom.protocol.constants import MAX_PAGE

from . import tools
from .errors import JobCancelled, PathForbidden
from .pathmap import real_roots
from .specs import KindSpec, builtin_specs
from .tools import ToolResult
from .wire import wire_safe

if TYPE_CHECKING:
    from .http import JobHttp

T = TypeVar("T")
log = logging.getLogger("medialoom.job")

ITEM_BATCH = 256
PROGRESS_INTERVAL_S = 0.1
#: seconds a kind has, after a cancel, to reach a checkpoint before its task is cancelled
CANCEL_GRACE_S = 0.5



class Reporter(Protocol):
    """Where a context sends what it learns (the worker process, or a test sink)."""

    def send_items(self, ctx: JobContext, items: list[dict[str, Any]]) -> None: ...
    def send_progress(self, ctx: JobContext) -> None: ...
    def send_plan(self, ctx: JobContext, ops: list[dict[str, Any]], complete: bool) -> None: ...
    async def fetch(self, ctx: JobContext, what: str, job_id: str, offset: int, limit: int,
                    statuses: list[str]) -> tuple[list[dict[str, Any]], int]: ...
    async def wait_window(self, ctx: JobContext) -> None: ...
    # optional: ``async def grant(ctx, key, rate) -> float``, the seconds to wait before
    # using a request token for key from the broker-wide budget (the worker asks the broker)


class JobContext:
    """One attempt of one job as the kind's code sees it."""

    def __init__(self, *, job_id: str, attempt: int, kind: str, paths: list[str],
                 params: dict[str, Any], dry_run: bool, roots: list[str],
                 reporter: Reporter, has_plan: bool = False,
                 spec: KindSpec | None = None, data_dir: str = "", contact: str = "") -> None:
        self.job_id = job_id
        #: the worker's data folder ("" when none is configured)
        self.data_dir = data_dir
        self.contact = contact
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
        self.roots = real_roots(roots)
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
        #: the kind's task while run_kind runs it (cancelled when a cancel is not heeded)
        self._task: asyncio.Task[Any] | None = None
        self._kicked = False
        self._blocking = 0
        self._http: JobHttp | None = None

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
                              "message": str(message), "duration_ms": max(0, round(duration_ms)),
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
        """Called by the worker when a CANCEL for this attempt arrives.

        The kind sees it at its next checkpoint or ctx.sleep; if it is still
        running CANCEL_GRACE_S later, its task is cancelled (see run_kind).
        """
        if self._cancel.is_set():
            return
        self._cancel.set()
        if self._task is not None:
            self._task.get_loop().call_later(CANCEL_GRACE_S, self._kick)

    def _kick(self) -> None:
        """Cancel the kind's task unless it waits on a thread; again until it has ended."""
        task = self._task
        if task is None or task.done():
            return
        if not self._blocking:
            self._kicked = True
            task.cancel()
        task.get_loop().call_later(CANCEL_GRACE_S, self._kick)

    def abort(self) -> None:
        """Cancel the kind's task now, even in run_blocking (the worker stops; its thread
        is left to finish on its own)."""
        self._cancel.set()
        if self._task is not None and not self._task.done():
            self._kicked = True
            self._task.cancel()

    async def run_kind(self, run: Callable[[JobContext], Awaitable[T]]) -> T:
        """Run the kind's coroutine as a task of its own; JobCancelled if a cancel ended it.

        The worker calls this, so that a requested cancel can interrupt the
        kind (asyncio cancellation) without cancelling the worker's own task.
        """
        self._task = asyncio.ensure_future(run(self))
        if self._cancel.is_set():
            self._task.get_loop().call_later(CANCEL_GRACE_S, self._kick)
        try:
            return await self._task
        except asyncio.CancelledError:
            outer = asyncio.current_task()
            if self._kicked and self._task.cancelled() and not (outer and outer.cancelling()):
                raise JobCancelled(self.job_id) from None
            raise
        finally:
            if not self._task.done():
                self._task.cancel()
            self._task = None

    async def sleep(self, seconds: float) -> None:
        """Wait seconds; raise JobCancelled at once if a cancel arrives (or had arrived)."""
        if self._cancel.is_set():
            raise JobCancelled(self.job_id)
        try:
            async with asyncio.timeout(max(0.0, seconds)):
                await self._cancel.wait()
        except TimeoutError:
            return
        raise JobCancelled(self.job_id)

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
        """Run a blocking function in the worker's thread pool.

        A cancel does not interrupt it (a thread cannot be); the kind sees the
        cancel at its next checkpoint, or is cancelled once this returns.
        """
        self._blocking += 1
        try:
            return await asyncio.to_thread(fn, *args)
        finally:
            self._blocking -= 1

    async def run_tool(self, argv: Sequence[str | os.PathLike[str]], timeout_s: float, *,
                       stdin: bytes | None = None, cwd: str | os.PathLike[str] | None = None,
                       ) -> ToolResult:
        """Run an external program (no shell) in its own process group, for at most timeout_s.

        Raises ToolTimeout (report the item as ``timeout``) when it takes
        longer, ToolError when it cannot be started; a cancel kills it.
        """
        return await tools.run_tool(argv, timeout_s, stdin=stdin, cwd=cwd)

    # --- HTTP (workers/http.py, imported on first use) -------------------------------

    def use_http(self, *, concurrency: int = 4) -> JobHttp:
        """This job's HTTP client, with at most concurrency requests at a time."""
        if self._http is None:
            from .http import JobHttp
            grant = getattr(self._reporter, "grant", None)
            self._http = JobHttp(
                concurrency=concurrency, cancel_event=self._cancel, job_id=self.job_id,
                grant=(lambda key, rate: grant(self, key, rate)) if grant else None,
                contact=self.contact)
        return self._http

    @property
    def http(self) -> JobHttp:
        """This job's HTTP client over the worker's shared session (see the module doc)."""
        return self._http or self.use_http()

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

    def stored_plan(self, job_id: str | None = None, page: int = MAX_PAGE,
                    ) -> AsyncIterator[dict[str, Any]]:
        """The plan stored at the broker for this job (or another one), in index order."""
        return self._stored("plan", job_id or self.job_id, [], page)

    def stored_items(self, job_id: str | None = None, statuses: list[str] | None = None,
                     page: int = MAX_PAGE) -> AsyncIterator[dict[str, Any]]:
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


async def close_shared() -> None:
    """Release what the jobs of this process share: the HTTP session, live tools (at exit)."""
    tools.kill_all()
    http = sys.modules.get(f"{__package__}.http")
    if http is not None:
        await http.close_session()

"""What a worker sends about its attempts (the Reporter JobContext calls; SPEC.md 6.4).

A mixin of ``Worker`` (workers/worker.py), which owns the sockets, the channel
and the streams.  Results are numbered and kept until the broker's ACK
(workers/stream.py); PROGRESS is lossy on the PUB socket; FETCH and TOKEN
are requests with a rid, sent again after a reconnect.  Paths go out as
library paths (workers/pathmap.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import zmq

from medialoom.protocol import codec
from medialoom.protocol import messages as m
from medialoom.sockets import send_frames

from .errors import JobFailed

#: an attempt still running this long after its DISPATCH gets its ACCEPT (SPEC.md 6.1: within
#: 0.1 s); one that ends sooner answers with its final message alone
ACCEPT_AFTER_S = 0.05

if TYPE_CHECKING:
    from .context import JobContext

#: a FETCH is sent again after every reconnect; this bounds the wait for its PAGE overall
FETCH_TIMEOUT_S = 60.0


class Reporting:
    """The Reporter side of a worker; mixed into Worker (which defines the attributes)."""

    def send_items(self, ctx: JobContext, items: list[dict[str, Any]]) -> None:
        progress = self._progress(ctx)
        items = self.path_map.to_library(items)
        self.send_reliable(ctx, lambda n: m.Items(job=ctx.job_id, attempt=ctx.attempt,
                                                  items=items, progress=progress, n=n))

    def send_progress(self, ctx: JobContext) -> None:
        frames = codec.encode(m.Progress(job=ctx.job_id, attempt=ctx.attempt,
                                         progress=self._progress(ctx)), "event")
        try:
            send_frames(self.pub, frames)
        except zmq.Again:
            pass  # progress is lossy by design

    def send_plan(self, ctx: JobContext, ops: list[dict[str, Any]], complete: bool) -> None:
        total = ctx.planned if complete else 0
        ops = self.path_map.to_library(ops)
        self.send_reliable(ctx, lambda n: m.PlanOps(job=ctx.job_id, attempt=ctx.attempt,
                                                    ops=ops, complete=complete, n=n,
                                                    total=total))

    async def wait_window(self, ctx: JobContext) -> None:
        """Back-pressure: wait while the broker is far behind this attempt's results."""
        await self.streams.wait_window(ctx.job_id, ctx.cancel_event)

    def owe_accept(self, ctx: JobContext) -> None:
        """ctx's attempt started: its ACCEPT goes out with the others ACCEPT_AFTER_S later,
        before the attempt's first other message, or never if the attempt ends first."""
        self.unaccepted[ctx.job_id] = ctx.attempt
        if self._accepting is None:
            self._accepting = asyncio.get_running_loop().call_later(
                ACCEPT_AFTER_S, self.send_accepts)

    def send_accepts(self) -> None:
        """The ACCEPT of every attempt that still owes one."""
        self._accepting = None
        owed, self.unaccepted = self.unaccepted, {}
        for job_id, attempt in owed.items():
            self.send(m.Accept(job=job_id, attempt=attempt))

    def accept_now(self, ctx: JobContext) -> None:
        """Send ctx's owed ACCEPT, if any: the attempt is about to send something else."""
        if self.unaccepted.get(ctx.job_id) == ctx.attempt:
            del self.unaccepted[ctx.job_id]
            self.send(m.Accept(job=ctx.job_id, attempt=ctx.attempt))

    def send_reliable(self, ctx: JobContext, build: Any, final: bool = False) -> None:
        """Number a result message, keep it until the broker's ACK, and queue it."""
        if not final:
            self.accept_now(ctx)
        elif self.unaccepted.get(ctx.job_id) == ctx.attempt:
            del self.unaccepted[ctx.job_id]  # the final message answers the DISPATCH alone
        self.channel.send(self.streams.add(ctx.job_id, ctx.attempt, build, final=final))

    async def fetch(self, ctx: JobContext, what: str, job_id: str, offset: int, limit: int,
                    statuses: list[str]) -> tuple[list[dict[str, Any]], int]:
        """A page of a stored plan or item results, through FETCH / PAGE."""
        self.accept_now(ctx)
        page = await self._ask(lambda rid: m.Fetch(
            rid=rid, job=ctx.job_id, attempt=ctx.attempt, what=what, source=job_id,
            offset=offset, limit=limit, status=statuses),
            f"the broker did not answer a {what} fetch")
        return self.path_map.to_local(page.rows), page.total

    async def grant(self, ctx: JobContext, key: str, rate: float) -> float:
        """Seconds to wait before using a request token of the broker-wide budget for key
        (TOKEN / GRANT; ``ctx.http`` asks for each attempt to a host with a shared limit)."""
        self.accept_now(ctx)
        answer = await self._ask(lambda rid: m.Token(rid=rid, key=key, rate=float(rate)),
                                 f"the broker did not grant a request token for {key}")
        return max(0.0, answer.wait_s)

    async def _ask(self, build: Callable[[int], m.WorkerMessage], late: str) -> Any:
        """Send a request with a rid (sent again after every reconnect) and await its
        answer (PAGE or GRANT); JobFailed if it says error or does not come in time."""
        rid = next(self.rids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        frames = codec.encode(build(rid), "worker")
        self.fetches[rid] = (fut, frames)
        self.channel.send(frames)
        try:
            answer = await asyncio.wait_for(fut, FETCH_TIMEOUT_S)
        except TimeoutError:
            raise JobFailed(f"{late} in {FETCH_TIMEOUT_S} s", code="broker.unavailable",
                            retry=True) from None
        finally:
            self.fetches.pop(rid, None)
        if answer.error:
            raise JobFailed(str(answer.error.get("message")), code=str(answer.error.get("code")))
        return answer

    def _progress(self, ctx: JobContext) -> dict[str, Any]:
        """ctx's progress map as the broker sees it (its current item a library path)."""
        progress = ctx.progress()
        if self.path_map and progress["current"]:
            progress["current"] = self.path_map.to_library(progress["current"])
        return progress

    def send(self, msg: m.WorkerMessage) -> None:
        """Queue a message for the broker (the channel keeps the order)."""
        self.channel.send(codec.encode(msg, "worker"))

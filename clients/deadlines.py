"""Request deadlines on one asyncio timer (AsyncClient's timeouts).

``loop.call_later`` per request costs a TimerHandle (a context copy, an entry in
the loop's heap ordered by a Python ``__lt__``) and a ``cancel`` when the reply
comes first, which is nearly always.  Here a request's deadline is a tuple in a
heap of our own and only the earliest one has a TimerHandle.  An answered
request's entry stays until it is due (it is then skipped) or until such entries
outnumber the live ones, when they are dropped all at once (as asyncio drops
cancelled timers), so the heap stays within twice the requests in flight.

A future still pending at its deadline gets ``TimeoutError`` from the timer's
callback, as ``loop.call_later(timeout, expire, fut)`` would have given it.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Any

#: entries kept before the first sweep of answered ones
_MIN_SWEEP = 64


class Deadlines:
    """Deadlines of futures on one loop: each still pending when due fails with TimeoutError."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[tuple[float, int, asyncio.Future[Any]]] = []
        self._order = itertools.count()  # ties: futures do not compare
        self._timer: asyncio.TimerHandle | None = None
        self._armed = float("inf")  # when the timer fires
        self._sweep_at = _MIN_SWEEP

    def add(self, fut: asyncio.Future[Any], timeout_s: float) -> None:
        """Fail fut with TimeoutError if it is still pending timeout_s from now."""
        when = self._loop.time() + timeout_s
        heap = self._heap
        heapq.heappush(heap, (when, next(self._order), fut))
        if when < self._armed:
            self._arm(when)
        if len(heap) >= self._sweep_at:
            self._sweep()

    def __len__(self) -> int:
        """Entries held, answered ones included (bounded by twice the pending ones + 64)."""
        return len(self._heap)

    def close(self) -> None:
        """Stop the timer; no deadline fires any more."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed = float("inf")
        self._heap.clear()

    def _arm(self, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(when, self._fire)
        self._armed = when

    def _sweep(self) -> None:
        """Drop the entries of finished futures (the heap's order survives filtering + heapify)."""
        live = [entry for entry in self._heap if not entry[2].done()]
        heapq.heapify(live)
        self._heap = live
        self._sweep_at = max(_MIN_SWEEP, 2 * len(live))

    def _fire(self) -> None:
        # every entry up to when this timer was due is due: asyncio ran it as due
        due = max(self._armed, self._loop.time())
        self._timer, self._armed = None, float("inf")
        heap = self._heap
        while heap and heap[0][0] <= due:
            fut = heapq.heappop(heap)[2]
            if not fut.done():
                fut.set_exception(TimeoutError())
        if heap:
            self._arm(heap[0][0])

"""The worker's side of the reliable result stream (SPEC.md section 6.4).

Every ITEMS, PLAN and final DONE / FAILED / CANCELLED of an attempt gets the
next number n and stays here until the broker's ACK covers it.  After the
worker re-registers (a broker restart, a new connection) or when an ACK is
overdue, everything unacknowledged is sent again, in order; the broker
stores each n once.  An attempt whose final message is not yet acknowledged
is still listed in READY, so the broker can take its results.  The window
bounds memory: a job that runs ahead of the broker by more than WINDOW
messages waits at its next checkpoint.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from medialoom.protocol import codec
from medialoom.protocol import messages as m

#: unacknowledged messages per attempt before the job waits at its checkpoint
WINDOW = 64


@dataclass
class Stream:
    """One attempt's numbered messages that the broker has not acknowledged yet."""

    job: str
    attempt: int
    next_n: int = 1
    unacked: collections.deque[tuple[int, list[bytes]]] = field(
        default_factory=collections.deque)
    last_sent: float = 0.0
    ended: bool = False
    space: asyncio.Event = field(default_factory=asyncio.Event)


class Streams:
    """The streams of every attempt this worker runs or has not seen acknowledged."""

    def __init__(self) -> None:
        self.by_job: dict[str, Stream] = {}

    def __repr__(self) -> str:
        waiting = sum(len(s.unacked) for s in self.by_job.values())
        return f"<Streams attempts={len(self.by_job)} unacked={waiting}>"

    def open(self, job: str, attempt: int) -> None:
        """A new attempt starts (an older attempt's leftovers are moot)."""
        self.by_job[job] = Stream(job, attempt)

    def add(self, job: str, attempt: int, build: Callable[[int], m.WorkerMessage], *,
            final: bool = False) -> list[bytes]:
        """Number the message build(n) makes, keep it until acknowledged; its frames."""
        stream = self.by_job.get(job)
        if stream is None or stream.attempt != attempt:
            stream = self.by_job[job] = Stream(job, attempt)
        n = stream.next_n
        stream.next_n += 1
        frames = codec.encode(build(n), "worker")
        stream.unacked.append((n, frames))
        stream.last_sent = time.monotonic()
        stream.ended = stream.ended or final
        return frames

    def ack(self, job: str, attempt: int, n: int) -> None:
        """The broker stored (or no longer wants) everything up to n."""
        stream = self.by_job.get(job)
        if stream is None or stream.attempt != attempt:
            return
        while stream.unacked and stream.unacked[0][0] <= n:
            stream.unacked.popleft()
        stream.last_sent = time.monotonic()
        if len(stream.unacked) < WINDOW:
            stream.space.set()
        if stream.ended and not stream.unacked:
            del self.by_job[job]

    def drop(self, job: str, attempt: int) -> None:
        """The broker said this attempt is not current: forget what it still holds."""
        stream = self.by_job.get(job)
        if stream is not None and stream.attempt == attempt and stream.ended:
            del self.by_job[job]

    def ending(self) -> list[list[str | int]]:
        """``[job, attempt]`` of attempts that ended but whose end is not acknowledged."""
        return [[s.job, s.attempt] for s in self.by_job.values() if s.ended and s.unacked]

    def everything(self) -> list[list[bytes]]:
        """Every unacknowledged message, each attempt's in order (after a new READY)."""
        now = time.monotonic()
        out = []
        for stream in self.by_job.values():
            out += [frames for _, frames in stream.unacked]
            stream.last_sent = now
        return out

    def overdue(self, after_s: float) -> list[list[bytes]]:
        """The unacknowledged messages of attempts whose broker has not acked for after_s."""
        now = time.monotonic()
        out = []
        for stream in self.by_job.values():
            if stream.unacked and now - stream.last_sent > after_s:
                out += [frames for _, frames in stream.unacked]
                stream.last_sent = now
        return out

    async def wait_window(self, job: str, cancelled: asyncio.Event) -> None:
        """Wait while the attempt has WINDOW or more unacknowledged messages."""
        stream = self.by_job.get(job)
        while stream is not None and len(stream.unacked) >= WINDOW and not cancelled.is_set():
            stream.space.clear()
            try:
                await asyncio.wait_for(stream.space.wait(), 1.0)
            except TimeoutError:
                pass
            stream = self.by_job.get(job)

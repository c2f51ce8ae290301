"""The worker's end of the worker channel: a plain pyzmq DEALER on the asyncio loop.

Read the way broker/actor.py reads its sockets, which costs a fraction of
zmq.asyncio per message: the loop watches the socket's ZMQ_FD, and each
wake-up drains the socket with NOBLOCK receives until zmq.Again.  Sends are
queued in an outbox and go out together, with NOBLOCK, on the next pump.

ZMQ_FD is edge-triggered, and any send, receive or EVENTS read on the socket
can consume the edge that announced new messages.  So every pump sends first
and then receives until zmq.Again, which libzmq returns only after it has
processed all of the socket's pending commands: from then on, a new message
raises the FD again.  A pump that stops early (its budget is spent) runs again
on the loop's next turn; one that leaves messages in the outbox reads
``EVENTS`` for room that may have come meanwhile.

A send that meets the high-water mark (zmq.Again: the broker is gone and the
queue is full) leaves the message at the head of the outbox; it is tried
again when the FD reports a change or anything else is queued.  Nothing is
dropped here: the reliable stream (workers/stream.py) sends unacknowledged
results again after a reconnect or when their ACK is overdue.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
from collections.abc import Callable, Iterator
from typing import Any

import zmq

from medialoom.protocol.codec import MAX_BODIES
from medialoom.sockets import recv_frames, send_frames

log = logging.getLogger("medialoom.worker")
#: most messages one pump receives before the loop's other callbacks (the jobs) get a turn
BUDGET = 256


class Channel:
    """The current DEALER, its FD reader and its outbox (one per worker process)."""

    def __init__(self, handle: Callable[[list[bytes]], None]) -> None:
        #: called with the frames of each message received, on the loop
        self.handle = handle
        self.sock: zmq.Socket[Any] | None = None
        #: frames to send, in order; the head is the next one (it may have met zmq.Again)
        self.outbox: collections.deque[list[bytes]] = collections.deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = -1
        self._pending: asyncio.Handle | None = None

    def __repr__(self) -> str:
        return f"<Channel fd={self._fd} outbox={len(self.outbox)}>"

    def attach(self, sock: zmq.Socket[Any]) -> None:
        """Read and write sock from now on (the loop must be running; detach the old first)."""
        assert self.sock is None, "detach the old socket first"
        self._loop = asyncio.get_running_loop()
        self.sock = sock
        self._fd = sock.getsockopt(zmq.FD)
        self._loop.add_reader(self._fd, self._pump)
        self.wake()  # what arrived before the reader was added raised no edge we will see

    def detach(self) -> zmq.Socket[Any] | None:
        """Stop watching the current socket and hand it back (None if there is none)."""
        sock, self.sock = self.sock, None
        if sock is not None and self._loop is not None:
            self._loop.remove_reader(self._fd)
        self._fd = -1
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        return sock

    def send(self, frames: list[bytes]) -> None:
        """Queue frames for the broker; they go out on the next pump, in order."""
        self.outbox.append(frames)
        self.wake()

    def send_first(self, batch: list[list[bytes]]) -> None:
        """Queue batch ahead of everything already queued (READY on a new connection)."""
        self.outbox.extendleft(reversed(batch))
        self.wake()

    def wake(self) -> None:
        """Pump on the loop's next turn (once, however many times this is called)."""
        if self._pending is None and self.sock is not None and self._loop is not None:
            self._pending = self._loop.call_soon(self._pump)

    def close(self, last: list[bytes] | None, linger_ms: int) -> None:
        """Send what is queued and then last, as far as the socket takes them; close it."""
        sock = self.detach()
        if sock is None:
            return
        try:
            self._flush(sock)
            if last is not None:
                send_frames(sock, last)
        except zmq.Again:  # a socket with no connection (a refused CURVE key) never sends
            pass
        sock.close(linger=linger_ms)

    @staticmethod
    def arrived(sock: zmq.Socket[Any], limit: int) -> Iterator[list[bytes]]:
        """Up to limit messages that already sit in sock (one about to be closed)."""
        for _ in range(limit):
            try:
                yield recv_frames(sock)
            except zmq.Again:
                return

    def _flush(self, sock: zmq.Socket[Any]) -> None:
        """Send the outbox, up to MAX_BODIES bodies in each message (SPEC.md 2): one
        message is one wake-up of the broker's loop and its I/O thread, not one per body."""
        out = self.outbox
        while out:
            head = out[0]
            frames, taken = head, 1
            if len(out) > 1 and len(head) == 2:  # [tag, body]s in a row go as one message
                frames = [head[0]]
                for queued in itertools.islice(out, MAX_BODIES):
                    if len(queued) != 2 or queued[0] != head[0]:
                        break
                    frames.append(queued[1])
                taken = len(frames) - 1
            # zmq.Again can only come from a message's first frame (a multipart message is
            # taken whole or not at all): then its bodies stay queued
            send_frames(sock, frames)
            for _ in range(taken):
                out.popleft()

    def _pump(self) -> None:
        """Send what is queued, receive what has arrived, and run again if the edge that
        would wake us may have been consumed (the FD reader and wake() both land here)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        sock = self.sock
        if sock is None:
            return
        try:
            self._flush(sock)
        except zmq.Again:
            pass
        for _ in range(BUDGET):
            try:
                frames = recv_frames(sock)
            except zmq.Again:
                break
            try:
                self.handle(frames)
            except Exception:  # the message boundary: a bug in one handler is not fatal
                log.exception("internal error handling a broker message")
            if self.sock is not sock:
                return  # a reconnect: the new socket has a pump of its own
        else:
            self.wake()  # the budget is spent and more may wait: the jobs get a turn first
            return
        if self._pending is not None or not self.outbox:
            # the receive that met zmq.Again processed every command the socket had (libzmq
            # does so before it gives up): a message arriving after it raises the FD again.
            # A handler that queued a send has a pump coming, which ends the same way
            return
        # the outbox waits for room: that news may have come with the commands just processed
        if sock.getsockopt(zmq.EVENTS) & zmq.POLLOUT:
            self.wake()

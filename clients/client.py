"""Python clients of the broker: ``Client`` (blocking) and ``AsyncClient`` (asyncio).

Both speak the client channel of SPEC.md and raise ``ClientError`` (with the
wire ``code``) for an ERROR reply and ``BrokerUnavailable`` when the broker
does not answer in time.  ``watch`` follows the Clone pattern: subscribe,
take the STATUS snapshot, drop events that are not newer, resync on a gap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import zmq
import zmq.asyncio

from medialoom.certs import Curve
from medialoom.clients.deadlines import Deadlines
from medialoom.protocol import codec
from medialoom.protocol import messages as m
from medialoom.protocol.constants import DEFAULT_CLIENTS
from medialoom.protocol.errors import BrokerUnavailable, MedialoomError
from medialoom.sockets import BULK_HWM, make_socket, recv_frames, send_frames

from .client_api import (  # noqa: F401 (ClientError, merge_event, TERMINAL: offered here)
    DEFAULT_EVENTS,
    TERMINAL,
    ClientError,
    Job,
    _Api,
    merge_event,
)


class AsyncClient(_Api):
    """asyncio client; requests may run concurrently (pipelined by rid).

    Its DEALER is a plain socket drained from the event loop through its FD, as the
    broker's actor does (broker/actor.py): zmq.asyncio's futures, selector hops and
    poller cost more per message than the request itself.  The requests made in one loop
    turn are sent together early in the next, in the order they were made; ZMQ_FD is
    edge-triggered, so then the socket is read for replies that arrived meanwhile.  Timeouts
    share one timer (clients/deadlines.py) instead of a ``call_later`` per request.

    Its first request is preceded by a HELLO with ``batch: true`` (SPEC.md 2): once the
    broker's answer says it takes them, a loop turn's requests leave as messages of up to
    MAX_BODIES bodies, and the broker bundles its replies the same way (one message, one
    wake-up of each side's I/O thread, for many requests).  Until then, and with a broker
    that does not answer so, every request is a message of its own.
    """

    BATCH = True

    def __init__(self, endpoint: str = DEFAULT_CLIENTS, events: str = DEFAULT_EVENTS,
                 timeout_s: float = 5.0, ctx: zmq.asyncio.Context | None = None,
                 curve: Curve | None = None) -> None:
        super().__init__(endpoint, events, timeout_s, curve)
        self.ctx = ctx or zmq.asyncio.Context.instance()
        # a plain socket on the same underlying context (watch's SUB stays asyncio)
        self.sock = make_socket(zmq.Context.shadow(self.ctx.underlying), zmq.DEALER,
                                connect=endpoint, sndhwm=0, rcvhwm=0, curve=curve)
        self._pending: dict[int, asyncio.Future[m.Reply | m.Error]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._deadlines: Deadlines | None = None
        self._fd = self.sock.getsockopt(zmq.FD)
        # requests of a loop turn, sent together by _flush on the next (then the socket is
        # read: a send may take the FD's edge); the oldest first
        self._outbox: list[tuple[list[bytes], asyncio.Future[Any]]] = []
        self._flush_soon = False  # _flush is scheduled
        self._greeted = False  # the HELLO that asks for bundles is sent
        self._bundles = False  # the broker said it takes messages of several bodies

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop reading and close the socket (requests in flight end at their timeout)."""
        self._send_queued()
        self._unwatch()
        self.sock.close(linger=0)

    def _unwatch(self) -> None:
        # the loop's Deadlines stay: a request in flight still ends at its timeout
        loop, self._loop, self._deadlines = self._loop, None, None
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self._fd)

    def _watch(self) -> asyncio.AbstractEventLoop:
        """The running loop, reading replies from the socket's FD from now on."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._unwatch()  # a Client.watch loop before this one
            loop.add_reader(self._fd, self._drain)
            self._loop = loop
            self._deadlines = Deadlines(loop)
            self._flush_soon = False
        return loop

    def _send_queued(self) -> bool:
        """Send the queued requests in order, several to a message once the broker takes
        that; False if the broker has no queue yet (zmq.Again)."""
        out, sock, sent = self._outbox, self.sock, 0
        try:
            if not self._bundles:
                for frames, _fut in out:
                    send_frames(sock, frames)
                    sent += 1
            for bundle in codec.bundles([frames[1] for frames, _fut in out[sent:]]):
                send_frames(sock, [codec.TAGS["client"], *bundle])
                sent += len(bundle)
        except zmq.Again:  # no queue for the broker yet (sndhwm 0 is unbounded)
            return False
        except zmq.ZMQError as exc:  # closed: the requests fail as their send did
            for _frames, fut in out[sent:]:
                if not fut.done():
                    fut.set_exception(zmq.ZMQError(exc.errno))
            sent = len(out)
        finally:
            del out[:sent]
        return True

    def _flush(self) -> None:
        """Send this loop turn's requests, then read what has arrived."""
        self._flush_soon = False
        if self._send_queued():
            self._drain()
        elif self._loop is not None:  # retried every ms while its request waits (no timeout)
            self._outbox[:] = [entry for entry in self._outbox if not entry[1].done()]
            self._flush_soon = True
            self._loop.call_later(0.001, self._flush)

    def _drain(self) -> None:
        """Every reply that has arrived, to the request waiting for it."""
        while True:
            try:
                frames = recv_frames(self.sock)
            except zmq.Again:
                return
            except zmq.ZMQError:  # closed meanwhile
                return
            if len(frames) == 2:
                try:
                    self._answer(codec.decode(frames, "reply"))
                except MedialoomError:
                    pass
                continue
            try:  # several replies in one message (SPEC.md 2)
                replies = codec.decode_each(frames, "reply")
            except MedialoomError:
                continue
            for msg in replies:
                if not isinstance(msg, MedialoomError):
                    self._answer(msg)

    def _answer(self, msg: Any) -> None:
        fut = self._pending.pop(msg.rid, None)
        if fut is not None and not fut.done():
            fut.set_result(msg)

    def _greet(self, loop: asyncio.AbstractEventLoop) -> None:
        """Queue the HELLO that asks for bundles (SPEC.md 2), ahead of the first request;
        its answer, whenever it comes, turns bundling on if the broker takes it."""
        self._greeted = True
        hello = self._hello()
        fut: asyncio.Future[m.Reply | m.Error] = loop.create_future()
        self._pending[hello.rid] = fut
        if self.timeout_s is not None:
            self._deadlines.add(fut, self.timeout_s)  # type: ignore[union-attr]
        self._outbox.append((codec.encode(hello, "client"), fut))

        def answered(done: asyncio.Future[m.Reply | m.Error]) -> None:
            self._pending.pop(hello.rid, None)
            if done.cancelled() or done.exception() is not None:
                return  # no answer in time: requests stay one to a message
            reply = done.result()
            if isinstance(reply, m.Reply) and reply.data.get("batch") is True:
                self._bundles = True

        fut.add_done_callback(answered)

    async def request(self, msg: Any, timeout_s: float | None = -1.0) -> m.Reply | m.Error:
        """Send one request and await its reply (timeout None waits forever)."""
        loop = self._watch()
        fut: asyncio.Future[m.Reply | m.Error] = loop.create_future()
        self._pending[msg.rid] = fut
        timeout = self.timeout_s if timeout_s == -1.0 else timeout_s
        if timeout is not None:
            self._deadlines.add(fut, timeout)  # type: ignore[union-attr]
        try:
            if not self._greeted:
                self._greet(loop)
            self._outbox.append((codec.encode(msg, "client"), fut))
            if not self._flush_soon:
                self._flush_soon = True
                loop.call_soon(self._flush)
            return await fut
        except TimeoutError:
            raise self._unreachable() from None
        finally:
            self._pending.pop(msg.rid, None)

    async def _call(self, msg: Any, key: str | None) -> Any:
        return self._result(await self.request(msg), key)

    async def wait(self, job_id: str, timeout_s: float | None = None, poll_s: float = 5.0) -> Job:
        """The job map once it has finished (re-asks every poll_s, so a broker restart is fine)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            try:
                reply = await self.request(m.Wait(rid=self._rid(), job=job_id), poll_s)
                return self._result(reply, "job")
            except BrokerUnavailable:
                if deadline is not None and time.monotonic() > deadline:
                    raise
            job = await self.status(job_id)
            if job["status"] in TERMINAL:
                return job

    async def watch(self, job_id: str | None = None, *, until_done: bool = True,
                    resync_s: float = 2.0) -> AsyncIterator[Job]:
        """Yield job maps as they change; one job (until it finishes) or all jobs."""
        sub = make_socket(self.ctx, zmq.SUB, connect=self.events, rcvhwm=BULK_HWM,
                          subscribe=codec.topic(job_id) if job_id else b"job/", curve=self.curve)
        seen: dict[str, Job] = {}
        try:
            await asyncio.sleep(0.05)  # let the subscription reach the broker
            if job_id:
                snap = await self.status(job_id)
                seen[job_id] = snap
                yield snap
                if until_done and snap["status"] in TERMINAL:
                    return
            while True:
                if not await sub.poll(timeout=int(resync_s * 1000)):
                    if job_id:  # quiet: check on the reliable channel (events are lossy)
                        snap = await self.status(job_id)
                        if snap["seq"] > seen[job_id]["seq"]:
                            seen[job_id] = snap
                            yield snap
                            if until_done and snap["status"] in TERMINAL:
                                return
                    continue
                frames = await sub.recv_multipart()
                try:
                    event = codec.unpack_body(frames[-1])
                except MedialoomError:
                    continue
                jid, seq = event.get("job"), event.get("seq", 0)
                last = seen.get(jid)
                if last is not None and seq <= last["seq"]:
                    continue
                if last is None or seq > last["seq"] + 1:
                    try:
                        job = merge_event(await self.status(jid), {})
                    except ClientError:
                        continue
                    if job["seq"] < seq:
                        job = merge_event(job, event)
                else:
                    job = merge_event(last, event)
                seen[jid] = job
                yield job
                if job_id and until_done and job["status"] in TERMINAL:
                    return
        finally:
            sub.close(linger=0)


_POLLIN, _zmq_poll = int(zmq.POLLIN), zmq.backend.zmq_poll


class Client(_Api):
    """Blocking client: one request at a time on its own DEALER socket."""

    def __init__(self, endpoint: str = DEFAULT_CLIENTS, events: str = DEFAULT_EVENTS,
                 timeout_s: float = 5.0, ctx: zmq.Context | None = None,
                 curve: Curve | None = None) -> None:
        super().__init__(endpoint, events, timeout_s, curve)
        self.ctx = ctx or zmq.Context.instance()
        self._connect()

    def _connect(self) -> None:
        self.sock = make_socket(self.ctx, zmq.DEALER, connect=self.endpoint, curve=self.curve)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the socket."""
        self.sock.close(linger=0)

    def request(self, msg: Any, timeout_s: float | None = -1.0) -> m.Reply | m.Error:
        """Send one request and block for its reply."""
        timeout = self.timeout_s if timeout_s == -1.0 else timeout_s
        frames = codec.encode(msg, "client")
        try:
            send_frames(self.sock, frames)
        except zmq.Again:  # the queue to the broker is full: block, as send_multipart does
            self.sock.send_multipart(frames)
        deadline = None if timeout is None else time.monotonic() + timeout
        # zmq_poll on the one socket and frames read without pyzmq's sugar (a Poller per
        # call, IntFlag arithmetic per frame)
        poll_items = [(self.sock, _POLLIN)]
        while True:
            left = -1 if deadline is None else int(max(0.0, deadline - time.monotonic()) * 1000)
            if not _zmq_poll(poll_items, left):
                # a late reply must not be read as the answer to the next request
                self.close()
                self._connect()
                raise self._unreachable()
            try:
                reply = codec.decode(recv_frames(self.sock), "reply")
            except (MedialoomError, zmq.Again):
                continue
            if reply.rid == msg.rid:  # type: ignore[union-attr]
                return reply  # type: ignore[return-value]

    def _call(self, msg: Any, key: str | None) -> Any:
        return self._result(self.request(msg), key)

    def wait(self, job_id: str, timeout_s: float | None = None, poll_s: float = 5.0) -> Job:
        """The job map once it has finished."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            try:
                return self._result(self.request(m.Wait(rid=self._rid(), job=job_id), poll_s),
                                    "job")
            except BrokerUnavailable:
                if deadline is not None and time.monotonic() > deadline:
                    raise
            job = self.status(job_id)
            if job["status"] in TERMINAL:
                return job

    def watch(self, job_id: str | None = None, *, until_done: bool = True) -> Iterator[Job]:
        """Blocking form of AsyncClient.watch (runs it on a private event loop)."""
        loop = asyncio.new_event_loop()
        actx = zmq.asyncio.Context()
        client = AsyncClient(self.endpoint, self.events, self.timeout_s, ctx=actx,
                             curve=self.curve)
        agen = client.watch(job_id, until_done=until_done)
        try:
            while True:
                try:
                    yield loop.run_until_complete(agen.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            loop.run_until_complete(agen.aclose())
            loop.run_until_complete(client.close())
            loop.close()
            actx.term()

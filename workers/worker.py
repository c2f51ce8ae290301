"""One worker process: a peer of the broker on the worker channel (SPEC.md section 6).

It announces its kinds and free slots (READY), heartbeats, runs DISPATCHed
attempts as asyncio tasks (blocking work in the thread pool), sends item
results in batches (ITEMS) and the end of each attempt (DONE / FAILED /
CANCELLED), and publishes coalesced PROGRESS on its PUB socket.  Its sockets
are plain pyzmq ones: the DEALER is read from the loop through its FD and
written through an outbox (workers/channel.py), the PUB only sends.  Receiving
never waits on a job, so heartbeats and CANCEL are answered at once.

On another host, its path mappings (workers/pathmap.py) are applied here, at the
wire edge and nowhere else: a DISPATCH and the rows of a PAGE are mapped to this
host's paths, everything it sends back to library paths (SPEC.md section 6.9).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import signal
import socket
import sys
import time
from typing import Any

import zmq

from medialoom.protocol import codec
from medialoom.protocol import messages as m
from medialoom.protocol.errors import MedialoomError, RemoteProtocolError
from medialoom.sockets import BULK_HWM, make_socket

from .channel import Channel
from .config import WorkerConfig
from .context import JobContext, close_shared
from .errors import JobCancelled, JobFailed
from .kinds import Kind
from .pathmap import PathMap
from .reporting import Reporting
from .stream import Streams
from .wire import wire_safe

log = logging.getLogger("medialoom.worker")
#: on SIGTERM: how long running attempts get to end (cancelled), then to have their ends ACKed
DRAIN_S = 2.5
DRAIN_ACK_S = 1.5


class Worker(Reporting):
    """The worker process's loops and its running attempts."""

    def __init__(self, config: WorkerConfig, kinds: dict[str, Kind],
                 path_map: PathMap | None = None) -> None:
        self.config = config
        self.kinds = kinds
        #: library paths <-> this host's (empty: the library is where the broker sees it)
        self.path_map = path_map or PathMap()
        #: why the broker refused our READY (a DISCONNECT with a code); we stop then
        self.refused = ""
        self._stop: asyncio.Event | None = None
        # plain sockets (no zmq.asyncio): the DEALER is read through its FD (workers/channel.py)
        # and the PUB only ever sends, with NOBLOCK
        self.ctx: zmq.Context[Any] = zmq.Context()
        self.channel = Channel(self._on_frames)
        self.pub = make_socket(self.ctx, zmq.PUB, connect=config.events_in, linger_ms=1000,
                               sndhwm=BULK_HWM, curve=config.curve)
        self.running: dict[str, JobContext] = {}
        self.broker_expiry = 0.0
        self.heard_since_grace = True  # see _heartbeat
        self.host = socket.gethostname()
        self.done = 0
        #: set on stop: take ACKs, PAGEs, GRANTs and CANCELs from the broker, start nothing
        self.draining = False
        self.rids = itertools.count(1)
        #: FETCHes and TOKENs waiting for their PAGE or GRANT: rid -> (future, frames to resend)
        self.fetches: dict[int, tuple[asyncio.Future[Any], list[bytes]]] = {}
        self.streams = Streams()
        self.connections = 0
        self._tg: asyncio.TaskGroup | None = None
        #: DISPATCHes of jobs whose older attempt still runs here (started when it ends)
        self.deferred: dict[str, m.Dispatch] = {}
        #: attempts whose ACCEPT is owed (job -> attempt), sent together ACCEPT_AFTER_S later
        self.unaccepted: dict[str, int] = {}
        self._accepting: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return f"<Worker pid={os.getpid()} running={len(self.running)} done={self.done}>"

    # --- connection --------------------------------------------------------------------

    def connect(self) -> None:
        """(Re)open the DEALER and announce ourselves with the attempts still running."""
        old = self.channel.detach()  # its FD reader goes before the socket does
        if old is not None:
            self._take_what_arrived(old)
            old.close(linger=0)
        # our own routing id: a TCP reconnect of this socket keeps it, so the broker does not
        # take a network blip for a dead worker (it hands the id over to the new connection)
        self.connections += 1
        routing_id = (f"{self.host[:64]}:{os.getpid()}:{self.connections}:"
                      f"{os.urandom(4).hex()}").encode()
        dealer = make_socket(self.ctx, zmq.DEALER, connect=self.config.workers,
                             linger_ms=1000, sndhwm=BULK_HWM, routing_id=routing_id,
                             curve=self.config.curve)
        self.broker_expiry = time.monotonic() + self.timeout_s
        running = [[c.job_id, c.attempt] for c in self.running.values()]
        running += [e for e in self.streams.ending() if e[0] not in self.running]
        kinds = sorted(self.config.kinds or self.kinds)
        specs = [self.kinds[k].spec.to_map() for k in kinds if k in self.kinds]
        ready = m.Ready(kinds=kinds, slots=self.config.slots, host=self.host, pid=os.getpid(),
                        running=running, specs=specs, path_map=self.path_map.announce(),
                        batch=True)
        # READY goes first on the new socket, ahead of anything queued in the outbox; then
        # every result the broker has not acknowledged and every unanswered FETCH, in order
        self.channel.attach(dealer)
        self.channel.send_first([codec.encode(ready, "worker"), *self.streams.everything(),
                                 *(f for _, f in self.fetches.values())])

    @property
    def timeout_s(self) -> float:
        return self.config.heartbeat_interval_s * self.config.heartbeat_liveness

    @property
    def resend_s(self) -> float:
        """An ACK this much overdue (the broker is alive) has its messages sent again."""
        return max(5.0, 2 * self.timeout_s)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until stop is set, then tell the broker we are leaving."""
        self._stop = stop
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                self.connect()
                beat = tg.create_task(self._heartbeat())
                await stop.wait()
                await self._drain()
                beat.cancel()
        finally:
            self.draining = True
            try:
                await close_shared()
            except Exception:
                log.exception("could not close the shared HTTP session")
            self.channel.close(codec.encode(m.Disconnect(reason="stopping"), "worker"),
                               linger_ms=500)
            self.pub.close(linger=500)
            self.ctx.term()

    async def _drain(self) -> None:
        """Cancel the running attempts and get their last ITEMS and CANCELLED to the broker.

        Bounded: DRAIN_S for the attempts to end (then they are cut off), DRAIN_ACK_S more
        for the outbox to reach the socket and the broker to acknowledge it.
        No new attempt starts meanwhile: a DISPATCH that arrives now is left to the broker,
        which takes the job back at our DISCONNECT.
        """
        self.draining = True
        self.deferred.clear()  # those too are the broker's again
        for ctx in list(self.running.values()):
            ctx.request_cancel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DRAIN_S
        while self.running and loop.time() < deadline:  # noqa: ASYNC110 (bounded)
            await asyncio.sleep(0.02)
        for ctx in list(self.running.values()):
            log.warning("job %s did not end within %.1f s of the stop; cut off",
                        ctx.job_id, DRAIN_S)
            ctx.abort()
        deadline = loop.time() + DRAIN_ACK_S
        while (self.running or self.channel.outbox or self.streams.ending()) \
                and loop.time() < deadline:  # noqa: ASYNC110 (three conditions, bounded)
            await asyncio.sleep(0.02)

    async def _heartbeat(self) -> None:
        parent = os.getppid()
        interval = self.config.heartbeat_interval_s
        while True:
            asleep = time.monotonic()
            await asyncio.sleep(interval)
            if os.getppid() != parent:
                log.warning("pool supervisor died; stopping")
                os.kill(os.getpid(), signal.SIGTERM)
            now = time.monotonic()
            if now - asleep > 2 * interval and self.heard_since_grace:
                # we overslept (this process was frozen or its loop blocked): the broker's
                # messages may still be on their way into the socket, which a reconnect now
                # would throw away (a DISPATCH among them); the broker gets one more window,
                # once until it is heard again (a loop blocked at every beat still notices
                # a dead broker)
                self.heard_since_grace = False
                self.broker_expiry = max(self.broker_expiry, now + self.timeout_s)
            if now > self.broker_expiry:
                log.warning("broker silent for %.1f s; reconnecting to %s", self.timeout_s,
                            self.config.workers)
                self.connect()
            else:
                for frames in self.streams.overdue(self.resend_s):
                    self.channel.send(frames)
            self.send(m.Heartbeat())

    def _on_frames(self, frames: list[bytes], closing: bool = False) -> None:
        """One message from the broker (the channel calls this for each); closing: it sat in
        a socket about to be closed, where a DISCONNECT is moot."""
        self.broker_expiry = time.monotonic() + self.timeout_s
        self.heard_since_grace = True
        try:
            msgs = [codec.decode(frames, "broker")] if len(frames) == 2 else \
                codec.decode_each(frames, "broker")  # several bodies (SPEC.md 2)
        except RemoteProtocolError as exc:
            log.warning("dropped bad broker message: %s", exc.message)
            return
        for msg in msgs:
            if isinstance(msg, RemoteProtocolError):
                log.warning("dropped bad broker message: %s", msg.message)
            elif closing and isinstance(msg, m.Disconnect):
                continue
            elif not self.draining or isinstance(msg, m.Ack | m.Page | m.Grant | m.CancelJob):
                try:
                    self._handle(msg)
                except Exception:  # a bug in one body's handler spares the bodies after it
                    log.exception("internal error handling a broker message")

    def _take_what_arrived(self, dealer: zmq.Socket[Any]) -> None:
        """Handle what already sits in a socket about to be closed (a DISPATCH received just
        before the broker went silent must not vanish with it)."""
        if self._tg is None:
            return
        for frames in self.channel.arrived(dealer, 4096):
            self._on_frames(frames, closing=True)

    def _handle(self, msg: m.BrokerToWorker) -> None:
        if isinstance(msg, m.Dispatch):
            old = self.running.get(msg.job)
            if old is None:
                self._start(msg)
            elif old.attempt != msg.attempt:
                # a newer attempt of a job whose stale attempt still winds down here:
                # stop that one, start this one when it has ended
                old.request_cancel()
                self.deferred[msg.job] = msg
        elif isinstance(msg, m.CancelJob):
            ctx = self.running.get(msg.job)
            if ctx is not None and ctx.attempt == msg.attempt:
                ctx.request_cancel()
            else:
                self.streams.drop(msg.job, msg.attempt)
        elif isinstance(msg, m.Ack):
            for entry in msg.acks:
                if len(entry) == 3 and isinstance(entry[0], str) and \
                        type(entry[1]) is int and type(entry[2]) is int:
                    self.streams.ack(*entry)
        elif isinstance(msg, m.Page | m.Grant):
            fut = self.fetches.get(msg.rid, (None, None))[0]
            if fut is not None and not fut.done():
                fut.set_result(msg)
        elif isinstance(msg, m.Disconnect) and msg.code:
            # the broker refuses this READY (SPEC 6.9): sending it again would not help
            if not self.refused:
                log.error("the broker refused this worker (%s): %s", msg.code, msg.reason)
            self.refused = f"{msg.code}: {msg.reason}"
            if self._stop is not None:
                self._stop.set()
        elif isinstance(msg, m.Disconnect):
            log.info("broker asked us to register again (%s)", msg.reason)
            self.connect()

    def _start(self, msg: m.Dispatch) -> None:
        assert self._tg is not None
        kind = self.kinds.get(msg.kind)
        pm = self.path_map
        # a broker that does not check reachability may send paths we cannot map
        unreachable = pm.unreachable(msg.paths)
        ctx = JobContext(job_id=msg.job, attempt=msg.attempt, kind=msg.kind,
                         paths=pm.to_local(msg.paths), params=pm.to_local(msg.params),
                         dry_run=msg.dry_run, roots=pm.local_roots(msg.roots), reporter=self,
                         has_plan=msg.has_plan, spec=kind.spec if kind else None,
                         data_dir=self.config.data_dir, contact=self.config.contact)
        self.streams.open(msg.job, msg.attempt)
        self.running[msg.job] = ctx
        self._tg.create_task(self._run_job(ctx, unreachable))

    async def _run_job(self, ctx: JobContext, unreachable: str | None = None) -> None:
        self.owe_accept(ctx)
        end: Any
        try:
            if unreachable is not None:
                raise JobFailed(f"this worker cannot reach {unreachable} (its path_map: "
                                f"{self.path_map.announce()})", code="path.unreachable",
                                retry=True)
            kind = self.kinds.get(ctx.kind)
            if kind is None:
                raise JobFailed(f"this worker does not serve kind {ctx.kind!r}",
                                code="job.unknown_kind", retry=True)
            result = await ctx.run_kind(kind.run) or {}
            ctx.flush_items()
            result = self.path_map.to_library(wire_safe({**ctx.result, **result}))
            end = lambda n: m.Done(job=ctx.job_id, attempt=ctx.attempt,  # noqa: E731
                                   progress=self._progress(ctx), result=result, n=n)
        except JobCancelled:
            ctx.flush_items()
            end = lambda n: m.Cancelled(job=ctx.job_id, attempt=ctx.attempt,  # noqa: E731
                                        progress=self._progress(ctx), n=n)
        except JobFailed as exc:
            ctx.flush_items()
            end = self._failed(ctx, exc.code, exc.message, exc.retry, exc.retry_after_s)
        except MedialoomError as exc:
            ctx.flush_items()
            # a transient error that escaped the kind (an HTTP 503 after its retries) retries
            end = self._failed(ctx, exc.code, exc.message,
                               getattr(exc, "transient", False) is True)
        except Exception as exc:
            # unexpected: retried with the broker's backoff while attempts remain
            log.exception("job %s (%s) crashed", ctx.job_id, ctx.kind)
            ctx.flush_items()
            end = self._failed(ctx, "internal", f"{type(exc).__name__}: {exc}", True)
        self.running.pop(ctx.job_id, None)
        self.done += 1
        self.send_reliable(ctx, end, final=True)
        later = self.deferred.pop(ctx.job_id, None)
        if later is not None and not self.draining:
            self._start(later)

    def _failed(self, ctx: JobContext, code: str, message: str, retry: bool,
                retry_after_s: float = 0.0) -> Any:
        """The FAILED message of an attempt, to be numbered by the stream."""
        text = self.path_map.to_library(str(message))
        return lambda n: m.Failed(job=ctx.job_id, attempt=ctx.attempt, code=str(code),
                                  message=text, retry=retry, progress=self._progress(ctx),
                                  n=n, retry_after_s=retry_after_s)


if __name__ == "__main__":
    from .worker_main import main

    sys.exit(main())

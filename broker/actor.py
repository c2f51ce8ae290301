"""The broker's I/O shell around BrokerState (SPEC.md section 1, topology).

One asyncio task: wait until a socket is readable, the writer thread hands
something back, or the next deadline passes; drain each socket with a budget
(so clients get turns while workers stream progress); feed the state; execute
its effects.  Sockets are plain (non-asyncio) pyzmq sockets read with NOBLOCK
and woken through their edge-triggered FD, which costs a fraction of
zmq.asyncio per message.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import zmq

from medialoom.protocol import codec
from medialoom.protocol import messages as m
from medialoom.protocol.errors import RemoteProtocolError, RequestError
from medialoom.sockets import BULK_HWM, make_socket, recv_frames, send_frames

from .auth import Gatekeeper, zap_domain
from .config import BrokerConfig
from .effects import Held, Persist, Publish, Query, ToClient, ToWorker, gather_acks
from .paths import resolve_paths
from .replies import Replies
from .state import BrokerState
from .store import Store
from .subscribers import Subscribers

log = logging.getLogger(__name__)
BUDGET = 512
#: longest turn of one socket in the loop, seconds (the others and the commits' replies wait)
TURN_S = 0.005
#: most entries in one ACK message
ACK_CHUNK = 4096


class BrokerActor:
    """Owns the four broker sockets, the writer thread and the state."""

    def __init__(self, config: BrokerConfig, state: BrokerState, store: Store,
                 ctx: zmq.Context[Any], auth: Gatekeeper | None = None) -> None:
        self.config, self.state, self.store = config, state, store
        #: with CURVE on: the ZAP handler (started), whose keys and domains the sockets use
        self.auth = auth
        self.clients = self._bind(ctx, zmq.ROUTER, config.clients, name="clients")
        # ROUTER_MANDATORY: a send to a worker whose connection is gone raises EHOSTUNREACH
        # instead of vanishing; ROUTER_HANDOVER: a worker's socket that reconnects after a
        # network blip takes its routing id back
        self.workers = self._bind(ctx, zmq.ROUTER, config.workers,
                                  {zmq.ROUTER_MANDATORY: 1, zmq.ROUTER_HANDOVER: 1}, "workers")
        self.events_in = self._bind(ctx, zmq.XSUB, config.events_in, name="events_in")
        self.events_in.send(b"\x01")  # subscribe to every worker event
        self.events_out = self._bind(ctx, zmq.XPUB, config.events_out, name="events_out")
        self.sockets = [self.clients, self.workers, self.events_in, self.events_out]
        #: client replies: bundled per turn for the connections that take bundles
        self.replies = Replies(self.clients, state.counters)
        #: topic prefixes subscribers take on events_out (XPUB's subscription messages)
        self.subscribers = Subscribers()
        state.heard = self.subscribers.hear
        self.inbox: collections.deque[tuple[str, Any]] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None
        self.resolver = ThreadPoolExecutor(2, thread_name_prefix="medialoom-paths")
        #: set when the broker must stop with exit code 1 (the store writer died)
        self.fatal = False
        #: writes and reads for the store, handed over together at the end of each turn
        self.for_store: list[tuple[Any, ...]] = []
        #: while a commit's effects run: the sends they make (_release sends them)
        self.held: Held | None = None

    def _bind(self, ctx: zmq.Context[Any], kind: int, endpoint: str,
              options: dict[int, int] | None = None, name: str = "") -> zmq.Socket[Any]:
        if self.auth is None:
            return make_socket(ctx, kind, bind=endpoint, sndhwm=BULK_HWM, rcvhwm=BULK_HWM,
                               options=options)
        sock = make_socket(ctx, kind, bind=endpoint, sndhwm=BULK_HWM, rcvhwm=BULK_HWM,
                           options=options, curve=self.auth.curve, zap_domain=zap_domain(name))
        self.auth.watch(sock, name)
        return sock

    def close(self) -> None:
        """Close the sockets (the store is stopped by the caller)."""
        self.resolver.shutdown(wait=False, cancel_futures=True)
        for sock in self.sockets:
            sock.close(linger=0)

    # --- main loop -----------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until stop is set."""
        self.loop = loop = asyncio.get_running_loop()
        self.stop = stop

        def fatal() -> None:
            self.fatal = True
            stop.set()
            self._wake()

        self.store.start(lambda w, r: self._deliver_threadsafe("store", (w, r)),
                         lambda: loop.call_soon_threadsafe(fatal))
        for sock in self.sockets:
            loop.add_reader(sock.getsockopt(zmq.FD), self._wake)
        try:
            await self._serve(stop)
        finally:
            self._to_store()
            self.replies.flush()
            for sock in self.sockets:
                loop.remove_reader(sock.getsockopt(zmq.FD))

    def _wake(self) -> None:
        """A socket FD fired or the writer handed something back: end the current sleep."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _sleep(self, timeout_s: float) -> None:
        """Sleep until _wake or timeout_s (a bare future: cheaper than wait_for's task)."""
        self.waiter = self.loop.create_future()
        timer = self.loop.call_later(timeout_s, self._wake)
        try:
            await self.waiter
        finally:
            timer.cancel()
            self.waiter = None

    def _deliver_threadsafe(self, what: str, payload: Any) -> None:
        """From another thread: into the inbox at once (a deque's append is atomic), so a
        turn in progress sees it before its next message, then wake the loop."""
        self.inbox.append((what, payload))
        self.loop.call_soon_threadsafe(self._wake)

    async def _serve(self, stop: asyncio.Event) -> None:
        # with CURVE, client requests are read as frames: they carry the key (User-Id)
        curve = self.auth is not None
        on_client = self._on_client_curve if curve else self._on_client
        # subscriptions first: one that came before a client's STATUS is known before it
        handlers = [(self.events_out, self.subscribers.on_message, True),
                    (self.clients, on_client, not curve), (self.workers, self._on_worker, True),
                    (self.events_in, self._on_event, True)]
        while not stop.is_set():
            busy = False
            for sock, handler, copy in handlers:
                busy = self._turn(sock, handler, copy) or busy
            now = time.time()
            if now >= self.state.next_deadline():
                self._safely(self._tick, now)
                self._to_store()
                self.replies.flush()  # the tick's replies (finished waits, ...)
            if busy or any(s.getsockopt(zmq.EVENTS) & zmq.POLLIN for s in self.sockets):
                await asyncio.sleep(0)
                continue
            timeout = max(0.0, self.state.next_deadline() - time.time())
            await self._sleep(min(timeout, 0.5))

    def _turn(self, sock: zmq.Socket[Any], handler: Any, copy: bool) -> bool:
        """One socket's turn: at most BUDGET messages or TURN_S (a worker streaming ITEMS
        must not hold back client requests and the replies of commits); then what the
        writer committed meanwhile goes out.  True if anything was done."""
        busy = False
        turn_ends = time.perf_counter() + TURN_S
        for _ in range(BUDGET):
            try:
                frames = recv_frames(sock, copy)
            except zmq.Again:
                break
            busy = True
            self._safely(handler, frames)
            if self.inbox:  # committed meanwhile: its replies go out now, not after the turn
                self._drain_inbox()
            if time.perf_counter() > turn_ends:
                break
        busy = self._drain_inbox() or busy
        self._to_store()
        if self.replies.waiting:
            self.replies.flush()
        return busy

    def _to_store(self) -> None:
        """Settle the turn (one dispatch for all its STARTs and finished jobs, then the
        STARTs' acks), then hand its writes and reads to the store, in order, all at once."""
        self._safely(self._settle)
        if self.for_store:
            entries, self.for_store = self.for_store, []
            self.store.submit(entries)

    def _settle(self) -> None:
        self._execute(self.state.settle(time.time()))

    def _drain_inbox(self) -> bool:
        """Hand what the writer committed (and resolved STARTs) to the state."""
        busy = False
        while self.inbox:
            busy = True
            self._safely(self._on_inbox, *self.inbox.popleft())
        return busy

    # --- inputs --------------------------------------------------------------------

    def _safely(self, fn: Any, *args: Any) -> None:
        """Run one input handler; a bug in it is logged and counted, never fatal."""
        try:
            fn(*args)
        except Exception:
            self.state.counters["internal"] += 1
            log.exception("internal error in %s", getattr(fn, "__name__", fn))

    def _tick(self, now: float) -> None:
        self._execute(self.state.tick(now))

    def _on_client_curve(self, frames: list[zmq.Frame]) -> None:
        self._on_client([f.bytes for f in frames], frames[0])

    def _on_client(self, frames: list[bytes], who: zmq.Frame | None = None) -> None:
        peer, body = frames[0], frames[1:]
        if 3 <= len(body) <= codec.MAX_BODIES + 1:  # several bodies: each as if it came alone
            for data in body[1:]:
                self._safely(self._request, peer, [body[0], data], who)
            return
        self._request(peer, body, who)

    def _request(self, peer: bytes, body: list[bytes], who: zmq.Frame | None) -> None:
        """One client request (a version tag and one body)."""
        try:
            msg = codec.decode(body, "client")
        except RemoteProtocolError as exc:
            log.info("bad client message: %s", exc.message)
            self.state.counters["errors"] += 1
            reply = m.Error(rid=codec.request_id(body), code=exc.code, message=exc.message,
                            details=exc.details)
            self.replies.send(peer, reply)
            return
        if type(msg) is m.Hello:
            self.replies.hello(peer, msg.batch)
        if who is not None and self.auth is not None:  # the key's role may send this command?
            refused = self.auth.refusal(who, msg.WORD)  # type: ignore[union-attr]
            if refused is not None:
                self._execute([self.state.error(peer, msg.rid, refused)])  # type: ignore[union-attr]
                return
        if isinstance(msg, m.Start) and msg.paths:
            future = self.resolver.submit(resolve_paths, list(msg.paths), list(self.config.roots))
            future.add_done_callback(lambda f: self._deliver_threadsafe("start", (peer, msg, f)))
            return
        self._guarded(peer, msg, None)

    def _guarded(self, peer: bytes, msg: m.ClientRequest, resolved: list[str] | None) -> None:
        """Handle a client request; a bug in the broker becomes an ``internal`` error reply."""
        try:
            effects = self.state.handle_client(peer, msg, time.time(), resolved, settle=False)
        except Exception:
            log.exception("internal error handling %s", type(msg).__name__)
            effects = [self.state.error(peer, msg.rid, RequestError(
                "the broker failed on this request; its log has the details", code="internal"))]
        self._execute(effects)

    def _on_worker(self, frames: list[bytes]) -> None:
        peer = frames[0]
        try:
            if len(frames) == 3:  # one body, the common case
                msg = codec.decode(frames[1:], "worker")
                self._execute(self.state.handle_worker(peer, msg, time.time(), settle=False))
                return
            # several bodies (SPEC.md 2): each is handled as if it came alone
            msgs = codec.decode_each(frames[1:], "worker")
        except RemoteProtocolError as exc:
            self.state.counters["dropped"] += 1
            log.warning("dropped bad worker message: %s", exc.message)
            return
        now = time.time()
        for msg in msgs:
            if isinstance(msg, RemoteProtocolError):
                self.state.counters["dropped"] += 1
                log.warning("dropped bad worker message: %s", msg.message)
                continue
            self._safely(self._worker_message, peer, msg, now)

    def _worker_message(self, peer: bytes, msg: m.WorkerMessage, now: float) -> None:
        self._execute(self.state.handle_worker(peer, msg, now, settle=False))

    def _on_event(self, frames: list[bytes]) -> None:
        try:
            msg = codec.decode(frames, "event")
        except RemoteProtocolError:
            self.state.counters["dropped"] += 1
            return
        if isinstance(msg, m.Progress):
            self._execute(self.state.handle_progress(msg, time.time()))

    def _on_inbox(self, what: str, payload: Any) -> None:
        now = time.time()
        if what == "store":
            writes, reads = payload
            acks: dict[bytes, list[list[Any]]] = {}
            durables: list[str] = []  # finished jobs whose rows are stored: may leave memory
            self.held = held = Held()
            try:
                for (then, durable), ok in writes:
                    if not ok:
                        self._execute(self.state.write_failed(then, now))
                        continue
                    self._execute(gather_acks(then, acks))
                    durables += durable
                if durables:
                    self.state.committed(durables)
                for peer, entries in acks.items():  # one ACK per worker for the whole commit
                    for at in range(0, len(entries), ACK_CHUNK):
                        held.to_worker(peer, m.Ack(acks=entries[at:at + ACK_CHUNK]))
            finally:
                self.held = None
                self._release(held)
            for token, result in reads:
                self._execute(self.state.finish_query(token, result, now, settle=False))
        elif what == "start":
            peer, msg, future = payload
            try:
                resolved = future.result()
            except RequestError as exc:
                self._execute([self.state.error(peer, msg.rid, exc)])
                return
            self._guarded(peer, msg, resolved)

    # --- outputs -------------------------------------------------------------------

    def _send(self, peer: bytes, msg: m.Message) -> None:
        """msg to a worker (client replies go through self.replies)."""
        try:
            send_frames(self.workers, [peer, *codec.encode(msg, "broker")])
        except zmq.Again:
            self.state.counters["dropped"] += 1
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            # the worker's connection is gone (the process died): forget it now
            self._execute(self.state.unreachable(peer, msg, time.time()))

    def _release(self, held: Held) -> None:
        """Send what a commit's effects held: each worker's messages first, several bodies
        to one message where its READY allows (SPEC.md 2), then the client replies, so a
        START's ack still follows its DISPATCH onto the socket."""
        for peer, msgs in held.workers.items():
            worker = self.state.workers.get(peer)
            if worker is None or not worker.batch or len(msgs) == 1:
                for msg in msgs:
                    self._send(peer, msg)
                continue
            for at in range(0, len(msgs), codec.MAX_BODIES):
                self._send_bodies(peer, msgs[at:at + codec.MAX_BODIES])
        for peer, msg in held.clients:
            self.replies.send(peer, msg)

    def _send_bodies(self, peer: bytes, msgs: list[m.Message]) -> None:
        """msgs to a worker as one message of several bodies."""
        frames = [peer, codec.TAGS["broker"]]
        for msg in msgs:
            frames.append(codec.encode(msg, "broker")[1])
        try:
            send_frames(self.workers, frames)
        except zmq.Again:
            self.state.counters["dropped"] += len(msgs)
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            now = time.time()
            for msg in msgs:
                self._execute(self.state.unreachable(peer, msg, now))

    def _execute(self, effects: list[Any]) -> None:
        held = self.held
        for effect in effects:
            if held is not None and isinstance(effect, ToClient | ToWorker):
                held.add(effect)
            elif isinstance(effect, ToClient):
                self.replies.send(effect.peer, effect.msg)
            elif isinstance(effect, ToWorker):
                self._send(effect.peer, effect.msg)
            elif isinstance(effect, Publish):
                if effect.msg is None:  # nobody subscribed: the state did not build it
                    continue
                try:
                    send_frames(self.events_out, codec.encode(effect.msg, "event"))
                except zmq.Again:
                    self.state.counters["dropped"] += 1
            elif isinstance(effect, Persist):
                if effect.ops or effect.then or effect.durable:
                    self.for_store.append(("w", effect.ops, (effect.then, effect.durable)))
            elif isinstance(effect, Query):
                self.for_store.append(("r", effect.name, effect.args, effect.token))

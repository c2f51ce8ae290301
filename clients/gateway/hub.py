"""The event hub: one ZeroMQ SUB per gateway, fanned out to every WebSocket client.

The Clone pattern of the ZeroMQ guide (SPEC.md, events), done once for all
browsers; ws.py is the route and its messages.  The SUB socket takes every
``job/`` event; each websocket client is a ``Subscriber`` that remembers the
last seq it was sent per job.

- Per client and job, updates are in seq order without duplicates: an event
  not newer than the last one sent is dropped.
- An event that skips a seq (the SUB socket lost one), or the first event of
  a job the client has no state for, buffers that job's events and asks for
  a STATUS snapshot; after it, the buffered events newer than it are sent.
- Snapshot requests are shared: one STATUS per job however many clients
  wait, but only clients already buffering when it was sent join it, so none
  can miss an event between its snapshot and its updates.
- A running job that goes quiet for QUIET_S is checked once for all its
  followers (events are lossy; the terminal state must not be).
- A running job whose seq goes back (the broker restarted; it persists seqs
  only at transitions) gets a fresh snapshot for every follower, sent with
  ``reset: true`` because its seq is below theirs: take it as the new state.
  The same happens when a client's ``since`` is ahead of the broker.
- A client that cannot keep up (ws_queue_max messages queued) is closed with
  1013; it reconnects with ``since`` and continues.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import zmq
import zmq.asyncio

from medialoom.clients.client import AsyncClient, ClientError
from medialoom.protocol import codec
from medialoom.protocol.errors import BrokerUnavailable, MedialoomError
from medialoom.sockets import BULK_HWM, make_socket

from . import jsonio

QUIET_S = 3.0
SNAPSHOT_WORKERS = 4
BUFFER_MAX = 2048
#: jobs a Subscriber remembers seqs of before it forgets those it does not follow by id
LAST_MAX = 100_000
#: put in a Subscriber's queue when it overflowed: close the websocket
CLOSE = None


def dumps(data: Any) -> str:
    """Compact JSON that is always valid (NaN and infinities from the broker become null)."""
    return jsonio.dumps(data)


@dataclass(frozen=True, slots=True)
class Update:
    """One event from the broker, serialised once for every client."""

    job: str
    seq: int
    status: str
    text: str


class Subscriber:
    """One websocket client: its subscriptions, last seq sent per job and outgoing queue."""

    def __init__(self, hub: EventHub, queue_max: int) -> None:
        self.hub = hub
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(queue_max)
        self.jobs: set[str] = set()
        self.all = False
        self.last: dict[str, int] = {}
        self.pending: dict[str, list[Update]] = {}
        self.all_pending: list[Update] | None = None
        self.acks: set[str] = set()
        self.closed = False

    def __repr__(self) -> str:
        return (f"<Subscriber jobs={len(self.jobs)} all={self.all} queued={self.queue.qsize()} "
                f"pending={len(self.pending)}>")

    def push(self, data: str | dict[str, Any]) -> None:
        """Queue a message; a client that is too far behind is closed (1013)."""
        if self.closed:
            return
        try:
            self.queue.put_nowait(data if isinstance(data, str) else dumps(data))
        except asyncio.QueueFull:
            self.closed = True
            self.hub.counters["overflows"] += 1
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(CLOSE)

    def offer(self, ev: Update) -> None:
        """An event for a job this client follows: send, drop, buffer or resync."""
        if self.closed:
            return
        buffer = self.pending.get(ev.job)
        if buffer is None and self.all_pending is not None and ev.job not in self.jobs:
            buffer = self.all_pending
        if buffer is not None:
            if len(buffer) >= BUFFER_MAX:
                del buffer[0]  # the snapshot will cover it; the next event shows the gap
            buffer.append(ev)
            return
        last = self.last.get(ev.job)
        if last is not None and ev.seq <= last:
            self.hub.counters["stale_dropped"] += 1
            return
        if last is None or ev.seq > last + 1:
            if last is not None:
                self.hub.counters["gaps"] += 1
            self.hub.request_snapshot(ev.job, self, [ev])
            return
        self.last[ev.job] = ev.seq
        self.push(ev.text)

    def on_snapshot(self, job_id: str, job: dict[str, Any] | None,
                    error: MedialoomError | None) -> None:
        """A STATUS reply this client waited for: send it if newer, then the buffered events."""
        buffered = self.pending.pop(job_id, [])
        if self.closed:
            return
        if job is None:
            assert error is not None
            if job_id in self.acks or job_id in self.jobs:
                self.push({"type": "error", "code": error.code, "message": error.message,
                           "subscribe": job_id})
            self.acks.discard(job_id)
            if isinstance(error, ClientError):
                self.hub.unsubscribe(self, job_id)
            return
        last = self.last.get(job_id)
        if last is None or job["seq"] != last:
            self.push({"type": "snapshot", "job": job,
                       "reset": last is not None and job["seq"] < last})
            self.last[job_id] = job["seq"]
            if len(self.last) > LAST_MAX:  # a "*" client over a long life: forget old jobs
                self.last = {j: s for j, s in self.last.items()
                             if j in self.jobs or j in self.pending or j == job_id}
        if job_id in self.acks:
            self.acks.discard(job_id)
            self.push({"type": "subscribed", "subscribe": job_id, "seq": job["seq"]})
        for ev in sorted(buffered, key=lambda e: e.seq):
            self.offer(ev)


class EventHub:
    """The gateway's one SUB socket and the fan-out to every Subscriber."""

    def __init__(self, client: AsyncClient, events: str, ctx: zmq.asyncio.Context) -> None:
        self.client = client
        self.sub = make_socket(ctx, zmq.SUB, connect=events, rcvhwm=BULK_HWM, subscribe=b"job/",
                               curve=client.curve)
        self.subscribers: set[Subscriber] = set()
        self.by_job: dict[str, set[Subscriber]] = {}
        self.all_subs: set[Subscriber] = set()
        self.waiting: dict[str, set[Subscriber]] = {}
        self.snapshots: asyncio.Queue[str] = asyncio.Queue()
        #: running jobs: when the hub last saw an event of each, and its seq
        self.running: dict[str, float] = {}
        self.latest: dict[str, int] = {}
        self.counters = {"events": 0, "bad_events": 0, "snapshots": 0, "gaps": 0,
                         "stale_dropped": 0, "seq_resets": 0, "overflows": 0}

    def __repr__(self) -> str:
        return (f"<EventHub subscribers={len(self.subscribers)} jobs={len(self.by_job)} "
                f"events={self.counters['events']} snapshots={self.counters['snapshots']}>")

    def close(self) -> None:
        """Close the SUB socket."""
        self.sub.close(linger=0)

    async def run(self) -> None:
        """Read events, serve snapshot requests and check quiet jobs until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.read_events())
            tg.create_task(self.check_quiet())
            for _ in range(SNAPSHOT_WORKERS):
                tg.create_task(self.serve_snapshots())

    # --- subscriptions ---------------------------------------------------------------

    def add(self, sub: Subscriber) -> None:
        """A new websocket client."""
        self.subscribers.add(sub)

    def remove(self, sub: Subscriber) -> None:
        """A websocket client went away."""
        sub.closed = True
        self.subscribers.discard(sub)
        self.all_subs.discard(sub)
        for job_id in list(sub.jobs):
            self.unsubscribe(sub, job_id)

    def subscribe(self, sub: Subscriber, job_id: str, since: int) -> None:
        """Follow one job: snapshot (if newer than since), then updates."""
        sub.jobs.add(job_id)
        self.by_job.setdefault(job_id, set()).add(sub)
        if since > 0:
            sub.last[job_id] = since
        else:
            sub.last.pop(job_id, None)
        sub.acks.add(job_id)
        self.request_snapshot(job_id, sub, [])

    def unsubscribe(self, sub: Subscriber, job_id: str) -> None:
        """Stop following one job."""
        sub.jobs.discard(job_id)
        sub.acks.discard(job_id)
        subs = self.by_job.get(job_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.by_job[job_id]

    def request_snapshot(self, job_id: str, sub: Subscriber, buffered: list[Update]) -> None:
        """Buffer the job's events for sub until a STATUS sent from now on answers."""
        sub.pending.setdefault(job_id, []).extend(buffered)
        waiters = self.waiting.get(job_id)
        if waiters is None:
            self.waiting[job_id] = {sub}
            self.snapshots.put_nowait(job_id)
        else:
            waiters.add(sub)

    async def serve_snapshots(self) -> None:
        """One STATUS per job for every client waiting for it."""
        while True:
            job_id = await self.snapshots.get()
            subs = self.waiting.pop(job_id, set())
            if not subs:
                continue
            job: dict[str, Any] | None = None
            error: MedialoomError | None = None
            try:
                job = await self.client.status(job_id)
            except (ClientError, BrokerUnavailable) as exc:
                error = exc
            self.counters["snapshots"] += 1
            if job is not None and job["status"] != "running":
                self.forget(job_id)
            for sub in subs:
                sub.on_snapshot(job_id, job, error)

    # --- events ------------------------------------------------------------------------

    async def read_events(self) -> None:
        """Decode each EVENT once and offer it to the clients that follow its job."""
        while True:
            frames = await self.sub.recv_multipart()
            try:
                body = codec.unpack_body(frames[-1])
                job_id, seq, status = body["job"], body["seq"], body["status"]
                if body.get("cmd") != "EVENT" or not isinstance(job_id, str) or \
                        not isinstance(seq, int) or not isinstance(status, str):
                    raise ValueError("not an EVENT")
            except (MedialoomError, KeyError, ValueError, IndexError):
                self.counters["bad_events"] += 1
                continue
            self.counters["events"] += 1
            latest = self.latest.get(job_id)
            went_back = latest is not None and seq <= latest
            if went_back:  # one SUB never repeats an event: the broker restarted
                self.counters["seq_resets"] += 1
            if status == "running":
                self.running[job_id] = time.monotonic()
                self.latest[job_id] = seq
            else:
                self.forget(job_id)
            self.fan_out(job_id, seq, status, body, resync=went_back)

    def forget(self, job_id: str) -> None:
        """The job is no longer running."""
        self.running.pop(job_id, None)
        self.latest.pop(job_id, None)

    def fan_out(self, job_id: str, seq: int, status: str, body: dict[str, Any],
                resync: bool = False) -> None:
        """Offer one event to its job's subscribers and to every "*" subscriber.

        With resync (the job's seqs went back), every follower gets a fresh STATUS
        first; it is sent as a reset snapshot because its seq is below theirs.
        """
        direct = self.by_job.get(job_id, ())
        if not direct and not self.all_subs:
            return
        ev = Update(job_id, seq, status, dumps({"type": "update", "job": {
            "id": job_id, "seq": seq, "status": status, "kind": body.get("kind", ""),
            "attempts": body.get("attempts", 0), "progress": body.get("progress", {}),
            "error": body.get("error")}, "ts": body.get("ts", 0.0)}))
        followers = [*direct, *(s for s in self.all_subs if job_id not in s.jobs)]
        for sub in followers:
            if resync and not sub.closed:
                self.request_snapshot(job_id, sub, [ev])
            else:
                sub.offer(ev)

    async def check_quiet(self) -> None:
        """Ask STATUS for running jobs with followers that sent no event for QUIET_S."""
        while True:
            await asyncio.sleep(QUIET_S / 2)
            now = time.monotonic()
            for job_id, seen in list(self.running.items()):
                if now - seen < QUIET_S:
                    continue
                followers = self.by_job.get(job_id, set()) | {
                    s for s in self.all_subs if job_id in s.last}
                if not followers:
                    self.forget(job_id)
                    continue
                self.running[job_id] = now
                for sub in followers:
                    if job_id not in sub.pending:
                        self.request_snapshot(job_id, sub, [])

"""WebSocket ``/api/v1/ws``: one ZeroMQ SUB per gateway, fanned out to every client.

The Clone pattern of the ZeroMQ guide (SPEC.md, events), done once for all
browsers.  The hub's SUB socket takes every ``job/`` event; each websocket
client is a ``Subscriber`` that remembers the last seq it was sent per job.

Client -> gateway (JSON text)::

    {"subscribe": "<job id>", "since": <last seq or 0>}
    {"subscribe": "*", "since": {"<job id>": seq, ...}, "limit": 100}
    {"unsubscribe": "<job id>" | "*"}
    {"ping": <anything>}

Gateway -> client::

    {"type": "snapshot", "job": {job map}, "reset": false}   STATUS, only if seq > since
    {"type": "list", "jobs": [job maps], "total": n}          the "*" snapshot (LIST)
    {"type": "update", "job": {id, seq, status, kind, attempts, progress, error}, "ts": t}
    {"type": "subscribed", "subscribe": x, "seq": n}
    {"type": "error", "code": ..., "message": ..., "subscribe": x}
    {"type": "hello" | "pong", ...}

The ordering, dedup and resync rules are in hub.py.  The upgrade itself is
checked by security.write_guard (Host, and a foreign Origin gets 403, never
101).  A client that disconnects during the handshake or mid-stream ends its
handler quietly (a debug line, and the ``ws_aborted`` counter): a flood of
aborted handshakes costs no log lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from medialoom.clients.client import ClientError
from medialoom.protocol.constants import MAX_PAGE
from medialoom.protocol.errors import BrokerUnavailable

from .hub import CLOSE, EventHub, Subscriber
from .jsonio import JsonError, loads
from .keys import CONFIG, COUNTERS, HUB, WEBSOCKETS

log = logging.getLogger("medialoom.gateway")
LIST_DEFAULT = 100


async def subscribe_all(hub: EventHub, sub: Subscriber, since: dict[str, int],
                        limit: int) -> None:
    """The "*" subscription: a LIST snapshot of recent jobs, then every job's updates."""
    sub.all = True
    hub.all_subs.add(sub)
    sub.all_pending = []
    try:
        data = await hub.client.list(limit=limit)
    except (ClientError, BrokerUnavailable) as exc:
        sub.push({"type": "error", "code": exc.code, "message": exc.message, "subscribe": "*"})
        data = {"jobs": [], "total": 0}
    for job_id, seq in since.items():
        sub.last.setdefault(job_id, seq)
    for job in data["jobs"]:
        sub.last[job["id"]] = job["seq"]
    sub.push({"type": "list", "jobs": data["jobs"], "total": data["total"]})
    sub.push({"type": "subscribed", "subscribe": "*", "seq": 0})
    buffered, sub.all_pending = sub.all_pending, None
    for ev in sorted(buffered, key=lambda e: e.seq):
        sub.offer(ev)


def _error(message: str, code: str = "request.bad_field") -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


async def handle_message(hub: EventHub, sub: Subscriber, text: str) -> None:
    """One client message."""
    try:
        msg = loads(text)
    except JsonError as exc:
        sub.push(_error(f"messages must be strict JSON objects: {exc.message}",
                        "request.bad_json"))
        return
    if not isinstance(msg, dict):
        sub.push(_error("messages must be JSON objects"))
        return
    if "ping" in msg:
        sub.push({"type": "pong", "ping": msg["ping"], "ts": time.time()})
    elif isinstance(msg.get("unsubscribe"), str):
        target = msg["unsubscribe"]
        if target == "*":
            sub.all = False
            hub.all_subs.discard(sub)
        else:
            hub.unsubscribe(sub, target)
        sub.push({"type": "unsubscribed", "subscribe": target})
    elif isinstance(msg.get("subscribe"), str) and msg["subscribe"]:
        target, since = msg["subscribe"], msg.get("since", 0)
        if target == "*":
            limit = msg.get("limit", LIST_DEFAULT)
            if not isinstance(since, dict) or not all(
                    isinstance(v, int) and not isinstance(v, bool) for v in since.values()):
                since = {}
            if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
                sub.push(_error(f"limit must be an integer 1..{MAX_PAGE}"))
                return
            await subscribe_all(hub, sub, since, limit)
        elif not isinstance(since, int) or isinstance(since, bool) or since < 0:
            sub.push(_error("since must be an integer >= 0 (the last seq you saw)"))
        else:
            hub.subscribe(sub, target, since)
    else:
        sub.push(_error('send {"subscribe": "<job id>" or "*", "since": <seq>}, '
                        '{"unsubscribe": ...} or {"ping": ...}'))


async def send_queued(sub: Subscriber, ws: web.WebSocketResponse) -> None:
    """Write the client's queued messages in order; close it (1013) if it overflowed."""
    while True:
        text = await sub.queue.get()
        if text is CLOSE:
            await ws.close(code=WSCloseCode.TRY_AGAIN_LATER,
                           message=b"client too slow; reconnect with since")
            return
        try:
            await ws.send_str(text)
        except ConnectionError:
            return


async def websocket(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/ws: live job events (see the module docstring for the messages)."""
    hub = request.app[HUB]
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=1 << 16)
    try:
        await ws.prepare(request)
    except ConnectionError as exc:  # the client closed the connection during the handshake
        request.app[COUNTERS]["ws_aborted"] += 1
        log.debug("websocket handshake from %s aborted: %r", request.remote, exc)
        return web.Response(status=400)  # never delivered; aiohttp drops it quietly
    request.app[WEBSOCKETS].add(ws)
    sub = Subscriber(hub, request.app[CONFIG].ws_queue_max)
    hub.add(sub)
    sub.push({"type": "hello", "protocol": 1, "ts": time.time()})
    try:
        async with asyncio.TaskGroup() as tg:
            sender = tg.create_task(send_queued(sub, ws))
            try:
                async for msg in ws:
                    if msg.type == WSMsgType.TEXT:
                        await handle_message(hub, sub, msg.data)
                    elif msg.type == WSMsgType.BINARY:
                        sub.push(_error("send text frames with JSON"))
            finally:
                sender.cancel()
    except* ConnectionError as group:  # the client went away mid-stream
        request.app[COUNTERS]["ws_aborted"] += 1
        log.debug("websocket %s went away: %r", request.remote, group.exceptions[0])
    except* Exception:  # a bug: log it once, tell the client, keep the gateway serving
        request.app[COUNTERS]["internal"] += 1
        log.exception("internal error in the websocket of %s", request.remote)
        with contextlib.suppress(Exception):
            await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"internal error")
    finally:
        hub.remove(sub)
    return ws


async def close_websockets(app: web.Application) -> None:
    """on_shutdown: close every websocket with 1001 GOING_AWAY."""
    for ws in list(app[WEBSOCKETS]):
        with contextlib.suppress(Exception):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"gateway shutting down")

"""The gateway application factory (STYLE.md section 9).

``create_app(config)`` wires the middlewares — JSON errors (outermost), the
Host check, the bearer token when auth is required, then the write guard
(same-origin or token, JSON only; security.py) — the strict response headers,
the REST, compatibility, webhook (webhooks.py), WebSocket and OpenAPI routes and
the static web UI.
The broker client and the event hub are opened in a cleanup context and
websockets are closed with 1001 GOING_AWAY on shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

import zmq.asyncio
from aiohttp import web

from medialoom.clients.client import AsyncClient

from . import api, compat, webhooks
from .auth import auth_middleware, load_or_create_token
from .config import GatewayConfig
from .errors import error_middleware
from .hub import EventHub
from .keys import CLIENT, CONFIG, COUNTERS, HOSTS, HUB, TOKEN, WEBSOCKETS
from .openapi import openapi_json
from .security import REFUSALS, HostPolicy, host_middleware, security_headers, write_guard
from .ws import close_websockets, websocket

STATIC = Path(__file__).with_name("static")
STATIC_FILES = frozenset(p.name for p in STATIC.iterdir() if p.suffix in (".html", ".js", ".css"))
NO_CACHE = {"Cache-Control": "no-cache"}


async def broker_context(app: web.Application) -> AsyncIterator[None]:
    """Open the broker client and the event hub; close them (and the ZeroMQ context) after."""
    config = app[CONFIG]
    ctx = zmq.asyncio.Context()
    client = AsyncClient(config.endpoint, config.events, timeout_s=config.timeout_s, ctx=ctx,
                         curve=config.curve)
    hub = EventHub(client, config.events, ctx)
    app[CLIENT], app[HUB] = client, hub
    task = asyncio.get_running_loop().create_task(hub.run(), name="gateway-event-hub")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        hub.close()
        await client.close()
        ctx.destroy(linger=0)


async def index(request: web.Request) -> web.FileResponse:
    """GET /: the web UI (public: it holds no data and asks for the token on 401)."""
    return web.FileResponse(STATIC / "index.html", headers=NO_CACHE)


async def static_file(request: web.Request) -> web.FileResponse:
    """GET /static/NAME: one of the UI's files; anything else is a JSON 404."""
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / name, headers=NO_CACHE)


def create_app(config: GatewayConfig) -> web.Application:
    """The gateway as an aiohttp application."""
    token = config.token
    middlewares = [error_middleware, host_middleware]
    if config.auth_required:
        token = token or load_or_create_token(config.data_dir)
        middlewares.append(webhooks.exempt(auth_middleware(token)))  # they check their own
    middlewares.append(write_guard)
    app = web.Application(middlewares=middlewares, client_max_size=1 << 20)
    app[CONFIG] = config
    app[TOKEN] = token
    app[HOSTS] = HostPolicy(config)
    app[COUNTERS] = dict.fromkeys((*REFUSALS, "internal", "client_gone", "ws_aborted"), 0)
    app.on_response_prepare.append(security_headers)
    app[WEBSOCKETS] = weakref.WeakSet()
    app.cleanup_ctx.append(broker_context)
    app.on_shutdown.append(close_websockets)
    api.add_routes(app)
    compat.add_routes(app)
    webhooks.add_routes(app, config.webhooks)
    app.router.add_get("/api/v1/ws", websocket)
    app.router.add_get("/api/v1/openapi.json", openapi_json)
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static_file)
    return app

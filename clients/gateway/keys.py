"""Typed application keys: the gateway's state lives in these, never in module globals."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from aiohttp import web

from medialoom.clients.client import AsyncClient

from .config import GatewayConfig

if TYPE_CHECKING:
    from .hub import EventHub
    from .security import HostPolicy

CONFIG = web.AppKey("config", GatewayConfig)
CLIENT = web.AppKey("client", AsyncClient)
HUB: web.AppKey[EventHub] = web.AppKey("hub")
WEBSOCKETS = web.AppKey("websockets", weakref.WeakSet[web.WebSocketResponse])
#: kind name -> schema from the local kind registry (for the start form)
#: requests refused or failed, by reason (shown in /api/v1/health under gateway.refused)
COUNTERS = web.AppKey("counters", dict[str, int])
#: the Host headers this gateway answers
HOSTS: web.AppKey[HostPolicy] = web.AppKey("hosts")
#: the bearer token (None when auth is off and no token was configured)
TOKEN = web.AppKey("token", str | None)


def client_of(request: web.Request) -> AsyncClient:
    """The gateway's one broker client."""
    return request.app[CLIENT]

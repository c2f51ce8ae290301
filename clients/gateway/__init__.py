"""HTTP/WebSocket gateway and web UI: one more thin client of the broker (issue 4).

``create_app(config)`` builds the aiohttp application; ``python -m
medialoom.clients.gateway`` (or ``medialoom gateway``) runs it.  The gateway
translates HTTP and WebSocket requests into protocol messages (SPEC.md,
client and event channels) and owns no job state.
"""

from __future__ import annotations

from .app import create_app
from .config import GatewayConfig

__all__ = ["GatewayConfig", "create_app"]

"""Bearer-token authentication of the gateway (issue 4, "Auth").

A token is generated on first start with ``secrets.token_urlsafe`` and kept in
``DATA_DIR/gateway-token`` (mode 0600).  When auth is required, every API
route wants ``Authorization: Bearer <token>`` or ``?token=<token>`` (browsers
cannot set headers on a WebSocket); the static web UI shell carries no data
and is served without it, and asks for the token when the API answers 401.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import stat
from collections.abc import Awaitable, Callable

from aiohttp import web

from .errors import error_response

log = logging.getLogger("medialoom.gateway")
TOKEN_FILE = "gateway-token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def load_or_create_token(data_dir: str) -> str:
    """The token in DATA_DIR/gateway-token, created (0600) if it is missing or empty."""
    os.makedirs(data_dir, exist_ok=True)
    path = os.path.join(data_dir, TOKEN_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            token = fh.read().strip()
        if token:
            if stat.S_IMODE(os.stat(path).st_mode) & 0o077:
                log.warning("%s was readable by others; setting mode 0600", path)
                os.chmod(path, 0o600)
            return token
        os.unlink(path)
    except FileNotFoundError:
        pass
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(token + "\n")
    return token


def request_token(request: web.Request) -> str:
    """The token a request carries (header first, then the query string), or ""."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("token", "")


def is_public(path: str) -> bool:
    """Routes served without a token: the UI shell and its static files."""
    return path in ("/", "/favicon.ico") or path.startswith("/static/")


def auth_middleware(token: str) -> Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]:
    """Middleware answering 401 (code auth.unauthorized) without the right bearer token."""
    expected = token.encode()

    @web.middleware
    async def check_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_public(request.path) or hmac.compare_digest(request_token(request).encode(),
                                                          expected):
            return await handler(request)
        response = error_response(401, "auth.unauthorized",
                                  "a bearer token is required: send 'Authorization: Bearer "
                                  "<token>' or ?token=<token> (the gateway printed it at start "
                                  "and keeps it in DATA_DIR/gateway-token)")
        response.headers["WWW-Authenticate"] = 'Bearer realm="medialoom"'
        return response

    return check_token

"""Bearer-token authentication of the gateway (issue 4, "Auth"; issue 7).

The token comes from the environment (``MEDIALOOM_GATEWAY_TOKEN``) or from
``DATA_DIR/gateway-token`` (mode 0600), generated there on first start with
``secrets.token_urlsafe`` — never from the command line, where ``ps`` shows
it, and it is never printed.  When auth is required, every API route wants
``Authorization: Bearer <token>``; ``?token=<token>`` is accepted only for
reads (GET, HEAD) and the WebSocket, which browsers cannot give headers — a
URL can be planted in a page, so it never authorises a write.  The static web
UI shell carries no data and is served without it, and asks for the token
when the API answers 401.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import stat
from collections.abc import Awaitable, Callable

from aiohttp import web

from medialoom.private import private_dir

from .errors import error_response
from .keys import COUNTERS

log = logging.getLogger("medialoom.gateway")
TOKEN_FILE = "gateway-token"
TOKEN_ENV = "MEDIALOOM_GATEWAY_TOKEN"
READ_METHODS = frozenset({"GET", "HEAD"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def token_from_env(environ: dict[str, str] | None = None) -> str:
    """MEDIALOOM_GATEWAY_TOKEN, stripped ("" if unset or empty)."""
    return (os.environ if environ is None else environ).get(TOKEN_ENV, "").strip()


def _read_token(path: str) -> str:
    """The token in path ("" if empty); FileNotFoundError if there is none; no symlinks."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, encoding="utf-8") as fh:
        if stat.S_IMODE(os.fstat(fh.fileno()).st_mode) & 0o077:
            log.warning("%s was readable by others; setting mode 0600", path)
            os.fchmod(fh.fileno(), 0o600)
        return fh.read().strip()


def load_or_create_token(data_dir: str) -> str:
    """The token in DATA_DIR/gateway-token, created (0600) if it is missing or empty."""
    private_dir(data_dir)
    path = os.path.join(data_dir, TOKEN_FILE)
    for _ in range(3):
        try:
            token = _read_token(path)
            if token:
                return token
            os.unlink(path)
        except FileNotFoundError:
            pass
        token = secrets.token_urlsafe(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:  # another gateway created it just now: read that one
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)  # whatever the umask
            fh.write(token + "\n")
        return token
    raise OSError(f"cannot read or create {path}")


def header_token(request: web.Request) -> str:
    """The token of an ``Authorization: Bearer`` header, or ""."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def request_token(request: web.Request) -> str:
    """The token a request carries: the header; for reads also ?token=; or ""."""
    header = header_token(request)
    if header or request.method not in READ_METHODS:
        return header
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
        request.app[COUNTERS]["unauthorized"] += 1
        if request.method not in READ_METHODS and "token" in request.query and \
                not header_token(request):
            message = ("a write needs the token in the 'Authorization: Bearer <token>' header; "
                       "?token= is accepted only for reads and the WebSocket")
        else:
            message = ("a bearer token is required: send 'Authorization: Bearer <token>' "
                       "(or ?token=<token> on a GET or the WebSocket); it is kept in "
                       f"DATA_DIR/{TOKEN_FILE} or set by {TOKEN_ENV}")
        response = error_response(401, "auth.unauthorized", message)
        response.headers["WWW-Authenticate"] = 'Bearer realm="medialoom"'
        return response

    return check_token

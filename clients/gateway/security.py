"""The gateway against the web: Host and Origin checks, JSON-only writes, strict headers.

Three middlewares and one response hook (app.py installs them):

- ``host_middleware`` (every request): the ``Host`` header must name this
  gateway — its listen address at the port the connection arrived on; for a
  loopback listen also ``localhost``, ``127.0.0.1`` and ``[::1]``; for a
  wildcard listen (``0.0.0.0``, ``::``) any IP address and this machine's
  host name; plus ``allowed_hosts`` (``--allow-host``; ``name`` at any port,
  ``name:port`` exactly).  Anything else is 403 ``request.bad_host``: a page
  on ``evil.example`` whose name was re-pointed at 127.0.0.1 (DNS rebinding)
  reaches the socket but is refused.
- ``write_guard`` (POST, PUT, PATCH, DELETE on a route that exists, and
  WebSocket upgrades): a browser's ``Origin`` must be this gateway's own
  (``scheme://`` + the Host header); no ``Origin`` at all is a non-browser
  client and passes, unless ``Sec-Fetch-Site`` says the request is
  cross-site; a valid ``Authorization: Bearer`` token passes too (a page on
  another origin cannot send that header without a CORS preflight, which the
  gateway never grants).  ``Origin: null`` (file:// pages, sandboxed frames)
  is foreign.  Refused: 403 ``request.cross_origin``.  Then a write must say
  ``Content-Type: application/json`` (charset utf-8 if any), even with no
  body: else 415 ``request.unsupported_media_type``.  Together these refuse
  every "simple" cross-site request — text/plain fetches, HTML forms — before
  a handler runs.
- ``security_headers`` (on_response_prepare, every response):
  ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, a
  ``Content-Security-Policy`` without inline script or style and with
  ``frame-ancestors 'none'``, ``Referrer-Policy: no-referrer``,
  ``Cross-Origin-Opener-Policy`` and ``Cross-Origin-Resource-Policy``
  ``same-origin``.

Each refusal is counted (``/api/v1/health`` → ``gateway.refused``) and logged
at the 1st, 2nd, 4th, 8th, ... of its kind, so a flood cannot fill the log.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import socket
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from .config import GatewayConfig, is_loopback, split_host
from .errors import error_response
from .keys import COUNTERS, HOSTS, TOKEN

log = logging.getLogger("medialoom.gateway")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
JSON_TYPE = "application/json"
#: counters shown in /api/v1/health (gateway.refused), all present from the start
REFUSALS = ("bad_host", "cross_origin", "media_type", "unauthorized", "bad_json")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "font-src 'self'; connect-src {connect}; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _show(name: str, port: int | None) -> str:
    host = f"[{name}]" if ":" in name else name
    return host if port is None else f"{host}:{port}"


class HostPolicy:
    """Which Host headers this gateway answers (see the module docstring)."""

    def __init__(self, config: GatewayConfig) -> None:
        listen = config.host.strip("[]").lower()
        self.any_ip = listen in ("", "0.0.0.0", "::")
        self.port = config.port
        names = {listen} if not self.any_ip else set()
        if self.any_ip or is_loopback(listen):
            names |= {"localhost", "127.0.0.1", "::1"}
        if not is_loopback(listen):
            names.add(socket.gethostname().lower().rstrip("."))
        self.names = frozenset(names)
        self.extra = tuple(split_host(entry) for entry in config.allowed_hosts)

    def allows(self, header: str, port: int, scheme: str = "http") -> bool:
        """True if a request with this Host header, arriving on port, is for us."""
        try:
            name, hport = split_host(header)
        except ValueError:
            return False
        if hport is None:
            hport = 443 if scheme == "https" else 80
        if any(name == n and p in (None, hport) for n, p in self.extra):
            return True
        return hport == port and (name in self.names or (self.any_ip and _is_ip(name)))

    def describe(self, port: int) -> list[str]:
        """The served hosts, for the banner."""
        names = sorted(self.names, key=lambda n: (n != "127.0.0.1", n))
        out = [_show(n, port) for n in names]
        if self.any_ip:
            out.insert(0, f"any IP address:{port}")
        return out + [_show(n, p) if p else f"{_show(n, None)} (any port)"
                      for n, p in self.extra]


def local_port(request: web.Request) -> int:
    """The port the request's connection arrived on."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return int(sockname[1])
    return request.app[HOSTS].port


def refuse(request: web.Request, status: int, reason: str, code: str,
           message: str) -> web.Response:
    """Count a refusal, log it at the 1st, 2nd, 4th, ... of its kind; the JSON error."""
    counters = request.app[COUNTERS]
    counters[reason] += 1
    n = counters[reason]
    level = logging.INFO if n & (n - 1) == 0 else logging.DEBUG
    log.log(level, "refused %s %s (%s, #%d): Host %r, Origin %r, Content-Type %r",
            request.method, request.path, code, n, request.headers.get(hdrs.HOST),
            request.headers.get(hdrs.ORIGIN), request.headers.get(hdrs.CONTENT_TYPE))
    return error_response(status, code, message)


@web.middleware
async def host_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """403 request.bad_host unless the Host header names this gateway."""
    host = request.headers.get(hdrs.HOST)
    if host is None or not request.app[HOSTS].allows(host, local_port(request),
                                                     request.scheme):
        return refuse(request, 403, "bad_host", "request.bad_host",
                      f"this gateway does not serve the host {host!r}; open it by its "
                      "listen address or add the name with --allow-host (gateway_hosts)")
    return await handler(request)


def _authority(authority: str, scheme: str) -> str:
    value = authority.strip().lower()
    default = {"http": ":80", "https": ":443"}.get(scheme)
    if default and value.endswith(default):
        value = value[: -len(default)]
    return value


def same_origin(origin: str, host: str, scheme: str) -> bool:
    """True if origin is ``http(s)://`` + the Host the request was sent to."""
    o_scheme, sep, authority = origin.strip().partition("://")
    o_scheme = o_scheme.lower()
    if not sep or o_scheme not in ("http", "https") or not authority or \
            any(c in authority for c in "/?#@ "):
        return False
    return _authority(authority, o_scheme) == _authority(host, scheme)


def bearer_ok(request: web.Request) -> bool:
    """True if the request carries the gateway's token in an Authorization header."""
    token = request.app[TOKEN]
    scheme, _, value = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and \
        hmac.compare_digest(value.strip().encode(), token.encode())


def cross_site(request: web.Request) -> bool:
    """True if a browser sent this request from a page of another origin."""
    origin = request.headers.get(hdrs.ORIGIN)
    if origin is None:  # not a browser, or a same-origin GET; a browser may say otherwise
        return request.headers.get("Sec-Fetch-Site", "").lower() in ("cross-site", "same-site")
    return not same_origin(origin, request.headers.get(hdrs.HOST, ""), request.scheme)


def is_websocket(request: web.Request) -> bool:
    """True for a WebSocket upgrade request."""
    return request.headers.get(hdrs.UPGRADE, "").lower() == "websocket" or \
        request.path == "/api/v1/ws"


def _charset_ok(request: web.Request) -> bool:
    charset = request.charset
    return charset is None or charset.lower() in ("utf-8", "utf8")


@web.middleware
async def write_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Same-origin (or token) writes and WebSocket upgrades; JSON-only writes."""
    write = request.method not in SAFE_METHODS
    if request.match_info.http_exception is not None or not (write or is_websocket(request)):
        return await handler(request)  # reads, and 404/405 (answered by the router)
    if cross_site(request) and not bearer_ok(request):
        what = "a WebSocket" if not write else f"a {request.method}"
        return refuse(request, 403, "cross_origin", "request.cross_origin",
                      f"{what} from another origin ({request.headers.get(hdrs.ORIGIN)!r}) is "
                      "refused: use the web UI of this gateway, a client that sends no Origin, "
                      "or 'Authorization: Bearer <token>'")
    if write and (request.headers.get(hdrs.CONTENT_TYPE) is None or
                  request.content_type != JSON_TYPE or not _charset_ok(request)):
        return refuse(request, 415, "media_type", "request.unsupported_media_type",
                      f"a {request.method} must be sent with 'Content-Type: {JSON_TYPE}' "
                      f"(got {request.headers.get(hdrs.CONTENT_TYPE)!r}), even with no body")
    return await handler(request)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the strict headers on every response."""
    for name, value in STATIC_HEADERS.items():
        response.headers.setdefault(name, value)
    connect = "'self'"
    host = request.headers.get(hdrs.HOST, "")
    if request.app[HOSTS].allows(host, local_port(request), request.scheme):
        connect += f" ws://{host} wss://{host}"  # 'self' covers ws: only in newer browsers
    response.headers.setdefault("Content-Security-Policy", CSP.format(connect=connect))

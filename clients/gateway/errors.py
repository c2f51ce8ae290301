"""Errors of the gateway and their HTTP form: ``{"error": {code, message, details}}``.

Broker refusals keep their wire code and get its status from
``medialoom.protocol.errors.http_status``; a broker that does not answer is
502; the gateway's own validation raises ``BadRequest`` naming the field.
Every error is JSON with a code, on every route: aiohttp's own HTTP errors
become ``http.<reason>``, and any other exception of a handler is logged once
with its traceback and answered ``internal`` (500), never aiohttp's plain-text
500.  A client that went away mid-request is not an error: one debug line.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from medialoom.clients.client import ClientError
from medialoom.protocol.errors import BrokerUnavailable, http_status

from .jsonio import json_response
from .keys import COUNTERS

log = logging.getLogger("medialoom.gateway")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An HTTP error with a wire-style code, raised by a handler."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


class BadRequest(ApiError):
    """A request field is missing or wrong; the message names the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(400, "request.bad_field", message, {"field": field})


def error_response(status: int, code: str, message: str, details: Any = None) -> web.Response:
    """The JSON error body every route uses (``detail`` too, as FastAPI-style tools expect)."""
    return json_response({"error": {"code": code, "message": message, "details": details},
                          "detail": message}, status=status)


def client_gone(request: web.Request) -> bool:
    """True if the request's connection is closed or closing (the client went away)."""
    transport = request.transport
    return transport is None or transport.is_closing()


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every exception of a handler into a JSON error (see the module docstring)."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details)
    except ClientError as exc:
        return error_response(http_status(exc.code), exc.code, exc.message, exc.details)
    except BrokerUnavailable as exc:
        return error_response(502, exc.code, f"the broker cannot be reached: {exc.message}")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = f"http.{exc.reason.lower().replace(' ', '_').replace('-', '_')}"
        response = error_response(exc.status, code, f"{exc.reason}: {request.method} "
                                  f"{request.path}")
        for name in ("Allow", "WWW-Authenticate"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except ConnectionError as exc:
        if not client_gone(request):
            return internal_error(request)
        # the client disconnected: nothing to answer and nothing to log but a debug line
        log.debug("client %s went away during %s %s: %r", request.remote, request.method,
                  request.path, exc)
        request.app[COUNTERS]["client_gone"] += 1
        return web.Response(status=400)
    except Exception:
        return internal_error(request)


def internal_error(request: web.Request) -> web.Response:
    """Log the current exception once with its traceback; 500 ``internal``."""
    log.exception("internal error in %s %s", request.method, request.path)
    request.app[COUNTERS]["internal"] += 1
    return error_response(500, "internal", "internal error in the gateway (a bug); the "
                          "gateway's log has the traceback")

"""Errors of the gateway and their HTTP form: ``{"error": {code, message, details}}``.

Broker refusals keep their wire code and get its status from
``medialoom.protocol.errors.http_status``; a broker that does not answer is
502; the gateway's own validation raises ``BadRequest`` naming the field.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from medialoom.clients.client import ClientError
from medialoom.protocol.errors import BrokerUnavailable, http_status

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
    return web.json_response({"error": {"code": code, "message": message, "details": details},
                              "detail": message}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn ApiError, ClientError, BrokerUnavailable and HTTP errors into JSON errors."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details)
    except ClientError as exc:
        return error_response(http_status(exc.code), exc.code, exc.message, exc.details)
    except BrokerUnavailable as exc:
        return error_response(502, exc.code, f"the broker cannot be reached: {exc.message}")
    except web.HTTPException as exc:
        if exc.status < 400 or not request.path.startswith(("/api/", "/batch", "/jobs")):
            raise
        code = f"http.{exc.reason.lower().replace(' ', '_')}"
        response = error_response(exc.status, code, f"{exc.reason}: {request.method} "
                                  f"{request.path}")
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response

"""Reading request input: JSON bodies and query parameters, with 400s that name the field."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from medialoom.protocol.constants import DEFAULT_LIST_LIMIT, MAX_PAGE

from .errors import ApiError, BadRequest
from .jsonio import JsonError, loads
from .keys import COUNTERS


async def json_body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    """The request body as a JSON object (``{}`` if optional and empty), parsed strictly.

    Not JSON, NaN/Infinity, a number that overflows, duplicate keys or nesting
    deeper than jsonio.MAX_DEPTH: 400 ``request.bad_json``; an integer beyond
    signed 64 bits: 400 ``request.bad_field`` naming it.
    """
    raw = await request.read()
    if not raw.strip():
        if optional:
            return {}
        raise BadRequest("body", "the request body must be a JSON object")
    try:
        body = loads(raw)
    except JsonError as exc:
        request.app[COUNTERS]["bad_json"] += 1
        if exc.code == "request.bad_field":
            raise BadRequest(exc.field, exc.message) from None
        details = {"field": "body", **({"at": exc.field} if exc.field else {})}
        raise ApiError(400, exc.code, f"the request body is refused: {exc.message}",
                       details) from None
    if not isinstance(body, dict):
        raise BadRequest("body", "the request body must be a JSON object")
    return body


def reject_unknown(body: dict[str, Any], known: tuple[str, ...], where: str = "") -> None:
    """400 naming the first field of body that is not in known."""
    for name in body:
        if name not in known:
            raise BadRequest(f"{where}{name}", f"unknown field {where}{name!r} "
                             f"(known: {', '.join(known)})")


def field(body: dict[str, Any], name: str, types: type | tuple[type, ...], default: Any,
          where: str = "") -> Any:
    """body[name] checked against types (bool is not an int here); default if absent/null."""
    value = body.get(name)
    if value is None:
        return default
    types = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool) and bool not in types:
        value = object()  # a JSON true is not a number
    if not isinstance(value, types):
        names = " or ".join(_JSON_NAMES.get(t, t.__name__) for t in types)
        raise BadRequest(f"{where}{name}", f"field {where}{name!r} must be {names}")
    return value


def string_list(body: dict[str, Any], name: str, where: str = "") -> list[str]:
    """A list of strings (a single string is a list of one)."""
    value = body.get(name)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{where}{name}", f"field {where}{name!r} must be a list of strings")
    return value


_JSON_NAMES = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
               list: "a list", dict: "an object"}


def query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter within lo..hi."""
    text = request.query.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(name, f"query parameter {name!r} must be an integer") from None
    if not lo <= value <= hi:
        raise BadRequest(name, f"query parameter {name!r} must be {lo}..{hi}")
    return value


def query_list(request: web.Request, name: str,
               allowed: tuple[str, ...] | None = None) -> list[str]:
    """A repeated or comma-separated query parameter, optionally checked against allowed."""
    values = [v.strip() for raw in request.query.getall(name, []) for v in raw.split(",")]
    values = [v for v in values if v]
    if allowed is not None:
        for v in values:
            if v not in allowed:
                raise BadRequest(name, f"query parameter {name!r}: {v!r} is not one of "
                                 f"{', '.join(allowed)}")
    return values


def page(request: web.Request, default_limit: int = DEFAULT_LIST_LIMIT) -> tuple[int, int]:
    """``(limit, offset)`` from the query string."""
    return (query_int(request, "limit", default_limit, 1, MAX_PAGE),
            query_int(request, "offset", 0, 0, 2**62))

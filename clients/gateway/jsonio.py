"""Strict JSON in, valid JSON out: what the gateway accepts from and sends to the web.

``loads`` refuses what the broker cannot hold or what is not JSON at all:
``NaN``, ``Infinity``, ``-Infinity`` and numbers that overflow to infinity
(``1e400``), integers outside signed 64 bits, nesting deeper than
``MAX_DEPTH``, duplicate keys in one object (the form "duplicate-key trick"),
lone UTF-16 surrogates (``"\\ud800"``) and bytes that are not UTF-8.  It raises
``JsonError`` with a reason and, for a value out of range, the field's path
(``options.seconds``, ``paths[2]``).

``dumps`` never writes bare ``NaN``/``Infinity`` (they become ``null``) and
never produces text that cannot be encoded as UTF-8, so whatever the broker
returns, every response and WebSocket message is valid JSON.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

#: deepest nesting of arrays and objects accepted in a request (a job's body needs 4)
MAX_DEPTH = 32
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


class JsonError(ValueError):
    """A request's JSON is refused.

    ``code`` is ``request.bad_json`` (not strict JSON) or ``request.bad_field`` (an
    integer beyond signed 64 bits); ``field`` is the path of the value to blame, if any.
    """

    def __init__(self, message: str, field: str = "", code: str = "request.bad_json") -> None:
        super().__init__(message)
        self.message, self.field, self.code = message, field, code


def _constant(name: str) -> Any:
    raise JsonError(f"{name} is not a JSON number (use a finite number or null)")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JsonError(f"the number {text[:40]} is too large (it overflows to infinity)")
    return value


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise JsonError(f"the key {key[:60]!r} appears twice in one object")
        out[key] = value
    return out


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if parent else key


def _check_str(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise JsonError(f"strings must be valid Unicode, without lone surrogate escapes "
                        f"(at {where or 'the top level'})", where) from None


def check_value(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """Raise JsonError if value (decoded JSON) is too deep or holds an int beyond int64."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth >= max_depth:
                raise JsonError(f"the JSON is nested deeper than {max_depth} levels")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if isinstance(key, str):
                    _check_str(key, where)
                stack.append((child, _path(where, key), depth + 1))
        elif isinstance(node, bool):
            continue
        elif isinstance(node, int):
            if not INT_MIN <= node <= INT_MAX:
                raise JsonError(f"field {where or 'body'!r} is outside the signed 64-bit "
                                f"integer range ({INT_MIN}..{INT_MAX})", where or "body",
                                "request.bad_field")
        elif isinstance(node, str):
            _check_str(node, where)


def loads(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """Decode one strict JSON document (see the module docstring); JsonError otherwise."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise JsonError("the body is not UTF-8 text") from None
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_float,
                           object_pairs_hook=_pairs)
    except JsonError:
        raise
    except RecursionError:
        raise JsonError(f"the JSON is nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # JSONDecodeError, and int() beyond sys's digit limit
        raise JsonError(f"not valid JSON: {exc}") from None
    check_value(value, max_depth)
    return value


def _finite(value: Any) -> Any:
    """value with every NaN or infinite float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def dumps(data: Any) -> str:
    """Compact JSON that is always valid and always encodable as UTF-8."""
    try:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:  # NaN or infinity somewhere: write null instead
        text = json.dumps(_finite(data), separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (e.g. a file name that is not UTF-8)
        text = json.dumps(_finite(data), separators=(",", ":"), allow_nan=False)
    return text


def json_response(data: Any, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    """``web.json_response`` with ``dumps``."""
    return web.json_response(data, status=status, headers=headers, dumps=dumps)

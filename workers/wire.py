"""Values a kind reports, made safe for the wire (SPEC.md section 3.1).

The broker refuses a result message holding bin, NaN, infinities, integers
beyond 64 bits, non-string map keys or deep nesting, so the worker never sends
one: a tag read as bytes becomes hex, a NaN becomes nil, a tuple a list.
"""

from __future__ import annotations

import math
from typing import Any

MAX_DEPTH = 24
_INT64 = 1 << 63


def wire_safe(value: Any, depth: int = 0) -> Any:
    """value with everything msgpack or the broker's store cannot carry replaced."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if depth >= MAX_DEPTH:
        return str(value)
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): wire_safe(v, depth + 1)
                for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [wire_safe(v, depth + 1) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)

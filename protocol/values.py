"""The value rules of protocol version 1 (SPEC.md section 3.1) and the field checks built on them.

Every field of every decoded message is checked here before it reaches an
application: its top-level type (from the dataclass type hint), the element
types of arrays, and, for every map and ``any`` value, recursively:

- map keys are str;
- no bin and no extension values;
- floats are finite (no NaN, +inf, -inf);
- integers lie in the signed 64-bit range (fields typed ``int`` are ``uint``:
  non-negative as well);
- containers nest at most ``MAX_DEPTH`` levels, the body map counting as 1.

Two passes share these rules.  ``Check.ok`` is the fast one the codec runs on
every message; it relies on the strict msgpack options of ``STRICT_UNPACK``
(which already refuse non-empty bin, every extension and keys other than str
and bin), so for maps it only has to look for the one key those options let
through, ``b""``.  ``Check.problem`` is exact for any decoded value and says
where and what is wrong; the codec runs it on bodies that only the lenient
``LAX_UNPACK`` options could read (bin in an unknown field, a nested int key,
...) and to explain a value ``ok`` refused.  The two must agree on every body
``STRICT_UNPACK`` accepts (tests/protocol/test_values.py checks that).
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable
from typing import Any

#: deepest container nesting, counting the body map as level 1 (SPEC.md section 10)
MAX_DEPTH = 32
INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def _no_extension(code: int, data: bytes) -> Any:
    raise ValueError(f"extension type {code} is not allowed")


#: msgpack options of the fast path: str keys (or bin, of which only b"" gets through
#: max_bin_len=0), no non-empty bin, no extension value of any length or type code
STRICT_UNPACK: dict[str, Any] = {"raw": False, "strict_map_key": True, "max_bin_len": 0,
                                 "max_ext_len": 0, "ext_hook": _no_extension}
#: msgpack options for bodies the strict options refuse: read them, then say what is wrong
LAX_UNPACK: dict[str, Any] = {"raw": False, "strict_map_key": False}

# a path is built from the innermost part outwards: (reason, [part, ..., field])
Problem = tuple[str, list[str]]


def fine(container: dict[str, Any] | list[Any], depth: int) -> bool:
    """True if every value in container (at nesting level depth) follows the rules.

    Only for values decoded with ``STRICT_UNPACK``: it does not look at the
    type of every key, nor for integers below -2^63 (msgpack has none).
    """
    if depth > MAX_DEPTH:
        return False
    if type(container) is dict:
        if b"" in container:
            return False
        container = container.values()  # type: ignore[assignment]
    for x in container:
        t = type(x)
        if t is str:
            continue
        if t is int:
            if x > INT64_MAX:
                return False
        elif t is float:
            if x - x:  # NaN - NaN and inf - inf are NaN (true); a finite x gives 0.0
                return False
        elif t is dict or t is list:
            if not fine(x, depth + 1):
                return False
        elif t is not bool and x is not None:
            return False
    return True


def _name(x: Any) -> str:
    t = type(x)
    return {dict: "map", list: "array", str: "str", bytes: "bin", int: "int", float: "float",
            bool: "bool", type(None): "nil"}.get(t, t.__name__)


def _key(k: Any) -> str:
    text = k if type(k) is str else repr(k)
    return text if len(text) <= 40 else text[:37] + "..."


def value_problem(x: Any, depth: int) -> Problem | None:
    """What breaks the rules in x, a value at nesting level depth (if it is a container)."""
    t = type(x)
    if t is str or t is bool or x is None:
        return None
    if t is int:
        return None if INT64_MIN <= x <= INT64_MAX else (
            "an integer outside the signed 64-bit range", [])
    if t is float:
        return None if math.isfinite(x) else (f"{x!r} is not allowed (floats must be finite)", [])
    if t is dict or t is list:
        if depth > MAX_DEPTH:
            return f"containers nested deeper than {MAX_DEPTH} levels", []
        if t is dict:
            for k, v in x.items():
                if type(k) is not str:
                    return f"a map key of type {_name(k)} (keys must be str)", []
                found = value_problem(v, depth + 1)
                if found is not None:
                    found[1].append("." + _key(k))
                    return found
        else:
            for i, v in enumerate(x):
                found = value_problem(v, depth + 1)
                if found is not None:
                    found[1].append(f"[{i}]")
                    return found
        return None
    if t is bytes:
        return "a bin value (job data must not hold bin)", []
    return f"a value of type {_name(x)} (extension types are not allowed)", []


def _any_ok(x: Any) -> bool:
    """A field typed any, at level 2."""
    t = type(x)
    if t is str or t is bool or x is None:
        return True
    if t is int:
        return x <= INT64_MAX
    if t is float:
        return not x - x
    if t is dict or t is list:
        return fine(x, 2)
    return False


class Check:
    """What a field (or an array element) of one type hint may hold.

    ``ok(value)`` is the fast test (for values decoded with STRICT_UNPACK only);
    ``problem(value)`` is exact for any value: None, or (reason, path parts).
    ``shape`` tells element loops what they may inline.
    """

    __slots__ = ("label", "ok", "problem", "shape")

    def __init__(self, label: str, shape: str, ok: Callable[[Any], bool],
                 problem: Callable[[Any], Problem | None]) -> None:
        self.label, self.shape, self.ok, self.problem = label, shape, ok, problem

    def explain(self, value: Any, field: str) -> tuple[str, str]:
        """(path, reason) of a value that ok() refused, for the error message."""
        found = self.problem(value)
        if found is None:  # ok() and problem() disagree: refuse all the same, and say so
            return field, f"must be {self.label}"
        reason, parts = found
        return field + "".join(reversed(parts)), reason

    def __repr__(self) -> str:
        return f"Check({self.label})"


def _type_is(expected: type, label: str) -> Check:
    def ok(x: Any) -> bool:
        return type(x) is expected

    def problem(x: Any) -> Problem | None:
        return None if type(x) is expected else (f"must be {label}, not {_name(x)}", [])

    return Check(label, label, ok, problem)


def _uint() -> Check:
    def ok(x: Any) -> bool:
        return type(x) is int and 0 <= x <= INT64_MAX

    def problem(x: Any) -> Problem | None:
        if type(x) is not int:
            return f"must be uint, not {_name(x)}", []
        return None if 0 <= x <= INT64_MAX else ("must be 0..2^63-1", [])

    return Check("uint", "uint", ok, problem)


def _float() -> Check:
    def ok(x: Any) -> bool:
        t = type(x)
        return (t is float and not x - x) or (t is int and x <= INT64_MAX)

    def problem(x: Any) -> Problem | None:
        if type(x) is not float and type(x) is not int:
            return f"must be float, not {_name(x)}", []
        return value_problem(x, 0)

    return Check("float", "float", ok, problem)


def _any(depth: int) -> Check:
    if depth == 2:
        ok = _any_ok
    else:
        def ok(x: Any) -> bool:
            t = type(x)
            if t is dict or t is list:
                return fine(x, depth)
            return _any_ok(x)

    return Check("any", "any", ok, lambda x: value_problem(x, depth))


def _any_container(kind: type, depth: int) -> Check:
    """A map (str keys) or an array of any values."""
    label = "map" if kind is dict else "array"

    def ok(x: Any) -> bool:
        return type(x) is kind and fine(x, depth)

    def problem(x: Any) -> Problem | None:
        if type(x) is not kind:
            return f"must be {label}, not {_name(x)}", []
        return value_problem(x, depth)

    return Check(label, "any" + label, ok, problem)


def _container(kind: type, elem: Check, depth: int) -> Check:
    """A map (kind dict, str keys) or an array (kind list) whose elements satisfy elem."""
    label = f"map of {elem.label}" if kind is dict else f"[{elem.label}]"

    def problem(x: Any) -> Problem | None:
        if type(x) is not kind:
            return f"must be {label}, not {_name(x)}", []
        if depth > MAX_DEPTH:
            return f"containers nested deeper than {MAX_DEPTH} levels", []
        for k, e in x.items() if kind is dict else enumerate(x):
            if kind is dict and type(k) is not str:
                return f"a map key of type {_name(k)} (keys must be str)", []
            found = elem.problem(e)
            if found is not None:
                found[1].append("." + _key(k) if kind is dict else f"[{k}]")
                return found
        return None

    return Check(label, "container", _container_ok(kind, elem, depth), problem)


def _container_ok(kind: type, elem: Check, depth: int) -> Callable[[Any], bool]:
    """The fast test of _container; [str], [map] and [array] elements are tested inline."""
    if elem.shape in ("str", "anymap", "anyarray"):
        inner = {"str": str, "anymap": dict, "anyarray": list}[elem.shape]
        deep = elem.shape != "str"

        def inline(x: Any) -> bool:
            if type(x) is not kind or depth > MAX_DEPTH:
                return False
            if kind is dict:
                if b"" in x:
                    return False
                x = x.values()
            for e in x:
                if type(e) is not inner or deep and not fine(e, depth + 1):
                    return False
            return True

        return inline
    elem_ok = elem.ok

    def each(x: Any) -> bool:
        if type(x) is not kind or depth > MAX_DEPTH:
            return False
        if kind is dict:
            if b"" in x:
                return False
            x = x.values()
        for e in x:
            if not elem_ok(e):
                return False
        return True

    return each


def _union(options: list[Check]) -> Check:
    label = " | ".join(c.label for c in options)
    oks = [c.ok for c in options]

    def ok(x: Any) -> bool:
        for f in oks:
            if f(x):
                return True
        return False

    def problem(x: Any) -> Problem | None:
        found = [c.problem(x) for c in options]
        if any(f is None for f in found):
            return None
        # a value of the right type but a bad content says what is bad in it
        inside = [f for f in found if f is not None and not f[0].startswith("must be ")]
        return inside[0] if inside else (f"must be {label}, not {_name(x)}", [])

    return Check(label, "union", ok, problem)


def check_for(hint: Any, depth: int = 2) -> Check:
    """The Check of a type hint for a value at nesting level depth (a body field: 2).

    Knows str, bool, int (uint), float, None, Any, list[X], dict[str, X] and
    unions such as ``X | None``; anything else is a TypeError at import time,
    so a new field cannot go unchecked.
    """
    if hint is Any:
        return _any(depth)
    if hint is str:
        return _type_is(str, "str")
    if hint is bool:
        return _type_is(bool, "bool")
    if hint is int:
        return _uint()
    if hint is float:
        return _float()
    if hint is None or hint is type(None):
        return _type_is(type(None), "nil")
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return _union([check_for(a, depth) for a in args])
    if origin is list and len(args) == 1:
        kind = list
    elif origin is dict and len(args) == 2 and args[0] is str:
        kind = dict
    else:
        raise TypeError(f"no wire check for the type hint {hint!r}")
    elem = args[-1]
    if elem is Any:
        return _any_container(kind, depth)
    return _container(kind, check_for(elem, depth + 1), depth)

"""Per-command decode and body functions, generated once at import (codec.py runs them).

``codec.check_fields`` is the reference: one generic loop over messages.FIELDS that
runs every field's ``Check`` and calls the dataclass.  It costs about as much as
unpacking the body, mostly in per-field calls and in the frozen dataclass's
``__init__``.  For each command this module writes (and ``exec``s, as dataclasses
does for ``__init__``) a function that does the same work for one class, inline:

- each known field is looked up once; an absent optional field takes its default
  (a fresh list or map for a default factory) and is not checked;
- the common field types are tested inline with exactly ``Check.ok``'s rules at
  level 2 (str, bool, uint, float, map, [str], [map], [array]); any other type
  calls its ``Check.ok``; a float field sent as an int becomes that float;
- the message is built by setting its slots, as the frozen ``__init__`` does, unless
  the class has a ``__post_init__`` (then the class is called).

Nothing is refused here: at the first absent required field or failed test the
generated function returns ``reference(cls, body, True)``, which raises the error
the reference gives (code, message and details) -- or, if a test here were ever
stricter than ``Check.ok``, returns the message all the same.  So this path may
only accept what the reference accepts, with the same values; tests/protocol/
test_codec_fast.py compares the two over the vectors and mutated bodies.

Only for bodies read with values.STRICT_UNPACK: the lenient path stays generic.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any

from .values import INT64_MAX, MAX_DEPTH, Check, fine

Decoder = Callable[[dict[str, Any]], Any]
Reference = Callable[[type, dict[str, Any], bool], Any]
Fields = tuple[tuple[str, Check, bool], ...]

_MAP = dict[str, Any]
# hint -> lines testing the value {x} of a field at level 2 ({t}, {e}: scratch names);
# {fail} is the fallback.
# Each mirrors values.check_for(hint, 2).ok on a STRICT_UNPACK value (2 <= MAX_DEPTH always).
_INLINE: list[tuple[Any, list[str]]] = [
    (str, ["if type({x}) is not str: {fail}"]),
    (bool, ["if type({x}) is not bool: {fail}"]),
    (int, [f"if type({{x}}) is not int or {{x}} < 0 or {{x}} > {INT64_MAX}: {{fail}}"]),
    (float, ["{t} = type({x})",
             "if {t} is int:",
             f"    if {{x}} > {INT64_MAX}: {{fail}}",
             "    {x} = float({x})",  # SPEC.md 3.1: an int in a float field decodes as a float
             "elif {t} is not float or {x} - {x}: {fail}"]),  # x - x: NaN for NaN and +-inf
    (_MAP, ["if type({x}) is not dict or {x} and not fine({x}, 2): {fail}"]),
    (list[str], ["if type({x}) is not list: {fail}",
                 "for {e} in {x}:",
                 "    if type({e}) is not str: {fail}"]),
    (list[_MAP], ["if type({x}) is not list: {fail}",
                  "for {e} in {x}:",
                  "    if type({e}) is not dict or not fine({e}, 3): {fail}"]),
    (list[list[Any]], ["if type({x}) is not list: {fail}",
                       "for {e} in {x}:",
                       "    if type({e}) is not list or not fine({e}, 3): {fail}"]),
]
if MAX_DEPTH < 3:  # the inline tests above leave out the depth test of levels 2 and 3
    raise ImportError(f"fastpath.py assumes MAX_DEPTH >= 3, not {MAX_DEPTH}")


def _inline(hint: Any) -> list[str] | None:
    for known, lines in _INLINE:
        if hint == known:
            return lines
    return None


def _slots_settable(cls: type, names: list[str]) -> bool:
    """True if setting cls's slot descriptors is what its __init__ does, nothing more:
    a slots dataclass whose fields are all init fields (names), with no __post_init__."""
    if hasattr(cls, "__post_init__") or not dataclasses.is_dataclass(cls):
        return False
    fields = dataclasses.fields(cls)
    if [f.name for f in fields] != names or not all(f.init for f in fields):
        return False
    return all(type(cls.__dict__.get(name)).__name__ == "member_descriptor" for name in names)


def decoder(cls: type, fields: Fields, floats: tuple[str, ...], reference: Reference) -> Decoder:
    """The generated decode function of cls: body map (STRICT_UNPACK) -> message."""
    hints = typing.get_type_hints(cls)
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    names = [name for name, _, _ in fields]
    space: dict[str, Any] = {"C": cls, "ref": reference, "fine": fine, "new": object.__new__}
    lines = ["def decode(body):"]
    fail = "return ref(C, body, True)"
    for i, (name, check, required) in enumerate(fields):
        x = f"v{i}"
        test = _inline(hints[name])
        if test is None:
            space[f"ok{i}"] = check.ok
            test = [f"if not ok{i}({{x}}): {{fail}}"]
            if name in floats:
                test.append("if type({x}) is int: {x} = float({x})")
        test = [line.format(x=x, t=f"t{i}", e=f"e{i}", fail=fail) for line in test]
        if required:
            lines += ["    try:", f"        {x} = body[{name!r}]", f"    except KeyError: {fail}"]
            lines += ["    " + line for line in test]
            continue
        f = by_name[name]
        if f.default_factory is not dataclasses.MISSING:
            space[f"d{i}"] = f.default_factory
            default = f"d{i}()"
        else:
            space[f"d{i}"] = f.default
            default = f"d{i}"
        lines += [f"    if {name!r} in body:", f"        {x} = body[{name!r}]"]
        lines += ["        " + line for line in test]
        lines += ["    else:", f"        {x} = {default}"]
    if _slots_settable(cls, names):
        lines.append("    o = new(C)")
        for i, name in enumerate(names):
            space[f"s{i}"] = cls.__dict__[name].__set__
            lines.append(f"    s{i}(o, v{i})")
        lines.append("    return o")
    else:
        lines.append(f"    return C({', '.join(f'{n}=v{i}' for i, n in enumerate(names))})")
    exec("\n".join(lines), space)  # noqa: S102 (source built above from the dataclass's fields)
    made: Decoder = space["decode"]
    made.__qualname__ = made.__name__ = f"decode_{cls.__name__}"
    made.__doc__ = "\n".join(lines)  # the generated source, for whoever debugs it
    return made


def body_function(cls: type, names: tuple[str, ...]) -> Callable[[Any], dict[str, Any]]:
    """The generated body_of of cls: ``{"cmd": WORD, field: msg.field, ...}`` in field order."""
    items = "".join(f", {name!r}: m.{name}" for name in names)
    source = f"def body(m):\n    return {{'cmd': W{items}}}"
    space: dict[str, Any] = {"W": cls.WORD}  # type: ignore[attr-defined]
    exec(source, space)  # noqa: S102 (source built from the dataclass's field names)
    made: Callable[[Any], dict[str, Any]] = space["body"]
    made.__qualname__ = made.__name__ = f"body_{cls.__name__}"
    return made

"""The value rules of SPEC.md section 3.2.1 in the codec: every field of every command.

The field tests walk messages.FIELDS, so a field or a command added to
messages.py is covered without touching this file.
"""

from __future__ import annotations

import dataclasses
import math
import random
import sys
import types
import typing
from typing import Any

import msgpack
import pytest

from medialoom.protocol import codec, values
from medialoom.protocol.errors import RemoteProtocolError
from medialoom.protocol.messages import CHANNELS, FIELDS, Map
from medialoom.protocol.values import MAX_DEPTH, Check, check_for, fine, value_problem

NAN, INF = math.nan, math.inf
TAGS = codec.TAGS


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def frames(channel: str, body: dict[str, Any] | bytes) -> list[bytes]:
    data = body if isinstance(body, bytes) else pack(body)
    head = [b"job/x"] if channel == "event" else []
    return [*head, TAGS[channel], data]


def refused(channel: str, body: dict[str, Any] | bytes) -> RemoteProtocolError:
    with pytest.raises(RemoteProtocolError) as info:
        codec.decode(frames(channel, body), channel)
    return info.value


def deep(levels: int, leaf: Any = 1, kind: str = "array") -> Any:
    """A value nesting `levels` containers (arrays or maps {"a": ...}) around leaf."""
    value = leaf
    for _ in range(levels):
        value = [value] if kind == "array" else {"a": value}
    return value


# --- valid and invalid values of every field, from its type hint --------------------------


def too_deep(level: int, kind: str = "array") -> Any:
    """A container at nesting level `level` whose innermost container is at MAX_DEPTH + 1."""
    return deep(MAX_DEPTH - level + 2, kind=kind)


def is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def sample(hint: Any) -> Any:
    """A small valid value of a type hint."""
    if is_union(hint):
        options = typing.get_args(hint)
        return None if type(None) in options else sample(options[0])
    simple = {str: "x", bool: True, int: 1, float: 1.5, Any: None, type(None): None}
    if hint in simple:
        return simple[hint]
    return {list: [], dict: {}}[typing.get_origin(hint)]


def bad_values(hint: Any, level: int = 2) -> list[Any]:
    """Values that break a field of this hint at this nesting level, each in its own way."""
    if is_union(hint):
        options = typing.get_args(hint)
        found = [v for o in options for v in bad_values(o, level)]
        return [v for v in found if all(check_for(o, level).problem(v) for o in options)]
    if hint is str:
        return [1, b"x", None, ["x"], True]
    if hint is bool:
        return [1, 0, None, "true"]
    if hint is int:
        return [-1, 1 << 63, (1 << 64) - 1, True, 1.0, None, "1"]
    if hint is float:
        return [NAN, INF, -INF, (1 << 64) - 1, True, "1", None]
    if hint is Any:
        return [b"x", b"", NAN, INF, -INF, 1 << 63, msgpack.ExtType(1, b"x"),
                msgpack.Timestamp(1, 0), {"a": b"x"}, [NAN], {"a": {1: 2}}, {"a": {b"": 2}},
                too_deep(level), too_deep(level, "map")]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is dict:
        inner = bad_values(args[1], level + 1)
        return [[], None, "x", {1: sample(args[1])}, {b"k": sample(args[1])},
                *[{"a": v} for v in inner if v is not None or args[1] is not Any]]
    if origin is list:
        inner = bad_values(args[0], level + 1)
        return [{}, "x", None, *[[sample(args[0]), v] for v in inner
                                 if v is not None or args[0] is not Any]]
    raise AssertionError(f"no bad values for {hint!r}")


def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def valid_body(cls: type) -> dict[str, Any]:
    h = hints(cls)
    return {"cmd": cls.WORD, **{name: sample(h[name]) for name, _, _ in FIELDS[cls]}}


ALL = [(channel, cls) for channel, table in CHANNELS.items() for cls in table.values()]
IDS = [f"{channel}-{cls.WORD}" for channel, cls in ALL]


@pytest.mark.parametrize(("channel", "cls"), ALL, ids=IDS)
def test_a_valid_body_of_every_command_decodes(channel: str, cls: type) -> None:
    body = valid_body(cls)
    assert codec.body_of(codec.decode(frames(channel, body), channel)) == body


@pytest.mark.parametrize(("channel", "cls"), ALL, ids=IDS)
def test_every_field_of_every_command_refuses_bad_values(channel: str, cls: type) -> None:
    for name, _, _ in FIELDS[cls]:
        for bad in bad_values(hints(cls)[name]):
            body = {**valid_body(cls), name: bad}
            error = refused(channel, body)
            assert (error.code, error.details) == ("protocol.bad_field", {"field": name}), \
                (cls.WORD, name, bad, error.message)


@pytest.mark.parametrize(("channel", "cls"), ALL, ids=IDS)
def test_unknown_fields_are_ignored_whatever_they_hold(channel: str, cls: type) -> None:
    body = {**valid_body(cls), "zz_bin": b"\x00", "zz_nan": NAN, "zz_key": {1: 2},
            "zz_deep": deep(500), "zz_ext": msgpack.ExtType(3, b"")}
    assert codec.decode(frames(channel, body), channel) == codec.decode(
        frames(channel, valid_body(cls)), channel)


# --- nesting ----------------------------------------------------------------------------


def start(params: Any) -> dict[str, Any]:
    return {"cmd": "START", "rid": 1, "kind": "sleep", "params": params}


@pytest.mark.parametrize("kind", ["array", "map"])
def test_nesting_is_limited_to_max_depth_counting_the_body_as_one(kind: str) -> None:
    # body (1) > params (2) > 30 more containers = 32 levels: accepted
    assert codec.decode(frames("client", start({"a": deep(MAX_DEPTH - 2, kind=kind)})),
                        "client").params
    error = refused("client", start({"a": deep(MAX_DEPTH - 1, kind=kind)}))
    assert error.details == {"field": "params"}
    assert "deeper than 32" in error.message


def test_nesting_limit_inside_item_rows_and_running() -> None:
    item = {"i": 0, "details": deep(MAX_DEPTH - 3)}  # body > items > row > details... = 32
    ok = {"cmd": "ITEMS", "job": "j", "attempt": 1, "items": [item]}
    assert codec.decode(frames("worker", ok), "worker").items == [item]
    too_deep = {**ok, "items": [{"i": 0, "details": deep(MAX_DEPTH - 2)}]}
    assert refused("worker", too_deep).details == {"field": "items"}
    ready = {"cmd": "READY", "kinds": ["scan"], "slots": 1, "running": [deep(MAX_DEPTH - 2)]}
    assert codec.decode(frames("worker", ready), "worker")
    ready["running"] = [deep(MAX_DEPTH - 1)]
    assert refused("worker", ready).details == {"field": "running"}


@pytest.mark.parametrize("levels", [1_000, 1_024, 1_025, 5_000, 100_000])
@pytest.mark.parametrize("where", ["params", "unknown"])
def test_very_deep_bodies_are_protocol_errors_never_recursion_errors(
        levels: int, where: str) -> None:
    head = pack("cmd") + pack("START") + pack("rid") + pack(1) + pack("kind") + pack("sleep")
    nest = b"\x91" * levels + b"\x01"
    data = b"\x84" + head + pack("params" if where == "params" else "zz") + b"\x81" + pack("a") \
        + nest
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(__import__("inspect").stack()) + 120)
    try:
        with pytest.raises(RemoteProtocolError) as info:
            codec.decode([b"MLC1", data], "client")
            raise RemoteProtocolError("accepted", code="accepted")
        assert codec.request_id([b"MLC1", data]) in (0, 1)
    finally:
        sys.setrecursionlimit(limit)
    if levels + 3 <= 1024 and where == "params":  # msgpack-python reads up to 1024 levels
        assert info.value.code == "protocol.bad_field"
    elif levels + 3 > 1024:
        assert info.value.code == "protocol.bad_frame"
    else:  # deep, but in a field nobody knows: ignored
        assert info.value.code == "accepted"


# --- the messages say where ---------------------------------------------------------------


@pytest.mark.parametrize(("params", "path", "reason"), [
    ({"a": {"b": [1, NAN]}}, "params.a.b[1]", "nan is not allowed"),
    ({"a": [{"x": b"\x00"}]}, "params.a[0].x", "bin value"),
    ({"a": {"b": {7: "x"}}}, "params.a.b", "map key of type int"),
    ({"n": 1 << 63}, "params.n", "signed 64-bit"),
    ({"t": msgpack.Timestamp(5, 0)}, "params.t", "extension types"),
])
def test_errors_name_the_path_inside_the_field(params: Map, path: str, reason: str) -> None:
    error = refused("client", start(params))
    assert error.details == {"field": "params"}
    assert f"START field {path}: " in error.message and reason in error.message, error.message


def test_element_errors_name_the_index() -> None:
    error = refused("client", {"cmd": "LIST", "rid": 1, "kind": ["scan", {"a": 1}]})
    assert "LIST field kind[1]: must be str, not map" in error.message


def test_body_keys_and_bad_bodies_stay_bad_frame() -> None:
    assert refused("client", b"\x83" + pack("cmd") + pack("PING") + pack("rid") + pack(1)
                   + pack(b"k") + pack(1)).code == "protocol.bad_frame"
    assert refused("client", b"\x82" + pack("cmd") + pack("PING") + pack([1]) + pack(1)
                   ).code == "protocol.bad_frame"
    for key in (b"", b"k", 1, None):  # an empty bin key gets through the strict options
        assert refused("client", b"\x83" + pack("cmd") + pack("PING") + pack("rid") + pack(1)
                       + pack(key) + pack(1)).code == "protocol.bad_frame", key
    assert refused("client", {"cmd": b"PING", "rid": 1}).code == "protocol.unknown_command"


def test_bin_in_an_unknown_field_still_decodes_and_a_bin_str_field_is_bad_field() -> None:
    assert codec.decode(frames("client", {"cmd": "PING", "rid": 3, "pad": bytes(100)}),
                        "client").rid == 3
    error = refused("client", {"cmd": "STATUS", "rid": 3, "job": b"01J"})
    assert (error.code, error.details) == ("protocol.bad_field", {"field": "job"})


def test_strings_inside_maps_are_bounded_only_by_the_message_size() -> None:
    big = "x" * 900_000
    assert codec.decode(frames("client", start({"a": big})), "client").params == {"a": big}


# --- the type hints -----------------------------------------------------------------------


def test_every_field_has_a_check_and_unknown_hints_are_refused_at_import() -> None:
    for table in CHANNELS.values():
        for cls in table.values():
            assert [f[0] for f in FIELDS[cls]] == [f.name for f in dataclasses.fields(cls)]
            assert all(isinstance(check, Check) for _, check, _ in FIELDS[cls])
    with pytest.raises(TypeError):
        check_for(tuple[int, int])
    with pytest.raises(TypeError):
        check_for(dict[int, str])


def test_optional_and_nested_hints() -> None:
    opt = check_for(Map | None)
    assert opt.ok(None) and opt.ok({"a": 1}) and not opt.ok("x") and not opt.ok({"a": NAN})
    assert opt.problem({"a": NAN})[0].startswith("nan is not allowed")
    assert opt.problem(3) == ("must be map | nil, not int", [])
    ints = check_for(list[int])
    assert ints.ok([1, 2]) and not ints.ok([-1]) and not ints.ok([True])
    assert ints.problem([1, -1]) == ("must be 0..2^63-1", ["[1]"])
    maps = check_for(dict[str, list[str]])
    assert maps.ok({"a": ["x"]}) and not maps.ok({"a": [1]}) and not maps.ok({"a": "x"})
    text = check_for(str | None)
    assert text.ok(None) and text.ok("x") and not text.ok(1)


# --- the fast pass agrees with the exact one ----------------------------------------------


GOOD = ["x", "", True, False, None, 0, 1, -1, 1 << 62, (1 << 63) - 1, -(1 << 63), 1.5, -0.0,
        1e308, 5e-324, 2, 3.25, "é" * 3]
BADS = [1 << 63, (1 << 64) - 1, NAN, INF, -INF, b"", b"\x00", msgpack.ExtType(2, b"z"),
        msgpack.ExtType(3, b""), msgpack.Timestamp(1, 2)]


def random_value(rng: random.Random, depth: int) -> Any:
    """A random msgpack value, often valid, often breaking one rule somewhere inside."""
    roll = rng.random()
    if depth < MAX_DEPTH + 2 and roll < 0.4:
        n = rng.randrange(5)
        if rng.random() < 0.5:
            return [random_value(rng, depth + 1) for _ in range(n)]
        keys: list[Any] = [rng.choice(["a", "b", "", "kkk", "é"]) for _ in range(n)]
        if rng.random() < 0.01:
            keys.append(rng.choice([1, -1, b"", b"k", 2.5, True, None]))
        return {k: random_value(rng, depth + 1) for k in keys}
    if depth < 8 and roll < 0.43:  # a long chain, to reach and pass the depth limit
        return deep(rng.randrange(20, 36), random_value(rng, MAX_DEPTH),
                    rng.choice(["array", "map"]))
    return rng.choice(BADS) if rng.random() < 0.03 else rng.choice(GOOD)


def test_fast_and_exact_passes_agree_on_random_values() -> None:
    seed = 20260705
    print(f"seed {seed}")
    rng = random.Random(seed)
    verdicts = {True: 0, False: 0}
    for _ in range(4000):
        value = {f"v{i}": random_value(rng, 3) for i in range(rng.randrange(1, 8))}
        data = pack({"cmd": "START", "rid": 1, "kind": "k", "params": value})
        lax = msgpack.unpackb(data, **values.LAX_UNPACK)["params"]
        try:
            body = msgpack.unpackb(data, **values.STRICT_UNPACK)
        except ValueError:  # bin, an extension, a key that is not str: only the exact pass
            body = None
        exact = value_problem(lax, 2) is None
        if body is not None:
            assert fine(body["params"], 2) == exact, lax
        try:
            codec.decode([b"MLC1", data], "client")
            decoded = True
        except RemoteProtocolError as exc:
            assert (exc.code, exc.details) == ("protocol.bad_field", {"field": "params"})
            decoded = False
        assert decoded == exact, lax
        verdicts[exact] += 1
    print(verdicts)
    assert verdicts[True] > 1000 and verdicts[False] > 1000, verdicts

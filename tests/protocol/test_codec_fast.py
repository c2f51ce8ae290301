"""The generated decoders (protocol/fastpath.py) against the reference field loop, exactly.

codec.decode runs a generated function per command on bodies read with the strict
msgpack options; codec.check_fields is the generic loop it replaced, and the one
that makes every refusal.  Here both decode the committed vectors, every fuzzer
mutation (tests/protocol/fuzz.py) and tens of thousands of randomly mutated bodies
per channel, and must give the same result: an equal message whose fields have the
same types (1, 1.0 and True differ), or a RemoteProtocolError with the same code,
message and details.  encode and body_of are compared with msgpack.packb and a
getattr loop the same way.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
import threading
import typing
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import msgpack
import pytest

from medialoom.protocol import codec, fastpath
from medialoom.protocol.errors import RemoteProtocolError
from medialoom.protocol.messages import CHANNELS, FIELDS
from medialoom.protocol.values import MAX_DEPTH, STRICT_UNPACK, check_for
from medialoom.protocol.vectors.regen import from_json
from tests.protocol.fuzz import POOL, Fuzzer, Raw, pack_map

PROTOCOL = files("medialoom.protocol")
VALID: list[dict[str, Any]] = json.loads((PROTOCOL / "vectors" / "valid.json").read_text())
INVALID: list[dict[str, Any]] = json.loads((PROTOCOL / "vectors" / "invalid.json").read_text())
#: mutated bodies per channel
PER_CHANNEL = 20_000


def typed(value: Any) -> Any:
    """value with every scalar paired with its type (so that 3, 3.0 and True differ)."""
    if isinstance(value, dict):
        return [(typed(k), typed(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "float", "nan"
    return type(value).__name__, value


def outcome(decode: Any, frames: list[bytes], channel: str) -> tuple[Any, ...]:
    try:
        msg = decode(frames, channel)
    except RemoteProtocolError as exc:
        return "refused", type(exc), exc.code, exc.message, str(exc), exc.details
    assert dataclasses.is_dataclass(msg)
    fields = [(f.name, typed(getattr(msg, f.name))) for f in dataclasses.fields(msg)]
    return "message", type(msg), msg, fields


def reference_decode(frames: list[bytes], channel: str) -> Any:
    """codec.decode with every command's fields read by codec.check_fields, and the body
    read with all of values.STRICT_UNPACK's options spelled out (as before fastpath.py)."""
    saved = codec._DECODERS, codec._STRICT_CALL
    codec._DECODERS = {cls: (lambda body, cls=cls: codec.check_fields(cls, body, True))
                       for cls in saved[0]}
    codec._STRICT_CALL = STRICT_UNPACK
    try:
        return codec.decode(frames, channel)
    finally:
        codec._DECODERS, codec._STRICT_CALL = saved


def same(frames: list[bytes], channel: str) -> tuple[Any, ...]:
    fast = outcome(codec.decode, frames, channel)
    ref = outcome(reference_decode, frames, channel)
    assert fast == ref, (channel, [f[:300].hex() for f in frames])
    return fast


def frames_of(vector: dict[str, Any]) -> list[bytes]:
    if "frames" in vector:
        return [bytes.fromhex(f) for f in vector["frames"]]
    gen = vector["frames_generated"]
    prefix, suffix = bytes.fromhex(gen["body_prefix"]), bytes.fromhex(gen.get("body_suffix", ""))
    fill = bytes.fromhex(gen["fill"]) * (gen["body_size"] - len(prefix) - len(suffix))
    return [bytes.fromhex(gen["tag"]), prefix + fill + suffix]


def test_the_reference_decoder_is_not_the_generated_one() -> None:
    """reference_decode really takes check_fields' path (so the comparisons below compare)."""
    cls = CHANNELS["client"]["PING"]
    calls = []
    real = codec.check_fields

    def spy(*args: Any) -> Any:
        calls.append(args[0])
        return real(*args)

    codec.check_fields = spy  # type: ignore[assignment]
    try:
        reference_decode(codec.encode(cls(rid=1), "client"), "client")
    finally:
        codec.check_fields = real
    assert calls == [cls]
    assert codec._DECODERS[cls].__name__ == "decode_Ping"


def test_the_options_left_out_are_msgpacks_defaults() -> None:
    """codec._STRICT_CALL leaves raw=False and strict_map_key=True to msgpack's defaults."""
    assert set(STRICT_UNPACK) - set(codec._STRICT_CALL) == {"raw", "strict_map_key"}
    assert msgpack.unpackb(b"\xa1a", **codec._STRICT_CALL) == "a"  # raw=False: str, not bytes
    with pytest.raises(ValueError, match="strict_map_key=True"):  # strict_map_key=True: no int keys
        msgpack.unpackb(b"\x81\x01\x01", **codec._STRICT_CALL)


@pytest.mark.parametrize("vector", VALID + INVALID, ids=lambda v: v["name"])
def test_vectors_decode_the_same(vector: dict[str, Any]) -> None:
    result = same(frames_of(vector), vector["channel"])
    assert result[0] == ("refused" if "error" in vector else "message")


def test_fuzzer_mutations_decode_the_same() -> None:
    """One round of every fuzzer mutation of every command, on all five channels."""
    fuzzer = Fuzzer(7)
    plan = [case for channel in CHANNELS for case in fuzzer._plan(channel)]
    kinds = set()
    for case in plan:
        frames, _ = fuzzer.build(case)
        kinds.add(same(frames, case[0])[0])
    assert kinds == {"message", "refused"}


# --- random mutations of valid bodies ----------------------------------------------------

BIG = [1 << 63, (1 << 63) - 1, (1 << 64) - 1, -(1 << 63), -1, 0, 1 << 32, True, False]
FLOATS = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.5, 5e-324, 1e308,
          Raw(b"\xca\x7f\xc0\x00\x00", "float 32 NaN"), Raw(b"\xca\x3f\x80\x00\x00", "float 32 1"),
          Raw(b"\xcb\x7f\xf0" + bytes(5), "+inf 64")]
ODD = [b"", b"x", msgpack.ExtType(1, b"x"), Raw(b"\xd6\xff" + bytes(4), "timestamp 32"), Raw(b"\xd4\x05\x00", "fixext 1"), None, "", "x", "é",
       {1: 1}, {b"": 1}, {b"k": 1}, {"a": {2: 1}}, {"a": {b"": 1}}, {"a": b""}, [b""], [None],
       {"": 1}, {"a": [1, {"b": math.nan}]}, [[1, "x"]], [["x", 1.0]], [{"a": [1 << 63]}]]


def _huge(value: Any) -> bool:
    """Pool values whose packing or reading alone takes long (70 KB strings, 100,000 levels)."""
    return len(repr(value)) > 2_000


POOL_SMALL = [p for p in POOL if not _huge(p)]
VALUES = BIG + FLOATS + ODD + POOL_SMALL


def deep_value(levels: int, rng: random.Random) -> Any:
    """Containers nested levels deep, arrays and maps mixed, a random leaf inside."""
    value: Any = rng.choice([1, "x", None, 1.5, [], {}])
    for _ in range(levels):
        value = [value] if rng.random() < 0.5 else {"k": value}
    return value


def bodies(channel: str) -> list[list[tuple[Any, Any]]]:
    """Valid bodies of channel as (key, value) pairs: its vectors and the fuzzer's bases."""
    found = [list(from_json(v["message"]).items()) for v in VALID if v["channel"] == channel]
    fuzzer = Fuzzer(3)
    found += [fuzzer.base(cls, channel, 5) for cls in CHANNELS[channel].values()]
    return found


def mutate_inside(value: Any, rng: random.Random, new: Any) -> Any:
    """A copy of value with one element at a random depth (or value itself) replaced by new."""
    if type(value) is list and value and rng.random() < 0.7:
        i = rng.randrange(len(value))
        return [mutate_inside(v, rng, new) if j == i else v for j, v in enumerate(value)]
    if type(value) is dict and value and rng.random() < 0.7:
        key = rng.choice(list(value))
        if rng.random() < 0.15:  # the key itself
            return {(new if isinstance(new, (int, str, bytes)) else 7) if k == key else k: v
                    for k, v in value.items()}
        return {k: mutate_inside(v, rng, new) if k == key else v for k, v in value.items()}
    return new


WORDS = [w for t in CHANNELS.values() for w in t] + ["", "NOPE", "start"]


def mutate(pairs: list[tuple[Any, Any]], rng: random.Random) -> list[tuple[Any, Any]]:
    """pairs with one random mutation."""
    op = rng.random()
    # a field (cmd is first but after a shuffle) rather than cmd, 9 times in 10
    i = rng.randrange(len(pairs) > 1 and rng.random() < 0.9, len(pairs))
    key, value = pairs[i]
    if op < 0.12:  # drop a field (or cmd)
        del pairs[i]
    elif op < 0.17:  # a key twice
        pairs.insert(rng.randrange(len(pairs) + 1), (key, rng.choice([value, *VALUES])))
    elif op < 0.45:  # another value for the field
        pairs[i] = key, rng.choice(VALUES)
    elif op < 0.65:  # a value inside the field replaced
        pairs[i] = key, mutate_inside(value, rng, rng.choice(VALUES))
    elif op < 0.72:  # nesting around the limit
        levels = rng.choice([MAX_DEPTH - 3, MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, 40])
        pairs[i] = key, mutate_inside(value, rng, deep_value(levels, rng))
    elif op < 0.77:  # the field's value wrapped in an array or a map
        pairs[i] = key, [value] if rng.random() < 0.5 else {"v": value}
    elif op < 0.84:  # an unknown field
        pairs.insert(rng.randrange(len(pairs) + 1),
                     (rng.choice(["zz", "", "Job", "rid ", "é"]), rng.choice(VALUES)))
    elif op < 0.88:  # a key that is not str
        pairs[i] = rng.choice([1, b"", b"k", None, 1.5, True]), value
    elif op < 0.93:  # another command
        cmd = rng.choice([*WORDS, 1, None, b"PING", ["PING"]])
        pairs = [("cmd", cmd) if k == "cmd" else (k, v) for k, v in pairs]
    elif op < 0.97:  # an int where a float is, or a float where an int is
        if type(value) is int:
            pairs[i] = key, float(value)
        elif type(value) is float and math.isfinite(value):
            pairs[i] = key, int(value)
    else:  # fields shuffled (wire order is not meaning)
        rng.shuffle(pairs)
    return pairs or [("cmd", "PING")]


def mutations(channel: str, count: int, seed: int) -> Iterator[list[bytes]]:
    """count frames of channel, each a valid body with one to three mutations."""
    rng = random.Random(seed)
    base = bodies(channel)
    head = [b"job/x"] if channel == "event" else []
    for _ in range(count):
        pairs = list(rng.choice(base))
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            pairs = mutate(pairs, rng)
        try:
            body = pack_map(pairs)
        except (TypeError, ValueError, OverflowError):  # an unhashable key, ...
            continue
        yield [*head, codec.TAGS[channel], body]


@pytest.mark.parametrize("channel", list(CHANNELS))
def test_mutated_bodies_decode_the_same(channel: str) -> None:
    seen: dict[str, int] = {"message": 0, "refused": 0}
    fields_refused = 0
    for frames in mutations(channel, PER_CHANNEL, seed=list(CHANNELS).index(channel)):
        result = same(frames, channel)
        seen[result[0]] += 1
        fields_refused += result[0] == "refused" and result[2] == "protocol.bad_field"
    # both outcomes, and field refusals (the generated functions' fallback), are common
    assert min(seen.values()) > PER_CHANNEL // 20, seen
    assert fields_refused > PER_CHANNEL // 20, fields_refused


def test_int_in_float_fields_and_absent_fields() -> None:
    """Floats sent as ints become floats; absent list and map fields are fresh objects."""
    event = CHANNELS["event"]["EVENT"]
    frames = [b"job/j", b"MLE1", msgpack.packb({"cmd": "EVENT", "job": "j", "seq": 1,
                                                 "status": "running", "ts": 12})]
    first, second = codec.decode(frames, "event"), codec.decode(frames, "event")
    assert type(first) is event and type(first.ts) is float and first.ts == 12.0
    assert first.progress == {} and first.progress is not second.progress
    assert same(frames, "event")[0] == "message"


def test_every_field_of_every_command_alone_wrong() -> None:
    """Each field of each command set to each value: same outcome (checks every template)."""
    fuzzer = Fuzzer(11)
    for channel, table in CHANNELS.items():
        head = [b"job/x"] if channel == "event" else []
        for cls in table.values():
            pairs = fuzzer.base(cls, channel, 9)
            for name, _, _ in FIELDS[cls]:
                for value in VALUES:
                    body = pack_map([(k, value if k == name else v) for k, v in pairs])
                    same([*head, codec.TAGS[channel], body], channel)


# --- encode and body_of ------------------------------------------------------------------


def test_encode_and_body_of_match_packb_and_getattr() -> None:
    for vector in VALID:
        if vector.get("decode_only"):
            continue
        msg = codec.decode(frames_of(vector), vector["channel"])
        names = [f.name for f in dataclasses.fields(msg)]
        expected = {"cmd": msg.WORD, **{n: getattr(msg, n) for n in names}}
        body = codec.body_of(msg)
        assert typed(body) == typed(expected) and list(body) == ["cmd", *names]
        assert all(body[n] is getattr(msg, n) for n in names)
        frames = codec.encode(msg, vector["channel"])
        assert frames[-1] == msgpack.packb(expected, use_bin_type=True)


def test_encode_refuses_what_packb_refuses_and_recovers() -> None:
    ping = CHANNELS["client"]["PING"]
    reply = CHANNELS["reply"]["REPLY"]
    with pytest.raises(TypeError) as ours:
        codec.encode(reply(rid=1, data={"a": [1, {2, 3}]}), "reply")
    with pytest.raises(TypeError) as theirs:
        msgpack.packb({"cmd": "REPLY", "rid": 1, "data": {"a": [1, {2, 3}]}}, use_bin_type=True)
    assert str(ours.value) == str(theirs.value)
    assert codec.encode(ping(rid=3), "client") == [b"MLC1", msgpack.packb({"cmd": "PING", "rid": 3})]


def test_encode_from_many_threads() -> None:
    """Each thread packs with its own Packer: bodies never mix."""
    reply = CHANNELS["reply"]["REPLY"]
    errors: list[str] = []

    def work(n: int) -> None:
        msg = reply(rid=n, data={"rows": [{"i": i, "s": "x" * (n % 50)} for i in range(200)]})
        want = msgpack.packb(codec.body_of(msg), use_bin_type=True)
        for _ in range(200):
            if codec.encode(msg, "reply")[1] != want:
                errors.append(f"thread {n}")
                return

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_a_class_with_post_init_is_called_not_filled_in() -> None:
    """fastpath sets slots only where that is all __init__ does; else it calls the class."""
    calls: list[Any] = []

    @dataclasses.dataclass(frozen=True)
    class Probe:
        a: int
        b: list[str] = dataclasses.field(default_factory=list)
        c: float = 0.0

        def __post_init__(self) -> None:
            calls.append(self.a)

    hints = typing.get_type_hints(Probe, localns={"Any": Any})
    fields = tuple((f.name, check_for(hints[f.name]), f.name == "a")
                   for f in dataclasses.fields(Probe))

    def reference(cls: type, body: dict[str, Any], strict: bool) -> Any:
        return "refused by the reference", cls, strict

    made = fastpath.decoder(Probe, fields, ("c",), reference)
    assert "new(C)" not in (made.__doc__ or "")
    result = made({"a": 3, "c": 2, "zz": b""})
    assert result == Probe(3, [], 2.0) and type(result.c) is float and calls == [3, 3]
    assert made({"a": -1}) == ("refused by the reference", Probe, True)
    assert made({"b": []}) == ("refused by the reference", Probe, True)
    assert made({"a": 1, "b": ["x", 1]}) == ("refused by the reference", Probe, True)

"""Bytes <-> messages for protocol version 1 (SPEC.md sections 2-3).

The only module that knows bytes.  A message is a version tag frame plus one
msgpack map whose ``cmd`` key holds the wire word; the event channel puts a
topic frame in front.  Nothing is ever pickled.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from typing import Any

import msgpack

# largest body a peer may send on the client channel; larger gets protocol.too_large
from . import fastpath
from .constants import MAX_BODY_BYTES as MAX_BODY_BYTES  # SPEC.md 10
from .errors import RemoteProtocolError
from .messages import CHANNELS, FIELDS, Event, Message, Progress
from .values import INT64_MAX, LAX_UNPACK, STRICT_UNPACK
from .values import MAX_DEPTH as MAX_DEPTH  # deepest nesting, the body being 1 (SPEC.md 10)

#: version tag frame per channel
TAGS = {
    "client": b"MLC1",
    "reply": b"MLC1",
    "worker": b"MLW1",
    "broker": b"MLW1",
    "event": b"MLE1",
}
#: hard cap enforced by ZeroMQ itself (ZMQ_MAXMSGSIZE): the connection is dropped
HARD_MAX_BYTES = 64 << 20
#: class -> its fields typed float (an int there decodes as the float of the same value)
_FLOATS: dict[type, tuple[str, ...]] = {
    cls: tuple(name for name, check, _ in fields if "float" in check.label.split(" | "))
    for cls, fields in FIELDS.items()}


_local = threading.local()


def _pack(body: dict[str, Any]) -> bytes:
    """msgpack bytes of body, as ``packb(body, use_bin_type=True)`` gives them.

    One Packer per thread, reused: packb makes (and frees) a Packer and its buffer
    per call, about 1 us of a small message.  Each thread has its own, and packing
    never calls back into encode, so a Packer is never entered twice; a failed
    pack leaves it empty.  Its buffer stays as large as the largest body the
    thread packed (at most HARD_MAX_BYTES).
    """
    try:
        packer = _local.packer
    except AttributeError:
        packer = _local.packer = msgpack.Packer(use_bin_type=True)
    return packer.pack(body)  # type: ignore[no-any-return]


#: class -> its generated body_of (fastpath.body_function), made at first use
_BODIES: dict[type, Callable[[Any], dict[str, Any]]] = {}


def body_of(msg: Message) -> dict[str, Any]:
    """The wire map of a message: ``cmd`` first, then its fields in order."""
    try:
        return _BODIES[type(msg)](msg)
    except KeyError:
        pass
    cls = type(msg)
    names = tuple(f.name for f in dataclasses.fields(msg))  # type: ignore[arg-type]
    made = _BODIES[cls] = fastpath.body_function(cls, names)
    return made(msg)


def encode(msg: Message, channel: str) -> list[bytes]:
    """Frames for msg on channel: ``[tag, body]`` (events: ``[topic, tag, body]``)."""
    packed = _pack(body_of(msg))
    if channel == "event":
        assert isinstance(msg, (Progress, Event))
        return [topic(msg.job), TAGS[channel], packed]
    return [TAGS[channel], packed]


def topic(job_id: str) -> bytes:
    """Event topic of a job; subscribe to b"job/" for every job."""
    return b"job/" + job_id.encode()


#: STRICT_UNPACK less the options that are msgpack's defaults (since 1.0): unpackb parses
#: each keyword it is given, about 0.3 us of a small body for these two
_STRICT_CALL = {key: value for key, value in STRICT_UNPACK.items()
                if (key, value) not in (("raw", False), ("strict_map_key", True))}


def _unpack(data: bytes) -> tuple[dict[str, Any], bool]:
    """The body map, and whether the strict msgpack options read it (values.STRICT_UNPACK).

    Bodies only the lenient options can read (bin or an extension value
    anywhere, a map key that is not str) still decode, so that unknown fields
    are ignored and a bad known field is named; their fields are then checked
    with the exact (slower) pass.  A body map with a key twice is refused
    (SPEC.md 3.1): its header counts more entries than the dict holds.
    """
    try:
        body = msgpack.unpackb(data, **_STRICT_CALL)
        strict = True
    except Exception:  # msgpack raises several unrelated types
        try:
            body = msgpack.unpackb(data, **LAX_UNPACK)
        except Exception as exc:  # (StackError for nesting beyond msgpack's 1024 levels, ...)
            raise RemoteProtocolError(
                f"body is not valid msgpack ({type(exc).__name__}: {str(exc)[:200]})") from None
        strict = False
    if type(body) is not dict:
        raise RemoteProtocolError("body must be a msgpack map")
    first = data[0]  # a map header: fixmap, map 16 or map 32
    entries = first & 0x0F if first <= 0x8F else int.from_bytes(
        data[1:3] if first == 0xDE else data[1:5], "big")
    if entries != len(body):
        raise RemoteProtocolError(f"the body map has {entries} entries but only {len(body)} "
                                  "distinct keys (a key must not appear twice)")
    if b"" in body if strict else any(type(key) is not str for key in body):
        raise RemoteProtocolError("the keys of the body map must be msgpack str")
    return body, strict


def unpack_body(data: bytes) -> dict[str, Any]:
    """Decode one msgpack map body with str keys; RemoteProtocolError if it is not one.

    Only the body map itself is checked; ``decode`` checks the fields.
    """
    return _unpack(data)[0]


def _no_map(pairs: Any) -> None:
    """Maps met while looking for the rid are not built (their keys may be unhashable)."""


def request_id(frames: list[bytes]) -> int:
    """The rid of the ERROR about a client message that was refused (SPEC.md 4.13).

    The last frame is read as a msgpack map header, then entry by entry in wire
    order: each key is read, and each value of another key is skipped by its
    msgpack length, unchecked.  At the first key that is the str "rid" its value
    is the answer if it is an int (not a bool) in 0..2^63-1, else 0.  It is 0 as
    well when the frame is not a map, an entry cannot be read, no key is "rid",
    or the rid's value does not end within the first MAX_BODY_BYTES bytes (an
    oversized body is never read further).
    """
    if not frames:
        return 0
    reader = msgpack.Unpacker(raw=False, unicode_errors="surrogateescape",
                              strict_map_key=False, object_pairs_hook=_no_map,
                              max_buffer_size=MAX_BODY_BYTES)
    try:
        reader.feed(frames[-1][:MAX_BODY_BYTES])
        for _ in range(reader.read_map_header()):
            key = reader.unpack()
            if type(key) is str and key == "rid":
                rid = reader.unpack()
                return rid if type(rid) is int and 0 <= rid <= INT64_MAX else 0
            reader.skip()
    except Exception:  # not a map, truncated, too deep to skip, the first 1 MiB ran out, ...
        return 0
    return 0


#: most bodies in one message of several (SPEC.md 2)
MAX_BODIES = 64
#: the reference peers bundle bodies into one message up to this many bytes (a bigger body
#: goes alone): a sender's choice, not a wire limit
BUNDLE_BYTES = 256 * 1024


def bundles(bodies: list[bytes]) -> Iterator[list[bytes]]:
    """bodies in order, cut into the bodies of one message each: at most MAX_BODIES of them
    and BUNDLE_BYTES bytes (a body that big or bigger goes alone)."""
    bundle: list[bytes] = []
    size = 0
    for body in bodies:
        if bundle and (len(bundle) >= MAX_BODIES or size + len(body) > BUNDLE_BYTES):
            yield bundle
            bundle, size = [], 0
        bundle.append(body)
        size += len(body)
    if bundle:
        yield bundle


def decode_each(frames: list[bytes], channel: str) -> list[Message | RemoteProtocolError]:
    """The messages of a message of one or more bodies, in order (SPEC.md 2; the client and
    reply channels as well as the worker and broker ones): a body that does not decode is
    its error in the list, the others still count.  RemoteProtocolError if the frames
    themselves are wrong (count or version tag)."""
    if not 2 <= len(frames) <= MAX_BODIES + 1:
        raise RemoteProtocolError(f"a message is a version tag and 1 to {MAX_BODIES} bodies, "
                                  f"not {len(frames) - 1}")
    tag = frames[0]
    if tag != TAGS[channel]:
        raise RemoteProtocolError(
            f"version tag {tag[:16]!r} is not {TAGS[channel]!r}", code="protocol.bad_version"
        )
    out: list[Message | RemoteProtocolError] = []
    for body in frames[1:]:
        try:
            out.append(decode([tag, body], channel))
        except RemoteProtocolError as exc:
            out.append(exc)
    return out


def decode(frames: list[bytes], channel: str) -> Message:
    """Message from frames on channel; RemoteProtocolError with a wire code if invalid."""
    if channel == "event":
        if len(frames) != 3:
            raise RemoteProtocolError("an event is three frames: topic, tag, body")
        frames = frames[1:]
    if len(frames) != 2:
        raise RemoteProtocolError("a message is two frames: version tag and body")
    tag, data = frames
    if tag != TAGS[channel]:
        raise RemoteProtocolError(
            f"version tag {tag[:16]!r} is not {TAGS[channel]!r}", code="protocol.bad_version"
        )
    if channel == "client" and len(data) > MAX_BODY_BYTES:
        raise RemoteProtocolError(
            f"message of {len(data)} bytes exceeds the limit of {MAX_BODY_BYTES}",
            code="protocol.too_large",
        )
    body, strict = _unpack(data)
    word = body.get("cmd")
    cls = CHANNELS[channel].get(word) if type(word) is str else None
    if cls is None:
        shown = repr(word[:40]) if type(word) is str else f"of type {type(word).__name__}"
        raise RemoteProtocolError(f"unknown command {shown}", code="protocol.unknown_command")
    if strict:
        return _DECODERS[cls](body)  # check_fields' result, for the common case inline
    return check_fields(cls, body, strict)


def check_fields(cls: type, body: dict[str, Any], strict: bool) -> Message:
    """The message of class cls from its body map, every field checked (the reference).

    strict says the body was read with values.STRICT_UNPACK (then ``Check.ok`` is
    the test, else the exact ``Check.problem``).  decode runs the generated
    fastpath function of cls instead on strict bodies; it calls this one as soon
    as a field is absent or fails its test, so every refusal is made here.
    """
    word = cls.WORD  # type: ignore[attr-defined]
    kwargs: dict[str, Any] = {}
    for name, check, required in FIELDS[cls]:
        if name not in body:
            if required:
                raise RemoteProtocolError(
                    f"{word} needs field {name!r}", code="protocol.bad_field",
                    details={"field": name},
                )
            continue
        value = body[name]
        if (not check.ok(value)) if strict else (check.problem(value) is not None):
            path, reason = check.explain(value, name)
            raise RemoteProtocolError(f"{word} field {path}: {reason}",
                                      code="protocol.bad_field", details={"field": name})
        kwargs[name] = value
    for name in _FLOATS[cls]:  # a float field sent as an int decodes as a float (SPEC.md 3.1)
        if type(kwargs.get(name)) is int:
            kwargs[name] = float(kwargs[name])
    return cls(**kwargs)  # type: ignore[no-any-return]


#: class -> generated decode of strict bodies (fastpath.py), falling back to check_fields
_DECODERS: dict[type, Callable[[dict[str, Any]], Message]] = {
    cls: fastpath.decoder(cls, fields, _FLOATS[cls], check_fields)
    for cls, fields in FIELDS.items()}

"""The C codec against the reference codec (medialoom.protocol.codec) on many bodies.

Every valid vector is mutated: each field replaced by each value of a pool of awkward
msgpack encodings (non-shortest ints, int 8 that is positive, 2^63, float 32, NaN, bin,
extension types, invalid UTF-8, int and bin map keys, 31 and 33 levels of nesting, ...),
also one level down inside map fields; each field removed, repeated, joined by an unknown
field; random bytes changed.  Both codecs must agree on every body: the same decoded
message (types, values and key order), or the same error code, details field and, on the
client channel, the same rid.  Usage: differential.py DECODE_TOOL.
"""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgpack

from medialoom.protocol import codec
from medialoom.protocol.errors import RemoteProtocolError

VECTORS = Path(__file__).resolve().parents[3] / "protocol" / "vectors" / "valid.json"


def deep(levels: int) -> bytes:
    return b"\x91" * (levels - 1) + b"\x90"


POOL: list[bytes] = [
    b"\xc0", b"\xc2", b"\xc3", b"\x00", b"\x7f", b"\xcc\x05", b"\xcd\x00\x05",
    b"\xce\x00\x00\x00\x05", b"\xcf" + (5).to_bytes(8, "big"), b"\xd0\x05", b"\xd1\x00\x05",
    b"\xd0\xff", b"\xe0", b"\xd3" + (-(1 << 63)).to_bytes(8, "big", signed=True),
    b"\xcf" + (1 << 63).to_bytes(8, "big"), b"\xcf" + b"\xff" * 8,
    b"\xcf" + ((1 << 63) - 1).to_bytes(8, "big"),
    b"\xcb" + struct.pack(">d", 1.5), b"\xcb" + struct.pack(">d", float("nan")),
    b"\xcb" + struct.pack(">d", float("inf")), b"\xcb" + struct.pack(">d", -0.0),
    b"\xca" + struct.pack(">f", 1.5), b"\xca" + struct.pack(">f", float("nan")),
    b"\xa0", b"\xa3abc", b"\xd9\x03abc", b"\xda\x00\x03abc", b"\xa2\xff\xfe", b"\xa3\xed\xa0\x80",
    b"\xa4\xf0\x9f\x8e\xb5", b"\xc4\x00", b"\xc4\x02\x01\x02", b"\xd4\x01\x00", b"\xc7\x00\x05",
    b"\xd6\xff\x00\x00\x00\x00", b"\x90", b"\x91\xc0", b"\x92\xa1a\x01", b"\x91\x91\xa1a",
    b"\x92\xa1a\xa1b", b"\x91\x80", b"\x91\x81\xa1a\x01", b"\x92\x92\xa1j\x01\x92\xa1k\x02",
    b"\x93\xa1j\x01\x02", b"\xdc\x00\x01\xa1a", b"\x80", b"\x81\xa1a\x01", b"\x81\x01\x01",
    b"\x81\xc4\x00\x01", b"\x81\xa1a\xc4\x00", b"\x82\xa1a\x01\xa1a\x02", b"\xde\x00\x01\xa1a\xc3",
    b"\x81\xa1a" + deep(30), b"\x81\xa1a" + deep(31), deep(31), deep(32),
    b"\x81\xa1a\x81\xa1b\x81\x01\x02",
]


def pack_map(entries: list[tuple[bytes, bytes]]) -> bytes:
    n = len(entries)
    head = bytes([0x80 | n]) if n < 16 else b"\xde" + n.to_bytes(2, "big")
    return head + b"".join(k + v for k, v in entries)


def key(name: str) -> bytes:
    return msgpack.packb(name)


def mutations(message: dict[str, Any], rng: random.Random) -> list[bytes]:
    """Bodies derived from one vector's message."""
    fields = [(key(k), msgpack.packb(v, use_bin_type=True)) for k, v in message.items()]
    out = []
    for i, (k, v) in enumerate(fields):
        out += [pack_map(fields[:i] + [(k, p)] + fields[i + 1:]) for p in POOL]
        out.append(pack_map(fields[:i] + fields[i + 1:]))  # removed
        out.append(pack_map(fields + [(k, v)]))  # twice
        value = message[list(message)[i]]
        if isinstance(value, dict):  # one level down, under a new key and an existing one
            for p in POOL:
                inner = [(key(a), msgpack.packb(b, use_bin_type=True)) for a, b in value.items()]
                inner_new = pack_map([*inner, (key("zz"), p)])
                out.append(pack_map(fields[:i] + [(k, inner_new)] + fields[i + 1:]))
    out += [pack_map([*fields, (key("x-unknown"), p)]) for p in POOL]
    body = pack_map(fields)
    for _ in range(200):
        b = bytearray(body)
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        out.append(bytes(b))
    out += [body[:n] for n in range(0, len(body), max(1, len(body) // 7))]
    return out


def reference(channel: str, frames: list[bytes]) -> dict[str, Any]:
    try:
        msg = codec.decode(frames, channel)
    except RemoteProtocolError as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        rid = codec.request_id(frames) if channel == "client" else 0
        return {"error": exc.code, "field": details.get("field", ""), "rid": rid}
    return {"message": json.loads(json.dumps(codec.body_of(msg)))}


def same(a: Any, b: Any) -> bool:
    """Equal with types (1 is not 1.0, True is not 1) and key order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def main(argv: list[str]) -> int:
    rng = random.Random(20241201)
    cases: list[tuple[str, list[bytes]]] = []
    for vector in json.loads(VECTORS.read_text()):
        frames = [bytes.fromhex(f) for f in vector["frames"]]
        for body in mutations(vector["message"], rng):
            cases.append((vector["channel"], [*frames[:-1], body]))
    lines = "".join(f"{ch} {' '.join(f.hex() or '-' for f in fr)}\n" for ch, fr in cases)
    out = subprocess.run([argv[1]], input=lines, capture_output=True, text=True, check=True)
    verdicts = out.stdout.splitlines()
    assert len(verdicts) == len(cases), (len(verdicts), len(cases), out.stderr[-2000:])
    differ = 0
    for (channel, frames), line in zip(cases, verdicts, strict=True):
        want, got = reference(channel, frames), json.loads(line)
        if not same(want, got):
            differ += 1
            if differ <= 10:
                print(f"DIFFER {channel} {frames[-1].hex()[:160]}\n  reference {want}\n"
                      f"  C         {got}")
    accepted = sum('"message"' in v for v in verdicts)
    print(f"differential: {len(cases)} bodies ({accepted} accepted), {differ} verdicts differ "
          "from the reference codec")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

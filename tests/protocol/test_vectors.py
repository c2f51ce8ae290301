"""The committed test vectors (protocol/vectors/) against the Python codec and SPEC.md.

The vectors are data, written once and committed: these tests only read them.
"""

from __future__ import annotations

import json
import re
from importlib.resources import files
from typing import Any

import msgpack
import pytest

from medialoom.protocol import codec
from medialoom.protocol.errors import CODES, RemoteProtocolError
from medialoom.protocol.messages import CHANNELS, Ping
from medialoom.protocol.vectors.regen import from_json

PROTOCOL = files("medialoom.protocol")
VALID: list[dict[str, Any]] = json.loads((PROTOCOL / "vectors" / "valid.json").read_text())
INVALID: list[dict[str, Any]] = json.loads((PROTOCOL / "vectors" / "invalid.json").read_text())
SPEC = (PROTOCOL / "SPEC.md").read_text()
ENCODABLE = [v for v in VALID if not v.get("decode_only")]


def message_of(vector: dict[str, Any]) -> Any:
    """The dataclass a vector's message stands for."""
    body = from_json(vector["message"])
    cls = CHANNELS[vector["channel"]][body.pop("cmd")]
    return cls(**body)


def frames_of(vector: dict[str, Any]) -> list[bytes]:
    """A vector's frames, built from ``frames_generated`` when they are too big to inline.

    The body is body_prefix, then the fill byte repeated, then body_suffix (if
    any), body_size bytes in all (SPEC.md section 12.2).
    """
    if "frames" in vector:
        return [bytes.fromhex(f) for f in vector["frames"]]
    gen = vector["frames_generated"]
    prefix = bytes.fromhex(gen["body_prefix"])
    suffix = bytes.fromhex(gen.get("body_suffix", ""))
    body = prefix + bytes.fromhex(gen["fill"]) * (gen["body_size"] - len(prefix) - len(suffix))
    return [bytes.fromhex(gen["tag"]), body + suffix]


def by_name(vectors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"argvalues": vectors, "ids": [v["name"] for v in vectors]}


def test_vector_files_are_well_formed() -> None:
    names = [v["name"] for v in VALID + INVALID]
    assert len(names) == len(set(names)), "vector names must be unique"
    for v in VALID:
        assert set(v) <= {"name", "channel", "frames", "message", "decode_only"}, v["name"]
        assert v["channel"] in CHANNELS
    for v in INVALID:
        assert set(v) <= {"name", "channel", "frames", "frames_generated", "error", "details",
                          "also_accept", "rid"}, v["name"]
        assert v["channel"] in CHANNELS
        assert ("rid" in v) == (v["channel"] == "client"), v["name"]
        assert v["error"] in CODES, v["name"]
        assert all(code in CODES for code in v.get("also_accept", [])), v["name"]
        assert ("frames" in v) != ("frames_generated" in v), v["name"]
        if "frames_generated" in v:
            gen = v["frames_generated"]
            assert set(gen) <= {"tag", "body_prefix", "fill", "body_suffix", "body_size"}
            assert len(bytes.fromhex(gen["fill"])) == 1, v["name"]


@pytest.mark.parametrize("vector", **by_name(ENCODABLE))
def test_encode_reproduces_frames(vector: dict[str, Any]) -> None:
    frames = codec.encode(message_of(vector), vector["channel"])
    assert [f.hex() for f in frames] == vector["frames"]


def typed(value: Any) -> Any:
    """value with every scalar paired with its type, so that 3 and 3.0 (and 1 and True) differ."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    return type(value).__name__, value


@pytest.mark.parametrize("vector", **by_name(VALID))
def test_decode_gives_message(vector: dict[str, Any]) -> None:
    decoded = codec.decode(frames_of(vector), vector["channel"])
    assert decoded == message_of(vector)
    assert typed(codec.body_of(decoded)) == typed(from_json(vector["message"]))


@pytest.mark.parametrize("vector", **by_name(INVALID))
def test_invalid_frames_raise_their_code(vector: dict[str, Any]) -> None:
    """The reference codec gives exactly ``error`` (``also_accept`` is for other decoders)."""
    with pytest.raises(RemoteProtocolError) as info:
        codec.decode(frames_of(vector), vector["channel"])
    assert info.value.code == vector["error"]
    if "details" in vector:
        assert info.value.details == vector["details"]


CLIENT_INVALID = [v for v in INVALID if v["channel"] == "client"]


@pytest.mark.parametrize("vector", **by_name(CLIENT_INVALID))
def test_invalid_client_frames_give_the_rid_of_their_error(vector: dict[str, Any]) -> None:
    """The ERROR about a refused client message carries the vector's ``rid`` (SPEC.md 4.13)."""
    assert codec.request_id(frames_of(vector)) == vector["rid"]


def test_generated_bodies_are_well_formed_pings() -> None:
    """Oversized vectors fail on size alone: their bodies are valid PING messages."""
    for vector in INVALID:
        if "frames_generated" in vector and vector["error"] == "protocol.too_large":
            tag, body = frames_of(vector)
            assert len(body) == vector["frames_generated"]["body_size"] > codec.MAX_BODY_BYTES
            whole = msgpack.unpackb(body)
            assert whole["cmd"] == "PING" and type(whole["rid"]) is int


def test_body_of_exactly_the_limit_is_accepted() -> None:
    sample = 1 << 17  # big enough for a bin 32 header, like the padded body below
    overhead = len(msgpack.packb({"cmd": "PING", "rid": 7, "pad": bytes(sample)})) - sample
    body = msgpack.packb({"cmd": "PING", "rid": 7, "pad": bytes(codec.MAX_BODY_BYTES - overhead)})
    assert len(body) == codec.MAX_BODY_BYTES
    assert codec.decode([b"MLC1", body], "client") == Ping(rid=7)


def test_every_command_has_a_valid_vector() -> None:
    covered = {(v["channel"], v["message"]["cmd"]) for v in ENCODABLE}
    missing = [(channel, word) for channel, table in CHANNELS.items() for word in table
               if (channel, word) not in covered]
    assert not missing


def test_every_error_code_is_in_spec_with_its_http_status() -> None:
    for code, (status, _meaning) in CODES.items():
        assert f"`{code}`" in SPEC, code
        assert re.search(rf"^\| `{re.escape(code)}` \| {status} \|", SPEC, re.M), code


def spec_examples() -> list[tuple[str, str, list[str]]]:
    """(name, channel, frames as hex) of every hex dump in SPEC.md."""
    examples = []
    for block in re.findall(r"^```text\n(vector .*?)^```", SPEC, re.M | re.S):
        lines = block.splitlines()
        name, channel = re.fullmatch(r"vector ([\w-]+) \((\w+) channel\)", lines[0]).groups()
        frames: list[str] = []
        for line in lines[1:]:
            if line.startswith("frame "):
                frames.append("")
            else:
                frames[-1] += line[2:49].replace(" ", "")
        examples.append((name, channel, frames))
    return examples


def test_spec_hex_examples_are_the_vectors_and_cover_every_command() -> None:
    vectors = {v["name"]: v for v in VALID}
    shown = set()
    for name, channel, frames in spec_examples():
        assert vectors[name]["channel"] == channel, name
        assert frames == vectors[name]["frames"], name
        shown.add((channel, vectors[name]["message"]["cmd"]))
    missing = [(channel, word) for channel, table in CHANNELS.items() for word in table
               if (channel, word) not in shown]
    assert not missing, "commands without a hex example in SPEC.md"

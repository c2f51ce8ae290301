"""Rewrite the frames of valid.json from its messages, SPEC.md's hex dumps from valid.json,
and bodies.json (messages of several bodies) from BODIES below.

    python protocol/vectors/regen.py

Run it after a field is added to a command (SPEC.md section 2.1): each
encodable vector's ``message`` is completed with the new fields' defaults
(keep or edit the values, then run again), its ``frames`` are encoded again,
and every ``vector NAME (CHANNEL channel)`` block of SPEC.md is redrawn.
``decode_only`` vectors are left as they are.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from medialoom.protocol import codec  # noqa: E402
from medialoom.protocol.messages import CHANNELS  # noqa: E402


def from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if list(value) == ["bin"]:
            return bytes.fromhex(value["bin"])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def dump(frames: list[str]) -> list[str]:
    """The SPEC.md lines of a hex dump: 16 bytes a line, hex then printable ASCII."""
    lines = []
    for number, hexed in enumerate(frames):
        data = bytes.fromhex(hexed)
        lines.append(f"frame {number}, {len(data)} bytes")
        for at in range(0, len(data), 16):
            chunk = data[at:at + 16]
            text = "".join(chr(b) if 0x20 <= b < 0x7f else "." for b in chunk)
            lines.append(f"  {' '.join(f'{b:02x}' for b in chunk):<47}  {text}")
    return lines


def main() -> None:
    path = HERE / "valid.json"
    vectors = json.loads(path.read_text())
    for vector in vectors:
        if vector.get("decode_only"):
            continue
        body = from_json(vector["message"])
        cls = CHANNELS[vector["channel"]][body.pop("cmd")]
        msg = cls(**body)
        full = codec.body_of(msg)
        vector["message"] = {k: vector["message"].get(k, v) for k, v in full.items()}
        vector["frames"] = [f.hex() for f in codec.encode(msg, vector["channel"])]
    path.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n")
    by_name = {v["name"]: v for v in vectors}
    spec = HERE.parent / "SPEC.md"

    def redraw(match: re.Match[str]) -> str:
        name, channel = match.group(1), match.group(2)
        body = "\n".join(dump(by_name[name]["frames"]))
        return f"```text\nvector {name} ({channel} channel)\n{body}\n```"

    text = re.sub(r"```text\nvector ([\w-]+) \((\w+) channel\)\n(?:(?!```).*\n)*?```", redraw,
                  spec.read_text())
    spec.write_text(text)


#: bodies.json (SPEC.md 12.3): messages of several bodies, each body given as a message or as
#: raw bytes (hex) that must be dropped alone (a client's gets its ERROR); tag (hex) defaults
#: to the channel's
BODIES: list[dict[str, Any]] = [
    {"name": "done-two", "channel": "worker", "bodies": [
        {"cmd": "DONE", "job": "01JDC3ZPQV7WE2N6VYBN0CG6KF", "attempt": 1},
        {"cmd": "DONE", "job": "01JDC3ZPQV7WE2N6VYBN0CG6KG", "attempt": 2}]},
    {"name": "accept-items-done", "channel": "worker", "bodies": [
        {"cmd": "ACCEPT", "job": "01JDC3ZPQV7WE2N6VYBN0CG6KF", "attempt": 1},
        {"cmd": "ITEMS", "job": "01JDC3ZPQV7WE2N6VYBN0CG6KF", "attempt": 1,
         "items": [{"path": "/srv/media/a.mp3", "status": "ok"}], "n": 1},
        {"cmd": "DONE", "job": "01JDC3ZPQV7WE2N6VYBN0CG6KF", "attempt": 1, "n": 2}]},
    {"name": "dispatch-two-and-ack", "channel": "broker", "bodies": [
        {"cmd": "DISPATCH", "job": "01JDC3ZPQV7WE2N6VYBN0CG6KF", "attempt": 1, "kind": "sleep",
         "params": {"steps": 0}},
        {"cmd": "DISPATCH", "job": "01JDC3ZPQV7WE2N6VYBN0CG6KG", "attempt": 1, "kind": "sleep",
         "params": {"steps": 0}},
        {"cmd": "ACK", "acks": [["01JDC3ZPQV7WE2N6VYBN0CG6KE", 1, 3]]}]},
    {"name": "broken-body-between-two", "channel": "worker", "bodies": [
        {"cmd": "HEARTBEAT"}, {"hex": "c1"}, {"hex": "81a3636d64a44e4f5045"},
        {"cmd": "HEARTBEAT"}]},
    {"name": "sixty-four-bodies", "channel": "worker", "bodies": [{"cmd": "HEARTBEAT"}] * 64},
    {"name": "sixty-five-bodies", "channel": "worker", "bodies": [{"cmd": "HEARTBEAT"}] * 65},
    {"name": "sixty-five-bodies-from-the-broker", "channel": "broker",
     "bodies": [{"cmd": "HEARTBEAT"}] * 65},
    {"name": "tag-only", "channel": "worker", "bodies": []},
    # -- client channel (SPEC.md 2: negotiated in HELLO)
    {"name": "client-hello-start-wait", "channel": "client", "bodies": [
        {"cmd": "HELLO", "rid": 1, "client": "medialoom-python", "batch": True},
        {"cmd": "START", "rid": 2, "kind": "sleep", "params": {"steps": 0}},
        {"cmd": "WAIT", "rid": 3, "job": "01JDC3ZPQV7WE2N6VYBN0CG6KF"}]},
    {"name": "client-broken-body-between-two", "channel": "client", "bodies": [
        {"cmd": "PING", "rid": 4}, {"hex": "c1"}, {"hex": "82a3636d64a44e4f5045a372696405"},
        {"cmd": "PING", "rid": 6}]},
    {"name": "client-sixty-five-bodies", "channel": "client",
     "bodies": [{"cmd": "PING", "rid": 7}] * 65},
    {"name": "reply-two-and-error", "channel": "reply", "bodies": [
        {"cmd": "REPLY", "rid": 2, "data": {"now": 1733000000.25}},
        {"cmd": "ERROR", "rid": 3, "code": "job.not_found",
         "message": "no job 01JDC3ZPQV7WE2N6VYBN0CG6KF",
         "details": {"job": "01JDC3ZPQV7WE2N6VYBN0CG6KF"}},
        {"cmd": "REPLY", "rid": 4, "data": {"now": 1733000000.5}}]},
    {"name": "client-tag-on-two-bodies", "channel": "worker", "tag": "4d4c4331",
     "bodies": [{"cmd": "HEARTBEAT"}] * 2},
]


def bodies() -> None:
    """Write bodies.json from BODIES: each entry's frames, and what decoding them gives:
    ``messages`` (a body that is dropped alone is ``{"error": code}``) or ``error``."""
    out = []
    for entry in BODIES:
        channel = entry["channel"]
        frames = [bytes.fromhex(entry.get("tag", codec.TAGS[channel].hex()))]
        for body in entry["bodies"]:
            if "hex" in body:
                frames.append(bytes.fromhex(body["hex"]))
                continue
            fields = dict(body)
            msg = CHANNELS[channel][fields.pop("cmd")](**fields)
            frames.append(codec.encode(msg, channel)[1])
        vector: dict[str, Any] = {"name": entry["name"], "channel": channel,
                                  "frames": [f.hex() for f in frames]}
        try:
            decoded = codec.decode_each(frames, channel)
        except codec.RemoteProtocolError as exc:
            vector["error"] = exc.code
        else:
            vector["messages"] = [
                ({"error": d.code, "rid": codec.request_id([body])} if channel == "client"
                 else {"error": d.code}) if isinstance(d, Exception) else codec.body_of(d)
                for d, body in zip(decoded, frames[1:], strict=True)]
        out.append(vector)
    (HERE / "bodies.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
    bodies()

"""Write the value-rule entries of protocol/vectors/invalid.json (SPEC.md sections 3.2.1, 12.2).

Run once after changing the list below, and commit the result:

    .venv/bin/python -m tests.protocol.make_invalid_vectors

The bodies are built here with msgpack itself (and a few by hand), not with
the codec they test.  Entries with other names in invalid.json are kept as
they are, in their order; the entries below replace their namesakes or are
appended.  Running it twice gives the same file.
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import msgpack

VECTORS = Path(__file__).resolve().parents[2] / "protocol" / "vectors" / "invalid.json"
TAGS = {"client": b"MLC1", "reply": b"MLC1", "worker": b"MLW1", "broker": b"MLW1",
        "event": b"MLE1"}
JOB = "01JDC3ZPQV7WE2N6VYBN0CG6KF"
NAN, INF = math.nan, math.inf


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def body(cmd: str, *pairs: tuple[str, bytes | Any]) -> bytes:
    """A body map: cmd first, then each (key, value); a value already packed is spliced in."""
    out = bytearray(b"\xde" + struct.pack(">H", len(pairs) + 1) if len(pairs) >= 15
                    else bytes([0x80 | (len(pairs) + 1)]))
    out += pack("cmd") + pack(cmd)
    for key, value in pairs:
        out += pack(key) + (value.raw if isinstance(value, Raw) else pack(value))
    return bytes(out)


class Raw:
    """Bytes of an already encoded msgpack value (for what msgpack-python will not write)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw


def nested(levels: int) -> Raw:
    """A params map {"a": [[...[1]...]]} that makes the body exactly levels deep."""
    # the body is level 1, params level 2, the arrays levels 3 .. levels
    return Raw(b"\x81" + pack("a") + b"\x91" * (levels - 2) + b"\x01")


def entry(name: str, channel: str, raw_body: bytes, field: str | None,
          error: str = "protocol.bad_field", also: list[str] | None = None,
          rid: int = 1) -> dict[str, Any]:
    """An invalid.json entry; on the client channel with the rid its ERROR carries (4.13)."""
    frames = [TAGS[channel], raw_body]
    if channel == "event":
        frames.insert(0, b"job/" + JOB.encode())
    e: dict[str, Any] = {"name": name, "channel": channel, "frames": [f.hex() for f in frames],
                         "error": error}
    if field is not None:
        e["details"] = {"field": field}
    if also:
        e["also_accept"] = also
    if channel == "client":
        e["rid"] = rid
    return e


def ping(*pairs: tuple[str | Raw, Any], entries: int | None = None) -> bytes:
    """A PING body: cmd, then each (key, value); a map header of entries (default: all)."""
    out = bytearray([0x80 | (entries if entries is not None else len(pairs) + 1)])
    out += pack("cmd") + pack("PING")
    for key, value in pairs:
        out += (key.raw if isinstance(key, Raw) else pack(key)) + (
            value.raw if isinstance(value, Raw) else pack(value))
    return bytes(out)


def start(params: Any) -> bytes:
    return body("START", ("rid", 1), ("kind", "sleep"), ("params", params))


ITEM = {"i": 0, "path": "/srv/media/music/a.mp3", "status": "ok", "message": "",
        "duration_ms": 1.5}
OP = {"i": 0, "op": "rename", "src": "/srv/media/music/a.mp3", "dst": "/srv/media/music/b.mp3"}


def vectors() -> list[dict[str, Any]]:
    deep_prefix = body("START", ("rid", 1), ("kind", "sleep"), ("params", Raw(b"")))
    deep_prefix += b"\x81" + pack("a")
    # a well-formed 2 MiB PING whose rid comes last, after a bin that fills the body
    late_rid = ping(("pad", Raw(b"")), entries=3)
    late_rid += b"\xc6" + ((2 << 20) - len(late_rid) - 5 - len(pack("rid") + pack(9))).to_bytes(
        4, "big")
    return [
        # -- client channel: which rid the ERROR carries (SPEC.md 4.13)
        entry("body-duplicate-key", "client", ping(("rid", 5), ("rid", 6)), None,
              "protocol.bad_frame", rid=5),
        entry("body-duplicate-cmd", "client", ping(("rid", 5), ("cmd", "STATS")), None,
              "protocol.bad_frame", rid=5),
        entry("body-truncated-after-rid", "client", ping(("rid", 5), ("x", Raw(b"")),
                                                         entries=3), None,
              "protocol.bad_frame", rid=5),
        entry("body-rid-after-int-key", "client", ping((Raw(pack(7)), "x"), ("rid", 9)), None,
              "protocol.bad_frame", rid=9),
        entry("body-rid-after-bad-utf8", "client", ping(("n", Raw(b"\xa2\xff\xfe")), ("rid", 9)),
              None, "protocol.bad_frame", rid=9),
        entry("rid-negative", "client", ping(("rid", -1)), "rid", rid=0),
        entry("rid-float", "client", ping(("rid", 1.0)), "rid", rid=0),
        entry("rid-str", "client", ping(("rid", "1")), "rid", rid=0),
        entry("rid-nil", "client", ping(("rid", None)), "rid", rid=0),
        {"name": "body-2-mib-rid-last", "channel": "client",
         "frames_generated": {"tag": TAGS["client"].hex(), "body_prefix": late_rid.hex(),
                              "fill": "00", "body_suffix": (pack("rid") + pack(9)).hex(),
                              "body_size": 2 << 20},
         "error": "protocol.too_large", "rid": 0},
        # -- client channel: element types of arrays
        entry("list-kind-map-element", "client",
              body("LIST", ("rid", 1), ("kind", [{"a": 1}])), "kind"),
        entry("list-kind-array-element", "client",
              body("LIST", ("rid", 1), ("kind", [[1]])), "kind"),
        entry("list-status-int-element", "client",
              body("LIST", ("rid", 1), ("status", ["queued", 1])), "status"),
        entry("start-paths-nil-element", "client",
              body("START", ("rid", 1), ("kind", "scan"), ("paths", [None])), "paths"),
        # -- client channel: the value rules inside params
        entry("start-params-nan", "client", start({"seconds": NAN}), "params"),
        entry("start-params-infinity", "client", start({"seconds": INF}), "params"),
        entry("start-params-minus-infinity", "client", start({"seconds": -INF}), "params"),
        entry("start-params-float32-nan", "client",
              start(Raw(b"\x81" + pack("seconds") + b"\xca\x7f\xc0\x00\x00")), "params"),
        entry("start-params-uint64-max", "client", start({"steps": (1 << 64) - 1}), "params"),
        entry("start-params-2-pow-63", "client", start({"steps": 1 << 63}), "params"),
        entry("start-params-bin", "client", start({"cover": b"\x89PNG"}), "params"),
        entry("start-params-empty-bin", "client", start({"x": b""}), "params"),
        entry("start-params-bin-key", "client", start({"a": {b"k": 1}}), "params"),
        entry("start-params-empty-bin-key", "client", start({"a": {b"": 1}}), "params"),
        entry("start-params-int-key-nested", "client", start({"a": {1: "x"}}), "params"),
        entry("start-params-timestamp-extension", "client",
              start({"at": msgpack.Timestamp(1700000000, 0)}), "params"),
        entry("start-params-extension", "client",
              start({"x": msgpack.ExtType(5, b"abc")}), "params"),
        entry("start-params-nested-33-deep", "client", start(nested(33)), "params",
              also=["protocol.bad_frame"]),
        {"name": "params-nested-100000-deep", "channel": "client",
         "frames_generated": {"tag": TAGS["client"].hex(), "body_prefix": deep_prefix.hex(),
                              "fill": "91", "body_suffix": "01",
                              "body_size": len(deep_prefix) + 100_000 + 1},
         "error": "protocol.bad_frame", "also_accept": ["protocol.bad_field"], "rid": 1},
        # -- worker channel
        entry("items-bin-in-details", "worker",
              body("ITEMS", ("job", JOB), ("attempt", 1),
                   ("items", [{**ITEM, "details": {"cover": b"\x89PNG"}}])), "items"),
        entry("items-element-not-a-map", "worker",
              body("ITEMS", ("job", JOB), ("attempt", 1), ("items", [ITEM, "x"])), "items"),
        entry("items-progress-nan", "worker",
              body("ITEMS", ("job", JOB), ("attempt", 1), ("items", [ITEM]),
                   ("progress", {"processed": 1, "rate": NAN})), "progress"),
        entry("plan-bin-in-expect", "worker",
              body("PLAN", ("job", JOB), ("attempt", 1),
                   ("ops", [{**OP, "expect": {"x": b"\x00"}}])), "ops"),
        entry("done-bin-in-result", "worker",
              body("DONE", ("job", JOB), ("attempt", 1), ("result", {"x": b"\x00"})), "result"),
        entry("cancelled-progress-infinity", "worker",
              body("CANCELLED", ("job", JOB), ("attempt", 1), ("progress", {"rate": INF})),
              "progress"),
        entry("ready-running-element-not-an-array", "worker",
              body("READY", ("kinds", ["scan"]), ("slots", 2), ("running", [JOB])), "running"),
        entry("ready-kinds-int-element", "worker",
              body("READY", ("kinds", [1]), ("slots", 2)), "kinds"),
        # -- event channel, both directions
        entry("progress-nan", "event",
              body("PROGRESS", ("job", JOB), ("attempt", 1),
                   ("progress", {"processed": 1, "rate": NAN})), "progress"),
        entry("event-ts-nan", "event",
              body("EVENT", ("job", JOB), ("seq", 1), ("status", "running"), ("ts", NAN)), "ts"),
        entry("event-error-bin", "event",
              body("EVENT", ("job", JOB), ("seq", 1), ("status", "failed"),
                   ("error", {"code": "job.failed", "message": b"x"})), "error"),
        # -- reply and broker channels
        entry("reply-data-nan", "reply", body("REPLY", ("rid", 1), ("data", {"x": NAN})), "data"),
        entry("error-details-bin", "reply",
              body("ERROR", ("rid", 1), ("code", "path.forbidden"), ("message", "no"),
                   ("details", {"path": b"/etc"})), "details"),
        entry("dispatch-params-bin", "broker",
              body("DISPATCH", ("job", JOB), ("attempt", 1), ("kind", "sleep"),
                   ("params", {"x": b"\x00"})), "params"),
        entry("page-rows-int-key", "broker",
              body("PAGE", ("rid", 1), ("rows", [{1: "x"}])), "rows"),
    ]


def main() -> None:
    new = vectors()
    names = {v["name"] for v in new}
    kept = [v for v in json.loads(VECTORS.read_text()) if v["name"] not in names]
    VECTORS.write_text(json.dumps(kept + new, indent=2) + "\n")
    print(f"{VECTORS}: {len(kept)} kept, {len(new)} written")


if __name__ == "__main__":
    main()

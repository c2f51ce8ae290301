"""Structure-aware fuzzing of the wire protocol: messages (Fuzzer) and a driver (FuzzDriver).

``Fuzzer`` builds messages for every command of the channels a broker reads
(client, worker, event), from messages.FIELDS, so commands and fields added
there are fuzzed too.  Each message is a valid body with one mutation: a
field replaced by a value from ``POOL`` (maps, lists of maps, bin, NaN,
+-inf, 2^64, 2^63, -1, "", nil, true, nesting 200 and 100,000 deep, 70 KB
strings, ...), several fields replaced, an unknown field, a missing field,
a wrong command, a wrong version tag, a wrong frame count or garbage.
Worker and event messages name a job that really runs (``running``) part of
the time.

``FuzzDriver`` sends them to a broker over real sockets -- client requests
pipelined in a bounded window with distinct rids, worker messages from a
connection that sent READY and from one that did not, events on a PUB --
and checks that every client request is answered exactly once.

Used by tests/e2e/test_fuzz.py and benchmarks/bench_fuzz.py.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import random
import struct
import time
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgpack
import zmq

from medialoom.protocol import codec
from medialoom.protocol.messages import CHANNELS, FIELDS
from medialoom.protocol.values import MAX_DEPTH

TAGS = codec.TAGS
NAN, INF = math.nan, math.inf
UNKNOWN_JOB = "01JZZZZZZZZZZZZZZZZZZZZZZZ"
#: the kind a fuzzing worker announces: no real job is ever of this kind
FUZZ_KIND = "fuzz-none"


class Raw:
    """An already encoded msgpack value, spliced into a body as it is."""

    __slots__ = ("data", "label")

    def __init__(self, data: bytes, label: str) -> None:
        self.data, self.label = data, label

    def __repr__(self) -> str:
        return f"<{self.label}>"


_packer = msgpack.Packer(use_bin_type=True)


def pack(value: Any) -> bytes:
    if type(value) is Raw:
        return value.data
    return _packer.pack(value)


def pack_map(pairs: list[tuple[Any, Any]]) -> bytes:
    """A msgpack map from (key, value) pairs, in order; Raw values are spliced in."""
    keys = {k for k, _ in pairs}
    if len(keys) == len(pairs) and not any(type(v) is Raw for _, v in pairs):
        return _packer.pack(dict(pairs))
    n = len(pairs)
    head = bytes([0x80 | n]) if n < 16 else b"\xde" + struct.pack(">H", n)
    return head + b"".join(pack(k) + pack(v) for k, v in pairs)


def nested_raw(levels: int, kind: str = "array") -> Raw:
    """Arrays ([[...[1]...]]) or maps ({"a": {"a": ... 1}}) nested `levels` deep, by hand."""
    unit = b"\x91" if kind == "array" else b"\x81\xa1a"
    return Raw(unit * levels + b"\x01", f"{kind}s nested {levels} deep")


def nested(levels: int, kind: str = "array") -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value] if kind == "array" else {"a": value}
    return value


#: values substituted for fields, unknown fields and commands (each is wrong for most fields)
POOL: list[Any] = [
    {"a": 1}, {}, {"a": {"b": [1, 2, {"c": None}]}}, [{"a": 1}], [{}], [[1]], [], ["x"],
    [1, "x"], ["x", None], b"\x00", b"", {"a": b"\x00"}, [b"x"], [{"details": {"x": b"\x01"}}],
    NAN, INF, -INF, {"a": NAN}, [INF], {"a": [-INF]},
    float(1 << 64),  # 2^64 itself has no msgpack encoding (uint 64 stops at 2^64 - 1)
    (1 << 64) - 1, 1 << 63, (1 << 63) - 1, -1, -(1 << 63), 0, 1, 1000, 1001, 1.5, -0.0,
    "", "x", "normal", "-created", "completed", "plan", None, True, False,
    {1: 2}, {"a": {2: "x"}}, {b"k": 1}, {"a": {b"": 1}}, [{1: 1}],
    msgpack.ExtType(1, b"x"), Raw(b"\xd6\xff" + bytes(4), "timestamp 32"),
    msgpack.Timestamp(0, 0),
    {"a": msgpack.ExtType(5, b"")},
    Raw(b"\xca\x7f\xc0\x00\x00", "float 32 NaN"), Raw(b"\x81\xa1a\xcb\xff\xf0" + bytes(6), "-inf"),
    nested(200), nested(200, "map"), {"a": nested(MAX_DEPTH - 2)}, {"a": nested(MAX_DEPTH - 1)},
    nested_raw(100_000), nested_raw(1_100, "map"), Raw(b"\x81\xa1a" + b"\x91" * 5_000 + b"\xc0",
                                                       "a map over arrays 5,000 deep"),
    "x" * 70_000, {"a": "é" * 35_000}, ["x" * 70_000], [{"message": "y" * 70_000}],
    # finite but extreme numbers in a progress map: what the broker derives from them (ETA,
    # percent) must stay finite too
    5e-324, 1e308, {"processed": 1, "total": 10**18, "rate": 5e-324},
    {"processed": 10**18, "total": 1, "rate": 1e308, "succeeded": -1, "current": 7},
]
UNKNOWN_NAMES = ["zz", "", "x" * 300, "Job", "rid ", "cmd\x00", "é"]
BAD_TAGS = [b"", b"MLC2", b"MLW1", b"MLC1", b"MLE1", b"mlc1", b"MLC", b"MLC11", b"\x00" * 4,
            b"x" * 40]


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory  # called for each message: a fresh list or map
    return dataclasses.MISSING


def _sample(hint: Any) -> Any:
    """A plain valid value of a type hint (for required fields the table below leaves out)."""
    if hint is str:
        return "x"
    if hint is int:
        return 1
    if hint is float:
        return 1.0
    if hint is bool:
        return False
    origin = typing.get_origin(hint)
    return [] if origin is list else {} if origin is dict else None


@dataclass
class Fuzzer:
    """Seeded generator of fuzzed messages for the three channels a broker reads."""

    seed: int
    finished: str = UNKNOWN_JOB  #: a finished job (client requests name it: WAIT answers at once)
    running: tuple[str, int] | None = None  #: (job id, attempt) of a job that really runs
    rng: random.Random = field(init=False)

    ITEM = {"i": 0, "path": "/x/a.mp3", "status": "ok", "message": "", "duration_ms": 1.0,
            "details": {}}
    OP = {"i": 0, "op": "rename", "src": "/x/a.mp3", "dst": "/x/b.mp3", "expect": {"size": 1},
          "status": "planned", "message": "", "details": {}}

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.commands = {ch: list(table.values()) for ch, table in CHANNELS.items()}
        self.words = sorted({w for t in CHANNELS.values() for w in t})
        self.defaults = {
            cls: [(f.name, _default(f), typing.get_type_hints(cls)[f.name])
                  for f in dataclasses.fields(cls)]
            for table in self.commands.values() for cls in table}

    # --- valid bodies ------------------------------------------------------------------

    def _job(self, channel: str) -> tuple[str, int]:
        r = self.rng.random()
        if channel != "client" and self.running is not None and r < 0.5:
            job, attempt = self.running
            return job, self.rng.choice([attempt, attempt, attempt, attempt + 1, 0])
        return (self.finished if r < 0.85 else UNKNOWN_JOB), 1

    def base(self, cls: type, channel: str, rid: int) -> list[tuple[str, Any]]:
        """A valid body of cls as (key, value) pairs, cmd first."""
        job, attempt = self._job(channel)
        word = cls.WORD  # type: ignore[attr-defined]
        special: dict[str, Any] = {"rid": rid, "job": job, "attempt": attempt, "source": job}
        if word == "START":
            special.update(kind="sleep", params={"seconds": 0, "steps": 1})
        elif word == "LIST":
            special.update(status=["completed"], kind=["sleep"], limit=5)
        elif word in ("RESULTS", "PLAN") and channel == "client":
            special.update(limit=5)
        elif word == "READY":
            running = [[job, attempt]] if job != self.finished and self.rng.random() < 0.3 else []
            special.update(kinds=[FUZZ_KIND], slots=1, host="fuzz", running=running)
        elif word == "ITEMS":
            special.update(items=[self.ITEM], progress={"processed": 1, "total": 10})
        elif word == "PLAN":
            special.update(ops=[self.OP])
        elif word == "FAILED":
            special.update(code="job.failed", message="fuzz")
        elif word == "FETCH":
            special.update(what=self.rng.choice(["plan", "items"]), limit=5)
        elif word == "PROGRESS":
            special.update(progress={"processed": 1, "total": 10, "current": "/x/a.mp3"})
        elif word == "EVENT":
            special.update(status="running")
        pairs: list[tuple[str, Any]] = [("cmd", word)]
        for name, default, hint in self.defaults[cls]:
            if name in special:
                value = special[name]
            elif default is dataclasses.MISSING:
                value = _sample(hint)
            else:
                value = default() if callable(default) else default
            pairs.append((name, value))
        return pairs

    # --- mutations -----------------------------------------------------------------------

    def _plan(self, channel: str) -> list[Case]:
        """One of every mutation of every command of channel."""
        plan: list[Case] = []
        for cls in self.commands[channel]:
            fields = [name for name, _, _ in FIELDS[cls]]
            plan.append((channel, cls, "valid", None))
            plan += [(channel, cls, "set", (name, i)) for name in fields for i in range(len(POOL))]
            plan += [(channel, cls, "unknown", (UNKNOWN_NAMES[i % len(UNKNOWN_NAMES)], i))
                     for i in range(0, len(POOL), 3)]
            plan += [(channel, cls, "missing", name) for name in ["cmd", *fields]]
            plan += [(channel, cls, "tag", tag) for tag in BAD_TAGS]
            plan += [(channel, cls, "frames", shape) for shape in range(len(FRAME_SHAPES))]
            plan += [(channel, cls, "cmd", cmd) for cmd in BAD_CMDS]
            plan += [(channel, cls, "garbage", i) for i in range(GARBAGE)]
            plan += [(channel, cls, "multi", None)] * max(2, len(fields))
        return plan

    def cases(self, channels: tuple[str, ...] = ("client", "worker", "event")) -> Iterator[Case]:
        """Every mutation of every command on channels, shuffled, round after round for ever.

        Each round also draws the job a message names (finished, unknown or the
        running one) and, in driver.py, the connection it comes from, anew.
        """
        while True:
            plan = [case for channel in channels for case in self._plan(channel)]
            self.rng.shuffle(plan)
            yield from plan

    def build(self, case: Case, rid: int = 1) -> tuple[list[bytes], str]:
        """Frames of one fuzzed message, and a short description of it."""
        channel, cls, mutation, arg = case
        rng = self.rng
        pairs = self.base(cls, channel, rid)
        fields = [name for name, _, _ in FIELDS[cls]]
        tag = TAGS[channel]
        what = mutation
        body: bytes | None = None
        if mutation == "set":
            name, value = arg[0], POOL[arg[1]]
            pairs = [(k, value if k == name else v) for k, v in pairs]
            what = f"{name}={value!r:.60}"
        elif mutation == "multi":
            names = rng.sample(fields, min(len(fields), rng.randrange(2, 4))) if fields else []
            subs = {n: rng.choice(POOL) for n in names}
            pairs = [(k, subs.get(k, v)) for k, v in pairs]
            if rng.random() < 0.3:
                pairs.insert(rng.randrange(1, len(pairs) + 1), ("zz", rng.choice(POOL)))
            what = "multi " + ", ".join(f"{n}={v!r:.30}" for n, v in subs.items())
        elif mutation == "unknown":
            name, value = arg[0], POOL[arg[1]]
            pairs.insert(rng.randrange(1, len(pairs) + 1), (name, value))
            what = f"unknown {name[:20]!r}={value!r:.40}"
        elif mutation == "missing":
            pairs = [(k, v) for k, v in pairs if k != arg]
            what = f"missing {arg}"
        elif mutation == "cmd":
            pairs[0] = ("cmd", arg)
            what = f"cmd={arg!r:.40}"
        elif mutation == "tag":
            tag = arg
            what = f"tag={tag[:12]!r}"
        elif mutation == "frames":
            frames = FRAME_SHAPES[arg](tag, pack_map(pairs))
            return frames, f"{cls.WORD}: {len(frames)} frames"
        elif mutation == "garbage":
            whole = pack_map(pairs)
            body = [whole[: rng.randrange(len(whole))], whole + b"\xc1", whole + whole,
                    rng.randbytes(rng.randrange(1, 64)), b"\x93\x01\x02\x03", b"\xc1",
                    pack("MLC1"), b""][arg]
        if body is None:
            if channel == "client" and rng.random() < 0.002:
                pairs.append(("pad", "x" * (codec.MAX_BODY_BYTES + 10)))
                what += " over 1 MiB"
            body = pack_map(pairs)
        frames = [tag, body]
        if channel == "event":
            job = dict(pairs).get("job")
            frames.insert(0, codec.topic(job if isinstance(job, str) else "x"))
        return frames, f"{cls.WORD}: {what}"


Case = tuple[str, type, str, Any]


def answered_rids(frames: list[bytes]) -> list[int]:
    """The rids of the replies a client message gets (SPEC.md 2, 4.13): one per body of a
    message of 1 to 64 bodies, each read from its body; else one, read from the last frame."""
    if 3 <= len(frames) <= codec.MAX_BODIES + 1:
        return [codec.request_id([body]) for body in frames[1:]]
    return [codec.request_id(frames)]

#: wrong frame counts: (tag, body) -> frames (for events the topic frame is then missing or extra)
FRAME_SHAPES: list[Callable[[bytes, bytes], list[bytes]]] = [
    lambda tag, body: [tag],
    lambda tag, body: [body],
    lambda tag, body: [b""],
    lambda tag, body: [tag, body, b"\x80"],
    lambda tag, body: [tag, tag, body],
    lambda tag, body: [b"job/x", b"job/x", tag, body],
    lambda tag, body: [tag, body, body, body],
]
BAD_CMDS: list[Any] = ["", "NOPE", "start", "Ping", "REPLY", "DISPATCH", "EVENT", "PAGE", "ACK",
                       None, 1, b"PING", ["PING"], {"a": 1}, NAN, "x" * 70_000]
GARBAGE = 8


@dataclass
class FuzzStats:
    """What a fuzz run sent and what came back."""

    sent: collections.Counter[str] = field(default_factory=collections.Counter)
    replies: collections.Counter[str] = field(default_factory=collections.Counter)
    requests: int = 0  #: client requests sent: a message of several bodies is several
    internal: list[str] = field(default_factory=list)  #: requests answered ``internal``
    elapsed_s: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.sent.values())


class FuzzDriver:
    """Sends a Fuzzer's messages to a broker and checks the client channel's replies."""

    def __init__(self, ctx: zmq.Context[Any], clients: str, workers: str, events_in: str,
                 fuzzer: Fuzzer, window: int = 64,
                 alive: Callable[[], None] = lambda: None) -> None:
        """alive() raises if the broker is gone; it is called often and on every timeout."""
        self.fuzzer, self.window, self.alive = fuzzer, window, alive
        self.client = ctx.socket(zmq.DEALER)
        self.ready = ctx.socket(zmq.DEALER)  # sends READY first, heartbeats, re-READYs
        self.unready = ctx.socket(zmq.DEALER)  # never sends a valid READY on purpose
        self.pub = ctx.socket(zmq.PUB)
        for sock, endpoint in ((self.client, clients), (self.ready, workers),
                               (self.unready, workers), (self.pub, events_in)):
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(endpoint)
        self.rid = 0
        #: rid -> how many requests with it still wait for their reply (rid 0: unreadable)
        self.pending: collections.Counter[int] = collections.Counter()
        self.what: dict[int, collections.deque[str]] = collections.defaultdict(collections.deque)
        self.unexpected: list[str] = []
        #: the last messages sent, newest last: the repro when the broker dies
        self.recent: collections.deque[tuple[str, list[bytes], str]] = collections.deque(
            maxlen=200)
        self.stats = FuzzStats()
        self.last_beat = 0.0
        self.ready_frames = codec.encode(
            CHANNELS["worker"]["READY"](kinds=[FUZZ_KIND], slots=1, host="fuzz"), "worker")
        self.ready.send_multipart(self.ready_frames)
        time.sleep(0.3)  # let the PUB's subscription from the broker's XSUB arrive

    def close(self) -> None:
        self.ready.send_multipart(codec.encode(CHANNELS["worker"]["DISCONNECT"](reason="fuzz"),
                                               "worker"))
        for sock in (self.client, self.ready, self.unready, self.pub):
            sock.close(linger=100)

    # --- sending -----------------------------------------------------------------------

    def _send(self, sock: zmq.Socket[Any], frames: list[bytes], channel: str, what: str) -> None:
        self.recent.append((channel, frames, what))
        deadline = time.monotonic() + 30
        while True:
            try:
                sock.send_multipart(frames, zmq.NOBLOCK)
                break
            except zmq.Again:
                if time.monotonic() > deadline:
                    self.alive()
                    raise AssertionError(f"the broker stopped reading the {channel} channel") \
                        from None
                self.drain(0.01)
        self.stats.sent[channel] += 1

    def send_client(self, case: Case) -> None:
        while sum(self.pending.values()) >= self.window:
            self.drain(5.0, wait=True)
        self.rid += 1
        frames, what = self.fuzzer.build(case, self.rid)
        for rid in answered_rids(frames):  # the broker answers under these (0: unreadable)
            self.stats.requests += 1
            self.pending[rid] += 1
            self.what[rid].append(what)
        self._send(self.client, frames, "client", what)

    def send_worker(self, case: Case) -> None:
        ready = self.fuzzer.rng.random() < 0.5
        frames, what = self.fuzzer.build(case)
        self._send(self.ready if ready else self.unready, frames, "worker",
                   ("ready: " if ready else "unready: ") + what)

    def send_event(self, case: Case) -> None:
        frames, what = self.fuzzer.build(case)
        self._send(self.pub, frames, "event", what)

    # --- receiving -----------------------------------------------------------------------

    def drain(self, timeout_s: float = 0.0, wait: bool = False) -> None:
        """Read every reply and worker message there is (waiting up to timeout_s if wait)."""
        if wait and not self.client.poll(int(timeout_s * 1000)):
            self.alive()
            waiting = [f"rid {rid}: {list(self.what[rid])}" for rid, n in self.pending.items()
                       if n > 0][:10]
            raise AssertionError(f"no reply within {timeout_s} s; waiting for {waiting}")
        while self.client.poll(0):
            self._on_reply(self.client.recv_multipart())
        for sock in (self.ready, self.unready):
            while sock.poll(0):
                frames = sock.recv_multipart()
                if sock is self.ready and len(frames) == 2 and b"DISCONNECT" in frames[1]:
                    self.ready.send_multipart(self.ready_frames)  # the broker forgot us
        now = time.monotonic()
        if now - self.last_beat > 0.2:
            self.last_beat = now
            self.ready.send_multipart(codec.encode(CHANNELS["worker"]["HEARTBEAT"](), "worker"))

    def _on_reply(self, frames: list[bytes]) -> None:
        # several bodies once a fuzzed HELLO said batch: true (SPEC.md 2)
        for reply in codec.decode_each(frames, "reply"):
            if isinstance(reply, Exception):
                raise reply
            self._count_reply(reply)

    def _count_reply(self, reply: Any) -> None:
        rid = reply.rid
        if self.pending[rid] <= 0:
            self.unexpected.append(f"{reply!r:.300}")
            return
        self.pending[rid] -= 1
        what = self.what[rid].popleft()
        code = getattr(reply, "code", "REPLY")
        self.stats.replies[code] += 1
        if code == "internal":
            self.internal_reply(what, reply)

    def internal_reply(self, what: str, reply: Any) -> None:
        self.stats.internal.append(f"{what} -> {reply.message}")

    # --- a run ---------------------------------------------------------------------------

    def run(self, n: int) -> FuzzStats:
        """Send n messages of the fuzzer's cases (every mutation of every command, in rounds)."""
        send = {"client": self.send_client, "worker": self.send_worker, "event": self.send_event}
        cases = self.fuzzer.cases()
        t0 = time.perf_counter()
        for i in range(n):
            case = next(cases)
            send[case[0]](case)
            if i % 64 == 0:
                self.drain()
            if i % 1000 == 0:
                self.alive()
        self.finish()
        self.stats.elapsed_s = time.perf_counter() - t0
        return self.stats

    def finish(self) -> None:
        """Wait for every pending reply, then a moment more for duplicates."""
        while sum(self.pending.values()) > 0:
            self.alive()
            self.drain(10.0, wait=True)
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            self.drain()
            time.sleep(0.02)
        self.pending += collections.Counter()  # drop zero counts

    def repro(self, last: int = 20) -> str:
        """The last messages sent, as hex (long frames cut), newest last."""
        lines = []
        for channel, frames, what in list(self.recent)[-last:]:
            shown = [f.hex() if len(f) <= 96 else f"{f[:48].hex()}...({len(f)} bytes)"
                     for f in frames]
            lines.append(f"{channel} {what}: {shown}")
        return "\n".join(lines)

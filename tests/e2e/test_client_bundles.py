"""Several requests in one client message, and replies bundled for the connections that
said HELLO ``batch: true`` (SPEC.md 2): each body is answered as if it came alone, a broken
body gets its own ERROR, and a connection that did not ask gets one body per message."""

from __future__ import annotations

import asyncio

import msgpack
import pytest
import zmq

from medialoom.clients.client import AsyncClient
from medialoom.protocol import codec
from tests.support import System

pytestmark = pytest.mark.e2e


def _body(cmd: str, rid: int, **fields: object) -> bytes:
    return msgpack.packb({"cmd": cmd, "rid": rid, **fields})


def _messages(sock: zmq.Socket, replies: int, timeout_s: float = 10.0) -> list[list[dict]]:
    """The reply messages until `replies` bodies have come, each as its list of bodies."""
    got: list[list[dict]] = []
    while sum(map(len, got)) < replies:
        assert sock.poll(int(timeout_s * 1000)), f"only {got} of {replies} replies"
        frames = sock.recv_multipart()
        assert frames[0] == b"MLC1"
        got.append([msgpack.unpackb(f) for f in frames[1:]])
    return got


def test_a_bundle_is_answered_body_by_body_in_one_bundle(raw_dealer: zmq.Socket) -> None:
    raw_dealer.send_multipart([b"MLC1", _body("HELLO", 1, batch=True), _body("PING", 2), b"\xc1",
                           _body("NOPE", 5), _body("STATUS", 6, job=7), _body("PING", 8)])
    (replies,) = _messages(raw_dealer, 6)  # all of one turn: one message
    assert [r["rid"] for r in replies] == [1, 2, 0, 5, 6, 8]
    hello = replies[0]["data"]
    assert hello["batch"] is True and hello["limits"]["max_bodies"] == codec.MAX_BODIES
    assert [r.get("code") for r in replies[1:]] == [
        None, "protocol.bad_frame", "protocol.unknown_command", "protocol.bad_field", None]
    assert replies[1]["cmd"] == replies[5]["cmd"] == "REPLY"


def test_replies_come_one_to_a_message_unless_the_connection_asked(raw_dealer: zmq.Socket) -> None:
    raw_dealer.send_multipart([b"MLC1", *[_body("PING", rid) for rid in (1, 2, 3)]])
    got = _messages(raw_dealer, 3)
    assert [len(m) for m in got] == [1, 1, 1]
    assert sorted(m[0]["rid"] for m in got) == [1, 2, 3]
    # asked, then took it back: one body per message again
    raw_dealer.send_multipart([b"MLC1", _body("HELLO", 4, batch=True), _body("PING", 5)])
    assert [len(m) for m in _messages(raw_dealer, 2)] == [2]
    raw_dealer.send_multipart([b"MLC1", _body("HELLO", 6), _body("PING", 7), _body("PING", 8)])
    got = _messages(raw_dealer, 3)
    assert [len(m) for m in got] == [1, 1, 1]
    assert [m[0]["rid"] for m in got] == [6, 7, 8]


def test_more_than_64_requests_in_a_message_get_one_error(raw_dealer: zmq.Socket) -> None:
    raw_dealer.send_multipart([b"MLC1", *[_body("PING", 9)] * 65])
    (only,) = _messages(raw_dealer, 1)
    assert only[0]["code"] == "protocol.bad_frame" and only[0]["rid"] == 9
    assert not raw_dealer.poll(300), "the 65 requests were not answered one by one"


def test_the_async_client_bundles_once_the_broker_said_so(system: System) -> None:
    async def run() -> tuple[bool, list[str]]:
        async with AsyncClient(system.clients, system.events_out, timeout_s=30) as c:
            assert await c.ping() > 0
            jobs = await asyncio.gather(*[c.start("sleep", params={"steps": 3})
                                          for _ in range(150)])
            done = await asyncio.gather(*[c.wait(j["id"], poll_s=30) for j in jobs])
            return c._bundles, [d["status"] for d in done]

    bundles, statuses = asyncio.run(run())
    assert bundles is True
    assert statuses == ["completed"] * 150


def test_a_hello_without_batch_sends_what_waited_one_to_a_message(raw_dealer: zmq.Socket) -> None:
    raw_dealer.send_multipart([b"MLC1", _body("HELLO", 1, batch=True), _body("PING", 2),
                           _body("HELLO", 3), _body("PING", 4)])
    got = _messages(raw_dealer, 4)
    assert [[r["rid"] for r in m] for m in got] == [[1], [2], [3], [4]]

"""The worker's plain DEALER on the loop (workers/channel.py): real sockets over TCP.

ZMQ_FD is edge-triggered: a send can consume the edge that announced a reply
which has already arrived, and a channel that trusts the FD alone then sleeps
for good.  These exchanges hang (and fail on their bound) if it does.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import zmq

from medialoom.workers.channel import BUDGET, Channel
from tests.support import free_ports

#: a hang, not a slow machine, is what these bounds catch
BOUND_S = 30.0


def echo(ctx: zmq.Context[Any], endpoint: str, count: int, extra: bool) -> threading.Thread:
    """A ROUTER peer in a thread that answers each of count messages (with extra, twice)."""
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind(endpoint)

    def serve() -> None:
        try:
            for _ in range(count):
                if not router.poll(int(BOUND_S * 1000)):
                    return
                peer, body = router.recv_multipart()
                router.send_multipart([peer, body])
                if extra:
                    router.send_multipart([peer, b"extra"])
        finally:
            router.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def dealer(ctx: zmq.Context[Any], endpoint: str, sndhwm: int = 1000) -> zmq.Socket[Any]:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, sndhwm)
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.connect(endpoint)
    return sock


def test_replies_that_arrive_while_we_send_are_not_left_waiting() -> None:
    count = 500
    endpoint = f"tcp://127.0.0.1:{free_ports(1)[0]}"
    ctx = zmq.Context()
    peer = echo(ctx, endpoint, count, extra=True)

    async def exchange() -> list[bytes]:
        got: list[bytes] = []
        done = asyncio.get_running_loop().create_future()

        def handle(frames: list[bytes]) -> None:
            got.append(frames[0])
            n = sum(1 for b in got if b != b"extra")
            if frames[0] == b"extra":
                if len(got) == 2 * count and not done.done():
                    done.set_result(None)
            elif n < count:  # each reply is answered with the next message
                channel.send([str(n).encode()])

        channel = Channel(handle)
        channel.attach(dealer(ctx, endpoint))
        channel.send([b"0"])
        try:
            await asyncio.wait_for(done, BOUND_S)
        finally:
            channel.close(None, 0)
        return got

    try:
        got = asyncio.run(exchange())
    finally:
        peer.join(BOUND_S)
        ctx.term()
    assert [b for b in got if b != b"extra"] == [str(i).encode() for i in range(count)]
    assert got.count(b"extra") == count


def test_a_full_queue_keeps_messages_in_order_until_the_peer_comes() -> None:
    count = 2000
    endpoint = f"tcp://127.0.0.1:{free_ports(1)[0]}"
    ctx = zmq.Context()

    async def exchange() -> tuple[int, list[bytes]]:
        channel = Channel(lambda frames: None)
        channel.attach(dealer(ctx, endpoint, sndhwm=10))
        for i in range(count):  # nobody listens yet: the socket's queue fills, zmq.Again
            channel.send([str(i).encode()])
        await asyncio.sleep(0.2)
        backlog = len(channel.outbox)
        router = ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.bind(endpoint)
        got: list[bytes] = []
        try:
            async with asyncio.timeout(BOUND_S):
                while len(got) < count:
                    try:
                        got.append(router.recv_multipart(zmq.NOBLOCK)[1])
                    except zmq.Again:
                        await asyncio.sleep(0.005)
        finally:
            channel.close(None, 0)
            router.close()
        return backlog, got

    try:
        backlog, got = asyncio.run(exchange())
    finally:
        ctx.term()
    assert backlog > 0  # some met zmq.Again and waited in the outbox
    assert got == [str(i).encode() for i in range(count)]


def test_a_burst_longer_than_one_pump_is_read_to_its_end() -> None:
    count = 10 * BUDGET
    endpoint = f"tcp://127.0.0.1:{free_ports(1)[0]}"
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.setsockopt(zmq.SNDHWM, 0)  # a ROUTER drops what meets its high-water mark
    router.bind(endpoint)

    async def exchange() -> list[bytes]:
        got: list[bytes] = []
        done = asyncio.get_running_loop().create_future()

        def handle(frames: list[bytes]) -> None:
            got.append(frames[0])
            if len(got) == count:
                done.set_result(None)

        channel = Channel(handle)
        channel.attach(dealer(ctx, endpoint))
        channel.send([b"hello"])
        try:
            async with asyncio.timeout(BOUND_S):
                while not router.poll(0):  # noqa: ASYNC110 (a plain socket: no event to await)
                    await asyncio.sleep(0.005)
                peer = router.recv_multipart()[0]
                for i in range(count):  # all queued at the DEALER before it reads one
                    router.send_multipart([peer, str(i).encode()])
                await done
        finally:
            channel.close(None, 0)
        return got

    try:
        got = asyncio.run(exchange())
    finally:
        router.close()
        ctx.term()
    assert got == [str(i).encode() for i in range(count)]

"""The floor, tuned: the same 3-process relay as relay.py, but every process uses plain pyzmq
sockets inside asyncio, woken through their edge-triggered FD and drained with NOBLOCK, the
technique broker/actor.py itself uses (it costs a fraction of zmq.asyncio per message).

    python -m benchmarks.relay_drained broker FRONT BACK
    python -m benchmarks.relay_drained worker BACK

relay.py's straightforward zmq.asyncio relay is the floor issue 9's target names; this one is
what the same stack can do with the broker's own I/O technique.  Both are printed.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Callable

import msgpack
import zmq

from benchmarks.common import ROOT, Procs, cpu_s, free_ports
from benchmarks.relay import RelayRound

BUDGET = 256  # messages read from one socket before the next socket gets a turn


def plain(ctx: zmq.Context[zmq.Socket[bytes]], kind: int) -> zmq.Socket[bytes]:
    sock = ctx.socket(kind)
    for option, value in ((zmq.LINGER, 0), (zmq.SNDHWM, 0), (zmq.RCVHWM, 0)):
        sock.setsockopt(option, value)
    return sock


async def drain(handlers: list[tuple[zmq.Socket[bytes], Callable[[list[bytes]], bool]]]
                ) -> None:
    """Feed every message of every socket to its handler until a handler returns False."""
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    socks = [s for s, _ in handlers]
    for s in socks:
        loop.add_reader(s.FD, wake.set)
    try:
        while True:
            busy = False
            for sock, handler in handlers:
                for _ in range(BUDGET):
                    try:
                        frames = sock.recv_multipart(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    busy = True
                    if not handler(frames):
                        return
            if busy:
                await asyncio.sleep(0)
                continue
            wake.clear()
            # edge-triggered: look again after clearing, a send may have taken the edge
            if any(s.getsockopt(zmq.EVENTS) & zmq.POLLIN for s in socks):
                continue
            await wake.wait()
    finally:
        for s in socks:
            loop.remove_reader(s.FD)


async def relay_broker(front_ep: str, back_ep: str) -> None:
    ctx = zmq.Context()
    front, back = plain(ctx, zmq.ROUTER), plain(ctx, zmq.ROUTER)
    front.bind(front_ep)
    back.bind(back_ep)
    worker: list[bytes] = []

    def on_front(frames: list[bytes]) -> bool:
        back.send_multipart([worker[0], *frames], zmq.NOBLOCK)
        return True

    def on_back(frames: list[bytes]) -> bool:
        if not worker:
            worker.append(frames[0])  # its READY
        else:
            front.send_multipart(frames[1:], zmq.NOBLOCK)
        return True

    # the worker says READY before any client can be answered, so front waits for it
    await drain([(back, lambda f: on_back(f) and False)])
    await drain([(front, on_front), (back, on_back)])


async def relay_worker(back_ep: str) -> None:
    ctx = zmq.Context()
    sock = plain(ctx, zmq.DEALER)
    sock.connect(back_ep)
    sock.send(b"READY")

    def on_request(frames: list[bytes]) -> bool:
        client_id, body = frames
        job = msgpack.unpackb(body)
        sock.send_multipart([client_id, msgpack.packb({"id": job["id"], "ok": True})],
                            zmq.NOBLOCK)
        return True

    await drain([(sock, on_request)])


class DrainedRelay:
    """The drained relay broker and worker as child processes; the caller is the client."""

    def __init__(self) -> None:
        front, back = free_ports(2)
        self.front, self.back = f"tcp://127.0.0.1:{front}", f"tcp://127.0.0.1:{back}"
        self.procs = Procs()

    def __enter__(self) -> DrainedRelay:
        cmd = [sys.executable, "-m", "benchmarks.relay_drained"]
        self.procs.add(subprocess.Popen([*cmd, "broker", self.front, self.back], cwd=ROOT))
        time.sleep(0.2)
        self.procs.add(subprocess.Popen([*cmd, "worker", self.back], cwd=ROOT))
        return self

    def __exit__(self, *exc: object) -> None:
        self.procs.stop()

    def measure(self, n: int, window: int, cap_s: float, latency_n: int) -> RelayRound:
        """As Relay.measure, with a drained client."""
        return asyncio.run(self._measure(n, window, cap_s, latency_n))

    async def _measure(self, n: int, window: int, cap_s: float, latency_n: int) -> RelayRound:
        ctx = zmq.Context()
        sock = plain(ctx, zmq.DEALER)
        sock.connect(self.front)
        try:
            for _ in range(200):  # wait until the worker is there: one answered request
                sock.send(msgpack.packb({"id": -1}))
                if sock.poll(100):
                    sock.recv()
                    break
            else:
                raise RuntimeError("the drained relay did not answer within 20 s")
            while sock.poll(200):
                sock.recv()
            pids = [p.pid for p in self.procs.procs]
            cpu0 = cpu_s(pids) + time.process_time()
            stop = time.monotonic() + cap_s
            counts = {"sent": 0, "done": 0}

            def send() -> None:
                sock.send(msgpack.packb({"id": counts["sent"], "kind": "noop"}), zmq.NOBLOCK)
                counts["sent"] += 1

            def on_reply(frames: list[bytes]) -> bool:
                msgpack.unpackb(frames[0])
                counts["done"] += 1
                if counts["sent"] < n and time.monotonic() < stop:
                    send()
                return counts["done"] < counts["sent"]

            t0 = time.perf_counter()
            for _ in range(min(window, n)):
                send()
            await drain([(sock, on_reply)])
            elapsed = time.perf_counter() - t0
            cpu = cpu_s(pids) + time.process_time() - cpu0
            lat = []
            for i in range(latency_n):  # one in flight: a blocking recv is the quickest wait
                t = time.perf_counter()
                sock.send(msgpack.packb({"id": i, "kind": "noop"}))
                msgpack.unpackb(sock.recv())
                lat.append((time.perf_counter() - t) * 1000)
            done = counts["done"]
            return RelayRound(done / elapsed, done, lat, cpu / done * 1e6)
        finally:
            sock.close(linger=0)
            ctx.term()


def main() -> None:
    role, *eps = sys.argv[1:]
    coro = relay_broker(*eps) if role == "broker" else relay_worker(*eps)
    try:
        asyncio.run(coro)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

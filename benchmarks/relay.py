"""The floor: a raw asyncio pyzmq relay in three processes (client, broker, worker).

    python -m benchmarks.relay broker FRONT BACK    # ROUTER front (clients), ROUTER back (worker)
    python -m benchmarks.relay worker BACK          # DEALER: answers each request
    python -m benchmarks.relay proxy IN OUT         # XSUB in, XPUB out: zmq.proxy (events floor)

The bench process is the client (``measure``): it keeps a window of requests in flight
and counts round trips per second, then sends one at a time for the latency.  The relay
forwards frames without decoding them; the worker unpacks each msgpack request and packs a
reply, which is the least any job system does per job.  Everything is plain asyncio pyzmq,
the stack medialoom itself runs on, so ``ours / floor`` says what medialoom's own work costs.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from dataclasses import dataclass

import msgpack
import zmq
import zmq.asyncio

from benchmarks import host
from benchmarks.common import ROOT, Procs, cpu_s, free_ports


async def relay_broker(front_ep: str, back_ep: str) -> None:
    """Forward client requests to the worker and replies back to their client."""
    ctx = zmq.asyncio.Context()
    front, back = ctx.socket(zmq.ROUTER), ctx.socket(zmq.ROUTER)
    for sock in (front, back):
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 0)
        sock.setsockopt(zmq.RCVHWM, 0)
    front.bind(front_ep)
    back.bind(back_ep)
    worker_id = (await back.recv_multipart())[0]  # the worker's READY

    async def requests() -> None:
        while True:
            client_id, body = await front.recv_multipart()
            await back.send_multipart([worker_id, client_id, body])

    async def replies() -> None:
        while True:
            _, client_id, body = await back.recv_multipart()
            await front.send_multipart([client_id, body])

    async with asyncio.TaskGroup() as tg:
        tg.create_task(requests())
        tg.create_task(replies())


async def relay_worker(back_ep: str) -> None:
    """Answer every request: unpack it, pack a reply naming its id."""
    ctx = zmq.asyncio.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.setsockopt(zmq.RCVHWM, 0)
    sock.connect(back_ep)
    await sock.send(b"READY")
    while True:
        client_id, body = await sock.recv_multipart()
        job = msgpack.unpackb(body)
        await sock.send_multipart([client_id, msgpack.packb({"id": job["id"], "ok": True})])


@dataclass
class RelayRound:
    """One round through the relay."""

    rate: float  # round trips/s with window requests in flight
    trips: int  # how many that was
    latency_ms: list[float]  # one in flight
    cpu_ms_per_1k: float  # CPU ms of client + relay + worker per 1,000 round trips
    idle: float = host.NAN  # % of the machine's cores idle during the pipelined part


class Relay:
    """The relay broker and worker as child processes; the caller is the client."""

    def __init__(self) -> None:
        front, back = free_ports(2)
        self.front, self.back = f"tcp://127.0.0.1:{front}", f"tcp://127.0.0.1:{back}"
        self.procs = Procs()

    def __enter__(self) -> Relay:
        cmd = [sys.executable, "-m", "benchmarks.relay"]
        self.procs.add(subprocess.Popen([*cmd, "broker", self.front, self.back], cwd=ROOT))
        time.sleep(0.2)  # let it bind before the worker connects (zmq would retry anyway)
        self.procs.add(subprocess.Popen([*cmd, "worker", self.back], cwd=ROOT))
        return self

    def __exit__(self, *exc: object) -> None:
        self.procs.stop()

    def measure(self, n: int, window: int, cap_s: float, latency_n: int) -> RelayRound:
        """Pipelined rate over n round trips (or those sent within cap_s), then latency_n one
        at a time."""
        return asyncio.run(self._measure(n, window, cap_s, latency_n))

    async def _measure(self, n: int, window: int, cap_s: float, latency_n: int) -> RelayRound:
        ctx = zmq.asyncio.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(self.front)
        try:
            for _ in range(200):  # wait until the worker is there: one answered request
                await sock.send(msgpack.packb({"id": -1}))
                if await sock.poll(100):
                    await sock.recv()
                    break
            else:
                raise RuntimeError("the relay did not answer within 20 s")
            while await sock.poll(200):  # drop answers to the retries
                await sock.recv()
            pids = [p.pid for p in self.procs.procs]
            cpu0 = cpu_s(pids) + time.process_time()
            watch = host.Watch().start()
            t0 = time.perf_counter()
            in_flight = asyncio.Semaphore(window)
            sent = 0

            async def send() -> None:
                nonlocal sent
                stop = time.monotonic() + cap_s
                while sent < n and time.monotonic() < stop:
                    await in_flight.acquire()
                    await sock.send(msgpack.packb({"id": sent, "kind": "noop"}))
                    sent += 1
                await sock.send(msgpack.packb({"id": -2}))  # the end: answered after the rest

            sender = asyncio.create_task(send())
            while msgpack.unpackb(await sock.recv())["id"] != -2:
                in_flight.release()
            await sender
            elapsed = time.perf_counter() - t0
            idle = watch.stop().idle
            cpu = cpu_s(pids) + time.process_time() - cpu0
            lat = []
            for i in range(latency_n):
                t = time.perf_counter()
                await sock.send(msgpack.packb({"id": i, "kind": "noop"}))
                msgpack.unpackb(await sock.recv())
                lat.append((time.perf_counter() - t) * 1000)
            return RelayRound(sent / elapsed, sent, lat, cpu / sent * 1e6, idle)
        finally:
            sock.close(linger=0)
            ctx.term()


class EventProxy:
    """The events floor: libzmq's own XSUB -> XPUB proxy in a child process."""

    def __init__(self) -> None:
        ports = free_ports(2)
        self.events_in, self.events_out = (f"tcp://127.0.0.1:{p}" for p in ports)
        self.procs = Procs()

    def __enter__(self) -> EventProxy:
        self.procs.add(subprocess.Popen([sys.executable, "-m", "benchmarks.relay", "proxy",
                                         self.events_in, self.events_out], cwd=ROOT))
        time.sleep(0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        self.procs.stop()


def proxy(in_ep: str, out_ep: str) -> None:
    ctx = zmq.Context()
    xsub, xpub = ctx.socket(zmq.XSUB), ctx.socket(zmq.XPUB)
    for sock in (xsub, xpub):
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 1_000_000)
        sock.setsockopt(zmq.RCVHWM, 1_000_000)
    xsub.bind(in_ep)
    xpub.bind(out_ep)
    zmq.proxy(xsub, xpub)


def main() -> None:
    role, *eps = sys.argv[1:]
    if role == "proxy":
        try:
            proxy(*eps)
        except KeyboardInterrupt:
            pass
        return
    coro = relay_broker(*eps) if role == "broker" else relay_worker(*eps)
    try:
        asyncio.run(coro)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

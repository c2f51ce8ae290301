"""Core fabric figures (issue #2): relay floor, START ack, jobs/s, STATUS under load,
events/s to one subscriber, broker RSS after 100,000 finished jobs."""

from __future__ import annotations

import argparse
import asyncio
import threading
import time

import msgpack
import zmq
import zmq.asyncio

from benchmarks.common import Fabric, free_ports, pct, rss_mb
from medialoom.clients.client import AsyncClient
from medialoom.protocol import codec
from medialoom.protocol import messages as m

# --- 1. the floor: a raw asyncio pyzmq client -> broker -> worker -> client relay ---------


async def raw_relay(n: int) -> tuple[float, float]:
    """Pipelined msgs/s and one-at-a-time p50 (ms) through a ROUTER/ROUTER relay."""
    ctx = zmq.asyncio.Context()
    pc, pw = free_ports(2)
    front, back = ctx.socket(zmq.ROUTER), ctx.socket(zmq.ROUTER)
    front.bind(f"tcp://127.0.0.1:{pc}")
    back.bind(f"tcp://127.0.0.1:{pw}")
    worker, client = ctx.socket(zmq.DEALER), ctx.socket(zmq.DEALER)
    worker.connect(f"tcp://127.0.0.1:{pw}")
    client.connect(f"tcp://127.0.0.1:{pc}")
    await worker.send(b"READY")
    wid = (await back.recv_multipart())[0]

    async def broker() -> None:
        poller = zmq.asyncio.Poller()
        poller.register(front, zmq.POLLIN)
        poller.register(back, zmq.POLLIN)
        while True:
            for sock, _ in await poller.poll():
                frames = await sock.recv_multipart()
                if sock is front:
                    await back.send_multipart([wid, frames[0], frames[1]])
                else:
                    await front.send_multipart([frames[1], frames[2]])

    async def serve() -> None:
        while True:
            cid, body = await worker.recv_multipart()
            job = msgpack.unpackb(body)
            await worker.send_multipart([cid, msgpack.packb({"ok": job["id"]})])

    tasks = [asyncio.create_task(broker()), asyncio.create_task(serve())]
    t0 = time.perf_counter()
    for i in range(n):
        await client.send(msgpack.packb({"id": i}))
    for _ in range(n):
        await client.recv()
    rate = n / (time.perf_counter() - t0)
    lat = []
    for i in range(1000):
        t = time.perf_counter()
        await client.send(msgpack.packb({"id": i}))
        await client.recv()
        lat.append((time.perf_counter() - t) * 1000)
    for t in tasks:
        t.cancel()
    ctx.destroy(linger=0)
    return rate, pct(lat, 50)


# --- 2.-6. ours ---------------------------------------------------------------------------


def ack_latency(f: Fabric, n: int) -> tuple[float, float]:
    """START -> ack (persisted) latency, one at a time, ms p50/p99 (no workers run them)."""
    lat = []
    with f.client() as c:
        for _ in range(n):
            t = time.perf_counter()
            c.start("sleep", params={"steps": 0})
            lat.append((time.perf_counter() - t) * 1000)
    return pct(lat, 50), pct(lat, 99)


async def jobs_per_second(f: Fabric, n: int) -> float:
    """No-op jobs started pipelined and awaited to completion, per second."""
    async with AsyncClient(f.clients, f.events_out, timeout_s=120) as c:
        t0 = time.perf_counter()
        window = asyncio.Semaphore(2000)

        async def one() -> str:
            async with window:
                job = await c.start("sleep", params={"steps": 0})
                done = await c.wait(job["id"], poll_s=60)
                return done["status"]

        statuses = await asyncio.gather(*[one() for _ in range(n)])
        elapsed = time.perf_counter() - t0
    assert statuses.count("completed") == n, {s: statuses.count(s) for s in set(statuses)}
    return n / elapsed


def status_under_load(f: Fabric) -> tuple[float, float, int]:
    """STATUS p50/p99 ms while two jobs stream items and progress on both workers."""
    with f.client() as c:
        jobs = [c.start("sleep", params={"seconds": 4, "steps": 200_000})["id"] for _ in range(2)]
        while any(c.status(j)["status"] != "running" for j in jobs):
            time.sleep(0.01)
        lat = []
        end = time.monotonic() + 3
        while time.monotonic() < end:
            t = time.perf_counter()
            c.status(jobs[0])
            lat.append((time.perf_counter() - t) * 1000)
            time.sleep(0.002)
        for j in jobs:
            c.cancel(j)
    return pct(lat, 50), pct(lat, 99), len(lat)


def events_per_second(f: Fabric, seconds: float = 3.0) -> tuple[float, float]:
    """EVENTs delivered to one subscriber while a raw PUB pushes PROGRESS at full speed."""
    with f.client() as c:
        job = c.start("sleep", params={"seconds": 600, "steps": 10})
        while c.status(job["id"])["status"] != "running":
            time.sleep(0.01)
        attempt = c.status(job["id"])["attempts"]
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 1_000_000)
    sub.connect(f.events_out)
    sub.setsockopt(zmq.SUBSCRIBE, codec.topic(job["id"]))
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 1_000_000)
    pub.connect(f.events_in)
    time.sleep(0.5)
    received = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal received
        while not stop.is_set():
            if sub.poll(100):
                while True:
                    try:
                        sub.recv_multipart(zmq.NOBLOCK)
                        received += 1
                    except zmq.Again:
                        break

    reader = threading.Thread(target=count)
    reader.start()
    sent = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            sent += 1
            pub.send_multipart(codec.encode(m.Progress(job=job["id"], attempt=attempt, progress={
                "processed": sent, "total": 10**9, "current": "x"}), "event"))
    elapsed = time.perf_counter() - t0
    time.sleep(0.5)
    stop.set()
    reader.join()
    with f.client() as c:
        c.cancel(job["id"])
    pub.close(0)
    sub.close(0)
    ctx.term()
    return received / elapsed, sent / elapsed


async def rss_after(f: Fabric, n: int) -> float:
    """Broker RSS (MB) after n no-op jobs have finished."""
    await jobs_per_second(f, n)
    return rss_mb(f.broker.pid)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    args = p.parse_args()
    n_jobs, n_rss = (2000, 10_000) if args.quick else (10_000, 100_000)
    rate, p50 = asyncio.run(raw_relay(20_000))
    print(f"floor  raw asyncio pyzmq relay client->broker->worker->client: {rate:,.0f} msg/s "
          f"pipelined, p50 {p50:.3f} ms one at a time")
    with Fabric(workers=0) as f:
        a50, a99 = ack_latency(f, 3000)
        print(f"ours   START ack (persisted, SQLite WAL group commit), jobs stay queued: "
              f"p50 {a50:.3f} ms, p99 {a99:.3f} ms   [target p50 <= 1 ms; floor p50 {p50:.3f} ms]")
    with Fabric(workers=2, slots=64) as f:
        a50, a99 = ack_latency(f, 2000)
        print(f"ours   START ack while 2 workers run each job at once (5 processes, 2 cores): "
              f"p50 {a50:.3f} ms, p99 {a99:.3f} ms")
        jps = asyncio.run(jobs_per_second(f, n_jobs))
        print(f"ours   no-op jobs end to end, 2 worker processes: {jps:,.0f} jobs/s "
              f"({n_jobs} jobs)   [target >= 2,000; Celery+Redis 685, Dramatiq 1,650; "
              f"{jps / rate * 100:.0f}% of the raw relay's msg/s]")
        s50, s99, samples = status_under_load(f)
        print(f"ours   STATUS under progress load (2 workers streaming): p50 {s50:.2f} ms, "
              f"p99 {s99:.2f} ms over {samples} requests   [limit p99 250 ms]")
        got, sent = events_per_second(f)
        print(f"ours   events delivered to one subscriber: {got:,.0f} events/s (publisher pushed "
              f"{sent:,.0f}/s)   [target >= 30,000]")
    with Fabric(workers=2, slots=64) as f:
        rss = asyncio.run(rss_after(f, n_rss))
        print(f"ours   broker RSS after {n_rss:,} finished jobs: {rss:.0f} MB   [target <= 150 MB]")


if __name__ == "__main__":
    main()

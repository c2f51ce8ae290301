"""Gateway benchmark: GET /api/v1/jobs/{id} requests/s, and event -> WebSocket delay.

    .venv/bin/python benchmarks/bench_gateway.py [--seconds 5] [--concurrency 32]
                                                 [--subscribers 200] [--steps 300] [--rounds 3]

Starts a broker, two worker processes and the gateway as separate processes
(as ``medialoom up`` does) on loopback, then:

1. GET /api/v1/jobs/{id} of a finished job from ``--concurrency`` keep-alive
   connections for ``--seconds``: requests/s and latency p50/p99, next to the
   same STATUS asked directly with the asyncio client (the gateway's cost).
2. ``--subscribers`` WebSocket clients follow one sleep job of ``--steps``
   steps; each update's delay is its arrival time minus the broker's publish
   timestamp (``ts``, same clock): p50/p99 over all clients and events (a p99
   only over 1,000 samples or more), next
   to a plain ZeroMQ SUB in this process receiving the same events.  The
   clients all run in this one process, so the delay includes reading 200
   sockets here; the worker -> broker hop before ``ts`` is not included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import zmq
import zmq.asyncio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support: the launcher

from benchmarks.report import show, show_latency, show_ratio  # noqa: E402
from medialoom.clients.client import AsyncClient  # noqa: E402
from medialoom.protocol import codec  # noqa: E402
from tests.support import System, make_system  # noqa: E402


def start_gateway(system: System, data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """The gateway process and its URL."""
    proc = subprocess.Popen([sys.executable, "-m", "medialoom.clients.gateway", "--listen",
                             "127.0.0.1:0", "--endpoint", system.clients, "--events",
                             system.events_out, "--data-dir", str(data_dir), "--log-level",
                             "WARNING"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        found = re.search(r"medialoom gateway: (http://\S+/)", line)
        if found:
            return proc, found.group(1)
    raise SystemExit("the gateway did not start")


async def get_rate(url: str, job_id: str, seconds: float,
                   concurrency: int) -> tuple[float, list[float]]:
    """GET /api/v1/jobs/{id} from concurrency connections for seconds."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def loop() -> None:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                async with session.get(f"{url}api/v1/jobs/{job_id}") as r:
                    await r.read()
                    assert r.status == 200
                latencies.append(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, [v * 1000 for v in latencies]


async def status_rate(system: System, job_id: str, seconds: float,
                      concurrency: int) -> tuple[float, list[float]]:
    """The same STATUS through AsyncClient directly (no HTTP)."""
    ctx = zmq.asyncio.Context()
    client = AsyncClient(system.clients, system.events_out, ctx=ctx)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            await client.status(job_id)
            latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await client.close()
    ctx.destroy(linger=0)
    return len(latencies) / elapsed, [v * 1000 for v in latencies]


async def ws_delay(url: str, system: System, subscribers: int,
                   steps: int) -> tuple[list[float], list[float]]:
    """Delays broker publish -> WebSocket client, and -> a direct SUB, for one job."""
    ctx = zmq.asyncio.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(system.events_out)
    sub.setsockopt(zmq.SUBSCRIBE, b"job/")
    client = AsyncClient(system.clients, system.events_out, ctx=ctx)
    ws_delays: list[float] = []
    sub_delays: list[float] = []
    finals: list[int] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = [await session.ws_connect(f"{url}api/v1/ws") for _ in range(subscribers)]
        await asyncio.sleep(0.3)
        job = await client.start("sleep", params={"seconds": steps * 0.02, "steps": steps})
        topic = codec.topic(job["id"])

        async def follow(ws: aiohttp.ClientWebSocketResponse) -> None:
            await ws.send_json({"subscribe": job["id"], "since": 0})
            async for msg in ws:
                now = time.time()
                data = json.loads(msg.data)
                if data["type"] == "update":
                    ws_delays.append(now - data["ts"])
                if data["type"] in ("update", "snapshot") and \
                        data["job"]["status"] in ("completed", "failed", "cancelled"):
                    finals.append(data["job"]["seq"])
                    return

        async def direct() -> None:
            while True:
                frames = await sub.recv_multipart()
                now = time.time()
                if frames[0] != topic:
                    continue
                body = codec.unpack_body(frames[-1])
                sub_delays.append(now - body["ts"])
                if body["status"] in ("completed", "failed", "cancelled"):
                    return

        await asyncio.gather(direct(), *(follow(ws) for ws in sockets))
        await asyncio.gather(*(ws.close() for ws in sockets))
    final = await client.status(job["id"])
    await client.close()
    sub.close()
    ctx.destroy(linger=0)
    assert len(finals) == subscribers and set(finals) == {final["seq"]}, "a client missed the end"
    return [v * 1000 for v in ws_delays], [v * 1000 for v in sub_delays]


async def run(args: argparse.Namespace, system: System, url: str) -> None:
    client = AsyncClient(system.clients, system.events_out)
    job = await client.start("sleep", params={"seconds": 0, "steps": 1})
    await client.wait(job["id"])
    await client.close()
    await get_rate(url, job["id"], 1.0, args.concurrency)  # warm up
    http: list[float] = []
    direct: list[float] = []
    lat: dict[str, list[list[float]]] = {"http": [], "direct": [], "ws": [], "sub": []}
    for _ in range(args.rounds):
        rate, http_lat = await get_rate(url, job["id"], args.seconds, args.concurrency)
        http.append(rate)
        lat["http"].append(http_lat)
        rate, direct_lat = await status_rate(system, job["id"], args.seconds, args.concurrency)
        direct.append(rate)
        lat["direct"].append(direct_lat)
        ws, sub = await ws_delay(url, system, args.subscribers, args.steps)
        lat["ws"].append(ws)
        lat["sub"].append(sub)
    how = f"{args.concurrency} connections, {args.seconds:g} s"
    show("ours", f"GET /api/v1/jobs/{{id}} ({how})", http, "req/s")
    show_latency("ours", "GET /api/v1/jobs/{id} latency", lat["http"])
    show("ours", f"STATUS via AsyncClient, same load ({how})", direct, "req/s")
    show_latency("ours", "STATUS via AsyncClient latency", lat["direct"])
    show_ratio("HTTP / direct STATUS (req/s)", http, direct)
    show_latency("ours", f"event -> WebSocket, {args.subscribers} subscribers", lat["ws"],
                 note=f"{min(len(s) for s in lat['sub'])}+ events a round; every client "
                 "ended with the final seq")
    show_latency("ours", "event -> direct ZeroMQ SUB (same run)", lat["sub"])


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--subscribers", type=int, default=200)
    p.add_argument("--steps", type=int, default=300, help="steps of the followed sleep job")
    p.add_argument("--rounds", type=int, default=3, help="repeats of each figure")
    return p


def main() -> int:
    args = parser().parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        system = make_system(Path(tmp))
        system.start_broker()
        system.start_worker()
        system.start_worker()
        proc, url = start_gateway(system, Path(tmp) / "gateway")
        try:
            asyncio.run(run(args, system, url))
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            if proc.stdout is not None:
                proc.stdout.close()
            system.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

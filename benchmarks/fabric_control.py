"""Control-plane answers: START and CANCEL acks idle and under item load, STATUS under
progress load.

- idle: a broker with no workers; START one at a time (the job stays queued), then CANCEL
  each of those jobs one at a time (a queued job is cancelled at once).
- under load: a fresh broker and 2 worker processes per round, each running a ``sleep`` job of
  10,000,000 steps and no delay, so both stream ITEMS (and progress) as fast as the broker
  takes them.  Meanwhile ``clients`` client sockets, each with ``window`` requests in flight,
  START long ``sleep`` jobs (a few run, the rest stay queued), then CANCEL all of them
  (``job.finished`` is a normal answer there: a job may end before its cancel), then ask
  STATUS of a streaming job (one request in flight per client).  The item rate the load
  reached during the round is printed beside it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.common import Fabric
from benchmarks.report import show, show_latency
from medialoom.clients.client import AsyncClient, ClientError

LOAD_STEPS = 10_000_000
LONG = {"seconds": 600, "steps": 1}


@dataclass
class Sizes:
    """How much each round does."""

    idle: int  # START and CANCEL one at a time, each
    load: int  # START and CANCEL under load, each
    status: int  # STATUS under load
    clients: int = 4
    window: int = 8
    cap_s: float = 20.0  # per phase; a phase that runs out has fewer samples (p99 n/a)


@dataclass
class Rounds:
    idle_start: list[list[float]] = field(default_factory=list)
    idle_cancel: list[list[float]] = field(default_factory=list)
    load_start: list[list[float]] = field(default_factory=list)
    load_cancel: list[list[float]] = field(default_factory=list)
    load_status: list[list[float]] = field(default_factory=list)
    item_rate: list[float] = field(default_factory=list)


def cancel_quietly(c: Any, job_id: str) -> None:
    """CANCEL, where an answer of job.finished (it ended first) is as good as the ack."""
    try:
        c.cancel(job_id)
    except ClientError as exc:
        if exc.code != "job.finished":
            raise


def idle_round(f: Fabric, n: int, out: Rounds) -> None:
    start, cancel, ids = [], [], []
    with f.client(timeout_s=30) as c:
        for _ in range(n):
            t = time.perf_counter()
            ids.append(c.start("sleep", params=LONG)["id"])
            start.append((time.perf_counter() - t) * 1000)
        for job_id in ids:
            t = time.perf_counter()
            cancel_quietly(c, job_id)
            cancel.append((time.perf_counter() - t) * 1000)
    out.idle_start.append(start)
    out.idle_cancel.append(cancel)


async def pipelined(f: Fabric, ask: Callable[[AsyncClient, int], Awaitable[Any]], count: int,
                    clients: int, window: int, cap_s: float) -> list[float]:
    """Latencies (ms) of count requests from clients sockets, window in flight on each."""
    conns = [AsyncClient(f.clients, f.events_out, timeout_s=120) for _ in range(clients)]
    todo = iter(range(count))
    lat: list[float] = []
    stop = time.monotonic() + cap_s

    async def lane(c: AsyncClient) -> None:
        for i in todo:
            if time.monotonic() > stop:
                return
            t = time.perf_counter()
            try:
                await ask(c, i)
            except ClientError as exc:
                if exc.code != "job.finished":
                    raise
            lat.append((time.perf_counter() - t) * 1000)

    try:
        async with asyncio.TaskGroup() as tg:
            for c in conns:
                for _ in range(window):
                    tg.create_task(lane(c))
    finally:
        for c in conns:
            await c.close()
    return lat


def processed(c: Any, jobs: list[str]) -> int:
    return sum(c.status(j)["progress"]["processed"] for j in jobs)


async def load_phases(f: Fabric, s: Sizes, load: list[str], out: Rounds) -> None:
    ids: list[str] = []

    async def start(c: AsyncClient, i: int) -> None:
        ids.append((await c.start("sleep", params=LONG))["id"])

    async def cancel(c: AsyncClient, i: int) -> None:
        await c.cancel(ids[i])

    async def status(c: AsyncClient, i: int) -> None:
        await c.status(load[i % len(load)])

    out.load_start.append(await pipelined(f, start, s.load, s.clients, s.window, s.cap_s))
    out.load_cancel.append(await pipelined(f, cancel, len(ids), s.clients, s.window, s.cap_s))
    out.load_status.append(await pipelined(f, status, s.status, s.clients, 1, s.cap_s))


def load_round(s: Sizes, out: Rounds) -> None:
    with Fabric(workers=2, slots=16) as f, f.client(timeout_s=120) as c:
        load = [c.start("sleep", params={"seconds": 0, "steps": LOAD_STEPS})["id"]
                for _ in range(2)]
        deadline = time.monotonic() + 30
        while not all(c.status(j)["progress"]["processed"] > 0 for j in load):
            if time.monotonic() > deadline:
                raise RuntimeError("the load jobs did not start streaming within 30 s")
            time.sleep(0.05)
        time.sleep(1.0)  # into the steady state
        before, t0 = processed(c, load), time.perf_counter()
        asyncio.run(load_phases(f, s, load, out))
        after, elapsed = processed(c, load), time.perf_counter() - t0
        still = [c.status(j)["status"] for j in load]
        out.item_rate.append((after - before) / elapsed)
        if any(status != "running" for status in still):
            print(f"       warning: a load job ended during the round ({still})", flush=True)
        for job_id in load:  # jobs a capped phase left go with this broker (one per round)
            cancel_quietly(c, job_id)


def run(rounds: int, s: Sizes) -> None:
    """Idle rounds on one broker, then load rounds each on a fresh one; print the figures."""
    out = Rounds()
    with Fabric(workers=0) as f:
        for _ in range(rounds):
            idle_round(f, s.idle, out)
    for r in range(rounds):
        t0 = time.monotonic()
        load_round(s, out)
        print(f"       load round {r + 1}/{rounds}: {time.monotonic() - t0:.0f} s", flush=True)
    show_latency("ours", "START ack, no workers, 1 in flight", out.idle_start,
                 p99_target="<= 2 ms")
    show_latency("ours", "CANCEL ack of a queued job, no workers, 1 in flight", out.idle_cancel)
    show("ours", "item load: item results stored/s while 2 workers stream", out.item_rate,
         "items/s")
    how = f"{s.clients} clients x {s.window} in flight"
    show_latency("ours", f"START ack under item load ({how})", out.load_start,
                 p99_target="<= 50 ms")
    show_latency("ours", f"CANCEL ack under item load ({how})", out.load_cancel,
                 p99_target="<= 50 ms")
    show_latency("ours", f"STATUS under progress load ({s.clients} clients x 1 in flight)",
                 out.load_status, p99_target="<= 250 ms")

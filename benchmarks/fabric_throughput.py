"""Throughput and single-job latency: the raw relay floor, ours, and the anchors, interleaved.

Each round runs every system in turn, each started fresh and stopped after its turn, so
nothing else of the benchmark is running while one is measured:

- floor: benchmarks/relay.py, client -> ROUTER relay -> worker -> client in three processes,
  written the plain zmq.asyncio way (issue 9's floor), and benchmarks/relay_drained.py, the
  same with plain sockets drained from asyncio as broker/actor.py does (what the stack can do);
- ours: a broker and 2 worker processes (SLOTS slots each); the client keeps ``window`` jobs in
  flight, each a START of a no-op ``sleep`` (steps 0) and a WAIT for its completion;
- Celery (2 solo-pool worker processes) and Dramatiq (2 processes x 8 threads), both on a
  fresh redis-server, when ``make bench-anchors`` has installed them.

All run the same workload (anchors.Load): ``jobs`` no-op jobs with ``window`` in flight, no
new one started after ``cap_s`` (so a slow system bounds the run time, and its rate is over
the jobs it did), then single jobs one at a time, start to completed, ``latency_jobs`` of them
or as many as fit in ``latency_cap_s``.  Ratios are taken per round (paired), then the median.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field

from benchmarks import anchors, host
from benchmarks.common import Fabric, cpu_s, pct
from benchmarks.relay import Relay
from benchmarks.relay_drained import DrainedRelay
from benchmarks.report import show, show_latency, show_ratio, spread
from medialoom.clients.client import AsyncClient

#: jobs each worker process runs at once in the throughput and RSS runs (a no-op job is done
#: in microseconds, so more slots mean bigger batches; the figures of issue 9 used 64 too)
SLOTS = 64


@dataclass
class Sizes:
    """How much each round does: the anchors' Load (jobs, window, caps), the relay's count."""

    load: anchors.Load
    relay_jobs: int
    relay_cap_s: float


@dataclass
class Rounds:
    """Figures of one system over the rounds."""

    rate: list[float] = field(default_factory=list)
    jobs: list[int] = field(default_factory=list)
    latency: list[list[float]] = field(default_factory=list)
    cpu: list[dict[str, float]] = field(default_factory=list)
    host: list[host.Shares] = field(default_factory=list)  # the host while it was measured


async def no_op_jobs(f: Fabric, n: int, window: int, cap_s: float = 1e9
                     ) -> tuple[float, int, dict[str, float]]:
    """n no-op jobs (START + WAIT; none started after cap_s) with window in flight: jobs/s,
    how many, and CPU us per job by process role."""
    async with AsyncClient(f.clients, f.events_out, timeout_s=120) as c:
        todo = iter(range(n))
        statuses: dict[str, int] = {}
        stop = time.monotonic() + cap_s

        async def lane() -> None:
            for _ in todo:
                if time.monotonic() > stop:
                    return
                job = await c.start("sleep", params={"steps": 0})
                done = await c.wait(job["id"], poll_s=60)
                statuses[done["status"]] = statuses.get(done["status"], 0) + 1

        workers = [p.pid for p in f.worker_procs]
        broker0, workers0, client0 = cpu_s([f.broker.pid]), cpu_s(workers), time.process_time()
        t0 = time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for _ in range(min(window, n)):
                tg.create_task(lane())
        elapsed = time.perf_counter() - t0
        cpu = {"broker": cpu_s([f.broker.pid]) - broker0, "workers": cpu_s(workers) - workers0,
               "client": time.process_time() - client0}
    done = sum(statuses.values())
    if statuses != {"completed": done}:
        raise RuntimeError(f"no-op jobs ended {statuses}, expected all completed")
    return done / elapsed, done, {k: v / done * 1e6 for k, v in cpu.items()}


def single_jobs(f: Fabric, n: int, cap_s: float) -> list[float]:
    """Start to completed (ms) of single no-op jobs, one at a time."""
    lat = []
    stop = time.monotonic() + cap_s
    with f.client(timeout_s=60) as c:
        while len(lat) < n and time.monotonic() < stop:
            t = time.perf_counter()
            job = c.start("sleep", params={"steps": 0})
            if c.wait(job["id"], poll_s=30)["status"] != "completed":
                raise RuntimeError(f"no-op job {job['id']} did not complete")
            lat.append((time.perf_counter() - t) * 1000)
    return lat


def ours_round(s: anchors.Load, out: Rounds) -> None:
    with Fabric(workers=2, slots=SLOTS) as f:
        asyncio.run(no_op_jobs(f, min(500, s.jobs), s.window))  # warm up
        with host.Watch(f.broker.pid) as watch:
            rate, jobs, cpu = asyncio.run(no_op_jobs(f, s.jobs, s.window, s.cap_s))
        out.host.append(watch.shares)
        out.rate.append(rate)
        out.jobs.append(jobs)
        out.cpu.append(cpu)
        out.latency.append(single_jobs(f, s.latency_jobs, s.latency_cap_s))


def relay_round(s: Sizes, out: Rounds, kind: type[Relay] | type[DrainedRelay]) -> None:
    with kind() as relay:
        r = relay.measure(s.relay_jobs, s.load.window, s.relay_cap_s, s.load.latency_jobs)
    out.rate.append(r.rate)
    out.jobs.append(r.trips)
    out.latency.append(r.latency_ms)
    out.cpu.append({"all": r.cpu_ms_per_1k})
    out.host.append(host.Shares(idle=r.idle))


def run(rounds: int, s: Sizes, with_anchors: bool) -> None:
    """Measure every system rounds times, interleaved, and print the figures."""
    systems: dict[str, Rounds] = {"floor": Rounds(), "drained": Rounds(), "ours": Rounds()}
    names = list(anchors.ANCHORS) if with_anchors else []
    systems.update({name: Rounds() for name in names})
    if with_anchors:
        print(f"anchors: {anchors.versions()}", flush=True)
    for r in range(rounds):
        t0 = time.monotonic()
        relay_round(s, systems["floor"], Relay)
        relay_round(s, systems["drained"], DrainedRelay)
        ours_round(s.load, systems["ours"])
        for name in names:
            a = anchors.ANCHORS[name](s.load)
            systems[name].rate.append(a.rate)
            systems[name].jobs.append(a.jobs)
            systems[name].latency.append(a.latency_ms)
        print(f"       round {r + 1}/{rounds}: {time.monotonic() - t0:.0f} s", flush=True)

    floor, drained, ours = systems["floor"], systems["drained"], systems["ours"]
    how = f"{s.load.window} in flight"
    show("floor", f"raw relay, 3 processes, zmq.asyncio (issue 9's floor), round trips ({how})",
         floor.rate, "/s", note=_counted(floor, "round trips"))
    show("floor", "  CPU per round trip, 3 processes", [c["all"] for c in floor.cpu], "us")
    show_latency("floor", "raw relay (zmq.asyncio) round trip, 1 in flight", floor.latency)
    show("floor", f"raw relay, 3 processes, plain sockets drained from asyncio as the broker "
         f"does, round trips ({how})", drained.rate, "/s", note=_counted(drained, "round trips"))
    show("floor", "  CPU per round trip, 3 processes", [c["all"] for c in drained.cpu], "us")
    show_latency("floor", "raw relay (drained) round trip, 1 in flight", drained.latency)
    show("ours", f"no-op jobs end to end, 2 worker processes x {SLOTS} slots ({how})",
         ours.rate, "jobs/s", target=">= 5,000", note=_counted(ours))
    cpu = {k: [c[k] for c in ours.cpu] for k in ours.cpu[0]}
    show("ours", "  CPU per job: broker", cpu["broker"], "us")
    show("ours", "  CPU per job: 2 workers together", cpu["workers"], "us")
    show("ours", "  CPU per job: client (this process)", cpu["client"], "us")
    show_latency("ours", "single no-op job, start -> completed, 1 in flight", ours.latency)
    _show_host(floor, ours)
    show_ratio("ours / floor (jobs/s per zmq.asyncio relay round trip/s)", ours.rate, floor.rate,
               target=">= 0.55")
    show_ratio("ours / drained floor (jobs/s per drained relay round trip/s)", ours.rate,
               drained.rate)
    for name in names:
        a = systems[name]
        how_a = ("2 solo-pool worker processes" if name == "Celery"
                 else "2 processes x 8 threads")
        show(name.lower(), f"{name}+Redis no-op jobs, {how_a} ({how})", a.rate, "jobs/s",
             note=_counted(a))
        show_latency(name.lower(), f"{name}+Redis single no-op job, send -> result",
                     a.latency)
        show_ratio(f"ours / {name} (jobs/s)", ours.rate, a.rate,
                   target=">= 3" if name == "Dramatiq" else "")
        show_ratio(f"{name} / ours (single-job p50 latency)",
                   [pct(x, 50) for x in a.latency], [pct(x, 50) for x in ours.latency])
    if not with_anchors:
        print(f"anchors not measured: {anchors.HOW}", flush=True)



def _show_host(floor: Rounds, ours: Rounds) -> None:
    """How the machine's cores were used while the floor and ours ran pipelined: a system
    that leaves them idle while its busiest thread waits for a CPU is held back by the
    host's scheduling, not by its CPU per job (benchmarks/host.py)."""
    cores = f"{os.cpu_count()} cores"
    show("host", f"machine idle while the zmq.asyncio floor ran ({cores})",
         [h.idle for h in floor.host], "%")
    show("host", f"machine idle while ours ran ({cores})", [h.idle for h in ours.host], "%",
         note=f"steal {spread([h.steal for h in ours.host], '%')}")
    show("host", "  broker main thread: running", [h.ran for h in ours.host], "% of the time")
    show("host", "  broker main thread: runnable, waiting for a CPU",
         [h.waited for h in ours.host], "% of the time")


def _counted(r: Rounds, what: str = "jobs") -> str:
    lo, hi = min(r.jobs), max(r.jobs)
    return f"{lo:,} {what} a round" if lo == hi else f"{lo:,}-{hi:,} {what} a round"

"""What CURVE costs (issue 12, item 3): the same fabric with CURVE off and on, side by side.

    .venv/bin/python -m benchmarks.bench_curve [--quick] [--rounds N] [--jobs N] [--window N]

Each round starts a broker and 2 worker processes (16 slots each) twice, CURVE off then on
(the order alternates from round to round), each on fresh loopback ports with its own data
dir; with CURVE the broker binds its four sockets as CURVE servers with a ZAP allow-list,
the workers use a worker key and the client a client key.  In each:

- START ack: ``starts`` no-op jobs started one at a time, the START round trip (the ack is
  sent once the job row is committed), p50 and p99;
- end to end: ``jobs`` no-op jobs (``sleep`` with steps 0), START + WAIT with ``window`` in
  flight, jobs/s (none started after ``cap_s``), and the broker's CPU per job.

The ratio CURVE on / off of jobs/s is taken per round (paired) [target >= 0.80: CURVE costs
at most 20% of throughput].
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from benchmarks.common import ROOT, Procs, cpu_s, free_ports
from benchmarks.report import show, show_latency, show_ratio
from medialoom.certs import Curve
from medialoom.clients.client import AsyncClient, Client
from medialoom.keys import KeyStore, client_curve


@dataclass
class CurveFabric:
    """A broker and N worker processes, with CURVE on or off, in a temporary directory."""

    curve: bool
    workers: int = 2
    slots: int = 16
    tmp: tempfile.TemporaryDirectory[str] = field(default_factory=tempfile.TemporaryDirectory)
    procs: Procs = field(default_factory=Procs)
    keys: Curve | None = None

    def start(self) -> CurveFabric:
        ports = free_ports(4)
        self.clients, workers, events_in, self.events_out = (f"tcp://127.0.0.1:{p}"
                                                              for p in ports)
        data = os.path.join(self.tmp.name, "data")
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIALOOM_")}
        env["MEDIALOOM_CONFIG"] = os.path.join(self.tmp.name, "none.toml")
        worker_env = dict(env)
        extra: list[str] = []
        if self.curve:
            store = KeyStore(data)
            store.init()
            store.add("client", "bench")
            store.add("worker", "bench-workers")
            self.keys = client_curve({"key": store.issued_secret("bench"), "data_dir": data})
            worker_env.update(MEDIALOOM_KEY=store.issued_secret("bench-workers"),
                              MEDIALOOM_BROKER_KEY=store.broker_public)
            extra = ["--curve"]
        self.log = open(os.path.join(self.tmp.name, "fabric.log"), "ab")  # noqa: SIM115
        self.broker = self.procs.add(subprocess.Popen(
            [sys.executable, "-m", "medialoom.broker", "--data-dir", data, "--root",
             self.tmp.name, "--clients", self.clients, "--workers", workers, "--events-in",
             events_in, "--events-out", self.events_out, "--queue-max", "1000000",
             "--log-level", "WARNING", *extra], stdout=self.log, stderr=self.log, cwd=ROOT,
            env=env))
        self._until(lambda c: c.ping() > 0, "answer PING")
        self.worker_procs = [self.procs.add(subprocess.Popen(
            [sys.executable, "-m", "medialoom.workers.worker", "--workers", workers, "--events",
             events_in, "--slots", str(self.slots), "--log-level", "WARNING"],
            stdout=self.log, stderr=self.log, cwd=ROOT, env=worker_env))
            for _ in range(self.workers)]
        self._until(lambda c: len(c.stats()["workers"]) >= self.workers, "register workers")
        return self

    def client(self, timeout_s: float = 10.0) -> Client:
        return Client(self.clients, self.events_out, timeout_s=timeout_s, curve=self.keys)

    def _until(self, ready: object, what: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        with self.client(0.5) as c:
            while time.monotonic() < deadline:
                try:
                    if ready(c):  # type: ignore[operator]
                        return
                except Exception:  # noqa: BLE001 - not up yet
                    pass
                time.sleep(0.05)
        with open(self.log.name, errors="replace") as fh:
            tail = fh.read()[-2000:]
        self.stop()
        raise RuntimeError(f"the broker did not {what} (curve={self.curve}):\n{tail}")

    def stop(self) -> None:
        self.procs.stop()
        self.log.close()
        self.tmp.cleanup()

    def __enter__(self) -> CurveFabric:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_acks(f: CurveFabric, n: int) -> list[float]:
    """START round trips (ms) of n no-op jobs, one at a time."""
    out = []
    with f.client() as c:
        for _ in range(n):
            t0 = time.perf_counter()
            c.start("sleep", params={"steps": 0})
            out.append((time.perf_counter() - t0) * 1000)
    return out


async def no_op_jobs(f: CurveFabric, n: int, window: int, cap_s: float) -> tuple[float, float]:
    """(jobs/s, broker CPU us per job) of n no-op jobs, START + WAIT, window in flight."""
    async with AsyncClient(f.clients, f.events_out, timeout_s=120, curve=f.keys) as c:
        todo = iter(range(n))
        done: list[str] = []
        stop = time.monotonic() + cap_s

        async def lane() -> None:
            for _ in todo:
                if time.monotonic() > stop:
                    return
                job = await c.start("sleep", params={"steps": 0})
                done.append((await c.wait(job["id"], poll_s=60))["status"])

        cpu0, t0 = cpu_s([f.broker.pid]), time.perf_counter()
        async with asyncio.TaskGroup() as tg:
            for _ in range(min(window, n)):
                tg.create_task(lane())
        elapsed = time.perf_counter() - t0
        cpu = cpu_s([f.broker.pid]) - cpu0
    if set(done) != {"completed"}:
        raise RuntimeError(f"no-op jobs ended {sorted(set(done))}, expected all completed")
    return len(done) / elapsed, cpu / len(done) * 1e6


@dataclass
class Figures:
    rate: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    acks: list[list[float]] = field(default_factory=list)


def one(curve: bool, args: argparse.Namespace, out: Figures) -> None:
    with CurveFabric(curve) as f:
        asyncio.run(no_op_jobs(f, min(300, args.jobs), args.window, args.cap_s))  # warm up
        out.acks.append(start_acks(f, args.starts))
        rate, cpu = asyncio.run(no_op_jobs(f, args.jobs, args.window, args.cap_s))
        out.rate.append(rate)
        out.cpu.append(cpu)


def parser() -> argparse.ArgumentParser:
    """The command line (run.py's checks parse its quick flags with it)."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one round, fewer jobs")
    p.add_argument("--rounds", type=int, default=None, help="rounds (3; 1 with --quick)")
    p.add_argument("--jobs", type=int, default=None, help="no-op jobs a run (5000; 1500 quick)")
    p.add_argument("--window", type=int, default=200, help="jobs in flight (200)")
    p.add_argument("--starts", type=int, default=1000,
                   help="STARTs one at a time for the ack latency (1000: enough for a p99)")
    p.add_argument("--cap-s", type=float, default=30.0, help="no new job after this (30 s)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    rounds = max(1, args.rounds or (1 if args.quick else 3))
    args.jobs = args.jobs or (1500 if args.quick else 5000)
    off, on = Figures(), Figures()
    for r in range(rounds):
        t0 = time.monotonic()
        order = [(False, off), (True, on)] if r % 2 == 0 else [(True, on), (False, off)]
        for curve, figures in order:
            one(curve, args, figures)
        print(f"       round {r + 1}/{rounds}: {time.monotonic() - t0:.0f} s", flush=True)
    how = f"2 worker processes, {args.window} in flight"
    show_latency("ours", "START ack, CURVE off, 1 in flight", off.acks)
    show_latency("ours", "START ack, CURVE on, 1 in flight", on.acks)
    show("ours", f"no-op jobs end to end, CURVE off ({how})", off.rate, "jobs/s")
    show("ours", f"no-op jobs end to end, CURVE on ({how})", on.rate, "jobs/s")
    show("ours", "  broker CPU per job, CURVE off", off.cpu, "us")
    show("ours", "  broker CPU per job, CURVE on", on.cpu, "us")
    show_ratio("CURVE on / off (jobs/s)", on.rate, off.rate, target=">= 0.80")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``make -C clients/c bench``: the fabric workload driven from C beside the Python client.

One broker and a pool of 2 worker processes with 64 slots each (tests/fabric.py, the
broker's default heartbeat), and on it, in turn: START ack latency one at a time (the
reply means persisted; p50/p99) from C and from the Python ``Client``; then no-op jobs
(kind ``sleep``, 0 steps) end to end, started pipelined and each awaited with WAIT, 2,000
in flight, from C, from the Python ``AsyncClient``, and from C again (the store has grown
by then).  Usage: run.py MLC_BENCH [--quick].
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fabric import Fabric  # noqa: E402

from medialoom.clients.client import AsyncClient, Client  # noqa: E402

NOOP = {"steps": 0}


def c_bench(binary: str, env: dict[str, str], *args: str) -> dict[str, float]:
    out = subprocess.run([binary, *args], env=env, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"{binary} {' '.join(args)}: {out.stderr}")
    return json.loads(out.stdout)


def py_ack(f: Fabric, n: int) -> tuple[float, float]:
    """START -> ack, one at a time, from the blocking Python client: p50, p99 in ms."""
    lat = []
    with Client(f.clients, f.events_out, timeout_s=30) as c:
        c.start("sleep", params=NOOP)
        for _ in range(n):
            t = time.perf_counter()
            c.start("sleep", params=NOOP)
            lat.append((time.perf_counter() - t) * 1000)
    q = statistics.quantiles(lat, n=100)
    return q[49], q[98]


async def py_jobs(f: Fabric, n: int, window: int = 2000) -> tuple[float, float]:
    """No-op jobs pipelined and awaited with WAIT from AsyncClient: jobs/s, client CPU µs/job."""
    async with AsyncClient(f.clients, f.events_out, timeout_s=120) as c:
        gate = asyncio.Semaphore(window)

        async def one() -> str:
            async with gate:
                job = await c.start("sleep", params=NOOP)
                return (await c.wait(job["id"], poll_s=60))["status"]

        t0, cpu0 = time.perf_counter(), time.process_time()
        statuses = await asyncio.gather(*[one() for _ in range(n)])
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    assert statuses.count("completed") == n, {s: statuses.count(s) for s in set(statuses)}
    return n / elapsed, cpu * 1e6 / n


def main(argv: list[str]) -> int:
    binary = os.path.abspath(argv[1])
    n_ack, n_jobs = (500, 2000) if "--quick" in argv else (2000, 10_000)
    with tempfile.TemporaryDirectory(prefix="mlc-bench-") as tmp, \
            Fabric(Path(tmp), workers=2, slots=64, heartbeat_s=1.0) as f:
        env = {**os.environ, "MEDIALOOM_CLIENTS": f.clients, "MEDIALOOM_EVENTS_OUT": f.events_out}
        c_ack = c_bench(binary, env, "ack", str(n_ack))
        p50, p99 = py_ack(f, n_ack)
        print(f"START ack, one at a time, 2 workers running each job ({n_ack} STARTs each):\n"
              f"  C       p50 {c_ack['ack_p50_ms']:.3f} ms  p99 {c_ack['ack_p99_ms']:.3f} ms\n"
              f"  Python  p50 {p50:.3f} ms  p99 {p99:.3f} ms", flush=True)
        c_jobs = c_bench(binary, env, "jobs", str(n_jobs), "2000")
        python, py_cpu = asyncio.run(py_jobs(f, n_jobs))
        c_again = c_bench(binary, env, "jobs", str(n_jobs), "2000")
        print(f"no-op jobs end to end, 2 worker processes, 2,000 in flight ({n_jobs} jobs each):"
              f"\n  C       {c_jobs['jobs_per_s']:,.0f} jobs/s, client CPU "
              f"{c_jobs['client_cpu_us_per_job']:.0f} µs/job (again after Python: "
              f"{c_again['jobs_per_s']:,.0f} jobs/s)"
              f"\n  Python  {python:,.0f} jobs/s, client CPU {py_cpu:.0f} µs/job (AsyncClient)",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

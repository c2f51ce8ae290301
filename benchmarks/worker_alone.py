"""One real worker process against a stand-in broker: no-op jobs/s and the worker's CPU per job.

    .venv/bin/python -m benchmarks.worker_alone [--jobs N] [--window W] [--rounds R]

The stand-in is a plain ROUTER in this process that keeps ``window`` DISPATCHes of the
``sleep`` kind (0 steps) in flight and acknowledges each batch of DONEs with one ACK, so
the worker, not the broker, is what is measured: the end-to-end figure of
bench_fabric mostly measures the broker on a loaded 2-core machine, where every
process's CPU per job rises and falls with the others' load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import zmq

from benchmarks.common import cpu_s
from medialoom.protocol import codec
from medialoom.protocol import messages as m

WARM_UP = 1000


def one_round(jobs: int, window: int) -> tuple[float, float]:
    """jobs/s and the worker's CPU us per job over jobs no-op jobs (after WARM_UP more)."""
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.setsockopt(zmq.SNDHWM, 0)
    router.setsockopt(zmq.RCVHWM, 0)
    port = router.bind_to_random_port("tcp://127.0.0.1")
    events = ctx.socket(zmq.SUB)
    events.setsockopt(zmq.LINGER, 0)
    events_port = events.bind_to_random_port("tcp://127.0.0.1")
    worker = subprocess.Popen([
        sys.executable, "-m", "medialoom.workers.worker", "--workers",
        f"tcp://127.0.0.1:{port}", "--events", f"tcp://127.0.0.1:{events_port}",
        "--slots", "64", "--kind", "sleep", "--log-level", "WARNING"])
    try:
        if not router.poll(30_000):
            raise RuntimeError("the worker sent no READY in 30 s")
        peer, *frames = router.recv_multipart()
        if not isinstance(codec.decode(frames, "worker"), m.Ready):
            raise RuntimeError("the worker's first message is not READY")
        total = jobs + WARM_UP
        sent = done = 0
        t0 = cpu0 = 0.0

        def dispatch() -> None:
            nonlocal sent
            sent += 1
            msg = m.Dispatch(job=f"J{sent:025d}", attempt=1, kind="sleep",
                             params={"seconds": 0.0, "steps": 0}, roots=["/tmp"])
            router.send_multipart([peer, *codec.encode(msg, "broker")])

        for _ in range(min(window, total)):
            dispatch()
        while done < total:
            if not router.poll(30_000):
                raise RuntimeError(f"the worker went silent after {done} jobs")
            acks = []
            while True:
                try:
                    frames = router.recv_multipart(zmq.NOBLOCK)[1:]
                except zmq.Again:
                    break
                for msg in codec.decode_each(frames, "worker"):  # the worker bundles (SPEC.md 2)
                    if isinstance(msg, m.Done):
                        done += 1
                        acks.append([msg.job, msg.attempt, msg.n])
                        if done == WARM_UP:
                            t0, cpu0 = time.perf_counter(), cpu_s([worker.pid])
                        if sent < total:
                            dispatch()
            if acks:
                router.send_multipart([peer, *codec.encode(m.Ack(acks=acks), "broker")])
        elapsed, cpu = time.perf_counter() - t0, cpu_s([worker.pid]) - cpu0
        return jobs / elapsed, cpu / jobs * 1e6
    finally:
        worker.terminate()
        worker.wait(10)
        router.close()
        events.close()
        ctx.term()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=20_000)
    p.add_argument("--window", type=int, default=128, help="DISPATCHes in flight")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    for r in range(args.rounds):
        rate, cpu = one_round(args.jobs, args.window)
        print(f"round {r + 1}/{args.rounds}: {rate:,.0f} no-op jobs/s, worker CPU {cpu:.0f} us/job"
              f"   (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

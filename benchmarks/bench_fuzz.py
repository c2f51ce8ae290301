"""Fuzz rate (issue 7): messages/s a real broker absorbs while it keeps answering valid STATUS.

    .venv/bin/python -m benchmarks.bench_fuzz [--quick] [--messages N] [--seed S]

A broker and one worker process (running one long job whose id and attempt
the fuzzed worker messages borrow); tests/protocol/fuzz.py sends every
mutation of every command of the client, worker and event channels, round
after round (client requests pipelined 64 deep, every one answered exactly
once); meanwhile a second client in a thread asks STATUS of a finished job
every 2 ms (of another finished job, one the fuzz never names).  Prints the fuzz rate and the STATUS p50/p99 next to STATUS with
no fuzz.
"""

from __future__ import annotations

import argparse
import threading
import time

import zmq

from benchmarks.common import Fabric, pct
from tests.protocol.fuzz import FuzzDriver, Fuzzer


def status_latencies(f: Fabric, job: str, stop: threading.Event, out: list[float]) -> None:
    """STATUS of job every 2 ms until stop; latencies in ms into out."""
    with f.client() as c:
        while not stop.is_set():
            t = time.perf_counter()
            assert c.status(job)["id"] == job
            out.append((time.perf_counter() - t) * 1000)
            time.sleep(0.002)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    p.add_argument("--messages", type=int, default=0, help="fuzzed messages (default 50,000)")
    p.add_argument("--seed", type=int, default=20260705)
    args = p.parse_args()
    n = args.messages or (10_000 if args.quick else 50_000)
    with Fabric(workers=1, slots=4) as f:
        with f.client() as c:
            finished = c.start("sleep", params={"steps": 2})["id"]
            probe = c.start("sleep", params={"steps": 2})["id"]  # the fuzz never names it
            c.wait(finished, timeout_s=30)
            c.wait(probe, timeout_s=30)
            running = c.start("sleep", params={"seconds": 600, "steps": 10})["id"]
            while c.status(running)["status"] != "running":
                time.sleep(0.01)
            attempt = c.status(running)["attempts"]

        quiet: list[float] = []
        stop = threading.Event()
        reader = threading.Thread(target=status_latencies, args=(f, probe, stop, quiet))
        reader.start()
        time.sleep(1.0)
        stop.set()
        reader.join()

        def alive() -> None:
            if f.broker.poll() is not None:
                raise SystemExit(f"the broker exited with {f.broker.returncode}:\n"
                                 f"{driver.repro()}")

        ctx = zmq.Context()
        loaded: list[float] = []
        stop = threading.Event()
        reader = threading.Thread(target=status_latencies, args=(f, probe, stop, loaded))
        fuzzer = Fuzzer(args.seed, finished=finished, running=(running, attempt))
        driver = FuzzDriver(ctx, f.clients, f.workers_ep, f.events_in, fuzzer, alive=alive)
        reader.start()
        stats = driver.run(n)
        stop.set()
        reader.join()
        driver.close()
        ctx.destroy(linger=0)
        with f.client() as c:
            c.start("sleep", params={"steps": 1})  # acknowledged, so persisted: still serving
        for proc in f.procs[1:]:  # the worker still runs the long job (or the fuzz took it)
            proc.kill()
            proc.wait()
    assert not driver.unexpected and not +driver.pending, "a request not answered exactly once"
    rate = stats.total / stats.elapsed_s
    split = ", ".join(f"{k} {v:,}" for k, v in sorted(stats.sent.items()))
    print(f"ours   fuzz absorbed by the broker: {rate:,.0f} messages/s ({stats.total:,} in "
          f"{stats.elapsed_s:.1f} s: {split}; every client request answered once, "
          f"{stats.replies['REPLY']:,} of them REPLY)   [seed {args.seed}]")
    print(f"ours   STATUS while fuzzed: p50 {pct(loaded, 50):.2f} ms, p99 {pct(loaded, 99):.2f} ms "
          f"over {len(loaded)} requests; without fuzz p50 {pct(quiet, 50):.2f} ms, "
          f"p99 {pct(quiet, 99):.2f} ms")


if __name__ == "__main__":
    main()

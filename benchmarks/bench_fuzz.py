"""Fuzz rate (issue 7): messages/s a real broker absorbs while it keeps answering valid STATUS.

    .venv/bin/python -m benchmarks.bench_fuzz [--quick] [--messages N] [--rounds R] [--seed S]

A broker and one worker process (running one long job whose id and attempt
the fuzzed worker messages borrow); tests/protocol/fuzz.py sends every
mutation of every command of the client, worker and event channels, round
after round (client requests pipelined 64 deep, every one answered exactly
once); meanwhile a second client in a thread asks STATUS of a finished job
every millisecond (of another finished job, one the fuzz never names).  Prints
the fuzz rate and the STATUS p50/p99 next to STATUS with no fuzz (a p99 only
over 1,000 samples or more).
"""

from __future__ import annotations

import argparse
import threading
import time

import zmq

from benchmarks.common import P99_MIN_SAMPLES, Fabric
from benchmarks.report import show, show_latency
from tests.protocol.fuzz import FuzzDriver, Fuzzer


def status_latencies(f: Fabric, job: str, stop: threading.Event, out: list[float],
                     at_least: int = 0) -> None:
    """STATUS of job every millisecond until stop (and at least at_least times); ms into out."""
    with f.client() as c:
        while not stop.is_set() or len(out) < at_least:
            t = time.perf_counter()
            assert c.status(job)["id"] == job
            out.append((time.perf_counter() - t) * 1000)
            time.sleep(0.001)


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller counts, one round")
    p.add_argument("--messages", type=int, default=0,
                   help="fuzzed messages per round (default 30,000; 10,000 with --quick)")
    p.add_argument("--rounds", type=int, default=0, help="repeats (3; 1 with --quick)")
    p.add_argument("--seed", type=int, default=20260705, help="round r uses seed + r")
    return p


def main() -> None:
    args = parser().parse_args()
    n = args.messages or (10_000 if args.quick else 30_000)
    rounds = args.rounds or (1 if args.quick else 3)
    rates: list[float] = []
    loaded: list[list[float]] = []
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
        stop.set()
        status_latencies(f, probe, stop, quiet, at_least=P99_MIN_SAMPLES)

        def alive() -> None:
            if f.broker.poll() is not None:
                raise SystemExit(f"the broker exited with {f.broker.returncode}:\n"
                                 f"{driver.repro()}")

        for r in range(rounds):
            ctx = zmq.Context()
            during: list[float] = []
            stop = threading.Event()
            reader = threading.Thread(target=status_latencies, args=(f, probe, stop, during))
            fuzzer = Fuzzer(args.seed + r, finished=finished, running=(running, attempt))
            driver = FuzzDriver(ctx, f.clients, f.workers_ep, f.events_in, fuzzer, alive=alive)
            reader.start()
            stats = driver.run(n)
            stop.set()
            reader.join()
            driver.close()
            ctx.destroy(linger=0)
            assert not driver.unexpected and not +driver.pending, \
                "a request not answered exactly once"
            rates.append(stats.total / stats.elapsed_s)
            loaded.append(during)
            split = ", ".join(f"{k} {v:,}" for k, v in sorted(stats.sent.items()))
            print(f"       round {r + 1}: {stats.total:,} messages in {stats.elapsed_s:.1f} s "
                  f"({split}); every client request answered once, "
                  f"{stats.replies['REPLY']:,} of them REPLY   [seed {args.seed + r}]",
                  flush=True)
        with f.client() as c:
            c.start("sleep", params={"steps": 1})  # acknowledged, so persisted: still serving
        for proc in f.worker_procs:  # the worker still runs the long job (or the fuzz took it)
            proc.kill()
            proc.wait()
    show("ours", "fuzz absorbed by the broker", rates, "messages/s")
    show_latency("ours", "STATUS while fuzzed (1 client, 1 in flight)", loaded)
    show_latency("ours", "STATUS without fuzz (same broker, before)", [quiet])


if __name__ == "__main__":
    main()

"""Events/s to one subscriber, and the broker's RSS after many finished jobs.

- events: a publisher process (benchmarks/publisher.py) pushes PROGRESS for one running job
  into the broker's events-in as fast as it can; this process subscribes to the job's topic
  and counts the EVENTs that arrive within exactly ``window_s`` seconds of the first one (the
  publisher runs longer than that, so the window is all steady state).  A fresh job per round;
  each round first measures the same through libzmq's XSUB/XPUB proxy (the floor).
- RSS: no-op jobs through a broker and 2 worker processes; the broker's VmRSS after the
  first 1,000 and after ``jobs`` more (one run: memory is not a timing).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import zmq

from benchmarks.common import ROOT, Fabric, rss_mb
from benchmarks.fabric_control import cancel_quietly
from benchmarks.fabric_throughput import SLOTS, no_op_jobs
from benchmarks.relay import EventProxy
from benchmarks.report import show, show_ratio, spread
from medialoom.protocol import codec


def count_events(events_in: str, events_out: str, job: str, attempt: int,
                 window_s: float) -> tuple[float, float]:
    """(events/s received over the window, events/s the publisher pushed) for job's topic."""
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.RCVHWM, 1_000_000)
    sub.setsockopt(zmq.LINGER, 0)
    sub.connect(events_out)
    sub.setsockopt(zmq.SUBSCRIBE, codec.topic(job))
    time.sleep(0.3)
    pub = subprocess.Popen([sys.executable, "-m", "benchmarks.publisher", events_in, job,
                            str(attempt), str(window_s + 2.0)], cwd=ROOT,
                           stdout=subprocess.PIPE, text=True)
    try:
        if not sub.poll(10_000):
            raise RuntimeError("no event reached the subscriber within 10 s")
        sub.recv_multipart()
        end = time.perf_counter() + window_s
        received = 1
        while (left := end - time.perf_counter()) > 0:
            if not sub.poll(int(left * 1000) + 1):
                continue
            while True:
                try:
                    sub.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                if time.perf_counter() >= end:
                    break
                received += 1
        out, _ = pub.communicate(timeout=window_s + 30)
    finally:
        if pub.poll() is None:
            pub.kill()
            pub.wait()
        sub.close(0)
        ctx.term()
    sent = json.loads(out.strip().splitlines()[-1])
    return received / window_s, sent["sent"] / sent["seconds"]


def events_round(f: Fabric, window_s: float) -> tuple[float, float]:
    """count_events through our broker, for a fresh running job."""
    with f.client() as c:
        job = c.start("sleep", params={"seconds": 600, "steps": 10})["id"]
        deadline = time.monotonic() + 30
        while (status := c.status(job))["status"] != "running":
            if time.monotonic() > deadline:
                raise RuntimeError("the event job did not start within 30 s")
            time.sleep(0.01)
    try:
        return count_events(f.events_in, f.events_out, job, status["attempts"], window_s)
    finally:
        with f.client() as c:
            cancel_quietly(c, job)


def run_events(rounds: int, window_s: float) -> None:
    got, pushed, floor, floor_pushed = [], [], [], []
    with Fabric(workers=1, slots=4) as f:
        for _ in range(rounds):
            with EventProxy() as proxy:
                a, b = count_events(proxy.events_in, proxy.events_out, "0" * 26, 1, window_s)
            floor.append(a)
            floor_pushed.append(b)
            a, b = events_round(f, window_s)
            got.append(a)
            pushed.append(b)
    show("floor", f"events through a raw XSUB/XPUB zmq.proxy process, over exactly "
         f"{window_s:g} s", floor, "events/s", note=f"publisher pushed {spread(floor_pushed)}/s")
    show("ours", f"events delivered to one subscriber, over exactly {window_s:g} s", got,
         "events/s", target=">= 30,000", note=f"publisher pushed {spread(pushed)}/s")
    show_ratio("ours / floor (events/s)", got, floor)


def run_rss(jobs: int, window: int) -> None:
    with Fabric(workers=2, slots=SLOTS) as f:
        asyncio.run(no_op_jobs(f, 1000, window))
        base = rss_mb(f.broker.pid)
        rate, _, _ = asyncio.run(no_op_jobs(f, jobs, window))
        after = rss_mb(f.broker.pid)
    show("ours", f"broker RSS after {jobs + 1000:,} finished no-op jobs", [after], "MB",
         target="<= 150 MB", note=f"{base:.0f} MB after the first 1,000; {rate:,.0f} jobs/s "
         f"sustained, {window} in flight, 2 workers x {SLOTS} slots; one run")

"""The client side of the anchor workloads, shared by anchor_celery and anchor_dramatiq.

Runs in the anchor venv (``.bench-venv``), so it imports nothing of medialoom.  The same
workload as ours: n no-op jobs (or as many as are sent within ``cap_s``) with ``window`` of
them in flight (the oldest result awaited first, then the next job sent), then single jobs one
at a time, start to result.  Prints one
JSON line: ``{"rate": jobs/s, "latency_ms": [...], "cpu_s": client CPU seconds}``.
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from collections.abc import Callable
from typing import Any


def run(send: Callable[[], Any], get: Callable[[Any], Any]) -> None:
    """Parse the command line, run the workload through send/get, print the JSON line."""
    p = argparse.ArgumentParser()
    p.add_argument("--jobs", type=int, required=True)
    p.add_argument("--window", type=int, required=True)
    p.add_argument("--cap-s", type=float, required=True, help="send no new job after this")
    p.add_argument("--latency-jobs", type=int, required=True)
    p.add_argument("--latency-cap-s", type=float, required=True)
    p.add_argument("--warmup", type=int, default=200)
    args = p.parse_args()
    for handle in [send() for _ in range(args.warmup)]:
        get(handle)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    stop = time.monotonic() + args.cap_s
    pending: collections.deque[Any] = collections.deque()
    sent = 0
    while sent < min(args.window, args.jobs):
        pending.append(send())
        sent += 1
    while pending:
        get(pending.popleft())
        if sent < args.jobs and time.monotonic() < stop:
            pending.append(send())
            sent += 1
    rate = sent / (time.perf_counter() - t0)
    cpu = time.process_time() - cpu0
    latency = []
    stop = time.monotonic() + args.latency_cap_s
    while len(latency) < args.latency_jobs and time.monotonic() < stop:
        t = time.perf_counter()
        get(send())
        latency.append((time.perf_counter() - t) * 1000)
    print(json.dumps({"rate": rate, "jobs": sent, "latency_ms": latency, "cpu_s": cpu}),
          flush=True)

"""A worker-like PUB that pushes PROGRESS events for one running job as fast as it can.

    python -m benchmarks.publisher EVENTS_IN JOB ATTEMPT SECONDS

Its own process, so the subscriber in the bench process does not share a core's GIL with it.
Prints one JSON line when done: ``{"sent": n, "seconds": s}``.
"""

from __future__ import annotations

import json
import sys
import time

import zmq

from medialoom.protocol import codec
from medialoom.protocol import messages as m


def main() -> None:
    endpoint, job, attempt, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 1_000_000)
    pub.setsockopt(zmq.LINGER, 0)
    pub.connect(endpoint)
    time.sleep(0.5)  # connected before the first message (PUB drops until then)
    sent = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            sent += 1
            pub.send_multipart(codec.encode(m.Progress(job=job, attempt=attempt, progress={
                "processed": sent, "total": 10**9, "current": "x"}), "event"))
    elapsed = time.perf_counter() - t0
    pub.close(0)
    ctx.term()
    print(json.dumps({"sent": sent, "seconds": elapsed}), flush=True)


if __name__ == "__main__":
    main()

"""Structure-aware fuzz of every command on every channel against a real broker (invariant 6).

MEDIALOOM_FUZZ_MESSAGES sets the number of messages (default 20,000; in CI
at least 50,000) and MEDIALOOM_FUZZ_SEED the seed (printed; rerun with it to
reproduce).  The messages come from tests/protocol/fuzz.py.
"""

from __future__ import annotations

import math
import os
import re
import time
from pathlib import Path

import pytest
import zmq

from medialoom.protocol import codec
from medialoom.protocol import messages as m
from tests.protocol.fuzz import FuzzDriver, Fuzzer
from tests.support import IN_CI, make_system

pytestmark = pytest.mark.e2e

CI_MESSAGES = 50_000


def fuzz_messages() -> int:
    n = int(os.environ.get("MEDIALOOM_FUZZ_MESSAGES", "20000"))
    return max(n, CI_MESSAGES) if IN_CI else n


def test_fuzzed_messages_never_stop_the_broker(tmp_path: Path) -> None:
    n = fuzz_messages()
    seed = int(os.environ.get("MEDIALOOM_FUZZ_SEED", "20260705"))
    print(f"\nfuzz: seed {seed}, {n} messages (MEDIALOOM_FUZZ_SEED / MEDIALOOM_FUZZ_MESSAGES)")
    system = make_system(tmp_path)
    system.start_broker()
    system.start_worker(slots=2)
    ctx = zmq.Context()
    driver = None
    try:
        with system.client(timeout_s=10) as c:
            finished = c.start("sleep", params={"steps": 2})["id"]
            assert c.wait(finished, timeout_s=30)["status"] == "completed"
            running = c.start("sleep", params={"seconds": 600, "steps": 10})["id"]
            system.wait_for(lambda: c.status(running)["status"] == "running", "a running job")
            attempt = c.status(running)["attempts"]
        fuzzer = Fuzzer(seed, finished=finished, running=(running, attempt))

        def alive() -> None:
            if system.broker.poll() is not None:
                raise AssertionError(
                    f"the broker exited with {system.broker.returncode} after "
                    f"{driver.stats.total} messages; the last ones sent (newest last):\n"
                    f"{driver.repro()}\n--- broker log ---\n{system.read_log('broker')[-6000:]}")

        driver = FuzzDriver(ctx, system.clients, system.workers, system.events_in, fuzzer,
                            alive=alive)
        stats = driver.run(n)
        alive()
        print(f"fuzz: {stats.total} messages in {stats.elapsed_s:.1f} s "
              f"({stats.total / stats.elapsed_s:,.0f}/s): {dict(stats.sent)}; "
              f"client replies {dict(stats.replies)}")
        assert stats.total >= n
        assert not driver.unexpected, f"replies nobody asked for: {driver.unexpected[:5]}"
        assert not +driver.pending, "requests without a reply"
        # each client request was answered exactly once: every rid got as many as were sent
        # (a message of several bodies is several requests, SPEC.md 2)
        assert sum(stats.replies.values()) == stats.requests >= stats.sent["client"]

        # the broker still serves: a valid START is acknowledged (so persisted: the store's
        # writer thread lives) and runs to completion on the real worker; STATUS and LIST work
        with system.client(timeout_s=15) as c:
            t0 = time.monotonic()
            job = c.start("sleep", params={"seconds": 0.2, "steps": 4})
            print(f"fuzz: a valid START after the fuzz acknowledged in "
                  f"{(time.monotonic() - t0) * 1000:.1f} ms")
            done = c.wait(job["id"], timeout_s=60)
            assert done["status"] == "completed", done
            assert done["progress"]["processed"] == 4
            assert c.status(job["id"])["status"] == "completed"
            # the job the worker messages named is still readable (its maps stay valid)
            assert c.status(running)["id"] == running
            listed = c.list(kind=["sleep"], limit=10)
            assert job["id"] in {j["id"] for j in listed["jobs"]}
            counters = c.stats().get("broker", {})
            print(f"fuzz: broker counters {counters}")

        internal = stats.internal + re.findall(r"^.*internal error.*$",
                                               system.read_log("broker"), re.M)
        assert not stats.internal, (
            f"{len(stats.internal)} fuzzed requests were answered 'internal' (a broker bug, "
            f"not a clear error):\n" + "\n".join(stats.internal[:10]))
        assert not internal, "the broker logged internal errors:\n" + "\n".join(internal[:10])
    finally:
        if driver is not None:
            driver.close()
        ctx.destroy(linger=0)
        for proc in system.worker_procs:  # it still runs the long job (or the fuzz took it)
            proc.kill()
            proc.wait()
        codes = system.stop()
    assert system.broker is not None and codes[system.broker.pid] == 0, codes


def test_extreme_but_finite_progress_keeps_the_job_readable(tmp_path: Path) -> None:
    system = make_system(tmp_path)
    system.start_broker()
    system.start_worker(slots=1)
    ctx = zmq.Context()
    try:
        with system.client() as c:
            job = c.start("sleep", params={"seconds": 60, "steps": 10})["id"]
            system.wait_for(lambda: c.status(job)["status"] == "running", "a running job")
            attempt = c.status(job)["attempts"]
            pub = ctx.socket(zmq.PUB)
            pub.connect(system.events_in)
            time.sleep(0.5)  # the broker's subscription reaches the PUB
            pub.send_multipart(codec.encode(m.Progress(job=job, attempt=attempt, progress={
                "processed": 1, "total": 10**18, "rate": 5e-324}), "event"))
            time.sleep(0.3)
            progress = c.status(job)["progress"]
            assert progress["eta_seconds"] is None or math.isfinite(progress["eta_seconds"])
    finally:
        ctx.destroy(linger=0)
        for proc in system.worker_procs:
            proc.kill()
            proc.wait()
        system.stop()

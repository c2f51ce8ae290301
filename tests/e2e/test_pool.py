"""``medialoom worker -n N``: the supervisor restarts a worker process that dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.support import System

pytestmark = pytest.mark.e2e


def test_pool_restarts_a_killed_worker_and_stops_cleanly(broker_only: System) -> None:
    s = broker_only
    pool = subprocess.Popen([sys.executable, "-m", "medialoom.workers", "-n", "2", "--workers",
                             s.workers, "--events-in", s.events_in, "--heartbeat", "0.25"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def pids() -> set[int]:
            with s.client() as c:
                return {w["pid"] for w in c.stats()["workers"]}

        s.wait_for(lambda: len(pids()) == 2, "two workers")
        before = pids()
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        s.wait_for(lambda: len(pids()) == 2 and victim not in pids(), "a replacement worker")
        with s.client() as c:
            job = c.start("sleep", params={"steps": 2})
            assert c.wait(job["id"], timeout_s=30)["status"] == "completed"
    finally:
        pool.send_signal(signal.SIGTERM)
        assert pool.wait(timeout=30) == 0
    s.wait_for(lambda: len(pids()) == 0, "workers gone after the pool stopped")

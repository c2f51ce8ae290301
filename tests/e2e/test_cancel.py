"""Prompt cancel, stuck tools and the worker's shutdown drain, with a real broker and workers.

- CANCEL during the single 8-second item of a ``sleep`` job ends it
  ``cancelled`` within 2 s (it took the whole 8 s when cancel was seen only
  between items).
- A kind whose tools hang (one ignores SIGTERM, one reads a FIFO no one
  writes) gets both ended by the timeout and reported as failed ``timeout``
  items, while STATUS keeps answering.
- SIGTERM to a worker running an hour-long job: the process exits 0 within
  5 s, the job does not stay ``running``, every item it counted is stored,
  and a job queued behind it is not started (nor cancelled) by the stopping
  worker.

The bounds are seconds: they catch a job or a loop waiting on something that
will not come, not a slow machine.
"""

from __future__ import annotations

import os
import signal
import statistics
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from medialoom.clients.client import TERMINAL
from tests.support import System, log_tails, make_system

pytestmark = pytest.mark.e2e

TOOLS_PLUGIN = '''
from medialoom.workers.errors import ToolTimeout
from medialoom.workers.kinds import Kind, Param


async def run(ctx):
    commands = [["sh", "-c", 'trap "" TERM; sleep 60'], ["cat", ctx.params["fifo"]],
                ["echo", "fine"]]
    ctx.set_total(len(commands))
    for i, argv in enumerate(commands):
        await ctx.checkpoint()
        try:
            result = await ctx.run_tool(argv, ctx.params["timeout_s"])
        except ToolTimeout as exc:
            ctx.item(argv[0], "timeout", exc.message, index=i)
        else:
            ctx.item(argv[0], "ok" if result.returncode == 0 else "failed", index=i)
    return {}


KIND = Kind("toolcheck", run, needs_paths=False, description="run hanging tools (tests)",
            params={"fifo": Param((str,), "", "a FIFO without writer"),
                    "timeout_s": Param((float,), 1.0, "per tool")},
            outcomes={"ok": "ok", "timeout": "failed"})
'''


def wait_status(system: System, job_id: str, statuses: set[str], within_s: float
                ) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    with system.client() as c:
        while True:
            job = c.status(job_id)
            if job["status"] in statuses or time.monotonic() > deadline:
                return job
            time.sleep(0.02)


def test_cancel_during_a_single_long_item_ends_within_2_s(tmp_path: Path) -> None:
    system = make_system(tmp_path)
    system.start_broker()
    system.start_worker(slots=1)
    try:
        with system.client() as c:
            job = c.start("sleep", params={"seconds": 8, "steps": 1})
            running = wait_status(system, job["id"], {"running"}, 20)
            assert running["status"] == "running", log_tails(system)
            time.sleep(0.5)  # inside the one 8-second step
            asked = time.monotonic()
            c.cancel(job["id"])
            done = wait_status(system, job["id"], TERMINAL, 10)
            took = time.monotonic() - asked
        assert done["status"] == "cancelled", f"{done}\n{log_tails(system)}"
        assert took < 2.0, f"CANCEL took {took:.2f} s to end the job"
    finally:
        codes = system.stop()
    assert set(codes.values()) == {0}, codes


def test_stuck_tools_are_timed_out_and_reported_while_status_answers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin = tmp_path / "plugin"
    (plugin / "mltools").mkdir(parents=True)
    (plugin / "mltools" / "__init__.py").write_text(textwrap.dedent(TOOLS_PLUGIN))
    dist = plugin / "mltools-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mltools\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[medialoom.kinds]\ntoolcheck = mltools:KIND\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    system = make_system(tmp_path)
    system.start_broker()
    monkeypatch.setenv("PYTHONPATH", str(plugin))
    system.start_worker(slots=2)
    try:
        with system.client() as c:
            job = c.start("toolcheck", params={"fifo": str(fifo), "timeout_s": 0.5})
            latencies = []
            started = time.monotonic()
            while time.monotonic() - started < 30:
                t0 = time.monotonic()
                snap = c.status(job["id"])
                latencies.append(time.monotonic() - t0)
                if snap["status"] in TERMINAL:
                    break
                time.sleep(0.05)
            took = time.monotonic() - started
            timeouts = c.results(job["id"], status=["timeout"])
        assert snap["status"] == "completed", f"{snap}\n{log_tails(system)}"
        p = snap["progress"]
        assert (p["processed"], p["succeeded"], p["failed"]) == (3, 1, 2), p
        assert sorted(i["path"] for i in timeouts["items"]) == ["cat", "sh"]
        # 0.5 s timeouts, 2 s grace for the one that ignores SIGTERM: well under 15 s
        assert took < 15, f"the job took {took:.1f} s"
        assert max(latencies) < 5 and statistics.median(latencies) < 1, latencies
    finally:
        codes = system.stop()
    assert set(codes.values()) == {0}, codes


def test_sigterm_drains_a_running_job_and_exits_0_within_5_s(tmp_path: Path) -> None:
    system = make_system(tmp_path)
    system.start_broker()
    worker = system.start_worker(slots=1)
    try:
        with system.client() as c:
            # an hour in steps of 0.2 s: items are being reported when the stop comes
            job = c.start("sleep", params={"seconds": 3600, "steps": 18000})
            running = wait_status(system, job["id"], {"running"}, 20)
            # queued behind it: dispatched to the stopping worker once the slot frees, it must
            # not be started there (nor cancelled): the broker takes it back
            waiting = c.start("sleep", params={"seconds": 1, "steps": 1})
            assert running["status"] == "running", log_tails(system)
            time.sleep(1.0)
            asked = time.monotonic()
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=15)
            took = time.monotonic() - asked
            assert code == 0, log_tails(system)
            assert took < 5.0, f"the worker took {took:.1f} s to stop"
            # nobody cancelled it: the job is requeued for another worker, never cancelled
            # and never left running
            after = wait_status(system, job["id"], TERMINAL | {"queued"}, 10)
            assert after["status"] == "queued", after
            assert after["error"]["code"] == "worker.lost", after
            time.sleep(0.5)
            assert c.status(waiting["id"])["status"] == "queued", log_tails(system)
    finally:
        codes = system.stop()
    assert set(codes.values()) == {0}, codes

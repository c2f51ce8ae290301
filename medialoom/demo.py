"""``make demo``: start medialoom on its defaults and run a real scan of a generated library.

Generates ./demo-library (10,000 audio files in MP3, FLAC and WAV with varied
and unicode tags, some untagged, a few corrupt) unless it exists, starts the
broker and a worker pool sized to the CPU count on the default loopback
endpoints with the store in ./.demo, runs a ``scan`` job and then a dry-run
``rename`` with live progress bars, prints what they found and the planned
renames (collisions included), and stops everything.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from medialoom import settings
from medialoom.broker.config import BrokerConfig, broker_settings
from medialoom.clients.client import AsyncClient, Client
from medialoom.clients.render_live import show_progress
from medialoom.clients.render_tables import console, plan_table, results_table
from medialoom.clients.up import BROKER, POOL
from medialoom.samplelib import generate

LIBRARY = Path("demo-library")
DATA = Path(".demo")


def _start(config: BrokerConfig) -> list[subprocess.Popen[bytes]]:
    log = open(DATA / "demo.log", "ab")  # noqa: SIM115 - the children keep it open
    # the parts get their settings as MEDIALOOM_* variables, as under medialoom up
    env = settings.child_environ({**broker_settings(config), "processes": os.cpu_count() or 2})
    broker = subprocess.Popen(BROKER, env=env, stdout=log, stderr=log)
    with Client(config.clients, config.events_out, timeout_s=0.5) as c:
        for _ in range(40):
            try:
                c.ping()
                break
            except Exception:
                if broker.poll() is not None:
                    raise SystemExit("the broker exited; see .demo/demo.log (ports 5570-5573 "
                                     "busy? stop the other medialoom first)") from None
    pool = subprocess.Popen(POOL, env=env, stdout=log, stderr=log)
    with Client(config.clients, config.events_out) as c:
        deadline = time.monotonic() + 20
        while not c.stats()["workers"] and time.monotonic() < deadline:
            time.sleep(0.1)
    return [pool, broker]


async def _scan(config: BrokerConfig, library: str) -> int:
    async with AsyncClient(config.clients, config.events_out) as client:
        job = await client.start("scan", [library], allow_conflict=True)
        console.print(f"started scan job [bold]{job['id']}[/] on {LIBRARY}/")
        await show_progress(client.watch(job["id"]))
        done = await client.status(job["id"])
        p = done["progress"]
        console.print(f"[green]{done['status']}[/]: {p['processed']} files in "
                      f"{done['finished'] - done['started']:.1f} s, {p['succeeded']} read, "
                      f"{p['failed']} failed, {p['skipped']} skipped")
        console.print(f"formats: {done['result'].get('formats')}")
        failed = await client.results(job["id"], status=["failed"], limit=10)
        console.print(results_table(failed["items"], failed["total"]))
        code = 0 if done["status"] == "completed" else 1
        template = "[{key:camelot} - ]{artist} - {title}"
        plan_job = await client.start("rename", [library], {"template": template},
                                      dry_run=True, allow_conflict=True)
        console.print(f"\nstarted a dry-run rename [bold]{plan_job['id']}[/] with template "
                      f"{template!r} (nothing is changed)")
        await show_progress(client.watch(plan_job["id"]))
        plan = await client.plan(plan_job["id"], limit=5)
        conflicts = await client.plan(plan_job["id"], status=["conflict"], limit=5)
        console.print(plan_table(plan["ops"], plan["total"]))
        console.print(plan_table(conflicts["ops"], conflicts["total"]))
        console.print("to browse these jobs later: medialoom up --data-dir .demo --root "
                      f"demo-library, then open http://127.0.0.1:8570/ or run medialoom plan "
                      f"{plan_job['id']} --status conflict")
        return code


def main() -> int:
    """Generate, start, scan, stop."""
    DATA.mkdir(exist_ok=True)
    if not LIBRARY.exists():
        summary = generate(str(LIBRARY), 10_000, seed=1, corrupt=5)
        console.print(f"generated {summary['files']} files ({summary['formats']}) in "
                      f"{LIBRARY}/ in {summary['elapsed_s']:.1f} s")
    config = BrokerConfig(data_dir=str(DATA.resolve()), roots=(str(LIBRARY.resolve()),))
    procs = _start(config)
    try:
        return asyncio.run(_scan(config, str(LIBRARY.resolve())))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())

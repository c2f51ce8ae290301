"""The ``medialoom`` command: exit codes, --json, and ``up`` leaving no process behind.

Every CLI run here is in an 80-column terminal (COLUMNS=80); tests/e2e/test_cli_user.py
has what a new user meets (narrow tables, short ids, help, piped watch).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medialoom.clients.client import Client
from tests.support import System, free_ports, make_system

pytestmark = pytest.mark.e2e


def cli(system: System | None, *args: str, timeout: float = 60,
        columns: int = 80) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "medialoom.clients.cli_main", *args]
    if system is not None:
        argv += ["--endpoint", system.clients, "--events", system.events_out]
    env = {**os.environ, "COLUMNS": str(columns)}
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)


def test_start_watch_exits_0_when_done_and_1_when_failed(system: System) -> None:
    ok = cli(system, "start", "sleep", "--set", "seconds=0.5", "--set", "steps=5", "--watch")
    assert ok.returncode == 0, ok.stderr
    assert "completed" in ok.stdout
    bad = cli(system, "start", "sleep", "--set", "fail=true", "--watch")
    assert bad.returncode == 1
    assert "job.failed" in bad.stdout


def test_wait_exits_3_for_a_cancelled_job(system: System) -> None:
    started = cli(system, "start", "sleep", "--set", "seconds=30", "--set", "steps=300")
    job_id = started.stdout.strip()
    assert started.returncode == 0 and len(job_id) == 26
    assert cli(system, "cancel", job_id).returncode == 0
    waited = cli(system, "wait", job_id)
    assert waited.returncode == 3, waited.stdout + waited.stderr


def test_bad_usage_and_refused_requests_exit_2(system: System) -> None:
    assert cli(None, "start").returncode == 2
    refused = cli(system, "start", "no-such-kind")
    assert refused.returncode == 2
    assert "job.unknown_kind" in refused.stderr
    missing = cli(system, "status", "01AAAAAAAAAAAAAAAAAAAAAAAA")
    assert missing.returncode == 2 and "job.not_found" in missing.stderr


def test_unreachable_broker_exits_4_and_names_the_endpoint() -> None:
    port = free_ports(1)[0]
    out = cli(None, "status", "01AAAAAAAAAAAAAAAAAAAAAAAA", "--endpoint",
              f"tcp://127.0.0.1:{port}", "--timeout", "0.5")
    assert out.returncode == 4
    assert f"tcp://127.0.0.1:{port}" in out.stderr


def test_read_commands_print_one_json_document(system: System) -> None:
    job_id = cli(system, "start", "sleep", "--set", "steps=3").stdout.strip()
    waited = json.loads(cli(system, "wait", job_id, "--json").stdout)
    assert waited["status"] == "completed"
    status = json.loads(cli(system, "status", job_id, "--json").stdout)
    assert status["progress"]["processed"] == 3
    jobs = json.loads(cli(system, "jobs", "--status", "completed", "--json").stdout)
    assert jobs["total"] == 1 and jobs["jobs"][0]["id"] == job_id
    results = json.loads(cli(system, "results", job_id, "--json").stdout)
    assert results["total"] == 3
    stats = json.loads(cli(system, "stats", "--json").stdout)
    assert stats["counts"]["completed"] == 1
    human = cli(system, "jobs")
    assert human.returncode == 0 and job_id[-8:] in human.stdout  # the short id


def _procs_mentioning(marker: str) -> list[int]:
    """Processes with marker on their command line or in their environment (up's children get
    their settings as MEDIALOOM_* variables)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            seen = b"".join(Path(f"/proc/{pid}/{what}").read_bytes()
                            for what in ("cmdline", "environ"))
        except OSError:
            continue
        if marker.encode() in seen:
            found.append(int(pid))
    return found


def test_up_runs_a_job_and_sigterm_stops_every_process(tmp_path: Path) -> None:
    s = make_system(tmp_path)
    up = subprocess.Popen(
        [sys.executable, "-m", "medialoom.clients.cli_main", "up", "--root", str(s.root),
         "--data-dir", str(s.data_dir), "-n", "2", "--no-gateway", "--clients", s.clients,
         "--workers", s.workers, "--events-in", s.events_in, "--events-out", s.events_out],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with Client(s.clients, s.events_out, timeout_s=1.0) as c:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if len(c.stats()["workers"]) == 2:
                        break
                except Exception:
                    time.sleep(0.1)
            job = c.start("sleep", params={"steps": 2})
            assert c.wait(job["id"], timeout_s=30)["status"] == "completed"
        assert len(_procs_mentioning(s.workers)) >= 3  # broker, pool, 2 workers
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(timeout=30)
    assert code == 0
    assert _procs_mentioning(s.workers) == []


def test_dry_run_plan_then_rename_then_rollback_from_the_cli(system: System) -> None:
    from medialoom.samplelib import generate
    lib = system.root / "cli-lib"
    generate(str(lib), 30, corrupt=0)
    before = sorted(p.relative_to(lib) for p in lib.rglob("*") if p.is_file())
    dry = cli(system, "start", "rename", str(lib), "--dry-run", "--watch")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    jobs = json.loads(cli(system, "jobs", "--kind", "rename", "--json").stdout)
    plan = json.loads(cli(system, "plan", jobs["jobs"][0]["id"], "--json").stdout)
    assert plan["total"] == 30 and plan["complete"] is True
    assert sorted(p.relative_to(lib) for p in lib.rglob("*") if p.is_file()) == before
    real = cli(system, "start", "rename", str(lib), "--watch")
    assert real.returncode == 0, real.stdout + real.stderr
    renamed = json.loads(cli(system, "jobs", "--kind", "rename", "--limit", "1", "--json").stdout)
    assert sorted(p.relative_to(lib) for p in lib.rglob("*") if p.is_file()) != before
    undo = cli(system, "rollback", renamed["jobs"][0]["id"][-8:], "--watch")  # a short id
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert sorted(p.relative_to(lib) for p in lib.rglob("*") if p.is_file()) == before

"""The core fabric with real processes: broker, workers, clients on loopback TCP.

Each test states one behaviour of issue #2 / the invariants of ARCHITECTURE.md.
"""

from __future__ import annotations

import os
import signal
import time
import wave
from pathlib import Path

import pytest

from medialoom.clients.client import ClientError
from tests.support import System, make_system

pytestmark = pytest.mark.e2e


def wait_status(system: System, job_id: str, statuses: set[str], timeout_s: float = 30) -> dict:
    found: dict = {}

    def check() -> bool:
        with system.client() as c:
            found.update(c.status(job_id))
        return found["status"] in statuses

    system.wait_for(check, f"job {job_id} to reach {statuses}", timeout_s)
    return found


def write_wav(path: Path, frames: int = 800) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x00" * frames)


def test_job_lifecycle_start_running_completed_with_counts(system: System) -> None:
    with system.client() as c:
        job = c.start("sleep", params={"seconds": 1.0, "steps": 10})
        assert job["status"] == "queued" and job["attempts"] == 0
        running = wait_status(system, job["id"], {"running", "completed"})
        assert running["attempts"] == 1
        done = c.wait(job["id"], timeout_s=30)
        assert done["status"] == "completed"
        p = done["progress"]
        assert (p["total"], p["processed"], p["succeeded"], p["failed"]) == (10, 10, 10, 0)
        assert p["percent"] == 100.0 and p["remaining"] == 0
        assert done["started"] >= done["created"] and done["finished"] >= done["started"]
        page = c.results(job["id"], limit=4, offset=8)
        assert page["total"] == 10 and [i["i"] for i in page["items"]] == [8, 9]


def test_scan_job_counts_real_files_and_keeps_going_after_corrupt_ones(system: System) -> None:
    for i in range(12):
        write_wav(system.root / "music" / f"track{i:02}.wav")
    (system.root / "music" / "broken.mp3").write_bytes(b"\x00garbage" * 50)
    with system.client() as c:
        job = c.start("scan", [str(system.root / "music")])
        done = c.wait(job["id"], timeout_s=60)
        assert done["status"] == "completed"
        assert done["progress"]["processed"] == 13
        assert done["progress"]["failed"] == 1
        failed = c.results(job["id"], status=["failed"])
        assert failed["total"] == 1 and failed["items"][0]["path"].endswith("broken.mp3")
        assert failed["items"][0]["message"]


def test_two_jobs_run_at_the_same_time(system: System) -> None:
    with system.client() as c:
        a = c.start("sleep", params={"seconds": 3, "steps": 30})
        b = c.start("sleep", params={"seconds": 3, "steps": 30})
        system.wait_for(lambda: c.status(a["id"])["status"] == "running"
                        and c.status(b["id"])["status"] == "running", "both running")
        assert c.wait(a["id"], 30)["status"] == c.wait(b["id"], 30)["status"] == "completed"


def test_jobs_run_in_priority_order(broker_only: System) -> None:
    system = broker_only
    with system.client() as c:
        ids = {p: c.start("sleep", params={"seconds": 0.05}, priority=p)["id"]
               for p in ("low", "normal", "high", "webhook")}
        system.start_worker(slots=1)
        jobs = {p: c.wait(i, 30) for p, i in ids.items()}
    order = sorted(jobs, key=lambda p: jobs[p]["started"])
    assert order == ["webhook", "high", "normal", "low"]


def test_overlapping_path_is_a_conflict_unless_allowed(broker_only: System) -> None:
    (broker_only.root / "a" / "b").mkdir(parents=True)
    with broker_only.client() as c:
        c.start("scan", [str(broker_only.root / "a")])
        with pytest.raises(ClientError) as err:
            c.start("scan", [str(broker_only.root / "a" / "b")])
        assert err.value.code == "job.conflict"
        assert c.start("scan", [str(broker_only.root / "a" / "b")], allow_conflict=True)


def test_full_queue_is_refused_as_busy(tmp_path: Path) -> None:
    system = make_system(tmp_path)
    system.extra_broker_args = ["--queue-max", "3"]
    system.start_broker()
    try:
        with system.client() as c:
            for _ in range(3):
                c.start("sleep")
            with pytest.raises(ClientError) as err:
                c.start("sleep")
            assert err.value.code == "queue.full"
            assert c.ping()
    finally:
        system.stop()


def test_paths_outside_the_roots_or_missing_are_refused(broker_only: System,
                                                       tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (broker_only.root / "sneaky").symlink_to(outside)
    with broker_only.client() as c:
        for path, code in ((str(outside), "path.forbidden"),
                           (str(broker_only.root / "sneaky"), "path.forbidden"),
                           (str(broker_only.root / "missing"), "path.not_found"),
                           ("relative/path", "protocol.bad_field")):
            with pytest.raises(ClientError) as err:
                c.start("scan", [path])
            assert err.value.code == code, path
        assert c.list()["total"] == 0


def test_cancel_of_a_queued_job_is_immediate(broker_only: System) -> None:
    with broker_only.client() as c:
        job = c.start("sleep", params={"seconds": 1})
        assert c.cancel(job["id"])["status"] == "cancelled"
        assert c.status(job["id"])["status"] == "cancelled"
        with pytest.raises(ClientError) as err:
            c.cancel(job["id"])
        assert err.value.code == "job.finished"


def test_cancel_of_a_running_job_keeps_partial_results(system: System) -> None:
    with system.client() as c:
        job = c.start("sleep", params={"seconds": 20, "steps": 200})
        system.wait_for(lambda: c.status(job["id"])["progress"]["processed"] >= 5, "progress")
        c.cancel(job["id"])
        done = c.wait(job["id"], timeout_s=10)
        assert done["status"] == "cancelled"
        processed = done["progress"]["processed"]
        assert 5 <= processed < 200
        assert c.results(job["id"], limit=1000)["total"] == processed


def test_clear_removes_a_finished_job_and_refuses_an_active_one(system: System) -> None:
    with system.client() as c:
        job = c.start("sleep", params={"steps": 2})
        c.wait(job["id"], 30)
        assert c.clear(job["id"]) == job["id"]
        for call in (c.status, c.clear):
            with pytest.raises(ClientError) as err:
                call(job["id"])
            assert err.value.code == "job.not_found"
        long = c.start("sleep", params={"seconds": 10, "steps": 10})
        with pytest.raises(ClientError) as err:
            c.clear(long["id"])
        assert err.value.code == "job.not_finished"


def test_killed_worker_mid_job_is_requeued_and_completed_by_another(system: System) -> None:
    with system.client() as c:
        job = c.start("sleep", params={"seconds": 4, "steps": 40})
        system.wait_for(lambda: c.status(job["id"])["progress"]["processed"] >= 3, "progress")
        busy = [w["pid"] for w in c.stats()["workers"] if w["running"]]
        assert len(busy) == 1
        os.kill(busy[0], signal.SIGKILL)
        done = c.wait(job["id"], timeout_s=60)
        assert done["status"] == "completed"
        assert done["attempts"] == 2
        assert done["progress"]["processed"] == 40
        assert c.results(job["id"], limit=1000)["total"] == 40


def test_broker_kill9_keeps_acked_jobs_runs_queued_ones_and_applies_pending_cancel(
        tmp_path: Path) -> None:
    system = make_system(tmp_path)
    system.start_broker()
    try:
        worker = system.start_worker(slots=1)
        with system.client() as c:
            running = c.start("sleep", params={"seconds": 60, "steps": 600})
            system.wait_for(lambda: c.status(running["id"])["progress"]["processed"] >= 1,
                            "running job progresses")
            queued = [c.start("sleep", params={"steps": 1})["id"] for _ in range(50)]
            worker.send_signal(signal.SIGSTOP)  # the worker cannot act on the cancel yet
            assert c.cancel(running["id"])["cancel_requested"] is True
        system.kill_broker()
        system.start_broker()
        worker.send_signal(signal.SIGCONT)
        with system.client() as c:
            for job_id in [running["id"], *queued]:
                assert c.status(job_id)["id"] == job_id
            final = c.wait(running["id"], timeout_s=30)
            assert final["status"] == "cancelled" and final["attempts"] == 1
            for job_id in queued:
                assert c.wait(job_id, timeout_s=60)["status"] == "completed"
    finally:
        system.stop()


def test_every_acknowledged_start_survives_kill9(tmp_path: Path) -> None:
    system = make_system(tmp_path)
    system.start_broker()
    try:
        with system.client() as c:
            acked = [c.start("sleep")["id"] for _ in range(300)]
        system.kill_broker()
        system.start_broker()
        with system.client() as c:
            listed = c.list(limit=1000)
            assert {j["id"] for j in listed["jobs"]} >= set(acked)
            assert listed["total"] == 300
    finally:
        system.stop()


def test_failed_job_reports_its_error(system: System) -> None:
    with system.client() as c:
        job = c.start("sleep", params={"fail": True})
        done = c.wait(job["id"], timeout_s=30)
        assert done["status"] == "failed"
        assert done["error"]["code"] == "job.failed" and "on request" in done["error"]["message"]
        assert done["attempts"] == 1


def test_list_filters_orders_and_stats_count(system: System) -> None:
    with system.client() as c:
        ids = [c.start("sleep", params={"steps": 1})["id"] for _ in range(5)]
        for i in ids:
            c.wait(i, 30)
        c.start("sleep", params={"fail": True})
        time.sleep(0.01)
        page = c.list(status=["completed"], kind=["sleep"], limit=2, order="created")
        assert page["total"] == 5 and [j["id"] for j in page["jobs"]] == ids[:2]
        newest = c.list(limit=1, order="-created")["jobs"][0]
        assert newest["id"] not in ids
        stats = c.stats()
        system.wait_for(lambda: c.stats()["counts"]["failed"] == 1, "failed counted")
        stats = c.stats()
        assert stats["counts"]["completed"] == 5 and stats["items_processed"] >= 5
        assert stats["success_rate"] == pytest.approx(5 / 6, abs=0.01)
        assert stats["mean_duration_s"] is not None

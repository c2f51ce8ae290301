"""The seed-001 batch API (/batch, /jobs) with its shapes and status codes."""

from __future__ import annotations

import asyncio
import os
import re
import time
from pathlib import Path

from aiohttp.test_utils import TestClient

from medialoom.samplelib import generate
from tests.gateway.conftest import JSON, start, wait_job
from tests.support import System

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def library_with_one_big_file(lib: Path) -> str:
    """12 small tracks, one of them grown past 2 MiB; its real path."""
    generate(str(lib), 12, corrupt=0)
    big = next(p for p in sorted(lib.rglob("*")) if p.is_file())
    with open(big, "ab") as fh:
        fh.write(b"\0" * (2 * 1024 * 1024))
    return os.path.realpath(big)


async def test_post_batch_starts_a_scan_with_mapped_filters(gw: TestClient,
                                                            system: System) -> None:
    lib = system.root / "tv"
    big = await asyncio.to_thread(library_with_one_big_file, lib)
    r = await gw.post("/batch", json={
        "path": str(lib), "recursive": True, "pattern": "**/*.*", "dry_run": False,
        "priority": "high", "filters": {"min_size_mb": 1, "max_age_days": 30,
                                        "exclude_patterns": ["*sample*"]}})
    data = await r.json()
    assert r.status == 202, data
    assert data["status"] == "started" and data["message"] == "Batch job started"
    assert data["estimated_files"] is None and r.headers["Location"] == f"/batch/{data['job_id']}"
    job = await wait_job(gw, data["job_id"])
    assert job["params"]["min_size"] == 1024 * 1024 and job["params"]["pattern"] == "**/*.*"
    assert job["params"]["exclude"] == ["*sample*"] and job["params"]["max_age_days"] == 30
    assert job["priority"] == "high" and job["progress"]["processed"] == 1  # only the big file

    detail = await (await gw.get(f"/batch/{data['job_id']}")).json()
    assert detail["job_id"] == data["job_id"] and detail["status"] == "completed"
    assert detail["path"] == str(lib) and detail["recursive"] is True
    assert detail["dry_run"] is False and detail["priority"] == "high"
    assert set(detail["progress"]) >= {"total_files", "processed", "success", "skipped",
                                       "failed", "remaining", "percent", "eta_seconds"}
    assert detail["progress"]["success"] == 1 and detail["progress"]["percent"] == 100.0
    for key in ("started_at", "updated_at", "completed_at"):
        assert ISO.match(detail[key]), detail[key]
    assert detail["results"] == [{"file": big, "status": "success",
                                  "message": detail["results"][0]["message"],
                                  "duration_ms": detail["results"][0]["duration_ms"]}]
    assert (await (await gw.get(f"/jobs/{data['job_id']}")).json())["job_id"] == data["job_id"]


def put(path: Path, size: int, age_days: float = 0.0) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)
    if age_days:
        then = time.time() - age_days * 86400
        os.utime(path, (then, then))
    return os.path.realpath(path)


def tv_library(lib: Path) -> str:
    """Episodes, samples, trailers, an old and a small episode, and audio; the one real pick."""
    pick = put(lib / "Show" / "Season 1" / "S01E01.MKV", 300_000)
    put(lib / "Show" / "Season 1" / "S01E01.sample.mkv", 300_000)
    put(lib / "Show" / "Trailers" / "teaser.mkv", 300_000)
    put(lib / "Show" / "Season 1" / "S01E02.mkv", 300_000, age_days=60)
    put(lib / "Show" / "Season 1" / "S01E03.mkv", 1000)
    put(lib / "Show" / "theme.mp3", 300_000)
    put(lib / "Show" / "S01E04.mp4", 300_000)
    return pick


async def test_post_batch_with_the_seed_body_scans_what_its_pattern_says(
        gw: TestClient, system: System) -> None:
    lib = system.root / "tv"
    pick = await asyncio.to_thread(tv_library, lib)
    r = await gw.post("/batch", json={
        "path": str(lib), "recursive": True, "pattern": "**/*.mkv", "dry_run": False,
        "priority": "normal", "filters": {"min_size_mb": 0.25, "max_age_days": 30,
                                          "exclude_patterns": ["*sample*", "trailers/"]}})
    data = await r.json()
    assert r.status == 202 and data["estimated_files"] is None, data
    job = await wait_job(gw, data["job_id"])
    assert job["status"] == "completed" and job["params"]["extensions"] == ["mkv"]
    assert job["result"]["ignored_by"] == {"age": 1, "exclude": 1, "extension": 2,
                                           "size": 1}
    assert job["result"]["excluded_folders"] == 1
    detail = await (await gw.get(f"/batch/{data['job_id']}")).json()
    assert [(i["file"], i["status"]) for i in detail["results"]] == [(pick, "success")]
    assert detail["estimated_files"] == 1 == detail["progress"]["total_files"]


def test_estimated_files_is_known_once_the_walk_is_done() -> None:
    from medialoom.clients.gateway.compat import estimated_files

    def job(status: str, processed: int, total: int) -> dict:
        return {"status": status, "progress": {"processed": processed, "total": total}}

    assert estimated_files(job("queued", 0, 0)) is None
    assert estimated_files(job("running", 0, 40)) is None  # still counting
    assert estimated_files(job("running", 1, 120)) == 120
    assert estimated_files(job("completed", 0, 0)) == 0
    assert estimated_files(job("cancelled", 0, 40)) == 40


async def test_post_batch_errors_have_the_seed_status_codes(gw_queue: TestClient,
                                                            queue_system: System) -> None:
    root = queue_system.root
    for name in ("a", "b", "c", "d"):
        (root / name).mkdir()
    cases = [({}, 400, "path"), ({"path": 5}, 400, "path"),
             ({"path": str(root / "a"), "recursive": "yes"}, 400, "recursive"),
             ({"path": str(root / "a"), "filters": {"min_size_mb": "big"}}, 400,
              "filters.min_size_mb"),
             ({"path": str(root / "a"), "filters": {"min_size_mb": -1}}, 400,
              "filters.min_size_mb"),
             ({"path": str(root / "a"), "filters": {"exclude_patterns": [1]}}, 400,
              "filters.exclude_patterns"),
             ({"path": str(root / "a"), "filters": {"colour": 1}}, 400, "filters.colour"),
             ({"path": str(root / "a"), "colour": 1}, 400, "colour"),
             ({"path": str(root / "a"), "pattern": "**.mkv"}, 400, "pattern"),
             ({"path": str(root / "a"), "filters": {"exclude_patterns": ["[x"]}}, 400,
              "filters.exclude_patterns"),
             ({"path": "/etc"}, 403, None), ({"path": str(root / "zzz")}, 404, None)]
    for body, status, name in cases:
        r = await gw_queue.post("/batch", json=body)
        data = await r.json()
        assert r.status == status, (body, data)
        if name:
            assert data["error"]["details"]["field"] == name and data["detail"], data
    assert (await gw_queue.post("/batch", json={"path": str(root / "a")})).status == 202
    r = await gw_queue.post("/batch", json={"path": str(root / "a")})
    assert r.status == 409 and (await r.json())["error"]["code"] == "job.conflict"
    for name in ("b", "c"):
        assert (await gw_queue.post("/batch", json={"path": str(root / name)})).status == 202
    r = await gw_queue.post("/batch", json={"path": str(root / "d")})
    assert r.status == 503 and (await r.json())["error"]["code"] == "queue.full"


async def test_delete_batch_cancels_and_reports_processed_before_cancel(gw: TestClient) -> None:
    job_id = (await start(gw, options={"seconds": 20, "steps": 200}))["id"]
    deadline = time.monotonic() + 20
    while (await (await gw.get(f"/api/v1/jobs/{job_id}")).json())["progress"]["processed"] < 2:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    r = await gw.delete(f"/batch/{job_id}", headers=JSON)
    data = await r.json()
    assert r.status == 200, data
    assert data["status"] == "cancelled" and data["message"] == "Job cancelled successfully"
    assert 2 <= data["processed_before_cancel"] < 200
    assert (await gw.delete(f"/batch/{job_id}", headers=JSON)).status == 409
    assert (await gw.delete("/batch/01ZZZZZZZZZZZZZZZZZZZZZZZZ", headers=JSON)).status == 404
    assert (await gw.get("/batch/01ZZZZZZZZZZZZZZZZZZZZZZZZ")).status == 404
    other = (await start(gw, options={"seconds": 20, "steps": 200}))["id"]
    r = await gw.delete(f"/jobs/{other}", headers=JSON)
    assert r.status == 200 and (await r.json())["status"] == "cancelled"


async def test_get_jobs_lists_filters_and_pages_in_the_seed_shape(gw: TestClient,
                                                                  system: System) -> None:
    ids = [(await start(gw, options={"seconds": 0, "steps": 1}))["id"] for _ in range(3)]
    for job_id in ids:
        await wait_job(gw, job_id)
    r = await gw.get("/jobs", params={"status": "completed", "limit": "2", "offset": "0",
                                      "order_by": "created_at"})
    data = await r.json()
    assert r.status == 200 and data["total"] == 3 and data["limit"] == 2 and data["offset"] == 0
    assert [j["job_id"] for j in data["jobs"]] == ids[::-1][:2]
    row = data["jobs"][0]
    assert row["status"] == "completed" and row["progress"] == {"percent": 100.0}
    assert ISO.match(row["started_at"]) and row["path"] is None
    asc = await (await gw.get("/jobs?order_by=created_at&order=asc&limit=1")).json()
    assert asc["jobs"][0]["job_id"] == ids[0]
    assert (await gw.get("/jobs?status=nope")).status == 400
    assert (await gw.get("/jobs?limit=-3")).status == 400


async def test_get_jobs_stats_in_the_seed_shape(gw: TestClient) -> None:
    done = (await start(gw, options={"seconds": 0, "steps": 2}))["id"]
    failed = (await start(gw, options={"fail": True}))["id"]
    await wait_job(gw, done)
    await wait_job(gw, failed, timeout_s=60)
    r = await gw.get("/jobs/stats")
    st = await r.json()
    assert r.status == 200
    assert st["total_jobs"] == 2 and st["completed"] == 1 and st["failed"] == 1
    assert st["running"] == st["queued"] == st["cancelled"] == 0
    assert st["total_files_processed"] == 2 and st["success_rate"] == 0.5
    assert st["average_duration_seconds"] is not None

"""REST API /api/v1 through aiohttp's test client against a real broker and real workers."""

from __future__ import annotations

import asyncio
import io
import time
from pathlib import Path

from aiohttp.test_utils import TestClient

from medialoom.samplelib import generate
from tests.gateway.conftest import JSON, start, wait_job
from tests.support import System

PROGRESS_KEYS = {"total", "processed", "succeeded", "skipped", "failed", "remaining", "percent",
                 "rate", "eta_seconds", "current"}


async def error_of(response, status: int) -> dict:  # noqa: ANN001
    """The error map of a response that must have this status."""
    body = await response.json()
    assert response.status == status, body
    assert body["detail"] == body["error"]["message"]
    return body["error"]


async def test_create_job_is_202_with_id_location_and_finishes(gw: TestClient) -> None:
    r = await gw.post("/api/v1/jobs", json={"kind": "sleep", "options": {"seconds": 0.2,
                                                                         "steps": 4}})
    data = await r.json()
    assert r.status == 202, data
    assert r.headers["Location"] == f"/api/v1/jobs/{data['id']}"
    assert data["job"]["status"] == "queued" and data["job"]["params"]["steps"] == 4
    job = await wait_job(gw, data["id"])
    assert job["status"] == "completed"
    assert set(job["progress"]) == PROGRESS_KEYS
    assert job["progress"]["processed"] == job["progress"]["succeeded"] == 4
    assert job["progress"]["percent"] == 100.0 and job["progress"]["remaining"] == 0


async def test_get_job_shows_live_progress_rate_eta_and_current_item(gw: TestClient) -> None:
    job_id = (await start(gw, options={"seconds": 3, "steps": 30}))["id"]
    deadline = time.monotonic() + 20
    while True:
        job = await (await gw.get(f"/api/v1/jobs/{job_id}")).json()
        p = job["progress"]
        if job["status"] == "running" and 3 <= p["processed"] < 25:
            break
        assert time.monotonic() < deadline and job["status"] != "completed", job
        await asyncio.sleep(0.05)
    assert p["total"] == 30 and p["remaining"] == 30 - p["processed"]
    assert 0 < p["percent"] < 100 and p["rate"] > 0 and p["eta_seconds"] > 0
    assert p["current"].startswith("step ")
    await gw.post(f"/api/v1/jobs/{job_id}/cancel", headers=JSON)
    await wait_job(gw, job_id)


async def test_start_accepts_path_alias_params_priority_and_dry_run(gw: TestClient,
                                                                    system: System) -> None:
    (system.root / "music").mkdir()
    data = await start(gw, "scan", path=str(system.root / "music"), params={"recursive": False},
                       priority="high", dry_run=True, max_attempts=2)
    job = data["job"]
    assert job["paths"] == [str(system.root / "music")] and job["params"]["recursive"] is False
    assert job["priority"] == "high" and job["dry_run"] is True and job["max_attempts"] == 2
    assert (await wait_job(gw, data["id"]))["status"] == "completed"


async def test_start_refuses_bad_input_with_400_naming_the_field(gw: TestClient,
                                                                 system: System) -> None:
    cases = [
        (b"", "body"), (b"not json", "body"), (b"[1, 2]", "body"),
        ({}, "kind"), ({"kind": 3}, "kind"), ({"kind": "sleep", "colour": "red"}, "colour"),
        ({"kind": "sleep", "dry_run": "yes"}, "dry_run"),
        ({"kind": "sleep", "options": []}, "options"),
        ({"kind": "sleep", "max_attempts": True}, "max_attempts"),
        ({"kind": "sleep", "paths": [1]}, "paths"),
        ({"kind": "nope"}, "kind"),
        ({"kind": "sleep", "options": {"bogus": 1}}, "options.bogus"),
        ({"kind": "sleep", "options": {"seconds": "long"}}, "options.seconds"),
        ({"kind": "scan"}, "paths"),
        ({"kind": "scan", "paths": ["relative/dir"]}, "paths"),
        ({"kind": "sleep", "priority": "urgent"}, "priority"),
    ]
    for body, name in cases:
        if isinstance(body, bytes):
            r = await gw.post("/api/v1/jobs", data=body,
                              headers={"Content-Type": "application/json"})
        else:
            r = await gw.post("/api/v1/jobs", json=body)
        err = await error_of(r, 400)
        assert err["details"]["field"] == name, (body, err)
        assert name.split(".")[-1].rstrip("s") in err["message"] or name == "body", err
    unknown = await error_of(await gw.post("/api/v1/jobs", json={"kind": "nope"}), 400)
    assert unknown["code"] == "job.unknown_kind" and "sleep" in unknown["message"]


async def test_start_outside_the_roots_is_403_and_a_missing_path_404(gw: TestClient,
                                                                     system: System) -> None:
    err = await error_of(await gw.post("/api/v1/jobs", json={"kind": "scan", "paths": ["/etc"]}),
                         403)
    assert err["code"] == "path.forbidden" and "outside the library roots" in err["message"]
    missing = str(system.root / "not-there")
    err = await error_of(await gw.post("/api/v1/jobs", json={"kind": "scan", "paths": [missing]}),
                         404)
    assert err["code"] == "path.not_found" and missing in err["message"]


async def test_conflicting_job_is_409_and_a_full_queue_503(gw_queue: TestClient,
                                                           queue_system: System) -> None:
    root = queue_system.root
    for name in ("a", "a/sub", "b", "c"):
        (root / name).mkdir()
    first = await start(gw_queue, "scan", paths=[str(root / "a")])  # no scan worker: stays queued
    for path in (root / "a", root / "a" / "sub", root):
        err = await error_of(await gw_queue.post("/api/v1/jobs", json={
            "kind": "scan", "paths": [str(path)]}), 409)
        assert err["code"] == "job.conflict" and err["details"]["job"] == first["id"]
    await start(gw_queue, "scan", paths=[str(root / "a" / "sub")], allow_conflict=True)
    await start(gw_queue, "scan", paths=[str(root / "b")])
    err = await error_of(await gw_queue.post("/api/v1/jobs", json={
        "kind": "scan", "paths": [str(root / "c")]}), 503)
    assert err["code"] == "queue.full" and "queue is full" in err["message"]


async def test_list_filters_by_status_and_kind_pages_and_orders(gw: TestClient,
                                                                system: System) -> None:
    ids = [(await start(gw, options={"seconds": 0, "steps": 1}))["id"] for _ in range(3)]
    scan = (await start(gw, "scan", paths=[str(system.root)]))["id"]
    for job_id in [*ids, scan]:
        await wait_job(gw, job_id)
    r = await gw.get("/api/v1/jobs", params={"status": "completed", "kind": "sleep",
                                             "limit": "2"})
    page1 = await r.json()
    assert r.status == 200 and page1["total"] == 3 and page1["limit"] == 2
    assert [j["id"] for j in page1["jobs"]] == ids[::-1][:2]  # newest first by default
    page2 = await (await gw.get("/api/v1/jobs?kind=sleep&limit=2&offset=2")).json()
    assert [j["id"] for j in page2["jobs"]] == [ids[0]] and page2["offset"] == 2
    oldest = await (await gw.get("/api/v1/jobs?order_by=created_at&limit=1")).json()
    assert oldest["jobs"][0]["id"] == ids[0] and oldest["order_by"] == "created"
    both = await (await gw.get("/api/v1/jobs?kind=sleep,scan&status=completed")).json()
    assert both["total"] == 4
    repeated = await (await gw.get("/api/v1/jobs?status=failed&status=cancelled")).json()
    assert repeated["total"] == 0


async def test_list_refuses_bad_query_with_400_naming_the_parameter(gw: TestClient) -> None:
    for query, name in (("status=bogus", "status"), ("limit=0", "limit"), ("limit=x", "limit"),
                        ("limit=5000", "limit"), ("offset=-1", "offset"),
                        ("order_by=size", "order_by")):
        err = await error_of(await gw.get(f"/api/v1/jobs?{query}"), 400)
        assert err["details"]["field"] == name and name in err["message"]


async def test_unknown_job_is_404_on_every_job_route(gw: TestClient) -> None:
    missing = "01ZZZZZZZZZZZZZZZZZZZZZZZZ"
    for method, path in (("GET", ""), ("GET", "/results"), ("GET", "/plan"),
                         ("POST", "/cancel"), ("POST", "/rollback"), ("DELETE", "")):
        r = await gw.request(method, f"/api/v1/jobs/{missing}{path}", headers=JSON)
        err = await error_of(r, 404)
        assert err["code"] == "job.not_found" and missing in err["message"], (method, path)


async def test_results_are_paged_and_filtered_by_item_status(gw: TestClient,
                                                             system: System) -> None:
    generate(str(system.root / "lib"), 40, corrupt=3)
    job_id = (await start(gw, "scan", paths=[str(system.root / "lib")]))["id"]
    job = await wait_job(gw, job_id)
    assert job["status"] == "completed" and job["progress"]["failed"] == 3
    r = await gw.get(f"/api/v1/jobs/{job_id}/results", params={"limit": "15", "offset": "30"})
    page = await r.json()
    assert r.status == 200 and page["total"] == 40 and len(page["items"]) == 10
    assert [i["i"] for i in page["items"]] == list(range(30, 40))
    failed = await (await gw.get(f"/api/v1/jobs/{job_id}/results?status=failed")).json()
    assert failed["total"] == 3 and {i["status"] for i in failed["items"]} == {"failed"}
    assert all(i["path"].startswith(str(system.root / "lib")) for i in failed["items"])
    err = await error_of(await gw.get(f"/api/v1/jobs/{job_id}/results?limit=0"), 400)
    assert err["details"]["field"] == "limit"


async def test_plan_of_a_job_is_paged(gw: TestClient, system: System) -> None:
    job_id = (await start(gw, "scan", paths=[str(system.root)], dry_run=True))["id"]
    await wait_job(gw, job_id)
    r = await gw.get(f"/api/v1/jobs/{job_id}/plan?limit=10")
    plan = await r.json()
    assert r.status == 200, plan
    assert plan["ops"] == [] and plan["total"] == 0 and plan["limit"] == 10  # scan plans nothing
    assert isinstance(plan["complete"], bool)
    err = await error_of(await gw.get(f"/api/v1/jobs/{job_id}/plan?offset=x"), 400)
    assert err["details"]["field"] == "offset"


async def test_cancel_running_job_is_202_and_keeps_partial_results(gw: TestClient) -> None:
    job_id = (await start(gw, options={"seconds": 20, "steps": 200}))["id"]
    deadline = time.monotonic() + 20
    while (await (await gw.get(f"/api/v1/jobs/{job_id}")).json())["progress"]["processed"] < 3:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    r = await gw.post(f"/api/v1/jobs/{job_id}/cancel", headers=JSON)
    data = await r.json()
    assert r.status == 202 and data["job"]["cancel_requested"] is True, data
    job = await wait_job(gw, job_id, timeout_s=5)
    assert job["status"] == "cancelled"
    processed = job["progress"]["processed"]
    assert 3 <= processed < 200
    results = await (await gw.get(f"/api/v1/jobs/{job_id}/results?limit=1000")).json()
    assert results["total"] == processed
    again = await error_of(await gw.post(f"/api/v1/jobs/{job_id}/cancel", headers=JSON), 409)
    assert again["code"] == "job.finished"


async def test_cancel_queued_job_is_200_and_cancelled_at_once(gw_queue: TestClient,
                                                              queue_system: System) -> None:
    job_id = (await start(gw_queue, "scan", paths=[str(queue_system.root)]))["id"]
    r = await gw_queue.post(f"/api/v1/jobs/{job_id}/cancel", headers=JSON)
    data = await r.json()
    assert r.status == 200 and data["job"]["status"] == "cancelled", data


async def test_delete_clears_a_finished_job_and_refuses_an_active_one(gw: TestClient) -> None:
    running = (await start(gw, options={"seconds": 10, "steps": 10}))["id"]
    err = await error_of(await gw.delete(f"/api/v1/jobs/{running}", headers=JSON), 409)
    assert err["code"] == "job.not_finished" and "cancel" in err["message"]
    await gw.post(f"/api/v1/jobs/{running}/cancel", headers=JSON)
    await wait_job(gw, running)
    r = await gw.delete(f"/api/v1/jobs/{running}", headers=JSON)
    assert r.status == 200 and (await r.json()) == {"cleared": running}
    assert (await gw.get(f"/api/v1/jobs/{running}")).status == 404
    assert (await gw.delete(f"/api/v1/jobs/{running}", headers=JSON)).status == 404


async def test_rollback_starts_a_rollback_job_for_a_finished_job(gw: TestClient,
                                                                 system: System) -> None:
    (system.root / "album").mkdir()
    running = (await start(gw, options={"seconds": 10, "steps": 10}))["id"]
    err = await error_of(await gw.post(f"/api/v1/jobs/{running}/rollback", headers=JSON), 409)
    assert err["code"] == "job.not_finished"
    await gw.post(f"/api/v1/jobs/{running}/cancel", headers=JSON)
    err = await error_of(await gw.post(f"/api/v1/jobs/{running}/rollback",
                                       json={"colour": 1}), 400)
    assert err["details"]["field"] == "colour"
    target = (await start(gw, "scan", paths=[str(system.root / "album")]))["id"]
    await wait_job(gw, target)
    kinds = (await (await gw.get("/api/v1/health")).json())["kinds"]
    r = await gw.post(f"/api/v1/jobs/{target}/rollback", headers=JSON)
    data = await r.json()
    if "rollback" not in kinds:  # the rollback kind has not landed yet
        assert r.status == 400 and data["error"]["code"] == "job.unknown_kind", data
        return
    if r.status == 202:
        assert data["rollback_of"] == target and data["job"]["kind"] == "rollback"
        assert data["job"]["params"]["job"] == target
        assert data["job"]["paths"] == [str(system.root / "album")]
    else:  # the broker may refuse to roll back a job that changed no files; never unknown_kind
        assert data["error"]["code"] != "job.unknown_kind", data


async def test_stats_counts_jobs_and_lists_workers(gw: TestClient) -> None:
    job_id = (await start(gw, options={"seconds": 0, "steps": 3}))["id"]
    await wait_job(gw, job_id)
    r = await gw.get("/api/v1/stats")
    st = await r.json()
    assert r.status == 200 and st["counts"]["completed"] == 1 and st["items_processed"] == 3
    assert len(st["workers"]) == 2 and st["success_rate"] == 1.0


async def test_health_reports_broker_kinds_and_workers_by_kind(gw: TestClient) -> None:
    r = await gw.get("/api/v1/health")
    h = await r.json()
    assert r.status == 200 and h["status"] == "ok", h
    assert h["broker"]["reachable"] is True and h["broker"]["latency_ms"] >= 0
    assert {"scan", "sleep"} <= set(h["kinds"]) and len(h["roots"]) == 1
    assert h["workers"]["count"] == 2
    assert h["workers"]["by_kind"]["sleep"] == {"workers": 2, "slots": 4, "running": 0}


async def test_kinds_describe_parameters_for_the_start_form(gw: TestClient) -> None:
    data = await (await gw.get("/api/v1/kinds")).json()
    kinds = {k["name"]: k for k in data["kinds"]}
    assert kinds["scan"]["needs_paths"] is True and kinds["sleep"]["needs_paths"] is False
    assert kinds["scan"]["params"]["recursive"] == {
        "types": ["boolean"], "help": "descend into subdirectories", "required": False,
        "default": True}
    assert kinds["sleep"]["params"]["seconds"]["types"] == ["number"]


async def test_unknown_route_is_json_404_and_wrong_method_405(gw: TestClient) -> None:
    err = await error_of(await gw.get("/api/v1/nothing"), 404)
    assert err["code"] == "http.not_found"
    r = await gw.put("/api/v1/jobs")
    err = await error_of(r, 405)
    assert "POST" in r.headers["Allow"]


async def test_oversized_body_is_413(gw: TestClient) -> None:
    r = await gw.post("/api/v1/jobs", data=io.BytesIO(b"{" + b" " * (2 << 20) + b"}"),
                      headers={"Content-Type": "application/json"})
    err = await error_of(r, 413)
    assert err["code"] == "http.request_entity_too_large"


async def test_index_and_static_files_are_served(gw: TestClient, tmp_path: Path) -> None:
    r = await gw.get("/")
    html = await r.text()
    assert r.status == 200 and "/static/app.js" in html and "text/html" in r.content_type
    for name, kind in (("app.js", "javascript"), ("app.css", "text/css")):
        r = await gw.get(f"/static/{name}")
        assert r.status == 200 and kind in r.content_type

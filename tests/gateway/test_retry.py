"""POST /api/v1/jobs/{id}/retry (issue 8, item 4): a new job over only the failed items."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from tests.e2e.test_retries import library_with_three_corrupt_files
from tests.gateway.conftest import JSON, start, wait_job
from tests.support import System


async def test_retry_route_reruns_the_three_failed_items_linked_by_retry_of(
        gw: TestClient, system: System) -> None:
    music, corrupt = library_with_three_corrupt_files(system)
    first = await start(gw, "scan", paths=[music])
    first = await wait_job(gw, first["id"], timeout_s=60)
    assert first["progress"]["failed"] == 3 and first["retry_of"] is None
    r = await gw.post(f"/api/v1/jobs/{first['id']}/retry", headers=JSON)
    data = await r.json()
    assert r.status == 202, data
    assert r.headers["Location"] == f"/api/v1/jobs/{data['id']}"
    assert data["retry_of"] == first["id"] and data["job"]["retry_of"] == first["id"]
    assert sorted(data["job"]["paths"]) == corrupt
    done = await wait_job(gw, data["id"], timeout_s=60)
    assert done["retry_of"] == first["id"] and done["kind"] == "scan"
    assert done["progress"]["processed"] == 3 and done["progress"]["failed"] == 3
    items = (await (await gw.get(f"/api/v1/jobs/{data['id']}/results")).json())["items"]
    assert sorted(i["path"] for i in items) == corrupt


async def test_retry_route_refuses_nothing_to_retry_unfinished_and_unknown(
        gw: TestClient) -> None:
    ok = await wait_job(gw, (await start(gw, options={"steps": 2}))["id"])
    r = await gw.post(f"/api/v1/jobs/{ok['id']}/retry", headers=JSON)
    body = await r.json()
    assert r.status == 409 and body["error"]["code"] == "job.nothing_to_retry", body
    busy = (await start(gw, options={"seconds": 20, "steps": 20}))["id"]
    r = await gw.post(f"/api/v1/jobs/{busy}/retry", headers=JSON)
    assert r.status == 409 and (await r.json())["error"]["code"] == "job.not_finished"
    await gw.post(f"/api/v1/jobs/{busy}/cancel", headers=JSON)
    r = await gw.post("/api/v1/jobs/01AAAAAAAAAAAAAAAAAAAAAAAA/retry", headers=JSON)
    assert r.status == 404
    r = await gw.post(f"/api/v1/jobs/{ok['id']}/retry", headers=JSON, json={"paths": ["/x"]})
    assert r.status == 400

"""A broker that does not answer: 502 with a clear message everywhere, health 503, then recovery."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from medialoom.clients.gateway import GatewayConfig
from tests.gateway.conftest import JSON, dead_endpoints, gateway_config, open_client, start
from tests.support import System

ROUTES = [("POST", "/api/v1/jobs", {"kind": "sleep"}), ("GET", "/api/v1/jobs", None),
          ("GET", "/api/v1/jobs/X", None), ("GET", "/api/v1/jobs/X/results", None),
          ("GET", "/api/v1/jobs/X/plan", None), ("POST", "/api/v1/jobs/X/cancel", None),
          ("POST", "/api/v1/jobs/X/rollback", None), ("DELETE", "/api/v1/jobs/X", None),
          ("GET", "/api/v1/stats", None), ("GET", "/api/v1/kinds", None),
          ("POST", "/batch", {"path": "/x"}), ("GET", "/batch/X", None),
          ("DELETE", "/batch/X", None), ("GET", "/jobs", None), ("GET", "/jobs/stats", None),
          ("GET", "/jobs/X", None), ("DELETE", "/jobs/X", None)]


async def test_every_route_is_502_with_a_clear_message_when_the_broker_is_down(
        tmp_path: Path) -> None:
    clients, events = dead_endpoints()
    client = await open_client(GatewayConfig(endpoint=clients, events=events, auth="never",
                                             data_dir=str(tmp_path), timeout_s=0.3))
    try:
        for method, path, body in ROUTES:
            r = await client.request(method, path, json=body, headers=JSON)
            data = await r.json()
            assert r.status == 502, (method, path, data)
            assert data["error"]["code"] == "broker.unavailable"
            assert "broker cannot be reached" in data["error"]["message"]
            assert clients in data["error"]["message"]
        r = await client.get("/api/v1/health")
        health = await r.json()
        assert r.status == 503 and health["status"] == "unavailable"
        assert health["broker"]["reachable"] is False and clients in health["broker"]["error"]
        ws = await client.ws_connect("/api/v1/ws")
        assert (await ws.receive_json())["type"] == "hello"
        await ws.send_json({"subscribe": "*"})
        err = await ws.receive_json()
        assert err["type"] == "error" and err["code"] == "broker.unavailable"
        await ws.close()
    finally:
        await client.close()


async def test_gateway_recovers_when_the_broker_comes_back(system: System,
                                                           tmp_path: Path) -> None:
    client = await open_client(gateway_config(system, tmp_path, timeout_s=0.5))
    try:
        system.kill_broker()
        assert (await client.get("/api/v1/stats")).status == 502
        system.start_broker()
        deadline = time.monotonic() + 20
        while (await client.get("/api/v1/stats")).status != 200:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        system.wait_for(lambda: system.worker_count() == 2, "workers back")
        await start(client, options={"seconds": 0, "steps": 1})
    finally:
        await client.close()

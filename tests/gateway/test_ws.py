"""WebSocket /api/v1/ws: snapshot then numbered updates, resume with since, 200 subscribers."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from tests.gateway.conftest import TERMINAL, gateway_config, open_client, start, wait_job
from tests.support import System


async def receive(ws: aiohttp.ClientWebSocketResponse, timeout_s: float = 20.0) -> dict[str, Any]:
    """The next JSON message."""
    msg = await asyncio.wait_for(ws.receive(), timeout_s)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def follow(ws: aiohttp.ClientWebSocketResponse, job_id: str,
                 stop_after: int | None = None) -> list[dict[str, Any]]:
    """Job messages (snapshot/update) for job_id until it ends (or stop_after messages)."""
    out: list[dict[str, Any]] = []
    while True:
        msg = await receive(ws)
        if msg["type"] in ("snapshot", "update") and msg["job"]["id"] == job_id:
            out.append(msg)
            if msg["job"]["status"] in TERMINAL or (stop_after and len(out) >= stop_after):
                return out
        else:
            assert msg["type"] in ("hello", "subscribed", "list"), msg


def seqs(messages: list[dict[str, Any]]) -> list[int]:
    return [m["job"]["seq"] for m in messages]


def strictly_increasing(values: list[int]) -> bool:
    return all(a < b for a, b in zip(values, values[1:], strict=False))


async def test_subscriber_gets_a_snapshot_then_numbered_updates_to_the_end(
        gw: TestClient) -> None:
    job_id = (await start(gw, options={"seconds": 1.5, "steps": 15}))["id"]
    async with gw.ws_connect("/api/v1/ws") as ws:
        assert (await receive(ws))["type"] == "hello"
        await ws.send_json({"subscribe": job_id, "since": 0})
        messages = await follow(ws, job_id)
    assert messages[0]["type"] == "snapshot" and "paths" in messages[0]["job"]
    assert all(m["type"] == "update" for m in messages[1:])
    assert len(messages) >= 5, messages
    numbers = seqs(messages)
    assert numbers[1:] == list(range(numbers[0] + 1, numbers[0] + len(numbers)))
    final = await wait_job(gw, job_id)
    assert messages[-1]["job"]["seq"] == final["seq"] and messages[-1]["job"]["status"] == \
        "completed"
    assert messages[-1]["job"]["progress"] == final["progress"]
    percents = {m["job"]["progress"]["percent"] for m in messages}
    assert len(percents) >= 4, percents


async def test_reconnect_with_since_continues_without_loss_or_duplicates(gw: TestClient) -> None:
    job_id = (await start(gw, options={"seconds": 2.5, "steps": 25}))["id"]
    async with gw.ws_connect("/api/v1/ws") as ws:
        await ws.send_json({"subscribe": job_id, "since": 0})
        first = await follow(ws, job_id, stop_after=4)
    last = first[-1]["job"]["seq"]
    await asyncio.sleep(0.4)  # events go by while we are away
    async with gw.ws_connect("/api/v1/ws") as ws:
        await ws.send_json({"subscribe": job_id, "since": last})
        second = await follow(ws, job_id)
    assert second[0]["type"] == "snapshot" and second[0]["job"]["seq"] > last
    assert second[0]["reset"] is False
    both = seqs(first) + seqs(second)
    assert strictly_increasing(both), both
    numbers = seqs(second)
    assert numbers[1:] == list(range(numbers[0] + 1, numbers[0] + len(numbers)))
    final = await wait_job(gw, job_id)
    assert second[-1]["job"]["seq"] == final["seq"] and second[-1]["job"]["status"] == "completed"


async def test_no_snapshot_when_since_is_already_the_latest_seq(gw: TestClient) -> None:
    job_id = (await start(gw, options={"seconds": 0, "steps": 2}))["id"]
    final = await wait_job(gw, job_id)
    async with gw.ws_connect("/api/v1/ws") as ws:
        assert (await receive(ws))["type"] == "hello"
        await ws.send_json({"subscribe": job_id, "since": final["seq"]})
        assert await receive(ws) == {"type": "subscribed", "subscribe": job_id,
                                     "seq": final["seq"]}
        await ws.send_json({"subscribe": job_id, "since": 0})
        snap = await receive(ws)
        assert snap["type"] == "snapshot" and snap["job"]["seq"] == final["seq"]
        assert (await receive(ws))["type"] == "subscribed"


async def test_subscribe_all_gets_a_list_then_every_job_in_order(gw: TestClient) -> None:
    old = (await start(gw, options={"seconds": 0, "steps": 1}))["id"]
    await wait_job(gw, old)
    async with gw.ws_connect("/api/v1/ws") as ws:
        assert (await receive(ws))["type"] == "hello"
        await ws.send_json({"subscribe": "*", "limit": 10})
        listing = await receive(ws)
        assert listing["type"] == "list" and listing["total"] == 1
        assert listing["jobs"][0]["id"] == old
        assert (await receive(ws))["type"] == "subscribed"
        ids = [(await start(gw, options={"seconds": 0.5, "steps": 5}))["id"] for _ in range(3)]
        seen: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
        while not all(m and m[-1]["job"]["status"] in TERMINAL for m in seen.values()):
            msg = await receive(ws)
            assert msg["type"] in ("snapshot", "update"), msg
            seen[msg["job"]["id"]].append(msg)
    for job_id, messages in seen.items():
        assert messages[0]["type"] == "snapshot"  # a new job starts with its full map
        assert strictly_increasing(seqs(messages)), seqs(messages)
        assert messages[-1]["job"]["seq"] == (await wait_job(gw, job_id))["seq"]


async def test_two_hundred_subscribers_all_end_with_the_final_state(gw: TestClient) -> None:
    job_id = (await start(gw, options={"seconds": 3, "steps": 60}))["id"]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = [await session.ws_connect(gw.make_url("/api/v1/ws")) for _ in range(200)]
        try:
            for ws in sockets:
                await ws.send_json({"subscribe": job_id, "since": 0})
            results = await asyncio.gather(*(follow(ws, job_id) for ws in sockets))
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets))
    final = await wait_job(gw, job_id)
    assert final["status"] == "completed"
    for messages in results:
        assert messages[-1]["job"]["status"] == "completed"
        assert messages[-1]["job"]["seq"] == final["seq"]
        assert messages[-1]["job"]["progress"] == final["progress"]
        assert strictly_increasing(seqs(messages))
    health = await (await gw.get("/api/v1/health")).json()
    assert health["gateway"]["overflows"] == 0


async def test_unknown_job_and_bad_messages_get_errors_and_the_socket_stays(
        gw: TestClient) -> None:
    async with gw.ws_connect("/api/v1/ws") as ws:
        assert (await receive(ws))["type"] == "hello"
        await ws.send_json({"subscribe": "01ZZZZZZZZZZZZZZZZZZZZZZZZ", "since": 0})
        err = await receive(ws)
        assert err["type"] == "error" and err["code"] == "job.not_found"
        for bad in ("not json", "[1]", '{"subscribe": "x", "since": -1}', '{"hello": 1}',
                    '{"subscribe": "*", "limit": 0}'):
            await ws.send_str(bad)
            assert (await receive(ws))["type"] == "error", bad
        await ws.send_bytes(b"\x00")
        assert (await receive(ws))["type"] == "error"
        await ws.send_json({"ping": 7})
        pong = await receive(ws)
        assert pong["type"] == "pong" and pong["ping"] == 7


async def test_unsubscribe_stops_updates(gw: TestClient) -> None:
    job_id = (await start(gw, options={"seconds": 1, "steps": 10}))["id"]
    async with gw.ws_connect("/api/v1/ws") as ws:
        await ws.send_json({"subscribe": job_id, "since": 0})
        await follow(ws, job_id, stop_after=1)
        await ws.send_json({"unsubscribe": job_id})
        while (await receive(ws))["type"] != "unsubscribed":
            pass
        await wait_job(gw, job_id)
        await ws.send_json({"ping": 1})
        assert (await receive(ws))["type"] == "pong"  # no update came in between


async def test_shutdown_closes_websockets_with_going_away(system: System, tmp_path: Path) -> None:
    client = await open_client(gateway_config(system, tmp_path))
    ws = await client.ws_connect("/api/v1/ws")
    assert (await receive(ws))["type"] == "hello"
    closing = asyncio.ensure_future(ws.receive())
    await client.server.close()
    msg = await asyncio.wait_for(closing, 10)
    assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.GOING_AWAY
    await ws.close()
    await client.close()


async def test_websocket_follows_a_job_started_after_the_broker_restarted(
        gw: TestClient, system: System) -> None:
    system.kill_broker()
    system.start_broker()
    system.wait_for(lambda: system.worker_count() == 2, "workers back")
    job_id = (await start(gw, options={"seconds": 0.5, "steps": 5}))["id"]
    async with gw.ws_connect("/api/v1/ws") as ws:
        await ws.send_json({"subscribe": job_id, "since": 0})
        start_t = time.monotonic()
        messages = await follow(ws, job_id)
    assert messages[-1]["job"]["status"] == "completed" and time.monotonic() - start_t < 15


async def test_a_follower_sees_the_end_of_a_job_across_a_broker_kill(gw: TestClient,
                                                                     system: System) -> None:
    job_id = (await start(gw, options={"seconds": 6, "steps": 120}))["id"]
    async with gw.ws_connect("/api/v1/ws") as ws:
        await ws.send_json({"subscribe": job_id, "since": 0})
        before = await follow(ws, job_id, stop_after=15)
        await asyncio.to_thread(system.kill_broker)
        await asyncio.to_thread(system.start_broker)
        after = await follow(ws, job_id)
    final = await wait_job(gw, job_id)
    assert final["status"] == "completed", final
    assert after[-1]["job"]["status"] == "completed" and after[-1]["job"]["seq"] == final["seq"]
    resets = [m for m in after if m["type"] == "snapshot" and m["reset"]]
    if final["seq"] <= before[-1]["job"]["seq"]:  # the broker's seqs went back
        assert resets, [(m["type"], m["job"]["seq"]) for m in after]

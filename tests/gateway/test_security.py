"""Issue 7: the gateway resists the web.

Cross-site writes (text/plain, HTML forms, foreign and ``null`` origins,
``?token=`` writes), DNS rebinding (foreign Host), cross-site WebSockets, JSON
the broker cannot hold (NaN, Infinity, 1e400, 10**23, deep nesting), errors
that are always JSON, strict headers, and quiet aborted handshakes.  Through
aiohttp's test client against a real broker and real workers, and (the flood)
against a real gateway process.  The real-browser attack is in test_browser.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import socket
import struct
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from medialoom.clients.gateway import create_app
from medialoom.clients.gateway.app import STATIC
from medialoom.clients.gateway.hub import dumps as hub_dumps
from medialoom.clients.gateway.jsonio import dumps, loads
from tests.gateway.conftest import (
    JSON,
    dead_endpoints,
    gateway_config,
    open_client,
    run_gateway,
    stop_gateway,
    wait_job,
)
from tests.support import System

SLEEP = {"kind": "sleep", "options": {"seconds": 0, "steps": 1}}
SLEEP_TEXT = json.dumps(SLEEP)


async def error_of(response: aiohttp.ClientResponse, status: int, code: str) -> dict[str, Any]:
    """The error map of a JSON error response with this status and code."""
    assert response.content_type == "application/json", await response.text()
    body = await response.json()
    assert response.status == status, body
    assert body["error"]["code"] == code, body
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return body["error"]


async def job_count(gw: TestClient, **kw: Any) -> int:
    r = await gw.get("/api/v1/jobs", **kw)
    assert r.status == 200, await r.text()
    return (await r.json())["total"]


async def refused(gw: TestClient) -> dict[str, int]:
    health = await (await gw.get("/api/v1/health")).json()
    return health["gateway"]["refused"]


def origin_of(gw: TestClient) -> str:
    return f"http://127.0.0.1:{gw.server.port}"


# --- cross-site writes -------------------------------------------------------------------


async def test_text_plain_and_form_writes_are_refused_and_create_no_job(gw: TestClient) -> None:
    target = (await (await gw.post("/api/v1/jobs", json=SLEEP)).json())["id"]
    await wait_job(gw, target)
    trick = '{"kind":"x=","kind":"sleep","options":{"seconds":0,"steps":1}}'
    for ctype, body in (("text/plain", SLEEP_TEXT), ("text/plain;charset=UTF-8", trick),
                        ("application/x-www-form-urlencoded", trick),
                        ("multipart/form-data; boundary=x", trick),
                        ("application/json; charset=latin-1", SLEEP_TEXT),
                        ("application/jsonp", SLEEP_TEXT), ("", SLEEP_TEXT)):
        for method, path in (("POST", "/api/v1/jobs"), ("POST", "/batch"),
                             ("POST", f"/api/v1/jobs/{target}/rollback"),
                             ("POST", f"/api/v1/jobs/{target}/cancel"),
                             ("DELETE", f"/api/v1/jobs/{target}"), ("DELETE", f"/batch/{target}"),
                             ("DELETE", f"/jobs/{target}")):
            r = await gw.request(method, path, data=body.encode(),
                                 headers={"Content-Type": ctype})
            err = await error_of(r, 415, "request.unsupported_media_type")
            assert "application/json" in err["message"], (ctype, method, path)
    r = await gw.post("/api/v1/jobs", data=SLEEP_TEXT.encode(),
                      skip_auto_headers=("Content-Type",))
    await error_of(r, 415, "request.unsupported_media_type")
    await error_of(await gw.delete(f"/api/v1/jobs/{target}"), 415,
                   "request.unsupported_media_type")
    assert await job_count(gw) == 1  # only the target; and it was not cleared
    assert (await gw.get(f"/api/v1/jobs/{target}")).status == 200
    assert (await refused(gw))["media_type"] == 7 * 7 + 2
    err = await error_of(await gw.post("/api/v1/jobs", data=trick, headers=JSON), 400,
                         "request.bad_json")
    assert "twice" in err["message"]
    r = await gw.post("/api/v1/jobs", data=SLEEP_TEXT,
                      headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status == 202, await r.text()


async def test_foreign_origins_cannot_write_same_origin_can(gw: TestClient) -> None:
    port = gw.server.port
    for origin in ("http://evil.example", "null", "http://127.0.0.1",
                   f"http://127.0.0.1:{port + 1}", f"http://localhost:{port}",
                   f"https://evil.example:{port}", f"http://127.0.0.1:{port}.evil.example",
                   f"http://127.0.0.1:{port}/x", f"http://user@127.0.0.1:{port}",
                   f"file://127.0.0.1:{port}", ""):
        for method, path, body in (("POST", "/api/v1/jobs", SLEEP), ("POST", "/batch",
                                   {"path": "/x"}), ("DELETE", "/api/v1/jobs/x", None)):
            r = await gw.request(method, path, json=body, headers={**JSON, "Origin": origin})
            err = await error_of(r, 403, "request.cross_origin")
            assert "another origin" in err["message"], origin
    r = await gw.post("/api/v1/jobs", json=SLEEP, headers={"Sec-Fetch-Site": "cross-site"})
    await error_of(r, 403, "request.cross_origin")
    assert await job_count(gw) == 0
    assert (await refused(gw))["cross_origin"] == 11 * 3 + 1
    for origin in (origin_of(gw), f"HTTP://127.0.0.1:{port}"):
        r = await gw.post("/api/v1/jobs", json=SLEEP, headers={"Origin": origin,
                                                               "Sec-Fetch-Site": "same-origin"})
        assert r.status == 202, await r.text()
    r = await gw.post("/api/v1/jobs", json=SLEEP, headers={
        "Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"})
    assert r.status == 202, await r.text()
    assert await job_count(gw) == 3


async def test_a_bearer_header_passes_a_foreign_origin_a_query_token_never_writes(
        system: System, tmp_path: Path) -> None:
    client = await open_client(gateway_config(system, tmp_path, auth="always", token="s3cret"))
    bearer = {"Authorization": "Bearer s3cret"}
    try:
        for method, path in (("POST", "/api/v1/jobs"), ("POST", "/batch"),
                             ("POST", "/api/v1/jobs/x/cancel"), ("DELETE", "/api/v1/jobs/x"),
                             ("DELETE", "/batch/x")):
            r = await client.request(method, f"{path}?token=s3cret", json=SLEEP, headers=JSON)
            err = await error_of(r, 401, "auth.unauthorized")
            assert "Authorization" in err["message"] and "reads" in err["message"]
        assert await job_count(client, params={"token": "s3cret"}) == 0  # a read may use it
        r = await client.post("/api/v1/jobs", json=SLEEP,
                              headers={**bearer, "Origin": "http://evil.example"})
        assert r.status == 202, await r.text()  # not a browser: no page can send this header
        r = await client.post("/api/v1/jobs", json=SLEEP, headers={
            "Authorization": "Bearer wrong", "Origin": "http://evil.example"})
        assert r.status == 401
        ws = await client.ws_connect("/api/v1/ws?token=s3cret")
        assert (await ws.receive_json())["type"] == "hello"
        await ws.close()
        with pytest.raises(aiohttp.WSServerHandshakeError) as no:
            await client.ws_connect("/api/v1/ws?token=s3cret", origin="http://evil.example")
        assert no.value.status == 403
        assert await job_count(client, headers=bearer) == 1
    finally:
        await client.close()


# --- Host (DNS rebinding) --------------------------------------------------------------------


async def test_foreign_host_headers_are_refused(gw: TestClient) -> None:
    port = gw.server.port
    for host in (f"evil.example:{port}", "evil.example", f"127.0.0.1.nip.io:{port}",
                 f"127.0.0.1:{port + 1}", "127.0.0.1", f"localhost.evil.example:{port}",
                 f"127.0.0.2:{port}", f"[::2]:{port}", f"evil/x:{port}", "a b", "::1"):
        for method, path, body in (("GET", "/", None), ("GET", "/api/v1/jobs", None),
                                   ("GET", "/static/app.js", None),
                                   ("POST", "/api/v1/jobs", SLEEP)):
            r = await gw.request(method, path, json=body, headers={"Host": host})
            err = await error_of(r, 403, "request.bad_host")
            assert "--allow-host" in err["message"], host
        with pytest.raises(aiohttp.WSServerHandshakeError) as no:
            await gw.ws_connect("/api/v1/ws", headers={"Host": host})
        assert no.value.status == 403
    assert await job_count(gw) == 0
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}",
                 f"LOCALHOST:{port}", f"localhost.:{port}"):
        r = await gw.get("/api/v1/jobs", headers={"Host": host})
        assert r.status == 200, (host, await r.text())
    assert (await refused(gw))["bad_host"] == 11 * 5


async def test_allowed_hosts_add_names(system: System, tmp_path: Path) -> None:
    config = gateway_config(system, tmp_path, allowed_hosts=("media.lan", "proxy.lan:8443"))
    client = await open_client(config)
    try:
        for host, status in (("media.lan", 200), ("media.lan:1234", 200), ("MEDIA.LAN", 200),
                             ("proxy.lan:8443", 200), ("proxy.lan", 403),
                             ("proxy.lan:9", 403), ("evil.media.lan", 403)):
            r = await client.get("/api/v1/stats", headers={"Host": host})
            assert r.status == status, (host, await r.text())
        r = await client.post("/api/v1/jobs", json=SLEEP, headers={
            "Host": "media.lan", "Origin": "https://media.lan"})  # a TLS reverse proxy
        assert r.status == 202, await r.text()
    finally:
        await client.close()
    with pytest.raises(ValueError):
        gateway_config(system, tmp_path, allowed_hosts=("http://media.lan/",))


# --- WebSocket -------------------------------------------------------------------------------


async def test_websocket_from_a_foreign_origin_gets_no_101(gw: TestClient) -> None:
    for origin in ("http://evil.example", "null", f"http://localhost:{gw.server.port}"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as no:
            await gw.ws_connect("/api/v1/ws", origin=origin)
        assert no.value.status == 403, origin
    assert (await refused(gw))["cross_origin"] == 3
    for kw in ({"origin": origin_of(gw)}, {}):  # the UI's own origin; a non-browser client
        ws = await gw.ws_connect("/api/v1/ws", **kw)
        assert (await ws.receive_json())["type"] == "hello"
        await ws.send_str('{"ping": NaN}')
        msg = await ws.receive_json()
        assert msg["type"] == "error" and msg["code"] == "request.bad_json", msg
        await ws.close()


# --- JSON the broker cannot hold ---------------------------------------------------------------


async def test_nan_infinity_and_overflowing_numbers_are_400_and_create_no_job(
        gw: TestClient) -> None:
    for number in ("NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1E999"):
        for path, body in (
                ("/api/v1/jobs", '{"kind": "sleep", "options": {"seconds": %s}}'),
                ("/api/v1/jobs", '{"kind": "sleep", "params": {"steps": [%s]}}'),
                ("/batch", '{"path": "/x", "filters": {"min_size_mb": %s}}')):
            r = await gw.post(path, data=body % number, headers=JSON)
            err = await error_of(r, 400, "request.bad_json")
            assert err["details"]["field"] == "body", err
    assert await job_count(gw) == 0
    assert (await refused(gw))["bad_json"] == 18
    assert loads('{"a": 1e300, "b": -0.0}') == {"a": 1e300, "b": 0.0}  # large but finite


async def test_huge_integers_and_deep_nesting_are_400_json_never_a_500(gw: TestClient) -> None:
    for body, name in (({**SLEEP, "max_attempts": 10**23}, "max_attempts"),
                       ({"kind": "sleep", "options": {"seconds": 0, "steps": 2**63}},
                        "options.steps"),
                       ({"kind": "sleep", "options": {"seconds": -(2**63) - 1}},
                        "options.seconds"),
                       ({"kind": "sleep", "paths": [], "options": {"x": [1, 2**64]}},
                        "options.x[1]")):
        err = await error_of(await gw.post("/api/v1/jobs", data=json.dumps(body),
                                           headers=JSON), 400, "request.bad_field")
        assert err["details"]["field"] == name and "64-bit" in err["message"], err
    for depth in (100_000, 40):
        for opening, closing in (("[", "]"), ('{"a":', "}")):
            nested = opening * depth + "1" + closing * depth
            for path, body in (
                    ("/api/v1/jobs", f'{{"kind": "sleep", "options": {{"x": {nested}}}}}'),
                    ("/batch", f'{{"path": "/x", "filters": {nested}}}'),
                    ("/api/v1/jobs", nested)):
                r = await gw.post(path, data=body, headers=JSON)
                err = await error_of(r, 400, "request.bad_json")
                assert "nested deeper" in err["message"], (depth, path)
    for body in ('{"kind": "sleep\\ud800"}', '{"kind": "sleep", "options": {"\\udfff": 1}}',
                 b'{"kind": "\xff"}'):
        await error_of(await gw.post("/api/v1/jobs", data=body, headers=JSON), 400,
                       "request.bad_json")
    assert await job_count(gw) == 0
    r = await gw.post("/api/v1/jobs", headers=JSON,
                      data=json.dumps({**SLEEP, "max_attempts": 2**63 - 1}))
    assert r.status != 500 and r.content_type == "application/json"  # the broker's to judge


def test_the_gateway_never_writes_bare_nan() -> None:
    def strict(text: str) -> Any:
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"bare {c}"))

    data = {"progress": {"percent": float("nan"), "rate": float("inf"), "eta": -float("inf")},
            "items": [1.5, float("nan")], "path": "caf\u00e9/\udcff.mp3"}
    for text in (dumps(data), hub_dumps(data)):
        back = strict(text)
        assert back["progress"] == {"percent": None, "rate": None, "eta": None}
        assert back["items"] == [1.5, None] and back["path"] == "caf\u00e9/\udcff.mp3"
        text.encode("utf-8")
    assert dumps({"a": "é"}) == '{"a":"é"}'
    assert loads('{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}


# --- every error is JSON ---------------------------------------------------------------------


async def test_a_handler_exception_is_a_json_500_logged_once(
        system: System, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(gateway_config(system, tmp_path))

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    async def stuck(request: web.Request) -> web.Response:
        raise TimeoutError

    app.router.add_get("/api/v1/boom", boom)
    app.router.add_post("/api/v1/stuck", stuck)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        with caplog.at_level(logging.INFO, logger="medialoom.gateway"):
            err = await error_of(await client.get("/api/v1/boom"), 500, "internal")
            assert "log" in err["message"]
            await error_of(await client.post("/api/v1/stuck", headers=JSON), 500, "internal")
        tracebacks = [r for r in caplog.records if r.exc_info]
        assert len(tracebacks) == 2, caplog.text
        assert "RuntimeError: a bug" in caplog.text
        for path, code in (("/nothing", "http.not_found"), ("/static/nope.js", "http.not_found"),
                           ("/api/v1/nothing", "http.not_found")):
            await error_of(await client.get(path), 404, code)
        await error_of(await client.post("/", headers=JSON), 405, "http.method_not_allowed")
        health = await (await client.get("/api/v1/health")).json()
        assert health["gateway"]["internal"] == 2
    finally:
        await client.close()


# --- headers ---------------------------------------------------------------------------------


async def test_security_headers_and_a_ui_without_inline_code(gw: TestClient) -> None:
    r = await gw.get("/")
    assert r.status == 200
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    csp = {d.split()[0]: d.split()[1:] for d in r.headers["Content-Security-Policy"].split("; ")}
    assert csp["default-src"] == ["'self'"] and csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert f"ws://127.0.0.1:{gw.server.port}" in csp["connect-src"]
    assert "unsafe" not in r.headers["Content-Security-Policy"]
    for path in ("/static/app.js", "/static/app.css", "/api/v1/jobs", "/api/v1/openapi.json",
                 "/api/v1/nothing"):
        r = await gw.get(path)
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        assert r.headers["X-Frame-Options"] == "DENY", path
    html = (STATIC / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script in index.html"
    assert "<style" not in html
    for text in (html, (STATIC / "app.js").read_text()):
        assert not re.search(r"""\sstyle\s*=\s*["']""", text), "inline style attribute"
        assert not re.search(r"""\son[a-z]+\s*=\s*["']""", text), "inline event handler"


# --- aborted handshakes --------------------------------------------------------------------------


def _handshake(port: int, reset: bool, wait: bool) -> None:
    key = base64.b64encode(os.urandom(16)).decode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall((f"GET /api/v1/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        if wait:  # the 101 arrives, then the client vanishes mid-stream
            assert s.recv(12) == b"HTTP/1.1 101"
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_a_flood_of_aborted_websocket_handshakes_logs_nothing(tmp_path: Path) -> None:
    clients, events = dead_endpoints()  # the handshake needs no broker
    gp = run_gateway(SimpleNamespace(clients=clients, events_out=events),  # type: ignore[arg-type]
                     tmp_path / "gw", "--timeout", "0.2")
    port = int(gp.url.rstrip("/").rsplit(":", 1)[1])
    try:
        for i in range(600):
            _handshake(port, reset=bool(i % 2), wait=i % 3 == 0)
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(gp.url + "api/v1/health", timeout=10)  # noqa: S310
            except urllib.error.HTTPError as exc:  # 503: no broker, but the gateway answers
                health = json.load(exc)
                exc.close()
            gone = health["gateway"]["ws_aborted"]
            if gone >= 100 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert gone >= 100, health["gateway"]  # the handshakes did reach the handler
    finally:
        assert stop_gateway(gp) == 0
    log = gp.log_text()
    assert "Traceback" not in log and len(log.splitlines()) < 5, log[:3000]


async def test_a_client_that_disconnects_mid_request_logs_no_traceback(
        gw: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    port = gw.server.port
    with caplog.at_level(logging.INFO):
        for _ in range(20):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(f"POST /api/v1/jobs HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                         "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode())
            await writer.drain()
            writer.transport.abort()
        await asyncio.sleep(0.3)
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.exc_info]
    assert await job_count(gw) == 0

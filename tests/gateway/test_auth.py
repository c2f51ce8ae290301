"""Bearer token: generated once (0600), required beyond loopback or when asked; 401 without it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import aiohttp
import pytest

from medialoom.clients.gateway.__main__ import build_parser, config_from
from medialoom.clients.gateway.auth import TOKEN_FILE, load_or_create_token
from medialoom.clients.gateway.config import GatewayConfig, is_loopback, parse_listen
from tests.gateway.conftest import gateway_config, open_client, run_gateway, stop_gateway
from tests.support import System

API_ROUTES = [("GET", "/api/v1/jobs"), ("POST", "/api/v1/jobs"), ("GET", "/api/v1/jobs/x"),
              ("DELETE", "/api/v1/jobs/x"), ("GET", "/api/v1/jobs/x/results"),
              ("GET", "/api/v1/jobs/x/plan"), ("POST", "/api/v1/jobs/x/cancel"),
              ("POST", "/api/v1/jobs/x/rollback"), ("GET", "/api/v1/stats"),
              ("GET", "/api/v1/health"), ("GET", "/api/v1/kinds"), ("GET", "/api/v1/ws"),
              ("GET", "/api/v1/openapi.json"), ("POST", "/batch"), ("GET", "/batch/x"),
              ("DELETE", "/batch/x"), ("GET", "/jobs"), ("GET", "/jobs/stats"),
              ("GET", "/jobs/x"), ("DELETE", "/jobs/x")]


def test_token_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    token = load_or_create_token(str(tmp_path / "data"))
    path = tmp_path / "data" / TOKEN_FILE
    assert len(token) >= 40 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_token(str(tmp_path / "data")) == token
    os.chmod(path, 0o644)
    assert load_or_create_token(str(tmp_path / "data")) == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("")
    assert load_or_create_token(str(tmp_path / "data")) not in ("", token)


def test_auto_requires_the_token_beyond_loopback_only() -> None:
    assert not GatewayConfig(host="127.0.0.1").auth_required
    assert not GatewayConfig(host="::1").auth_required
    assert not GatewayConfig(host="localhost").auth_required
    assert GatewayConfig(host="0.0.0.0").auth_required
    assert GatewayConfig(host="192.168.1.20").auth_required
    assert GatewayConfig(host="127.0.0.1", auth="always").auth_required
    assert not GatewayConfig(host="0.0.0.0", auth="never").auth_required
    with pytest.raises(ValueError):
        GatewayConfig(auth="sometimes")
    assert is_loopback("127.0.0.5") and not is_loopback("example.org")


def test_listen_addresses_parse() -> None:
    assert parse_listen("127.0.0.1:8570") == ("127.0.0.1", 8570)
    assert parse_listen("[::1]:9000") == ("::1", 9000)
    assert parse_listen(":8080") == ("0.0.0.0", 8080)
    assert parse_listen("8571") == ("127.0.0.1", 8571)
    for bad in ("host", "host:port", "1.2.3.4:70000"):
        with pytest.raises(ValueError):
            parse_listen(bad)


def test_config_from_flags_reads_or_creates_the_token(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    args = build_parser().parse_args(["--listen", "0.0.0.0:9999", "--endpoint", "tcp://h:1",
                                      "--events", "tcp://h:2", "--data-dir", str(tmp_path)])
    config = config_from(args)
    assert (config.host, config.port, config.endpoint, config.events) == (
        "0.0.0.0", 9999, "tcp://h:1", "tcp://h:2")
    assert config.auth_required and config.token == (tmp_path / TOKEN_FILE).read_text().strip()
    args = build_parser().parse_args(["--data-dir", str(tmp_path), "--token", "t0k",
                                      "--auth", "never"])
    config = config_from(args)
    assert config.token == "t0k" and not config.auth_required


async def test_every_api_route_is_401_without_the_token(system: System, tmp_path: Path) -> None:
    client = await open_client(gateway_config(system, tmp_path, auth="always", token="s3cret"))
    try:
        for method, path in API_ROUTES:
            r = await client.request(method, path)
            body = await r.json()
            assert r.status == 401, (method, path)
            assert body["error"]["code"] == "auth.unauthorized"
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
        wrong = await client.get("/api/v1/stats", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        ok = await client.get("/api/v1/stats", headers={"Authorization": "Bearer s3cret"})
        assert ok.status == 200
        assert (await client.get("/api/v1/stats?token=s3cret")).status == 200
        for public in ("/", "/static/app.js", "/static/app.css"):
            assert (await client.get(public)).status == 200, public
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/api/v1/ws")
        assert refused.value.status == 401
        ws = await client.ws_connect("/api/v1/ws?token=s3cret")
        assert (await ws.receive_json())["type"] == "hello"
        await ws.close()
    finally:
        await client.close()


async def test_never_needs_no_token(system: System, tmp_path: Path) -> None:
    client = await open_client(gateway_config(system, tmp_path, host="0.0.0.0", auth="never"))
    try:
        assert (await client.get("/api/v1/stats")).status == 200
    finally:
        await client.close()


def test_gateway_process_prints_its_token_and_stops_cleanly(system: System,
                                                            tmp_path: Path) -> None:
    gp = run_gateway(system, tmp_path / "gw", "--auth", "always")
    try:
        assert gp.token == (tmp_path / "gw" / TOKEN_FILE).read_text().strip()
        assert f"token: {gp.token}  (required;" in "".join(gp.output)
        assert f"?token={gp.token}" in "".join(gp.output)
    finally:
        assert stop_gateway(gp) == 0
    again = run_gateway(system, tmp_path / "gw")  # loopback, auto: same token, not required
    try:
        assert again.token == gp.token and "not required on loopback" in "".join(again.output)
    finally:
        assert stop_gateway(again) == 0


def test_gateway_exits_1_when_the_address_is_taken(system: System, tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "medialoom.clients.gateway", "--listen",
                               f"127.0.0.1:{port}", "--data-dir", str(tmp_path)],
                              capture_output=True, text=True, timeout=30)
    assert done.returncode == 1, done.stderr
    assert "cannot listen" in done.stderr

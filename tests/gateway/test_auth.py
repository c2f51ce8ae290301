"""Bearer token: generated once (0600) or from the environment, never on argv or printed;
required beyond loopback or when asked; 401 without it; ?token= only for reads."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import aiohttp
import pytest

from medialoom.clients.gateway.__main__ import build_parser, config_from
from medialoom.clients.gateway.auth import TOKEN_ENV, TOKEN_FILE, load_or_create_token
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
    assert config.token_from == str(tmp_path / TOKEN_FILE)
    monkeypatch.setenv(TOKEN_ENV, " t0k ")
    args = build_parser().parse_args(["--data-dir", str(tmp_path / "env"), "--auth", "never"])
    config = config_from(args)
    assert config.token == "t0k" and not config.auth_required
    assert config.token_from == f"${TOKEN_ENV}" and not (tmp_path / "env" / TOKEN_FILE).exists()


def test_the_token_is_not_an_option_anywhere(capsys: pytest.CaptureFixture[str]) -> None:
    from medialoom.clients.cli import build_parser as cli_parser

    with pytest.raises(SystemExit) as refused:
        build_parser().parse_args(["--token", "s3cr3t"])
    assert refused.value.code == 2
    assert "--token" not in build_parser().format_help()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli_parser().parse_args(["up", "--help"])
    out = capsys.readouterr().out
    assert "--allow-host" in out and "--token" not in out


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


def test_the_banner_says_where_the_token_is_never_the_token(system: System,
                                                              tmp_path: Path) -> None:
    gp = run_gateway(system, tmp_path / "gw", "--auth", "always")
    try:
        path = tmp_path / "gw" / TOKEN_FILE
        assert gp.token == path.read_text().strip() and len(gp.token) >= 40
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        text = "".join(gp.output)
        assert gp.token not in text and "?token=" not in text
        assert f"token: required (Authorization: Bearer); kept in {path}" in text
        cmdline = Path(f"/proc/{gp.proc.pid}/cmdline").read_bytes()
        assert gp.token.encode() not in cmdline  # nothing secret for ps to show
    finally:
        assert stop_gateway(gp) == 0
    assert gp.token not in gp.log_text()
    again = run_gateway(system, tmp_path / "gw")  # loopback, auto: same token, not required
    try:
        assert again.token == gp.token and "not required on loopback" in "".join(again.output)
        assert gp.token not in "".join(again.output)
    finally:
        assert stop_gateway(again) == 0
    env = run_gateway(system, tmp_path / "gw-env", "--auth", "always",
                      env={TOKEN_ENV: "from-the-environment-0123456789"})
    try:
        text = "".join(env.output)
        assert f"kept in ${TOKEN_ENV}" in text and "from-the-environment" not in text
        assert not (tmp_path / "gw-env" / TOKEN_FILE).exists()
        import urllib.request

        req = urllib.request.Request(env.url + "api/v1/kinds", headers={
            "Authorization": "Bearer from-the-environment-0123456789"})
        with urllib.request.urlopen(req, timeout=10) as r:  # noqa: S310
            assert r.status == 200
    finally:
        assert stop_gateway(env) == 0


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

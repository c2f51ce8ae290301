"""Gateway fixtures: the app under aiohttp's test client, against a real broker and workers.

``gw`` is an ``aiohttp.test_utils.TestClient`` for ``create_app`` bound to the
``system`` fixture (broker + 2 worker processes); ``queue_system`` is a
broker with a queue of 3 and one worker that serves only ``sleep``, so scan
jobs stay queued (conflicts, a full queue).  ``gateway_process`` runs
``python -m medialoom.clients.gateway`` for the browser tests.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from medialoom.clients.gateway import GatewayConfig, create_app
from medialoom.clients.gateway.auth import TOKEN_ENV, TOKEN_FILE
from tests.support import System, free_ports, make_system

TERMINAL = {"completed", "failed", "cancelled"}
#: every write sends this, even without a body (the gateway refuses other writes)
JSON = {"Content-Type": "application/json"}


def gateway_config(system: System, tmp_path: Path, **kw: Any) -> GatewayConfig:
    """A GatewayConfig for system (no auth unless asked)."""
    options: dict[str, Any] = {"endpoint": system.clients, "events": system.events_out,
                               "data_dir": str(tmp_path / "gateway"), "auth": "never",
                               "timeout_s": 5.0}
    options.update(kw)
    return GatewayConfig(**options)


async def open_client(config: GatewayConfig) -> TestClient:
    """A started TestClient for create_app(config)."""
    client = TestClient(TestServer(create_app(config)))
    await client.start_server()
    return client


@pytest.fixture
async def gw(system: System, tmp_path: Path) -> AsyncIterator[TestClient]:
    """The gateway app in front of the real system."""
    client = await open_client(gateway_config(system, tmp_path))
    yield client
    await client.close()


@pytest.fixture
def queue_system(tmp_path: Path) -> Iterator[System]:
    """Broker with --queue-max 3 and one worker for sleep only: scan jobs stay queued."""
    s = make_system(tmp_path)
    s.extra_broker_args = ["--queue-max", "3"]
    s.start_broker()
    s.start_worker(kinds=("sleep",))
    yield s
    s.stop()


@pytest.fixture
async def gw_queue(queue_system: System, tmp_path: Path) -> AsyncIterator[TestClient]:
    """The gateway app in front of queue_system."""
    client = await open_client(gateway_config(queue_system, tmp_path))
    yield client
    await client.close()


async def wait_job(gw: TestClient, job_id: str, statuses: set[str] = TERMINAL,
                   timeout_s: float = 30.0, base: str = "/api/v1/jobs/") -> dict[str, Any]:
    """GET the job until its status is in statuses."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = await gw.get(f"{base}{job_id}")
        assert r.status == 200, await r.text()
        job = await r.json()
        if job["status"] in statuses:
            return job
        assert time.monotonic() < deadline, f"job stayed {job['status']}: {job}"
        await asyncio.sleep(0.05)


async def start(gw: TestClient, kind: str = "sleep", expect: int = 202,
                **body: Any) -> dict[str, Any]:
    """POST /api/v1/jobs and check the status."""
    r = await gw.post("/api/v1/jobs", json={"kind": kind, **body})
    data = await r.json()
    assert r.status == expect, data
    return data


@dataclass
class GatewayProcess:
    """A running ``python -m medialoom.clients.gateway``."""

    proc: subprocess.Popen[str]
    url: str
    token: str
    output: list[str]
    log: Path

    def log_text(self) -> str:
        """What the process wrote to stderr so far."""
        return self.log.read_text(errors="replace")


def run_gateway(system: System, data_dir: Path, *extra: str, listen: str = "127.0.0.1:0",
                env: dict[str, str] | None = None) -> GatewayProcess:
    """Start the gateway process; its URL from its first lines, its token from its data dir.

    The banner never shows the token: it is DATA_DIR/gateway-token, or
    MEDIALOOM_GATEWAY_TOKEN when env sets it.
    """
    argv = [sys.executable, "-m", "medialoom.clients.gateway", "--listen", listen,
            "--endpoint", system.clients, "--events", system.events_out,
            "--data-dir", str(data_dir), *extra]
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"{data_dir.name}.log"
    environ = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    environ.update(env or {})
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, text=True,
                                env=environ)
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "open http" in line:
            text = "".join(lines)
            url = re.search(r"medialoom gateway: (http://\S+/)", text)
            assert url, text
            token = environ.get(TOKEN_ENV) or (data_dir / TOKEN_FILE).read_text().strip()
            return GatewayProcess(proc, url.group(1), token, lines, log_path)
    proc.kill()
    proc.wait()
    proc.stdout.close()
    raise AssertionError("gateway did not start:\n" + "".join(lines)
                         + log_path.read_text(errors="replace"))


def stop_gateway(gp: GatewayProcess) -> int:
    """SIGTERM and the exit code."""
    gp.proc.send_signal(signal.SIGTERM)
    try:
        return gp.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        gp.proc.kill()
        gp.proc.wait()
        raise AssertionError("gateway did not stop on SIGTERM") from None
    finally:
        if gp.proc.stdout is not None:
            gp.proc.stdout.close()


@pytest.fixture
def gateway_process(system: System, tmp_path: Path) -> Iterator[GatewayProcess]:
    """The gateway as its own process in front of system (loopback: no token needed)."""
    gp = run_gateway(system, tmp_path / "gateway")
    yield gp
    assert stop_gateway(gp) == 0, "".join(gp.output)


def dead_endpoints() -> tuple[str, str]:
    """Two loopback endpoints nothing listens on."""
    a, b = free_ports(2)
    return f"tcp://127.0.0.1:{a}", f"tcp://127.0.0.1:{b}"

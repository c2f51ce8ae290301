"""Every entry point reads its settings from MEDIALOOM_* variables; children get no settings on argv.

Real processes: a broker, a worker process, a pool and a gateway each started
with no flag at all bind or connect where the variables say; ``medialoom up``
(and the pool under it) start their children as bare ``python -m <module>``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from medialoom.clients.client import Client
from medialoom.protocol import codec
from medialoom.protocol import messages as m
from medialoom.protocol.constants import TERMINAL_STATUSES
from tests.support import System, free_ports, make_system

pytestmark = pytest.mark.e2e

BROKER = [sys.executable, "-m", "medialoom.broker"]
POOL = [sys.executable, "-m", "medialoom.workers"]
WORKER = [sys.executable, "-m", "medialoom.workers.worker"]
GATEWAY = [sys.executable, "-m", "medialoom.clients.gateway"]


def env_only(tmp_path: Path, **settings: str) -> dict[str, str]:
    """This environment without any MEDIALOOM_* variable (and no config file), plus settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIALOOM_")}
    env["MEDIALOOM_CONFIG"] = str(tmp_path / "no-such-config.toml")
    env.update({f"MEDIALOOM_{k.upper()}": v for k, v in settings.items()})
    return env


def until(predicate: Callable[[], Any], what: str, timeout_s: float = 30.0) -> Any:
    """Poll predicate until it returns something true (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM proc and its session, return its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # anything of its session still alive
        except (ProcessLookupError, PermissionError):
            pass


@pytest.fixture
def spawned() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start processes in sessions of their own; every one is stopped at the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as fh:
            proc = subprocess.Popen(argv, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        procs.append(proc)
        return proc

    yield spawn
    for proc in reversed(procs):
        stop(proc)


def cmdline(pid: int) -> list[str]:
    """The argv of process pid."""
    return Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")


def environ(pid: int) -> dict[str, str]:
    """The environment of process pid."""
    raw = Path(f"/proc/{pid}/environ").read_bytes().rstrip(b"\0").decode(errors="replace")
    return dict(item.partition("=")[::2] for item in raw.split("\0") if item)


def descendants(pid: int) -> list[int]:
    """Every process below pid (children, their children, ...)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            out += [child, *descendants(child)]
    return out


def test_broker_with_only_environment_binds_where_it_says(tmp_path: Path, spawned) -> None:
    ports = free_ports(4)
    eps = {name: f"tcp://127.0.0.1:{p}" for name, p in
           zip(("clients", "workers", "events_in", "events_out"), ports, strict=True)}
    lib = tmp_path / "my library:2024"  # a root with the list separator in its name
    lib.mkdir()
    env = env_only(tmp_path, data_dir=str(tmp_path / "data"), queue_max="77",
                   roots=json.dumps([str(lib)]), **eps)
    broker = spawned(BROKER, env, tmp_path / "broker.log")
    with Client(eps["clients"], eps["events_out"], timeout_s=0.5) as c:
        hello = until(c.hello, "the broker answers on MEDIALOOM_CLIENTS")
    assert hello["limits"]["queue_max"] == 77
    assert hello["roots"] == [str(lib)]
    assert (tmp_path / "data" / "medialoom.sqlite3").is_file()
    assert stop(broker) == 0


def test_worker_process_with_only_environment_connects_where_it_says(
        tmp_path: Path, broker_only: System, spawned) -> None:
    s = broker_only
    env = env_only(tmp_path, workers=s.workers, events_in=s.events_in, slots="3",
                   kinds="sleep,scan", heartbeat_interval_s="0.25")
    worker = spawned(WORKER, env, tmp_path / "worker.log")
    with s.client() as c:
        (w,) = until(lambda: c.stats()["workers"], "the worker registers on MEDIALOOM_WORKERS")
        assert w["slots"] == 3 and sorted(w["kinds"]) == ["scan", "sleep"]
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    try:
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(s.events_out)
        time.sleep(0.3)  # let the subscription reach the broker before the job starts
        with s.client() as c:
            job = c.start("sleep", params={"seconds": 2.0, "steps": 4})
        events: list[m.Event] = []
        while not events or events[-1].status not in TERMINAL_STATUSES:
            assert sub.poll(20_000), f"no event after {events}"
            msg = codec.decode(sub.recv_multipart(), "event")
            if isinstance(msg, m.Event) and msg.job == job["id"]:
                events.append(msg)
    finally:
        sub.close(linger=0)
        ctx.term()
    # the broker publishes a mid-run count only when a worker's PROGRESS arrives on the
    # events-in socket, which the worker found through MEDIALOOM_EVENTS_IN
    assert any(0 < e.progress.get("processed", 0) < 4 for e in events), events
    assert events[-1].status == "completed"
    assert stop(worker) == 0


def test_pool_with_only_environment_starts_workers_with_bare_command_lines(
        tmp_path: Path, broker_only: System, spawned) -> None:
    s = broker_only
    env = env_only(tmp_path, workers=s.workers, events_in=s.events_in, processes="2",
                   slots="1", heartbeat_interval_s="0.25")
    pool = spawned(POOL, env, tmp_path / "pool.log")
    with s.client() as c:
        workers = until(lambda: len(c.stats()["workers"]) == 2 and c.stats()["workers"],
                        "two workers from MEDIALOOM_PROCESSES")
    assert [w["slots"] for w in workers] == [1, 1]
    children = descendants(pool.pid)
    assert len(children) == 2
    for pid in children:
        assert cmdline(pid) == WORKER
        assert environ(pid)["MEDIALOOM_WORKERS"] == s.workers
    assert stop(pool) == 0


def test_gateway_with_only_environment_listens_where_it_says(
        tmp_path: Path, system: System, spawned) -> None:
    port = free_ports(1)[0]
    env = env_only(tmp_path, gateway=f"127.0.0.1:{port}", clients=system.clients,
                   events_out=system.events_out, data_dir=str(tmp_path / "gw"))
    gateway = spawned(GATEWAY, env, tmp_path / "gateway.log")

    def health() -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as r:
            return json.load(r)

    body = until(health, "the gateway answers on MEDIALOOM_GATEWAY")
    assert body["broker"]["reachable"] is True and body["broker"]["endpoint"] == system.clients
    assert (tmp_path / "gw" / "gateway-token").is_file()  # MEDIALOOM_DATA_DIR
    assert stop(gateway) == 0


def test_up_hands_its_children_settings_in_the_environment_not_argv(tmp_path: Path,
                                                                     spawned) -> None:
    s = make_system(tmp_path)
    port = free_ports(1)[0]
    flags = ["--root", str(s.root), "--data-dir", str(s.data_dir), "--clients", s.clients,
             "--workers", s.workers, "--events-in", s.events_in, "--events-out", s.events_out,
             "--heartbeat", "0.25", "--queue-max", "55", "-n", "1", "--slots", "2",
             "--gateway", f"127.0.0.1:{port}"]
    # an inherited variable loses against up's flag, as it does for up itself
    env = env_only(tmp_path, queue_max="99")
    up = spawned([sys.executable, "-m", "medialoom.clients.cli_main", "up", *flags], env,
                 tmp_path / "up.log")
    with s.client(timeout_s=1.0) as c:
        (w,) = until(lambda: c.stats()["workers"], "up's worker registers")
        assert w["slots"] == 2
        hello = c.hello()
    assert hello["limits"]["queue_max"] == 55 and hello["roots"] == [str(s.root)]
    def health() -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5) as r:
            return json.load(r)

    # the gateway may still be starting when the broker already has its worker
    assert until(health, "the gateway answers")["broker"]["endpoint"] == s.clients
    procs = {pid: cmdline(pid) for pid in descendants(up.pid)}
    assert sorted(procs.values()) == sorted([BROKER, POOL, GATEWAY, WORKER]), procs
    for pid in procs:
        child_env = environ(pid)
        assert child_env["MEDIALOOM_CLIENTS"] == s.clients
        assert child_env["MEDIALOOM_QUEUE_MAX"] == "55"
    assert stop(up) == 0

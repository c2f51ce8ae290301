"""Test support: a real broker and real worker processes on loopback TCP ports.

``system`` starts ``python -m medialoom.broker`` and a worker pool as child
processes with a temporary data dir and library root, waits for a PING reply
instead of sleeping, and stops them at the end (asserting a clean exit).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from medialoom.clients.client import Client

IN_CI = os.environ.get("CI") == "true"


def require_tool(name: str) -> str:
    """Path of an external tool; in CI a missing tool is an error, elsewhere a skip."""
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is required in CI (install it in .ci/run)")
        pytest.skip(f"{name} is not installed")
    return path


def free_ports(n: int) -> list[int]:
    """n free TCP ports on 127.0.0.1."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


@dataclass
class System:
    """A running broker (and optional workers) for one test."""

    root: Path
    data_dir: Path
    clients: str
    workers: str
    events_in: str
    events_out: str
    log_dir: Path
    heartbeat: float = 0.25
    broker: subprocess.Popen[bytes] | None = None
    worker_procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    extra_broker_args: list[str] = field(default_factory=list)

    def client(self, timeout_s: float = 5.0) -> Client:
        """A blocking client of this broker."""
        return Client(self.clients, self.events_out, timeout_s=timeout_s)

    def _log(self, name: str) -> int:
        """A file descriptor appending to logs/NAME.log (the child keeps its own copy)."""
        return os.open(self.log_dir / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND)

    def _popen(self, argv: list[str], log: str) -> subprocess.Popen[bytes]:
        fd = self._log(log)
        try:
            return subprocess.Popen(argv, stdout=fd, stderr=subprocess.STDOUT)
        finally:
            os.close(fd)

    def start_broker(self) -> subprocess.Popen[bytes]:
        """Start the broker process and wait until it answers PING."""
        argv = [sys.executable, "-m", "medialoom.broker", "--data-dir", str(self.data_dir),
                "--root", str(self.root), "--clients", self.clients, "--workers", self.workers,
                "--events-in", self.events_in, "--events-out", self.events_out,
                "--heartbeat", str(self.heartbeat), "--liveness", "4",
                *self.extra_broker_args]
        self.broker = self._popen(argv, "broker")
        deadline = time.monotonic() + 20
        with self.client(timeout_s=0.5) as c:
            while time.monotonic() < deadline:
                assert self.broker.poll() is None, "broker exited: " + self.read_log("broker")
                try:
                    c.ping()
                    return self.broker
                except Exception:
                    continue
        raise AssertionError("broker did not answer PING: " + self.read_log("broker"))

    def start_worker(self, slots: int = 2, kinds: tuple[str, ...] = (),
                     wait: bool = True) -> subprocess.Popen[bytes]:
        """Start one worker process (not a pool) and wait until the broker counts it."""
        before = self.worker_count()
        argv = [sys.executable, "-m", "medialoom.workers.worker", "--workers", self.workers,
                "--events", self.events_in, "--slots", str(slots),
                "--heartbeat", str(self.heartbeat)]
        for k in kinds:
            argv += ["--kind", k]
        proc = self._popen(argv, "workers")
        self.worker_procs.append(proc)
        if wait:
            self.wait_for(lambda: self.worker_count() > before, "worker registered")
        return proc

    def worker_count(self) -> int:
        """Workers the broker knows now."""
        with self.client() as c:
            return len(c.stats()["workers"])

    def wait_for(self, predicate, what: str, timeout_s: float = 30.0) -> None:  # noqa: ANN001
        """Poll predicate until true; fail with the logs after timeout_s."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}\n" + self.read_log("broker")[-3000:]
                             + self.read_log("workers")[-3000:])

    def read_log(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def kill_broker(self) -> None:
        """kill -9 the broker."""
        assert self.broker is not None
        self.broker.send_signal(signal.SIGKILL)
        self.broker.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM everything; assert clean exits."""
        codes = {}
        for proc in [*self.worker_procs, self.broker]:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.worker_procs, self.broker]:
            if proc is None:
                continue
            try:
                codes[proc.pid] = proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                codes[proc.pid] = "hung"
        return codes


def make_system(tmp_path: Path, heartbeat: float = 0.25) -> System:
    """A System on fresh ports under tmp_path (not started)."""
    ports = free_ports(4)
    root = tmp_path / "library"
    root.mkdir(exist_ok=True)
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    return System(root=root, data_dir=tmp_path / "data", log_dir=logs, heartbeat=heartbeat,
                  **{name: f"tcp://127.0.0.1:{p}" for name, p in
                     zip(("clients", "workers", "events_in", "events_out"), ports, strict=True)})

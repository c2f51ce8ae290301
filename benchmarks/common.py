"""Start a real broker and worker processes for a benchmark, on free loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from medialoom.clients.client import Client


def free_ports(n: int) -> list[int]:
    """n free TCP ports on 127.0.0.1."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def pct(values: list[float], q: int) -> float:
    """The q-th percentile of values."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100)[q - 1]


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Fabric:
    """A broker and N worker processes in a temporary directory."""

    workers: int = 2
    slots: int = 16
    root: str = ""
    tmp: tempfile.TemporaryDirectory[str] = field(default_factory=tempfile.TemporaryDirectory)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        ports = free_ports(4)
        self.clients, self.workers_ep, self.events_in, self.events_out = (
            f"tcp://127.0.0.1:{p}" for p in ports)
        self.root = self.root or self.tmp.name

    def start(self) -> Fabric:
        """Start the broker, wait for PING, start the workers, wait until registered."""
        log = open(os.path.join(self.tmp.name, "fabric.log"), "ab")  # noqa: SIM115
        self.broker = subprocess.Popen(
            [sys.executable, "-m", "medialoom.broker", "--data-dir",
             os.path.join(self.tmp.name, "data"), "--root", self.root, "--clients", self.clients,
             "--workers", self.workers_ep, "--events-in", self.events_in, "--events-out",
             self.events_out, "--queue-max", "1000000", "--log-level", "WARNING"],
            stdout=log, stderr=log)
        self.procs.append(self.broker)
        with self.client(0.5) as c:
            for _ in range(100):
                try:
                    c.ping()
                    break
                except Exception:
                    continue
        for _ in range(self.workers):
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "medialoom.workers.worker", "--workers", self.workers_ep,
                 "--events", self.events_in, "--slots", str(self.slots), "--log-level",
                 "WARNING"], stdout=log, stderr=log))
        with self.client() as c:
            while len(c.stats()["workers"]) < self.workers:
                time.sleep(0.05)
        return self

    def client(self, timeout_s: float = 10.0) -> Client:
        return Client(self.clients, self.events_out, timeout_s=timeout_s)

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.tmp.cleanup()

    def __enter__(self) -> Fabric:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

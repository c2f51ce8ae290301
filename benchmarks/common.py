"""What every benchmark shares: processes on free loopback ports, percentiles that refuse
too few samples, CPU and RSS of child processes, and figures repeated over rounds."""

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
from typing import IO

from medialoom.clients.client import Client

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: a p99 is printed only over at least this many samples (else "n/a")
P99_MIN_SAMPLES = 1000
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_ports(n: int) -> list[int]:
    """n free TCP ports on 127.0.0.1."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0..100, nearest rank) of values; nan when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return ordered[int(min(rank, len(ordered))) - 1]


def p99(values: list[float]) -> float:
    """The 99th percentile, or nan over fewer than P99_MIN_SAMPLES samples."""
    return pct(values, 99) if len(values) >= P99_MIN_SAMPLES else float("nan")


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes and their reaped children."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(v) for v in fields[11:15]) / CLK_TCK  # utime stime cutime cstime
    return total


def median_min_max(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max) of the values that are numbers."""
    real = [v for v in values if v == v]
    if not real:
        nan = float("nan")
        return nan, nan, nan
    return statistics.median(real), min(real), max(real)


@dataclass
class Procs:
    """Child processes stopped together: SIGTERM, then SIGKILL after a grace."""

    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def add(self, proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        self.procs.append(proc)
        return proc

    def stop(self, grace_s: float = 20.0) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for p in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs.clear()


@dataclass
class Fabric:
    """A broker and N worker processes (each with slots) in a temporary directory."""

    workers: int = 2
    slots: int = 16
    root: str = ""
    tmp: tempfile.TemporaryDirectory[str] = field(default_factory=tempfile.TemporaryDirectory)
    procs: Procs = field(default_factory=Procs)

    def __post_init__(self) -> None:
        ports = free_ports(4)
        self.clients, self.workers_ep, self.events_in, self.events_out = (
            f"tcp://127.0.0.1:{p}" for p in ports)
        self.root = self.root or self.tmp.name
        self.log_path = os.path.join(self.tmp.name, "fabric.log")
        self._log: IO[bytes] | None = None

    def start(self) -> Fabric:
        """Start the broker, wait for PING, start the workers, wait until registered."""
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.broker = self.procs.add(subprocess.Popen(
            [sys.executable, "-m", "medialoom.broker", "--data-dir",
             os.path.join(self.tmp.name, "data"), "--root", self.root, "--clients", self.clients,
             "--workers", self.workers_ep, "--events-in", self.events_in, "--events-out",
             self.events_out, "--queue-max", "1000000", "--log-level", "WARNING"],
            stdout=self._log, stderr=self._log, cwd=ROOT))
        self._until(lambda c: c.ping() is not None, "answer PING")
        self.worker_procs = [self.procs.add(subprocess.Popen(
            [sys.executable, "-m", "medialoom.workers.worker", "--workers", self.workers_ep,
             "--events", self.events_in, "--slots", str(self.slots), "--log-level", "WARNING"],
            stdout=self._log, stderr=self._log, cwd=ROOT)) for _ in range(self.workers)]
        self._until(lambda c: len(c.stats()["workers"]) >= self.workers,
                    f"register {self.workers} workers")
        return self

    def _until(self, ready: object, what: str, timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        with self.client(0.5) as c:
            while time.monotonic() < deadline:
                for p in self.procs.procs:
                    if p.poll() is not None:
                        self.fail(f"a process exited with {p.returncode} before the broker "
                                  f"could {what}")
                try:
                    if ready(c):  # type: ignore[operator]
                        return
                except Exception:  # noqa: BLE001 - not up yet: ask again
                    pass
                time.sleep(0.05)
        self.fail(f"the broker did not {what} within {timeout_s:g} s")

    def fail(self, why: str) -> None:
        """Stop everything and raise, with the end of the fabric's log."""
        tail = ""
        if os.path.exists(self.log_path):
            with open(self.log_path, errors="replace") as fh:
                tail = "".join(fh.readlines()[-30:])
        self.stop()
        raise RuntimeError(f"{why}; fabric log:\n{tail}")

    def pids(self) -> list[int]:
        """Broker and worker process ids."""
        return [p.pid for p in self.procs.procs]

    def client(self, timeout_s: float = 10.0) -> Client:
        return Client(self.clients, self.events_out, timeout_s=timeout_s)

    def stop(self) -> None:
        self.procs.stop()
        if self._log is not None:
            self._log.close()
            self._log = None
        self.tmp.cleanup()

    def __enter__(self) -> Fabric:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""A real broker and worker pool on free loopback ports, for the C client's tests and bench.

``Fabric(tmp)`` starts ``python -m medialoom.broker`` with a data dir and a library root
under tmp, waits until it answers PING, starts ``python -m medialoom.workers -n N`` and waits
until the broker counts N workers; ``stop()`` sends SIGTERM and returns the exit codes.
``Fabric(tmp, curve=True)``: the broker runs with ``--curve`` and the keys ``medialoom keys``
makes in its data dir: ``client`` (role client, what this fabric's own checks use), ``watch``
(role watch) and ``workers`` (role worker, the pool's); ``key(name)`` is a secret file.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from medialoom.clients.client import Client
from medialoom.keys import KeyStore, client_curve


def free_ports(n: int) -> list[int]:
    """n free TCP ports on 127.0.0.1."""
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


class Fabric:
    """A broker and a worker pool on free ports under a temporary directory."""

    def __init__(self, tmp: Path, workers: int = 2, slots: int = 2,
                 heartbeat_s: float = 0.25, curve: bool = False) -> None:
        ports = free_ports(4)
        self.clients, self.workers, self.events_in, self.events_out = (
            f"tcp://127.0.0.1:{p}" for p in ports)
        self.tmp, self.n, self.slots, self.heartbeat = tmp, workers, slots, str(heartbeat_s)
        self.root = tmp / "library"
        self.root.mkdir()
        self.procs: list[subprocess.Popen[bytes]] = []
        self.data = tmp / "data"
        self.curve = None
        if curve:
            store = KeyStore(self.data)
            store.init()
            for name, role in (("client", "client"), ("watch", "watch"), ("workers", "worker")):
                store.add(role, name)
            self.broker_key = store.broker_public
            self.curve = client_curve({"key": self.key("client"), "data_dir": str(self.data)})

    def key(self, name: str) -> str:
        """The secret key file of an issued key (curve=True)."""
        return KeyStore(self.data).issued_secret(name)

    def _spawn(self, argv: list[str], log: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "MEDIALOOM_CONFIG": str(self.tmp / "no-config.toml")}
        if self.curve is not None and log == "workers.log":
            env.update(MEDIALOOM_KEY=self.key("workers"), MEDIALOOM_BROKER_KEY=self.broker_key)
        with open(self.tmp / log, "ab") as fh:
            proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT,
                                    start_new_session=True, env=env)
        self.procs.append(proc)
        return proc

    def start_broker(self) -> None:
        self.broker = self._spawn(
            [sys.executable, "-m", "medialoom.broker", "--data-dir", str(self.data),
             "--root", str(self.root), "--clients", self.clients, "--workers", self.workers,
             "--events-in", self.events_in, "--events-out", self.events_out,
             "--heartbeat", self.heartbeat, "--queue-max", "1000000", "--log-level", "WARNING",
             *(["--curve"] if self.curve else [])], "broker.log")
        self.wait_for(self._answers, "the broker answered PING")

    def restart_broker(self, down_s: float = 0.5) -> None:
        """kill -9 the broker, then start it again on the same ports and data dir."""
        os.killpg(self.broker.pid, signal.SIGKILL)
        self.broker.wait(timeout=10)
        self.procs.remove(self.broker)
        time.sleep(down_s)
        self.start_broker()

    def start(self) -> Fabric:
        self.start_broker()
        if self.n:
            self._spawn([sys.executable, "-m", "medialoom.workers", "-n", str(self.n),
                         "--slots", str(self.slots), "--workers", self.workers,
                         "--events-in", self.events_in, "--heartbeat", self.heartbeat],
                        "workers.log")
            self.wait_for(lambda: self._worker_count() >= self.n, f"{self.n} workers")
        return self

    def _answers(self) -> bool:
        assert self.broker.poll() is None, "the broker exited:\n" + self.log("broker.log")
        with Client(self.clients, self.events_out, timeout_s=0.5, curve=self.curve) as c:
            try:
                c.ping()
                return True
            except Exception:
                return False

    def _worker_count(self) -> int:
        with Client(self.clients, self.events_out, curve=self.curve) as c:
            return len(c.stats()["workers"])

    def wait_for(self, predicate, what: str, timeout_s: float = 30.0) -> None:  # noqa: ANN001
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}\n{self.log('broker.log')}")

    def log(self, name: str) -> str:
        path = self.tmp / name
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def env(self) -> dict[str, str]:
        return {**os.environ, "MLT_CLIENTS": self.clients, "MLT_EVENTS": self.events_out,
                "MEDIALOOM_CLIENTS": self.clients, "MEDIALOOM_EVENTS_OUT": self.events_out}

    def stop(self) -> dict[str, int | str]:
        """SIGTERM the pool, then the broker; their exit codes (each must be 0)."""
        codes: dict[str, int | str] = {}
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            try:
                codes[" ".join(proc.args[2:3])] = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                codes[" ".join(proc.args[2:3])] = "hung"
        return codes

    def __enter__(self) -> Fabric:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.codes = self.stop()

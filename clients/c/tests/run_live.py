"""Live tests of the C client: ``make -C clients/c live`` runs ``python run_live.py BUILD``.

1. A real broker (``python -m medialoom.broker``, temporary data dir and library, free
   loopback ports) and a worker pool (``python -m medialoom.workers -n 2``): the C test
   ``test_live broker`` (start -> watch -> cancel -> status, refusals, pipelining, an
   all-jobs watch), then the ``mlc`` example end to end (start, wait, results, watch,
   list, cancel, exit codes).  Every process must exit 0 on SIGTERM.
2. A fake CURVE broker (tests/fake_broker.py: a pyzmq ROUTER and PUB with CURVE and a
   ZAP allow-list) for ``test_live curve DIR``: keys from certificate files written by
   ``zmq.auth.create_certificates``, the Clone pattern over scripted events, refused keys.

Run from the repository root with the venv's python.  Exit status 0 when all passed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from medialoom.clients.client import Client

HERE = Path(__file__).resolve().parent


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

    def __init__(self, tmp: Path, workers: int = 2, slots: int = 2) -> None:
        ports = free_ports(4)
        self.clients, self.workers, self.events_in, self.events_out = (
            f"tcp://127.0.0.1:{p}" for p in ports)
        self.tmp, self.n, self.slots = tmp, workers, slots
        self.root = tmp / "library"
        self.root.mkdir()
        self.procs: list[subprocess.Popen[bytes]] = []

    def _spawn(self, argv: list[str], log: str) -> subprocess.Popen[bytes]:
        with open(self.tmp / log, "ab") as fh:
            proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs.append(proc)
        return proc

    def start(self) -> Fabric:
        self.broker = self._spawn(
            [sys.executable, "-m", "medialoom.broker", "--data-dir", str(self.tmp / "data"),
             "--root", str(self.root), "--clients", self.clients, "--workers", self.workers,
             "--events-in", self.events_in, "--events-out", self.events_out,
             "--heartbeat", "0.25", "--queue-max", "1000000", "--log-level", "WARNING"],
            "broker.log")
        self.wait_for(self._answers, "the broker answered PING")
        if self.n:
            self._spawn([sys.executable, "-m", "medialoom.workers", "-n", str(self.n),
                         "--slots", str(self.slots), "--workers", self.workers,
                         "--events-in", self.events_in, "--heartbeat", "0.25"], "workers.log")
            self.wait_for(lambda: self._worker_count() >= self.n, f"{self.n} workers")
        return self

    def _answers(self) -> bool:
        assert self.broker.poll() is None, "the broker exited:\n" + self.log("broker.log")
        with Client(self.clients, self.events_out, timeout_s=0.5) as c:
            try:
                c.ping()
                return True
            except Exception:
                return False

    def _worker_count(self) -> int:
        with Client(self.clients, self.events_out) as c:
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


class Checks:
    """Counted checks that print what failed."""

    def __init__(self) -> None:
        self.failed = 0

    def __call__(self, ok: bool, what: str) -> None:
        if not ok:
            self.failed += 1
            print(f"FAIL {what}", flush=True)


def run(argv: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout)


def mlc_session(f: Fabric, mlc: str, check: Checks) -> None:
    """The mlc example against the real broker: what a user would type."""
    env = f.env()
    for i in range(3):  # files scan reads (unreadable tags are item failures, not errors)
        (f.root / f"track{i}.mp3").write_bytes(b"not really an mp3")
    out = run([mlc, "--json", "start", "scan", str(f.root)], env)
    check(out.returncode == 0, f"mlc start scan: {out.returncode} {out.stderr}")
    job = json.loads(out.stdout) if out.returncode == 0 else {"id": "?"}
    check(job.get("status") == "queued" and job.get("paths") == [str(f.root)],
          f"mlc start prints the queued job: {out.stdout[:300]}")
    out = run([mlc, "wait", job["id"]], env)
    check(out.returncode == 0 and "completed" in out.stdout, f"mlc wait: {out.stdout}")
    out = run([mlc, "results", job["id"]], env)
    check(out.returncode == 0 and out.stdout.count("track") == 3 and "3 of 3 items" in out.stdout,
          f"mlc results: {out.stdout} {out.stderr}")
    out = run([mlc, "start", "sleep", "--set", "seconds=1", "--set", "steps=10", "--watch"], env)
    lines = out.stdout.splitlines()
    check(out.returncode == 0 and "completed" in lines[-1] and "100.00%" in lines[-1]
          and len(lines) >= 4, f"mlc start --watch: {out.stdout} {out.stderr}")
    long = run([mlc, "--json", "start", "sleep", "--set", "seconds=60", "--set", "steps=60"], env)
    jid = json.loads(long.stdout)["id"]
    watcher = subprocess.Popen([mlc, "watch", jid], env=env, stdout=subprocess.PIPE, text=True)
    time.sleep(1.5)
    out = run([mlc, "cancel", jid], env)
    check(out.returncode == 0 and "cancel requested" in out.stdout, f"mlc cancel: {out.stdout}")
    try:
        watched, _ = watcher.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        watcher.kill()
        watched, _ = watcher.communicate()
    check(watcher.returncode == 0 and watched.splitlines()[-1].split()[1] == "cancelled",
          f"mlc watch ends with the cancel: {watched}")
    out = run([mlc, "status", jid], env)
    check(out.returncode == 0 and "cancelled" in out.stdout, f"mlc status: {out.stdout}")
    out = run([mlc, "list", "--status", "cancelled"], env)
    check(jid in out.stdout, f"mlc list --status cancelled: {out.stdout}")
    for argv, code, text in [
        (["status", "01JDC3ZPQV7WE2N6VYBN0CG6KF"], 1, "job.not_found"),
        (["cancel", jid], 1, "job.finished"),
        (["start", "sleep", "--set", "seconds=soon"], 1, "job.bad_params"),
        (["start", "scan", "/etc"], 1, "path.forbidden"),
        (["frobnicate"], 2, "unknown command"),
        (["--clients", "tcp://127.0.0.1:9", "--timeout", "0.5", "ping"], 3, "broker.unavailable"),
    ]:
        out = run([mlc, *argv], env)
        check(out.returncode == code and text in out.stderr,
              f"mlc {' '.join(argv)}: exit {out.returncode} (want {code}), {out.stderr.strip()}")


def broker_tests(build: Path, check: Checks) -> None:
    with tempfile.TemporaryDirectory(prefix="mlc-live-") as tmp:
        f = Fabric(Path(tmp))
        with f:
            out = run([str(build / "test_live"), "broker"], f.env(), timeout=180)
            print(out.stdout, end="")
            check(out.returncode == 0, f"test_live broker:\n{out.stderr}\n{f.log('broker.log')}")
            mlc_session(f, str(build / "mlc"), check)
        check(all(code == 0 for code in f.codes.values()), f"clean exits: {f.codes}")


def curve_tests(build: Path, check: Checks) -> None:
    from fake_broker import FakeBroker, make_keys  # noqa: PLC0415 (after sys.path is set)

    with tempfile.TemporaryDirectory(prefix="mlc-curve-") as tmp:
        keys = make_keys(Path(tmp))
        with FakeBroker(keys) as fake:
            env = {**os.environ, "MLT_CLIENTS": fake.clients, "MLT_EVENTS": fake.events}
            out = run([str(build / "test_live"), "curve", str(keys)], env, timeout=120)
            print(out.stdout, end="")
            check(out.returncode == 0, f"test_live curve:\n{out.stderr}")
            check(fake.denied >= 1, f"the ZAP handler refused the stranger's key "
                                    f"({fake.denied} refusals)")


def main(argv: list[str]) -> int:
    build = Path(argv[1]).resolve() if len(argv) > 1 else HERE.parent / "build"
    sys.path.insert(0, str(HERE))
    check = Checks()
    broker_tests(build, check)
    curve_tests(build, check)
    print("run_live: " + ("all passed" if not check.failed else f"{check.failed} failed"))
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Anchors measured in the same run: Celery and Dramatiq over a throwaway Redis.

    .venv/bin/python -m benchmarks.anchors --setup     # what `make bench-anchors` runs first

``--setup`` makes ``.bench-venv`` (a separate venv, so Celery and Dramatiq never enter the
project's), installs Celery (Redis broker and result backend) and Dramatiq (Redis, results
in Redis) there from PyPI, and installs Debian's ``redis-server`` with apt-get when it is
missing (as root).  No anchor figure is written down anywhere: each round starts a fresh
redis-server on a free port and fresh workers, runs the workload of anchor_load.py and stops
them again, so nothing of theirs is running while ours is measured, and the other way round.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from benchmarks.common import ROOT, Procs, free_ports

VENV = os.path.join(ROOT, ".bench-venv")
STAMP = os.path.join(VENV, ".anchors-installed")
REQUIREMENTS = ["celery[redis]>=5.3,<6", "dramatiq[redis]>=1.15,<2"]
HOW = "run `make bench-anchors` to install Celery and Dramatiq into .bench-venv and measure them"


@dataclass
class Load:
    """The workload of one round (the same for every system)."""

    jobs: int  # no-op jobs, or as many as are started within cap_s
    window: int  # jobs in flight
    cap_s: float
    latency_jobs: int  # single jobs one at a time, or as many as fit in latency_cap_s
    latency_cap_s: float


@dataclass
class AnchorRound:
    """One round of one anchor."""

    rate: float  # no-op jobs/s with the window in flight
    jobs: int  # how many that was (fewer than asked when the time cap came first)
    latency_ms: list[float]  # single jobs one at a time, send to result


def available() -> bool:
    """True when the anchor venv is installed and redis-server is on PATH."""
    return os.path.exists(STAMP) and shutil.which("redis-server") is not None


def setup() -> None:
    """Create the anchor venv and install redis-server when either is missing."""
    if shutil.which("redis-server") is None:
        if os.geteuid() != 0:
            raise SystemExit("redis-server is missing; as root: apt-get install -y "
                             "--no-install-recommends redis-server")
        print("anchors: installing redis-server (apt-get)", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                        "redis-server"], check=True, env=env)
    if not os.path.exists(STAMP):
        print(f"anchors: creating {os.path.relpath(VENV, ROOT)} with "
              f"{' '.join(REQUIREMENTS)}", flush=True)
        if not os.path.exists(os.path.join(VENV, "bin", "python")):
            subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        with open(os.path.join(VENV, ".gitignore"), "w") as fh:
            fh.write("*\n")  # keep the venv out of git without touching the project's .gitignore
        subprocess.run([os.path.join(VENV, "bin", "python"), "-m", "pip", "install", "-q",
                        *REQUIREMENTS], check=True)
        with open(STAMP, "w") as fh:
            fh.write(" ".join(REQUIREMENTS) + "\n")
    print(f"anchors: {versions()}", flush=True)


def versions() -> str:
    """'celery X, dramatiq Y, redis-server Z'."""
    out = subprocess.run([os.path.join(VENV, "bin", "python"), "-c",
                          "import celery, dramatiq; print(celery.__version__, "
                          "dramatiq.__version__)"], capture_output=True, text=True, check=True)
    celery, dramatiq = out.stdout.split()
    server = subprocess.run(["redis-server", "--version"], capture_output=True, text=True)
    v = next((w[2:] for w in server.stdout.split() if w.startswith("v=")), "?")
    return f"celery {celery}, dramatiq {dramatiq}, redis-server {v}"


class Redis:
    """A throwaway redis-server on a free loopback port, no persistence."""

    def __init__(self) -> None:
        self.port = free_ports(1)[0]
        self.url = f"redis://127.0.0.1:{self.port}"
        self.tmp = tempfile.TemporaryDirectory(prefix="bench-redis-")
        self.procs = Procs()

    def __enter__(self) -> Redis:
        self.procs.add(subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.tmp.name, "--loglevel", "warning"],
            stdout=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.command(b"PING") == b"+PONG":
                    return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("redis-server did not answer PING within 10 s")

    def command(self, cmd: bytes) -> bytes:
        """Send one inline command, return the first line of the answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(cmd + b"\r\n")
            return s.recv(256).split(b"\r\n")[0]

    def __exit__(self, *exc: object) -> None:
        self.procs.stop()
        self.tmp.cleanup()


def _wait_for_lines(path: str, text: str, count: int, procs: Procs, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(path, errors="replace") as fh:
            if fh.read().count(text) >= count:
                return
        if any(p.poll() is not None for p in procs.procs):
            break
        time.sleep(0.05)
    with open(path, errors="replace") as fh:
        tail = "".join(fh.readlines()[-20:])
    raise RuntimeError(f"{what} did not become ready; its log:\n{tail}")


def _client(module: str, redis_url: str, s: Load) -> AnchorRound:
    out = subprocess.run(
        [os.path.join(VENV, "bin", "python"), "-m", module, "--jobs", str(s.jobs), "--window",
         str(s.window), "--cap-s", str(s.cap_s), "--latency-jobs", str(s.latency_jobs),
         "--latency-cap-s", str(s.latency_cap_s)], cwd=ROOT, env=_env(redis_url),
        capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        raise RuntimeError(f"{module} client failed:\n{out.stderr[-3000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return AnchorRound(data["rate"], data["jobs"], data["latency_ms"])


def _env(redis_url: str) -> dict[str, str]:
    return {**os.environ, "ANCHOR_REDIS": redis_url, "PYTHONPATH": ROOT,
            "PATH": f"{os.path.join(VENV, 'bin')}:{os.environ.get('PATH', '')}"}


def celery_round(s: Load) -> AnchorRound:
    """Celery: 2 worker processes with the solo pool, Redis broker and result backend."""
    with Redis() as redis, tempfile.TemporaryDirectory(prefix="bench-celery-") as tmp:
        log = os.path.join(tmp, "celery.log")
        procs = Procs()
        try:
            with open(log, "ab") as fh:
                for i in (1, 2):
                    procs.add(subprocess.Popen(
                        [os.path.join(VENV, "bin", "celery"), "-A", "benchmarks.anchor_celery",
                         "worker", "-P", "solo", "-n", f"w{i}@%h", "--without-gossip",
                         "--without-mingle", "--without-heartbeat", "-l", "INFO"],
                        cwd=ROOT, env=_env(redis.url), stdout=fh, stderr=fh))
            _wait_for_lines(log, " ready.", 2, procs, "the Celery workers")
            return _client("benchmarks.anchor_celery", redis.url, s)
        finally:
            procs.stop()


def dramatiq_round(s: Load) -> AnchorRound:
    """Dramatiq: 2 worker processes (8 threads each, its default), Redis, Redis results."""
    with Redis() as redis, tempfile.TemporaryDirectory(prefix="bench-dramatiq-") as tmp:
        log = os.path.join(tmp, "dramatiq.log")
        procs = Procs()
        try:
            with open(log, "ab") as fh:
                procs.add(subprocess.Popen(
                    [os.path.join(VENV, "bin", "dramatiq"), "benchmarks.anchor_dramatiq",
                     "--processes", "2", "--threads", "8"],
                    cwd=ROOT, env=_env(redis.url), stdout=fh, stderr=fh))
            _wait_for_lines(log, "is ready for action", 2, procs, "the Dramatiq workers")
            return _client("benchmarks.anchor_dramatiq", redis.url, s)
        finally:
            procs.stop()


ANCHORS = {"Celery": celery_round, "Dramatiq": dramatiq_round}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--setup", action="store_true", help="install what the anchors need")
    args = p.parse_args()
    if args.setup:
        setup()
    elif not available():
        print(f"anchors not installed: {HOW}")
    else:
        print(f"anchors: {versions()}")


if __name__ == "__main__":
    main()

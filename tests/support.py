"""Test support: a real broker and real worker processes on loopback TCP ports.

``system`` starts ``python -m medialoom.broker`` and a worker pool as child
processes with a temporary data dir and library root, waits for a PING reply
instead of sleeping, and stops them at the end (asserting a clean exit).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


# --- helpers of the chaos and liveness tests (tests/e2e/test_chaos.py, test_liveness.py) ----


def start_pool(system: System, n: int = 2, slots: int = 2) -> subprocess.Popen[bytes]:
    """Start ``python -m medialoom.workers -n N`` in a session of its own (not waiting).

    The pool leads its own process group, so ``kill_group`` ends it and all its
    worker processes at once.  It logs to workers.log and is added to
    ``system.worker_procs``, so ``system.stop()`` stops it like a worker.
    """
    argv = [sys.executable, "-m", "medialoom.workers", "-n", str(n), "--slots", str(slots),
            "--workers", system.workers, "--events-in", system.events_in,
            "--heartbeat", str(system.heartbeat)]
    fd = system._log("workers")
    try:
        proc = subprocess.Popen(argv, stdout=fd, stderr=subprocess.STDOUT,
                                start_new_session=True)
    finally:
        os.close(fd)
    system.worker_procs.append(proc)
    return proc


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """kill -9 the process group that proc leads (started with start_new_session=True)."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def worker_pids(system: System) -> set[int]:
    """Pids of the workers the broker knows now."""
    with system.client() as c:
        return {w["pid"] for w in c.stats()["workers"]}


def restart_broker(system: System, down_s: float = 0.0) -> float:
    """kill -9 the broker and start it again (after down_s) on the same ports and data dir.

    Returns ``time.monotonic()`` at the moment the new broker answered PING.
    """
    system.kill_broker()
    if down_s:
        time.sleep(down_s)
    system.start_broker()
    return time.monotonic()


def log_tails(system: System, chars: int = 3000) -> str:
    """The last chars of the broker and the workers logs, for failure messages."""
    return (f"\n--- broker log (last {chars} chars) ---\n{system.read_log('broker')[-chars:]}"
            f"\n--- workers log (last {chars} chars) ---\n{system.read_log('workers')[-chars:]}")


def contents(folder: Path) -> Counter[tuple[int, str]]:
    """The multiset of (size, blake2b) of every file under folder."""
    found: Counter[tuple[int, str]] = Counter()
    for top, _dirs, names in os.walk(folder):
        for name in names:
            data = Path(top, name).read_bytes()
            found[(len(data), hashlib.blake2b(data, digest_size=16).hexdigest())] += 1
    return found


def ranges(indices: set[int] | list[int], limit: int = 12) -> str:
    """'1280-1535, 1700' for a set of indices (at most limit runs shown)."""
    values = sorted(set(indices))
    runs: list[tuple[int, int]] = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    text = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in runs[:limit])
    more = f", ... ({len(runs) - limit} more runs)" if len(runs) > limit else ""
    return f"{len(values)} indices: {text}{more}"


def pages(c: Client, call: str, job_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every row of a job's PLAN or RESULTS, and the first reply (total, complete)."""
    rows: list[dict[str, Any]] = []
    first: dict[str, Any] | None = None
    while True:
        reply = getattr(c, call)(job_id, limit=1000, offset=len(rows))
        first = first or reply
        batch = reply["ops" if call == "plan" else "items"]
        rows += batch
        if not batch or len(rows) >= reply["total"]:
            return rows, first


def file_job_problems(c: Client, job: dict[str, Any], files: int) -> list[str]:
    """What is wrong with a rename or organize job over ``files`` files that says completed.

    Its plan must be complete and gap-free (row indices exactly 0..files-1: the
    walk makes one row per file), every ``planned`` row done on disk (source
    gone, target there with the planned size), one item row per plan row, and
    RESULTS total == processed == succeeded + skipped + failed.
    """
    problems: list[str] = []
    ops, plan = pages(c, "plan", job["id"])
    indices = [op["i"] for op in ops]
    missing = set(range(files)) - set(indices)
    extra = set(indices) - set(range(files))
    if missing:
        problems.append(f"plan rows missing: {ranges(missing)} (plan total {plan['total']}, "
                        f"{files} files)")
    if extra:
        problems.append(f"plan rows beyond the {files} files: {ranges(extra)}")
    if len(indices) != len(set(indices)):
        repeated = [i for i, k in Counter(indices).items() if k > 1]
        problems.append(f"plan row indices repeated: {ranges(repeated)}")
    if not plan["complete"]:
        problems.append("the plan is not marked complete")
    not_done: list[str] = []
    targets = {op["dst"] for op in ops if op["status"] == "planned"}
    for op in ops:
        if op["status"] != "planned":
            continue
        src, dst, size = op["src"], op["dst"], (op.get("expect") or {}).get("size")
        if os.path.lexists(src) and src not in targets:
            not_done.append(f"#{op['i']} source still there: {src}")
        elif not os.path.isfile(dst):
            not_done.append(f"#{op['i']} target missing: {dst}")
        elif size is not None and os.path.getsize(dst) != size:
            not_done.append(f"#{op['i']} target {dst} has {os.path.getsize(dst)} bytes, "
                            f"planned {size}")
    if not_done:
        problems.append(f"{len(not_done)} planned operations not done on disk, e.g. "
                        + "; ".join(not_done[:5]))
    items, results = pages(c, "results", job["id"])
    p = job["progress"]
    if results["total"] != p["processed"]:
        problems.append(f"RESULTS total {results['total']} != processed {p['processed']}")
    if p["succeeded"] + p["skipped"] + p["failed"] != p["processed"]:
        problems.append(f"succeeded {p['succeeded']} + skipped {p['skipped']} + failed "
                        f"{p['failed']} != processed {p['processed']}")
    item_missing = set(range(files)) - {item["i"] for item in items}
    if item_missing:
        problems.append(f"item rows missing (one per plan row expected): {ranges(item_missing)}")
    if p["processed"] != files:
        problems.append(f"processed {p['processed']} != {files} plan rows")
    return problems

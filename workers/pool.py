"""The worker pool supervisor: N worker processes, restarted when they die.

Starts ``python -m medialoom.workers.worker`` processes (not forked closures)
with their settings in the environment (MEDIALOOM_*, never on the command line),
restarts dead ones within a budget (``max_restarts`` per ``window_s``), and
stops everything with exit code 1 when the budget is spent.  A worker that exits
2 (bad settings, or the broker refused its READY) is not restarted: its
siblings would fare no better, so the pool stops with exit code 2.  SIGTERM/SIGINT
stop the children (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections import deque

log = logging.getLogger("medialoom.pool")


class Pool:
    """Supervises worker processes started with one environment (None: this process's)."""

    def __init__(self, count: int, env: dict[str, str] | None = None, *, max_restarts: int = 20,
                 window_s: float = 60.0, grace_s: float = 5.0) -> None:
        self.count = count
        self.cmd = [sys.executable, "-m", "medialoom.workers.worker"]
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.restarts: deque[float] = deque()
        self.max_restarts = max_restarts
        self.window_s = window_s
        self.grace_s = grace_s
        self.stopping = False

    def __repr__(self) -> str:
        return f"<Pool count={self.count} alive={sum(p.poll() is None for p in self.procs)}>"

    def spawn(self) -> subprocess.Popen[bytes]:
        """Start one worker process."""
        proc = subprocess.Popen(self.cmd, env=self.env)
        log.info("started worker pid %d", proc.pid)
        return proc

    def stop(self, *_: object) -> None:
        """Ask the supervisor loop to stop (signal handler)."""
        self.stopping = True

    def run(self) -> int:
        """Supervise until stopped; 0 after a clean stop, 1 when the restart budget is spent,
        2 when a worker exited 2 (bad settings, or refused by the broker)."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        self.procs = [self.spawn() for _ in range(self.count)]
        code = 0
        while not self.stopping:
            time.sleep(0.2)
            for i, proc in enumerate(self.procs):
                if proc.poll() is None or self.stopping:
                    continue
                if proc.returncode == 2:
                    log.error("worker pid %d exited 2 (bad settings, or the broker refused it: "
                              "its log says why); stopping the pool", proc.pid)
                    self.stopping, code = True, 2
                    break
                now = time.monotonic()
                self.restarts.append(now)
                while self.restarts and self.restarts[0] < now - self.window_s:
                    self.restarts.popleft()
                if len(self.restarts) > self.max_restarts:
                    log.error("workers died %d times in %.0f s; giving up",
                              len(self.restarts), self.window_s)
                    self.stopping, code = True, 1
                    break
                log.warning("worker pid %d exited with %s; restarting", proc.pid, proc.returncode)
                self.procs[i] = self.spawn()
        self.shutdown()
        return code

    def shutdown(self) -> None:
        """SIGTERM every child, then SIGKILL what is still alive after the grace period."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

"""How the host spent a measured window: the share of its cores left idle or taken by the
hypervisor (steal), from /proc/stat, and how one process's main thread spent it: running,
or runnable but waiting for a CPU (/proc/PID/task/PID/schedstat, in nanoseconds).

A system that leaves cores idle while its busiest thread waits for a CPU is held back by
the host's scheduling, not by its own CPU per job; one that leaves none idle is bound by
the cores it has.  Both move with whatever else runs on a shared machine, which is why the
benchmarks print them beside the rates.  Off Linux every share is nan.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

NAN = float("nan")


@dataclass
class Shares:
    """Percentages of one window."""

    idle: float = NAN  # of all cores: idle or waiting for I/O
    steal: float = NAN  # of all cores: taken by the hypervisor
    ran: float = NAN  # of the window: the watched thread ran
    waited: float = NAN  # of the window: the watched thread was runnable, waiting for a CPU


def _cores() -> list[int]:
    """The machine's CPU time counters (user nice system idle iowait irq softirq steal)."""
    try:
        with open("/proc/stat") as fh:
            return [int(v) for v in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return []


def _thread(pid: int | None) -> tuple[int, int] | None:
    """Nanoseconds the thread pid (a process's main thread) ran and waited on a runqueue."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/task/{pid}/schedstat") as fh:
            ran, waited, _ = fh.read().split()
        return int(ran), int(waited)
    except (OSError, ValueError):
        return None


class Watch:
    """``with Watch(pid) as w: ...`` (or ``start()`` ... ``stop()``), then ``w.shares``:
    the host over that window."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid
        self.shares = Shares()

    def __enter__(self) -> Watch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Watch:
        self._cores, self._thread = _cores(), _thread(self.pid)
        self._t0 = time.perf_counter()
        return self

    def stop(self) -> Shares:
        wall_ns = (time.perf_counter() - self._t0) * 1e9
        cores, thread = _cores(), _thread(self.pid)
        if self._cores and len(cores) == len(self._cores):
            d = [b - a for a, b in zip(self._cores, cores, strict=True)]
            total = sum(d)
            if total > 0:
                self.shares.idle = 100.0 * (d[3] + d[4]) / total
                self.shares.steal = 100.0 * d[7] / total if len(d) > 7 else NAN
        if self._thread is not None and thread is not None and wall_ns > 0:
            self.shares.ran = 100.0 * (thread[0] - self._thread[0]) / wall_ns
            self.shares.waited = 100.0 * (thread[1] - self._thread[1]) / wall_ns
        return self.shares

"""WorkerConfig: the settings of one worker process and of the pool supervisor."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerConfig:
    """Where the broker is, how many jobs at once, which kinds, heartbeat timing."""

    workers: str = "tcp://127.0.0.1:5571"
    events_in: str = "tcp://127.0.0.1:5572"
    slots: int = 4
    kinds: tuple[str, ...] = ()
    heartbeat_interval_s: float = 1.0
    heartbeat_liveness: int = 3
    threads: int = 4

"""WorkerConfig: the settings of one worker process and of the pool supervisor."""

from __future__ import annotations

from dataclasses import dataclass

from medialoom.protocol.constants import DEFAULT_EVENTS_IN, DEFAULT_WORKERS


@dataclass(frozen=True)
class WorkerConfig:
    """Where the broker is, how many jobs at once, which kinds, heartbeat timing."""

    workers: str = DEFAULT_WORKERS
    events_in: str = DEFAULT_EVENTS_IN
    slots: int = 4
    kinds: tuple[str, ...] = ()
    heartbeat_interval_s: float = 1.0
    heartbeat_liveness: int = 3
    threads: int = 4

"""BrokerConfig: every setting of the broker process, built once in __main__."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medialoom.protocol.constants import (
    DEFAULT_CLIENTS,
    DEFAULT_EVENTS_IN,
    DEFAULT_EVENTS_OUT,
    DEFAULT_WORKERS,
)


@dataclass(frozen=True)
class BrokerConfig:
    """Endpoints, store location, library roots and the scheduling knobs."""

    data_dir: str
    roots: tuple[str, ...] = ()
    clients: str = DEFAULT_CLIENTS
    workers: str = DEFAULT_WORKERS
    events_in: str = DEFAULT_EVENTS_IN
    events_out: str = DEFAULT_EVENTS_OUT
    heartbeat_interval_s: float = 1.0
    heartbeat_liveness: int = 3
    max_attempts: int = 3
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    queue_max: int = 10_000
    retention_days: float = 30.0
    retention_check_s: float = 600.0
    finished_cache: int = 2_000
    sync: str = "normal"
    extra_kinds: tuple[str, ...] = field(default=())
    #: CURVE on the four sockets with the keys of DATA_DIR/keys (SPEC 1.1, medialoom keys)
    curve: bool = False
    #: bind beyond loopback without CURVE (anyone who reaches a port may use it)
    insecure: bool = False

    @property
    def worker_timeout_s(self) -> float:
        """Silence after which a worker is dead."""
        return self.heartbeat_interval_s * self.heartbeat_liveness

    @property
    def reclaim_lease_s(self) -> float:
        """After a restart, how long running jobs wait for their worker to come back."""
        return self.worker_timeout_s + 2.0

    @property
    def db_path(self) -> str:
        """The SQLite file."""
        return f"{self.data_dir}/medialoom.sqlite3"


def broker_settings(c: BrokerConfig) -> dict[str, Any]:
    """c as settings (names of settings.KEYS), for ``settings.child_environ``: how ``medialoom
    up`` hands the broker process its settings without putting them on its command line."""
    return {"data_dir": c.data_dir, "roots": list(c.roots), "clients": c.clients,
            "workers": c.workers, "events_in": c.events_in, "events_out": c.events_out,
            "heartbeat_interval_s": c.heartbeat_interval_s,
            "heartbeat_liveness": c.heartbeat_liveness, "max_attempts": c.max_attempts,
            "queue_max": c.queue_max, "retention_days": c.retention_days, "sync": c.sync,
            "curve": c.curve, "insecure": c.insecure}

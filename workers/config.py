"""WorkerConfig: the settings of one worker process and of the pool supervisor.

``worker_config`` builds it from merged settings (medialoom/settings.py);
``worker_settings`` is the way back, for the pool to hand each worker process
its settings as MEDIALOOM_* variables rather than on its command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medialoom import keys, settings
from medialoom.certs import Curve
from medialoom.protocol.constants import DEFAULT_EVENTS_IN, DEFAULT_WORKERS


@dataclass(frozen=True)
class WorkerConfig:
    """Where the broker is, how many jobs at once, which kinds, heartbeat timing; the data
    folder (caches kept across jobs), the contact HTTP requests name in their User-Agent,
    and the path mappings of a worker on another host (``LIB=LOCAL``, workers/pathmap.py)."""

    workers: str = DEFAULT_WORKERS
    events_in: str = DEFAULT_EVENTS_IN
    slots: int = 4
    kinds: tuple[str, ...] = ()
    heartbeat_interval_s: float = 1.0
    heartbeat_liveness: int = 3
    threads: int = 4
    data_dir: str = ""
    contact: str = ""
    path_map: tuple[str, ...] = ()
    #: CURVE keys for the broker's sockets (key, broker_key, curve settings; None: off)
    curve: Curve | None = field(default=None, repr=False, compare=False)


def worker_config(s: dict[str, Any]) -> WorkerConfig:
    """WorkerConfig from merged settings (``settings.load``); defaults for what is not set."""
    ep = settings.endpoints(s)
    d = WorkerConfig()
    return WorkerConfig(workers=ep["workers"], events_in=ep["events_in"],
                        slots=s.get("slots", d.slots), kinds=tuple(s.get("kinds") or ()),
                        heartbeat_interval_s=s.get("heartbeat_interval_s", d.heartbeat_interval_s),
                        heartbeat_liveness=s.get("heartbeat_liveness", d.heartbeat_liveness),
                        threads=s.get("threads", d.threads),
                        data_dir=s.get("data_dir", d.data_dir),
                        contact=s.get("contact", d.contact),
                        path_map=tuple(s.get("path_map") or ()),
                        curve=keys.client_curve(s, keys.LOCAL_WORKER))


def worker_settings(c: WorkerConfig) -> dict[str, Any]:
    """c as settings (names of settings.KEYS), for ``settings.child_environ``."""
    return {"workers": c.workers, "events_in": c.events_in, "slots": c.slots,
            "kinds": list(c.kinds), "heartbeat_interval_s": c.heartbeat_interval_s,
            "heartbeat_liveness": c.heartbeat_liveness, "threads": c.threads,
            "data_dir": c.data_dir, "contact": c.contact, "path_map": list(c.path_map),
            **keys.curve_settings(c.curve)}

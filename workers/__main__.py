"""``python -m medialoom.workers`` (``medialoom worker``): the worker pool supervisor.

The pool reads its settings like every entry point (file, MEDIALOOM_*,
flags) and hands each worker process the merged result as MEDIALOOM_*
variables: a worker's command line is ``python -m medialoom.workers.worker``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

from medialoom import settings
from medialoom.protocol.constants import PORTS

from .config import worker_config, worker_settings
from .pathmap import PathMap
from .pool import Pool


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Pool flags (shared with the CLI); each overrides the setting of the same name."""
    p.add_argument("-n", "--processes", type=int, default=None,
                   help="worker processes (default: CPU count; MEDIALOOM_PROCESSES)")
    p.add_argument("--slots", type=int, help="jobs each process runs at once (default 4)")
    p.add_argument("--broker", metavar="HOST",
                   help=f"broker host; uses ports {PORTS['workers']} (workers) and "
                   f"{PORTS['events_in']} (events)")
    p.add_argument("--workers", help="broker worker endpoint (overrides --broker)")
    p.add_argument("--events-in", help="broker events-in endpoint (overrides --broker)")
    p.add_argument("--kind", action="append", dest="kinds", default=[],
                   help="serve only these kinds")
    p.add_argument("--heartbeat", type=float, dest="heartbeat_interval_s", default=None,
                   help="heartbeat interval, seconds")
    p.add_argument("--path-map", action="append", dest="path_map", default=[],
                   metavar="LIBRARY=LOCAL", help="this host sees the library folder LIBRARY "
                   "(the broker's path) at LOCAL, e.g. /srv/media=/mnt/media; repeat for "
                   "several (path_map in config.toml, MEDIALOOM_PATH_MAP). LOCAL must exist")
    p.add_argument("--key", metavar="FILE", help="this pool's CURVE key pair, role worker "
                   "(NAME.key_secret; MEDIALOOM_KEY): for a broker with CURVE on")
    p.add_argument("--broker-key", metavar="FILE", help="the broker's public key (default "
                   "DATA_DIR/keys/broker.key; MEDIALOOM_BROKER_KEY)")
    p.add_argument("--config", help="TOML settings file")


def pool_settings(args: argparse.Namespace) -> tuple[int, dict[str, Any]]:
    """(worker processes, the settings each worker process gets) from file, environment, flags."""
    s = settings.load(args.config, {"processes": args.processes, "slots": args.slots,
                                    "heartbeat_interval_s": args.heartbeat_interval_s,
                                    "workers": args.workers, "events_in": args.events_in,
                                    "host": args.broker, "kinds": args.kinds,
                                    "path_map": args.path_map, "key": args.key,
                                    "broker_key": args.broker_key})
    config = worker_config(s)
    # a mapping onto a folder this host lacks is refused here, before any worker starts
    PathMap(config.path_map).check_local()
    return s.get("processes") or os.cpu_count() or 1, worker_settings(config)


def main(argv: list[str] | None = None) -> int:
    """Run the pool; 0 after a clean stop, 1 if workers keep dying, 2 bad usage or settings."""
    p = argparse.ArgumentParser(prog="medialoom worker",
                                description="Supervise N medialoom worker processes.")
    add_arguments(p)
    args = p.parse_args(argv)
    logging.basicConfig(level="INFO", stream=sys.stderr,
                        format="%(asctime)s pool %(levelname)s %(message)s")
    try:
        count, values = pool_settings(args)
    except (ValueError, OSError) as exc:  # a broken settings file or variable
        print(f"medialoom worker: bad settings: {exc}", file=sys.stderr)
        return 2
    return Pool(count, settings.child_environ(values)).run()


if __name__ == "__main__":
    sys.exit(main())

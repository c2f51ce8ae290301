"""``python -m medialoom.workers`` (``medialoom worker``): the worker pool supervisor."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from medialoom import settings
from medialoom.protocol.constants import PORTS

from .pool import Pool


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Pool flags (shared with the CLI)."""
    p.add_argument("-n", "--processes", type=int, default=0,
                   help="worker processes (default: CPU count)")
    p.add_argument("--slots", type=int, help="jobs each process runs at once (default 4)")
    p.add_argument("--broker", metavar="HOST",
                   help=f"broker host; uses ports {PORTS['workers']} (workers) and "
                   f"{PORTS['events_in']} (events)")
    p.add_argument("--workers", help="broker worker endpoint (overrides --broker)")
    p.add_argument("--events-in", help="broker events-in endpoint (overrides --broker)")
    p.add_argument("--kind", action="append", default=[], help="serve only these kinds")
    p.add_argument("--heartbeat", type=float, default=None, help="heartbeat interval, seconds")
    p.add_argument("--config", help="TOML settings file")


def worker_args(args: argparse.Namespace) -> list[str]:
    """Command-line of each worker process from the pool's flags and settings."""
    s = settings.load(args.config, {"slots": args.slots, "heartbeat_interval_s": args.heartbeat,
                                    "workers": args.workers, "events_in": args.events_in,
                                    "host": args.broker})
    ep = settings.endpoints(s)
    out = ["--workers", ep["workers"], "--events", ep["events_in"],
           "--slots", str(s.get("slots", 4)),
           "--heartbeat", str(s.get("heartbeat_interval_s", 1.0))]
    for kind in args.kind:
        out += ["--kind", kind]
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the pool; 0 after a clean stop, 1 if workers keep dying."""
    p = argparse.ArgumentParser(prog="medialoom worker",
                                description="Supervise N medialoom worker processes.")
    add_arguments(p)
    args = p.parse_args(argv)
    logging.basicConfig(level="INFO", stream=sys.stderr,
                        format="%(asctime)s pool %(levelname)s %(message)s")
    return Pool(args.processes or os.cpu_count() or 1, worker_args(args)).run()


if __name__ == "__main__":
    sys.exit(main())

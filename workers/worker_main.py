"""Entry point of one worker process: ``python -m medialoom.workers.worker``.

Flags override the settings of the same name (settings file, MEDIALOOM_*).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import dataclasses
import logging
import os
import signal
import sys

from medialoom import settings
from medialoom.protocol.constants import DEFAULT_EVENTS_IN, DEFAULT_WORKERS
from medialoom.runtime import WORKER_YOUNG, quiet_collector

from .config import WorkerConfig, worker_config
from .kinds import load_kinds
from .pathmap import PathMap
from .worker import Worker


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The worker's flags; each overrides the setting of the same name (file, MEDIALOOM_*)."""
    p = argparse.ArgumentParser(prog="python -m medialoom.workers.worker", description=(
        "One medialoom worker process (the pool starts these, handing it its settings as "
        "MEDIALOOM_* variables). Exit codes: 0 stopped, 2 bad usage or settings, or the "
        "broker refused its READY (a path_map it cannot use)."))
    p.add_argument("--workers", help=f"broker worker endpoint (default {DEFAULT_WORKERS}; "
                   "MEDIALOOM_WORKERS)")
    p.add_argument("--events", dest="events_in", help="broker events-in endpoint (default "
                   f"{DEFAULT_EVENTS_IN}; MEDIALOOM_EVENTS_IN)")
    p.add_argument("--slots", type=int, help="jobs this process runs at once (default 4)")
    p.add_argument("--kind", action="append", dest="kinds", default=[],
                   help="serve only these kinds (MEDIALOOM_KINDS, comma-separated)")
    p.add_argument("--heartbeat", type=float, dest="heartbeat_interval_s",
                   help="heartbeat interval in seconds (default 1)")
    p.add_argument("--liveness", type=int, dest="heartbeat_liveness",
                   help="missed heartbeats before reconnect (default 3)")
    p.add_argument("--threads", type=int, help="threads for blocking work (default 4)")
    p.add_argument("--path-map", action="append", dest="path_map", default=[],
                   metavar="LIBRARY=LOCAL", help="library folder LIBRARY is LOCAL on this host; "
                   "repeat for several (MEDIALOOM_PATH_MAP)")
    p.add_argument("--config", help="TOML settings file")
    p.add_argument("--log-level", default="INFO")
    return p.parse_args(argv)


def config_from(args: argparse.Namespace) -> WorkerConfig:
    """WorkerConfig from the settings file, MEDIALOOM_* variables and the flags (which win)."""
    flags = {name: getattr(args, name) for name in ("workers", "events_in", "slots", "kinds",
                                                    "heartbeat_interval_s",
                                                    "heartbeat_liveness", "threads",
                                                    "path_map")}
    config = worker_config(settings.load(args.config, flags))
    # a worker keeps caches (the match kind's catalog answers) under the data dir
    return dataclasses.replace(config, data_dir=config.data_dir or settings.default_data_dir())


async def amain(config: WorkerConfig, path_map: PathMap | None = None) -> str:
    """Run one worker process until SIGTERM or SIGINT (or the broker refuses it: then why)."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(config.threads))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    kinds = load_kinds()
    if config.kinds:
        kinds = {k: v for k, v in kinds.items() if k in config.kinds}
    worker = Worker(config, kinds, path_map)
    quiet_collector(WORKER_YOUNG)  # the kinds and their libraries are loaded: start-up is over
    await worker.run(stop)
    return worker.refused


def main(argv: list[str] | None = None) -> int:
    """Entry point of one worker process; exit code 0 after a clean stop, 2 bad settings or
    refused by the broker."""
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format=f"%(asctime)s worker[{os.getpid()}] %(levelname)s %(message)s")
    try:
        config = config_from(args)
        path_map = PathMap(config.path_map)
        path_map.check_local()  # a mapping onto a folder this host lacks: refused here
    except (ValueError, OSError) as exc:  # a broken settings file or variable
        print(f"medialoom worker: bad settings: {exc}", file=sys.stderr)
        return 2
    refused = asyncio.run(amain(config, path_map))
    if refused:
        print(f"medialoom worker: refused by the broker: {refused}", file=sys.stderr)
        return 2
    return 0


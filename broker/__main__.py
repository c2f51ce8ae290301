"""``python -m medialoom.broker``: run the broker process (``medialoom broker`` is the same)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path

import zmq

from medialoom import settings
from medialoom.certs import KeyFileError
from medialoom.keys import KeyStore
from medialoom.private import private_dir, private_umask
from medialoom.protocol.constants import (
    DEFAULT_CLIENTS,
    DEFAULT_EVENTS_IN,
    DEFAULT_EVENTS_OUT,
    DEFAULT_WORKERS,
)
from medialoom.runtime import quiet_collector
from medialoom.sockets import is_loopback
from medialoom.workers.specs import builtin_specs

from .actor import BrokerActor
from .auth import Gatekeeper
from .config import BrokerConfig
from .state import BrokerState
from .store import Store, load_active

log = logging.getLogger("medialoom.broker")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Broker flags (shared with ``medialoom up``)."""
    p.add_argument("--root", action="append", dest="roots", default=[], metavar="PATH",
                   help="a library root; repeat for several (default: your home directory)")
    p.add_argument("--data-dir", help="where the SQLite store lives")
    p.add_argument("--host", help="bind the four default ports on this address (LAN)")
    p.add_argument("--clients", help=f"client endpoint (default {DEFAULT_CLIENTS})")
    p.add_argument("--workers", help=f"worker endpoint (default {DEFAULT_WORKERS})")
    p.add_argument("--events-in", help=f"events-in endpoint (default {DEFAULT_EVENTS_IN})")
    p.add_argument("--events-out", help=f"events-out endpoint (default {DEFAULT_EVENTS_OUT})")
    p.add_argument("--heartbeat", type=float, dest="heartbeat_interval_s",
                   help="heartbeat interval in seconds (default 1)")
    p.add_argument("--liveness", type=int, dest="heartbeat_liveness",
                   help="missed heartbeats before a worker is dead (default 3)")
    p.add_argument("--max-attempts", type=int, help="attempts per job (default 3)")
    p.add_argument("--queue-max", type=int, help="most queued jobs (default 10000)")
    p.add_argument("--retention-days", type=float, help="keep finished jobs this long (30)")
    p.add_argument("--sync", choices=("normal", "full"),
                   help="normal: commits survive kill -9; full: also power loss (slower)")
    p.add_argument("--curve", action="store_true", default=None,
                   help="CURVE on all four sockets: only keys on the allow-lists of "
                   "DATA_DIR/keys get in (medialoom keys); setting curve")
    p.add_argument("--insecure", action="store_true", default=None,
                   help="allow binding beyond loopback without CURVE: anyone who can reach "
                   "the ports may start jobs and pose as a worker")
    p.add_argument("--config", help="TOML settings file")


def config_from(args: argparse.Namespace) -> BrokerConfig:
    """BrokerConfig from file, environment and flags."""
    flags = {k: getattr(args, k, None) for k in settings.KEYS}
    s = settings.load(args.config, flags)
    roots = tuple(os.path.realpath(os.path.expanduser(r)) for r in s.get("roots") or [])
    if not roots:
        roots = (str(Path.home()),)
    extra = {k: s[k] for k in ("heartbeat_interval_s", "heartbeat_liveness", "max_attempts",
                               "queue_max", "retention_days", "sync", "curve", "insecure")
             if k in s}
    config = BrokerConfig(data_dir=os.path.expanduser(s.get("data_dir") or settings.default_data_dir()),
                          roots=roots, **settings.endpoints(s), **extra)
    exposed = [e for e in (config.clients, config.workers, config.events_in, config.events_out)
               if not is_loopback(e)]
    if exposed and not (config.curve or config.insecure):
        raise ValueError(f"{exposed[0]} is reachable beyond this host, so it needs CURVE: "
                         "medialoom keys init, then --curve (setting curve = true); or "
                         "--insecure to let in anyone who can reach the ports")
    return config


class WriterDied(RuntimeError):
    """The store's writer thread stopped: the broker cannot keep its promises and exits 1."""


def tune_runtime() -> None:
    """Python's defaults, tuned for answers that never wait long (issue 9).

    - The objects of start-up (modules, the recovered jobs) leave the collector's sight,
      and the oldest generation is collected a tenth as often (runtime.quiet_collector).
    - The writer thread gets the GIL back within 1 ms instead of 5 ms: each statement of
      a commit gives it up and takes it back, and while the actor is busy every take-back
      waited the whole switch interval.
    """
    quiet_collector()
    sys.setswitchinterval(0.001)


async def serve(config: BrokerConfig, stop: asyncio.Event) -> None:
    """Run the broker until stop is set; WriterDied if the store writer stopped."""
    private_umask()
    private_dir(config.data_dir)
    recovered = await asyncio.to_thread(load_active, config.db_path)
    state = BrokerState(config, builtin_specs(), recovered, time.time())
    store = Store(config.db_path, config.sync)
    ctx: zmq.Context = zmq.Context()
    auth = Gatekeeper(ctx, KeyStore(config.data_dir)) if config.curve else None
    if auth is not None:
        auth.start()  # the ZAP handler before any CURVE socket is bound
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGHUP, auth.reload if auth else lambda: log.info("SIGHUP: CURVE is off"))
    actor = BrokerActor(config, state, store, ctx, auth)
    log.info("broker ready: clients %s, workers %s, events %s -> %s; store %s; roots %s; "
             "%d jobs recovered; %s", config.clients, config.workers, config.events_in,
             config.events_out, config.db_path, ", ".join(config.roots), len(recovered),
             f"CURVE on, {len(auth.allowed)} keys allowed" if auth else "CURVE off")
    tune_runtime()
    try:
        await actor.run(stop)
    finally:
        actor.close()
        if auth is not None:
            auth.stop()  # its sockets are closed before the context terminates
        await asyncio.to_thread(store.stop)
        ctx.term()
        log.info("broker stopped: %r", state)
    if actor.fatal:
        raise WriterDied("the store writer stopped (see the critical log line above)")


async def amain(config: BrokerConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(config, stop)


def main(argv: list[str] | None = None) -> int:
    """Entry point: 0 after a clean stop, 2 on bad usage, 1 if an endpoint cannot be bound."""
    p = argparse.ArgumentParser(prog="medialoom broker", description="Run the medialoom broker.")
    add_arguments(p)
    p.add_argument("--log-level", default="INFO")
    args = p.parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s broker %(levelname)s %(message)s")
    try:
        config = config_from(args)
    except (ValueError, OSError) as exc:  # a broken settings file or variable
        print(f"medialoom broker: bad settings: {exc}", file=sys.stderr)
        return 2
    if config.curve:  # every key file is read now: a broken one stops the start, named
        try:
            store = KeyStore(config.data_dir)
            store.server_curve()
            store.allow_list(strict=True)
        except KeyFileError as exc:
            print(f"medialoom broker: {exc}", file=sys.stderr)
            return 2
    try:
        asyncio.run(amain(config))
    except zmq.ZMQError as exc:
        log.error("cannot bind: %s (is another broker running?)", exc)
        return 1
    except WriterDied as exc:
        log.critical("broker exits: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

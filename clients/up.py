"""``medialoom up``: broker, worker pool and gateway on this host, in one command.

Each part is its own process.  Ctrl-C or SIGTERM stops them all (SIGTERM,
then SIGKILL after a grace period).  A broker that exits with an error (it
does when its store writer dies) is started again, at most 5 times a minute;
if any other part dies, the others are stopped and the exit code is 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import time

from medialoom.broker.__main__ import config_from
from medialoom.broker.config import BrokerConfig
from medialoom.private import private_dir, private_umask
from medialoom.protocol.constants import DEFAULT_LISTEN

from .client import Client

GRACE_S = 8.0
#: the broker is restarted after a failure at most this often within the window
MAX_RESTARTS, RESTART_WINDOW_S = 5, 60.0


def broker_argv(c: BrokerConfig) -> list[str]:
    """Command line of the broker process for config c."""
    argv = [sys.executable, "-m", "medialoom.broker", "--data-dir", c.data_dir,
            "--clients", c.clients, "--workers", c.workers, "--events-in", c.events_in,
            "--events-out", c.events_out, "--heartbeat", str(c.heartbeat_interval_s),
            "--liveness", str(c.heartbeat_liveness), "--max-attempts", str(c.max_attempts),
            "--queue-max", str(c.queue_max), "--retention-days", str(c.retention_days),
            "--sync", c.sync]
    for root in c.roots:
        argv += ["--root", root]
    return argv


def _wait_for_broker(c: BrokerConfig, proc: subprocess.Popen[bytes], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    with Client(c.clients, c.events_out, timeout_s=0.5) as client:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                client.ping()
                return True
            except Exception:
                continue
    return False


def run_up(args: argparse.Namespace) -> int:
    """Start everything and supervise until a signal; see the module docstring."""
    config = config_from(args)
    private_umask()
    private_dir(config.data_dir)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    code = 0
    try:
        procs["broker"] = subprocess.Popen(broker_argv(config))
        if not _wait_for_broker(config, procs["broker"], 15.0):
            print(f"medialoom up: the broker did not start on {config.clients}", file=sys.stderr)
            return 1
        n = args.processes or os.cpu_count() or 1
        pool = [sys.executable, "-m", "medialoom.workers", "-n", str(n),
                "--workers", config.workers, "--events-in", config.events_in,
                "--heartbeat", str(config.heartbeat_interval_s)]
        if args.slots:
            pool += ["--slots", str(args.slots)]
        procs["workers"] = subprocess.Popen(pool)
        gateway_line = ""
        if not args.no_gateway and importlib.util.find_spec("medialoom.clients.gateway"):
            addr = args.gateway or DEFAULT_LISTEN
            # no secret on this command line: the gateway reads its token from
            # DATA_DIR/gateway-token or MEDIALOOM_GATEWAY_TOKEN (inherited environment)
            gateway = [sys.executable, "-m", "medialoom.clients.gateway", "--listen", addr,
                       "--endpoint", config.clients, "--events", config.events_out,
                       "--data-dir", config.data_dir]
            for name in getattr(args, "allow_host", None) or []:
                gateway += ["--allow-host", name]
            if getattr(args, "config", None):
                gateway += ["--config", args.config]
            procs["gateway"] = subprocess.Popen(gateway)
            gateway_line = f"\n  web UI and API  http://{addr}/"
        print(f"medialoom is up: broker {config.clients}, {n} worker processes"
              f"{gateway_line}\n  library roots   {', '.join(config.roots)}"
              f"\n  store           {config.db_path}\nCtrl-C stops everything.", flush=True)
        restarts: list[float] = []
        while not stopping:
            time.sleep(0.2)
            broker = procs["broker"]
            if broker.poll() not in (None, 0) and not stopping:
                # the broker stops with exit 1 when it cannot keep its promises (its store
                # writer died): start it again; workers and gateway reconnect by themselves
                restarts = [t for t in restarts if time.monotonic() - t < RESTART_WINDOW_S]
                if len(restarts) < MAX_RESTARTS:
                    restarts.append(time.monotonic())
                    print(f"medialoom up: the broker exited with {broker.returncode}; "
                          "starting it again", file=sys.stderr, flush=True)
                    procs["broker"] = subprocess.Popen(broker_argv(config))
                    continue
            dead = [name for name, p in procs.items() if p.poll() is not None]
            if dead:
                print(f"medialoom up: {', '.join(dead)} exited; stopping", file=sys.stderr)
                code = 1
                break
    finally:
        for name in ("gateway", "workers", "broker"):
            proc = procs.get(name)
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=GRACE_S)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    return code

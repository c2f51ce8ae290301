"""``medialoom up``: broker, worker pool and gateway on this host, in one command.

Each part is its own process, started as ``python -m <module>`` with no
other argument: its settings (what ``up`` read from the file, MEDIALOOM_*
and its flags, and what it resolved, such as the library roots) travel as
MEDIALOOM_* environment variables, which every entry point reads through
medialoom/settings.py.  ``ps`` shows no setting and no secret; the gateway
reads its token from DATA_DIR/gateway-token or MEDIALOOM_GATEWAY_TOKEN.

With ``--curve`` (setting ``curve``) the broker's sockets take only CURVE keys
on its allow-lists; ``up`` makes what its own parts need when it is missing
(``keys init``, a key ``local`` of role client for the gateway and this host's
CLI, a key ``local-worker`` for the pool; DATA_DIR/keys, medialoom/keys.py) and
hands each part the path of its key file, never the key.

Ctrl-C or SIGTERM stops them all (SIGTERM,
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
from typing import Any

from medialoom import keys, settings
from medialoom.broker.__main__ import config_from
from medialoom.broker.config import BrokerConfig, broker_settings
from medialoom.certs import Curve
from medialoom.private import private_dir, private_umask
from medialoom.protocol.constants import DEFAULT_LISTEN

from .client import Client

GRACE_S = 8.0
#: the broker is restarted after a failure at most this often within the window
MAX_RESTARTS, RESTART_WINDOW_S = 5, 60.0


#: the command lines of the parts: nothing but the module
BROKER = (sys.executable, "-m", "medialoom.broker")
POOL = (sys.executable, "-m", "medialoom.workers")
GATEWAY = (sys.executable, "-m", "medialoom.clients.gateway")


def child_settings(args: argparse.Namespace, config: BrokerConfig) -> dict[str, Any]:
    """The settings every part gets: the broker's as resolved, the pool's and the gateway's."""
    s = settings.load(getattr(args, "config", None), {
        "processes": getattr(args, "processes", None), "slots": getattr(args, "slots", None),
        "gateway": getattr(args, "gateway", None),
        "gateway_hosts": getattr(args, "allow_host", None)})
    return {**broker_settings(config), "processes": s.get("processes") or os.cpu_count() or 1,
            "slots": s.get("slots"), "gateway": s.get("gateway") or DEFAULT_LISTEN,
            "gateway_hosts": s.get("gateway_hosts")}


def child_environ(args: argparse.Namespace, values: dict[str, Any]) -> dict[str, str]:
    """This environment with values as MEDIALOOM_* variables (and --config as MEDIALOOM_CONFIG,
    so each part reads the same file for what is not passed, such as webhooks)."""
    env = settings.child_environ(values)
    if getattr(args, "config", None):
        env["MEDIALOOM_CONFIG"] = os.path.abspath(args.config)
    return env


def local_keys(config: BrokerConfig) -> dict[str, dict[str, Any]]:
    """With CURVE on: the key settings of the pool and of the gateway (made when missing)."""
    if not config.curve:  # and a MEDIALOOM_KEY of this shell does not turn it on in a part
        off = {"curve": False, "key": "", "broker_key": ""}
        return {"workers": off, "gateway": off}
    store = keys.KeyStore(config.data_dir)
    client_key, worker_key = store.ensure_local()
    return {"workers": {"curve": True, "key": worker_key, "broker_key": store.broker_public},
            "gateway": {"curve": True, "key": client_key, "broker_key": store.broker_public}}


def _wait_for_broker(c: BrokerConfig, proc: subprocess.Popen[bytes], timeout_s: float,
                     curve: Curve | None = None) -> bool:
    deadline = time.monotonic() + timeout_s
    with Client(c.clients, c.events_out, timeout_s=0.5, curve=curve) as client:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                client.ping()
                return True
            except Exception:
                continue
    return False


def run_up(args: argparse.Namespace) -> int:
    """Start everything and supervise until a signal; see the module docstring."""
    try:
        config = config_from(args)
        values = child_settings(args, config)
        own = local_keys(config)
        curve = keys.client_curve(own["gateway"])
    except (ValueError, OSError) as exc:  # a broken settings file, variable or key file
        print(f"medialoom up: bad settings: {exc}", file=sys.stderr)
        return 2
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
    env = child_environ(args, values)
    pool_env = {**env, **settings.to_environ(own["workers"])}
    gateway_env = {**env, **settings.to_environ(own["gateway"])}
    try:
        procs["broker"] = subprocess.Popen(BROKER, env=env)
        if not _wait_for_broker(config, procs["broker"], 15.0, curve):
            print(f"medialoom up: the broker did not start on {config.clients}", file=sys.stderr)
            return 1
        n = values["processes"]
        procs["workers"] = subprocess.Popen(POOL, env=pool_env)
        gateway_line = ""
        if not args.no_gateway and importlib.util.find_spec("medialoom.clients.gateway"):
            procs["gateway"] = subprocess.Popen(GATEWAY, env=gateway_env)
            gateway_line = f"\n  web UI and API  http://{values['gateway']}/"
        curve_line = (f"\n  CURVE keys      {keys.KeyStore(config.data_dir).dir} (this host's "
                      "CLI: MEDIALOOM_CURVE=1; other hosts: medialoom keys add)"
                      if config.curve else "")
        print(f"medialoom is up: broker {config.clients}"
              f"{' (CURVE on)' if config.curve else ''}, {n} worker processes"
              f"{gateway_line}\n  library roots   {', '.join(config.roots)}{curve_line}"
              f"\n  store           {config.db_path}\nCtrl-C stops everything.", flush=True)
        restarts: list[float] = []
        while not stopping:
            time.sleep(0.2)  # resumed after a signal's handler ran (PEP 475)
            if stopping:
                break
            broker = procs["broker"]
            if broker.poll() not in (None, 0) and not stopping:
                # the broker stops with exit 1 when it cannot keep its promises (its store
                # writer died): start it again; workers and gateway reconnect by themselves
                restarts = [t for t in restarts if time.monotonic() - t < RESTART_WINDOW_S]
                if len(restarts) < MAX_RESTARTS:
                    restarts.append(time.monotonic())
                    print(f"medialoom up: the broker exited with {broker.returncode}; "
                          "starting it again", file=sys.stderr, flush=True)
                    procs["broker"] = subprocess.Popen(BROKER, env=env)
                    continue
            dead = [name for name, p in procs.items() if p.poll() is not None]
            if stopping:  # a signal to the whole group: the children stopped with us
                break
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

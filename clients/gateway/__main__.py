"""``python -m medialoom.clients.gateway`` (``medialoom gateway``): run the HTTP/WebSocket gateway.

    --listen HOST:PORT --endpoint CLIENTS --events EVENTS_OUT --data-dir DIR
    [--auth auto|always|never] [--allow-host NAME]... [--timeout S] [--config FILE]

The bearer token is never on the command line (``ps`` would show it): it is
MEDIALOOM_GATEWAY_TOKEN, else DATA_DIR/gateway-token (0600, generated on
first start).  Prints the URL, the served Host names and where the token is
kept — never the token.  Exit codes: 0 after a clean stop (SIGINT/SIGTERM),
1 if the address cannot be bound, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from aiohttp import web

from medialoom import keys, settings
from medialoom.protocol.constants import DEFAULT_CLIENTS, DEFAULT_EVENTS_OUT, DEFAULT_LISTEN, PORTS

from .app import create_app
from .auth import TOKEN_ENV, TOKEN_FILE, load_or_create_token, token_from_env
from .config import AUTH_MODES, GatewayConfig, parse_listen
from .security import HostPolicy
from .webhook_config import webhooks_config

RET_OK, RET_BIND, RET_USAGE = 0, 1, 2
log = logging.getLogger("medialoom.gateway")


def build_parser() -> argparse.ArgumentParser:
    """The gateway's flags."""
    p = argparse.ArgumentParser(prog="medialoom gateway", description=(
        "Serve the REST API, the WebSocket and the web UI in front of a medialoom broker. "
        f"The bearer token is read from ${TOKEN_ENV}, else from DATA_DIR/{TOKEN_FILE} "
        "(created with mode 0600 on first start); it is never taken from or printed on the "
        "command line. Exit codes: 0 stopped, 1 cannot bind, 2 bad usage."))
    p.add_argument("--listen", metavar="HOST:PORT",
                   help=f"address to listen on (default {DEFAULT_LISTEN}; port 0 picks one)")
    p.add_argument("--broker", metavar="HOST",
                   help=f"broker host (ports {PORTS['clients']} and {PORTS['events_out']})")
    p.add_argument("--endpoint", help=f"broker client endpoint (default {DEFAULT_CLIENTS})")
    p.add_argument("--events", help=f"broker events-out endpoint (default {DEFAULT_EVENTS_OUT})")
    p.add_argument("--data-dir", help=f"where {TOKEN_FILE} is kept")
    p.add_argument("--auth", choices=AUTH_MODES,
                   help="auto (default): token required unless listening on loopback")
    p.add_argument("--allow-host", action="append", metavar="NAME[:PORT]",
                   help="also answer requests for this Host name (a reverse proxy's or DNS "
                   "name; any port unless :PORT is given); repeat for several. Others get 403 "
                   "(DNS rebinding defence). Setting: gateway_hosts")
    p.add_argument("--timeout", type=float, default=5.0,
                   help="seconds to wait for the broker before answering 502")
    p.add_argument("--key", metavar="FILE", help="the gateway's CURVE key pair, role client "
                   "(MEDIALOOM_KEY): for a broker with CURVE on")
    p.add_argument("--broker-key", metavar="FILE", help="the broker's public key (default "
                   "DATA_DIR/keys/broker.key; MEDIALOOM_BROKER_KEY)")
    p.add_argument("--config", help="TOML settings file")
    p.add_argument("--log-level", default="INFO")
    return p


def config_from(args: argparse.Namespace) -> GatewayConfig:
    """GatewayConfig from file, environment and flags; the token is read or created here."""
    s = settings.load(args.config, {"gateway": args.listen, "host": args.broker,
                                    "clients": args.endpoint, "events_out": args.events,
                                    "data_dir": args.data_dir, "auth": args.auth,
                                    "gateway_hosts": args.allow_host, "key": args.key,
                                    "broker_key": args.broker_key})
    host, port = parse_listen(s.get("gateway") or DEFAULT_LISTEN)
    data_dir = os.path.expanduser(s.get("data_dir") or settings.default_data_dir())
    ep = settings.endpoints(s)
    token = token_from_env()
    if token:
        where = f"${TOKEN_ENV}"
    else:
        token, where = load_or_create_token(data_dir), os.path.join(data_dir, TOKEN_FILE)
    return GatewayConfig(host=host, port=port, endpoint=ep["clients"], events=ep["events_out"],
                         data_dir=data_dir, token=token, token_from=where,
                         auth=s.get("auth") or "auto", timeout_s=args.timeout,
                         allowed_hosts=tuple(s.get("gateway_hosts") or ()),
                         webhooks=webhooks_config(s.get("webhooks"), s.get("webhook_secret") or ""),
                         curve=keys.client_curve({**s, "data_dir": data_dir}))


def banner(config: GatewayConfig, port: int) -> str:
    """The start-up lines: URL, served hosts, whether a token is needed and where it is kept."""
    host = f"[{config.host}]" if ":" in config.host else config.host
    url = f"http://{host}:{port}/"
    where = config.token_from or os.path.join(config.data_dir, TOKEN_FILE)
    if config.auth_required:
        need = f"required (Authorization: Bearer); kept in {where}"
        hint = "  (the page asks for the token once)"
    else:
        why = "--auth never" if config.auth == "never" else "on loopback"
        need = f"not required {why}; kept in {where}"
        hint = ""
    hosts = ", ".join(HostPolicy(config).describe(port))
    return (f"medialoom gateway: {url}  (broker {config.endpoint}, events {config.events})\n"
            f"  token: {need}\n"
            f"  hosts: {hosts}  (--allow-host NAME adds one)\n"
            f"  webhooks: {url}api/v1/webhooks/sonarr and /radarr (password: the token"
            f"{' or webhooks.secret' if config.webhooks.secret else ''})\n"
            f"  open {url}{hint}")


async def serve(config: GatewayConfig, stop: asyncio.Event) -> None:
    """Run the gateway until stop is set."""
    runner = web.AppRunner(create_app(config), handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port, shutdown_timeout=5.0)
        await site.start()
        port = next((a[1] for a in runner.addresses if isinstance(a, tuple)), config.port)
        print(banner(config, port), flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


async def amain(config: GatewayConfig) -> None:
    """Serve until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await serve(config, stop)


def main(argv: list[str] | None = None) -> int:
    """Entry point; see the module docstring for the exit codes."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s gateway %(levelname)s %(message)s")
    try:
        config = config_from(args)
    except (ValueError, OSError) as exc:
        print(f"medialoom gateway: {exc}", file=sys.stderr)
        return RET_USAGE
    try:
        asyncio.run(amain(config))
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", config.host, config.port, exc)
        return RET_BIND
    return RET_OK


if __name__ == "__main__":
    sys.exit(main())

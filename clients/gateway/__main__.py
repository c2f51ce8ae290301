"""``python -m medialoom.clients.gateway`` (``medialoom gateway``): run the HTTP/WebSocket gateway.

    --listen HOST:PORT --endpoint CLIENTS --events EVENTS_OUT --data-dir DIR
    [--token TOKEN] [--auth auto|always|never] [--timeout S] [--config FILE]

Prints the URL and the bearer token at start.  Exit codes: 0 after a clean
stop (SIGINT/SIGTERM), 1 if the address cannot be bound, 2 bad usage.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from aiohttp import web

from medialoom import settings

from .app import create_app
from .auth import TOKEN_FILE, load_or_create_token
from .config import AUTH_MODES, DEFAULT_LISTEN, GatewayConfig, parse_listen

RET_OK, RET_BIND, RET_USAGE = 0, 1, 2
log = logging.getLogger("medialoom.gateway")


def build_parser() -> argparse.ArgumentParser:
    """The gateway's flags."""
    p = argparse.ArgumentParser(prog="medialoom gateway", description=(
        "Serve the REST API, the WebSocket and the web UI in front of a medialoom broker. "
        "Exit codes: 0 stopped, 1 cannot bind, 2 bad usage."))
    p.add_argument("--listen", metavar="HOST:PORT",
                   help=f"address to listen on (default {DEFAULT_LISTEN}; port 0 picks one)")
    p.add_argument("--broker", metavar="HOST", help="broker host (ports 5570 and 5573)")
    p.add_argument("--endpoint", help="broker client endpoint (default tcp://127.0.0.1:5570)")
    p.add_argument("--events", help="broker events-out endpoint (default tcp://127.0.0.1:5573)")
    p.add_argument("--data-dir", help="where gateway-token is kept")
    p.add_argument("--token", help="bearer token to require (default: DATA_DIR/gateway-token, "
                   "generated on first start)")
    p.add_argument("--auth", choices=AUTH_MODES,
                   help="auto (default): token required unless listening on loopback")
    p.add_argument("--timeout", type=float, default=5.0,
                   help="seconds to wait for the broker before answering 502")
    p.add_argument("--config", help="TOML settings file")
    p.add_argument("--log-level", default="INFO")
    return p


def config_from(args: argparse.Namespace) -> GatewayConfig:
    """GatewayConfig from file, environment and flags; the token is read or created here."""
    s = settings.load(args.config, {"gateway": args.listen, "host": args.broker,
                                    "clients": args.endpoint, "events_out": args.events,
                                    "data_dir": args.data_dir, "token": args.token,
                                    "auth": args.auth})
    host, port = parse_listen(s.get("gateway") or DEFAULT_LISTEN)
    data_dir = os.path.expanduser(s.get("data_dir") or settings.default_data_dir())
    ep = settings.endpoints(s)
    return GatewayConfig(host=host, port=port, endpoint=ep["clients"], events=ep["events_out"],
                         data_dir=data_dir, token=s.get("token") or load_or_create_token(data_dir),
                         auth=s.get("auth") or "auto", timeout_s=args.timeout)


async def serve(config: GatewayConfig, stop: asyncio.Event) -> None:
    """Run the gateway until stop is set."""
    runner = web.AppRunner(create_app(config), handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port, shutdown_timeout=5.0)
        await site.start()
        port = next((a[1] for a in runner.addresses if isinstance(a, tuple)), config.port)
        host = f"[{config.host}]" if ":" in config.host else config.host
        url = f"http://{host}:{port}/"
        need = "required" if config.auth_required else "not required on loopback"
        print(f"medialoom gateway: {url}  (broker {config.endpoint}, events {config.events})\n"
              f"  token: {config.token}  ({need}; kept in "
              f"{os.path.join(config.data_dir, TOKEN_FILE)})\n"
              f"  open {url}?token={config.token}", flush=True)
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
    except ValueError as exc:
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

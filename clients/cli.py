"""The ``medialoom`` command line.

Exit codes: 0 done, 1 job failed (or a process failed), 2 bad usage or a
refused request, 3 job cancelled, 4 cannot reach the broker.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from medialoom import settings
from medialoom.protocol.errors import BrokerUnavailable

from .client import AsyncClient, Client, ClientError

RET_OK, RET_FAILED, RET_USAGE, RET_CANCELLED, RET_UNREACHABLE = 0, 1, 2, 3, 4
EXIT_FOR_STATUS = {"completed": RET_OK, "failed": RET_FAILED, "cancelled": RET_CANCELLED}


def _client_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", metavar="HOST", help="broker host (ports 5570 and 5573)")
    p.add_argument("--endpoint", help="client endpoint (default tcp://127.0.0.1:5570)")
    p.add_argument("--events", help="events endpoint (default tcp://127.0.0.1:5573)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the broker")
    p.add_argument("--json", action="store_true", help="print one JSON document for scripts")
    p.add_argument("--config", help="TOML settings file")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used to print --help)."""
    from medialoom.broker.__main__ import add_arguments as broker_args

    p = argparse.ArgumentParser(prog="medialoom", description=(
        "Long batch jobs over media libraries. Exit codes: 0 done, 1 job failed, "
        "2 bad usage, 3 cancelled, 4 cannot reach the broker."))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="start broker, worker pool and gateway on this host")
    broker_args(up)
    up.add_argument("-n", "--processes", type=int, default=0, help="worker processes (CPUs)")
    up.add_argument("--slots", type=int, default=None, help="jobs per worker process")
    up.add_argument("--no-gateway", action="store_true", help="do not start the HTTP gateway")
    up.add_argument("--gateway", metavar="HOST:PORT", help="gateway address (127.0.0.1:8570)")
    up.add_argument("--allow-host", action="append", default=[], metavar="NAME[:PORT]",
                    help="another Host name the gateway answers (a reverse proxy's or DNS "
                    "name); repeat for several. Its token is DATA_DIR/gateway-token or "
                    "$MEDIALOOM_GATEWAY_TOKEN, never a flag")

    sub.add_parser("broker", help="run the broker", add_help=False)
    sub.add_parser("worker", help="run a worker pool", add_help=False)
    sub.add_parser("gateway", help="run the HTTP/WebSocket gateway", add_help=False)

    s = sub.add_parser("start", help="start a job: start KIND [PATH...]")
    s.add_argument("kind")
    s.add_argument("paths", nargs="*", metavar="PATH")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a job parameter; repeat for several")
    s.add_argument("--priority", default="normal", choices=("webhook", "high", "normal", "low"))
    s.add_argument("--dry-run", action="store_true", help="plan only, change nothing")
    s.add_argument("--allow-conflict", action="store_true",
                   help="start even if an active job covers the same paths")
    s.add_argument("--max-attempts", type=int, default=0)
    s.add_argument("--watch", action="store_true", help="show live progress until it ends")
    _client_args(s)

    for name, text in (("status", "show one job"), ("cancel", "cancel a job"),
                       ("clear", "delete a finished job"), ("wait", "wait for a job to end")):
        c = sub.add_parser(name, help=text)
        c.add_argument("id")
        _client_args(c)

    j = sub.add_parser("jobs", help="list jobs")
    j.add_argument("--status", action="append", default=[])
    j.add_argument("--kind", action="append", default=[])
    j.add_argument("--limit", type=int, default=50)
    j.add_argument("--offset", type=int, default=0)
    j.add_argument("--order", default="-created")
    _client_args(j)

    st = sub.add_parser("stats", help="counts, success rate, mean duration, workers")
    _client_args(st)

    r = sub.add_parser("results", help="item results of a job")
    r.add_argument("id")
    r.add_argument("--status", action="append", default=[])
    r.add_argument("--limit", type=int, default=100)
    r.add_argument("--offset", type=int, default=0)
    _client_args(r)

    pl = sub.add_parser("plan", help="planned file operations of a job (old -> new)")
    pl.add_argument("id")
    pl.add_argument("--status", action="append", default=[])
    pl.add_argument("--limit", type=int, default=100)
    pl.add_argument("--offset", type=int, default=0)
    _client_args(pl)

    rb = sub.add_parser("rollback", help="undo the file operations of a finished job")
    rb.add_argument("id")
    rb.add_argument("--watch", action="store_true", help="show live progress until it ends")
    _client_args(rb)

    w = sub.add_parser("watch", help="live progress of one job, or of all jobs")
    w.add_argument("id", nargs="?")
    _client_args(w)

    return p


def _endpoints(args: argparse.Namespace) -> tuple[str, str]:
    s = settings.load(args.config, {"host": args.broker, "clients": args.endpoint,
                                    "events_out": args.events})
    ep = settings.endpoints(s)
    return ep["clients"], ep["events_out"]


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _params(kind: str, pairs: list[str]) -> dict[str, Any]:
    from medialoom.workers.kinds import coerce_cli_value, load_kinds
    kinds = load_kinds()
    params: dict[str, Any] = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"medialoom: --set needs KEY=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        params[key] = coerce_cli_value(kinds[kind], key, value) if kind in kinds else value
    return params


async def _follow(client: AsyncClient, job_id: str | None, as_json: bool) -> int:
    from .render import live_progress
    if as_json:
        last = None
        async for job in client.watch(job_id):
            last = job
            print(json.dumps(job, ensure_ascii=False), flush=True)
    else:
        last = await live_progress(client.watch(job_id))
    if job_id and last is not None:
        final = await client.status(job_id)
        if not as_json:
            _show_final(final)
        return EXIT_FOR_STATUS.get(final["status"], RET_OK)
    return RET_OK


def _show_final(job: dict[str, Any]) -> None:
    from .render import console, progress_line
    style = {"completed": "green", "failed": "red", "cancelled": "magenta"}.get(job["status"], "")
    console.print(f"[{style}]{job['status']}[/] {job['kind']} {job['id']}: {progress_line(job)}")
    if job["error"]:
        console.print(f"[red]{job['error']['code']}: {job['error']['message']}[/]")


async def _run_async(args: argparse.Namespace) -> int:
    endpoint, events = _endpoints(args)
    async with AsyncClient(endpoint, events, args.timeout) as client:
        if args.command == "start":
            job = await client.start(args.kind, args.paths, _params(args.kind, args.set),
                                     priority=args.priority, dry_run=args.dry_run,
                                     allow_conflict=args.allow_conflict,
                                     max_attempts=args.max_attempts)
            if not args.watch:
                if args.json:
                    _print_json(job)
                else:
                    print(job["id"])
                return RET_OK
            if not args.json:
                print(f"started {job['kind']} job {job['id']}", file=sys.stderr)
            return await _follow(client, job["id"], args.json)
        if args.command == "rollback":
            target = await client.status(args.id)
            job = await client.start("rollback", target["paths"], {"job": args.id})
            if not args.watch:
                _print_json(job) if args.json else print(job["id"])
                return RET_OK
            return await _follow(client, job["id"], args.json)
        return await _follow(client, args.id, args.json)


def _run_sync(args: argparse.Namespace) -> int:
    from . import render
    endpoint, events = _endpoints(args)
    with Client(endpoint, events, args.timeout) as c:
        cmd = args.command
        if cmd in ("status", "cancel", "wait"):
            job = {"status": c.status, "cancel": c.cancel, "wait": c.wait}[cmd](args.id)
            if args.json:
                _print_json(job)
            elif cmd == "wait":
                _show_final(job)
            else:
                render.console.print(render.job_detail(job))
            return EXIT_FOR_STATUS.get(job["status"], RET_OK) if cmd == "wait" else RET_OK
        if cmd == "clear":
            data = {"cleared": c.clear(args.id)}
            _print_json(data) if args.json else print(f"cleared {args.id}")
        elif cmd == "jobs":
            data = c.list(args.status, args.kind, args.limit, args.offset, args.order)
            if args.json:
                _print_json(data)
            else:
                render.console.print(render.jobs_table(data["jobs"], data["total"]))
        elif cmd == "stats":
            data = c.stats()
            _print_json(data) if args.json else render.console.print(render.stats_table(data))
        elif cmd == "plan":
            data = c.plan(args.id, args.status, args.limit, args.offset)
            if args.json:
                _print_json(data)
            else:
                render.console.print(render.plan_table(data["ops"], data["total"]))
        elif cmd == "results":
            data = c.results(args.id, args.status, args.limit, args.offset)
            if args.json:
                _print_json(data)
            else:
                render.console.print(render.results_table(data["items"], data["total"]))
    return RET_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``medialoom``."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("broker", "worker", "gateway"):
        return _delegate(argv[0], argv[1:])
    args = build_parser().parse_args(argv)
    if args.command == "up":
        from .up import run_up
        return run_up(args)
    try:
        if args.command in ("start", "watch", "rollback"):
            return asyncio.run(_run_async(args))
        return _run_sync(args)
    except ClientError as exc:
        print(f"medialoom: {exc.code}: {exc.message}", file=sys.stderr)
        if args.json:
            _print_json({"error": exc.to_wire()})
        return RET_USAGE
    except BrokerUnavailable as exc:
        print(f"medialoom: {exc.message}", file=sys.stderr)
        return RET_UNREACHABLE
    except KeyboardInterrupt:
        return 130


def _delegate(command: str, argv: list[str]) -> int:
    if command == "broker":
        from medialoom.broker.__main__ import main as broker_main
        return broker_main(argv)
    if command == "worker":
        from medialoom.workers.__main__ import main as pool_main
        return pool_main(argv)
    from .gateway.__main__ import main as gateway_main
    return gateway_main(argv)


__all__ = ["main"]

"""The ``medialoom`` command line.

Exit codes: 0 done, 1 job failed (or a process failed), 2 bad usage or a
refused request, 3 job cancelled, 4 cannot reach the broker.

Wherever a job id is taken, any 6 or more characters from its start or its
end do (the tables and bars show the last 8); a full 26-character id is used
as is.  Read commands print one JSON document with ``--json``; the streaming
forms (``watch``, ``start --watch``, ``rollback --watch``) print NDJSON, one
JSON object per line per change.

This module only dispatches: the parser is cli_parser.py, the commands are
cli_stream.py (start, rollback, retry, watch) and cli_read.py (the others),
job ids cli_ids.py, kind specs and --set values cli_kinds.py, exit codes
cli_outcome.py; tables and progress are drawn by render_*.py.
"""

from __future__ import annotations

import asyncio
import sys

from medialoom.certs import KeyFileError
from medialoom.protocol.errors import BrokerUnavailable

from .cli_ids import resolve_args
from .cli_kinds import start_help_epilog
from .cli_outcome import RET_UNREACHABLE, RET_USAGE, print_json
from .cli_parser import build_parser, client_curve, endpoints
from .cli_read import run_read
from .cli_stream import STREAMING, run_streaming
from .client import ClientError


def _wants_start_help(argv: list[str]) -> bool:
    return bool(argv) and argv[0] == "start" and any(a in ("-h", "--help") for a in argv[1:])


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``medialoom``."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("broker", "worker", "gateway"):
        return _delegate(argv[0], argv[1:])
    epilog = start_help_epilog(argv) if _wants_start_help(argv) else None
    args = build_parser(epilog).parse_args(argv)
    if args.command == "up":
        from .up import run_up
        return run_up(args)
    if args.command == "keys":
        from .cli_keys import run_keys
        return run_keys(args)
    try:
        args.curve = client_curve(args)
    except (KeyFileError, ValueError) as exc:  # a broken key file or settings: named, exit 2
        print(f"medialoom: {exc}", file=sys.stderr)
        return RET_USAGE
    try:
        if args.command != "kinds":
            resolve_args(args, *endpoints(args))
        if args.command in STREAMING:
            return asyncio.run(run_streaming(args))
        return run_read(args)
    except ClientError as exc:
        print(f"medialoom: {exc.code}: {exc.message}", file=sys.stderr)
        if args.json:
            print_json({"error": exc.to_wire()})
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


__all__ = ["build_parser", "main"]

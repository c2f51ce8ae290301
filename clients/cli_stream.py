"""The streaming commands: ``start``, ``rollback``, ``retry`` and ``watch`` (asyncio client).

With ``--watch`` (and always for ``watch``) they follow the job: the live board
on a terminal, plain lines when piped, NDJSON with ``--json``; the exit code is
the job's (0 completed, 1 failed, 3 cancelled).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .cli_kinds import build_params, kind_specs, split_pairs
from .cli_outcome import EXIT_FOR_STATUS, RET_OK, print_json
from .cli_parser import endpoints
from .client import AsyncClient

STREAMING = ("watch", "start", "rollback", "retry")


async def follow(client: AsyncClient, job_id: str | None, as_json: bool) -> int:
    """Show a job's (None: every job's) progress until it ends; the job's exit code."""
    from .render_live import show_progress
    if as_json:
        last = None
        async for job in client.watch(job_id):
            last = job
            print(json.dumps(job, ensure_ascii=False, default=str), flush=True)
    else:
        last = await show_progress(client.watch(job_id), every_job=job_id is None)
    if job_id and last is not None:
        final = await client.status(job_id)
        if not as_json:
            show_final(final)
        return EXIT_FOR_STATUS.get(final["status"], RET_OK)
    return RET_OK


def show_final(job: dict[str, Any]) -> None:
    """How the job ended, one coloured line (and its error)."""
    from rich.text import Text

    from .render_formats import final_line
    from .render_tables import STATUS_STYLE, console
    line = Text(final_line(job))
    line.stylize(STATUS_STYLE.get(job["status"], ""), 0, len(job["status"]))
    console.print(line)
    if job["error"]:
        console.print(Text(f"{job['error']['code']}: {job['error']['message']}", style="red"))


async def _start(client: AsyncClient, args: argparse.Namespace) -> int:
    pairs = split_pairs(args.set)
    spec = None
    if pairs:  # types for the --set strings: the broker's spec, else the one installed here
        specs, _source = kind_specs(await client.hello(), client.endpoint)
        spec = specs.get(args.kind)
    job = await client.start(args.kind, args.paths, build_params(spec, pairs),
                             priority=args.priority, dry_run=args.dry_run,
                             allow_conflict=args.allow_conflict, max_attempts=args.max_attempts)
    if not args.watch:
        print_json(job) if args.json else print(job["id"])
        return RET_OK
    if not args.json:
        print(f"started {job['kind']} job {job['id']}", file=sys.stderr)
    return await follow(client, job["id"], args.json)


async def run_streaming(args: argparse.Namespace) -> int:
    """Run a streaming command; its exit code."""
    endpoint, events = endpoints(args)
    async with AsyncClient(endpoint, events, args.timeout, curve=args.curve) as client:
        if args.command == "start":
            return await _start(client, args)
        if args.command == "rollback":
            # rollback takes no paths (its spec): the broker knows the target job's
            job = await client.start("rollback", [], {"job": args.id})
            if not args.watch:
                print_json(job) if args.json else print(job["id"])
                return RET_OK
            return await follow(client, job["id"], args.json)
        if args.command == "retry":
            # the broker gathers the failed items' paths itself (START retry_of)
            job = await client.retry(args.id, priority=args.priority,
                                     max_attempts=args.max_attempts)
            if not args.watch:
                print_json(job) if args.json else print(job["id"])
                return RET_OK
            if not args.json:
                print(f"started {job['kind']} job {job['id']} over {len(job['paths'])} failed "
                      f"item(s) of {args.id}", file=sys.stderr)
            return await follow(client, job["id"], args.json)
        return await follow(client, args.id, args.json)

"""The request-reply commands: ``status``, ``cancel``, ``clear``, ``wait``, ``kinds``, ``jobs``,
``stats``, ``workers``, ``plan`` and ``results`` (blocking client).

A filter that matches nothing is checked before an empty table is shown: an
unknown kind or status exits 2 naming the valid ones.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from medialoom.protocol.constants import MAX_PAGE

from .cli_kinds import hello_or_none, kind_specs
from .cli_outcome import EXIT_FOR_STATUS, RET_OK, UsageError, print_json
from .cli_parser import ITEM_STATUSES, PLAN_STATUSES, endpoints
from .cli_stream import show_final
from .client import Client, ClientError

#: the progress counter that counts each outcome class
COUNTER_OF = {"ok": "succeeded", "skipped": "skipped", "failed": "failed"}


def _item_statuses(c: Client, job_id: str) -> tuple[set[str], dict[str, str], dict[str, Any]]:
    """(statuses medialoom and the job's kind know, their outcome classes, the job map)."""
    from medialoom.workers.specs import COMMON_OUTCOMES  # the outcome classes every kind has
    known = set(ITEM_STATUSES)
    outcomes = dict(COMMON_OUTCOMES)
    job = c.status(job_id)
    try:
        spec = (c.hello().get("specs") or {}).get(job["kind"]) or {}
    except ClientError:
        spec = {}
    declared = spec.get("outcomes") if isinstance(spec, dict) else None
    if isinstance(declared, dict):
        outcomes.update({str(k): str(v) for k, v in declared.items()})
    if isinstance(declared, dict | list):
        known |= set(declared)
    return known, outcomes, job


def _hint_outcome_class(c: Client, args: argparse.Namespace, outcomes: dict[str, str],
                        job: dict[str, Any]) -> None:
    """``--status failed`` found nothing though the job counts failed items: say which
    statuses they have (a dry-run rename's failures are ``conflict``), on stderr."""
    from .render_formats import short_id
    for wanted in args.status:
        counted = job["progress"].get(COUNTER_OF.get(wanted, ""), 0)
        if not counted:
            continue
        rows = c.results(args.id, [], MAX_PAGE, 0)["items"]
        others = sorted({r["status"] for r in rows if r["status"] != wanted
                         and outcomes.get(r["status"], "ok") == wanted})
        if others:
            print(f"medialoom: no item has status {wanted!r}; the job's {counted} items counted "
                  f"as {wanted} have status {', '.join(others)} (medialoom results "
                  f"{short_id(job['id'])} --status {','.join(others)})", file=sys.stderr)


def _refuse_unknown_statuses(c: Client, args: argparse.Namespace, known: set[str],
                             call: str) -> None:
    """results/plan --status S that matched nothing: exit 2 if S is no status medialoom knows.

    Any string may be a kind's status, so a status is accepted when it is a well-known
    one, when the kind's spec declares it, or when the job has rows with it.
    """
    unknown = [s for s in args.status if s not in known]
    if not unknown:
        return
    first = getattr(c, call)(args.id, [], MAX_PAGE, 0)
    present = sorted({row["status"] for row in first["items" if call == "results" else "ops"]})
    have = f"; this job's {'items' if call == 'results' else 'operations'} have: " \
           f"{', '.join(present)}" if present else ""
    what = "item" if call == "results" else "operation"
    raise UsageError(f"unknown {what} status {unknown[0]!r} (known: {', '.join(sorted(known))}"
                     f"{have})", details={"field": "status", "status": unknown[0]})


def _kinds(args: argparse.Namespace, endpoint: str, events: str) -> None:
    from . import render_tables as render
    hello = hello_or_none(endpoint, events, args.timeout, args.curve)
    specs, source = kind_specs(hello, endpoint)
    if hello is None:
        print(f"medialoom: the broker at {endpoint} did not answer; these are the kinds "
              "installed here", file=sys.stderr)
    if args.json:
        print_json({"source": "broker" if hello is not None else "local",
                     "endpoint": endpoint, "kinds": specs})
    else:
        render.console.print(render.kinds_table(specs, source))


def _jobs(c: Client, args: argparse.Namespace) -> None:
    from . import render_tables as render
    data = c.list(args.status, args.kind, args.limit, args.offset, args.order)
    if not data["total"] and args.kind:  # nothing: a typo'd kind is refused, not an empty table
        kinds = set(c.hello().get("kinds") or ())
        if kinds and not set(args.kind) <= kinds:
            bad = sorted(set(args.kind) - kinds)[0]
            raise UsageError(f"unknown kind {bad!r} (the broker runs: "
                             f"{', '.join(sorted(kinds))})", details={"field": "kind"})
    if args.json:
        print_json(data)
    else:
        render.console.print(render.jobs_table(data["jobs"], data["total"]))


def run_read(args: argparse.Namespace) -> int:
    """Run a request-reply command; its exit code (wait: the job's)."""
    from . import render_tables as render
    endpoint, events = endpoints(args)
    with Client(endpoint, events, args.timeout, curve=args.curve) as c:
        cmd = args.command
        if cmd in ("status", "cancel", "wait"):
            job = {"status": c.status, "cancel": c.cancel, "wait": c.wait}[cmd](args.id)
            if args.json:
                print_json(job)
            elif cmd == "wait":
                show_final(job)
            else:
                render.console.print(render.job_detail(job))
            return EXIT_FOR_STATUS.get(job["status"], RET_OK) if cmd == "wait" else RET_OK
        if cmd == "clear":
            data = {"cleared": c.clear(args.id)}
            print_json(data) if args.json else print(f"cleared {args.id}")
        elif cmd == "kinds":
            _kinds(args, endpoint, events)
        elif cmd == "jobs":
            _jobs(c, args)
        elif cmd == "stats":
            data = c.stats()
            print_json(data) if args.json else render.console.print(render.stats_table(data))
        elif cmd == "workers":
            from .render_workers import workers_table
            stats = c.stats()
            data = {"workers": stats["workers"], "waiting": stats.get("waiting", 0)}
            print_json(data) if args.json else render.console.print(
                workers_table(data["workers"], data["waiting"]))
        elif cmd == "plan":
            data = c.plan(args.id, args.status, args.limit, args.offset)
            if args.status and not data["total"]:
                _refuse_unknown_statuses(c, args, set(PLAN_STATUSES), "plan")
            if args.json:
                print_json(data)
            else:
                render.console.print(render.plan_table(data["ops"], data["total"]))
        elif cmd == "results":
            data = c.results(args.id, args.status, args.limit, args.offset)
            if args.status and not data["total"]:
                known, outcomes, job = _item_statuses(c, args.id)
                _refuse_unknown_statuses(c, args, known, "results")
                _hint_outcome_class(c, args, outcomes, job)
            if args.json:
                print_json(data)
            else:
                render.console.print(render.results_table(data["items"], data["total"]))
    return RET_OK

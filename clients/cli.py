"""The ``medialoom`` command line.

Exit codes: 0 done, 1 job failed (or a process failed), 2 bad usage or a
refused request, 3 job cancelled, 4 cannot reach the broker.

Wherever a job id is taken, any 6 or more characters from its start or its
end do (the tables and bars show the last 8); a full 26-character id is used
as is.  Read commands print one JSON document with ``--json``; the streaming
forms (``watch``, ``start --watch``, ``rollback --watch``) print NDJSON, one
JSON object per line per change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
import textwrap
from typing import Any

from medialoom import settings
from medialoom.protocol.constants import (
    DEFAULT_CLIENTS,
    DEFAULT_EVENTS_OUT,
    DEFAULT_LIST_LIMIT,
    DEFAULT_LISTEN,
    DEFAULT_PAGE_LIMIT,
    DEFAULT_PRIORITY,
    JOB_STATUSES,
    MAX_PAGE,
    PORTS,
    PRIORITIES,
)
from medialoom.protocol.errors import BrokerUnavailable

from .client import AsyncClient, Client, ClientError

RET_OK, RET_FAILED, RET_USAGE, RET_CANCELLED, RET_UNREACHABLE = 0, 1, 2, 3, 4
EXIT_FOR_STATUS = {"completed": RET_OK, "failed": RET_FAILED, "cancelled": RET_CANCELLED}
ORDERS = ("created", "-created", "updated", "-updated", "priority", "-priority", "status",
          "-status", "kind", "-kind", "finished", "-finished")
#: item statuses medialoom's kinds report (SPEC 6.4); a kind's spec may declare more
ITEM_STATUSES = ("ok", "failed", "error", "conflict", "timeout", "skipped", "vanished",
                 "unchanged", "renamed", "moved", "quarantined", "restored", "hardlinked",
                 "removed", "created", "planned", "duplicate")
#: statuses of planned operations (SPEC 8)
PLAN_STATUSES = ("planned", "conflict", "skipped")
ID_LEN, MIN_ID_CHARS = 26, 6
_CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
STREAMING = ("watch", "start", "rollback", "retry")


class UsageError(ClientError):
    """Bad usage the CLI itself finds (exit 2), reported like a refused request."""

    code = "cli.usage"


# --- the parser -----------------------------------------------------------------------------


def _client_args(p: argparse.ArgumentParser, json_help: str | None = None) -> None:
    p.add_argument("--broker", metavar="HOST", help=f"broker host (ports {PORTS['clients']} and {PORTS['events_out']})")
    p.add_argument("--endpoint", help=f"client endpoint (default {DEFAULT_CLIENTS})")
    p.add_argument("--events", help=f"events endpoint (default {DEFAULT_EVENTS_OUT})")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the broker")
    p.add_argument("--json", action="store_true",
                   help=json_help or "print one JSON document (for scripts)")
    p.add_argument("--config", help="TOML settings file")


def _status_list(valid: tuple[str, ...] | None, what: str):  # noqa: ANN202
    """An argparse type: one status or a comma list of them, checked against valid."""
    def parse(text: str) -> list[str]:
        out = [s.strip() for s in text.split(",") if s.strip()]
        bad = [s for s in out if valid is not None and s not in valid]
        if bad or not out:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {(bad or [text])[0]!r} (one of: {', '.join(valid or ())})")
        return out
    parse.__name__ = what
    return parse


_NDJSON = ("with --watch: stream NDJSON, one JSON object per line per change; "
           "without: print the new job as one JSON document")


def build_parser(start_epilog: str | None = None) -> argparse.ArgumentParser:
    """The full argument parser; start_epilog (the kinds and their params) ends start --help."""
    from medialoom.broker.__main__ import add_arguments as broker_args

    p = argparse.ArgumentParser(prog="medialoom", description=(
        "Long batch jobs over media libraries. Exit codes: 0 done, 1 job failed, "
        "2 bad usage or a refused request, 3 cancelled, 4 cannot reach the broker. "
        "A job id may be given as any 6+ characters from its start or end."))
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = sub.add_parser("up", help="start broker, worker pool and gateway on this host")
    broker_args(up)
    up.add_argument("-n", "--processes", type=int, default=0, help="worker processes (CPUs)")
    up.add_argument("--slots", type=int, default=None, help="jobs per worker process")
    up.add_argument("--no-gateway", action="store_true", help="do not start the HTTP gateway")
    up.add_argument("--gateway", metavar="HOST:PORT", help=f"gateway address ({DEFAULT_LISTEN})")
    up.add_argument("--allow-host", action="append", default=[], metavar="NAME[:PORT]",
                    help="another Host name the gateway answers (a reverse proxy's or DNS "
                    "name); repeat for several. Its token is DATA_DIR/gateway-token or "
                    "$MEDIALOOM_GATEWAY_TOKEN, never a flag")

    sub.add_parser("broker", help="run the broker", add_help=False)
    sub.add_parser("worker", help="run a worker pool", add_help=False)
    sub.add_parser("gateway", help="run the HTTP/WebSocket gateway", add_help=False)

    s = sub.add_parser("start", help="start a job: start KIND [PATH...] (kinds: start --help)",
                       epilog=start_epilog or "medialoom kinds (or start --help with the "
                       "broker running) lists the kinds and their params.",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("kind", help="the job kind (listed below)")
    s.add_argument("paths", nargs="*", metavar="PATH")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="a job parameter; repeat for several (lists: comma-separated or "
                   "JSON; maps: JSON)")
    s.add_argument("--priority", default=DEFAULT_PRIORITY, choices=PRIORITIES)
    s.add_argument("--dry-run", action="store_true", help="plan only, change nothing")
    s.add_argument("--allow-conflict", action="store_true",
                   help="start even if an active job covers the same paths")
    s.add_argument("--max-attempts", type=int, default=0)
    s.add_argument("--watch", action="store_true", help="show live progress until it ends "
                   "(plain lines, about one a second, when stdout is not a terminal)")
    _client_args(s, _NDJSON)

    k = sub.add_parser("kinds", help="the job kinds the broker runs, with their params")
    _client_args(k)

    for name, text in (("status", "show one job"), ("cancel", "cancel a job"),
                       ("clear", "delete a finished job"), ("wait", "wait for a job to end")):
        c = sub.add_parser(name, help=text)
        c.add_argument("id", help="job id, or 6+ characters from its start or end")
        _client_args(c)

    j = sub.add_parser("jobs", help="list jobs")
    j.add_argument("--status", action="extend", default=[],
                   type=_status_list(JOB_STATUSES, "status"),
                   help=f"only these statuses ({', '.join(JOB_STATUSES)}); repeat or "
                   "comma-separate")
    j.add_argument("--kind", action="append", default=[], help="only this kind; repeat")
    j.add_argument("--limit", type=int, default=DEFAULT_LIST_LIMIT)
    j.add_argument("--offset", type=int, default=0)
    j.add_argument("--order", default="-created", choices=ORDERS, metavar="ORDER",
                   help=f"one of {', '.join(ORDERS)} (default -created: newest first)")
    _client_args(j)

    st = sub.add_parser("stats", help="job and item counts, success rates, mean duration, "
                        "workers")
    _client_args(st)

    r = sub.add_parser("results", help="item results of a job")
    r.add_argument("id", help="job id, or 6+ characters from its start or end")
    r.add_argument("--status", action="extend", default=[], type=_status_list(None, "status"),
                   help="only items with these statuses (e.g. failed, skipped, conflict, "
                   "renamed; the kind's own statuses too); repeat or comma-separate")
    r.add_argument("--limit", type=int, default=DEFAULT_PAGE_LIMIT)
    r.add_argument("--offset", type=int, default=0)
    _client_args(r)

    pl = sub.add_parser("plan", help="planned file operations of a job (old -> new)")
    pl.add_argument("id", help="job id, or 6+ characters from its start or end")
    pl.add_argument("--status", action="extend", default=[], type=_status_list(None, "status"),
                    help=f"only operations with these statuses ({', '.join(PLAN_STATUSES)})")
    pl.add_argument("--limit", type=int, default=DEFAULT_PAGE_LIMIT)
    pl.add_argument("--offset", type=int, default=0)
    _client_args(pl)

    rb = sub.add_parser("rollback", help="undo the file operations of a finished job")
    rb.add_argument("id", help="job id, or 6+ characters from its start or end")
    rb.add_argument("--watch", action="store_true", help="show live progress until it ends")
    _client_args(rb, _NDJSON)

    rt = sub.add_parser("retry", help="a new job over only the failed items of a finished job")
    rt.add_argument("id", help="job id, or 6+ characters from its start or end")
    rt.add_argument("--priority", default=DEFAULT_PRIORITY, choices=PRIORITIES)
    rt.add_argument("--max-attempts", type=int, default=0)
    rt.add_argument("--watch", action="store_true", help="show live progress until it ends")
    _client_args(rt, _NDJSON)
    rt.epilog = ("Same kind and params as the job, over the items whose status counts as "
                 "failed; the new job's retry_of names the job. Exit 2 with "
                 "job.nothing_to_retry when it has none.")

    w = sub.add_parser("watch", help="live progress of one job, or of all jobs")
    w.add_argument("id", nargs="?", help="job id, or 6+ characters from its start or end "
                   "(none: every job, until Ctrl-C)")
    _client_args(w, "stream NDJSON: one JSON object (a job map) per line per change")
    w.epilog = ("On a terminal: a live progress board. Piped: one plain line per change of "
                "each job, at most about one a second per job.")

    return p


def _endpoints(args: argparse.Namespace) -> tuple[str, str]:
    s = settings.load(args.config, {"host": args.broker, "clients": args.endpoint,
                                    "events_out": args.events})
    ep = settings.endpoints(s)
    return ep["clients"], ep["events_out"]


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False, default=str))


# --- kind specs -----------------------------------------------------------------------------


_PY_TYPES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "map"}


def normalize_spec(name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """A spec map (HELLO's, or one built here) with params as a list of maps with a name."""
    spec = dict(raw)
    spec.setdefault("name", name)
    params = spec.get("params") or []
    if isinstance(params, dict):
        params = [{"name": n, **(p if isinstance(p, dict) else {})} for n, p in params.items()]
    out = []
    for p in params:
        if not isinstance(p, dict) or "name" not in p:
            continue
        p = dict(p)
        if isinstance(p.get("type"), list):
            p["type"] = "|".join(map(str, p["type"]))
        p.setdefault("required", "default" not in p)
        out.append(p)
    spec["params"] = out
    return spec


def _spec_of_kind(kind: Any) -> dict[str, Any]:
    """The spec map of a locally installed kind (a Kind with a spec, or the older shape)."""
    spec = getattr(kind, "spec", None)
    if spec is not None and hasattr(spec, "to_map"):
        return normalize_spec(kind.name, spec.to_map())
    params = []
    for pname, param in getattr(kind, "params", {}).items():
        types = getattr(param, "types", ())
        p: dict[str, Any] = {"name": pname,
                             "type": "float" if float in types else
                             _PY_TYPES.get(types[0], "str") if types else "str",
                             "description": getattr(param, "help", "")}
        default = getattr(param, "default", None)
        if type(default).__name__ == "object":  # the REQUIRED sentinel
            p["required"] = True
        else:
            p["default"] = default
        params.append(p)
    return normalize_spec(kind.name, {"description": getattr(kind, "description", ""),
                                      "needs_paths": getattr(kind, "needs_paths", True),
                                      "changes_files": getattr(kind, "changes_files", False),
                                      "params": params})


def local_specs() -> dict[str, dict[str, Any]]:
    """The specs of the kinds installed here (imports the kinds: help and fallbacks only)."""
    from medialoom.workers.kinds import load_kinds
    return {name: _spec_of_kind(kind) for name, kind in load_kinds().items()}


def kind_specs(hello: dict[str, Any] | None, endpoint: str
               ) -> tuple[dict[str, dict[str, Any]], str]:
    """(specs by kind name, where they came from) from a HELLO reply (None: no broker).

    HELLO's ``specs`` when it has them; else HELLO's kind names with the specs
    installed here; else (no broker) the kinds installed here.
    """
    if hello is not None and isinstance(hello.get("specs"), dict) and hello["specs"]:
        return ({n: normalize_spec(n, s) for n, s in hello["specs"].items()
                 if isinstance(s, dict)}, f"from the broker at {endpoint}")
    local = local_specs()
    if hello is None:
        return local, f"installed here; the broker at {endpoint} did not answer"
    names = hello.get("kinds") or sorted(local)
    return ({n: local.get(n) or {"name": n, "params": [], "description":
                                 "(a worker runs it; no spec installed here)"}
             for n in names}, f"the broker's kinds at {endpoint}, params as installed here")


def _hello_or_none(endpoint: str, events: str, timeout_s: float) -> dict[str, Any] | None:
    try:
        with Client(endpoint, events, timeout_s) as c:
            return c.hello()
    except (BrokerUnavailable, ClientError):
        return None


def _param_line(p: dict[str, Any]) -> str:
    from .render import _show
    parts = []
    if p.get("required"):
        parts.append("required")
    elif "default" in p:
        parts.append(f"default {_show(p['default'])}")
    if p.get("choices"):
        parts.append("one of " + ", ".join(map(str, p["choices"])))
    lo, hi = p.get("min"), p.get("max")
    if lo is not None or hi is not None:
        parts.append(f"range {'' if lo is None else lo}..{'' if hi is None else hi}")
    if p.get("description"):
        parts.append(p["description"])
    return "; ".join(parts)


def kinds_help(specs: dict[str, dict[str, Any]], source: str, width: int,
               only: str | None = None) -> str:
    """The kinds and their params as plain text (the end of ``start --help``)."""
    width = max(40, width - 2)
    names = [only] if only in specs else sorted(specs)
    lines = [textwrap.fill(f"job kinds ({source}); set params with --set NAME=VALUE:", width),
             ""]
    for name in names:
        spec = specs[name]
        notes = []
        if spec.get("needs_paths") is False:
            notes.append("takes no paths")
        if spec.get("changes_files"):
            notes.append("changes files: --dry-run plans only, rollback undoes")
        text = " — ".join(x for x in (spec.get("description"), "; ".join(notes)) if x)
        lines.append(textwrap.fill(f"{name}: {text}" if text else name, width,
                                   initial_indent="  ", subsequent_indent="    "))
        for p in spec.get("params", []):
            head = f"    {p['name']}={(p.get('type') or 'str').upper()}"
            body = _param_line(p)
            if len(head) >= 27:
                lines.append(head)
                head = ""
            lines.append(textwrap.fill(body, width, initial_indent=head.ljust(28),
                                       subsequent_indent=" " * 28) if body else head)
        lines.append("")
    if only is None:
        lines.append(textwrap.fill("medialoom kinds shows the same as a table (--json for "
                                   "scripts); medialoom start KIND --help shows one kind.",
                                   width))
    return "\n".join(lines)


def _start_help_epilog(argv: list[str]) -> str:
    """The kinds part of ``start --help``: from the broker's HELLO, else as installed here."""
    pre = argparse.ArgumentParser(add_help=False)
    _client_args(pre)
    for flag in ("--set", "--priority", "--max-attempts"):
        pre.add_argument(flag, action="append")
    ns, rest = pre.parse_known_args(argv)
    positional = [a for a in rest if not a.startswith("-")]
    only = positional[1] if len(positional) > 1 else None
    try:
        endpoint, events = _endpoints(ns)
    except Exception:  # a broken config file: show the kinds installed here
        endpoint, events = DEFAULT_CLIENTS, DEFAULT_EVENTS_OUT
    hello = _hello_or_none(endpoint, events, min(ns.timeout, 1.0))
    specs, source = kind_specs(hello, endpoint)
    return kinds_help(specs, source, shutil.get_terminal_size().columns, only)


# --- --set values ---------------------------------------------------------------------------


def split_pairs(pairs: list[str]) -> list[tuple[str, str]]:
    """--set KEY=VALUE pairs; UsageError for one without '=' or without a key."""
    out = []
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"--set needs KEY=VALUE, got {pair!r} (e.g. --set {key or 'name'}"
                             f"=VALUE; medialoom start --help lists the params)")
        out.append((key.strip(), value))
    return out


def coerce(param: dict[str, Any] | None, text: str) -> Any:
    """A --set string as the param's type (from its spec); the string itself if it fits none.

    A value that fits no type goes to the broker as a string, which refuses it
    with job.bad_params naming the field.
    """
    if param is None:
        return text
    for t in re.split(r"[|,\s]+", str(param.get("type") or "str").lower()):
        try:
            if t in ("bool", "boolean"):
                if text.lower() in ("1", "true", "yes", "on"):
                    return True
                if text.lower() in ("0", "false", "no", "off"):
                    return False
            elif t in ("int", "integer", "uint"):
                return int(text.replace("_", ""))
            elif t in ("float", "number"):
                return float(text.replace("_", ""))
            elif t in ("list", "array"):
                if text.lstrip().startswith("["):
                    value = json.loads(text)
                    if isinstance(value, list):
                        return value
                    continue
                return [part.strip() for part in text.split(",") if part.strip()]
            elif t in ("map", "dict", "object"):
                value = json.loads(text)
                if isinstance(value, dict):
                    return value
            else:
                return text
        except ValueError:  # json.JSONDecodeError is a ValueError too
            continue
    return text


def build_params(spec: dict[str, Any] | None, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The params map of a START from --set pairs and the kind's spec (None: strings)."""
    by_name = {p["name"]: p for p in (spec or {}).get("params", [])}
    return {key: coerce(by_name.get(key), value) for key, value in pairs}


# --- job ids --------------------------------------------------------------------------------


def resolve_id(c: Client, text: str) -> str:
    """The full id of the one job whose id starts or ends with text (6+ characters).

    A 26-character id is used as is, without a lookup.  Otherwise every job is
    paged through with LIST; no match is job.not_found and more than one is
    job.ambiguous (listing the candidates), both exit 2.
    """
    if len(text) >= ID_LEN:
        return text
    frag = text.strip().upper()
    if len(frag) < MIN_ID_CHARS or not set(frag) <= _CROCKFORD:
        raise UsageError(f"{text!r} is not a job id: give the 26-character id or at least "
                         f"{MIN_ID_CHARS} characters from its start or end (as the tables "
                         f"show them)", details={"field": "job"})
    matches: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = c.list(limit=MAX_PAGE, offset=offset, order="created")
        jobs = page["jobs"]
        matches += [j for j in jobs if j["id"].startswith(frag) or j["id"].endswith(frag)]
        offset += len(jobs)
        if not jobs or offset >= page["total"]:
            break
    if len(matches) == 1:
        return matches[0]["id"]
    if not matches:
        raise ClientError(f"no job id starts or ends with {text!r}", code="job.not_found",
                          details={"field": "job", "job": text})
    shown = "; ".join(f"{j['id']} ({j['kind']}, {j['status']})" for j in matches[:10])
    more = f"; and {len(matches) - 10} more" if len(matches) > 10 else ""
    raise ClientError(f"{text!r} matches {len(matches)} jobs: {shown}{more}; give more "
                      f"characters", code="job.ambiguous",
                      details={"field": "job", "job": text,
                               "candidates": [j["id"] for j in matches]})


def _resolve_args(args: argparse.Namespace, endpoint: str, events: str) -> None:
    """Replace a short job id on the command line (and in a rollback's --set) with the full one."""
    needs = getattr(args, "id", None) and len(args.id) < ID_LEN
    target = None
    if args.command == "start":
        for i, pair in enumerate(args.set):
            key, _eq, value = pair.partition("=")
            if args.kind == "rollback" and key.strip() == "job" and 0 < len(value) < ID_LEN:
                target = i
    if not needs and target is None:
        return
    with Client(endpoint, events, args.timeout) as c:
        if needs:
            args.id = resolve_id(c, args.id)
        if target is not None:
            args.set[target] = "job=" + resolve_id(c, args.set[target].partition("=")[2])


# --- commands -------------------------------------------------------------------------------


async def _follow(client: AsyncClient, job_id: str | None, as_json: bool) -> int:
    from .render import show_progress
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
            _show_final(final)
        return EXIT_FOR_STATUS.get(final["status"], RET_OK)
    return RET_OK


def _show_final(job: dict[str, Any]) -> None:
    from rich.text import Text

    from .render import STATUS_STYLE, console, final_line
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
        _print_json(job) if args.json else print(job["id"])
        return RET_OK
    if not args.json:
        print(f"started {job['kind']} job {job['id']}", file=sys.stderr)
    return await _follow(client, job["id"], args.json)


async def _run_async(args: argparse.Namespace) -> int:
    endpoint, events = _endpoints(args)
    async with AsyncClient(endpoint, events, args.timeout) as client:
        if args.command == "start":
            return await _start(client, args)
        if args.command == "rollback":
            # rollback takes no paths (its spec): the broker knows the target job's
            job = await client.start("rollback", [], {"job": args.id})
            if not args.watch:
                _print_json(job) if args.json else print(job["id"])
                return RET_OK
            return await _follow(client, job["id"], args.json)
        if args.command == "retry":
            # the broker gathers the failed items' paths itself (START retry_of)
            job = await client.retry(args.id, priority=args.priority,
                                     max_attempts=args.max_attempts)
            if not args.watch:
                _print_json(job) if args.json else print(job["id"])
                return RET_OK
            if not args.json:
                print(f"started {job['kind']} job {job['id']} over {len(job['paths'])} failed "
                      f"item(s) of {args.id}", file=sys.stderr)
            return await _follow(client, job["id"], args.json)
        return await _follow(client, args.id, args.json)


#: outcome classes of the statuses every kind may report (SPEC 6.4)
COMMON_OUTCOMES = {"ok": "ok", "skipped": "skipped", "vanished": "skipped", "failed": "failed",
                   "error": "failed", "conflict": "failed", "timeout": "failed"}
COUNTER_OF = {"ok": "succeeded", "skipped": "skipped", "failed": "failed"}


def _item_statuses(c: Client, job_id: str) -> tuple[set[str], dict[str, str], dict[str, Any]]:
    """(statuses medialoom and the job's kind know, their outcome classes, the job map)."""
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
    from .render import short_id
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
    from . import render
    hello = _hello_or_none(endpoint, events, args.timeout)
    specs, source = kind_specs(hello, endpoint)
    if hello is None:
        print(f"medialoom: the broker at {endpoint} did not answer; these are the kinds "
              "installed here", file=sys.stderr)
    if args.json:
        _print_json({"source": "broker" if hello is not None else "local",
                     "endpoint": endpoint, "kinds": specs})
    else:
        render.console.print(render.kinds_table(specs, source))


def _jobs(c: Client, args: argparse.Namespace) -> None:
    from . import render
    data = c.list(args.status, args.kind, args.limit, args.offset, args.order)
    if not data["total"] and args.kind:  # nothing: a typo'd kind is refused, not an empty table
        kinds = set(c.hello().get("kinds") or ())
        if kinds and not set(args.kind) <= kinds:
            bad = sorted(set(args.kind) - kinds)[0]
            raise UsageError(f"unknown kind {bad!r} (the broker runs: "
                             f"{', '.join(sorted(kinds))})", details={"field": "kind"})
    if args.json:
        _print_json(data)
    else:
        render.console.print(render.jobs_table(data["jobs"], data["total"]))


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
        elif cmd == "kinds":
            _kinds(args, endpoint, events)
        elif cmd == "jobs":
            _jobs(c, args)
        elif cmd == "stats":
            data = c.stats()
            _print_json(data) if args.json else render.console.print(render.stats_table(data))
        elif cmd == "plan":
            data = c.plan(args.id, args.status, args.limit, args.offset)
            if args.status and not data["total"]:
                _refuse_unknown_statuses(c, args, set(PLAN_STATUSES), "plan")
            if args.json:
                _print_json(data)
            else:
                render.console.print(render.plan_table(data["ops"], data["total"]))
        elif cmd == "results":
            data = c.results(args.id, args.status, args.limit, args.offset)
            if args.status and not data["total"]:
                known, outcomes, job = _item_statuses(c, args.id)
                _refuse_unknown_statuses(c, args, known, "results")
                _hint_outcome_class(c, args, outcomes, job)
            if args.json:
                _print_json(data)
            else:
                render.console.print(render.results_table(data["items"], data["total"]))
    return RET_OK


def _wants_start_help(argv: list[str]) -> bool:
    return bool(argv) and argv[0] == "start" and any(a in ("-h", "--help") for a in argv[1:])


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``medialoom``."""
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("broker", "worker", "gateway"):
        return _delegate(argv[0], argv[1:])
    epilog = _start_help_epilog(argv) if _wants_start_help(argv) else None
    args = build_parser(epilog).parse_args(argv)
    if args.command == "up":
        from .up import run_up
        return run_up(args)
    try:
        if args.command != "kinds":
            _resolve_args(args, *_endpoints(args))
        if args.command in STREAMING:
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


__all__ = ["coerce", "kind_specs", "kinds_help", "main", "resolve_id", "split_pairs"]

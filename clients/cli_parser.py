"""The ``medialoom`` argument parser: every command, its flags and its help text."""

from __future__ import annotations

import argparse

from medialoom import keys, settings
from medialoom.certs import Curve
from medialoom.protocol.constants import (
    DEFAULT_CLIENTS,
    DEFAULT_EVENTS_OUT,
    DEFAULT_LIST_LIMIT,
    DEFAULT_LISTEN,
    DEFAULT_PAGE_LIMIT,
    DEFAULT_PRIORITY,
    JOB_STATUSES,
    PORTS,
    PRIORITIES,
)

ORDERS = ("created", "-created", "updated", "-updated", "priority", "-priority", "status",
          "-status", "kind", "-kind", "finished", "-finished")
#: item statuses medialoom's kinds report (SPEC 6.4); a kind's spec may declare more
ITEM_STATUSES = ("ok", "failed", "error", "conflict", "timeout", "skipped", "vanished",
                 "unchanged", "renamed", "moved", "quarantined", "restored", "hardlinked",
                 "removed", "created", "planned", "duplicate")
#: statuses of planned operations (SPEC 8)
PLAN_STATUSES = ("planned", "conflict", "skipped")


def client_args(p: argparse.ArgumentParser, json_help: str | None = None) -> None:
    """The flags every client command takes: where the broker is, --timeout, --json."""
    p.add_argument("--broker", metavar="HOST", help=f"broker host (ports {PORTS['clients']} and {PORTS['events_out']})")
    p.add_argument("--endpoint", help=f"client endpoint (default {DEFAULT_CLIENTS})")
    p.add_argument("--events", help=f"events endpoint (default {DEFAULT_EVENTS_OUT})")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the broker")
    p.add_argument("--json", action="store_true",
                   help=json_help or "print one JSON document (for scripts)")
    p.add_argument("--config", help="TOML settings file")
    p.add_argument("--key", metavar="FILE", help="this client's CURVE key pair (NAME.key_secret; "
                   "MEDIALOOM_KEY): for a broker with CURVE on")
    p.add_argument("--broker-key", metavar="FILE", help="the broker's public key (default "
                   "DATA_DIR/keys/broker.key; MEDIALOOM_BROKER_KEY)")


def status_list(valid: tuple[str, ...] | None, what: str):  # noqa: ANN202
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
    up.add_argument("-n", "--processes", type=int, default=None,
                    help="worker processes (CPUs)")
    up.add_argument("--slots", type=int, default=None, help="jobs per worker process")
    up.add_argument("--no-gateway", action="store_true", help="do not start the HTTP gateway")
    up.add_argument("--gateway", metavar="HOST:PORT", help=f"gateway address ({DEFAULT_LISTEN})")
    up.add_argument("--allow-host", action="append", default=[], metavar="NAME[:PORT]",
                    help="another Host name the gateway answers (a reverse proxy's or DNS "
                    "name); repeat for several. Its token is DATA_DIR/gateway-token or "
                    "$MEDIALOOM_GATEWAY_TOKEN, never a flag")

    from .cli_keys import add_parser as keys_parser
    keys_parser(sub)

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
    client_args(s, _NDJSON)

    k = sub.add_parser("kinds", help="the job kinds the broker runs, with their params")
    client_args(k)

    for name, text in (("status", "show one job"), ("cancel", "cancel a job"),
                       ("clear", "delete a finished job"), ("wait", "wait for a job to end")):
        c = sub.add_parser(name, help=text)
        c.add_argument("id", help="job id, or 6+ characters from its start or end")
        client_args(c)

    j = sub.add_parser("jobs", help="list jobs")
    j.add_argument("--status", action="extend", default=[],
                   type=status_list(JOB_STATUSES, "status"),
                   help=f"only these statuses ({', '.join(JOB_STATUSES)}); repeat or "
                   "comma-separate")
    j.add_argument("--kind", action="append", default=[], help="only this kind; repeat")
    j.add_argument("--limit", type=int, default=DEFAULT_LIST_LIMIT)
    j.add_argument("--offset", type=int, default=0)
    j.add_argument("--order", default="-created", choices=ORDERS, metavar="ORDER",
                   help=f"one of {', '.join(ORDERS)} (default -created: newest first)")
    client_args(j)

    st = sub.add_parser("stats", help="job and item counts, success rates, mean duration, "
                        "workers")
    client_args(st)

    wk = sub.add_parser("workers", help="the connected worker processes: host, pid, kinds, "
                        "busy slots, the jobs they run, their path mappings")
    client_args(wk)

    r = sub.add_parser("results", help="item results of a job")
    r.add_argument("id", help="job id, or 6+ characters from its start or end")
    r.add_argument("--status", action="extend", default=[], type=status_list(None, "status"),
                   help="only items with these statuses (e.g. failed, skipped, conflict, "
                   "renamed; the kind's own statuses too); repeat or comma-separate")
    r.add_argument("--limit", type=int, default=DEFAULT_PAGE_LIMIT)
    r.add_argument("--offset", type=int, default=0)
    client_args(r)

    pl = sub.add_parser("plan", help="planned file operations of a job (old -> new)")
    pl.add_argument("id", help="job id, or 6+ characters from its start or end")
    pl.add_argument("--status", action="extend", default=[], type=status_list(None, "status"),
                    help=f"only operations with these statuses ({', '.join(PLAN_STATUSES)})")
    pl.add_argument("--limit", type=int, default=DEFAULT_PAGE_LIMIT)
    pl.add_argument("--offset", type=int, default=0)
    client_args(pl)

    rb = sub.add_parser("rollback", help="undo the file operations of a finished job")
    rb.add_argument("id", help="job id, or 6+ characters from its start or end")
    rb.add_argument("--watch", action="store_true", help="show live progress until it ends")
    client_args(rb, _NDJSON)

    rt = sub.add_parser("retry", help="a new job over only the failed items of a finished job")
    rt.add_argument("id", help="job id, or 6+ characters from its start or end")
    rt.add_argument("--priority", default=DEFAULT_PRIORITY, choices=PRIORITIES)
    rt.add_argument("--max-attempts", type=int, default=0)
    rt.add_argument("--watch", action="store_true", help="show live progress until it ends")
    client_args(rt, _NDJSON)
    rt.epilog = ("Same kind and params as the job, over the items whose status counts as "
                 "failed; the new job's retry_of names the job. Exit 2 with "
                 "job.nothing_to_retry when it has none.")

    w = sub.add_parser("watch", help="live progress of one job, or of all jobs")
    w.add_argument("id", nargs="?", help="job id, or 6+ characters from its start or end "
                   "(none: every job, until Ctrl-C)")
    client_args(w, "stream NDJSON: one JSON object (a job map) per line per change")
    w.epilog = ("On a terminal: a live progress board. Piped: one plain line per change of "
                "each job, at most about one a second per job.")

    return p


def client_curve(args: argparse.Namespace) -> Curve | None:
    """This client's CURVE keys (--key, --broker-key, MEDIALOOM_KEY, curve = true), or None."""
    s = settings.load(getattr(args, "config", None), {
        "key": getattr(args, "key", None), "broker_key": getattr(args, "broker_key", None)})
    return keys.client_curve(s)


def endpoints(args: argparse.Namespace) -> tuple[str, str]:
    """(client endpoint, events endpoint) from the settings file, MEDIALOOM_* and the flags."""
    s = settings.load(args.config, {"host": args.broker, "clients": args.endpoint,
                                    "events_out": args.events})
    ep = settings.endpoints(s)
    return ep["clients"], ep["events_out"]

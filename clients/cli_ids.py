"""Job ids on the command line: any 6+ characters from the start or the end of an id name it."""

from __future__ import annotations

import argparse
from typing import Any

from medialoom.protocol.constants import MAX_PAGE

from .cli_outcome import UsageError
from .client import Client, ClientError

ID_LEN, MIN_ID_CHARS = 26, 6
_CROCKFORD = set("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


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


def resolve_args(args: argparse.Namespace, endpoint: str, events: str) -> None:
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
    with Client(endpoint, events, args.timeout, curve=getattr(args, "curve", None)) as c:
        if needs:
            args.id = resolve_id(c, args.id)
        if target is not None:
            args.set[target] = "job=" + resolve_id(c, args.set[target].partition("=")[2])

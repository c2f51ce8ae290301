"""The reverse of a stored plan, for kind ``rollback`` (blocking parts).

``reverse_row(row, item)`` turns one operation of the job being undone into
the rollback's own plan row, after reconciling the original operation
against the disk (reconcile.reconcile):

- ``done`` (applied and intact): the inverse operation, planned, expecting
  the file exactly as it is now;
- ``todo`` (the disk already shows the state before the job): ``unchanged``
  when the job reported the operation applied, else nothing (never applied);
- ``vanished`` / ``conflict``: a ``conflict`` row saying why it cannot be
  restored (nothing, when the job reported the operation as not applied).

Inverses: rename, move, quarantine -> restore (a move back); restore ->
move; hardlink -> copy (an independent copy with the old mode and mtime);
copy -> hardlink; rmdir <-> mkdir; tool operations (toolops.py) by their own
module's ``reverse``.  ``dir_rows`` removes, deepest first and
only when empty, the folders the job created.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from medialoom.workers.errors import PathForbidden

from .apply import expect_of
from .claims import NewDirs
from .reconcile import APPLIED, reconcile
from .toolops import TOOL_OPS, tool_module

__all__ = ["INVERSE", "dir_rows", "reverse_row"]

INVERSE = {"rename": "restore", "move": "restore", "quarantine": "restore", "restore": "move",
           "hardlink": "copy", "copy": "hardlink", "rmdir": "mkdir", "mkdir": "rmdir"}


def reverse_row(row: dict[str, Any], item_status: str | None, check_path: Callable[[str], str],
                new_dirs: NewDirs) -> dict[str, Any] | None:
    """The rollback's plan row undoing row (None: nothing to undo or report)."""
    kind = row["op"]
    if kind in TOOL_OPS:  # e.g. audio-default: its own module knows the inverse
        reverse: Callable[..., dict[str, Any] | None] = tool_module(kind).reverse
        return reverse(row, item_status, check_path)
    reported = item_status in APPLIED
    out: dict[str, Any] = {"op": INVERSE.get(kind, kind), "src": row["dst"], "dst": row["src"],
                           "details": {"undoes": row["i"]}}
    if kind not in INVERSE:
        return {**out, "status": "conflict",
                "message": f"operation {kind!r} cannot be undone"} if reported else None
    state, reason = reconcile(row)
    if state == "todo":
        return {**out, "status": "unchanged", "message": "already as before the job"} \
            if reported else None
    if state != "done":
        if not reported and (item_status is not None or state == "vanished"):
            return None  # reported as not applied, or gone before it ever was
        return {**out, "status": "conflict", "message": f"cannot restore: {reason}"}
    for path in (out["src"], out["dst"]):
        try:
            if path:
                check_path(path)
        except PathForbidden as exc:  # the roots changed since the job
            return {**out, "status": "conflict", "message": f"cannot restore: {exc}"}
    return {**out, **_inverse_parts(row, out, new_dirs)}


def _inverse_parts(row: dict[str, Any], out: dict[str, Any], new_dirs: NewDirs
                   ) -> dict[str, Any]:
    kind, details = row["op"], dict(out["details"])
    if kind in ("rmdir", "mkdir"):
        return {"status": "planned", "details": details}
    current = os.lstat(out["src"] if kind != "hardlink" else out["dst"])
    expect = expect_of(current)
    if kind == "hardlink":  # undo: dst (the extra) gets its own copy of src (the kept file)
        details.update(mode=(row.get("details") or {}).get("mode"),
                       mtime_ns=(row.get("expect") or {}).get("mtime_ns"))
    elif kind == "copy":  # undo: src (the extra) becomes a link of dst (the kept file) again
        details["keep_expect"] = expect_of(os.lstat(out["dst"]))
    else:
        created, _ = new_dirs.claim(os.path.dirname(out["dst"]))
        if created:
            details["new_dirs"] = created
    return {"status": "planned", "expect": expect, "details": details}


def dir_rows(folders: Iterable[str]) -> list[dict[str, Any]]:
    """rmdir rows, deepest first, for the folders a job created that still exist."""
    existing = [f for f in set(folders) if os.path.isdir(f)]
    existing.sort(key=lambda f: (f.count(os.sep), f), reverse=True)
    return [{"op": "rmdir", "src": f, "dst": "", "status": "planned",
             "message": "removed if empty", "details": {}} for f in existing]

"""One planned operation against the file system: reconcile it, then apply it (blocking).

Operations (plan rows, SPEC.md section 8): ``{i, op, src, dst, expect, status,
message, details}``; ``expect`` is the stat of ``src`` when it was planned.

| op | effect | done status |
|---|---|---|
| rename, move, quarantine, restore | src moves to dst | renamed, moved, quarantined, restored |
| hardlink | src (an extra copy) becomes a hard link of dst (the file kept) | hardlinked |
| copy | dst (a hard link of src) becomes an independent copy again | restored |
| rmdir / mkdir | the folder src is removed if empty / dst is created | removed / created |

``reconcile(op)`` says what the disk shows, per the issue's rule: source
present and target absent: ``todo``; source absent and target present as
expected (same size, and same inode on the same device, else same mtime):
``done``; both absent: ``vanished``; anything else: ``conflict`` with the
reason, never a guess.  One exception is proven, not guessed: a cross-device
move interrupted after its copy leaves both files, byte for byte equal:
``finish`` (only the unlink is left).
"""

from __future__ import annotations

import errno
import os
import time
from typing import Any

from .apply import (
    Conflict,
    is_case_alias,
    make_dirs,
    mismatch,
    move,
    replace_with_copy,
    replace_with_link,
)
from .toolops import TOOL_APPLIED

__all__ = ["APPLIED", "DONE_STATUS", "MOVES", "apply_op", "reconcile"]

MOVES = frozenset({"rename", "move", "quarantine", "restore"})
DONE_STATUS = {"rename": "renamed", "move": "moved", "quarantine": "quarantined",
               "restore": "restored", "hardlink": "hardlinked", "copy": "restored",
               "rmdir": "removed", "mkdir": "created"}
#: item statuses that mean "this operation changed the disk" (with the tool ops', toolops.py)
APPLIED = frozenset(DONE_STATUS.values()) | TOOL_APPLIED

Outcome = tuple[str, str, dict[str, Any], float]  # status, message, details, duration_ms


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path) if path else None
    except (FileNotFoundError, NotADirectoryError):
        return None


def arrived(st: os.stat_result, expect: dict[str, int]) -> str:
    """"" when st is the planned file after a move (same inode on one device, else same mtime)."""
    want = {"size": expect["size"]} if "size" in expect else {}
    if "dev" in expect and st.st_dev == expect["dev"]:
        want["ino"] = expect.get("ino", st.st_ino)
    elif "mtime_ns" in expect:
        want["mtime_ns"] = expect["mtime_ns"]
    return mismatch(st, want)


def reconcile(op: dict[str, Any]) -> tuple[str, str]:
    """(state, reason): todo, done, finish, vanished or conflict for one planned operation."""
    kind, src, dst, expect = op["op"], op["src"], op["dst"], op.get("expect") or {}
    if kind == "rmdir":
        return ("todo", "") if os.path.isdir(src) else ("done", "")
    if kind == "mkdir":
        return ("done", "") if os.path.isdir(dst) else ("todo", "")
    s, d = _lstat(src), _lstat(dst)
    if kind == "hardlink":
        return _reconcile_hardlink(op, s, d)
    if kind == "copy":
        if d is None:
            return "conflict", f"{dst} is gone"
        if s is None or d.st_ino != s.st_ino or d.st_dev != s.st_dev:
            return "done", ""
        return "todo", ""
    if s is not None and d is not None and (s.st_ino, s.st_dev) == (d.st_ino, d.st_dev):
        if is_case_alias(src, dst):  # one file; the listing says which spelling it has
            return ("done", "") if os.path.basename(dst) in os.listdir(os.path.dirname(dst)) \
                else ("todo", "")
        return "conflict", f"{src} and {dst} are two names of one file"
    if s is not None and d is None:
        why = mismatch(s, expect)
        if why:
            return "conflict", f"{src} changed since it was planned ({why})"
        return _keep_unchanged(op) or ("todo", "")
    if s is None and d is not None:
        why = arrived(d, expect)
        return ("done", "") if not why else ("conflict", f"{dst} is not the file this "
                                                         f"operation puts there ({why})")
    if s is None:
        return "vanished", f"{src} is gone"
    if not mismatch(s, expect) and not arrived(d, expect) and same_content(src, dst):
        return "finish", "an interrupted move left an identical copy"
    return "conflict", f"both {src} and {dst} exist"


def same_content(a: str, b: str, chunk: int = 1 << 20) -> bool:
    """True when the two files hold the same bytes (read now; no cache, unlike filecmp)."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(chunk), fb.read(chunk)
            if x != y:
                return False
            if not x:
                return True


def _keep_unchanged(op: dict[str, Any]) -> tuple[str, str] | None:
    """A conflict when the file a dedupe row keeps changed since it was read, else None."""
    details = op.get("details") or {}
    if "keep_expect" not in details:
        return None
    keep = _lstat(details.get("keep", ""))
    why = "gone" if keep is None else mismatch(keep, details["keep_expect"])
    return ("conflict", f"the file to keep, {details['keep']}, changed ({why})") if why else None


def _reconcile_hardlink(op: dict[str, Any], s: os.stat_result | None,
                        d: os.stat_result | None) -> tuple[str, str]:
    keep_expect = op.get("details", {}).get("keep_expect", {})
    if d is None:
        return "conflict", f"the file to keep, {op['dst']}, is gone"
    why = mismatch(d, keep_expect)
    if why:
        return "conflict", f"the file to keep, {op['dst']}, changed ({why})"
    if s is None:
        return "vanished", f"{op['src']} is gone"
    if (s.st_ino, s.st_dev) == (d.st_ino, d.st_dev):
        return "done", ""
    why = mismatch(s, op.get("expect") or {})
    return ("todo", "") if not why else ("conflict", f"{op['src']} changed since it was "
                                                     f"hashed ({why})")


def apply_op(op: dict[str, Any], *, verify_hash: bool = False) -> Outcome:
    """Reconcile op and, when it is to do, do it; one item's status, message and details."""
    started = time.perf_counter()
    details = {**(op.get("details") or {}), "op": op["op"], "old": op["src"], "new": op["dst"]}
    if op.get("status") != "planned":
        return op.get("status", "skipped"), op.get("message", ""), details, 0.0
    status, message = _apply(op, details, verify_hash)
    return status, message, details, (time.perf_counter() - started) * 1000


def _apply(op: dict[str, Any], details: dict[str, Any], verify_hash: bool) -> tuple[str, str]:
    kind = op["op"]
    done = DONE_STATUS[kind]
    try:
        state, reason = reconcile(op)
        if state == "done":
            details["reconciled"] = "done"
            return done, "already done"
        if state in ("vanished", "conflict"):
            return state, reason
        if state == "finish":
            os.unlink(op["src"])
            return done, "finished an interrupted move"
        _perform(op, details, verify_hash)
    except Conflict as exc:
        return "conflict", str(exc)
    except FileExistsError as exc:
        if kind == "rmdir":
            return "skipped", "folder not empty: kept"
        return "conflict", f"{exc.filename or op['dst']} appeared since the plan; left alone"
    except OSError as exc:
        if kind == "rmdir" and exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            return "skipped", "folder not empty: kept"
        if isinstance(exc, FileNotFoundError) and op["src"] and _lstat(op["src"]) is None:
            return "vanished", f"{op['src']} is gone"
        return "failed", describe(exc)
    return done, op.get("message", "")


def _perform(op: dict[str, Any], details: dict[str, Any], verify_hash: bool) -> None:
    kind, src, dst = op["op"], op["src"], op["dst"]
    if kind in MOVES:
        created = make_dirs(os.path.dirname(dst))
        if created:
            details["created_dirs"] = created
        if move(src, dst, verify_hash=verify_hash):
            details["copied"] = True
    elif kind == "hardlink":
        replace_with_link(src, dst, op.get("expect") or {})
    elif kind == "copy":
        extra = op.get("details") or {}
        replace_with_copy(src, dst, extra.get("mode"), extra.get("mtime_ns"))
    elif kind == "rmdir":
        os.rmdir(src)
    elif kind == "mkdir":
        details["created_dirs"] = make_dirs(dst)
    else:
        raise ValueError(f"unknown operation {kind!r}")


def describe(exc: OSError) -> str:
    """A one-line message for an OSError met while applying, naming the path at fault."""
    where = exc.filename or ""
    if exc.errno in (errno.EACCES, errno.EPERM):
        folder = os.path.dirname(where) if where else "the folder"
        return f"permission denied: cannot change {where} (is {folder} writable?)"
    if exc.errno == errno.ENOTDIR:
        return f"{where} is not a folder (a file is in the way)"
    if exc.errno == errno.EROFS:
        return f"read-only file system: {where}"
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device of {where}"
    text = exc.strerror or str(exc)
    return f"{text}: {where}" if where else text

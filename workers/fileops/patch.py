"""Byte patches of a file in place: the ``retag`` / ``restore-tags`` operations (blocking).

A tag writer changes a file only around its tag block (ID3 at the start,
FLAC metadata blocks, an MP4 ``moov``, Ogg header pages), so the file
before and after share a prefix and a suffix.  ``make_patch(old, new)``
records what lies between as two small deltas, one building the new middle
from the old one and one building the old middle back from the new one
(copies of ranges of the other side plus literal bytes, base64), with the
whole-file blake2b digests of both versions.  Nothing bigger than the
changed region is kept, so a plan row can carry it and a rollback restores
the previous bytes exactly, without a copy of the file.

Plan row: ``{op: "retag", src: path, dst: path, expect, details: {patch,
...}}``.  ``reconcile``: the file's digest is the new one -> done; the old
one -> todo; else conflict (changed by someone else); no file -> vanished.
``perform`` streams the file into a temporary file beside it with the
middle replaced, checks both digests on the way, fsyncs and renames it over
the file (keeping its mode); an undo sets the mtime the file had before the
job.  ``inverse`` is the rollback's row: the same patch, the other way.

The two ops are *tool operations* of fileops.toolops (applied through
``apply``, undone through ``reverse``), done in the thread pool: statuses
``retagged`` (a retag applied) and ``restored`` (its undo).
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from medialoom.workers.errors import PathForbidden

from .apply import Conflict, expect_of, temp_name
from .reconcile import describe

if TYPE_CHECKING:
    from medialoom.workers.context import JobContext

__all__ = ["MAX_LITERAL", "PATCH_OPS", "PatchTooLarge", "apply_delta", "delta", "file_digest",
           "inverse", "make_patch", "perform", "reconcile"]

PATCH_OPS = {"retag": "restore-tags", "restore-tags": "retag"}
DONE_STATUS = {"retag": "retagged", "restore-tags": "restored"}
#: item statuses of these ops that mean the file was changed (fileops.toolops)
DONE = frozenset(DONE_STATUS.values())
#: literal bytes one direction of a patch may hold (the rest are copies)
MAX_LITERAL = 16 * 1024
#: the most bytes the changed middle may span on either side
MAX_REGION = 64 * 1024 * 1024
BLOCK = 32
CHUNK = 1 << 20


class PatchTooLarge(ValueError):
    """The change is too big to be journaled as a patch."""


def file_digest(path: str) -> str:
    """blake2b (16 bytes, hex) of a whole file."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _common_prefix(a: BinaryIO, b: BinaryIO, limit: int) -> int:
    done = 0
    while done < limit:
        x, y = a.read(min(CHUNK, limit - done)), b.read(min(CHUNK, limit - done))
        n = min(len(x), len(y))
        if x[:n] != y[:n] or n == 0:
            i = 0
            while i < n and x[i] == y[i]:
                i += 1
            return done + i
        done += n
    return done


def _common_suffix(a: BinaryIO, b: BinaryIO, size_a: int, size_b: int, limit: int) -> int:
    done = 0
    while done < limit:
        n = min(CHUNK, limit - done)
        a.seek(size_a - done - n)
        b.seek(size_b - done - n)
        x, y = a.read(n), b.read(n)
        if x != y:
            i = 0
            while i < n and x[n - 1 - i] == y[n - 1 - i]:
                i += 1
            return done + i
        done += n
    return done


def delta(src: bytes, dst: bytes) -> list[list[Any]]:
    """Instructions building dst from src: ``["c", start, length]`` copies, ``["a", b64]``."""
    index: dict[bytes, int] = {}
    for i in range(0, len(src) - BLOCK + 1, BLOCK):
        index.setdefault(src[i:i + BLOCK], i)
    ops: list[list[Any]] = []
    literal = j = 0
    while j + BLOCK <= len(dst):
        i = index.get(dst[j:j + BLOCK])
        if i is None:
            j += 1
            continue
        bi, bj = i, j
        while bi > 0 and bj > literal and src[bi - 1] == dst[bj - 1]:
            bi, bj = bi - 1, bj - 1
        ei, ej = i + BLOCK, j + BLOCK
        while ei < len(src) and ej < len(dst):
            step = min(4096, len(src) - ei, len(dst) - ej)
            if src[ei:ei + step] == dst[ej:ej + step]:
                ei, ej = ei + step, ej + step
                continue
            while src[ei] == dst[ej]:
                ei, ej = ei + 1, ej + 1
            break
        if bj > literal:
            ops.append(["a", base64.b64encode(dst[literal:bj]).decode()])
        ops.append(["c", bi, ei - bi])
        literal = j = ej
    if literal < len(dst):
        ops.append(["a", base64.b64encode(dst[literal:]).decode()])
    return ops


def literal_bytes(ops: list[list[Any]]) -> int:
    """Bytes of literal data in a delta."""
    return sum(len(op[1]) * 3 // 4 for op in ops if op[0] == "a")


def apply_delta(src: bytes, ops: list[list[Any]]) -> bytes:
    """dst from src and the instructions of delta (ValueError when they do not fit src)."""
    out = bytearray()
    for op in ops:
        if op[0] == "c":
            start, length = int(op[1]), int(op[2])
            if start < 0 or length < 0 or start + length > len(src):
                raise ValueError("a patch copy lies outside the region it patches")
            out += src[start:start + length]
        elif op[0] == "a":
            out += base64.b64decode(op[1], validate=True)
        else:
            raise ValueError(f"unknown patch instruction {op[0]!r}")
    return bytes(out)


def make_patch(old: str, new: str) -> dict[str, Any]:
    """The patch turning the file old into the file new (and back); PatchTooLarge."""
    size_a, size_b = os.path.getsize(old), os.path.getsize(new)
    with open(old, "rb") as a, open(new, "rb") as b:
        prefix = _common_prefix(a, b, min(size_a, size_b))
        suffix = _common_suffix(a, b, size_a, size_b, min(size_a, size_b) - prefix)
        len_a, len_b = size_a - prefix - suffix, size_b - prefix - suffix
        if max(len_a, len_b) > MAX_REGION:
            raise PatchTooLarge(f"the change spans {max(len_a, len_b)} bytes")
        a.seek(prefix)
        b.seek(prefix)
        region_a, region_b = a.read(len_a), b.read(len_b)
    to_new, to_old = delta(region_a, region_b), delta(region_b, region_a)
    literal = max(literal_bytes(to_new), literal_bytes(to_old))
    if literal > MAX_LITERAL:
        raise PatchTooLarge(f"the change writes {literal} new bytes, more than the "
                            f"{MAX_LITERAL} a plan keeps per file")
    return {"offset": prefix, "old_len": len_a, "new_len": len_b, "to_new": to_new,
            "to_old": to_old, "old_digest": file_digest(old), "new_digest": file_digest(new),
            "old_size": size_a, "new_size": size_b}


def swapped(patch: dict[str, Any]) -> dict[str, Any]:
    """The same patch, the other way."""
    return {**patch, "old_len": patch["new_len"], "new_len": patch["old_len"],
            "to_new": patch["to_old"], "to_old": patch["to_new"],
            "old_digest": patch["new_digest"], "new_digest": patch["old_digest"],
            "old_size": patch["new_size"], "new_size": patch["old_size"]}


def reconcile(op: dict[str, Any]) -> tuple[str, str]:
    """todo, done, vanished or conflict for a patch row (by the file's digest)."""
    patch = (op.get("details") or {}).get("patch")
    path = op["src"]
    if not isinstance(patch, dict):
        return "conflict", "the plan row holds no patch"
    try:
        digest = file_digest(path)
    except FileNotFoundError:
        return "vanished", f"{path} is gone"
    if digest == patch["new_digest"]:
        return "done", ""
    if digest == patch["old_digest"]:
        return "todo", ""
    return "conflict", f"{path} changed since it was planned (its bytes are neither the " \
                       "planned old nor new ones)"


def perform(op: dict[str, Any], details: dict[str, Any]) -> None:
    """Apply the row's patch to its file (Conflict when the file is not the planned one)."""
    patch = details.pop("patch", None) or (op.get("details") or {}).get("patch")
    path = op["src"]
    temp = temp_name(path)
    try:
        os.unlink(temp)
    except FileNotFoundError:
        pass
    old_hash, new_hash = hashlib.blake2b(digest_size=16), hashlib.blake2b(digest_size=16)
    try:
        with open(path, "rb") as fin, open(temp, "xb") as fout:
            head = fin.read(patch["offset"])
            middle = fin.read(patch["old_len"])
            old_hash.update(head)
            old_hash.update(middle)
            fout.write(head)
            new_hash.update(head)
            region = apply_delta(middle, patch["to_new"])
            if len(region) != patch["new_len"]:
                raise Conflict(f"{path}: the patch does not fit the file")
            fout.write(region)
            new_hash.update(region)
            while chunk := fin.read(CHUNK):
                old_hash.update(chunk)
                new_hash.update(chunk)
                fout.write(chunk)
            fout.flush()
            os.fsync(fout.fileno())
            st = os.fstat(fin.fileno())
        if old_hash.hexdigest() != patch["old_digest"]:
            raise Conflict(f"{path} changed since it was planned")
        if new_hash.hexdigest() != patch["new_digest"]:
            raise Conflict(f"{path}: the patched bytes are not the planned ones")
        shutil.copymode(path, temp)
        mtime_ns = details.get("mtime_ns")
        if isinstance(mtime_ns, int):
            os.utime(temp, ns=(st.st_atime_ns, mtime_ns))
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise


def inverse(row: dict[str, Any]) -> dict[str, Any]:
    """The parts of the rollback row undoing an applied patch row (status, expect, details)."""
    details = {"undoes": row["i"], "patch": swapped(row["details"]["patch"])}
    mtime_ns = (row.get("expect") or {}).get("mtime_ns")
    if isinstance(mtime_ns, int):
        details["mtime_ns"] = mtime_ns
    return {"status": "planned", "expect": expect_of(os.lstat(row["src"])), "details": details}


# --- the tool-operation interface (fileops.toolops) ----------------------------------------

Outcome = tuple[str, str, dict[str, Any], float]


def apply_row(row: dict[str, Any]) -> Outcome:
    """Reconcile a planned patch row and, when it is to do, do it (blocking)."""
    started = time.perf_counter()
    details = {k: v for k, v in (row.get("details") or {}).items() if k != "patch"}
    details.update(op=row["op"], old=row["src"], new=row["dst"])
    done = DONE_STATUS[row["op"]]

    def out(status: str, message: str) -> Outcome:
        return status, message, details, (time.perf_counter() - started) * 1000

    state, reason = reconcile(row)
    if state == "done":
        details["reconciled"] = "done"
        return out(done, "already done")
    if state != "todo":
        return out(state, reason)
    try:
        perform(row, {**details, "patch": row["details"]["patch"]})
    except Conflict as exc:
        return out("conflict", str(exc))
    except FileNotFoundError:
        return out("vanished", f"{row['src']} is gone")
    except OSError as exc:
        return out("failed", describe(exc))
    return out(done, row.get("message", ""))


async def apply(ctx: JobContext, row: dict[str, Any]) -> Outcome:
    """apply_row in the worker's thread pool."""
    return await ctx.run_blocking(apply_row, row)


def reverse(row: dict[str, Any], item_status: str | None, check_path: Callable[[str], str]
            ) -> dict[str, Any] | None:
    """The rollback's row undoing a patch row (None: nothing to undo or report)."""
    reported = item_status in DONE
    out: dict[str, Any] = {"op": PATCH_OPS[row["op"]], "src": row["src"], "dst": row["dst"],
                           "details": {"undoes": row["i"]}}
    state, reason = reconcile(row)
    if state == "todo":
        return {**out, "status": "unchanged", "message": "already as before the job"} \
            if reported else None
    if state != "done":
        if not reported and (item_status is not None or state == "vanished"):
            return None
        return {**out, "status": "conflict", "message": f"cannot restore: {reason}"}
    try:
        check_path(row["src"])
    except PathForbidden as exc:
        return {**out, "status": "conflict", "message": f"cannot restore: {exc}"}
    return {**out, **inverse(row)}

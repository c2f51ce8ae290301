"""Plan operation ``audio-default``: apply it, reconciled by the flags, and reverse it.

A plan row (SPEC.md section 8) ``{op: "audio-default", src: FILE, dst: "",
expect, status, message, details}`` carries in ``details.tracks`` every
audio track of the file (key, language, ...) with ``default_before`` and
``default_after``, plus the container, the hard-link policy and the tool
timeout.  fileops.plan hands planned rows of this op to ``apply``
(fileops/toolops.py), which first reads the file's flags as they are now:

- as ``after``: already done (an earlier attempt did it; nothing is edited
  again) -> ``changed`` with message "already done";
- as ``before``: do it: mkvpropedit in place; or, for a file with other
  hard links under ``hardlinks=break``, mkvpropedit on a copy; MP4 remuxed
  into a temporary file.  A new file (copy or remux) is read again and put
  in place only when its flags (and, remuxed, its streams) are as planned;
- anything else, or another set of tracks: ``conflict``, nothing changed.

``reverse`` is the rollback's row: the same op with before and after
swapped (``details.undoes`` names the row), applied the same way and
reported ``restored``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from medialoom.workers.errors import PathForbidden, ToolError, ToolTimeout
from medialoom.workers.fileops.apply import Conflict
from medialoom.workers.fileops.plan import plan_item_details
from medialoom.workers.fileops.reconcile import describe

from .choose import flags_of, label
from .editors import EditFailed, remux_mp4, set_mkv_flags
from .files import check_space, copy_synced, fresh_temp, put_in_place, remove_quietly, state_of
from .readers import read_audio
from .streams import UnreadableVideo

if TYPE_CHECKING:
    from medialoom.workers.context import JobContext

__all__ = ["DONE", "OP", "apply", "reverse"]

OP = "audio-default"
#: item statuses of this op that mean the file was changed (forward, and a rollback's)
DONE = frozenset({"changed", "restored"})
DEFAULT_TIMEOUT_S = 600.0

Outcome = tuple[str, str, dict[str, Any], float]


def _flags(details: dict[str, Any], which: str) -> dict[str, bool]:
    return {str(t["key"]): bool(t[which]) for t in details.get("tracks") or []}


def describe_flags(details: dict[str, Any], flags: dict[str, bool]) -> str:
    """The default tracks of flags, as ``jpn (#2)`` labels ("none" if there is none)."""
    tracks = {str(t["key"]): t for t in details.get("tracks") or []}
    names = [label(tracks[k].get("language", ""), tracks[k].get("stream")) if k in tracks
             else k for k, on in flags.items() if on]
    return ", ".join(names) or "none"


async def apply(ctx: JobContext, row: dict[str, Any]) -> Outcome:
    """Reconcile one planned row with the file's flags and, when it is to do, do it."""
    started = time.perf_counter()
    details = plan_item_details(row)
    try:
        status, message = await _apply(ctx, row, details)
    except ToolTimeout as exc:
        status, message = "timeout", str(exc)
    except (UnreadableVideo, EditFailed, ToolError) as exc:
        status, message = "failed", str(exc)
    except Conflict as exc:
        status, message = "conflict", str(exc)
    except FileNotFoundError:
        status, message = "vanished", f"{row['src']} is gone"
    except OSError as exc:
        status, message = "failed", describe(exc)
    return status, message, details, (time.perf_counter() - started) * 1000


async def _apply(ctx: JobContext, row: dict[str, Any], details: dict[str, Any]
                 ) -> tuple[str, str]:
    path, container = row["src"], details.get("container", "")
    timeout_s = float(details.get("timeout_s") or DEFAULT_TIMEOUT_S)
    before, after = _flags(details, "default_before"), _flags(details, "default_after")
    done = "restored" if "undoes" in details else "changed"
    state = await ctx.run_blocking(state_of, path)
    tracks, data = await read_audio(ctx, path, container, timeout_s)
    now = flags_of(tracks)
    if set(now) != set(after):
        return "conflict", (f"the file's audio tracks changed since the plan ({len(now)} now, "
                            f"{len(after)} planned); left alone")
    if now == after:
        details["reconciled"] = "done"
        return done, "already done"
    if now != before:
        return "conflict", (f"the default audio changed since the plan (now "
                            f"{describe_flags(details, now)}, planned from "
                            f"{describe_flags(details, before)}); left alone")
    if not state["mode"] & 0o222:
        return "failed", f"read-only file (mode {state['mode']:04o}): left alone"
    policy = details.get("hardlinks", "skip")
    if state["nlink"] > 1 and policy == "skip":
        return "conflict", (f"the file has {state['nlink']} hard links now (a seeding "
                            f"copy?); left alone (hardlinks=break or edit changes it)")
    if container == "matroska" and (state["nlink"] == 1 or policy == "edit"):
        await set_mkv_flags(ctx, path, after, timeout_s)  # it sets each track, by UID
    else:  # a copy for matroska under hardlinks=break; always a new file for mp4
        if state["nlink"] > 1:
            details["hardlink_broken"] = True
        await _edit_copy(ctx, path, container, state, after, timeout_s, data)
    return done, row.get("message", "")


async def _edit_copy(ctx: JobContext, path: str, container: str, state: dict[str, int],
                     after: dict[str, bool], timeout_s: float, data: dict[str, Any]) -> None:
    why = await ctx.run_blocking(check_space, path, state["size"])
    if why:
        raise EditFailed(why)
    temp = await ctx.run_blocking(fresh_temp, path)
    try:
        if container == "matroska":
            await ctx.run_blocking(copy_synced, path, temp)
            await set_mkv_flags(ctx, temp, after, timeout_s)
        else:
            await remux_mp4(ctx, path, temp, after, timeout_s)
        await _verify(ctx, temp, container, after, timeout_s, data)
        await ctx.run_blocking(put_in_place, temp, path, state)
    finally:
        remove_quietly(temp)  # one unlink, also when cancelled (gone once put in place)


def _stream_list(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [(str(s.get("codec_type")), str(s.get("codec_name"))) for s in data.get("streams")
            or [] if isinstance(s, dict)]


async def _verify(ctx: JobContext, path: str, container: str, after: dict[str, bool],
                  timeout_s: float, original: dict[str, Any] | None) -> None:
    tracks, data = await read_audio(ctx, path, container, timeout_s)
    got = flags_of(tracks)
    if got != after:
        raise EditFailed(f"the edit left other default flags than planned ({got} instead of "
                         f"{after})")
    if container != "matroska" and original is not None and \
            _stream_list(data) != _stream_list(original):
        raise EditFailed("the remuxed file does not have the original's streams; the "
                         "original is kept")


def reverse(row: dict[str, Any], item_status: str | None,
            check_path: Callable[[str], str]) -> dict[str, Any] | None:
    """The rollback's row for row (None: it was reported as not applied)."""
    if item_status is not None and item_status not in DONE:
        return None
    details = {k: v for k, v in (row.get("details") or {}).items()
               if k not in ("chosen", "language", "reconciled", "hardlink_broken")}
    details["tracks"] = [{**t, "default_before": t.get("default_after", False),
                          "default_after": t.get("default_before", False)}
                         for t in details.get("tracks") or []]
    details["undoes"] = row["i"]
    out = {"op": OP, "src": row["src"], "dst": "", "expect": {}, "details": details}
    try:
        check_path(row["src"])
    except PathForbidden as exc:  # the roots changed since the job
        return {**out, "status": "conflict", "message": f"cannot restore: {exc}"}
    was = describe_flags(details, _flags(details, "default_before"))
    to = describe_flags(details, _flags(details, "default_after"))
    return {**out, "status": "planned", "message": f"restore default audio: {was} -> {to}"}

"""Kind ``audio-default``: make the preferred language's audio track the default one.

Theory of operation.  The job paths are checked against the library roots,
then walked (fileops.walk, the common filters; mkv, mp4 and m4v by
default).  The planner reads every file's audio tracks -- ``mkvmerge -J``
for Matroska (tracks by TrackUID), ffprobe for MP4 -- PLAN_CONCURRENCY at a
time through ``ctx.run_tool``, and picks the track under the preference
(video/choose.py).  Each file is one plan row, op ``audio-default``, whose
details hold every audio track's default flag before and after
(video/ops.py); fileops.plan stores the plan, then reports it (dry run) or
applies it: each row reconciled by reading the flags again, so a retry after
``kill -9`` edits no file twice, and kind ``rollback`` restores the flags
as they were.

Item statuses: changed (``already done`` when an earlier attempt did it),
unchanged (already the only default), skipped (no wanted language -- the
message names the languages found --, no audio, read-only file, hard
links under ``hardlinks=skip``, not MKV/MP4), failed (corrupt, empty or
unreadable file, a tool error), timeout, conflict (the file changed since
the plan), vanished; planned in a dry run.
"""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from medialoom.workers.context import JobContext
from medialoom.workers.errors import ToolError, ToolTimeout
from medialoom.workers.fileops.apply import expect_of
from medialoom.workers.fileops.jobs import check_job_paths, choice
from medialoom.workers.fileops.plan import run_plan
from medialoom.workers.fileops.walk import Entry, WalkFilter, take, walk_files, walk_filter
from medialoom.workers.specs.audio_default import (
    HARDLINK_POLICIES,
    MATROSKA_EXTENSIONS,
    MP4_EXTENSIONS,
    SPEC,
    language_key,
)
from medialoom.workers.video.choose import choose, original_of_file
from medialoom.workers.video.ops import OP
from medialoom.workers.video.readers import read_audio, require_tools
from medialoom.workers.video.streams import UnreadableVideo, format_tag

from . import Kind

PLAN_BATCH = 64
PLAN_CONCURRENCY = max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class AudioOptions:
    """The audio-default parameters, checked."""

    languages: tuple[str, ...]
    original: str
    hardlinks: str
    timeout_s: float
    walk: WalkFilter

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> AudioOptions:
        """Options from validated params; JobFailed job.bad_params on a bad value."""
        original = str(params.get("original_language") or "")
        return cls(languages=tuple(str(x) for x in params["languages"]),
                   original=language_key(original) or "",
                   hardlinks=choice(params, "hardlinks", HARDLINK_POLICIES),
                   timeout_s=float(params["timeout_s"]), walk=walk_filter(params))


def container_of(path: str) -> str:
    """matroska, mp4, or "" (not a file this kind can edit), by extension."""
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    return "matroska" if ext in MATROSKA_EXTENSIONS else "mp4" if ext in MP4_EXTENSIONS else ""


def precheck(entry: Entry, opts: AudioOptions) -> tuple[str, str]:
    """(status, message) for a file settled before any tool runs; ("", "") to read it."""
    if entry.problem or entry.st is None:
        return "skipped", entry.problem or "cannot read it"
    st = entry.st
    if not stat.S_ISREG(st.st_mode):
        return "skipped", "not a regular file"
    if not container_of(entry.path):
        return "skipped", "not an MKV or MP4 file: only those can be edited"
    if st.st_size == 0:
        return "failed", "empty file (0 bytes): not a video"
    if not st.st_mode & 0o222:
        return "skipped", (f"read-only file (mode {stat.S_IMODE(st.st_mode):04o}): left "
                           f"alone; make it writable to change it")
    if st.st_nlink > 1 and opts.hardlinks == "skip":
        return "skipped", (f"has {st.st_nlink} hard links (a seeding download?): left alone "
                           f"so the other copy keeps its bytes; hardlinks=break edits a copy, "
                           f"hardlinks=edit edits every link")
    return "", ""


async def plan_file(ctx: JobContext, entry: Entry, opts: AudioOptions) -> dict[str, Any]:
    """The plan row of one file: its tracks read, the preference applied."""
    container = container_of(entry.path)
    details: dict[str, Any] = {"container": container, "hardlinks": opts.hardlinks,
                               "timeout_s": opts.timeout_s}
    row: dict[str, Any] = {"op": OP, "src": entry.path, "dst": "",
                           "expect": expect_of(entry.st) if entry.st else {}}
    status, message = precheck(entry, opts)
    if status:
        return {**row, "status": status, "message": message, "details": details}
    assert entry.st is not None
    details["nlink"] = entry.st.st_nlink
    try:
        tracks, data = await read_audio(ctx, entry.path, container, opts.timeout_s)
    except ToolTimeout as exc:
        return {**row, "status": "timeout", "message": str(exc), "details": details}
    except (UnreadableVideo, ToolError) as exc:
        return {**row, "status": "failed", "message": f"cannot read: {exc}", "details": details}
    original, source = opts.original, "job" if opts.original else ""
    if not original:
        original = original_of_file(tracks, format_tag(data, "original_language"))
        source = "file" if original else ""
    picked = choose(tracks, list(opts.languages), original, source, container)
    return {**row, "status": picked.status, "message": picked.message,
            "details": {**details, **picked.details}}


async def planner(ctx: JobContext, paths: list[str], opts: AudioOptions
                  ) -> AsyncIterator[list[dict[str, Any]]]:
    """Batches of plan rows for every file under paths, in walk order."""
    walk = walk_files(paths, opts.walk)
    slots = asyncio.Semaphore(PLAN_CONCURRENCY)

    async def one(entry: Entry) -> dict[str, Any]:
        async with slots:
            return await plan_file(ctx, entry, opts)

    while entries := await ctx.run_blocking(take, walk, PLAN_BATCH):
        ctx.add_total(len(entries))
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(entry)) for entry in entries]
        except BaseExceptionGroup as exc:  # an unexpected error: raise it as it is
            raise exc.exceptions[0] from None
        ctx.set_current(entries[-1].path)
        yield [task.result() for task in tasks]


async def run(ctx: JobContext) -> dict[str, Any]:
    """Plan and apply (or, dry run, report) the default audio tracks; counts by status."""
    opts = AudioOptions.from_params(ctx.params)
    exts = {e.lower().lstrip(".") for e in ctx.params.get("extensions") or ()} or \
        {*MATROSKA_EXTENSIONS, *MP4_EXTENSIONS}
    tools = (["mkvmerge", "mkvpropedit"] if exts & set(MATROSKA_EXTENSIONS) else []) + \
        (["ffprobe", "ffmpeg"] if exts & set(MP4_EXTENSIONS) else [])
    await ctx.run_blocking(require_tools, *tools)
    paths = await check_job_paths(ctx)
    counts = await run_plan(ctx, planner(ctx, paths, opts))
    return {"files": sum(counts.values()), **counts}


KIND = Kind(spec=SPEC, run=run)

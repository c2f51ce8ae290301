"""Kind ``scan``: walk the job's paths and report format, stream info and tags of every file.

Theory of operation.  The walk is fileops.walk's, with the common filters
(workers/specs/walking.py: recursive, pattern, exclude, min_size,
max_age_days, extensions; by default the audio extensions), so a retried
attempt meets the files in the same order and gives them the same item
indices.  Symbolic links are never followed (a job path given as one is,
once it passed the library-root check).  Two passes, each pulled through
the thread pool in batches with ``await ctx.checkpoint()`` after each, so
a cancel is honoured within one batch and memory stays flat:

- count: the walk counts the files that pass the filters (WALK_BATCH
  entries per pool call); the total grows while it runs and is exact once
  it is done, before the first item is reported.
- read: a second walk hands READ_CHUNK files at a time to the pool, where
  each is checked against the library roots, stat'ed and, when its
  extension is an audio one, parsed with mutagen (workers/tags.py); one
  item each.

Item statuses: "ok" (details: size, mtime, format, duration_s, bitrate,
sample_rate, channels, tags; format None for a file that is not audio),
"failed" (unreadable or corrupt file), "skipped" (vanished since the walk,
outside the library roots, job path missing or a folder that cannot be
listed).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from medialoom.workers.context import JobContext
from medialoom.workers.errors import PathForbidden
from medialoom.workers.fileops.walk import Entry, Walk, take, walk_files, walk_filter
from medialoom.workers.specs.scan import AUDIO_EXTENSIONS, SPEC
from medialoom.workers.tags import UnreadableAudio, read_tags

from . import Kind

__all__ = ["AUDIO_EXTENSIONS", "KIND", "examine", "run"]

WALK_BATCH = 2048
READ_CHUNK = 48
_AUDIO = frozenset(AUDIO_EXTENSIONS)


def is_audio(path: str) -> bool:
    """True if the file's extension is an audio one (its tags are read)."""
    return os.path.splitext(path)[1][1:].lower() in _AUDIO


def count(walk: Walk, n: int) -> int:
    """Advance walk by up to n entries; how many there were (one pool call)."""
    return len(take(walk, n))


def examine(entry: Entry, check_path: Callable[[str], str]) -> tuple[str, str, dict[str, Any]]:
    """Status, message and details of one walked file (blocking: realpath, stat, mutagen)."""
    if entry.problem:
        return "skipped", entry.problem, {}
    try:
        real = check_path(entry.path)
        st = os.stat(real)
    except PathForbidden as exc:
        return "skipped", str(exc), {}
    except FileNotFoundError:
        return "skipped", "vanished", {}
    except OSError as exc:
        return "failed", f"cannot stat: {exc.strerror or exc}", {}
    details: dict[str, Any] = {"size": st.st_size, "mtime": st.st_mtime}
    if not is_audio(entry.path):
        details["format"] = None
        return "ok", "", details
    try:
        details.update(read_tags(real))
    except FileNotFoundError:
        return "skipped", "vanished", details
    except UnreadableAudio as exc:
        return "failed", f"cannot read tags: {exc}", details
    except OSError as exc:
        return "failed", f"cannot read file: {exc.strerror or exc}", details
    return "ok", "", details


def read_next(walk: Walk, check_path: Callable[[str], str]
              ) -> list[tuple[Entry, str, str, dict[str, Any], float]]:
    """The next READ_CHUNK files of walk, examined, with the ms each took (one pool call)."""
    out = []
    for entry in take(walk, READ_CHUNK):
        started = time.perf_counter()
        status, message, details = examine(entry, check_path)
        out.append((entry, status, message, details, (time.perf_counter() - started) * 1000))
    return out


async def run(ctx: JobContext) -> dict[str, Any]:
    """Walk ctx.paths and record one item per file that passes the filters.

    Returns {files: items recorded, bytes: their total size, formats: {format: files read},
    failed, skipped, ignored: files the filters left out, ignored_by: {reason: files},
    excluded_folders: folders not entered, links_not_followed}.
    """
    filt = walk_filter(ctx.params)
    ctx.set_total(0)
    counting = walk_files(list(ctx.paths), filt, check_path=ctx.check_path)
    while found := await ctx.run_blocking(count, counting, WALK_BATCH):
        ctx.add_total(found)
        ctx.set_current(f"walking: {ctx.total} files found")
        await ctx.checkpoint()
    walk = walk_files(list(ctx.paths), filt, check_path=ctx.check_path)
    formats: Counter[str] = Counter()
    size_bytes = index = 0
    while results := await ctx.run_blocking(read_next, walk, ctx.check_path):
        for entry, status, message, details, ms in results:
            ctx.item(entry.path, status, message, duration_ms=ms, details=details, index=index)
            index += 1
            size_bytes += details.get("size", 0)
            if status == "ok" and details.get("format"):
                formats[details["format"]] += 1
        await ctx.checkpoint()
    return {"files": index, "bytes": size_bytes, "formats": dict(sorted(formats.items())),
            "failed": ctx.failed, "skipped": ctx.skipped, "ignored": walk.ignored_total,
            "ignored_by": dict(sorted(walk.ignored.items())), "excluded_folders": walk.pruned,
            "links_not_followed": walk.links_not_followed}


KIND = Kind(spec=SPEC, run=run)

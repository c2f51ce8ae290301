"""Kind ``probe``: ffprobe every video under the paths, a bounded number at a time.

Theory of operation.  The job paths are checked against the library roots
and walked (fileops.walk, the common filters, video extensions by default;
named pipes are walked too, so a FIFO named ``.mkv`` meets ffprobe and its
timeout instead of vanishing from the results).  The coroutine keeps up to
``concurrency`` probes in flight (default: the worker's CPU count), each
``ffprobe -show_format -show_streams`` through ``ctx.run_tool`` with
``timeout_s``; a probe that hangs (a FIFO with no writer, a dead network
mount) has its process group killed and the file becomes a ``timeout``
item while the others go on.  It waits on the probes and on the cancel
event together, so a cancel is seen at once: the probes in flight are
killed, the items reported so far stay.  Discovery runs at most LOOKAHEAD
files ahead.  Item indices follow the walk order (sorted), whatever order
the probes finish in.

``deep=true`` adds a decode check (``ffmpeg -v error -i FILE -f null -``)
after a good probe: a file with decode errors is ``corrupt``.

Item statuses: ok (details: container, duration_s, size_bytes, bit_rate,
streams), corrupt, failed (not a video, empty file), timeout, vanished,
skipped (a job path missing or a folder that cannot be listed).  The job
result counts streams by codec and audio tracks by language, sums the
duration, and lists the files that failed (the first MAX_FAILED_LISTED).
"""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from medialoom.workers.context import JobContext
from medialoom.workers.errors import ToolError, ToolTimeout
from medialoom.workers.fileops.jobs import check_job_paths
from medialoom.workers.fileops.walk import Entry, WalkFilter, take, walk_files, walk_filter
from medialoom.workers.specs.probe import SPEC
from medialoom.workers.video.readers import decode_errors, ffprobe_json, require_tools
from medialoom.workers.video.streams import UnreadableVideo, probe_details, summary

from . import Kind

DISCOVER_BATCH = 256
LOOKAHEAD = 4096
MAX_FAILED_LISTED = 1000

Outcome = tuple[str, str, dict[str, Any]]


@dataclass(frozen=True)
class ProbeOptions:
    """The probe parameters, checked."""

    walk: WalkFilter
    timeout_s: float
    concurrency: int
    deep: bool
    deep_timeout_s: float

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ProbeOptions:
        """Options from validated params (concurrency 0: the CPU count)."""
        return cls(walk=walk_filter(params), timeout_s=float(params["timeout_s"]),
                   concurrency=int(params["concurrency"]) or max(1, os.cpu_count() or 1),
                   deep=bool(params["deep"]), deep_timeout_s=float(params["deep_timeout_s"]))


@dataclass
class ProbeTotals:
    """What the job result sums up."""

    statuses: Counter[str] = field(default_factory=Counter)
    codecs: dict[str, Counter[str]] = field(
        default_factory=lambda: {"video": Counter(), "audio": Counter(), "subtitle": Counter()})
    audio_languages: Counter[str] = field(default_factory=Counter)
    duration_s: float = 0.0
    size_bytes: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)

    def add(self, path: str, status: str, message: str, details: dict[str, Any]) -> None:
        """Count one item."""
        self.statuses[status] += 1
        if status in ("failed", "corrupt", "timeout"):
            if len(self.failed) < MAX_FAILED_LISTED:
                self.failed.append({"path": path, "status": status, "message": message})
        for s in details.get("streams") or []:
            if s["type"] in self.codecs:
                self.codecs[s["type"]][s["codec"] or "unknown"] += 1
            if s["type"] == "audio":
                self.audio_languages[s["language"] or "und"] += 1
        if status in ("ok", "corrupt"):
            self.duration_s += details.get("duration_s") or 0.0
            self.size_bytes += details.get("size_bytes") or 0

    def result(self) -> dict[str, Any]:
        """The job result map."""
        failed_count = sum(self.statuses[s] for s in ("failed", "corrupt", "timeout"))
        return {"files": sum(self.statuses.values()), **dict(self.statuses),
                "codecs": {k: dict(v.most_common()) for k, v in self.codecs.items()},
                "audio_languages": dict(self.audio_languages.most_common()),
                "total_duration_s": round(self.duration_s, 3), "total_size_bytes": self.size_bytes,
                "failed_files": self.failed, "failed_count": failed_count}


async def probe_one(ctx: JobContext, entry: Entry, opts: ProbeOptions) -> Outcome:
    """(status, message, details) of one file."""
    if entry.problem or entry.st is None:
        return "skipped", entry.problem or "cannot read it", {}
    st = entry.st
    if stat.S_ISREG(st.st_mode) and st.st_size == 0:
        return "failed", "empty file (0 bytes): not a video", {"size_bytes": 0}
    try:
        data = await ffprobe_json(ctx, entry.path, opts.timeout_s)
    except ToolTimeout:
        kind = "a FIFO with no writer" if stat.S_ISFIFO(st.st_mode) else \
            "a dead network mount or a stuck device?"
        return "timeout", (f"ffprobe did not finish in {opts.timeout_s:g} s and was killed "
                           f"({kind})"), {}
    except (UnreadableVideo, ToolError) as exc:
        if not await ctx.run_blocking(os.path.lexists, entry.path):
            return "vanished", "removed since the walk", {}
        return "failed", str(exc), {"size_bytes": st.st_size}
    details = probe_details(data, st.st_size)
    if opts.deep:
        try:
            errors = await decode_errors(ctx, entry.path, opts.deep_timeout_s)
        except ToolTimeout:
            return "timeout", f"the decode check did not finish in {opts.deep_timeout_s:g} s", \
                details
        if errors:
            return "corrupt", f"decode errors: {errors[0]}", {**details, "errors": errors}
        details["decoded"] = True
    return "ok", summary(details, os.path.splitext(entry.path)[1].lower().lstrip(".")), details


async def _timed(ctx: JobContext, index: int, entry: Entry, opts: ProbeOptions
                 ) -> tuple[int, Entry, Outcome, float]:
    started = time.perf_counter()
    outcome = await probe_one(ctx, entry, opts)
    return index, entry, outcome, (time.perf_counter() - started) * 1000


async def run(ctx: JobContext) -> dict[str, Any]:
    """Probe every file under the job paths; the totals as the job result."""
    opts = ProbeOptions.from_params(ctx.params)
    await ctx.run_blocking(require_tools, "ffprobe", *(["ffmpeg"] if opts.deep else []))
    paths = await check_job_paths(ctx)
    walk = walk_files(paths, opts.walk, fifos=True)
    totals = ProbeTotals()
    queue: deque[tuple[int, Entry]] = deque()
    inflight: set[asyncio.Task[tuple[int, Entry, Outcome, float]]] = set()
    discovered = 0
    cancelled = asyncio.ensure_future(ctx.cancel_event.wait())
    try:
        while True:
            if not walk.done and len(queue) < LOOKAHEAD:  # one batch per turn
                entries = await ctx.run_blocking(take, walk, DISCOVER_BATCH)
                ctx.add_total(len(entries))
                queue.extend(enumerate(entries, discovered))
                discovered += len(entries)
            while queue and len(inflight) < opts.concurrency:
                index, entry = queue.popleft()
                inflight.add(asyncio.ensure_future(_timed(ctx, index, entry, opts)))
            if not inflight:
                break
            done, _ = await asyncio.wait({*inflight, cancelled},
                                         return_when=asyncio.FIRST_COMPLETED)
            for task in done - {cancelled}:
                inflight.discard(task)
                index, entry, (status, message, details), ms = task.result()
                ctx.item(entry.path, status, message, duration_ms=ms, details=details,
                         index=index)
                totals.add(entry.path, status, message, details)
            await ctx.checkpoint()
    finally:
        for task in (*inflight, cancelled):
            task.cancel()  # each probe's tool is killed (tools.run_tool)
        await asyncio.gather(*inflight, cancelled, return_exceptions=True)
    ctx.log("probed %d files: %s", discovered, dict(totals.statuses))
    return totals.result()


KIND = Kind(spec=SPEC, run=run)

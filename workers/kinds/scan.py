"""Kind ``scan``: walk the job's paths and report format, stream info and tags of every file.

Theory of operation.  A Walker (plain, blocking) walks each job path
depth-first with ``os.scandir``, entries sorted by name, so a retried
attempt meets the files in the same order and gives them the same item
indices.  Directory symlinks are never followed (a root given as a symlink
is, once it passed the library-root check).  The coroutine alternates two
kinds of blocking step in the thread pool, with ``await ctx.checkpoint()``
after each so a cancel is honoured within one step:

- discover: the walker handles up to DISCOVER_ENTRIES directory entries and
  hands back the files that pass the filters; the total grows by that many.
  Discovery runs at most LOOKAHEAD files ahead of reading, so a library of a
  million files is never held in memory as one list.
- read: READ_CHUNK discovered files are checked against the library roots,
  stat'ed and parsed with mutagen (workers/tags.py); one item each.

Item statuses: "ok" (details: size, mtime, format, duration_s, bitrate,
sample_rate, channels, tags), "failed" (unreadable or corrupt file),
"skipped" (vanished since the walk, outside the library roots, job path
missing or a directory that cannot be listed).
"""

from __future__ import annotations

import os
import stat
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from medialoom.workers.context import JobContext
from medialoom.workers.errors import PathForbidden
from medialoom.workers.specs.scan import AUDIO_EXTENSIONS, SPEC
from medialoom.workers.tags import UnreadableAudio, read_tags

from . import Kind

DISCOVER_ENTRIES = 512
READ_CHUNK = 48
LOOKAHEAD = 20_000


@dataclass(frozen=True)
class ScanOptions:
    """The scan parameters, normalised (lower-case globs and extensions, absolute cut-off)."""

    recursive: bool = True
    pattern: str = "*"
    exclude: tuple[str, ...] = ()
    min_size: int = 0
    min_mtime: float | None = None
    extensions: frozenset[str] = frozenset(AUDIO_EXTENSIONS)
    audio_only: bool = True

    @classmethod
    def from_params(cls, params: dict[str, Any], now: float) -> ScanOptions:
        """Options from validated job params; now is the clock for max_age_days."""
        age_days = float(params.get("max_age_days", 0) or 0)
        return cls(
            recursive=bool(params.get("recursive", True)),
            pattern=str(params.get("pattern", "*") or "*").lower(),
            exclude=tuple(str(p).lower() for p in params.get("exclude", []) or []),
            min_size=int(params.get("min_size", 0) or 0),
            min_mtime=now - age_days * 86400 if age_days > 0 else None,
            extensions=frozenset(str(e).lower().lstrip(".")
                                 for e in params.get("extensions", AUDIO_EXTENSIONS)),
            audio_only=bool(params.get("audio_only", True)),
        )

    def excluded(self, name: str, rel: str) -> bool:
        """True if an exclude glob matches the entry's name or its path relative to the job path."""
        name, rel = name.lower(), rel.lower()
        return any(fnmatchcase(name, p) or fnmatchcase(rel, p) for p in self.exclude)

    def is_audio(self, name: str) -> bool:
        """True if the file name's extension is one of the audio extensions."""
        return os.path.splitext(name)[1].lower().lstrip(".") in self.extensions


@dataclass(slots=True)
class Found:
    """One discovered file (or a problem to report as a skipped item when problem is set)."""

    path: str
    audio: bool = True
    problem: str = ""


class Walker:
    """Sorted, resumable depth-first walk of the job paths; blocking, one batch per call."""

    def __init__(self, paths: list[str], options: ScanOptions,
                 check_path: Callable[[str], str]) -> None:
        self.options = options
        self.check_path = check_path
        self.done = False
        self.ignored = 0  # files that did not pass the filters
        self.links_not_followed = 0
        self._roots = deque(paths)
        # one frame per open directory: (its path relative to the job path plus "/",
        # its entries not yet visited, sorted by name in reverse so pop() gives the next)
        self._stack: list[tuple[str, list[os.DirEntry[str]]]] = []

    def next_batch(self, max_entries: int) -> list[Found]:
        """Handle up to max_entries directory entries; the files among them that pass."""
        found: list[Found] = []
        handled = 0
        while handled < max_entries and (self._stack or self._roots):
            if not self._stack:
                self._start(self._roots.popleft(), found)
            else:
                prefix, entries = self._stack[-1]
                if not entries:
                    self._stack.pop()
                    continue
                self._visit(prefix, entries.pop(), found)
            handled += 1
        self.done = not self._stack and not self._roots
        return found

    def _start(self, path: str, found: list[Found]) -> None:
        try:
            self.check_path(path)
            st = os.stat(path)
        except PathForbidden as exc:
            found.append(Found(path, problem=str(exc)))
            return
        except FileNotFoundError:
            found.append(Found(path, problem="not found"))
            return
        except OSError as exc:
            found.append(Found(path, problem=f"cannot stat: {exc.strerror or exc}"))
            return
        if stat.S_ISDIR(st.st_mode):
            self._push("", path, found)
        elif stat.S_ISREG(st.st_mode):
            name = os.path.basename(path)
            self._consider(path, name, name, st, found)

    def _push(self, prefix: str, directory: str, found: list[Found]) -> None:
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name, reverse=True)
        except FileNotFoundError:
            return  # removed while we walked
        except OSError as exc:
            found.append(Found(directory, problem=f"cannot list directory: {exc.strerror or exc}"))
            return
        self._stack.append((prefix, entries))

    def _visit(self, prefix: str, entry: os.DirEntry[str], found: list[Found]) -> None:
        rel = prefix + entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                if self.options.recursive and not self.options.excluded(entry.name, rel):
                    self._push(rel + "/", entry.path, found)
                return
            if entry.is_symlink() and entry.is_dir():
                self.links_not_followed += 1
                return
            if not entry.is_file():
                return  # broken symlink, fifo, socket, device
            st = entry.stat()
        except FileNotFoundError:
            return  # removed while we walked
        except OSError as exc:
            found.append(Found(entry.path, problem=f"cannot stat: {exc.strerror or exc}"))
            return
        self._consider(entry.path, entry.name, rel, st, found)

    def _consider(self, path: str, name: str, rel: str, st: os.stat_result,
                  found: list[Found]) -> None:
        opts = self.options
        audio = opts.is_audio(name)
        if ((opts.audio_only and not audio)
                or not fnmatchcase(name.lower(), opts.pattern)
                or opts.excluded(name, rel)
                or st.st_size < opts.min_size
                or (opts.min_mtime is not None and st.st_mtime < opts.min_mtime)):
            self.ignored += 1
            return
        found.append(Found(path, audio=audio))


def examine(found: Found, check_path: Callable[[str], str]) -> tuple[str, str, dict[str, Any]]:
    """Status, message and details of one discovered file (blocking: realpath, stat, mutagen)."""
    if found.problem:
        return "skipped", found.problem, {}
    try:
        real = check_path(found.path)
        st = os.stat(real)
    except PathForbidden as exc:
        return "skipped", str(exc), {}
    except FileNotFoundError:
        return "skipped", "vanished", {}
    except OSError as exc:
        return "failed", f"cannot stat: {exc.strerror or exc}", {}
    details: dict[str, Any] = {"size": st.st_size, "mtime": st.st_mtime}
    if not found.audio:
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


def examine_chunk(chunk: list[Found], check_path: Callable[[str], str]
                  ) -> list[tuple[str, str, dict[str, Any], float]]:
    """examine() for each file of a chunk, with the time each took in ms (one pool call)."""
    out = []
    for found in chunk:
        started = time.perf_counter()
        status, message, details = examine(found, check_path)
        out.append((status, message, details, (time.perf_counter() - started) * 1000))
    return out


async def run(ctx: JobContext) -> dict[str, Any]:
    """Walk ctx.paths and record one item per file that passes the filters.

    Returns {files: items recorded, bytes: their total size, formats: {format: files read},
    failed, skipped, ignored: files the filters left out, links_not_followed}.
    """
    walker = Walker(list(ctx.paths), ScanOptions.from_params(ctx.params, time.time()),
                    ctx.check_path)
    queue: deque[Found] = deque()
    formats: Counter[str] = Counter()
    size_bytes = index = 0
    ctx.set_total(0)
    while not walker.done or queue:
        if not walker.done and len(queue) < LOOKAHEAD:
            batch = await ctx.run_blocking(walker.next_batch, DISCOVER_ENTRIES)
            queue.extend(batch)
            ctx.add_total(len(batch))
        if queue and (len(queue) >= READ_CHUNK or walker.done):
            chunk = [queue.popleft() for _ in range(min(READ_CHUNK, len(queue)))]
            results = await ctx.run_blocking(examine_chunk, chunk, ctx.check_path)
            for found, (status, message, details, ms) in zip(chunk, results, strict=True):
                ctx.item(found.path, status, message, duration_ms=ms, details=details,
                         index=index)
                index += 1
                size_bytes += details.get("size", 0)
                if status == "ok" and details.get("format"):
                    formats[details["format"]] += 1
        await ctx.checkpoint()
    return {"files": index, "bytes": size_bytes, "formats": dict(sorted(formats.items())),
            "failed": ctx.failed, "skipped": ctx.skipped, "ignored": walker.ignored,
            "links_not_followed": walker.links_not_followed}


KIND = Kind(spec=SPEC, run=run)

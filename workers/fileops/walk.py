"""The one walk of the job paths, with the filters every walking kind shares (blocking).

``walk_files(paths, filt)`` is a lazy iterator of Entry: the regular files
under the job paths (a path may be a file) that pass the WalkFilter, and the
problems met on the way (a job path missing or outside the library roots, a
folder that cannot be listed) as entries with ``problem`` set.  Pull batches
with ``take(walk, n)`` through ``ctx.run_blocking``; the walk resumes where
the last batch stopped.

Order: a folder's files in name order, then its subfolders in name order,
depth first, so a plan (or a scan's item indices) is the same every time
the same tree is walked, and the files of one folder come together.
Symbolic links are neither followed nor yielded (counted in
``links_not_followed``), except a job path given as a link; this package's
temporary files, the folders in ``skip`` and, with ``hidden=False``, names
starting with ``.`` are passed over too.  Folders an ``exclude`` glob
matches are not entered at all.

The filters (params built by workers/specs/walking.py, globs by
fileops.globs, matched case-insensitively on the path relative to the job
path): ``recursive``, ``pattern``, ``exclude``, ``min_size`` (bytes),
``max_age_days`` (modified within; 0: any) and ``extensions`` (without the
dot; empty: any).  Files left out are counted by reason in
``walk.ignored`` (pattern, exclude, extension, size, age).
"""

from __future__ import annotations

import itertools
import os
import stat
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from medialoom.workers.errors import JobFailed, PathForbidden

from .apply import TEMP_PREFIX
from .globs import Glob, GlobSet, compile_glob

__all__ = ["Entry", "Walk", "WalkFilter", "take", "walk_files", "walk_filter"]

#: the filter reasons counted in Walk.ignored, in the order they are tested
REASONS = ("extension", "pattern", "exclude", "size", "age")
#: patterns that let every file through
MATCH_ALL = frozenset({"*", "**", "**/*"})


@dataclass(slots=True)
class Entry:
    """A regular file and its lstat, or a path with the problem met there.

    rel is the path relative to its job path, ``/``-separated (the file's name
    for a job path that is a file).
    """

    path: str
    st: os.stat_result | None
    problem: str = ""
    rel: str = ""


def _extensions(values: Iterable[str]) -> frozenset[str]:
    return frozenset(str(e).lower().strip().lstrip(".") for e in values if str(e).strip(" ."))


@dataclass(frozen=True)
class WalkFilter:
    """Which files a walk yields; build it with ``WalkFilter.from_params(params)``."""

    recursive: bool = True
    pattern: Glob | None = None  # None: every file
    exclude: GlobSet = field(default_factory=lambda: GlobSet(()))
    min_size: int = 0
    min_mtime: float | None = None  # files modified before are left out
    extensions: frozenset[str] = frozenset()  # empty: any

    @classmethod
    def from_params(cls, params: dict[str, Any], now: float | None = None) -> WalkFilter:
        """The filter of a job's params (missing ones: no filtering); ValueError on a bad glob.

        now is the clock max_age_days counts back from (default: time.time()).
        """
        pattern = str(params.get("pattern") or "*")
        age_days = float(params.get("max_age_days") or 0)
        return cls(
            recursive=bool(params.get("recursive", True)),
            pattern=(None if pattern in MATCH_ALL
                     else compile_glob(pattern, trailing_slash="inside")),
            exclude=GlobSet(str(p) for p in params.get("exclude") or ()),
            min_size=int(params.get("min_size") or 0),
            min_mtime=((time.time() if now is None else now) - age_days * 86400
                       if age_days > 0 else None),
            extensions=_extensions(params.get("extensions") or ()),
        )

    def with_extensions(self, extensions: Iterable[str]) -> WalkFilter:
        """A copy with other extensions (empty: any)."""
        return WalkFilter(self.recursive, self.pattern, self.exclude, self.min_size,
                          self.min_mtime, _extensions(extensions))

    def reason(self, name: str, rel: str, st: os.stat_result) -> str:
        """Why a file is left out ("" when it passes): one of REASONS."""
        return self.name_reason(name, rel) or self.stat_reason(st)

    def name_reason(self, name: str, rel: str) -> str:
        """Why a file is left out by its name alone: extension, pattern, exclude or ""."""
        if self.extensions:
            dot = name.rfind(".")
            if dot <= 0 or name[dot + 1:].lower() not in self.extensions:
                return "extension"
        if self.pattern is not None and not self.pattern.match(rel):
            return "pattern"
        if self.exclude and self.exclude.match(rel):
            return "exclude"
        return ""

    def stat_reason(self, st: os.stat_result) -> str:
        """Why a file is left out by its lstat: size, age or ""."""
        if st.st_size < self.min_size:
            return "size"
        if self.min_mtime is not None and st.st_mtime < self.min_mtime:
            return "age"
        return ""

    def prunes(self, rel: str) -> bool:
        """True if the folder at rel is excluded (not entered)."""
        return bool(self.exclude) and self.exclude.match(rel, is_dir=True)


NO_FILTER = WalkFilter()


def walk_filter(params: dict[str, Any], now: float | None = None) -> WalkFilter:
    """WalkFilter.from_params for a kind's run: a bad glob fails the job with job.bad_params
    (START refuses it already; a job that did not come through START may carry one)."""
    try:
        return WalkFilter.from_params(params, now)
    except ValueError as exc:
        raise JobFailed(f"bad walk filter: {exc}", code="job.bad_params") from None


class Walk(Iterator[Entry]):
    """The lazy, resumable walk walk_files returns, with its counters."""

    def __init__(self, paths: Iterable[str], filt: WalkFilter, skip: frozenset[str],
                 hidden: bool, check_path: Callable[[str], object] | None,
                 fifos: bool = False) -> None:
        self.filt = filt
        self._fifos = fifos
        self.ignored: Counter[str] = Counter()  # files left out, by reason
        self.pruned = 0  # folders not entered (exclude)
        self.links_not_followed = 0
        self.yielded = 0
        self.done = False
        self._skip = skip
        self._hidden = hidden
        self._check = check_path
        self._roots = deque(paths)
        self._gen = self._generate()

    def __repr__(self) -> str:
        return (f"<Walk yielded={self.yielded} ignored={sum(self.ignored.values())} "
                f"pruned={self.pruned} links_not_followed={self.links_not_followed}>")

    def __next__(self) -> Entry:
        try:
            entry = next(self._gen)
        except StopIteration:
            self.done = True
            raise
        self.yielded += 1
        return entry

    @property
    def ignored_total(self) -> int:
        """Files the filters left out."""
        return sum(self.ignored.values())

    def _generate(self) -> Iterator[Entry]:
        while self._roots:
            top = self._roots.popleft()
            try:
                if self._check is not None:
                    self._check(top)
                st = os.stat(top)
            except PathForbidden as exc:
                yield Entry(top, None, str(exc))
                continue
            except FileNotFoundError:
                yield Entry(top, None, "not found")
                continue
            except OSError as exc:
                yield Entry(top, None, f"cannot stat: {exc.strerror or exc}")
                continue
            if stat.S_ISREG(st.st_mode) or (self._fifos and stat.S_ISFIFO(st.st_mode)):
                name = os.path.basename(top)
                why = self.filt.reason(name, name, st)
                if why:
                    self.ignored[why] += 1
                else:
                    yield Entry(top, st, "", name)
            elif stat.S_ISDIR(st.st_mode) and top not in self._skip:
                yield from self._walk_dir(top)

    def _walk_dir(self, top: str) -> Iterator[Entry]:
        filt, skip, hidden = self.filt, self._skip, self._hidden
        stack = [(top, "")]
        while stack:
            folder, prefix = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name)
            except FileNotFoundError:
                continue  # removed while we walked
            except OSError as exc:
                yield Entry(folder, None, f"cannot list folder: {exc.strerror or exc}",
                            prefix.rstrip("/"))
                continue
            subdirs = []
            for entry in entries:
                name = entry.name
                if name.startswith(TEMP_PREFIX) or (not hidden and name.startswith(".")):
                    continue
                rel = prefix + name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if filt.recursive and entry.path not in skip:
                            if filt.prunes(rel):
                                self.pruned += 1
                            else:
                                subdirs.append((entry.path, rel + "/"))
                        continue
                    if entry.is_symlink():
                        self.links_not_followed += 1
                        continue
                    if not entry.is_file(follow_symlinks=False) and not (
                            self._fifos and stat.S_ISFIFO(entry.stat(follow_symlinks=False)
                                                          .st_mode)):
                        continue  # fifo, socket, device
                    why = filt.name_reason(name, rel)  # before the lstat: names cost nothing
                    if why:
                        self.ignored[why] += 1
                        continue
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    yield Entry(entry.path, None, f"cannot stat: {exc.strerror or exc}", rel)
                    continue
                why = filt.stat_reason(st)
                if why:
                    self.ignored[why] += 1
                    continue
                yield Entry(entry.path, st, "", rel)
            stack.extend(reversed(subdirs))


def walk_files(paths: Iterable[str], filt: WalkFilter | None = None, *,
               skip: frozenset[str] = frozenset(), hidden: bool = True,
               check_path: Callable[[str], object] | None = None, fifos: bool = False) -> Walk:
    """The files under paths that pass filt (default: all), lazily; see the module doc.

    check_path(job path) may raise PathForbidden (workers/errors.py): that
    path becomes a problem entry and is not walked (``ctx.check_path``).
    fifos=True yields named pipes too, as files (kind probe: a FIFO named
    ``.mkv`` must meet ffprobe and its timeout, not vanish from the results).
    """
    return Walk(paths, filt or NO_FILTER, skip, hidden, check_path, fifos)


def take(walk: Iterator[Entry], n: int) -> list[Entry]:
    """The next n entries of walk (fewer at its end)."""
    return list(itertools.islice(walk, n))

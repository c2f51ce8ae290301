"""A sorted, lazy walk of the job paths for the file-changing kinds (blocking generator).

Directories are listed with ``os.scandir`` and visited in name order, so a
plan is the same every time the same tree is planned.  Symbolic links are
neither followed nor yielded (renaming or deduplicating a link is never what
the user meant), nor are this package's temporary files or the folders in
``skip``.  Pull batches with ``take(walk, n)`` through ``ctx.run_blocking``.
"""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .apply import TEMP_PREFIX

__all__ = ["Entry", "take", "walk_files"]


@dataclass(slots=True)
class Entry:
    """A regular file and its lstat, or a path with the problem met there."""

    path: str
    st: os.stat_result | None
    problem: str = ""


def walk_files(paths: list[str], *, recursive: bool = True,
               accept: Callable[[str], bool] | None = None, hidden: bool = True,
               skip: frozenset[str] = frozenset()) -> Iterator[Entry]:
    """Regular files under paths (a path may be a file), name order, depth first."""
    for top in paths:
        try:
            st = os.lstat(top)
        except OSError as exc:
            yield Entry(top, None, f"cannot read {top}: {exc.strerror or exc}")
            continue
        if stat.S_ISREG(st.st_mode):
            yield Entry(top, st)
        elif stat.S_ISDIR(st.st_mode) and top not in skip:
            yield from _walk_dir(top, recursive, accept, hidden, skip)


def _walk_dir(top: str, recursive: bool, accept: Callable[[str], bool] | None, hidden: bool,
              skip: frozenset[str]) -> Iterator[Entry]:
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except FileNotFoundError:
            continue
        except OSError as exc:
            yield Entry(folder, None, f"cannot list folder: {exc.strerror or exc}")
            continue
        subdirs = []
        for entry in entries:
            name = entry.name
            if name.startswith(TEMP_PREFIX) or (not hidden and name.startswith(".")):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive and entry.path not in skip:
                        subdirs.append(entry.path)
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue  # symlink, fifo, socket, device
                if accept is not None and not accept(name):
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            except OSError as exc:
                yield Entry(entry.path, None, f"cannot stat: {exc.strerror or exc}")
                continue
            yield Entry(entry.path, st)
        stack.extend(reversed(subdirs))


def take(walk: Iterator[Entry], n: int) -> list[Entry]:
    """The next n entries of walk (fewer at its end)."""
    return list(itertools.islice(walk, n))

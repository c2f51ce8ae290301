"""Duplicate detection for kind ``dedupe``: size groups, partial hash, full hash (blocking parts).

Stages, each only over the survivors of the one before:

1. ``SizeIndex``: files by size from the walk's lstat results; paths that
   are hard links of one inode are one file (its ``names``), never
   duplicates of each other; a size with fewer than two inodes is dropped.
2. ``partial`` blake2b digest of the first and last 64 KiB, for files
   larger than 128 KiB (smaller ones go straight to the full stage, which
   costs the same).
3. ``full`` blake2b digest of the whole file (of the partial digest and
   the middle when a partial digest exists: every byte is hashed once).

A group of up to COMPARE_MAX files (a size group, or what the partial
stage leaves) skips the hashing: ``compare_groups`` reads its files side by
side, first and last 64 KiB first, and compares the bytes
(fileops.compare) -- the same two stages, exact instead of probable, for
the cost of a read instead of a read plus blake2b (most duplicate groups
are pairs).  A file whose size or mtime changed while it was read is
dropped from its group.

``choose_keep`` picks the file to keep by policy: ``oldest`` (mtime, then
shortest path), ``shortest_path`` (then oldest), ``preferred_root`` (files
under that folder first, then oldest).  Ties end on the path, so the choice
is the same every time.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from .compare import split_by_content, unchanged
from .hashing import PARTIAL_BYTES, file_digest, partial_digest

__all__ = ["KEEP_POLICIES", "FileRef", "SizeIndex", "choose_keep", "compare_groups", "hash_refs",
           "regroup"]

KEEP_POLICIES = ("oldest", "shortest_path", "preferred_root")


@dataclass(slots=True)
class FileRef:
    """One inode: its first path in walk order, every name it has, and its stat."""

    path: str
    st: os.stat_result
    names: list[str] = field(default_factory=list)
    partial: str = ""  # the partial digest, once computed


class SizeIndex:
    """Files by size, hard links folded into one FileRef per inode."""

    def __init__(self, min_size: int = 1) -> None:
        self.min_size = min_size
        self.files = 0
        self._by_size: dict[int, dict[tuple[int, int], FileRef]] = defaultdict(dict)

    def add(self, path: str, st: os.stat_result) -> None:
        """Count one walked file; keep it when it is at least min_size bytes."""
        self.files += 1
        if st.st_size < self.min_size:
            return
        inodes = self._by_size[st.st_size]
        ref = inodes.get((st.st_dev, st.st_ino))
        if ref is None:
            inodes[(st.st_dev, st.st_ino)] = FileRef(path, st, [path])
        else:
            ref.names.append(path)

    def candidates(self) -> list[list[FileRef]]:
        """Groups of two or more distinct inodes of one size, largest size first."""
        return [list(inodes.values()) for size, inodes in
                sorted(self._by_size.items(), reverse=True) if len(inodes) > 1]


def needs_partial(ref: FileRef) -> bool:
    """True when a partial hash is cheaper than the full hash for this file."""
    return ref.st.st_size > 2 * PARTIAL_BYTES


def hash_refs(refs: list[FileRef], stage: str) -> list[str | None]:
    """Digest of each file for stage "partial" or "full"; None if unreadable or changed."""
    out: list[str | None] = []
    for ref in refs:
        size = ref.st.st_size
        try:
            if stage == "partial":
                ref.partial = partial_digest(ref.path, size)
                out.append(ref.partial)
                continue
            digest = file_digest(ref.path, size, ref.partial)
            out.append(digest if unchanged(ref) else None)
        except OSError:
            out.append(None)
    return out


def compare_groups(groups: list[list[FileRef]]) -> list[list[list[FileRef]]]:
    """For each group of same-size files, its sub-groups of identical content."""
    return [split_by_content(group) for group in groups]


def regroup(group: list[FileRef], digests: Iterable[str | None]) -> list[list[FileRef]]:
    """Split a group by digest; drop files without one and groups of one."""
    parts: dict[str, list[FileRef]] = defaultdict(list)
    for ref, digest in zip(group, digests, strict=True):
        if digest is not None:
            parts[digest].append(ref)
    return [refs for refs in parts.values() if len(refs) > 1]


def choose_keep(group: list[FileRef], policy: str, preferred_root: str = "") -> FileRef:
    """The file of a duplicate group to keep under policy."""
    prefix = preferred_root.rstrip("/") + "/"

    def key(ref: FileRef) -> tuple[int, int, int, str]:
        preferred = 0 if preferred_root and ref.path.startswith(prefix) else 1
        age, length = ref.st.st_mtime_ns, len(ref.path)
        if policy == "shortest_path":
            return (0, length, age, ref.path)
        return (preferred if policy == "preferred_root" else 0, age, length, ref.path)

    return min(group, key=key)

"""Exact duplicate test for small groups: read the files side by side and compare bytes.

``split_by_content`` takes files of one size, opens them all, and reads
them in lockstep -- the first and the last 64 KiB first (where same-size
files usually differ: headers, tags, trailers), then the middle in 1 MiB
chunks -- splitting the group whenever a chunk differs and dropping files
left alone, so it stops reading as soon as nothing can match any more.
Every byte of a duplicate is read once and compared, never hashed: exact,
and cheaper than a cryptographic hash of each file.  Kind dedupe uses it
for groups of up to COMPARE_MAX files; larger groups are first split by
hashes (fileops.dupes).
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from typing import Protocol, TypeVar

from .hashing import CHUNK_BYTES, PARTIAL_BYTES

__all__ = ["COMPARE_MAX", "split_by_content", "unchanged"]

COMPARE_MAX = 16


class _Sized(Protocol):
    path: str
    st: os.stat_result


T = TypeVar("T", bound=_Sized)


def _spans(size: int) -> list[tuple[int, int]]:
    if size <= 2 * PARTIAL_BYTES:
        return [(0, size)]
    tail = size - PARTIAL_BYTES
    return [(0, PARTIAL_BYTES), (tail, size), (PARTIAL_BYTES, tail)]


def _partition(members: list[int], chunks: dict[int, bytes]) -> list[list[int]]:
    buckets: list[tuple[bytes, list[int]]] = []
    for index in members:
        data = chunks[index]
        for first, same in buckets:
            if first == data:
                same.append(index)
                break
        else:
            buckets.append((data, [index]))
    return [same for _, same in buckets if len(same) > 1]


def split_by_content(group: list[T]) -> list[list[T]]:
    """The sub-groups (two or more) of same-size files holding identical bytes.

    A file that cannot be read, or whose size or mtime changed meanwhile, is
    left out.
    """
    size = group[0].st.st_size
    with ExitStack() as stack:
        handles = {}
        for index, ref in enumerate(group):
            try:
                handles[index] = stack.enter_context(open(ref.path, "rb", buffering=0))
            except OSError:
                continue
        classes = [sorted(handles)] if len(handles) > 1 else []
        for start, end in _spans(size):
            pos = start
            while pos < end and classes:
                want = min(CHUNK_BYTES, end - pos)
                chunks = {}
                for index in (i for members in classes for i in members):
                    fh = handles[index]
                    fh.seek(pos)
                    chunks[index] = fh.read(want)
                for index in [i for i, data in chunks.items() if len(data) != want]:
                    chunks[index] = b""  # shorter than its size: changed, matches nothing
                classes = [c for members in classes for c in _partition(members, chunks)
                           if chunks[c[0]]]
                pos += want
    return [kept for members in classes
            if len(kept := [group[i] for i in members if unchanged(group[i])]) > 1]


def unchanged(ref: _Sized) -> bool:
    """True when ref's file still has the size and mtime it had when it was walked."""
    try:
        after = os.stat(ref.path)
    except OSError:
        return False
    return (after.st_size, after.st_mtime_ns) == (ref.st.st_size, ref.st.st_mtime_ns)

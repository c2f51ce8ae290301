"""The duplicate search of kind ``dedupe``: walk, size groups, compare or hash (async part).

``find_duplicates`` indexes the walk by size (fileops.dupes.SizeIndex),
then compares groups of up to COMPARE_MAX files byte by byte
(fileops.compare) while larger groups are split by a partial and a full
blake2b hash; pairs or small groups a partial hash leaves are compared too.
Blocking work runs through ``ctx.run_blocking`` in chunks of about
HASH_CHUNK_BYTES, HASH_PARALLEL chunks at a time per stage, with
``await ctx.checkpoint()`` after each chunk, so a cancel is honoured within
one chunk.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from medialoom.workers.context import JobContext
from medialoom.workers.errors import JobCancelled

from .compare import COMPARE_MAX
from .dupes import FileRef, SizeIndex, compare_groups, hash_refs, needs_partial, regroup
from .hashing import PARTIAL_BYTES
from .walk import WalkFilter, take, walk_files

__all__ = ["Found", "find_duplicates"]

WALK_BATCH = 2048
HASH_PARALLEL = max(2, min(4, os.cpu_count() or 2))
HASH_CHUNK_BYTES = 32 << 20
HASH_CHUNK_FILES = 256
T = TypeVar("T")
R = TypeVar("R")


@dataclass
class Found:
    """What the search found: groups (kept file first) and counters for the result."""

    groups: list[list[FileRef]] = field(default_factory=list)
    files: int = 0
    hashed_bytes: int = 0
    compared_bytes: int = 0
    ignored: dict[str, int] = field(default_factory=dict)  # files the filters left out


async def find_duplicates(ctx: JobContext, paths: list[str], skip: frozenset[str],
                          filt: WalkFilter) -> Found:
    """Walk paths (the files filt lets through) and return the duplicate groups
    (unordered inside)."""
    index = SizeIndex(filt.min_size)
    walk = walk_files(paths, filt, skip=skip)

    def index_next() -> int:
        batch = take(walk, WALK_BATCH)
        for entry in batch:
            if entry.st is not None:
                index.add(entry.path, entry.st)
        return len(batch)

    while await ctx.run_blocking(index_next):
        ctx.set_current(f"indexing: {index.files} files")
        await ctx.checkpoint()
    found = Found(files=index.files, ignored=dict(sorted(walk.ignored.items())))
    groups = index.candidates()
    small = [g for g in groups if len(g) <= COMPARE_MAX]
    try:  # small groups are compared (reads) while larger ones are hashed (CPU)
        async with asyncio.TaskGroup() as tg:
            compared = tg.create_task(compare(ctx, small))
            leftover, found.groups, found.hashed_bytes = await hash_groups(
                ctx, [g for g in groups if len(g) > COMPARE_MAX])
    except* JobCancelled as group:
        raise group.exceptions[0] from None
    found.groups += compared.result() + await compare(ctx, leftover)
    found.compared_bytes = sum(len(g) * g[0].st.st_size for g in small + leftover)
    return found


async def compare(ctx: JobContext, groups: list[list[FileRef]]) -> list[list[FileRef]]:
    """The groups of identical content found inside groups (compared byte by byte)."""
    parts = await in_threads(ctx, compare_groups, groups, lambda g: len(g) * g[0].st.st_size,
                             "compare")
    return [same for split_group in parts for same in split_group]


async def hash_groups(ctx: JobContext, groups: list[list[FileRef]]
                      ) -> tuple[list[list[FileRef]], list[list[FileRef]], int]:
    """Partial then full hash of large groups: (small groups left to compare, groups, bytes)."""
    multi = [g for g in groups if not needs_partial(g[0])]
    multi += await split(ctx, [g for g in groups if needs_partial(g[0])], "partial")
    full = [g for g in multi if len(g) > COMPARE_MAX]
    hashed = sum(r.st.st_size for g in full for r in g)
    return ([g for g in multi if len(g) <= COMPARE_MAX], await split(ctx, full, "full"),
            hashed)


async def split(ctx: JobContext, groups: list[list[FileRef]], stage: str
                ) -> list[list[FileRef]]:
    """Split groups by the stage's digest (partial or full); groups of one are dropped."""
    refs = [ref for group in groups for ref in group]
    limit = 2 * PARTIAL_BYTES if stage == "partial" else None
    digests = await in_threads(ctx, functools.partial(hash_refs, stage=stage), refs,
                               lambda r: min(r.st.st_size, limit or r.st.st_size), stage)
    out: list[list[FileRef]] = []
    pos = 0
    for group in groups:
        out.extend(regroup(group, digests[pos:pos + len(group)]))
        pos += len(group)
    return out


async def in_threads(ctx: JobContext, fn: Callable[[list[T]], list[R]], units: list[T],
                     weight: Callable[[T], int], label: str) -> list[R]:
    """fn over units, in chunks of about HASH_CHUNK_BYTES, HASH_PARALLEL chunks at once."""
    chunks: list[tuple[int, int]] = []
    start = size = 0
    for pos, unit in enumerate(units):
        size += weight(unit)
        if size >= HASH_CHUNK_BYTES or pos + 1 - start >= HASH_CHUNK_FILES:
            chunks.append((start, pos + 1))
            start, size = pos + 1, 0
    if start < len(units):
        chunks.append((start, len(units)))
    results: list[Any] = [None] * len(units)
    pending = iter(chunks)
    done = 0

    async def runner() -> None:
        nonlocal done
        for lo, hi in pending:
            results[lo:hi] = await ctx.run_blocking(fn, units[lo:hi])
            done += hi - lo
            ctx.set_current(f"{label}: {done} of {len(units)}")
            await ctx.checkpoint()

    try:
        async with asyncio.TaskGroup() as tg:
            for _ in range(min(HASH_PARALLEL, len(chunks))):
                tg.create_task(runner())
    except* JobCancelled as group:
        raise group.exceptions[0] from None
    return results

"""Plan operations carried out by external tools instead of file-system calls.

Most operations (reconcile.py) are a rename, a link or a copy done in a
thread.  Some change a file's content with a tool run through
``ctx.run_tool`` (``audio-default``: mkvpropedit, an ffmpeg remux), which is
async.  ``TOOL_OPS`` maps each such op to the module implementing it,
imported on first use so fileops stays light; the module provides:

- ``async def apply(ctx, row) -> (status, message, details, duration_ms)``:
  reconcile the row with the file (already done / to do / conflict) and,
  when it is to do, do it;
- ``def reverse(row, item_status, check_path) -> row | None`` (blocking, runs
  no tool): the rollback's plan row undoing row;
- ``DONE``: the item statuses that mean the file was changed.

fileops.plan applies consecutive planned rows of these ops at most
TOOL_CONCURRENCY at a time (distinct files: a plan names each file once),
reporting each as it finishes and starting none once a cancel arrived;
undo.reverse_row hands them to ``reverse``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from medialoom.workers.errors import JobCancelled

if TYPE_CHECKING:
    from medialoom.workers.context import JobContext

__all__ = ["TOOL_APPLIED", "TOOL_CONCURRENCY", "TOOL_OPS", "apply_tool_rows", "is_tool_row",
           "tool_module"]

TOOL_OPS = {"audio-default": "medialoom.workers.video.ops",
            "retag": "medialoom.workers.fileops.patch",
            "restore-tags": "medialoom.workers.fileops.patch"}
#: item statuses of tool operations that mean "this operation changed the file"
TOOL_APPLIED = frozenset({"changed", "retagged", "restored"})
TOOL_CONCURRENCY = max(1, os.cpu_count() or 1)

Outcome = tuple[str, str, dict[str, Any], float]


def tool_module(op: str) -> ModuleType:
    """The module implementing a tool operation."""
    return importlib.import_module(TOOL_OPS[op])


def is_tool_row(row: dict[str, Any]) -> bool:
    """True for a planned row of a tool operation (other rows go the thread path)."""
    return row.get("op") in TOOL_OPS and row.get("status") == "planned"


async def apply_tool_rows(ctx: JobContext, rows: list[dict[str, Any]],
                          report: Callable[[dict[str, Any], Outcome], None]) -> None:
    """Apply tool rows, TOOL_CONCURRENCY at a time, reporting each as it finishes.

    Once a cancel arrived no further row starts; the ones running finish (or
    are killed with the task when the cancel grace runs out) and the caller's
    next checkpoint raises JobCancelled.
    """
    slots = asyncio.Semaphore(TOOL_CONCURRENCY)

    async def one(row: dict[str, Any]) -> None:
        async with slots:
            if ctx.cancelled:
                return
            outcome: Outcome = await tool_module(row["op"]).apply(ctx, row)
        report(row, outcome)
        with contextlib.suppress(JobCancelled):  # publish progress; raised after the group
            await ctx.checkpoint()

    try:
        async with asyncio.TaskGroup() as group:
            for row in rows:
                group.create_task(one(row))
    except BaseExceptionGroup as exc:  # an unexpected error: raise it as it is
        raise exc.exceptions[0] from None

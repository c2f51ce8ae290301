"""The plan / apply / reconcile driver every file-changing kind runs (SPEC.md section 8).

A kind supplies a *planner*: an async iterator of batches of operation rows
``{op, src, dst, expect, status, message, details}`` (status ``planned``,
``unchanged``, ``skipped`` or ``conflict``).  ``run_plan`` then:

1. numbers the rows and stores them with ``ctx.add_plan`` and
   ``ctx.plan_complete`` -- unless ``ctx.has_plan`` says a complete plan is
   already stored (a retried attempt): then the planner is not run at all and
   the stored plan, with its targets and counter suffixes, is the plan;
2. in a dry run reports every row as an item (index i = row i) and stops;
3. otherwise reads the stored plan back and applies it in index order in
   chunks, each row reconciled against the disk first (reconcile.apply_op),
   one item per row with the same index, ``await ctx.checkpoint()`` after
   each chunk; rows of operations done by external tools (toolops.py) are
   awaited instead of run in a thread.

Applying from the stored plan on the first attempt too means a first run and
a retry execute exactly the same rows.  Every index is reported once per
attempt; the broker keeps the last report of an index, so counters taken
from one attempt never count an operation twice.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from medialoom.workers.context import JobContext

from .reconcile import apply_op
from .toolops import apply_tool_rows, is_tool_row

__all__ = ["APPLY_CHUNK", "plan_item_details", "run_plan"]

APPLY_CHUNK = 32
DRY_RUN_BATCH = 256
_ROW_DEFAULTS: dict[str, Any] = {"op": "", "src": "", "dst": "", "expect": {},
                                 "status": "planned", "message": "", "details": {}}


def plan_item_details(row: dict[str, Any]) -> dict[str, Any]:
    """The details of the item reporting a plan row: the row's details plus op, old and new."""
    return {**(row.get("details") or {}), "op": row["op"], "old": row["src"], "new": row["dst"]}


async def run_plan(ctx: JobContext, planner: AsyncIterator[list[dict[str, Any]]], *,
                   verify_hash: bool = False) -> dict[str, int]:
    """Plan (or take the stored plan), then report (dry run) or apply it; counts by status."""
    async with aclosing(planner):
        total = await _count_stored(ctx) if ctx.has_plan else await _store(ctx, planner)
    ctx.set_total(total)
    counts: Counter[str] = Counter()
    if ctx.dry_run:
        async with aclosing(ctx.stored_plan()) as rows:
            async for row in rows:
                ctx.item(row["src"] or row["dst"], row["status"], row["message"],
                         details=plan_item_details(row), index=row["i"])
                counts[row["status"]] += 1
                if sum(counts.values()) % DRY_RUN_BATCH == 0:
                    await ctx.checkpoint()
        await ctx.checkpoint()
        return dict(counts)
    chunk: list[dict[str, Any]] = []
    async with aclosing(ctx.stored_plan()) as rows:
        async for row in rows:
            chunk.append(row)
            if len(chunk) >= APPLY_CHUNK:
                await _apply_chunk(ctx, chunk, counts, verify_hash)
                chunk = []
    if chunk:
        await _apply_chunk(ctx, chunk, counts, verify_hash)
    return dict(counts)


async def _store(ctx: JobContext, planner: AsyncIterator[list[dict[str, Any]]]) -> int:
    total = 0
    async for batch in planner:
        for row in batch:
            ctx.add_plan({**_ROW_DEFAULTS, **row, "i": total})
            total += 1
        await ctx.checkpoint()
    ctx.plan_complete()
    ctx.log("planned %d operations", total)
    return total


async def _count_stored(ctx: JobContext) -> int:
    total = 0
    async with aclosing(ctx.stored_plan()) as rows:
        async for _ in rows:
            total += 1
    ctx.log("attempt %d reconciles the stored plan of %d operations", ctx.attempt, total)
    return total


def _apply_rows(rows: list[dict[str, Any]], verify_hash: bool
                ) -> list[tuple[str, str, dict[str, Any], float]]:
    return [apply_op(row, verify_hash=verify_hash) for row in rows]


async def _apply_chunk(ctx: JobContext, rows: list[dict[str, Any]], counts: Counter[str],
                       verify_hash: bool) -> None:
    def report(row: dict[str, Any], outcome: tuple[str, str, dict[str, Any], float]) -> None:
        status, message, details, ms = outcome
        ctx.item(row["src"] or row["dst"], status, message, duration_ms=ms, details=details,
                 index=row["i"])
        counts[status] += 1

    for tool, run in itertools.groupby(rows, is_tool_row):
        group = list(run)
        if tool:  # awaited, each reported as it finishes (toolops.py)
            await apply_tool_rows(ctx, group, report)
            continue
        for row, outcome in zip(group, await ctx.run_blocking(_apply_rows, group, verify_hash),
                                strict=True):
            report(row, outcome)
    await ctx.checkpoint()

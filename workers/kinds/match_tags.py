"""The plan of ``match`` with ``write_tags``: one row per track, in track order.

A matched file whose tags change gets a ``retag`` row (status planned) with
the patch that writes them (catalog/tagwrite.py, fileops/patch.py) and the
fields in ``details.tags``; every other track's row carries its match result
as it is (status matched, ambiguous, no_match, skipped, catalog_error;
matched with "nothing to write" when the tags already hold the values), and
the apply step reports it unchanged.  Outcomes arrive in the order they are
decided; rows go out in index order, planned READ_BATCH at a time in the
thread pool.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from medialoom.workers.catalog.matcher import Outcome
from medialoom.workers.catalog.tagwrite import plan_tags
from medialoom.workers.context import JobContext
from medialoom.workers.fileops.apply import expect_of
from medialoom.workers.fileops.patch import PatchTooLarge

__all__ = ["plan_row", "plan_rows"]


def plan_row(o: Outcome, fields: tuple[str, ...], overwrite: bool) -> dict[str, Any]:
    """The plan row of one track (blocking: reads and, for a matched one, patches a copy)."""
    path = o.source.path
    row: dict[str, Any] = {"op": "retag", "src": path, "dst": path, "status": o.status,
                           "message": o.message, "details": o.details}
    if o.status != "matched":
        return row
    wanted = {name: o.values[name] for name in fields if o.values.get(name)}
    try:
        before = os.lstat(path)
        changes, patch = plan_tags(path, wanted, overwrite)
        after = os.lstat(path)
    except FileNotFoundError:
        return {**row, "status": "vanished", "message": f"{path} vanished before it was tagged"}
    except PatchTooLarge as exc:
        return {**row, "status": "failed", "message": f"matched, but the tag change cannot be "
                                                      f"journaled: {exc}"}
    except (OSError, ValueError) as exc:
        text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return {**row, "status": "failed", "message": f"matched, but the tags cannot be "
                                                      f"written: {text}"}
    except Exception as exc:  # mutagen parser bugs on hostile files: still one bad file
        return {**row, "status": "failed", "message": f"matched, but the tags cannot be "
                                                      f"written: {type(exc).__name__}: {exc}"}
    if expect_of(before) != expect_of(after):
        return {**row, "status": "conflict", "message": f"{path} changed while it was planned"}
    if patch is None:
        return {**row, "message": f"{o.message}; the tags already hold these values"}
    shown = ", ".join(f"{k}={v}" for k, v in changes.items())
    return {**row, "status": "planned", "expect": expect_of(before),
            "message": f"{o.message}; writes {shown}",
            "details": {**o.details, "tags": changes, "patch": patch}}


def _rows(batch: list[Outcome], fields: tuple[str, ...], overwrite: bool
          ) -> list[dict[str, Any]]:
    return [plan_row(o, fields, overwrite) for o in batch]


async def plan_rows(ctx: JobContext, outcomes: AsyncIterator[Outcome], fields: tuple[str, ...],
                    overwrite: bool) -> AsyncIterator[list[dict[str, Any]]]:
    """Batches of plan rows, in track order, from outcomes in any order."""
    waiting: dict[int, Outcome] = {}
    next_index = 0
    async with aclosing(outcomes) as stream:
        async for o in stream:
            waiting[o.source.index] = o
            batch = []
            while next_index in waiting:
                batch.append(waiting.pop(next_index))
                next_index += 1
            if batch:
                ctx.set_current(batch[-1].source.path)
                yield await ctx.run_blocking(_rows, batch, fields, overwrite)

"""Kind ``rollback``: undo the applied operations of another job (param ``job``).

Theory of operation.  The target job's plan and item results are read back
from the broker (``ctx.stored_plan(job)``, ``ctx.stored_items(job)``).  An
operation counts as applied when its item says so (renamed, moved, ...) or,
when its item never arrived (a worker killed mid-batch), when the disk shows
it applied.  The rollback's own plan is the inverse of each such operation
in reverse order (fileops.undo), each reconciled against the disk first,
then the removal of the folders the job created, deepest first, kept when
not empty.  It runs through fileops.plan like every file-changing kind, so
a rollback can be dry-run, retried, and rolled back itself.

Item statuses: restored (or moved / created / removed for the folder rows
and the undo of a rollback), unchanged (already as before), conflict (with
why it could not be restored), skipped (a folder not empty), failed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from medialoom.workers.context import JobContext
from medialoom.workers.errors import JobFailed
from medialoom.workers.fileops.claims import NewDirs
from medialoom.workers.fileops.jobs import bad_params
from medialoom.workers.fileops.plan import run_plan
from medialoom.workers.fileops.reconcile import APPLIED
from medialoom.workers.fileops.undo import dir_rows, reverse_row
from medialoom.workers.specs.rollback import SPEC

from . import Kind

REVERSE_BATCH = 256


async def read_job(ctx: JobContext, job: str
                   ) -> tuple[list[tuple[dict[str, Any], str | None]], list[str]]:
    """(rows of job that were or may have been applied, with their item status; folders
    the job created or may have created)."""
    statuses: dict[int, str] = {}
    folders: list[str] = []
    async for item in ctx.stored_items(job):
        statuses[item["i"]] = item["status"]
        if item["status"] in APPLIED:
            folders.extend((item.get("details") or {}).get("created_dirs", []))
    rows: list[tuple[dict[str, Any], str | None]] = []
    seen = 0
    async for row in ctx.stored_plan(job):
        seen += 1
        status = statuses.get(row["i"])
        if row.get("status") == "planned" and (status is None or status in APPLIED):
            rows.append((row, status))  # applied, or its report was lost: the disk will say
            folders.extend((row.get("details") or {}).get("new_dirs", []))
    if not seen:
        raise JobFailed(f"job {job} has no stored plan: only file-changing jobs can be "
                        f"rolled back", code="job.bad_params")
    return rows, folders


async def planner(ctx: JobContext, job: str) -> AsyncIterator[list[dict[str, Any]]]:
    """The inverse rows, last operation first, then the folder removals."""
    rows, folders = await read_job(ctx, job)
    rows.reverse()
    new_dirs = NewDirs()

    def reverse(batch: list[tuple[dict[str, Any], str | None]]) -> list[dict[str, Any]]:
        out = (reverse_row(row, status, ctx.check_path, new_dirs) for row, status in batch)
        return [row for row in out if row is not None]

    for start in range(0, len(rows), REVERSE_BATCH):
        yield await ctx.run_blocking(reverse, rows[start:start + REVERSE_BATCH])
    yield await ctx.run_blocking(dir_rows, folders)


async def run(ctx: JobContext) -> dict[str, Any]:
    """Plan and apply (or, dry run, report) the undo of job; counts by item status."""
    job = str(ctx.params["job"]).strip()
    if not job or job == ctx.job_id:
        raise bad_params("parameter 'job' must name another job")
    counts = await run_plan(ctx, planner(ctx, job))
    return {"job": job, "operations": sum(counts.values()), **counts}


KIND = Kind(spec=SPEC, run=run)

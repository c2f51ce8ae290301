"""Kind ``dedupe``: find duplicate files; report them, or quarantine or hard-link the extras.

Theory of operation (SPEC.md section 8 for the plan).  The job paths are
checked against the library roots and walked once (lstat results only,
symlinks ignored); files are grouped by size, hard links of one inode count
once; groups of up to 16 files are compared byte by byte (first and last
64 KiB first), larger ones split by a partial and a full blake2b hash, in
the thread pool (fileops.search).  Each group keeps one file by the ``keep``
policy; the quarantine folder is never searched.

- action ``report`` (default): one item per extra copy, status duplicate,
  details {keep, group, size}; nothing is planned or changed.
- action ``quarantine``: a plan row per extra copy moves it to the
  quarantine folder, under its path relative to its library root (a taken
  name gets a counter).
- action ``hardlink``: a plan row per extra copy replaces it by a hard link
  of the kept file (not across file systems).

Both actions run through fileops.plan: stored, dry-run reportable, applied
with reconciliation and undoable with kind rollback.  A row expects the
extra's size, mtime and inode, and ``keep_expect`` the kept file's: if either
changed between hashing and acting, the row becomes a conflict item and no
file is touched.  ``ctx.result`` has groups, duplicates (extra copies),
reclaimable_bytes and the largest groups.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

from medialoom.workers.context import JobContext
from medialoom.workers.errors import PathForbidden
from medialoom.workers.fileops.apply import expect_of
from medialoom.workers.fileops.claims import Claims, NewDirs
from medialoom.workers.fileops.dupes import KEEP_POLICIES, choose_keep
from medialoom.workers.fileops.jobs import bad_params, check_job_paths, choice, resolve_folder
from medialoom.workers.fileops.plan import run_plan
from medialoom.workers.fileops.search import Found, find_duplicates
from medialoom.workers.fileops.walk import walk_filter
from medialoom.workers.specs.dedupe import SPEC

from . import Kind

LARGEST_GROUPS = 20


def plan_rows(found: Found, action: str, quarantine: str, roots: list[str]
              ) -> list[dict[str, Any]]:
    """Plan rows (quarantine / hardlink) for every extra name of every group (blocking)."""
    rows: list[dict[str, Any]] = []
    claims, new_dirs = Claims("counter"), NewDirs()
    for number, group in enumerate(found.groups, 1):
        keep, extras = group[0], group[1:]
        base = {"group": number, "keep": keep.path, "size": keep.st.st_size,
                "keep_expect": expect_of(keep.st)}
        for ref in extras:
            for name in ref.names:
                row: dict[str, Any] = {"op": action, "src": name,
                                       "expect": expect_of(ref.st), "details": dict(base)}
                if action == "hardlink":
                    row.update(dst=keep.path, details={**base, "mode": ref.st.st_mode & 0o7777})
                    if ref.st.st_dev != keep.st.st_dev:
                        row.update(status="skipped", message="on another file system than "
                                                             f"{keep.path}: cannot hard link")
                    rows.append(row)
                    continue
                root = next((r for r in roots if name.startswith(r.rstrip("/") + "/")),
                            os.path.dirname(name))
                target = os.path.join(quarantine, os.path.relpath(name, root))
                dst, status, message, extra = claims.claim(name, target)
                row.update(dst=dst, status=status, message=message)
                row["details"].update(extra)
                created, problem = new_dirs.claim(os.path.dirname(dst))
                if problem:
                    row.update(status="conflict", message=problem)
                elif created:
                    row["details"]["new_dirs"] = created
                rows.append(row)
    return rows


def summarize(found: Found) -> dict[str, Any]:
    """The result summary: groups, duplicates, reclaimable bytes, largest groups."""
    reclaim = [(sum(r.st.st_size for r in g[1:]), g) for g in found.groups]
    largest = sorted(reclaim, key=lambda x: (-x[0], x[1][0].path))[:LARGEST_GROUPS]
    return {"files": found.files, "ignored_by": found.ignored, "groups": len(found.groups),
            "duplicates": sum(len(r.names) for g in found.groups for r in g[1:]),
            "reclaimable_bytes": sum(b for b, _ in reclaim), "hashed_bytes": found.hashed_bytes,
            "compared_bytes": found.compared_bytes,
            "largest_groups": [{"keep": g[0].path, "size": g[0].st.st_size, "reclaimable": b,
                                "duplicates": [n for r in g[1:] for n in r.names]}
                               for b, g in largest]}


async def run(ctx: JobContext) -> dict[str, Any]:
    """Find duplicates, then report them or plan and apply the action."""
    p = ctx.params
    action = choice(p, "action", ("report", "quarantine", "hardlink"))
    keep_policy = choice(p, "keep", KEEP_POLICIES)
    walk = walk_filter(p)
    paths = await check_job_paths(ctx)
    preferred = ""
    try:  # resolved for every action: the quarantine folder is never searched
        quarantine = await resolve_folder(ctx, str(p["quarantine"]), paths, "Quarantine")
    except PathForbidden:
        if action == "quarantine":
            raise
        quarantine = ""
    if keep_policy == "preferred_root":
        if not p["preferred_root"]:
            raise bad_params("keep preferred_root needs the parameter preferred_root")
        preferred = await resolve_folder(ctx, str(p["preferred_root"]), paths, "")
    summary: dict[str, Any] = {}

    async def find() -> Found:
        found = await find_duplicates(ctx, paths, frozenset({quarantine} - {""}), walk)
        for group in found.groups:
            keep = choose_keep(group, keep_policy, preferred)
            group.sort(key=lambda ref: (ref is not keep, ref.path))
        found.groups.sort(key=lambda g: g[0].path)
        summary.update(summarize(found))
        ctx.result.update(summary)
        return found

    if action == "report":
        found = await find()
        ctx.set_total(summary["duplicates"])
        index = 0
        for number, group in enumerate(found.groups, 1):
            for ref in group[1:]:
                for name in ref.names:
                    ctx.item(name, "duplicate", f"same content as {group[0].path}", index=index,
                             details={"keep": group[0].path, "group": number,
                                      "size": ref.st.st_size})
                    index += 1
            await ctx.checkpoint()
        return summary

    async def planner() -> AsyncIterator[list[dict[str, Any]]]:
        found = await find()
        yield await ctx.run_blocking(plan_rows, found, action, quarantine, ctx.roots)

    counts = await run_plan(ctx, planner(), verify_hash=bool(p["verify_hash"]))
    return {**summary, "operations": sum(counts.values()), **counts}


KIND = Kind(spec=SPEC, run=run)

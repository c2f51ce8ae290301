"""Kind ``rename``: rename audio files from their tags by a template, planned and journaled.

Theory of operation.  The job paths are checked against the library roots
first.  The planner walks them in name order (fileops.walk) and, READ_BATCH
files per thread-pool call, reads each file's tags (workers/tags.py), renders
the template (fileops.template; syntax in workers/fileops/README.md), makes
the name safe (fileops.safenames) and resolves collisions under the
``on_collision`` policy (fileops.claims).  fileops.plan stores the plan,
then reports it (dry run) or applies it with no-clobber renames, reconciling
every row first, so a retried attempt finishes the same plan.

The file's extension is kept (appended unless the template already ends in
it); files stay in their folder (a template may not contain ``/``).
Item statuses: renamed, unchanged, skipped (with the reason: missing tag,
unreadable file), conflict (name taken under policy skip, or the disk
changed since the plan), failed (e.g. permission denied), vanished; in a dry
run, planned instead of renamed.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from medialoom.workers.context import JobContext
from medialoom.workers.fileops.apply import expect_of
from medialoom.workers.fileops.claims import POLICIES, Claims
from medialoom.workers.fileops.jobs import bad_params, check_job_paths, choice
from medialoom.workers.fileops.keys import NOTATIONS
from medialoom.workers.fileops.plan import run_plan
from medialoom.workers.fileops.safenames import UnsafeName, clean_value, safe_name
from medialoom.workers.fileops.template import (
    MissingField,
    Template,
    compile_template,
)
from medialoom.workers.fileops.walk import Entry, WalkFilter, take, walk_files, walk_filter
from medialoom.workers.specs.rename import FIELDS, SPEC, check_template
from medialoom.workers.tags import UnreadableAudio, read_tag_map

from . import Kind

READ_BATCH = 128
#: every template field with a sample value (used to check a template before planning)


@dataclass(frozen=True)
class RenameOptions:
    """The rename parameters, checked."""

    template: Template
    key_notation: str
    on_collision: str
    walk: WalkFilter

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> RenameOptions:
        """Options from validated params; JobFailed job.bad_params on a bad value."""
        try:  # the broker ran the same check at START; a job from elsewhere may not have
            check_template(params["template"], params)
        except ValueError as exc:
            raise bad_params(str(exc)) from None
        return cls(template=compile_template(str(params["template"]), FIELDS),
                   key_notation=choice(params, "key_notation", NOTATIONS),
                   on_collision=choice(params, "on_collision", POLICIES),
                   walk=walk_filter(params))


def new_name(path: str, tags: dict[str, Any], opts: RenameOptions) -> str:
    """The safe new file name of path for its tags; MissingField, UnsafeName or ValueError."""
    stem, ext = os.path.splitext(os.path.basename(path))
    values = {**tags, "ext": ext.lstrip("."), "filename": stem}
    rendered = opts.template.render(values, key_notation=opts.key_notation, clean=clean_value)
    if ext and rendered.lower().endswith(ext.lower()):
        rendered = rendered[:-len(ext)]
    rendered = rendered.rstrip(". ")
    if not rendered.strip(" ._"):
        raise UnsafeName("the template gave an empty name")
    return safe_name(rendered + ext)


def plan_file(entry: Entry, opts: RenameOptions, claims: Claims) -> dict[str, Any]:
    """The plan row of one file (blocking: reads its tags)."""
    row: dict[str, Any] = {"op": "rename", "src": entry.path, "dst": "",
                           "expect": expect_of(entry.st) if entry.st else {}}
    if entry.problem:
        return {**row, "status": "skipped", "message": entry.problem}
    try:
        tags = read_tag_map(entry.path)
    except FileNotFoundError:
        return {**row, "status": "skipped", "message": "vanished before it was planned"}
    except UnreadableAudio as exc:
        return {**row, "status": "skipped", "message": f"cannot read tags: {exc}"}
    except OSError as exc:
        return {**row, "status": "skipped", "message": f"cannot read file: {exc.strerror or exc}"}
    try:
        name = new_name(entry.path, tags, opts)
    except (MissingField, UnsafeName) as exc:
        return {**row, "status": "skipped", "message": str(exc)}
    except (ValueError, TypeError) as exc:
        return {**row, "status": "skipped", "message": f"cannot format a tag: {exc}"}
    dst, status, message, details = claims.claim(
        entry.path, os.path.join(os.path.dirname(entry.path), name))
    return {**row, "dst": dst, "status": status, "message": message, "details": details}


def plan_next(walk: Any, opts: RenameOptions, claims: Claims) -> list[dict[str, Any]]:
    """Plan rows of the next READ_BATCH files of the walk (one thread-pool call)."""
    return [plan_file(entry, opts, claims) for entry in take(walk, READ_BATCH)]


async def planner(ctx: JobContext, paths: list[str], opts: RenameOptions
                  ) -> AsyncIterator[list[dict[str, Any]]]:
    """Batches of plan rows for every file under paths."""
    walk = walk_files(paths, opts.walk)
    claims = Claims(opts.on_collision, in_place=True)
    while rows := await ctx.run_blocking(plan_next, walk, opts, claims):
        ctx.set_current(rows[-1]["src"])
        yield rows
    ctx.result["ignored_by"] = dict(sorted(walk.ignored.items()))


async def run(ctx: JobContext) -> dict[str, Any]:
    """Plan and apply (or, dry run, report) the renames; counts by item status."""
    opts = RenameOptions.from_params(ctx.params)
    paths = await check_job_paths(ctx)
    counts = await run_plan(ctx, planner(ctx, paths, opts))
    return {"operations": sum(counts.values()), **counts}


KIND = Kind(spec=SPEC, run=run)

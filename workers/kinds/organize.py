"""Kind ``organize``: move files into folders by category and date, planned and journaled.

Theory of operation.  The destination (param ``dest``: absolute, or relative
to the library root of the first job path; default the first job path) and
the job paths are checked against the library roots first.  The planner
walks the job paths in name order and, for each file, renders the folder
template (default ``{category}/{year}/{month}``) with the fields below; each
``/``-separated component is made safe (fileops.safenames) and the file
keeps its name inside ``dest/<folder>``.  Collisions follow
``on_collision`` (fileops.claims); folders the plan creates are recorded in
the row's ``details.new_dirs`` so a rollback removes them again.
fileops.plan stores, reports or applies the plan (moves never overwrite;
across file systems they copy, fsync, verify, then unlink).

Fields: ``category`` (by extension: audio, video, images, documents,
archives, editable, else other; param ``categories`` overrides or adds
``{name: [extensions]}``), ``year``, ``month``, ``day`` (with date_source
``tags``, the year of an audio file's date tag when it has one; otherwise,
and for month and day, the file's mtime in local time), ``ext``,
``filename``, and the audio tags (artist, album, genre, ...) when the
template names them.  Hidden files are left alone.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from medialoom.workers.context import JobContext
from medialoom.workers.fileops.apply import expect_of
from medialoom.workers.fileops.claims import POLICIES, Claims, NewDirs
from medialoom.workers.fileops.jobs import bad_params, check_job_paths, choice, resolve_folder
from medialoom.workers.fileops.plan import run_plan
from medialoom.workers.fileops.safenames import UnsafeName, clean_value, safe_name
from medialoom.workers.fileops.template import (
    MissingField,
    Template,
    TemplateSyntaxError,
    compile_template,
)
from medialoom.workers.fileops.walk import Entry, WalkFilter, take, walk_files, walk_filter
from medialoom.workers.specs.organize import FIELDS, SPEC
from medialoom.workers.tags import read_tag_map

from . import Kind
from .scan import AUDIO_EXTENSIONS

PLAN_BATCH = 256
DEFAULT_CATEGORIES: dict[str, tuple[str, ...]] = {
    "audio": AUDIO_EXTENSIONS + ("m4b", "mid", "midi", "alac", "dsf"),
    "video": ("mp4", "mkv", "avi", "mov", "wmv", "webm", "m4v", "mpg", "mpeg", "ts", "flv",
              "3gp"),
    "images": ("jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "webp", "heic", "heif", "raw",
               "cr2", "nef", "arw", "dng", "svg", "ico"),
    "documents": ("pdf", "doc", "docx", "odt", "rtf", "txt", "md", "xls", "xlsx", "ods", "csv",
                  "ppt", "pptx", "odp", "epub", "mobi"),
    "archives": ("zip", "rar", "7z", "tar", "gz", "bz2", "xz", "zst", "tgz", "iso", "dmg"),
    "editable": ("psd", "xcf", "kra", "ai", "indd", "blend", "aep", "prproj", "drp", "als",
                 "flp", "logicx", "ptx", "cpr", "rpp", "sib", "mscz", "fig", "sketch", "xd"),
}
TAG_FIELDS = frozenset({"artist", "albumartist", "title", "album", "track", "disc", "genre",
                        "bpm", "key"})


@dataclass(frozen=True)
class OrganizeOptions:
    """The organize parameters, checked (dest is resolved later, in run)."""

    template: Template
    categories: dict[str, str]  # extension -> category
    date_source: str
    on_collision: str
    walk: WalkFilter
    needs_tags: bool

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> OrganizeOptions:
        """Options from validated params; JobFailed job.bad_params on a bad value."""
        try:
            template = compile_template(str(params["template"]), FIELDS)
        except TemplateSyntaxError as exc:
            raise bad_params(str(exc)) from None
        date_source = choice(params, "date_source", ("tags", "mtime"))
        return cls(template=template, categories=category_map(params["categories"]),
                   date_source=date_source, on_collision=choice(params, "on_collision", POLICIES),
                   walk=walk_filter(params),
                   needs_tags=date_source == "tags" or bool(template.fields & TAG_FIELDS))


def category_map(overrides: dict[str, Any]) -> dict[str, str]:
    """extension -> category: the defaults, with each overriding category taking its extensions."""
    table = {ext: name for name, exts in DEFAULT_CATEGORIES.items() for ext in exts}
    for name, exts in overrides.items():
        if not isinstance(exts, list | tuple) or not all(isinstance(e, str) for e in exts):
            raise bad_params(f"categories[{name!r}] must be a list of extensions")
        for ext in list(table):
            if table[ext] == name:
                del table[ext]
        table.update({e.lower().lstrip("."): str(name) for e in exts})
    return table


def values_of(entry: Entry, opts: OrganizeOptions) -> dict[str, Any]:
    """Template values of one file (blocking: may read its tags)."""
    assert entry.st is not None
    name = os.path.basename(entry.path)
    stem, ext = os.path.splitext(name)
    ext = ext.lower().lstrip(".")
    local = time.localtime(entry.st.st_mtime)
    values: dict[str, Any] = {"category": opts.categories.get(ext, "other"),
                              "year": local.tm_year, "month": local.tm_mon,
                              "day": local.tm_mday, "ext": ext, "filename": stem}
    if opts.needs_tags and ext in AUDIO_EXTENSIONS:
        try:
            tags = read_tag_map(entry.path)
        except (OSError, ValueError):
            tags = {}
        values.update({k: v for k, v in tags.items() if k in TAG_FIELDS})
        if opts.date_source == "tags" and isinstance(tags.get("year"), int):
            values["year"] = tags["year"]
    return values


def plan_file(entry: Entry, dest: str, opts: OrganizeOptions, claims: Claims,
              new_dirs: NewDirs) -> dict[str, Any]:
    """The plan row of one file."""
    row: dict[str, Any] = {"op": "move", "src": entry.path, "dst": "",
                           "expect": expect_of(entry.st) if entry.st else {}}
    if entry.problem:
        return {**row, "status": "skipped", "message": entry.problem}
    values = values_of(entry, opts)
    try:
        folder = opts.template.render(values, clean=clean_value)
    except MissingField as exc:
        return {**row, "status": "skipped", "message": str(exc)}
    except (ValueError, TypeError) as exc:
        return {**row, "status": "skipped", "message": f"cannot format a field: {exc}"}
    parts = []
    for part in folder.split("/"):
        if part.strip():
            try:
                parts.append(safe_name(part, keep_ext=False))
            except UnsafeName:
                pass  # a component such as ".." is dropped, never followed
    target_dir = os.path.join(dest, *parts)
    dst, status, message, details = claims.claim(
        entry.path, os.path.join(target_dir, os.path.basename(entry.path)))
    details = {**details, "category": values["category"]}
    if status == "planned":
        created, problem = new_dirs.claim(target_dir)
        if problem:
            return {**row, "dst": dst, "status": "conflict", "message": problem,
                    "details": details}
        if created:
            details["new_dirs"] = created
    return {**row, "dst": dst, "status": status, "message": message, "details": details}


async def planner(ctx: JobContext, paths: list[str], dest: str, opts: OrganizeOptions
                  ) -> AsyncIterator[list[dict[str, Any]]]:
    """Batches of plan rows for every file under paths."""
    walk = walk_files(paths, opts.walk, hidden=False)
    claims, new_dirs = Claims(opts.on_collision), NewDirs()

    def plan_next() -> list[dict[str, Any]]:
        return [plan_file(e, dest, opts, claims, new_dirs) for e in take(walk, PLAN_BATCH)]

    while rows := await ctx.run_blocking(plan_next):
        ctx.set_current(rows[-1]["src"])
        yield rows
    ctx.result["ignored_by"] = dict(sorted(walk.ignored.items()))


async def run(ctx: JobContext) -> dict[str, Any]:
    """Plan and apply (or, dry run, report) the moves; counts by item status."""
    opts = OrganizeOptions.from_params(ctx.params)
    paths = await check_job_paths(ctx)
    first = paths[0] if await ctx.run_blocking(os.path.isdir, paths[0]) \
        else os.path.dirname(paths[0])
    dest = await resolve_folder(ctx, str(ctx.params["dest"]), paths, first)
    counts = await run_plan(ctx, planner(ctx, paths, dest, opts),
                            verify_hash=bool(ctx.params["verify_hash"]))
    return {"operations": sum(counts.values()), "dest": dest, **counts}


KIND = Kind(spec=SPEC, run=run)

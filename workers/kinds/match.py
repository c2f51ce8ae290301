"""Kind ``match``: look tracks up in MusicBrainz, score them, report (and write) the matches.

Theory of operation.  ``paths[0]`` is a Rekordbox collection XML (the
tracks of ``playlist``, or all of them) or folders of tagged audio files
(walked with the common walk params, tags read with mutagen).  Each track
becomes a query (catalog/sources.py); up to ``concurrency`` + 2 tracks are
matched at once (catalog/matcher.py: the query ladder, scoring, verdict),
each answer taken from the SQLite cache under the worker's data dir when it
is there, else from the catalog through ``ctx.http`` -- at most
``concurrency`` requests in flight, each attempt waiting for a request
token of the broker-wide budget of ``rate_limit`` per second for the
catalog's host, retried with backoff (honouring Retry-After) on 503, 429,
5xx and network errors, ``timeout_s`` each.

One item per track, reported as it is decided (index = the track's place):
matched, ambiguous, no_match, skipped (no title or artist), catalog_error.
A cancel keeps every item reported so far.  When ``GIVE_UP`` tracks in a
row end in a transient catalog error, the job fails with
``catalog.unavailable`` and is retried later (its answers so far cached).

Outputs.  XML input with ``write_fields``: ``<name>.matched.xml`` beside it
(catalog/xmlout.py: only those attributes of matched tracks change, empty
ones only unless ``overwrite``; not written in a dry run or after a
cancel).  Folder input with ``write_tags``: a file-changing job
(fileops.plan): the plan has one row per track, in order -- a ``retag``
patch for each matched file whose tags change (catalog/tagwrite.py,
fileops/patch.py), the match result itself for the others -- stored, then
applied and reconciled like every plan; ``rollback`` restores the previous
bytes exactly.  With write_tags a cancel before the plan is complete keeps
no items (nothing was changed; the answers are cached).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from medialoom.workers.catalog import sources as src
from medialoom.workers.catalog.cache import CACHE_FILE, AnswerCache
from medialoom.workers.catalog.matcher import MatchOptions, Outcome, match_source
from medialoom.workers.catalog.musicbrainz import Catalog
from medialoom.workers.catalog.rekordbox import BadXml, PlaylistNotFound, read_collection
from medialoom.workers.catalog.xmlout import FIELD_ATTRIBUTES, is_empty, matched_path
from medialoom.workers.catalog.xmlout import write_matched as write_xml
from medialoom.workers.context import JobContext
from medialoom.workers.errors import JobFailed
from medialoom.workers.fileops.jobs import bad_params, check_job_paths
from medialoom.workers.fileops.plan import run_plan
from medialoom.workers.fileops.walk import walk_files, walk_filter
from medialoom.workers.specs.match import SPEC, TAG_FIELDS, XML_FIELDS

from . import Kind
from .match_tags import plan_rows

#: tracks in a row whose catalog request failed for good (transiently) before the job gives up
GIVE_UP = 8
RETRY_AFTER_S = 60.0
READ_BATCH = 32
DAY_S = 86_400.0


@dataclass(frozen=True)
class Options:
    """The match parameters, checked."""

    playlist: str
    catalog_url: str
    concurrency: int
    rate_limit: float
    scoring: MatchOptions
    fields: tuple[str, ...]
    overwrite: bool
    write_tags: bool
    cache_ttl_s: float
    timeout_s: float
    attempts: int

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> Options:
        fields = tuple(str(f).strip().lower() for f in p["write_fields"])
        return cls(playlist=str(p["playlist"]).strip(), catalog_url=str(p["catalog_url"]),
                   concurrency=int(p["concurrency"]), rate_limit=float(p["rate_limit"]),
                   scoring=MatchOptions(float(p["min_score"]), float(p["margin"]),
                                        float(p["duration_tolerance_s"]), "label" in fields),
                   fields=fields, overwrite=bool(p["overwrite"]),
                   write_tags=bool(p["write_tags"]),
                   cache_ttl_s=float(p["cache_days"]) * DAY_S,
                   timeout_s=float(p["timeout_s"]), attempts=int(p["retries"]) + 1)


async def drive(ctx: JobContext, sources: AsyncIterator[src.Source], catalog: Catalog,
                opts: Options) -> AsyncIterator[Outcome]:
    """The outcome of every source, as each is decided (a few tracks at a time)."""
    unread: set[asyncio.Task[Outcome]] = set()  # started, result not taken yet
    exhausted = False
    in_a_row = 0
    try:
        while True:
            while not exhausted and len(unread) < opts.concurrency + 2:
                source = await anext(sources, None)
                if source is None:
                    exhausted = True
                else:
                    unread.add(asyncio.ensure_future(match_source(catalog, source,
                                                                  opts.scoring)))
            if not unread:
                return
            done, _ = await asyncio.wait(unread, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                unread.discard(task)
                outcome = task.result()
                in_a_row = in_a_row + 1 if outcome.transient else 0
                yield outcome
            if in_a_row >= GIVE_UP:
                raise JobFailed(f"the catalog at {opts.catalog_url} failed for {in_a_row} "
                                f"tracks in a row after their retries; the job is retried "
                                f"later", code="catalog.unavailable", retry=True,
                                retry_after_s=RETRY_AFTER_S)
            await ctx.checkpoint()
    finally:  # every task's end is collected (a cancel's JobCancelled too), none left behind
        for task in unread:
            task.cancel()
        await asyncio.gather(*unread, return_exceptions=True)


def report(ctx: JobContext, o: Outcome) -> None:
    """One outcome as the track's item."""
    ctx.item(o.source.path, o.status, o.message, duration_ms=o.duration_ms,
             details=o.details, index=o.source.index)


def xml_changes(o: Outcome, fields: tuple[str, ...], overwrite: bool) -> dict[str, str]:
    """TRACK attributes to set for a matched outcome."""
    out = {}
    for name in fields:
        value = o.values.get(name, "")
        attr = FIELD_ATTRIBUTES[name]
        current = o.source.current.get(name, "")
        if value and (is_empty(attr, current) or (overwrite and current != value)):
            out[attr] = value
    return out


async def _listed(items: list[src.Source]) -> AsyncIterator[src.Source]:
    for item in items:
        yield item


def _load(path: str) -> Any:
    with open(path, "rb") as fh:
        return read_collection(fh)


async def run_xml(ctx: JobContext, path: str, opts: Options, catalog: Catalog
                  ) -> dict[str, Any]:
    """Match the tracks of a collection; write <name>.matched.xml when asked."""
    if opts.write_tags:
        raise bad_params("write_tags is for a folder of audio files; for a collection XML "
                         "the fields go into <name>.matched.xml")
    wrong = [f for f in opts.fields if f not in XML_FIELDS]
    if wrong:
        raise bad_params(f"a Rekordbox TRACK has no attribute for {', '.join(wrong)} "
                         f"(XML fields: {', '.join(XML_FIELDS)})")
    try:
        collection = await ctx.run_blocking(_load, path)
        tracks, missing = collection.select(opts.playlist)
    except BadXml as exc:
        raise JobFailed(f"{path}: {exc}", code="input.malformed") from None
    except PlaylistNotFound as exc:
        raise bad_params(str(exc)) from None
    sources = src.from_collection(collection, tracks)
    ctx.set_total(len(sources))
    counts: Counter[str] = Counter()
    changes: dict[int, dict[str, str]] = {}
    async with aclosing(drive(ctx, _listed(sources), catalog, opts)) as outcomes:
        async for o in outcomes:
            report(ctx, o)
            counts[o.status] += 1
            if o.status == "matched" and opts.fields:
                wanted = xml_changes(o, opts.fields, opts.overwrite)
                if wanted:
                    changes[o.source.offset] = wanted
    await ctx.checkpoint()
    result: dict[str, Any] = {"tracks": len(sources), **counts, "missing_entries": missing,
                              "playlist": opts.playlist}
    if opts.fields:
        out = matched_path(path)
        result.update(output=out, tracks_to_change=len(changes))
        if not ctx.dry_run:
            try:
                result["tracks_changed"] = await ctx.run_blocking(write_xml, path, out,
                                                                  collection, changes)
            except (OSError, ValueError) as exc:
                raise JobFailed(f"cannot write {out}: {exc}", code="output.failed") from None
    return result


async def _files(ctx: JobContext, walk: Any, total: int) -> AsyncIterator[src.Source]:
    start = 0
    while start < total:
        batch = await ctx.run_blocking(src.from_files, walk, start, min(READ_BATCH,
                                                                        total - start))
        if not batch:
            return
        for source in batch:
            yield source
        start += len(batch)


async def run_folder(ctx: JobContext, paths: list[str], opts: Options, catalog: Catalog
                     ) -> dict[str, Any]:
    """Match the tagged files under paths; with write_tags, plan and apply the tags."""
    wrong = [f for f in opts.fields if f not in TAG_FIELDS]
    if wrong:
        raise bad_params(f"cannot write {', '.join(wrong)} into tags")
    if opts.fields and not opts.write_tags:
        raise bad_params("write_fields for a folder needs write_tags=true (the XML output "
                         "is for a collection)")
    entries = await ctx.run_blocking(list, walk_files(paths, walk_filter(ctx.params),
                                                      check_path=ctx.check_path))
    ctx.set_total(len(entries))
    if opts.write_tags:
        planner = plan_rows(ctx, drive(ctx, _files(ctx, iter(entries), len(entries)), catalog,
                                       opts), opts.fields, opts.overwrite)
        counts = await run_plan(ctx, planner)
        return {"tracks": len(entries), **counts}
    counts: Counter[str] = Counter()
    async with aclosing(drive(ctx, _files(ctx, iter(entries), len(entries)), catalog,
                              opts)) as outcomes:
        async for o in outcomes:
            report(ctx, o)
            counts[o.status] += 1
    await ctx.checkpoint()
    return {"tracks": len(entries), **counts}


def _open_cache(folder: str) -> AnswerCache:
    return AnswerCache(os.path.join(folder, CACHE_FILE), time.time())


async def run(ctx: JobContext) -> dict[str, Any]:
    """Match every track; counts by status, catalog requests and cache hits."""
    opts = Options.from_params(ctx.params)
    paths = await check_job_paths(ctx)
    host = urlsplit(opts.catalog_url).hostname or ""
    ctx.use_http(concurrency=opts.concurrency)
    ctx.http.limit_host(host, opts.rate_limit, shared=True)
    cache = None
    if opts.cache_ttl_s > 0 and ctx.data_dir:
        try:
            cache = await ctx.run_blocking(_open_cache, ctx.data_dir)
        except (OSError, sqlite3.Error) as exc:  # the job goes on without it
            ctx.log("answer cache unavailable: %s", exc)
    catalog = Catalog(ctx, opts.catalog_url, cache, timeout_s=opts.timeout_s,
                      attempts=opts.attempts, ttl_s=opts.cache_ttl_s)
    try:
        if await ctx.run_blocking(src.is_xml, paths[0]):
            if len(paths) > 1:
                raise bad_params("give one collection XML at a time")
            result = await run_xml(ctx, paths[0], opts, catalog)
        else:
            result = await run_folder(ctx, paths, opts, catalog)
    finally:
        if cache is not None:
            await ctx.run_blocking(cache.close)
    return {**result, "requests": catalog.requests, "cached": catalog.cached,
            "http_attempts": ctx.http.requests, "late_tokens": ctx.http.late_tokens}


KIND = Kind(spec=SPEC, run=run)

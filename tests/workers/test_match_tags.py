"""Kind ``match`` on a folder of tagged files, with ``write_tags``: planned, applied, undone.

Files are real audio of seven formats tagged by mutagen.  The job writes
the matched values into the empty fields through a plan of byte patches;
a dry run changes nothing; a retried attempt reconciles the stored plan;
a file changed after the plan is a conflict; ``rollback`` gives back every
file byte for byte (and its mtime).
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path
from typing import Any

import mutagen
import pytest

from medialoom.workers.catalog.tagwrite import read_values
from medialoom.workers.context import CollectingReporter, JobContext
from medialoom.workers.errors import JobCancelled, JobFailed
from medialoom.workers.kinds.match import KIND
from medialoom.workers.kinds.rollback import KIND as ROLLBACK
from tests.fakes.catalog import FakeCatalog
from tests.fakes.dataset import Catalog, simple_collection
from tests.fileops.kindrun import items, make_ctx, plan, write_track

FORMATS = ("mp3", "flac", "m4a", "ogg", "opus", "wav", "aiff")
FIELDS = ["year", "album", "label", "isrc", "mbid"]

pytestmark = pytest.mark.usefixtures("http_session")  # tests/workers/conftest.py


def library(root: Path, catalog: Catalog, n: int = len(FORMATS)) -> dict[str, dict[str, Any]]:
    """n files tagged with the title and artist of a catalog recording; path -> track."""
    out = {}
    tracks = simple_collection(catalog, n)
    for i, t in enumerate(tracks):
        ext = FORMATS[i % len(FORMATS)]
        path = write_track(root / "music" / f"{i:02d} track.{ext}",
                           {"artist": t["Artist"], "title": t["Name"]},
                           duration_s=float(t["TotalTime"]))
        out[str(path)] = t
    stranger = write_track(root / "music" / "zz unknown.mp3",
                           {"artist": "Nobody Known", "title": "Nothing Like It"})
    out[str(stranger)] = {"truth": None}
    return out


def snapshot(paths: Any) -> dict[str, tuple[str, int]]:
    out = {}
    for p in paths:
        with open(p, "rb") as fh:
            out[p] = (hashlib.blake2b(fh.read()).hexdigest(), os.stat(p).st_mtime_ns)
    return out


def context(root: Path, fake: FakeCatalog, reporter: CollectingReporter, **kw: Any
            ) -> JobContext:
    params = {"write_tags": True, "write_fields": FIELDS, "catalog_url": fake.url,
              "rate_limit": 1000.0, "concurrency": 8, **kw.pop("params", {})}
    ctx = make_ctx(KIND, [root / "music"], [root], reporter=reporter, **kw, **params)
    ctx.data_dir = str(root / "data")
    return ctx


async def run(ctx: JobContext, kind: Any = KIND) -> dict[str, Any]:
    result = await kind.run(ctx) or {}
    ctx.flush_items()
    return result


async def test_write_tags_then_rollback_restores_every_byte(tmp_path: Path, catalog: Catalog,
                                                           fake: FakeCatalog) -> None:
    files = library(tmp_path, catalog)
    before = snapshot(files)
    reporter = CollectingReporter()
    result = await run(context(tmp_path, fake, reporter))
    rows = items(reporter)
    assert Counter(r["status"] for r in rows) == {"retagged": len(FORMATS), "no_match": 1}
    assert result["retagged"] == len(FORMATS)
    by_id = catalog.by_id()
    for path, track in files.items():
        audio = mutagen.File(path)
        values = read_values(audio)
        if track["truth"] is None:
            assert snapshot([path]) == {path: before[path]}
            continue
        rec = by_id[track["truth"]]
        release = rec["releases"][0]
        assert values["mbid"] == rec["id"], path
        assert values["album"] == release["title"] and values["year"] == release["date"][:4]
        assert values["label"] == catalog.releases[release["id"]]["label-info"][0]["label"][
            "name"]
        assert values["isrc"] == (rec["isrcs"][0] if rec["isrcs"] else ""), path
        assert values["title"] == track["Name"]  # not asked for: left alone
        assert audio.info.length > 0  # still a readable file of its format
    ops = plan(reporter)
    assert {op["op"] for op in ops} == {"retag"}
    assert all(len(str(op["details"].get("patch", ""))) < 4096 for op in ops)
    undo = make_ctx(ROLLBACK, [], [tmp_path], reporter=reporter, job_id="undo", job="j1")
    undone = await run(undo, ROLLBACK)
    assert undone["restored"] == len(FORMATS)
    assert snapshot(files) == before  # bytes and mtimes


async def test_dry_run_plans_and_changes_nothing(tmp_path: Path, catalog: Catalog,
                                                 fake: FakeCatalog) -> None:
    files = library(tmp_path, catalog, 3)
    before = snapshot(files)
    reporter = CollectingReporter()
    await run(context(tmp_path, fake, reporter, dry_run=True))
    assert Counter(r["status"] for r in items(reporter)) == {"planned": 3, "no_match": 1}
    assert snapshot(files) == before
    planned = [r for r in items(reporter) if r["status"] == "planned"]
    assert all("writes year=" in r["message"] for r in planned)


async def test_filled_tags_stay_unless_overwrite(tmp_path: Path, catalog: Catalog,
                                                 fake: FakeCatalog) -> None:
    [track] = simple_collection(catalog, 1)
    path = write_track(tmp_path / "music" / "a.flac", {"artist": track["Artist"],
                                                      "title": track["Name"],
                                                      "album": "Mine", "year": "1999"})
    reporter = CollectingReporter()
    await run(context(tmp_path, fake, reporter, params={"write_fields": ["year", "album"]}))
    [row] = items(reporter)
    assert row["status"] == "matched" and "already hold" in row["message"]
    values = read_values(mutagen.File(path))
    assert (values["album"], values["year"]) == ("Mine", "1999")
    again = CollectingReporter()
    await run(context(tmp_path, fake, again, job_id="j2",
                      params={"write_fields": ["year", "album"], "overwrite": True}))
    assert [r["status"] for r in items(again, "j2")] == ["retagged"]
    assert read_values(mutagen.File(path))["album"] != "Mine"


async def test_a_retry_reconciles_the_stored_plan(tmp_path: Path, catalog: Catalog,
                                                  fake: FakeCatalog) -> None:
    files = library(tmp_path, catalog, 5)
    before = snapshot(files)
    reporter = CollectingReporter()
    with pytest.raises(JobCancelled):  # the worker "dies" after two items
        await run(context(tmp_path, fake, reporter, survive=2))
    hits = len(fake.hits)
    retry = context(tmp_path, fake, reporter, attempt=2, has_plan=True)
    await run(retry)
    assert len(fake.hits) == hits, "a retried attempt with a plan asks the catalog nothing"
    rows = items(reporter)
    assert Counter(r["status"] for r in rows) == {"retagged": 5, "no_match": 1}
    assert sum(r["message"] == "already done" for r in rows) >= 2
    undo = make_ctx(ROLLBACK, [], [tmp_path], reporter=reporter, job_id="undo", job="j1")
    await run(undo, ROLLBACK)
    assert snapshot(files) == before


async def test_a_file_changed_after_the_plan_is_a_conflict(tmp_path: Path, catalog: Catalog,
                                                           fake: FakeCatalog) -> None:
    files = library(tmp_path, catalog, 2)
    reporter = CollectingReporter()
    await run(context(tmp_path, fake, reporter, dry_run=True))
    victim = next(p for p, t in files.items() if t["truth"])
    audio = mutagen.File(victim)
    audio.tags["comment" if not victim.endswith(".mp3") else "TIT3"] = \
        ["edited"] if not victim.endswith(".mp3") else mutagen.id3.TIT3(encoding=3,
                                                                         text=["edited"])
    audio.save()
    edited = snapshot([victim])
    # the real run applies the plan the dry run stored (as a retry would)
    await run(context(tmp_path, fake, reporter, attempt=2, has_plan=True))
    row = next(r for r in items(reporter) if r["path"] == victim)
    assert row["status"] == "conflict" and "changed since" in row["message"]
    assert snapshot([victim]) == edited


async def test_write_fields_without_write_tags_is_refused_for_a_folder(
        tmp_path: Path, catalog: Catalog, fake: FakeCatalog) -> None:
    library(tmp_path, catalog, 1)
    with pytest.raises(JobFailed) as info:
        await run(context(tmp_path, fake, CollectingReporter(),
                          params={"write_tags": False, "write_fields": ["year"]}))
    assert info.value.code == "job.bad_params"

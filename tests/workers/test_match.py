"""Kind ``match`` in-process against the fake MusicBrainz (tests/fakes/catalog.py).

Precision and recall on a noisy collection, the query ladder, the XML
output, the answer cache, concurrency, a catalog that answers 503 for a
while, catalogs that misbehave, and bad input (malformed or unsafe XML, an
unknown playlist, empty fields, a Location that is not a file URL).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from medialoom.workers.context import CollectingReporter, JobContext
from medialoom.workers.errors import JobFailed
from medialoom.workers.kinds.match import KIND
from tests.fakes.catalog import FakeCatalog
from tests.fakes.dataset import (
    Catalog,
    noisy_collection,
    score_items,
    simple_collection,
)
from tests.fakes.rekordbox_xml import write_collection
from tests.fileops.kindrun import items, make_ctx

FAST = {"rate_limit": 1000.0, "concurrency": 8}

pytestmark = pytest.mark.usefixtures("http_session")  # tests/workers/conftest.py


def digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes()).hexdigest()


def context(path: Path, tmp_path: Path, fake: FakeCatalog, *, reporter: CollectingReporter |
            None = None, job_id: str = "j1", dry_run: bool = False, **params: Any
            ) -> JobContext:
    ctx = make_ctx(KIND, [path], [tmp_path], reporter=reporter, job_id=job_id, dry_run=dry_run,
                   catalog_url=fake.url, **{**FAST, **params})
    ctx.data_dir = str(tmp_path / "data")
    return ctx


async def run(ctx: JobContext) -> dict[str, Any]:
    result = await KIND.run(ctx) or {}
    ctx.flush_items()
    return result


# --- matching quality --------------------------------------------------------------------------


async def test_precision_and_recall_on_a_noisy_collection(tmp_path: Path, catalog: Catalog,
                                                          fake: FakeCatalog) -> None:
    tracks = noisy_collection(catalog, 11)
    absent = sum(t["truth"] is None for t in tracks)
    assert len(tracks) > 200 and absent > 40
    xml = write_collection(tmp_path / "collection.xml", tracks)
    ctx = context(xml, tmp_path, fake, cache_days=0)
    result = await run(ctx)
    rows = items(ctx._reporter)
    assert len(rows) == len(tracks) == result["tracks"]
    score = score_items(rows, tracks)
    assert score.absent_matched == []
    assert score.precision >= 0.97, score
    assert score.recall >= 0.90, score
    # the noise the collection has is really there (so the figures mean something)
    names = " ".join(t["Name"] for t in tracks)
    assert "(Original Mix)" in names and "(Extended Mix)" in names and " Remix" in names
    assert "(feat. " in names and any(t["Mix"] for t in tracks)
    assert any(", " in t["Artist"] for t in tracks) and any(t["Name"].isupper() for t in tracks)


async def test_a_remix_matches_the_remix_and_an_original_the_original(
        tmp_path: Path, catalog: Catalog, fake: FakeCatalog) -> None:
    song = next(s for s in catalog.songs if s.original and s.remixes)
    remixer, remix_id = sorted(song.remixes.items())[0]
    artist = song.join.join(song.artists)
    tracks = [
        {"TrackID": "1", "Name": f"{song.title} (Original Mix)", "Artist": artist,
         "TotalTime": str(int(song.lengths[song.original]))},
        {"TrackID": "2", "Name": song.title, "Artist": artist, "Mix": f"{remixer} Remix",
         "Remixer": remixer, "TotalTime": str(int(song.lengths[remix_id]))},
        {"TrackID": "3", "Name": f"{song.title.upper()} - {remixer} Remix", "Artist": artist},
    ]
    xml = write_collection(tmp_path / "c.xml", tracks)
    ctx = context(xml, tmp_path, fake)
    await run(ctx)
    got = {r["details"]["track_id"]: r for r in items(ctx._reporter)}
    assert got["1"]["status"] == "matched"
    assert got["1"]["details"]["recording_id"] == song.original
    for tid in ("2", "3"):
        assert got[tid]["status"] == "matched", got[tid]["message"]
        assert got[tid]["details"]["recording_id"] == remix_id


async def test_an_original_never_matches_a_remix_only_song(tmp_path: Path, catalog: Catalog,
                                                           fake: FakeCatalog) -> None:
    song = next(s for s in catalog.songs if not s.original and s.remixes)
    xml = write_collection(tmp_path / "c.xml", [
        {"TrackID": "1", "Name": f"{song.title} (Original Mix)",
         "Artist": song.join.join(song.artists)}])
    ctx = context(xml, tmp_path, fake)
    await run(ctx)
    [row] = items(ctx._reporter)
    assert row["status"] == "no_match"
    assert row["details"]["candidates"], "the remix was a candidate and was refused"
    assert row["details"]["candidates"][0]["score"] < 0.5


async def test_matched_item_details(tmp_path: Path, catalog: Catalog,
                                    fake: FakeCatalog) -> None:
    [track] = simple_collection(catalog, 1)
    rec = catalog.by_id()[track["truth"]]
    xml = write_collection(tmp_path / "c.xml", [track])
    ctx = context(xml, tmp_path, fake, write_fields=["label"])
    await run(ctx)
    [row] = items(ctx._reporter)
    d = row["details"]
    assert row["status"] == "matched"
    assert d["track_id"] == "1" and d["recording_id"] == rec["id"]
    assert d["title"] == rec["title"] and d["release"] == rec["releases"][0]["title"]
    assert d["date"] == rec["releases"][0]["date"] and d["score"] >= 0.95
    assert d["isrc"] == (rec["isrcs"][0] if rec["isrcs"] else "")
    label = catalog.releases[rec["releases"][0]["id"]]["label-info"][0]["label"]["name"]
    assert d["label"] == label
    assert d["candidates"][0]["recording_id"] == rec["id"] and d["level"] == 1
    assert row["path"] == "/Music/DJ/1.mp3"


# --- the catalog's side: cache, concurrency, 503, misbehaviour ---------------------------------


async def test_a_rerun_is_served_from_the_cache(tmp_path: Path, catalog: Catalog,
                                                fake: FakeCatalog) -> None:
    tracks = noisy_collection(catalog, 5)[:60]
    xml = write_collection(tmp_path / "c.xml", tracks)
    first = context(xml, tmp_path, fake, job_id="a")
    result = await run(first)
    asked = len(fake.hits)
    assert asked == result["requests"] > 0 and result["cached"] == 0
    second = context(xml, tmp_path, fake, job_id="b")
    again = await run(second)
    assert len(fake.hits) == asked, "the re-run asked the catalog"
    assert again["requests"] == 0 and again["cached"] == result["requests"]
    strip = [(r["status"], r["details"].get("recording_id")) for r in items(first._reporter)]
    assert [(r["status"], r["details"].get("recording_id"))
            for r in items(second._reporter)] == strip


async def test_never_more_than_concurrency_requests_in_flight(
        tmp_path: Path, catalog: Catalog, fake: FakeCatalog) -> None:
    fake.state.latency_s = 0.05
    xml = write_collection(tmp_path / "c.xml", simple_collection(catalog, 40))
    ctx = context(xml, tmp_path, fake, concurrency=3, cache_days=0)
    await run(ctx)
    assert fake.state.max_inflight == 3


async def test_503_for_five_seconds_slows_the_job_down_without_failing_items(
        tmp_path: Path, catalog: Catalog, fake: FakeCatalog) -> None:
    tracks = simple_collection(catalog, 30)
    xml = write_collection(tmp_path / "c.xml", tracks)
    fake.outage(5.0)
    ctx = context(xml, tmp_path, fake, concurrency=4, cache_days=0)
    result = await run(ctx)
    rows = items(ctx._reporter)
    assert Counter(r["status"] for r in rows) == {"matched": 30}, result
    statuses = Counter(h.status for h in fake.hits)
    assert statuses[503] >= 4 and statuses[200] == 30
    first_ok = min(h.at for h in fake.hits if h.status == 200)
    assert first_ok - fake.hits[0].at >= 4.5  # it waited the outage out, backing off
    assert len(fake.hits) < 30 + 4 * 8  # ... without hammering it


async def test_invalid_json_bad_shape_and_500_are_item_errors_and_the_job_goes_on(
        tmp_path: Path, catalog: Catalog, fake: FakeCatalog) -> None:
    pool = simple_collection(catalog, 40)
    titles = Counter(t["Name"] for t in pool)
    tracks = [t for t in pool if titles[t["Name"]] == 1][:6]
    for n, t in enumerate(tracks, 1):
        t["TrackID"] = str(n)
    for i, fault in ((0, "invalid_json"), (1, "bad_shape"), (2, "500")):
        fake.fault(f'"{tracks[i]["Name"]}"', fault)  # its strict query's phrase
    xml = write_collection(tmp_path / "c.xml", tracks)
    before = digest(xml)
    ctx = context(xml, tmp_path, fake, retries=1, cache_days=0)
    await run(ctx)
    got = {r["details"]["track_id"]: r for r in items(ctx._reporter)}
    assert [got[str(i)]["status"] for i in range(1, 7)] == ["catalog_error"] * 3 + \
        ["matched"] * 3
    assert "not JSON" in got["1"]["message"]
    assert "no recordings list" in got["2"]["message"]
    assert "500" in got["3"]["message"]
    assert digest(xml) == before
    assert ctx.failed == 3 and ctx.succeeded == 3


async def test_a_catalog_that_times_out_fails_the_job_for_a_retry(
        tmp_path: Path, catalog: Catalog, fake: FakeCatalog) -> None:
    tracks = simple_collection(catalog, 12)
    fake.fault("recording", "hang")
    xml = write_collection(tmp_path / "c.xml", tracks)
    ctx = context(xml, tmp_path, fake, retries=0, timeout_s=0.2, concurrency=8)
    with pytest.raises(JobFailed) as info:
        await run(ctx)
    assert info.value.code == "catalog.unavailable" and info.value.retry
    assert info.value.retry_after_s > 0
    rows = items(ctx._reporter)
    assert rows and all(r["status"] == "catalog_error" for r in rows)
    assert "no answer" in rows[0]["message"]


async def test_user_agent_names_medialoom_and_the_contact(tmp_path: Path, catalog: Catalog,
                                                          fake: FakeCatalog) -> None:
    xml = write_collection(tmp_path / "c.xml", simple_collection(catalog, 2))
    ctx = context(xml, tmp_path, fake)
    ctx.contact = "dj@example.org"
    await run(ctx)
    assert {h.agent.split("/")[0] for h in fake.hits} == {"medialoom"}
    assert all(h.agent.endswith("( dj@example.org )") for h in fake.hits)

"""Kind ``match`` on Rekordbox XML: playlists, the ``<name>.matched.xml`` it writes, bad input.

The written file must parse, keep every element, attribute, child and
playlist of the input, and change only the chosen empty attributes of the
matched tracks; the input never changes.  Malformed or unsafe XML fails the
job naming the line; an unknown playlist fails it listing those that exist.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from medialoom.protocol.errors import RequestError
from medialoom.workers.context import JobContext
from medialoom.workers.errors import JobFailed
from medialoom.workers.kinds import validate_params
from medialoom.workers.kinds.match import KIND
from tests.fakes.catalog import FakeCatalog
from tests.fakes.dataset import Catalog, noisy_collection, simple_collection
from tests.fakes.rekordbox_xml import collection_xml, location, write_collection
from tests.fileops.kindrun import items, make_ctx

pytestmark = pytest.mark.usefixtures("http_session")  # tests/workers/conftest.py


def digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes()).hexdigest()


def context(path: Path, tmp_path: Path, fake: FakeCatalog, dry_run: bool = False,
            **params: Any) -> JobContext:
    ctx = make_ctx(KIND, [path], [tmp_path], dry_run=dry_run, catalog_url=fake.url,
                   rate_limit=1000.0, concurrency=8, **params)
    ctx.data_dir = str(tmp_path / "data")
    return ctx


async def run(ctx: JobContext) -> dict[str, Any]:
    result = await KIND.run(ctx) or {}
    ctx.flush_items()
    return result


def elements(path: Path) -> list[tuple[str, dict[str, str]]]:
    """Every element of a (trusted, test-made) file in document order: (tag, attributes)."""
    return [(e.tag, dict(e.attrib)) for e in ET.parse(path).getroot().iter()]


# --- the written collection -------------------------------------------------------------------


async def test_matched_xml_keeps_everything_and_fills_only_the_chosen_empty_fields(
        tmp_path: Path, catalog: Catalog, fake: FakeCatalog) -> None:
    tracks = noisy_collection(catalog, 3)[:80]
    tracks[0]["Album"] = "Already Here"  # a filled field stays as it is
    xml = write_collection(tmp_path / "My Collection.xml", tracks)
    before = digest(xml)
    ctx = context(xml, tmp_path, fake, write_fields=["year", "album", "label"])
    result = await run(ctx)
    out = tmp_path / "My Collection.matched.xml"
    assert result["output"] == str(out) and digest(xml) == before
    old, new = elements(xml), elements(out)
    assert [tag for tag, _ in old] == [tag for tag, _ in new]  # every element, in order
    matched = {r["details"]["track_id"]: r for r in items(ctx._reporter)
               if r["status"] == "matched"}
    assert len(matched) > 40
    changed = 0
    for (tag, a), (_, b) in zip(old, new, strict=True):
        if tag != "TRACK" or "TrackID" not in a:
            assert a == b, tag  # TEMPO, POSITION_MARK, playlists, their TRACK keys: as they were
            continue
        diff = {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
        assert diff <= {"Year", "Album", "Label"}, diff
        row = matched.get(a["TrackID"])
        if row is None:
            assert not diff
            continue
        d = row["details"]
        if a["Year"] == "0":
            assert b["Year"] == d["date"][:4]
        else:
            assert b["Year"] == a["Year"]
        assert b["Album"] == (a["Album"] or d["release"])
        assert b["Label"] == (a["Label"] or d["label"])
        changed += bool(diff)
    assert changed == result["tracks_changed"] > 40
    assert elements(out)[1] == old[1]  # PRODUCT
    # the file is the input byte for byte outside the start tags of changed tracks
    assert out.read_bytes().count(b"<POSITION_MARK") == xml.read_bytes().count(b"<POSITION_MARK")


async def test_overwrite_replaces_filled_fields(tmp_path: Path, catalog: Catalog,
                                               fake: FakeCatalog) -> None:
    [track] = simple_collection(catalog, 1)
    track.update(Year="1999", Album="Wrong")
    xml = write_collection(tmp_path / "c.xml", [track])
    await run(context(xml, tmp_path, fake, write_fields=["year", "album"]))
    [(_, kept)] = [e for e in elements(tmp_path / "c.matched.xml") if e[1].get("TrackID")]
    assert (kept["Year"], kept["Album"]) == ("1999", "Wrong")
    await run(context(xml, tmp_path, fake, write_fields=["year", "album"], overwrite=True))
    [(_, new)] = [e for e in elements(tmp_path / "c.matched.xml") if e[1].get("TrackID")]
    rec = catalog.by_id()[track["truth"]]
    assert (new["Year"], new["Album"]) == (rec["releases"][0]["date"][:4],
                                           rec["releases"][0]["title"])


async def test_dry_run_writes_no_file(tmp_path: Path, catalog: Catalog,
                                      fake: FakeCatalog) -> None:
    xml = write_collection(tmp_path / "c.xml", simple_collection(catalog, 3))
    result = await run(context(xml, tmp_path, fake, dry_run=True, write_fields=["album"]))
    assert result["tracks_to_change"] >= 1 and "tracks_changed" not in result
    assert not (tmp_path / "c.matched.xml").exists()


async def test_tag_fields_without_an_attribute_are_refused_for_xml(
        tmp_path: Path, catalog: Catalog, fake: FakeCatalog) -> None:
    xml = write_collection(tmp_path / "c.xml", simple_collection(catalog, 1))
    with pytest.raises(JobFailed) as info:
        await run(context(xml, tmp_path, fake, write_fields=["isrc"]))
    assert info.value.code == "job.bad_params" and "isrc" in info.value.message
    assert fake.hits == []


# --- playlists -----------------------------------------------------------------------------------


async def test_playlists_by_path_by_name_by_location_and_folders(
        tmp_path: Path, catalog: Catalog, fake: FakeCatalog) -> None:
    tracks = simple_collection(catalog, 10)
    xml = write_collection(tmp_path / "c.xml", tracks)
    for name, want in (("Gigs/Peak Time", [t["TrackID"] for t in tracks[:5]]),
                       ("peak time", [t["TrackID"] for t in tracks[:5]]),
                       ("Warm Up", [t["TrackID"] for t in tracks[5:]]),  # KeyType 1
                       ("Gigs", [t["TrackID"] for t in tracks]),  # a folder: its playlists
                       ("", [t["TrackID"] for t in tracks])):
        ctx = context(xml, tmp_path, fake, playlist=name)
        result = await run(ctx)
        got = [r["details"]["track_id"] for r in items(ctx._reporter)]
        assert sorted(got, key=int) == sorted(want, key=int), name
        assert result["tracks"] == len(want)


async def test_an_unknown_playlist_fails_listing_those_that_exist(
        tmp_path: Path, catalog: Catalog, fake: FakeCatalog) -> None:
    xml = write_collection(tmp_path / "c.xml", simple_collection(catalog, 2))
    with pytest.raises(JobFailed) as info:
        await run(context(xml, tmp_path, fake, playlist="Closing Set"))
    assert info.value.code == "job.bad_params"
    assert "Closing Set" in info.value.message
    assert "Gigs/Peak Time" in info.value.message and "Warm Up" in info.value.message
    assert fake.hits == []


def test_a_malformed_playlist_path_is_refused_at_start() -> None:
    with pytest.raises(RequestError) as info:
        validate_params(KIND, {"playlist": "Gigs//Peak"}, ["/x.xml"])
    assert info.value.details == {"field": "params.playlist"}
    for params, field in (({"catalog_url": "ftp://x"}, "catalog_url"),
                          ({"write_fields": ["year", "colour"]}, "write_fields"),
                          ({"write_tags": True}, "write_tags"),
                          ({"rate_limit": 0}, "rate_limit")):
        with pytest.raises(RequestError) as info:
            validate_params(KIND, params, ["/x"])
        assert info.value.details == {"field": f"params.{field}"}, params


# --- bad input -----------------------------------------------------------------------------------


async def test_malformed_xml_fails_the_job_naming_the_line(tmp_path: Path, catalog: Catalog,
                                                          fake: FakeCatalog) -> None:
    text = collection_xml(simple_collection(catalog, 3)).splitlines()
    text[5] = text[5].replace('Name="', 'Name=', 1)  # an unquoted attribute value
    xml = tmp_path / "bad.xml"
    xml.write_text("\n".join(text))
    before = digest(xml)
    with pytest.raises(JobFailed) as info:
        await run(context(xml, tmp_path, fake))
    assert info.value.code == "input.malformed"
    assert "line 6" in info.value.message
    assert digest(xml) == before and fake.hits == []
    assert not (tmp_path / "bad.matched.xml").exists()


@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE DJ_PLAYLISTS [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>',
    '<!DOCTYPE DJ_PLAYLISTS [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE DJ_PLAYLISTS [<!ENTITY % p SYSTEM "http://127.0.0.1:9/x.dtd"> %p;]>',
])
async def test_entities_are_refused_never_expanded(tmp_path: Path, fake: FakeCatalog,
                                                   doctype: str) -> None:
    xml = tmp_path / "evil.xml"
    xml.write_text(f'<?xml version="1.0"?>\n{doctype}\n<DJ_PLAYLISTS><COLLECTION>'
                   f'<TRACK TrackID="1" Name="&b;" Artist="x"/></COLLECTION></DJ_PLAYLISTS>')
    with pytest.raises(JobFailed) as info:
        await run(context(xml, tmp_path, fake))
    assert info.value.code == "input.malformed"
    assert "line 2" in info.value.message
    assert fake.hits == []


async def test_not_a_collection(tmp_path: Path, fake: FakeCatalog) -> None:
    xml = tmp_path / "other.xml"
    xml.write_text('<?xml version="1.0"?><playlist><track/></playlist>')
    with pytest.raises(JobFailed) as info:
        await run(context(xml, tmp_path, fake))
    assert info.value.code == "input.malformed" and "DJ_PLAYLISTS" in info.value.message


async def test_empty_fields_and_bad_locations_are_clear_items(
        tmp_path: Path, catalog: Catalog, fake: FakeCatalog) -> None:
    good = simple_collection(catalog, 2)
    tracks = [{**good[0], "TrackID": "1", "Location": "http://example.org/track.mp3"},
              {"TrackID": "2", "Name": "", "Artist": "Somebody"},
              {"TrackID": "3", "Name": "Something", "Artist": "  "},
              {**good[1], "TrackID": "4", "Location": location("/Music/Ünïcode name.mp3")}]
    xml = write_collection(tmp_path / "c.xml", tracks)
    ctx = context(xml, tmp_path, fake)
    result = await run(ctx)
    got = {r["details"]["track_id"]: r for r in items(ctx._reporter)}
    assert got["1"]["status"] == "matched" and "not a file URL" in got["1"]["message"]
    assert got["1"]["path"] == "#1"
    assert got["2"]["status"] == "skipped" and "Name is empty" in got["2"]["message"]
    assert got["3"]["status"] == "skipped" and "Artist is empty" in got["3"]["message"]
    assert got["4"]["path"] == "/Music/Ünïcode name.mp3"
    assert result["skipped"] == 2 and result["matched"] == 2

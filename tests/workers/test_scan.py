"""Kind ``scan`` run in-process on real files: tags per format, filters, failures, cancel, order."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from mutagen.aiff import AIFF
from mutagen.flac import FLAC
from mutagen.id3 import TALB, TBPM, TCON, TDRC, TIT2, TKEY, TPE1, TPE2, TPOS, TRCK
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4, MP4FreeForm
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from medialoom.samplelib import make_audio
from medialoom.workers.context import CollectingReporter, JobContext
from medialoom.workers.errors import JobCancelled
from medialoom.workers.fileops.walk import WalkFilter, take, walk_files
from medialoom.workers.kinds import validate_params
from medialoom.workers.kinds.scan import KIND, READ_CHUNK, examine
from medialoom.workers.tags import read_tags

TAGS = {"artist": "Beyoncé", "title": "Fire 🔥 Dance", "album": "坂本龍一 Selections",
        "albumartist": "Sigur Rós", "track": "3/12", "disc": "2/2", "year": "2003-05-01",
        "genre": "Électronique", "bpm": "127.5", "key": "F#m"}
EXPECTED = {"artist": "Beyoncé", "title": "Fire 🔥 Dance", "album": "坂本龍一 Selections",
            "albumartist": "Sigur Rós", "track": 3, "disc": 2, "year": 2003,
            "genre": "Électronique", "bpm": 127.5, "key": "F#m"}
# ext -> (format, sample_rate, channels, duration_s) of the samplelib templates at 180 s
STREAMS = {"mp3": ("MP3", 48000, 1, 180.0), "wav": ("WAVE", 8000, 1, 1.0),
           "aiff": ("AIFF", 8000, 1, 1.0), "flac": ("FLAC", 44100, 2, 180.0),
           "ogg": ("OggVorbis", 44100, 2, 180.0), "opus": ("OggOpus", 48000, 2, 180.0),
           "m4a": ("MP4", 44100, 2, 180.0)}
VORBIS_NAMES = {"artist": "ARTIST", "title": "TITLE", "album": "ALBUM",
                "albumartist": "ALBUMARTIST", "track": "TRACKNUMBER", "disc": "DISCNUMBER",
                "year": "DATE", "genre": "GENRE", "bpm": "BPM", "key": "INITIALKEY"}


# --- fixtures: real files tagged with mutagen ----------------------------------------------


def write_audio(path: Path, tags: dict[str, str] | None = None, *, key_name: str = "") -> Path:
    """A readable file of path's format with tags written by mutagen (None: untagged)."""
    ext = path.suffix.lstrip(".")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(make_audio(ext, 180.0))
    if tags is None:
        return path
    if ext in ("mp3", "wav", "aiff"):
        audio = {"mp3": MP3, "wav": WAVE, "aiff": AIFF}[ext](path)
        audio.add_tags()
        for frame, name in ((TPE1, "artist"), (TIT2, "title"), (TALB, "album"),
                            (TPE2, "albumartist"), (TRCK, "track"), (TPOS, "disc"),
                            (TDRC, "year"), (TCON, "genre"), (TBPM, "bpm"), (TKEY, "key")):
            if name in tags:
                audio.tags.add(frame(encoding=3, text=[tags[name]]))
    elif ext == "m4a":
        audio = MP4(path)
        audio.add_tags()
        for name, atom in (("artist", "\xa9ART"), ("title", "\xa9nam"), ("album", "\xa9alb"),
                           ("albumartist", "aART"), ("year", "\xa9day"), ("genre", "\xa9gen")):
            if name in tags:
                audio[atom] = [tags[name]]
        if "track" in tags:
            audio["trkn"] = [tuple(int(x) for x in tags["track"].split("/"))]
        if "disc" in tags:
            audio["disk"] = [tuple(int(x) for x in tags["disc"].split("/"))]
        if "bpm" in tags:
            audio["tmpo"] = [round(float(tags["bpm"]))]
        if "key" in tags:
            name = key_name or "----:com.apple.iTunes:initialkey"
            audio[name] = [MP4FreeForm(tags["key"].encode())]
    else:
        audio = {"flac": FLAC, "ogg": OggVorbis, "opus": OggOpus}[ext](path)
        if audio.tags is None:
            audio.add_tags()
        for name, value in tags.items():
            audio[key_name if name == "key" and key_name else VORBIS_NAMES[name]] = [value]
    audio.save()
    return path


class HookReporter(CollectingReporter):
    """Collects like CollectingReporter and calls hook(ctx) at the first progress report
    (during the walk that counts the files)."""

    def __init__(self, hook: Any) -> None:
        super().__init__()
        self.hook = hook
        self.fired_at: int | None = None

    def send_progress(self, ctx: JobContext) -> None:
        super().send_progress(ctx)
        if self.fired_at is None:
            self.fired_at = ctx.processed
            self.hook(ctx)


class HookContext(JobContext):
    """A JobContext that calls hook(ctx) once, when the item numbered at is reported."""

    def __init__(self, *args: Any, at: int, hook: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.at, self.hook = at, hook

    def item(self, *args: Any, **kwargs: Any) -> None:
        super().item(*args, **kwargs)
        if self.processed == self.at:
            self.hook(self)


def make_ctx(paths: list[Path], roots: list[Path], reporter: CollectingReporter | None = None,
             hook: tuple[int, Any] | None = None, **params: Any
             ) -> tuple[JobContext, CollectingReporter]:
    """A scan context; hook (at, fn): fn(ctx) once item number at is reported."""
    reporter = reporter or CollectingReporter()
    args: dict[str, Any] = dict(job_id="j1", attempt=1, kind="scan",
                                paths=[str(p) for p in paths],
                                params=validate_params(KIND, params), dry_run=False,
                                roots=[str(r) for r in roots], reporter=reporter)
    ctx = (JobContext(**args) if hook is None
           else HookContext(**args, at=hook[0], hook=hook[1]))
    return ctx, reporter


async def scan(root: Path, paths: list[Path] | None = None, **params: Any
               ) -> tuple[dict[str, Any], list[dict[str, Any]], JobContext]:
    """Run the kind over paths (default: root) with root as the library root."""
    ctx, reporter = make_ctx(paths or [root], [root], **params)
    result = await KIND.run(ctx)
    ctx.flush_items()
    return result, reporter.items, ctx


def rels(items: list[dict[str, Any]], root: Path) -> list[str]:
    """The items' paths relative to root, in item order."""
    return [os.path.relpath(item["path"], root) for item in items]


def by_rel(items: list[dict[str, Any]], root: Path) -> dict[str, dict[str, Any]]:
    return dict(zip(rels(items, root), items, strict=True))


# --- tags and stream info per format ----------------------------------------------------


@pytest.mark.parametrize("ext", sorted(STREAMS))
async def test_reports_every_tag_and_stream_field_per_format(tmp_path: Path, ext: str) -> None:
    path = write_audio(tmp_path / f"song.{ext}", TAGS)
    result, items, _ = await scan(tmp_path)
    [item] = items
    fmt, rate, channels, duration = STREAMS[ext]
    assert item["status"] == "ok" and item["message"] == ""
    assert item["path"] == str(path) and item["i"] == 0
    details = item["details"]
    assert details["format"] == fmt
    assert details["sample_rate"] == rate and details["channels"] == channels
    assert details["duration_s"] == pytest.approx(duration, abs=0.05)
    assert details["bitrate"] > 0
    assert details["size"] == path.stat().st_size
    assert details["mtime"] == pytest.approx(path.stat().st_mtime)
    expected = dict(EXPECTED, bpm=128) if ext == "m4a" else EXPECTED  # MP4 tmpo is an integer
    assert details["tags"] == expected
    assert result["files"] == 1 and result["formats"] == {fmt: 1}
    assert result["bytes"] == path.stat().st_size


@pytest.mark.parametrize(("ext", "key_name"), [
    ("flac", "KEY"), ("ogg", "key"), ("opus", "InitialKey"),
    ("m4a", "----:com.apple.iTunes:INITIALKEY"), ("m4a", "----:com.apple.iTunes:InitialKey"),
])
def test_reads_key_under_each_name_containers_use(tmp_path: Path, ext: str, key_name: str) -> None:
    path = write_audio(tmp_path / f"k.{ext}", {"key": "8A"}, key_name=key_name)
    assert read_tags(str(path))["tags"] == {"key": "8A"}


def test_keeps_unparseable_track_as_text_and_drops_bad_bpm(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "vinyl.flac", {"track": "A1", "disc": "side B", "bpm": "fast",
                                               "year": "unknown", "artist": "  "})
    assert read_tags(str(path))["tags"] == {"track": "A1", "disc": "side B", "year": "unknown"}


def test_omits_missing_tags_and_reports_untagged_file_with_empty_tags(tmp_path: Path) -> None:
    partial = write_audio(tmp_path / "partial.flac", {"title": "Only a title", "track": "7"})
    bare = write_audio(tmp_path / "bare.mp3", None)
    assert read_tags(str(partial))["tags"] == {"title": "Only a title", "track": 7}
    info = read_tags(str(bare))
    assert info["format"] == "MP3" and info["tags"] == {}


def test_joins_multiple_values_of_a_text_tag(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "duet.flac", {"title": "Duet"})
    audio = FLAC(path)
    audio["ARTIST"] = ["Björk", "Motörhead"]
    audio.save()
    assert read_tags(str(path))["tags"]["artist"] == "Björk; Motörhead"


# --- filters ---------------------------------------------------------------------------------


@pytest.fixture
def library(tmp_path: Path) -> Path:
    root = tmp_path / "lib"
    write_audio(root / "a.mp3", {"title": "a"})
    write_audio(root / "b.flac", {"title": "b"})
    big = write_audio(root / "big.flac", {"title": "big"})
    with big.open("ab") as fh:
        fh.write(bytes(50_000))
    old = write_audio(root / "old.mp3", {"title": "old"})
    year_ago = time.time() - 400 * 86400
    os.utime(old, (year_ago, year_ago))
    write_audio(root / "Sub" / "c.mp3", {"title": "c"})
    write_audio(root / "Sub" / "Deep" / "d.wav", {"title": "d"})
    write_audio(root / "Incoming" / "e.mp3", {"title": "e"})
    (root / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "notes.txt").write_text("liner notes")
    return root


ALL_AUDIO = ["a.mp3", "b.flac", "big.flac", "old.mp3", "Incoming/e.mp3", "Sub/c.mp3",
             "Sub/Deep/d.wav"]


@pytest.mark.parametrize(("params", "expected"), [
    ({}, ALL_AUDIO),
    ({"pattern": "*.FLAC"}, ["b.flac", "big.flac"]),
    ({"pattern": "?.*"}, ["a.mp3", "b.flac", "Incoming/e.mp3", "Sub/c.mp3", "Sub/Deep/d.wav"]),
    ({"pattern": "**/*.mp3"}, ["a.mp3", "old.mp3", "Incoming/e.mp3", "Sub/c.mp3"]),
    ({"pattern": "*/*.mp3"}, ["Incoming/e.mp3", "Sub/c.mp3"]),
    ({"pattern": "/*.mp3"}, ["a.mp3", "old.mp3"]),
    ({"pattern": "sub/**"}, ["Sub/c.mp3", "Sub/Deep/d.wav"]),
    ({"pattern": "Sub/**/*.wav"}, ["Sub/Deep/d.wav"]),
    ({"exclude": ["incoming", "Sub/Deep/*"]}, ["a.mp3", "b.flac", "big.flac", "old.mp3",
                                              "Sub/c.mp3"]),
    ({"exclude": ["*.mp3"]}, ["b.flac", "big.flac", "Sub/Deep/d.wav"]),
    ({"exclude": ["deep/"]}, [p for p in ALL_AUDIO if p != "Sub/Deep/d.wav"]),
    ({"min_size": 50_000}, ["big.flac"]),
    ({"max_age_days": 30}, [p for p in ALL_AUDIO if p != "old.mp3"]),
    ({"max_age_days": 0}, ALL_AUDIO),
    ({"recursive": False}, ["a.mp3", "b.flac", "big.flac", "old.mp3"]),
    ({"extensions": [".FLAC", "wav"]}, ["b.flac", "big.flac", "Sub/Deep/d.wav"]),
    ({"extensions": [], "recursive": False},
     ["a.mp3", "b.flac", "big.flac", "cover.jpg", "notes.txt", "old.mp3"]),
])
async def test_filters_select_files(library: Path, params: dict[str, Any],
                                    expected: list[str]) -> None:
    result, items, ctx = await scan(library, **params)
    assert rels(items, library) == expected
    assert [i["i"] for i in items] == list(range(len(expected)))
    assert ctx.total == len(expected) == result["files"]


async def test_filters_left_out_files_are_counted_by_reason(library: Path) -> None:
    year_ago = time.time() - 400 * 86400
    os.utime(library / "b.flac", (year_ago, year_ago))
    result, items, _ = await scan(library, exclude=["Sub/"], min_size=2000, max_age_days=30)
    assert rels(items, library) == ["big.flac"] and result["files"] == 1
    # cover.jpg, notes.txt: extension; the mp3 files (about 1.5 kB): size; b.flac: age
    assert result["ignored_by"] == {"age": 1, "extension": 2, "size": 3}
    assert result["excluded_folders"] == 1 and result["ignored"] == 6


async def test_non_audio_files_are_ok_items_without_format_when_extensions_are_any(
        library: Path) -> None:
    _, items, _ = await scan(library, extensions=[], pattern="*.*[gt]")
    found = by_rel(items, library)
    assert set(found) == {"cover.jpg", "notes.txt"}
    assert found["notes.txt"]["status"] == "ok"
    assert found["notes.txt"]["details"] == {"size": 11, "format": None,
                                             "mtime": found["notes.txt"]["details"]["mtime"]}


async def test_a_file_path_is_scanned_like_a_one_file_directory(library: Path) -> None:
    result, items, _ = await scan(library, [library / "b.flac", library / "Sub"])
    assert rels(items, library) == ["b.flac", "Sub/c.mp3", "Sub/Deep/d.wav"]
    assert result["formats"] == {"FLAC": 1, "MP3": 1, "WAVE": 1}


# --- failures: corrupt, vanished, outside the roots -------------------------------------


async def test_corrupt_file_fails_with_message_and_scan_continues(tmp_path: Path) -> None:
    write_audio(tmp_path / "1 good.mp3", TAGS)
    (tmp_path / "2 garbage.mp3").write_bytes(b"JUNK" + bytes(range(200)) * 10)
    (tmp_path / "3 garbage.flac").write_bytes(b"not a flac at all")
    (tmp_path / "4 empty.mp3").write_bytes(b"")
    write_audio(tmp_path / "5 good.flac", TAGS)
    result, items, ctx = await scan(tmp_path)
    statuses = [(os.path.basename(i["path"]), i["status"]) for i in items]
    assert statuses == [("1 good.mp3", "ok"), ("2 garbage.mp3", "failed"),
                        ("3 garbage.flac", "failed"), ("4 empty.mp3", "failed"),
                        ("5 good.flac", "ok")]
    for item in items[1:4]:
        assert item["message"].startswith("cannot read tags: ")
        assert len(item["message"]) > len("cannot read tags: ")
        assert "format" not in item["details"] and "size" in item["details"]
    assert "sync" in items[1]["message"] and "FLAC" in items[2]["message"]
    assert (ctx.failed, ctx.succeeded, ctx.processed) == (3, 2, 5)
    assert result["failed"] == 3 and result["formats"] == {"FLAC": 1, "MP3": 1}


async def test_file_removed_after_the_count_is_not_reported(tmp_path: Path) -> None:
    paths = [write_audio(tmp_path / f"{n:03d}.mp3", {"title": str(n)})
             for n in range(2 * READ_CHUNK + 4)]
    doomed = paths[-1]
    ctx, reporter = make_ctx([tmp_path], [tmp_path], hook=(1, lambda ctx: doomed.unlink()))
    result = await KIND.run(ctx)
    ctx.flush_items()
    assert ctx.total == len(paths)  # counted before it vanished
    assert [i["path"] for i in reporter.items] == [str(p) for p in paths[:-1]]
    assert [i["i"] for i in reporter.items] == list(range(len(paths) - 1))
    assert result["files"] == len(paths) - 1 and result["formats"] == {"MP3": len(paths) - 1}


def test_file_removed_between_walk_and_read_is_skipped_as_vanished(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.mp3", TAGS)
    [entry] = take(walk_files([str(tmp_path)]), 5)
    path.unlink()
    assert examine(entry, os.path.realpath) == ("skipped", "vanished", {})


async def test_symlinks_to_files_are_not_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "lib", tmp_path / "outside"
    secret = write_audio(outside / "secret.mp3", TAGS)
    write_audio(root / "a.mp3", TAGS)
    (root / "b.mp3").symlink_to(secret)
    (root / "c.mp3").symlink_to(root / "a.mp3")
    result, items, ctx = await scan(root)
    assert rels(items, root) == ["a.mp3"] and items[0]["status"] == "ok"
    assert result["links_not_followed"] == 2


async def test_job_path_outside_the_roots_is_refused_without_walking_it(tmp_path: Path) -> None:
    root, outside = tmp_path / "lib", tmp_path / "outside"
    write_audio(outside / "x.mp3", TAGS)
    write_audio(root / "a.mp3", TAGS)
    ctx, reporter = make_ctx([outside, root / "missing", root], [root])
    result = await KIND.run(ctx)
    ctx.flush_items()
    assert [(i["path"], i["status"]) for i in reporter.items] == [
        (str(outside), "skipped"), (str(root / "missing"), "skipped"),
        (str(root / "a.mp3"), "ok")]
    assert "outside the library roots" in reporter.items[0]["message"]
    assert reporter.items[1]["message"] == "not found"
    assert result["formats"] == {"MP3": 1}


async def test_directory_symlinks_are_not_followed(tmp_path: Path) -> None:
    root, outside = tmp_path / "lib", tmp_path / "outside"
    write_audio(outside / "x.mp3", TAGS)
    write_audio(root / "Album" / "a.mp3", TAGS)
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "loop").symlink_to(root, target_is_directory=True)
    result, items, _ = await scan(root)
    assert [i["path"] for i in items] == [str(root / "Album" / "a.mp3")]
    assert result["links_not_followed"] == 2


# --- cancel and determinism -----------------------------------------------------------------


async def test_cancel_mid_scan_raises_job_cancelled_before_the_end(tmp_path: Path) -> None:
    for n in range(3 * READ_CHUNK):
        write_audio(tmp_path / f"{n:03d}.flac", {"title": str(n)})
    ctx, reporter = make_ctx([tmp_path], [tmp_path], hook=(5, lambda c: c.request_cancel()))
    with pytest.raises(JobCancelled):
        await KIND.run(ctx)
    ctx.flush_items()
    assert ctx.processed == READ_CHUNK < ctx.total == 3 * READ_CHUNK  # the chunk it was in
    assert [i["i"] for i in reporter.items] == list(range(ctx.processed))


async def test_cancel_while_counting_stops_before_any_item(tmp_path: Path) -> None:
    for n in range(3):
        for m in range(1000):
            (tmp_path / f"d{n}" / f"{m}.mp3").parent.mkdir(exist_ok=True)
            (tmp_path / f"d{n}" / f"{m}.mp3").write_bytes(b"")
    reporter = HookReporter(lambda ctx: ctx.request_cancel())
    ctx, _ = make_ctx([tmp_path], [tmp_path], reporter)
    with pytest.raises(JobCancelled):
        await KIND.run(ctx)
    assert reporter.fired_at == 0 and reporter.items == []
    assert 0 < ctx.total < 3000  # stopped after the first batch of the count


async def test_retried_attempt_reproduces_item_indices(tmp_path: Path) -> None:
    names = ["b/z.mp3", "a/y.flac", "B/x.wav", "c.mp3", "a/sub/w.mp3", "Ä.mp3", "0.mp3"]
    for name in reversed(names):  # creation order must not matter
        write_audio(tmp_path / name, {"title": name})
    _, first, _ = await scan(tmp_path)
    _, second, _ = await scan(tmp_path)
    order = list(zip([i["i"] for i in first], rels(first, tmp_path), strict=True))
    assert order == list(zip([i["i"] for i in second], rels(second, tmp_path), strict=True))
    # a folder's files in name order, then its subfolders, depth first
    assert order == list(enumerate(["0.mp3", "c.mp3", "Ä.mp3", "B/x.wav", "a/y.flac",
                                    "a/sub/w.mp3", "b/z.mp3"]))


def test_walk_order_does_not_depend_on_batch_size(tmp_path: Path) -> None:
    for d in range(5):
        for f in range(7):
            (tmp_path / f"d{d}" / f"e{d}").mkdir(parents=True, exist_ok=True)
            (tmp_path / f"d{d}" / f"{f}.mp3").write_bytes(b"x")
            (tmp_path / f"d{d}" / f"e{d}" / f"{f}.flac").write_bytes(b"x")

    def walk(batch: int) -> list[str]:
        walk = walk_files([str(tmp_path)], WalkFilter.from_params({"extensions": ["mp3", "flac"]}))
        out: list[str] = []
        while found := take(walk, batch):
            out.extend(entry.path for entry in found)
        return out

    whole = walk(10_000)
    assert len(whole) == 70 and len(set(whole)) == 70
    assert walk(1) == walk(3) == whole

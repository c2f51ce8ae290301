"""Kind ``audio-default`` on real MKV and MP4 files made by ffmpeg, read back with mkvmerge -J
and ffprobe: eng -> jpn with exactly one default, the original language, dry run, a retry
after a simulated and a real kill -9 (nothing edited twice), rollback, hard links, bad input."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from medialoom.protocol.errors import RequestError
from medialoom.workers.context import CollectingReporter
from medialoom.workers.errors import JobCancelled, PathForbidden
from medialoom.workers.fileops.apply import temp_name
from medialoom.workers.kinds import validate_params
from medialoom.workers.kinds.audio_default import KIND
from medialoom.workers.kinds.rollback import KIND as ROLLBACK
from medialoom.workers.video.files import check_space
from tests.fileops.kindrun import PlanHookReporter, by_name, items, make_ctx, plan, run_kind
from tests.support import make_system, pages
from tests.video_fixtures import CORRUPT, Videos, default_audio, place, videos

__all__ = ["videos"]  # the session fixture, imported for pytest

ENG = [("eng", True), ("jpn", False)]
JPN = [("eng", False), ("jpn", True)]


def digest(path: Path) -> str:
    return hashlib.blake2b(path.read_bytes()).hexdigest()


def same_file(a: Path, b: Path) -> bool:
    return os.path.samefile(a, b)


def write(path: Path, data: bytes) -> None:
    path.write_bytes(data)


def all_flags(path: Path) -> list[tuple[int, bool, bool]]:
    """(uid, default, forced) of every track of an MKV, video included."""
    out = subprocess.run(["mkvmerge", "-J", str(path)], capture_output=True, check=True,
                         timeout=30).stdout
    return [(t["properties"]["uid"], t["properties"]["default_track"],
             t["properties"]["forced_track"]) for t in json.loads(out)["tracks"]]


# --- what it does ---------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
async def test_makes_jpn_the_one_default_and_rollback_restores_eng_exactly(
        tmp_path: Path, videos: Videos, ext: str) -> None:
    f = place(videos[f"eng_jpn.{ext}"], tmp_path / f"ep1.{ext}")
    before = all_flags(f) if ext == "mkv" else None
    reporter = CollectingReporter()
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path], reporter=reporter,
                               languages=["jpn", "eng"])
    assert result == {"files": 1, "changed": 1}
    assert default_audio(f) == JPN  # exactly one default audio track: the jpn one
    [item] = items(reporter)
    assert item["status"] == "changed" and item["message"] == "default audio: eng (#1) -> jpn (#2)"
    tracks = item["details"]["tracks"]
    assert [(t["language"], t["default_before"], t["default_after"]) for t in tracks] == \
        [("eng", True, False), ("jpn", False, True)]
    if ext == "mkv":  # chosen by UID, which the edit keeps
        assert all(t["key"].startswith("uid:") for t in tracks)
        assert [u for u, *_ in all_flags(f)] == [u for u, *_ in before]
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".medialoom-")]

    rb, _ = await run_kind(ROLLBACK, [], [tmp_path], reporter=reporter, job_id="rb", job="j1")
    assert rb["restored"] == 1
    assert default_audio(f) == ENG
    if ext == "mkv":
        assert all_flags(f) == before  # every track's flags as they were, video included


async def test_original_language_from_the_job_then_from_the_file(
        tmp_path: Path, videos: Videos) -> None:
    a = place(videos["eng_jpn.mkv"], tmp_path / "a" / "show.mkv")
    await run_kind(KIND, [a.parent], [tmp_path], original_language="Japanese")
    assert default_audio(a) == JPN  # languages default: original, eng

    b = place(videos["eng_jpn.mkv"], tmp_path / "b" / "show.mkv")
    result, ctx = await run_kind(KIND, [b.parent], [tmp_path], job_id="j2")
    assert result == {"files": 1, "unchanged": 1}  # original unknown: eng is next, and default
    [item] = items(ctx._reporter, "j2")
    assert item["message"] == "eng (#1) is already the only default audio track"
    assert item["details"]["wanted"] == ["eng"]

    c = place(videos["eng_jpn_orig.mkv"], tmp_path / "c" / "show.mkv")
    result, ctx = await run_kind(KIND, [c.parent], [tmp_path], job_id="j3")
    assert result == {"files": 1, "changed": 1} and default_audio(c) == JPN
    assert items(ctx._reporter, "j3")[0]["details"]["original_from"] == "file"


async def test_already_right_is_unchanged_and_the_file_untouched(
        tmp_path: Path, videos: Videos) -> None:
    f = place(videos["eng_jpn.mp4"], tmp_path / "movie.mp4")
    before, mtime = digest(f), f.stat().st_mtime_ns
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path], languages=["English", "jpn"])
    assert result == {"files": 1, "unchanged": 1}
    assert digest(f) == before and f.stat().st_mtime_ns == mtime


async def test_no_wanted_language_is_skipped_naming_the_languages_found(
        tmp_path: Path, videos: Videos) -> None:
    place(videos["fre_ger.mkv"], tmp_path / "film.mkv")
    result, ctx = await run_kind(KIND, [tmp_path], [tmp_path], languages=["jpn", "eng"])
    assert result == {"files": 1, "skipped": 1}
    [item] = items(ctx._reporter)
    assert item["message"] == "no audio track in jpn, eng (tracks: fre, ger)"


async def test_t_codes_and_names_match_b_tagged_tracks(tmp_path: Path, videos: Videos) -> None:
    f = place(videos["fre_ger.mkv"], tmp_path / "film.mkv")
    await run_kind(KIND, [tmp_path], [tmp_path], languages=["deu"])  # T code, track says ger
    assert default_audio(f) == [("fre", False), ("ger", True)]
    await run_kind(KIND, [tmp_path], [tmp_path], job_id="j2", languages=["French"])
    assert default_audio(f) == [("fre", True), ("ger", False)]


async def test_dry_run_changes_nothing_and_the_real_run_applies_that_plan(
        tmp_path: Path, videos: Videos) -> None:
    files = [place(videos["eng_jpn.mkv"], tmp_path / "a.mkv"),
             place(videos["eng_jpn.mp4"], tmp_path / "b.mp4")]
    before = {f: digest(f) for f in files}
    result, ctx = await run_kind(KIND, [tmp_path], [tmp_path], dry_run=True, languages=["jpn"])
    assert result == {"files": 2, "planned": 2}
    assert {f: digest(f) for f in files} == before
    assert sorted(os.listdir(tmp_path)) == ["a.mkv", "b.mp4"]
    rows = items(ctx._reporter)
    assert [r["message"] for r in rows] == ["default audio: eng (#1) -> jpn (#2)"] * 2
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path], languages=["jpn"], job_id="j2")
    assert result == {"files": 2, "changed": 2}
    assert [default_audio(f) for f in files] == [JPN, JPN]


# --- exactly once ---------------------------------------------------------------------------


async def test_retry_after_a_kill_edits_no_file_twice(tmp_path: Path, videos: Videos) -> None:
    files = [place(videos["eng_jpn.mp4" if n in (1, 4) else "eng_jpn.mkv"],
                   tmp_path / f"e{n}.{'mp4' if n in (1, 4) else 'mkv'}") for n in range(7)]
    reporter = CollectingReporter()
    ctx1 = make_ctx(KIND, [tmp_path], [tmp_path], reporter=reporter, languages=["jpn"],
                    survive=2)
    with pytest.raises(JobCancelled):
        await KIND.run(ctx1)
    ctx1.flush_items()
    stored = copy.deepcopy(plan(reporter))
    assert len(stored) == 7 and len(items(reporter)) == 2
    done1 = {f for f in files if default_audio(f) == JPN}
    edited_unreported = done1 - {Path(i["path"]) for i in items(reporter)}
    assert ctx1.lost and edited_unreported  # edited, then the "worker died" before telling
    assert len(done1) < 7
    stamps = {f: (f.stat().st_mtime_ns, f.stat().st_ino) for f in files}

    result, ctx2 = await run_kind(KIND, [tmp_path], [tmp_path], reporter=reporter, attempt=2,
                                  has_plan=True, languages=["jpn"])
    assert plan(reporter) == stored  # not planned again
    assert result == {"files": 7, "changed": 7} and ctx2.processed == 7
    got = by_name(items(reporter))
    for f in files:
        assert default_audio(f) == JPN
        if f in done1:  # edited by attempt 1: found done, not edited again
            assert got[f.name]["message"] == "already done"
            assert (f.stat().st_mtime_ns, f.stat().st_ino) == stamps[f], f"{f} edited twice"
        else:
            assert got[f.name]["message"] != "already done"
            assert (f.stat().st_mtime_ns, f.stat().st_ino) != stamps[f]
    rb, _ = await run_kind(ROLLBACK, [], [tmp_path], reporter=reporter, job_id="rb", job="j1")
    assert rb["restored"] == 7 and all(default_audio(f) == ENG for f in files)


async def test_a_flag_changed_after_the_plan_is_a_conflict_left_alone(
        tmp_path: Path, videos: Videos) -> None:
    f = place(videos["eng_jpn.mkv"], tmp_path / "a.mkv")

    def meddle() -> None:  # someone sets both tracks default between plan and apply
        subprocess.run(["mkvpropedit", "-q", str(f), "--edit", "track:a2", "--set",
                        "flag-default=1"], check=True, timeout=30)

    reporter = PlanHookReporter(meddle)
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path], reporter=reporter,
                               languages=["jpn"])
    [item] = items(reporter)
    assert item["status"] == "conflict" and "changed since the plan" in item["message"]
    assert default_audio(f) == [("eng", True), ("jpn", True)]


# --- hard links -----------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
async def test_hard_links_are_skipped_by_default_and_broken_on_request(
        tmp_path: Path, videos: Videos, ext: str) -> None:
    seed = place(videos[f"eng_jpn.{ext}"], tmp_path / "downloads" / f"rel.{ext}")
    lib = tmp_path / "tv" / f"ep.{ext}"
    lib.parent.mkdir()
    os.link(seed, lib)
    result, ctx = await run_kind(KIND, [lib.parent], [tmp_path], languages=["jpn"])
    [item] = items(ctx._reporter)
    assert item["status"] == "skipped" and "2 hard links" in item["message"]
    assert default_audio(lib) == ENG and same_file(seed, lib)

    result, ctx = await run_kind(KIND, [lib.parent], [tmp_path], job_id="j2",
                                 languages=["jpn"], hardlinks="break")
    assert result == {"files": 1, "changed": 1}
    assert default_audio(lib) == JPN and default_audio(seed) == ENG  # the seed keeps its bytes
    assert not same_file(seed, lib) and seed.stat().st_nlink == 1


async def test_hardlinks_edit_changes_every_link_of_an_mkv(tmp_path: Path, videos: Videos) -> None:
    seed = place(videos["eng_jpn.mkv"], tmp_path / "downloads" / "rel.mkv")
    lib = tmp_path / "tv" / "ep.mkv"
    lib.parent.mkdir()
    os.link(seed, lib)
    await run_kind(KIND, [lib.parent], [tmp_path], languages=["jpn"], hardlinks="edit")
    assert default_audio(seed) == default_audio(lib) == JPN and same_file(seed, lib)


# --- bad input: clear items, nothing changed ------------------------------------------------


async def test_bad_files_get_clear_items_and_change_nothing(tmp_path: Path,
                                                             videos: Videos) -> None:
    (tmp_path / "corrupt.mkv").write_bytes(CORRUPT)
    (tmp_path / "corrupt.mp4").write_bytes(b"not a video, just text\n" * 100)
    (tmp_path / "empty.mkv").write_bytes(b"")
    place(videos["no_audio.mkv"], tmp_path / "silent.mkv")
    ro = place(videos["eng_jpn.mkv"], tmp_path / "readonly.mkv")
    ro.chmod(0o444)
    os.mkfifo(tmp_path / "pipe.mkv")  # the walker passes named pipes over for this kind
    good = place(videos["eng_jpn.mkv"], tmp_path / "good.mkv")
    before = {p: digest(tmp_path / p) for p in os.listdir(tmp_path) if p != "pipe.mkv"}
    result, ctx = await run_kind(KIND, [tmp_path], [tmp_path], languages=["jpn"])
    got = by_name(items(ctx._reporter))
    assert set(got) == set(before)
    assert got["corrupt.mkv"]["status"] == "failed"
    assert got["corrupt.mkv"]["message"] == (
        "cannot read: mkvmerge: The demultiplexer failed to initialize: The file headers could "
        "not be parsed, e.g. because they're incomplete, invalid or damaged.")
    assert got["corrupt.mp4"]["status"] == "failed" and \
        got["corrupt.mp4"]["message"].startswith("cannot read: ffprobe: ")
    assert (got["empty.mkv"]["status"], got["empty.mkv"]["message"]) == \
        ("failed", "empty file (0 bytes): not a video")
    assert (got["silent.mkv"]["status"], got["silent.mkv"]["message"]) == \
        ("skipped", "no audio tracks")
    assert got["readonly.mkv"]["status"] == "skipped"
    assert got["readonly.mkv"]["message"].startswith("read-only file (mode 0444)")
    assert got["good.mkv"]["status"] == "changed" and default_audio(good) == JPN
    assert {p: digest(tmp_path / p) for p in before if p != "good.mkv"} == \
        {p: h for p, h in before.items() if p != "good.mkv"}
    assert result["failed"] == 3 and result["skipped"] == 2 and result["changed"] == 1


async def test_a_file_that_vanishes_after_the_plan_is_vanished(tmp_path: Path,
                                                               videos: Videos) -> None:
    gone = place(videos["eng_jpn.mp4"], tmp_path / "gone.mp4")
    stays = place(videos["eng_jpn.mp4"], tmp_path / "stays.mp4")
    reporter = PlanHookReporter(gone.unlink)
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path], reporter=reporter,
                               languages=["jpn"])
    assert result == {"files": 2, "vanished": 1, "changed": 1}
    assert by_name(items(reporter))["gone.mp4"]["message"] == f"{gone} is gone"
    assert default_audio(stays) == JPN


async def test_a_leftover_temp_file_of_a_killed_remux_is_replaced_and_removed(
        tmp_path: Path, videos: Videos) -> None:
    f = place(videos["eng_jpn.mp4"], tmp_path / "m.mp4")
    leftover = Path(temp_name(str(f)))
    write(leftover, b"half a remux")
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path], languages=["jpn"])
    assert result == {"files": 1, "changed": 1} and os.listdir(tmp_path) == ["m.mp4"]


def test_free_space_is_checked_before_a_copy(tmp_path: Path) -> None:
    (tmp_path / "big.mp4").write_bytes(b"x")
    assert check_space(str(tmp_path / "big.mp4"), 10) == ""
    assert check_space(str(tmp_path / "big.mp4"), 1 << 60).startswith("not enough free space")


async def test_paths_outside_the_roots_are_refused(tmp_path: Path, videos: Videos) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    place(videos["eng_jpn.mkv"], outside / "x.mkv")
    ctx = make_ctx(KIND, [outside], [root], languages=["jpn"])
    with pytest.raises(PathForbidden):
        await KIND.run(ctx)
    assert default_audio(outside / "x.mkv") == ENG and ctx._reporter.plans == {}


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"languages": ["klingonese"]}, "params.languages", "is not a language"),
    ({"languages": []}, "params.languages", "at least one language"),
    ({"languages": "jpn"}, "params.languages", "must be list"),
    ({"original_language": "Elvish"}, "params.original_language", "is not a language"),
    ({"hardlinks": "copy"}, "params.hardlinks", "must be one of skip, break, edit"),
    ({"timeout_s": 0}, "params.timeout_s", "at least"),
])
def test_bad_parameters_are_refused_by_the_spec(params: dict, field: str, message: str) -> None:
    with pytest.raises(RequestError, match=message) as info:
        validate_params(KIND, params, ["/lib"])
    assert info.value.code == "job.bad_params" and info.value.details == {"field": field}


# --- real processes: kill -9 of the worker mid-job ------------------------------------------


@pytest.mark.e2e
def test_kill9_of_the_worker_mid_job_completes_with_no_file_edited_twice(
        tmp_path: Path, videos: Videos) -> None:
    FILES = 10  # noqa: N806
    system = make_system(tmp_path)
    lib = system.root / "tv"
    files = [place(videos["eng_jpn.mkv"], lib / f"s01e{n:02}.mkv") for n in range(FILES)]
    original = {f: f.stat().st_mtime_ns for f in files}
    system.start_broker()
    system.start_worker(slots=1)
    system.start_worker(slots=1)
    try:
        with system.client() as c:
            job = c.start("audio-default", [str(lib)], {"languages": ["jpn"]})
            while not (seen := c.status(job["id"]))["planned"] or \
                    not seen["progress"]["processed"]:
                assert seen["status"] in ("queued", "running"), seen
            busy = [w["pid"] for w in c.stats()["workers"] if w["running"]]
            os.kill(busy[0], signal.SIGKILL)
            time.sleep(0.3)  # a tool the dead worker started finishes on its own
            at_kill = {f: f.stat().st_mtime_ns for f in files}
            done = c.wait(job["id"], timeout_s=120)
            assert done["status"] == "completed" and done["attempts"] == 2, done
            results = {i["path"]: i for i in pages(c, "results", job["id"])[0]}
            assert len(results) == FILES and done["progress"]["processed"] == FILES
            edited_before_kill = {f for f in files if at_kill[f] != original[f]}
            assert edited_before_kill and len(edited_before_kill) < FILES, \
                f"{len(edited_before_kill)} of {FILES} edited when the worker was killed"
            for f in files:
                assert default_audio(f) == JPN
                item = results[str(f)]
                assert item["status"] == "changed", item
                if f in edited_before_kill:  # the retry found it done and left it alone
                    assert item["message"] == "already done", item
                    assert f.stat().st_mtime_ns == at_kill[f], f"{f} edited twice"
            rb = c.wait(c.start("rollback", [], {"job": job["id"]})["id"], timeout_s=120)
            assert rb["status"] == "completed" and rb["progress"]["succeeded"] == FILES, rb
            assert all(default_audio(f) == ENG for f in files)
    finally:
        system.stop()

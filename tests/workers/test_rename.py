"""Kind ``rename`` in-process on real tagged files: fields per format, safety, collisions,
dry run == apply, a retry after a simulated kill, rollback, failures, library roots."""

from __future__ import annotations

import contextlib
import copy
import os
import pwd
import shutil
import signal
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from medialoom.protocol.errors import RequestError
from medialoom.samplelib import generate
from medialoom.workers.context import CollectingReporter
from medialoom.workers.errors import JobCancelled, JobFailed, PathForbidden
from medialoom.workers.kinds import validate_params
from medialoom.workers.kinds.rename import KIND
from medialoom.workers.kinds.rollback import KIND as ROLLBACK
from tests.fileops.kindrun import (
    PlanHookReporter,
    by_name,
    exists,
    expose_kinds,
    items,
    make_ctx,
    permission_bits_enforced,
    plan,
    run_kind,
    tree,
    write_track,
)
from tests.support import make_system

FORMATS = ("mp3", "flac", "wav", "aiff", "m4a", "ogg", "opus")
FULL = {"artist": "Daft Punk", "albumartist": "Various", "title": "One More Time",
        "album": "Discovery", "track": "3/14", "disc": "2/2", "year": "2001", "genre": "House",
        "bpm": "127.5", "key": "F#m"}
EVERY_FIELD = ("{track:02}-{disc} {albumartist} _ {artist} - {title} ({album}, {year}, "
               "{genre}) {bpm} {key} {key:camelot} {key:openkey} {ext} {filename}")


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


# --- fields and safety on every format ------------------------------------------------------


@pytest.mark.parametrize("ext", FORMATS)
async def test_every_field_from_real_tags_of_each_format(tmp_path: Path, ext: str) -> None:
    write_track(tmp_path / f"orig.{ext}", FULL)
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path], template=EVERY_FIELD)
    bpm = "128" if ext == "m4a" else "127.5"  # MP4's tmpo atom holds an integer
    assert names(tmp_path) == {f"03-2 Various _ Daft Punk - One More Time (Discovery, 2001, "
                               f"House) {bpm} F#m 11A 4m {ext} orig.{ext}"}
    assert result["renamed"] == 1


@pytest.mark.parametrize("ext", FORMATS)
async def test_fallbacks_and_conditional_sections_on_real_tags(tmp_path: Path, ext: str) -> None:
    write_track(tmp_path / f"a.{ext}", {"artist": "Solo", "title": "T1", "bpm": "90"})
    write_track(tmp_path / f"b.{ext}", {"albumartist": "Band", "artist": "X", "title": "T2"})
    write_track(tmp_path / f"c.{ext}", {"title": "T3"})
    template = '[{bpm} - ]{albumartist|artist|"Unknown"} - {title}[ ({key:camelot})]'
    await run_kind(KIND, [tmp_path], [tmp_path], template=template)
    assert names(tmp_path) == {f"90 - Solo - T1.{ext}", f"Band - T2.{ext}",
                               f"Unknown - T3.{ext}"}


@pytest.mark.parametrize("ext", FORMATS)
async def test_names_are_made_safe_on_each_format(tmp_path: Path, ext: str) -> None:
    nfd = unicodedata.normalize("NFD", "Beyoncé")
    cases = {
        "sep": ({"artist": "AC/DC", "title": "Back\\In: Black?"}, f"AC_DC - Back_In_ Black_.{ext}"),
        "win": ({"artist": 'A<b>', "title": 'say "hi"|*'}, f"A_b_ - say _hi___.{ext}"),
        "ctl": ({"artist": "Tab\tBand", "title": "Line\nBreak"}, f"Tab_Band - Line_Break.{ext}"),
        "dots": ({"artist": "Dots", "title": "Title. . "}, f"Dots - Title.{ext}"),
        "nfd": ({"artist": nfd, "title": "Café"}, f"Beyoncé - Café.{ext}"),
    }
    for stem, (tags, _) in cases.items():
        write_track(tmp_path / f"{stem}.{ext}", tags)
    write_track(tmp_path / f"long.{ext}", {"artist": "坂本龍一", "title": "夜" * 200})
    write_track(tmp_path / "res" / f"res.{ext}", {"artist": "CON", "title": "x"})
    await run_kind(KIND, [tmp_path], [tmp_path], template="{artist} - {title}", recursive=False)
    await run_kind(KIND, [tmp_path / "res"], [tmp_path], job_id="j2", template="{artist}")
    assert names(tmp_path / "res") == {f"CON_.{ext}"}
    got = names(tmp_path)
    for _, expected in cases.values():
        assert expected in got
    [long] = [n for n in got if n.startswith("坂本龍一")]
    assert long.endswith(f".{ext}") and 250 <= len(long.encode()) <= 255
    assert all(unicodedata.is_normalized("NFC", n) for n in got)


async def test_a_missing_tag_or_unreadable_file_is_skipped_with_the_reason(tmp_path: Path) -> None:
    write_track(tmp_path / "a.mp3", {"artist": "A"})
    write_track(tmp_path / "b.flac", None)
    (tmp_path / "c.mp3").write_bytes(b"not audio at all" * 10)
    write_track(tmp_path / "d.ogg", {"artist": "D", "title": "Fine"})
    result, ctx = await run_kind(KIND, [tmp_path], [tmp_path])
    got = by_name(items(ctx._reporter))
    assert got["a.mp3"]["status"] == "skipped" and got["a.mp3"]["message"] == "missing tag: title"
    assert got["b.flac"]["message"] == "missing tag: artist"
    assert got["c.mp3"]["status"] == "skipped" and "cannot read tags" in got["c.mp3"]["message"]
    assert got["d.ogg"]["status"] == "renamed"
    assert result == {"operations": 4, "skipped": 3, "renamed": 1, "ignored_by": {}}
    assert names(tmp_path) == {"a.mp3", "b.flac", "c.mp3", "D - Fine.ogg"}


# --- collisions -----------------------------------------------------------------------------


def collision_tree(root: Path) -> None:
    write_track(root / "1.mp3", {"artist": "A", "title": "Same"})
    write_track(root / "2.mp3", {"artist": "A", "title": "Same"})
    write_track(root / "3.mp3", {"artist": "A", "title": "same"})  # a case variant collides
    write_track(root / "4.mp3", {"artist": "B", "title": "Taken"})
    (root / "B - Taken.mp3").write_bytes(b"a file already there")
    write_track(root / "song.mp3", {"artist": "x", "title": "Song"})
    write_track(root / "x - Song.mp3", {"artist": "x", "title": "Song"})  # already named so


async def test_collisions_under_policy_skip(tmp_path: Path) -> None:
    collision_tree(tmp_path)
    result, ctx = await run_kind(KIND, [tmp_path], [tmp_path], on_collision="skip")
    got = by_name(items(ctx._reporter))
    assert got["1.mp3"]["status"] == "renamed"
    for name in ("2.mp3", "3.mp3"):
        assert got[name]["status"] == "conflict"
        assert "another file of this job is planned" in got[name]["message"]
    assert got["4.mp3"]["status"] == "conflict" and "already exists" in got["4.mp3"]["message"]
    assert got["song.mp3"]["status"] == "conflict"
    assert got["x - Song.mp3"]["status"] == "unchanged"
    assert (tmp_path / "B - Taken.mp3").read_bytes() == b"a file already there"
    assert names(tmp_path) == {"A - Same.mp3", "2.mp3", "3.mp3", "4.mp3", "B - Taken.mp3",
                               "song.mp3", "x - Song.mp3"}


async def test_collisions_under_policy_counter(tmp_path: Path) -> None:
    collision_tree(tmp_path)
    result, ctx = await run_kind(KIND, [tmp_path], [tmp_path], on_collision="counter")
    got = by_name(items(ctx._reporter))
    assert os.path.basename(got["2.mp3"]["details"]["new"]) == "A - Same (1).mp3"
    assert os.path.basename(got["3.mp3"]["details"]["new"]) == "A - same (2).mp3"
    assert got["2.mp3"]["details"]["collision"] == "counter"
    assert os.path.basename(got["4.mp3"]["details"]["new"]) == "B - Taken (1).mp3"
    assert names(tmp_path) == {"A - Same.mp3", "A - Same (1).mp3", "A - same (2).mp3",
                               "B - Taken.mp3", "B - Taken (1).mp3", "x - Song (1).mp3",
                               "x - Song.mp3"}
    assert result["renamed"] == 5 and result["unchanged"] == 1


@pytest.mark.parametrize("policy", ["skip", "counter"])
async def test_dry_run_plan_equals_what_apply_does(tmp_path: Path, policy: str) -> None:
    collision_tree(tmp_path)
    write_track(tmp_path / "sub" / "case.flac", {"artist": "c", "title": "case"})
    write_track(tmp_path / "sub" / "untagged.wav", None)
    (tmp_path / "sub" / "c - Case.flac").write_bytes(b"")  # not audio: never renamed
    before = tree(tmp_path)
    reporter = CollectingReporter()
    await run_kind(KIND, [tmp_path], [tmp_path], reporter=reporter, job_id="dry", dry_run=True,
                   on_collision=policy)
    assert tree(tmp_path) == before  # a dry run changes nothing
    await run_kind(KIND, [tmp_path], [tmp_path], reporter=reporter, job_id="real",
                   on_collision=policy)
    key = ("i", "op", "src", "dst", "status", "message", "details")
    dry = [{k: row[k] for k in key} for row in plan(reporter, "dry")]
    real = [{k: row[k] for k in key} for row in plan(reporter, "real")]
    assert dry == real
    dry_items, real_items = items(reporter, "dry"), items(reporter, "real")
    assert [i["status"] for i in dry_items] == [r["status"] for r in dry]
    after_apply = {"planned": "renamed"}
    assert [after_apply.get(r["status"], r["status"]) for r in dry] == \
        [i["status"] for i in real_items]
    assert any(r["status"] == "conflict" for r in dry) == (policy == "skip")
    for row in dry:  # the disk shows exactly what the dry run promised
        if row["status"] == "planned":
            assert exists(row["dst"]) and not exists(row["src"])
        else:
            assert exists(row["src"])


async def test_case_and_normalization_only_renames_are_not_collisions(tmp_path: Path) -> None:
    write_track(tmp_path / "a - t.mp3", {"artist": "A", "title": "T"})
    write_track(tmp_path / unicodedata.normalize("NFD", "Beyoncé - Halo.flac"),
                {"artist": "Beyoncé", "title": "Halo"})
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path])
    assert result == {"operations": 2, "renamed": 2, "ignored_by": {}}
    assert names(tmp_path) == {"A - T.mp3", "Beyoncé - Halo.flac"}


# --- exactly once: a retry after a kill, then a rollback ------------------------------------


async def test_retry_after_kill_renames_every_file_exactly_once_and_rollback_restores(
        tmp_path: Path) -> None:
    root = tmp_path / "lib"
    generate(str(root), 1200, seed=7, corrupt=3, formats=FORMATS)
    original = tree(root)
    reporter = CollectingReporter()
    ctx1 = make_ctx(KIND, [root], [root], reporter=reporter, on_collision="counter",
                    template="{artist} - {title}", survive=300)
    with pytest.raises(JobCancelled):
        await KIND.run(ctx1)
    ctx1.flush_items()
    stored = copy.deepcopy(plan(reporter))
    planned = [row for row in stored if row["status"] == "planned"]
    assert len(stored) == 1200 and len(planned) > 900
    assert len(items(reporter)) == 300 and ctx1.lost  # applied, never reported
    applied_unreported = [r for r in planned if r["i"] >= 300 and exists(r["dst"])]
    assert applied_unreported

    result, ctx2 = await run_kind(KIND, [root], [root], reporter=reporter, attempt=2,
                                  has_plan=True, on_collision="counter",
                                  template="{artist} - {title}")
    assert plan(reporter) == stored  # not re-planned
    final = items(reporter)
    assert [i["i"] for i in final] == list(range(1200))
    assert ctx2.processed == ctx2.total == 1200  # each index once in this attempt
    status = {i["i"]: i for i in final}
    for row in planned:
        assert status[row["i"]]["status"] == "renamed"
        assert exists(row["dst"]) and not exists(row["src"])
    assert {r["i"] for r in applied_unreported} <= \
        {i for i, item in status.items() if item["message"] == "already done"}
    counters_planned = {os.path.basename(r["dst"]) for r in planned if "(1)" in r["dst"]}
    counters_on_disk = {n for n in tree(root) if "(1)" in os.path.basename(n)}
    assert {os.path.basename(n) for n in counters_on_disk} == counters_planned
    now = tree(root)
    assert Counter(now.values()) == Counter(original.values())  # no content changed or lost

    rb, _ = await run_kind(ROLLBACK, [], [root], reporter=reporter, job_id="rb", job="j1")
    assert rb["restored"] == len(planned)
    assert tree(root) == original


async def test_rollback_of_a_rollback_renames_again(tmp_path: Path) -> None:
    write_track(tmp_path / "a.mp3", {"artist": "A", "title": "T"})
    reporter = CollectingReporter()
    await run_kind(KIND, [tmp_path], [tmp_path], reporter=reporter)
    await run_kind(ROLLBACK, [], [tmp_path], reporter=reporter, job_id="rb1", job="j1")
    assert names(tmp_path) == {"a.mp3"}
    await run_kind(ROLLBACK, [], [tmp_path], reporter=reporter, job_id="rb2", job="rb1")
    assert names(tmp_path) == {"A - T.mp3"}


# --- failures are items; the job goes on ----------------------------------------------------


async def test_read_only_file_is_renamed_and_stays_read_only(tmp_path: Path) -> None:
    write_track(tmp_path / "ro.mp3", {"artist": "R", "title": "O"}).chmod(0o444)
    await run_kind(KIND, [tmp_path], [tmp_path])
    assert names(tmp_path) == {"R - O.mp3"}
    assert (tmp_path / "R - O.mp3").stat().st_mode & 0o777 == 0o444


async def test_file_deleted_mid_run_is_vanished_and_the_job_continues(tmp_path: Path) -> None:
    for n in range(5):
        write_track(tmp_path / f"{n}.mp3", {"artist": "A", "title": f"T{n}"})
    reporter = PlanHookReporter(lambda: (tmp_path / "2.mp3").unlink())
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path], reporter=reporter)
    got = by_name(items(reporter))
    assert got["2.mp3"]["status"] == "vanished" and "is gone" in got["2.mp3"]["message"]
    assert result["renamed"] == 4 and result["vanished"] == 1
    assert names(tmp_path) == {"A - T0.mp3", "A - T1.mp3", "A - T3.mp3", "A - T4.mp3"}


@contextlib.contextmanager
def as_a_plain_user(tree: Path) -> Iterator[None]:
    """Permission bits enforced while the block runs: as root, tree is handed to nobody and
    the process takes nobody's effective uid (and root's back after); else nothing to do."""
    if permission_bits_enforced(tree):
        yield
        return
    nobody = pwd.getpwnam("nobody")
    for path in [tree, *tree.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    os.setegid(nobody.pw_gid)
    os.seteuid(nobody.pw_uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def _reachable_by_anyone() -> Path:
    """A scratch folder every user may reach (pytest's base temp is the test user's alone)."""
    base = Path(tempfile.mkdtemp(prefix="medialoom-perm-", dir="/tmp"))
    base.chmod(0o755)
    return base


async def test_unwritable_folder_fails_its_items_and_the_job_continues() -> None:
    import concurrent.futures.thread  # noqa: F401 - imported while Python's files are readable
    base = _reachable_by_anyone()
    try:
        locked = base / "locked"
        write_track(locked / "a.mp3", {"artist": "L", "title": "A"})
        write_track(base / "b.mp3", {"artist": "F", "title": "B"})
        locked.chmod(0o555)
        with as_a_plain_user(base):
            assert permission_bits_enforced(base / "locked" / "..")
            result, ctx = await run_kind(KIND, [base], [base])
    finally:
        locked.chmod(0o755)
        shutil.rmtree(base)
    got = by_name(items(ctx._reporter))
    assert got["a.mp3"]["status"] == "failed"
    assert "permission denied" in got["a.mp3"]["message"] and str(locked) in \
        got["a.mp3"]["message"]
    assert got["b.mp3"]["status"] == "renamed"


# --- refused before anything is planned -----------------------------------------------------


async def test_paths_outside_the_roots_are_refused_before_planning(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    write_track(outside / "x.mp3", {"artist": "X", "title": "Y"})
    root.mkdir()
    (root / "link").symlink_to(outside)
    for path in (outside, root / "link", root / ".." / "outside"):
        ctx = make_ctx(KIND, [path], [root])
        with pytest.raises(PathForbidden):
            await KIND.run(ctx)
        assert ctx._reporter.plans == {} and ctx._reporter.items == []
    assert names(outside) == {"x.mp3"}


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"template": "{artist}/{title}"}, "params.template", "path separator"),
    ({"template": "{artst}"}, "params.template", "unknown field"),
    ({"template": "{artist - {title}"}, "params.template", "template"),
    ({"key_notation": "solfege"}, "params.key_notation", "key_notation"),
    ({"on_collision": "overwrite"}, "params.on_collision", "on_collision"),
])
def test_bad_parameters_are_refused_by_the_spec(params: dict[str, str], field: str,
                                                message: str) -> None:
    with pytest.raises(RequestError, match=message) as info:
        validate_params(KIND, params, ["/lib"])
    assert info.value.code == "job.bad_params" and info.value.details == {"field": field}


async def test_a_bad_parameter_that_got_past_the_broker_fails_before_planning(
        tmp_path: Path) -> None:
    write_track(tmp_path / "a.mp3", {"artist": "A", "title": "T"})
    ctx = make_ctx(KIND, [tmp_path], [tmp_path])
    ctx.params["template"] = "{artst}"  # as from a broker that did not check it
    with pytest.raises(JobFailed, match="unknown field") as info:
        await KIND.run(ctx)
    assert info.value.code == "job.bad_params" and ctx._reporter.plans == {}


async def test_overlapping_job_paths_plan_each_file_once(tmp_path: Path) -> None:
    write_track(tmp_path / "sub" / "a.mp3", {"artist": "A", "title": "T"})
    result, _ = await run_kind(KIND, [tmp_path, tmp_path / "sub", tmp_path / "sub" / "a.mp3",
                                      tmp_path], [tmp_path])
    assert result == {"operations": 1, "renamed": 1, "ignored_by": {}}


# --- real processes: kill -9 of the worker mid-rename ---------------------------------------


@pytest.mark.e2e
def test_kill9_mid_rename_of_5000_files_completes_exactly_once_and_rolls_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expose_kinds(tmp_path, monkeypatch, "rename", "rollback")
    system = make_system(tmp_path)
    lib = system.root / "lib"
    generate(str(lib), 5000, seed=3, corrupt=5, formats=FORMATS)
    original = tree(lib)
    system.start_broker()
    system.start_worker(slots=1)
    system.start_worker(slots=1)
    try:
        with system.client() as c:
            job = c.start("rename", [str(lib)], {"on_collision": "counter"})
            # kill once the plan is stored and the first renames are reported
            while not (seen := c.status(job["id"]))["planned"] or \
                    not seen["progress"]["processed"]:
                assert seen["status"] in ("queued", "running"), seen
            busy = [w["pid"] for w in c.stats()["workers"] if w["running"]]
            os.kill(busy[0], signal.SIGKILL)
            done = c.wait(job["id"], timeout_s=120)
            assert done["status"] == "completed" and done["attempts"] == 2, done
            rows = [op for off in range(0, 5000, 1000)
                    for op in c.plan(job["id"], limit=1000, offset=off)["ops"]]
            results = {i["i"]: i for off in range(0, 5000, 1000)
                       for i in c.results(job["id"], limit=1000, offset=off)["items"]}
            assert len(rows) == len(results) == 5000
            assert done["progress"]["processed"] == 5000
            assert any(i["message"] == "already done" for i in results.values())  # reconciled
            planned = [r for r in rows if r["status"] == "planned"]
            assert all(results[r["i"]]["status"] == "renamed" for r in planned)
            now = tree(lib)
            assert set(now) == {os.path.relpath(r["dst"] if r["status"] == "planned"
                                                else r["src"], lib) for r in rows}
            assert Counter(now.values()) == Counter(original.values())
            rb = c.wait(c.start("rollback", [], {"job": job["id"]})["id"], timeout_s=120)
            assert rb["status"] == "completed", rb
            assert tree(lib) == original
    finally:
        system.stop()


async def test_cancel_while_planning_changes_nothing(tmp_path: Path) -> None:
    for n in range(300):
        write_track(tmp_path / f"{n:03}.wav", {"artist": "A", "title": f"T{n}"})
    before = tree(tmp_path)
    ctx = make_ctx(KIND, [tmp_path], [tmp_path])
    ctx.request_cancel()
    with pytest.raises(JobCancelled):
        await KIND.run(ctx)
    assert "j1" not in ctx._reporter.complete and ctx._reporter.items == []
    assert tree(tmp_path) == before


# --- the walk filters (fileops.walk) -----------------------------------------------------------


def filter_library(root: Path) -> dict[str, str]:
    """Tagged tracks in folders, one old and one large: original rel path -> new name."""
    tracks = {"a.flac": "A", "b.mp3": "B", "sub/c.flac": "C", "sub/deep/d.flac": "D",
              "sub/e.mp3": "E", "Live/f.flac": "F"}
    for rel, artist in tracks.items():
        write_track(root / rel, {"artist": artist, "title": "Song"})
    year_ago = os.path.getmtime(root / "b.mp3") - 400 * 86400
    os.utime(root / "sub" / "e.mp3", (year_ago, year_ago))
    with (root / "sub" / "c.flac").open("ab") as fh:
        fh.write(bytes(100_000))
    return {rel: f"{artist} - Song{os.path.splitext(rel)[1]}" for rel, artist in tracks.items()}


@pytest.mark.parametrize(("params", "touched", "ignored"), [
    ({"pattern": "**/*.flac"}, {"a.flac", "sub/c.flac", "sub/deep/d.flac", "Live/f.flac"},
     {"pattern": 2}),
    ({"pattern": "sub/**/*.flac"}, {"sub/c.flac", "sub/deep/d.flac"}, {"pattern": 4}),
    ({"pattern": "*/*.flac"}, {"sub/c.flac", "Live/f.flac"}, {"pattern": 4}),
    ({"exclude": ["live/", "deep"]}, {"a.flac", "b.mp3", "sub/c.flac", "sub/e.mp3"},
     {}),  # the folders are not entered
    ({"min_size": 100_000}, {"sub/c.flac"}, {"size": 5}),
    ({"max_age_days": 30}, {"a.flac", "b.mp3", "sub/c.flac", "sub/deep/d.flac",
                            "Live/f.flac"}, {"age": 1}),
    ({"extensions": ["MP3"]}, {"b.mp3", "sub/e.mp3"}, {"extension": 4}),
    ({"recursive": False}, {"a.flac", "b.mp3"}, {}),
])
async def test_walk_filters_choose_the_files_renamed(tmp_path: Path, params: dict,
                                                     touched: set[str], ignored: dict) -> None:
    new_names = filter_library(tmp_path)
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path], **params)
    for rel, new in new_names.items():
        renamed = (tmp_path / rel).parent / new
        assert exists(renamed) == (rel in touched) != exists(tmp_path / rel), rel
    assert result["renamed"] == len(touched) and result["operations"] == len(touched)
    assert result["ignored_by"] == ignored

"""Kind ``organize`` in-process on real files: categories, dates, dest, collisions,
failures, cross-device moves, and rollback after a cancelled run."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from medialoom.workers.context import CollectingReporter
from medialoom.workers.errors import JobCancelled, JobFailed, PathForbidden
from medialoom.workers.kinds.organize import KIND
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

JAN_2020 = time.mktime((2020, 1, 15, 12, 0, 0, 0, 0, -1))
JUL_2023 = time.mktime((2023, 7, 4, 12, 0, 0, 0, 0, -1))


def put(path: Path, data: bytes = b"data", when: float = JAN_2020) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, (when, when))
    return path


def rel_files(root: Path) -> set[str]:
    return {k for k, v in tree(root).items() if v != "<dir>"}


def mixed_inbox(root: Path) -> None:
    inbox = root / "inbox"
    put(inbox / "photo.JPG")
    put(inbox / "clip.mkv", when=JUL_2023)
    put(inbox / "paper.pdf")
    put(inbox / "backup.zip", when=JUL_2023)
    put(inbox / "design.psd")
    put(inbox / "notes.xyz")
    put(inbox / "book.epub")
    put(inbox / ".hidden")
    os.utime(write_track(inbox / "deep" / "song.flac", {"artist": "A", "title": "S",
                                                        "year": "1999"}), (JUL_2023, JUL_2023))


async def test_files_go_to_category_year_month_folders(tmp_path: Path) -> None:
    mixed_inbox(tmp_path)
    result, _ = await run_kind(KIND, [tmp_path / "inbox"], [tmp_path], dest="sorted")
    assert rel_files(tmp_path) == {
        "sorted/images/2020/01/photo.JPG", "sorted/video/2023/07/clip.mkv",
        "sorted/documents/2020/01/paper.pdf", "sorted/archives/2023/07/backup.zip",
        "sorted/editable/2020/01/design.psd", "sorted/other/2020/01/notes.xyz",
        "sorted/documents/2020/01/book.epub", "sorted/audio/1999/07/song.flac",
        "inbox/.hidden"}  # the year tag wins with date_source tags; hidden files stay
    assert result["moved"] == 8


async def test_date_source_mtime_and_category_overrides(tmp_path: Path) -> None:
    mixed_inbox(tmp_path)
    await run_kind(KIND, [tmp_path / "inbox"], [tmp_path], dest="sorted", date_source="mtime",
                   categories={"ebooks": ["epub"], "audio": ["mp3"]}, template="{category}/{year}")
    files = rel_files(tmp_path)
    assert "sorted/ebooks/2020/book.epub" in files
    assert "sorted/other/2023/song.flac" in files  # flac left audio; mtime year


async def test_tag_fields_with_fallbacks_in_the_folder_template(tmp_path: Path) -> None:
    write_track(tmp_path / "in" / "a.mp3", {"albumartist": "AC/DC", "artist": "x",
                                            "album": "Back.", "title": "t"})
    write_track(tmp_path / "in" / "b.ogg", {"title": "t"})
    await run_kind(KIND, [tmp_path / "in"], [tmp_path], dest="lib",
                   template='{albumartist|artist|"Unknown"}/{album|"Singles"}')
    assert rel_files(tmp_path) == {"lib/AC_DC/Back/a.mp3", "lib/Unknown/Singles/b.ogg"}


async def test_second_run_leaves_everything_unchanged(tmp_path: Path) -> None:
    mixed_inbox(tmp_path)
    await run_kind(KIND, [tmp_path], [tmp_path])
    before = tree(tmp_path)
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path], job_id="again")
    assert tree(tmp_path) == before
    assert result == {"operations": 8, "dest": str(tmp_path), "unchanged": 8, "ignored_by": {}}


@pytest.mark.parametrize("policy", ["skip", "counter"])
async def test_same_name_from_two_folders_follows_the_policy(tmp_path: Path, policy: str) -> None:
    put(tmp_path / "a" / "x.pdf", b"first")
    put(tmp_path / "b" / "x.pdf", b"second")
    put(tmp_path / "out" / "documents" / "2020" / "01" / "y.pdf", b"y")
    put(tmp_path / "c" / "y.pdf", b"another y")
    reporter = CollectingReporter()
    await run_kind(KIND, [tmp_path / "a", tmp_path / "b", tmp_path / "c"], [tmp_path],
                   reporter=reporter, dest="out", on_collision=policy)
    got = {row["src"]: row for row in plan(reporter)}
    folder = tmp_path / "out" / "documents" / "2020" / "01"
    if policy == "skip":
        assert got[str(tmp_path / "b" / "x.pdf")]["status"] == "conflict"
        assert got[str(tmp_path / "c" / "y.pdf")]["status"] == "conflict"
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == \
            {"x.pdf": b"first", "y.pdf": b"y"}
    else:
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == \
            {"x.pdf": b"first", "x (1).pdf": b"second", "y.pdf": b"y", "y (1).pdf": b"another y"}


async def test_rollback_after_a_cancelled_organize_restores_the_tree_and_removes_folders(
        tmp_path: Path) -> None:
    root = tmp_path / "lib"
    for n in range(150):
        put(root / "inbox" / f"f{n:03}.{('pdf', 'jpg', 'zip', 'txt')[n % 4]}", f"{n}".encode(),
            when=(JAN_2020, JUL_2023)[n % 2])
    original = tree(root)
    reporter = CollectingReporter()
    ctx = make_ctx(KIND, [root / "inbox"], [root], reporter=reporter, dest="sorted", survive=40)
    with pytest.raises(JobCancelled):
        await KIND.run(ctx)
    ctx.flush_items()
    assert (root / "sorted").is_dir() and len(items(reporter)) == 40
    moved = sum(1 for row in plan(reporter) if exists(row["dst"]))
    assert 40 < moved < 150  # some moves done but never reported
    result, _ = await run_kind(ROLLBACK, [], [root], reporter=reporter, job_id="rb", job="j1")
    assert result["restored"] == moved and result["removed"] > 0
    assert tree(root) == original and not (root / "sorted").exists()


async def test_dry_run_shows_a_file_in_the_way_of_a_folder_as_a_conflict(tmp_path: Path) -> None:
    put(tmp_path / "in" / "a.pdf")
    put(tmp_path / "out" / "documents", b"a file where a folder should be")
    result, ctx = await run_kind(KIND, [tmp_path / "in"], [tmp_path], dest="out", dry_run=True)
    [item] = items(ctx._reporter)
    assert item["status"] == "conflict" and "a file has that name" in item["message"]
    assert (tmp_path / "in" / "a.pdf").exists()


async def test_unwritable_target_folder_fails_its_items_and_the_job_continues(
        tmp_path: Path) -> None:
    put(tmp_path / "in" / "a.pdf")
    put(tmp_path / "in" / "b.jpg")
    target = tmp_path / "out" / "documents"
    root_user = not permission_bits_enforced(tmp_path)

    def block() -> None:  # after planning, before applying
        if root_user:  # permission bits are ignored: put a file where the folder must go
            put(target, b"in the way")
        else:
            target.mkdir(parents=True)
            target.chmod(0o555)

    reporter = PlanHookReporter(block)
    try:
        result, _ = await run_kind(KIND, [tmp_path / "in"], [tmp_path], reporter=reporter,
                                   dest="out")
    finally:
        if not root_user:
            target.chmod(0o755)
    got = by_name(items(reporter))
    assert got["a.pdf"]["status"] == "failed"
    expected = "is not a folder" if root_user else "permission denied"
    assert expected in got["a.pdf"]["message"]
    assert got["b.jpg"]["status"] == "moved" and (tmp_path / "in" / "a.pdf").exists()
    assert result["moved"] == 1 and result["failed"] == 1



async def test_moves_across_file_systems_and_back(tmp_path: Path, other_fs: Path) -> None:
    for n in range(5):
        put(tmp_path / "in" / f"{n}.pdf", os.urandom(200_000))
    original = tree(tmp_path)
    reporter = CollectingReporter()
    result, _ = await run_kind(KIND, [tmp_path / "in"], [tmp_path, other_fs], reporter=reporter,
                               dest=str(other_fs / "sorted"), verify_hash=True)
    assert result["moved"] == 5 and all(i["details"]["copied"] for i in items(reporter))
    assert not list((tmp_path / "in").iterdir())
    await run_kind(ROLLBACK, [], [tmp_path, other_fs], reporter=reporter, job_id="rb", job="j1")
    assert tree(tmp_path) == original and not (other_fs / "sorted").exists()


async def test_dest_outside_the_roots_or_a_file_is_refused_before_planning(
        tmp_path: Path) -> None:
    put(tmp_path / "root" / "a.pdf")
    put(tmp_path / "root" / "file")
    ctx = make_ctx(KIND, [tmp_path / "root"], [tmp_path / "root"], dest=str(tmp_path / "x"))
    with pytest.raises(PathForbidden):
        await KIND.run(ctx)
    ctx = make_ctx(KIND, [tmp_path / "root"], [tmp_path / "root"], dest="../x")
    with pytest.raises(PathForbidden):
        await KIND.run(ctx)
    ctx = make_ctx(KIND, [tmp_path / "root"], [tmp_path / "root"], dest="file")
    with pytest.raises(JobFailed, match="is a file"):
        await KIND.run(ctx)
    assert ctx._reporter.plans == {} and (tmp_path / "root" / "a.pdf").exists()


@pytest.mark.e2e
def test_rollback_after_a_cancelled_organize_with_real_processes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    expose_kinds(tmp_path, monkeypatch, "organize", "rollback")
    system = make_system(tmp_path)
    inbox = system.root / "inbox"
    for n in range(3000):
        put(inbox / f"f{n:04}.{('pdf', 'jpg', 'zip', 'mkv', 'txt')[n % 5]}", b"%d" % n,
            when=(JAN_2020, JUL_2023)[n % 2])
    original = tree(system.root)
    system.start_broker()
    system.start_worker(slots=1)
    try:
        with system.client() as c:
            job = c.start("organize", [str(inbox)], {"dest": "sorted"})
            while not (seen := c.status(job["id"]))["planned"] or \
                    not seen["progress"]["processed"]:
                assert seen["status"] in ("queued", "running"), seen
            c.cancel(job["id"])
            done = c.wait(job["id"], timeout_s=60)
            assert done["status"] == "cancelled", done
            assert 0 < done["progress"]["processed"] < 3000
            rb = c.wait(c.start("rollback", [], {"job": job["id"]})["id"], timeout_s=60)
            assert rb["status"] == "completed", rb
            assert rb["result"]["restored"] >= done["progress"]["succeeded"]
            assert tree(system.root) == original
            assert not (system.root / "sorted").exists()
    finally:
        system.stop()


# --- the walk filters (fileops.walk) -----------------------------------------------------------


@pytest.mark.parametrize(("params", "planned"), [
    ({}, {"photo.JPG", "clip.mkv", "paper.pdf", "backup.zip", "design.psd", "notes.xyz",
          "book.epub", "song.flac"}),
    ({"pattern": "**/*.mkv"}, {"clip.mkv"}),
    ({"pattern": "deep/**"}, {"song.flac"}),  # relative to the job path
    ({"exclude": ["deep/", "*.p?f"]}, {"photo.JPG", "clip.mkv", "backup.zip", "design.psd",
                                       "notes.xyz", "book.epub"}),
    ({"extensions": ["jpg", "zip"]}, {"photo.JPG", "backup.zip"}),
    ({"max_age_days": (time.time() - JAN_2020) / 86400 - 1}, {"clip.mkv", "backup.zip",
                                                               "song.flac"}),
    ({"min_size": 5}, {"song.flac"}),
    ({"recursive": False, "pattern": "*.[jp]*"}, {"photo.JPG", "paper.pdf", "design.psd"}),
])
async def test_walk_filters_choose_the_files_moved(tmp_path: Path, params: dict,
                                                   planned: set[str]) -> None:
    mixed_inbox(tmp_path)
    before = tree(tmp_path)
    _, ctx = await run_kind(KIND, [tmp_path / "inbox"], [tmp_path], dry_run=True,
                            dest=str(tmp_path / "sorted"), **params)
    assert {os.path.basename(r["src"]) for r in plan(ctx._reporter)} == planned
    assert tree(tmp_path) == before

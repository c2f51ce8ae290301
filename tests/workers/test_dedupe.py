"""Kind ``dedupe`` in-process on real files: stages, hard links, keep policies, report,
quarantine and hardlink actions with rollback, and files changed before acting."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from medialoom.workers.context import CollectingReporter
from medialoom.workers.errors import PathForbidden
from medialoom.workers.fileops.compare import COMPARE_MAX
from medialoom.workers.fileops.hashing import PARTIAL_BYTES
from medialoom.workers.kinds.dedupe import KIND
from medialoom.workers.kinds.rollback import KIND as ROLLBACK
from tests.fileops.kindrun import PlanHookReporter, by_name, items, make_ctx, run_kind, tree

OLD, NEW = time.time() - 86400 * 30, time.time() - 3600


def put(path: Path, data: bytes, when: float = NEW, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    os.utime(path, (when, when))
    return path


def library(root: Path) -> dict[str, bytes]:
    """A tree with one duplicate pair, one triple, look-alikes and hard links."""
    big = os.urandom(3 * PARTIAL_BYTES)
    middle_differs = big[:PARTIAL_BYTES] + os.urandom(PARTIAL_BYTES) + big[-PARTIAL_BYTES:]
    small = os.urandom(5000)
    put(root / "music" / "a.mp3", big, OLD)
    put(root / "incoming" / "copy of a.mp3", big)
    put(root / "incoming" / "deep" / "a again.mp3", big)
    put(root / "incoming" / "lookalike.mp3", middle_differs)  # same size, ends, not content
    put(root / "music" / "s.flac", small, OLD)
    put(root / "x" / "s.flac", small)
    put(root / "music" / "other.flac", os.urandom(5000))  # same size, other content
    put(root / "music" / "empty1", b"")
    put(root / "music" / "empty2", b"")
    os.link(root / "music" / "other.flac", root / "music" / "other link.flac")
    return {"big": big, "small": small}


async def test_reports_groups_reclaimable_bytes_and_ignores_hard_links(tmp_path: Path) -> None:
    library(tmp_path)
    before = tree(tmp_path)
    result, ctx = await run_kind(KIND, [tmp_path], [tmp_path])
    assert tree(tmp_path) == before
    got = by_name(items(ctx._reporter))
    assert set(got) == {"copy of a.mp3", "a again.mp3", "s.flac"}
    assert got["copy of a.mp3"]["details"]["keep"] == str(tmp_path / "music" / "a.mp3")
    assert got["s.flac"]["path"] == str(tmp_path / "x" / "s.flac")
    assert all(i["status"] == "duplicate" for i in got.values())
    assert result["groups"] == 2 and result["duplicates"] == 3
    assert result["reclaimable_bytes"] == 2 * 3 * PARTIAL_BYTES + 5000
    assert result["files"] == 8 and result["ignored_by"] == {"size": 2}  # the empty files
    assert result["largest_groups"][0]["keep"] == str(tmp_path / "music" / "a.mp3")


@pytest.mark.parametrize(("keep", "expected"), [
    ("oldest", "music/a.mp3"), ("shortest_path", "music/a.mp3"),
    ("preferred_root", "incoming/deep/a again.mp3"),
])
async def test_keep_policies(tmp_path: Path, keep: str, expected: str) -> None:
    library(tmp_path)
    os.utime(tmp_path / "incoming" / "copy of a.mp3", (OLD - 10, OLD - 10))
    if keep == "oldest":
        expected = "incoming/copy of a.mp3"
    result, ctx = await run_kind(KIND, [tmp_path], [tmp_path], keep=keep,
                                 preferred_root="incoming/deep")
    keeps = {i["details"]["keep"] for i in items(ctx._reporter) if i["path"].endswith(".mp3")}
    assert keeps == {str(tmp_path / expected)}


async def test_quarantine_moves_extras_and_rollback_brings_them_back(tmp_path: Path) -> None:
    library(tmp_path)
    original = tree(tmp_path)
    reporter = CollectingReporter()
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path], reporter=reporter,
                               action="quarantine")
    assert result["quarantined"] == 3
    q = tmp_path / "Quarantine"
    assert {str(p.relative_to(q)) for p in q.rglob("*") if p.is_file()} == \
        {"incoming/copy of a.mp3", "incoming/deep/a again.mp3", "x/s.flac"}
    assert (tmp_path / "music" / "a.mp3").exists() and not (tmp_path / "x" / "s.flac").exists()
    again, _ = await run_kind(KIND, [tmp_path], [tmp_path], job_id="again")
    assert again["groups"] == 0  # the quarantine folder is not searched
    rb, _ = await run_kind(ROLLBACK, [], [tmp_path], reporter=reporter, job_id="rb", job="j1")
    assert rb["restored"] == 3
    assert tree(tmp_path) == original and not q.exists()


async def test_hardlink_replaces_extras_and_rollback_makes_independent_copies(
        tmp_path: Path) -> None:
    data = library(tmp_path)
    put(tmp_path / "x" / "s.flac", data["small"], when=NEW, mode=0o600)
    original = tree(tmp_path)
    old_stat = (tmp_path / "x" / "s.flac").stat()
    reporter = CollectingReporter()
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path], reporter=reporter, action="hardlink")
    assert result["hardlinked"] == 3
    keep = (tmp_path / "music" / "a.mp3").stat()
    for extra in ("incoming/copy of a.mp3", "incoming/deep/a again.mp3"):
        assert (tmp_path / extra).stat().st_ino == keep.st_ino
    assert keep.st_nlink == 3 and tree(tmp_path) == original  # names and contents unchanged
    await run_kind(ROLLBACK, [], [tmp_path], reporter=reporter, job_id="rb", job="j1")
    assert tree(tmp_path) == original
    assert (tmp_path / "music" / "a.mp3").stat().st_nlink == 1
    restored = (tmp_path / "x" / "s.flac").stat()
    assert stat.S_IMODE(restored.st_mode) == 0o600
    assert restored.st_mtime_ns == old_stat.st_mtime_ns


async def test_every_name_of_an_extra_inode_is_acted_on(tmp_path: Path) -> None:
    put(tmp_path / "a" / "keep.wav", b"w" * 10_000, OLD)
    put(tmp_path / "b" / "dup.wav", b"w" * 10_000)
    os.link(tmp_path / "b" / "dup.wav", tmp_path / "b" / "dup link.wav")
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path], action="hardlink")
    assert result["hardlinked"] == 2 and result["reclaimable_bytes"] == 10_000
    assert (tmp_path / "a" / "keep.wav").stat().st_nlink == 3


@pytest.mark.parametrize("action", ["hardlink", "quarantine"])
@pytest.mark.parametrize("changed", ["extra", "keep"])
async def test_a_file_changed_after_hashing_is_not_touched(tmp_path: Path, changed: str,
                                                           action: str) -> None:
    library(tmp_path)
    victim = tmp_path / ("incoming/copy of a.mp3" if changed == "extra" else "x/s.flac")
    keeper = tmp_path / "music" / "s.flac"

    def edit() -> None:
        target = victim if changed == "extra" else keeper
        with open(target, "ab") as fh:
            fh.write(b"edited")

    reporter = PlanHookReporter(edit)
    result, _ = await run_kind(KIND, [tmp_path], [tmp_path], reporter=reporter, action=action)
    got = by_name(items(reporter))
    name = "copy of a.mp3" if changed == "extra" else "s.flac"
    assert got[name]["status"] == "conflict" and "changed" in got[name]["message"]
    assert victim.exists() and victim.stat().st_nlink == 1
    done = {"hardlink": "hardlinked", "quarantine": "quarantined"}[action]
    assert result["conflict"] == 1 and result[done] == 2


async def test_dry_run_plans_without_acting(tmp_path: Path) -> None:
    library(tmp_path)
    before = tree(tmp_path)
    result, ctx = await run_kind(KIND, [tmp_path], [tmp_path], action="quarantine", dry_run=True)
    assert tree(tmp_path) == before and result["planned"] == 3
    assert {i["status"] for i in items(ctx._reporter)} == {"planned"}



async def test_no_hard_link_across_file_systems(tmp_path: Path, other_fs: Path) -> None:
    put(tmp_path / "keep.bin", b"k" * 4096, OLD)
    put(other_fs / "dup.bin", b"k" * 4096)
    result, ctx = await run_kind(KIND, [tmp_path, other_fs], [tmp_path, other_fs],
                                 action="hardlink")
    [item] = items(ctx._reporter)
    assert item["status"] == "skipped" and "another file system" in item["message"]


async def test_paths_outside_the_roots_are_refused(tmp_path: Path) -> None:
    library(tmp_path / "out")
    (tmp_path / "root").mkdir()
    ctx = make_ctx(KIND, [tmp_path / "out"], [tmp_path / "root"], action="quarantine")
    with pytest.raises(PathForbidden):
        await KIND.run(ctx)
    assert ctx._reporter.items == [] and ctx._reporter.plans == {}


async def test_a_group_too_large_to_compare_goes_through_both_hash_stages(
        tmp_path: Path) -> None:
    data = os.urandom(3 * PARTIAL_BYTES)
    for n in range(COMPARE_MAX + 4):
        put(tmp_path / f"copy{n:02}.bin", data, OLD if n == 0 else NEW)
    middle = bytearray(data)
    middle[len(data) // 2] ^= 1
    put(tmp_path / "middle.bin", bytes(middle))  # survives the partial hash, not the full one
    result, ctx = await run_kind(KIND, [tmp_path], [tmp_path])
    assert result["groups"] == 1 and result["duplicates"] == COMPARE_MAX + 3
    assert result["hashed_bytes"] == (COMPARE_MAX + 5) * len(data)
    assert result["reclaimable_bytes"] == (COMPARE_MAX + 3) * len(data)
    assert {i["details"]["keep"] for i in items(ctx._reporter)} == {str(tmp_path / "copy00.bin")}


async def test_overlapping_job_paths_count_each_file_once(tmp_path: Path) -> None:
    library(tmp_path)
    once, _ = await run_kind(KIND, [tmp_path], [tmp_path])
    nested, _ = await run_kind(KIND, [tmp_path / "music", tmp_path, tmp_path / "x"],
                               [tmp_path], job_id="nested")
    assert nested == once


# --- the walk filters (fileops.walk) -----------------------------------------------------------


def relative(rows: list[dict], root: Path) -> set[str]:
    return {os.path.relpath(row["path"], root) for row in rows}


def filter_library(root: Path) -> None:
    """Duplicate pairs that each filter tells apart: by folder, extension, size and age."""
    for name, size in (("a.flac", 3000), ("b.mp3", 200)):
        data = os.urandom(size)
        put(root / name, data)
        put(root / "sub" / "deep" / name, data)
    old = os.urandom(500)
    put(root / "old.wav", old, OLD)
    put(root / "Backup" / "old.wav", old, OLD)


@pytest.mark.parametrize(("params", "duplicates"), [
    ({}, {"sub/deep/a.flac", "sub/deep/b.mp3", "Backup/old.wav"}),
    ({"pattern": "**/*.flac"}, {"sub/deep/a.flac"}),
    ({"exclude": ["backup/"]}, {"sub/deep/a.flac", "sub/deep/b.mp3"}),
    ({"extensions": ["mp3", "wav"]}, {"sub/deep/b.mp3", "Backup/old.wav"}),
    ({"min_size": 1000}, {"sub/deep/a.flac"}),
    ({"max_age_days": 7}, {"sub/deep/a.flac", "sub/deep/b.mp3"}),
    ({"recursive": False}, set()),
])
async def test_walk_filters_choose_the_files_compared(tmp_path: Path, params: dict,
                                                      duplicates: set[str]) -> None:
    filter_library(tmp_path)
    result, ctx = await run_kind(KIND, [tmp_path], [tmp_path], keep="shortest_path", **params)
    assert relative(items(ctx._reporter), tmp_path) == duplicates
    assert result["duplicates"] == len(duplicates)

"""fileops.reconcile: the issue's rule for every state a retried operation can meet."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from medialoom.workers.fileops.apply import expect_of
from medialoom.workers.fileops.reconcile import apply_op, reconcile


def op(kind: str, src: Path | str, dst: Path | str, **extra: Any) -> dict[str, Any]:
    expect = expect_of(os.lstat(src)) if src and os.path.lexists(src) else {}
    return {"i": 0, "op": kind, "src": str(src), "dst": str(dst), "expect": expect,
            "status": "planned", "message": "", "details": {}, **extra}


@pytest.fixture
def ab(tmp_path: Path) -> tuple[Path, Path]:
    a = tmp_path / "a.mp3"
    a.write_bytes(b"content")
    return a, tmp_path / "b.mp3"


def test_source_present_target_absent_is_todo(ab: tuple[Path, Path]) -> None:
    a, b = ab
    assert reconcile(op("rename", a, b)) == ("todo", "")


def test_source_absent_target_as_expected_is_done(ab: tuple[Path, Path]) -> None:
    a, b = ab
    row = op("rename", a, b)
    os.rename(a, b)
    assert reconcile(row) == ("done", "")
    status, message, details, _ = apply_op(row)
    assert (status, message, details["reconciled"]) == ("renamed", "already done", "done")


def test_done_across_devices_is_recognised_by_size_and_mtime(ab: tuple[Path, Path]) -> None:
    a, b = ab
    row = op("move", a, b)
    row["expect"]["dev"] += 1  # as if the source lived on another device
    b.write_bytes(a.read_bytes())
    os.utime(b, ns=(a.stat().st_atime_ns, a.stat().st_mtime_ns))
    a.unlink()
    assert reconcile(row) == ("done", "")
    os.utime(b, ns=(0, 0))
    assert reconcile(row)[0] == "conflict"


def test_source_changed_since_planned_is_a_conflict(ab: tuple[Path, Path]) -> None:
    a, b = ab
    row = op("rename", a, b)
    a.write_bytes(b"other content")
    state, reason = reconcile(row)
    assert state == "conflict" and "changed since it was planned" in reason and "size" in reason
    assert apply_op(row)[0] == "conflict" and a.exists() and not b.exists()


def test_target_taken_by_another_file_is_a_conflict(ab: tuple[Path, Path]) -> None:
    a, b = ab
    row = op("rename", a, b)
    a.unlink()
    b.write_bytes(b"a stranger")
    state, reason = reconcile(row)
    assert state == "conflict" and "not the file this operation puts there" in reason


def test_both_names_present_is_a_conflict_and_nothing_is_touched(ab: tuple[Path, Path]) -> None:
    a, b = ab
    row = op("rename", a, b)
    b.write_bytes(b"a stranger")
    assert reconcile(row)[0] == "conflict"
    assert apply_op(row)[0] == "conflict"
    assert a.read_bytes() == b"content" and b.read_bytes() == b"a stranger"


def test_both_gone_is_vanished(ab: tuple[Path, Path]) -> None:
    a, b = ab
    row = op("rename", a, b)
    a.unlink()
    assert reconcile(row)[0] == "vanished"
    status, message, _, _ = apply_op(row)
    assert status == "vanished" and "is gone" in message



def test_an_interrupted_copy_move_is_finished_only_when_the_copy_is_identical(
        tmp_path: Path, other_fs: Path) -> None:
    a, b = tmp_path / "a.mp3", other_fs / "b.mp3"
    a.write_bytes(b"content")
    row = op("move", a, b)
    shutil.copy2(a, b)  # the copy was made, the worker died before the unlink
    b.write_bytes(b"CONTENT")  # ...but a copy that differs is never taken for ours
    os.utime(b, ns=(a.stat().st_atime_ns, a.stat().st_mtime_ns))
    assert reconcile(row)[0] == "conflict"
    shutil.copy2(a, b)
    assert reconcile(row)[0] == "finish"
    assert apply_op(row)[:2] == ("moved", "finished an interrupted move")
    assert not a.exists() and b.read_bytes() == b"content"


def test_rows_not_planned_are_reported_as_planned_without_touching_the_disk(
        ab: tuple[Path, Path]) -> None:
    a, b = ab
    row = op("rename", a, b, status="conflict", message="name taken")
    assert apply_op(row)[:2] == ("conflict", "name taken") and a.exists()


def test_hardlink_states(tmp_path: Path) -> None:
    keep, extra = tmp_path / "keep", tmp_path / "extra"
    keep.write_bytes(b"same")
    extra.write_bytes(b"same")
    row = op("hardlink", extra, keep, details={"keep_expect": expect_of(keep.stat())})
    assert reconcile(row) == ("todo", "")
    assert apply_op(row)[0] == "hardlinked"
    assert reconcile(row) == ("done", "")
    keep.write_bytes(b"changed")  # one inode: both names change
    assert reconcile(row)[0] == "conflict"


def test_copy_and_folder_states(tmp_path: Path) -> None:
    keep, extra = tmp_path / "keep", tmp_path / "extra"
    keep.write_bytes(b"same")
    os.link(keep, extra)
    row = op("copy", keep, extra)
    assert reconcile(row) == ("todo", "")
    assert apply_op(row)[0] == "restored" and reconcile(row) == ("done", "")
    folder = tmp_path / "d"
    assert reconcile(op("mkdir", "", folder)) == ("todo", "")
    assert apply_op(op("mkdir", "", folder))[0] == "created"
    (folder / "x").write_bytes(b"")
    assert apply_op(op("rmdir", folder, ""))[:2] == ("skipped", "folder not empty: kept")
    (folder / "x").unlink()
    assert apply_op(op("rmdir", folder, ""))[0] == "removed"
    assert reconcile(op("rmdir", folder, "")) == ("done", "")

"""fileops.apply: no-clobber renames, cross-device moves, folders made, link and copy swaps."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from medialoom.workers.fileops import apply
from medialoom.workers.fileops.apply import (
    Conflict,
    copy_then_unlink,
    is_case_alias,
    make_dirs,
    move,
    rename_noreplace,
    replace_with_copy,
    replace_with_link,
    temp_name,
)


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize("use_renameat2", [True, False], ids=["renameat2", "link-unlink"])
def test_rename_moves_the_file_and_keeps_its_inode(tmp_path: Path, use_renameat2: bool) -> None:
    src = tmp_path / "a.mp3"
    src.write_bytes(b"A")
    ino = src.stat().st_ino
    rename_noreplace(str(src), str(tmp_path / "b.mp3"), use_renameat2=use_renameat2)
    assert files(tmp_path) == {"b.mp3": b"A"}
    assert (tmp_path / "b.mp3").stat().st_ino == ino
    assert (tmp_path / "b.mp3").stat().st_nlink == 1


@pytest.mark.parametrize("use_renameat2", [True, False], ids=["renameat2", "link-unlink"])
def test_rename_never_replaces_an_existing_file(tmp_path: Path, use_renameat2: bool) -> None:
    (tmp_path / "a.mp3").write_bytes(b"A")
    (tmp_path / "b.mp3").write_bytes(b"B")
    with pytest.raises(FileExistsError):
        rename_noreplace(str(tmp_path / "a.mp3"), str(tmp_path / "b.mp3"),
                         use_renameat2=use_renameat2)
    assert files(tmp_path) == {"a.mp3": b"A", "b.mp3": b"B"}


@pytest.mark.parametrize("use_renameat2", [True, False], ids=["renameat2", "checked-rename"])
def test_rename_of_a_folder_never_replaces(tmp_path: Path, use_renameat2: bool) -> None:
    (tmp_path / "d1").mkdir()
    (tmp_path / "d2").mkdir()
    (tmp_path / "d1" / "x").write_bytes(b"x")
    with pytest.raises(FileExistsError):
        rename_noreplace(str(tmp_path / "d1"), str(tmp_path / "d2"), use_renameat2=use_renameat2)
    rename_noreplace(str(tmp_path / "d1"), str(tmp_path / "d3"), use_renameat2=use_renameat2)
    assert (tmp_path / "d3" / "x").read_bytes() == b"x"


def test_case_only_rename_on_a_case_sensitive_disk(tmp_path: Path) -> None:
    (tmp_path / "song.mp3").write_bytes(b"S")
    rename_noreplace(str(tmp_path / "song.mp3"), str(tmp_path / "Song.mp3"))
    assert files(tmp_path) == {"Song.mp3": b"S"}


def test_two_listed_names_of_one_inode_are_not_a_case_alias(tmp_path: Path) -> None:
    (tmp_path / "song.mp3").write_bytes(b"S")
    os.link(tmp_path / "song.mp3", tmp_path / "Song.mp3")
    assert not is_case_alias(str(tmp_path / "song.mp3"), str(tmp_path / "Song.mp3"))
    with pytest.raises(FileExistsError):
        rename_noreplace(str(tmp_path / "song.mp3"), str(tmp_path / "Song.mp3"))


def test_case_alias_renames_through_a_temporary_name(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # This host has no case-insensitive file system to mount; stand in for its answer.
    monkeypatch.setattr(apply, "is_case_alias", lambda src, dst: True)
    seen: list[str] = []
    real = apply._rename_noreplace
    monkeypatch.setattr(apply, "_rename_noreplace",
                        lambda s, d, u: (seen.append(os.path.basename(d)), real(s, d, u)))
    (tmp_path / "song.mp3").write_bytes(b"S")
    rename_noreplace(str(tmp_path / "song.mp3"), str(tmp_path / "Song.mp3"))
    assert files(tmp_path) == {"Song.mp3": b"S"}
    assert seen[0].startswith(".medialoom-") and seen[1] == "Song.mp3"


def test_forced_copy_move_preserves_content_mode_and_mtime(tmp_path: Path) -> None:
    src, dst = tmp_path / "a.flac", tmp_path / "sub" / "b.flac"
    src.write_bytes(os.urandom(3 << 20))
    src.chmod(0o640)
    os.utime(src, ns=(1_600_000_000_123_456_789, 1_600_000_000_123_456_789))
    data, before = src.read_bytes(), src.stat()
    dst.parent.mkdir()
    assert move(str(src), str(dst), force_copy=True, verify_hash=True) is True
    assert not src.exists() and dst.read_bytes() == data
    after = dst.stat()
    assert after.st_mtime_ns == before.st_mtime_ns
    assert stat.S_IMODE(after.st_mode) == 0o640 and after.st_ino != before.st_ino
    assert [p.name for p in dst.parent.iterdir()] == ["b.flac"]  # no temporary left


def test_move_across_real_file_systems(tmp_path: Path, other_fs: Path) -> None:
    src = other_fs / "a.mp3"
    src.write_bytes(b"cross" * 1000)
    assert move(str(src), str(tmp_path / "a.mp3")) is True
    assert (tmp_path / "a.mp3").read_bytes() == b"cross" * 1000 and not src.exists()


def test_copy_move_refuses_an_existing_target_and_clears_its_own_leftovers(tmp_path: Path) -> None:
    src, dst = tmp_path / "a", tmp_path / "b"
    src.write_bytes(b"A")
    dst.write_bytes(b"B")
    with pytest.raises(FileExistsError):
        copy_then_unlink(str(src), str(dst))
    assert files(tmp_path) == {"a": b"A", "b": b"B"}
    dst.unlink()
    Path(temp_name(str(dst))).write_bytes(b"half a copy from a killed attempt")
    copy_then_unlink(str(src), str(dst))
    assert files(tmp_path) == {"b": b"A"}


def test_make_dirs_returns_what_it_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c"
    assert make_dirs(str(target)) == [str(tmp_path / "a"), str(tmp_path / "a" / "b"),
                                      str(target)]
    assert make_dirs(str(target)) == []
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(NotADirectoryError):
        make_dirs(str(tmp_path / "file" / "sub"))


def test_replace_with_link_and_back_with_copy(tmp_path: Path) -> None:
    keep, extra = tmp_path / "keep", tmp_path / "extra"
    keep.write_bytes(b"same")
    extra.write_bytes(b"same")
    extra.chmod(0o600)
    old = extra.stat()
    expect = apply.expect_of(old)
    replace_with_link(str(extra), str(keep), expect)
    assert extra.stat().st_ino == keep.stat().st_ino
    replace_with_copy(str(keep), str(extra), 0o600, old.st_mtime_ns)
    new = extra.stat()
    assert new.st_ino != keep.stat().st_ino and extra.read_bytes() == b"same"
    assert stat.S_IMODE(new.st_mode) == 0o600 and new.st_mtime_ns == old.st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extra", "keep"]


def test_replace_with_link_leaves_a_changed_file_alone(tmp_path: Path) -> None:
    keep, extra = tmp_path / "keep", tmp_path / "extra"
    keep.write_bytes(b"same")
    extra.write_bytes(b"same")
    expect = apply.expect_of(extra.stat())
    extra.write_bytes(b"edited!")
    with pytest.raises(Conflict, match="changed since it was hashed"):
        replace_with_link(str(extra), str(keep), expect)
    assert extra.read_bytes() == b"edited!" and extra.stat().st_ino != keep.stat().st_ino
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extra", "keep"]

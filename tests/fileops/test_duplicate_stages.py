"""fileops.dupes and fileops.compare: size index, hard links, byte comparison, hash stages."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medialoom.workers.fileops.compare import COMPARE_MAX, split_by_content
from medialoom.workers.fileops.dupes import SizeIndex, choose_keep, hash_refs, regroup
from medialoom.workers.fileops.hashing import PARTIAL_BYTES, file_digest, partial_digest

SIZE = 3 * PARTIAL_BYTES + 12345
BASE = os.urandom(SIZE)


def variant(where: str) -> bytes:
    """BASE with one byte changed in the first block, the last block or the middle."""
    pos = {"first": 10, "last": SIZE - 10, "middle": SIZE // 2, "none": -1}[where]
    data = bytearray(BASE)
    if pos >= 0:
        data[pos] ^= 0xFF
    return bytes(data)


def index_of(root: Path) -> SizeIndex:
    index = SizeIndex()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            index.add(str(path), path.lstat())
    return index


def write(root: Path, spec: dict[str, str]) -> None:
    root.mkdir(exist_ok=True)
    for name, where in spec.items():
        (root / name).write_bytes(variant(where))


def names(groups: list[list]) -> list[list[str]]:  # type: ignore[type-arg]
    return sorted(sorted(os.path.basename(r.path) for r in g) for g in groups)


def test_size_index_folds_hard_links_and_drops_unique_sizes(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 100)
    os.link(tmp_path / "a", tmp_path / "a-link")
    (tmp_path / "b").write_bytes(b"y" * 101)
    (tmp_path / "c").write_bytes(b"")
    index = index_of(tmp_path)
    assert index.files == 4 and index.candidates() == []  # a and a-link: one inode
    (tmp_path / "d").write_bytes(b"z" * 100)
    [[first, second]] = index_of(tmp_path).candidates()
    assert first.names == [str(tmp_path / "a"), str(tmp_path / "a-link")]
    assert second.names == [str(tmp_path / "d")]


def test_byte_comparison_splits_on_any_difference(tmp_path: Path) -> None:
    write(tmp_path, {"a": "none", "b": "none", "c": "first", "d": "last", "e": "middle",
                     "f": "middle", "g": "none"})
    [group] = index_of(tmp_path).candidates()
    assert names(split_by_content(group)) == [["a", "b", "g"], ["e", "f"]]


def test_byte_comparison_leaves_out_changed_and_unreadable_files(tmp_path: Path) -> None:
    write(tmp_path, {"a": "none", "b": "none", "c": "none"})
    [group] = index_of(tmp_path).candidates()
    (tmp_path / "b").write_bytes(BASE + b"grown")
    (tmp_path / "c").unlink()
    assert split_by_content(group) == []


def test_small_files_are_compared_whole(tmp_path: Path) -> None:
    for name, data in {"a": b"same", "b": b"same", "c": b"diff"}.items():
        (tmp_path / name).write_bytes(data)
    [group] = index_of(tmp_path).candidates()
    assert names(split_by_content(group)) == [["a", "b"]]


def test_partial_hash_sees_first_and_last_block_only(tmp_path: Path) -> None:
    write(tmp_path, {"a": "none", "b": "first", "c": "last", "d": "middle"})
    digests = {n: partial_digest(str(tmp_path / n), SIZE) for n in "abcd"}
    assert digests["a"] == digests["d"] != digests["b"] != digests["c"] != digests["a"]


def test_full_hash_chained_to_the_partial_covers_the_middle(tmp_path: Path) -> None:
    write(tmp_path, {"a": "none", "b": "none", "d": "middle"})
    partial = partial_digest(str(tmp_path / "a"), SIZE)
    chained = {n: file_digest(str(tmp_path / n), SIZE, partial) for n in "abd"}
    assert chained["a"] == chained["b"] != chained["d"]
    with pytest.raises(OSError, match="changed"):
        file_digest(str(tmp_path / "a"), SIZE + 1)


def test_hash_stages_split_a_group_too_large_to_compare(tmp_path: Path) -> None:
    spec = {f"same{i:02}": "none" for i in range(COMPARE_MAX + 2)}
    spec |= {"first": "first", "last": "last", "mid1": "middle", "mid2": "middle"}
    write(tmp_path, spec)
    [group] = index_of(tmp_path).candidates()
    assert len(group) > COMPARE_MAX
    after_partial = regroup(group, hash_refs(group, "partial"))
    assert sorted(len(g) for g in after_partial) == [COMPARE_MAX + 4]  # middles still in
    [big] = after_partial
    after_full = regroup(big, hash_refs(big, "full"))
    assert names(after_full) == [["mid1", "mid2"], sorted(f"same{i:02}"
                                                           for i in range(COMPARE_MAX + 2))]


def test_keep_policies_break_ties_on_the_path(tmp_path: Path) -> None:
    write(tmp_path, {"zz": "none", "a-long-name": "none"})
    (tmp_path / "pref").mkdir()
    (tmp_path / "pref" / "p").write_bytes(BASE)
    for name in ("zz", "a-long-name", "pref/p"):
        os.utime(tmp_path / name, ns=(1, 1))
    [group] = index_of(tmp_path).candidates()
    keep = {policy: os.path.relpath(choose_keep(group, policy, str(tmp_path / "pref")).path,
                                    tmp_path)
            for policy in ("oldest", "shortest_path", "preferred_root")}
    assert keep == {"oldest": "zz", "shortest_path": "zz", "preferred_root": "pref/p"}

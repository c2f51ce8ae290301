"""workers/tagcache: read_tags answers an unchanged file from cache, and never a changed one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mutagen.id3 import ID3, TIT2, TPE1

from medialoom.samplelib import make_audio
from medialoom.workers.tagcache import TagCache
from medialoom.workers.tags import UnreadableAudio, read_tags


def tagged(path: Path, title: str) -> Path:
    path.write_bytes(make_audio("mp3", 30.0))
    tags = ID3()
    tags.add(TPE1(encoding=3, text="Artist"))
    tags.add(TIT2(encoding=3, text=title))
    tags.save(path)
    return path


def test_an_unchanged_file_is_answered_from_cache_with_the_same_result(tmp_path: Path) -> None:
    path = tagged(tmp_path / "a.mp3", "Alpha")
    cache = TagCache(stable_s=0)
    first = read_tags(str(path), cache)
    assert (cache.hits, len(cache)) == (0, 1)
    again = read_tags(str(path), cache)
    assert again == first == read_tags(str(path), None)
    assert again is not first and again["tags"] is not first["tags"]
    assert cache.hits == 1


def test_a_file_changed_in_place_is_read_again(tmp_path: Path) -> None:
    path = tagged(tmp_path / "a.mp3", "Alpha")
    cache = TagCache(stable_s=0)
    assert read_tags(str(path), cache)["tags"]["title"] == "Alpha"
    time.sleep(0.05)  # past the file system's clock tick, so the ctime moves
    data = path.read_bytes()
    path.write_bytes(data.replace(b"Alpha", b"Bravo"))  # same size, same inode
    assert path.stat().st_size == len(data)
    assert read_tags(str(path), cache)["tags"]["title"] == "Bravo"
    assert cache.hits == 0


def test_a_file_replaced_under_its_name_is_read_again(tmp_path: Path) -> None:
    path = tagged(tmp_path / "a.mp3", "Alpha")
    cache = TagCache(stable_s=0)
    read_tags(str(path), cache)
    other = tagged(tmp_path / "b.mp3", "Bravo")
    other.replace(path)
    assert read_tags(str(path), cache)["tags"]["title"] == "Bravo"


def test_recently_changed_files_and_errors_are_not_kept(tmp_path: Path) -> None:
    cache = TagCache()  # default: a file changed less than 2 s before it is opened
    path = tagged(tmp_path / "new.mp3", "Fresh")
    read_tags(str(path), cache)
    assert len(cache) == 0
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"\x00garbage" * 50)
    relaxed = TagCache(stable_s=0)
    for _ in range(2):
        with pytest.raises(UnreadableAudio):
            read_tags(str(bad), relaxed)
    assert len(relaxed) == 0


def test_the_oldest_entries_leave_first(tmp_path: Path) -> None:
    cache = TagCache(max_entries=2, stable_s=0)
    paths = [tagged(tmp_path / f"{n}.mp3", n) for n in ("one", "two", "three")]
    for path in paths:
        read_tags(str(path), cache)
    assert len(cache) == 2
    read_tags(str(paths[0]), cache)
    assert cache.hits == 0  # "one" had left
    read_tags(str(paths[2]), cache)
    assert cache.hits == 1

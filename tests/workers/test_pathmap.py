"""Path mappings of workers on other hosts (workers/pathmap.py, SPEC.md section 6.9): the
mapping both ways, the READY checks, and reachability as the broker's dispatch uses it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medialoom.workers.pathmap import PathMap, check_announced, parse_entry, reaches


def test_an_entry_splits_at_the_first_equals_slash() -> None:
    assert parse_entry("/srv/media=/mnt/media") == ("/srv/media", "/mnt/media")
    assert parse_entry("/srv/a=b=/mnt/x") == ("/srv/a=b", "/mnt/x")
    for bad in ("/srv/media", "srv=mnt", "=/mnt", "/srv/media=mnt/media"):
        with pytest.raises(ValueError, match="LIBRARY_PREFIX=LOCAL_PREFIX|absolute"):
            PathMap([bad], resolve=False)


def test_prefixes_are_normalised_and_checked() -> None:
    pm = PathMap(["/srv/media/=/mnt//media"], resolve=False)
    assert pm.announce() == [["/srv/media", "/mnt/media"]]
    with pytest.raises(ValueError, match="may not be /"):
        PathMap(["/=/mnt/media"], resolve=False)
    with pytest.raises(ValueError, match="more than once"):
        PathMap(["/srv/a=/mnt/a", "/srv/a/=/mnt/b"], resolve=False)
    with pytest.raises(ValueError, match="pair"):
        PathMap([["/srv/a"]], resolve=False)


def test_paths_map_both_ways_at_any_depth_and_inside_texts() -> None:
    pm = PathMap(["/srv/media=/mnt/media", "/srv/media/tv=/nas2/tv"], resolve=False)
    inbound = {"paths": ["/srv/media/a.mp3", "/srv/media/tv/s01/e1.mkv", "/srv/mediax/b"],
               "params": {"dest": "/srv/media/Sorted", "template": "{artist}/{title}",
                          "list": ["/srv/media"]}}
    assert pm.to_local(inbound) == {
        "paths": ["/mnt/media/a.mp3", "/nas2/tv/s01/e1.mkv", "/srv/mediax/b"],
        "params": {"dest": "/mnt/media/Sorted", "template": "{artist}/{title}",
                   "list": ["/mnt/media"]}}
    item = {"i": 3, "path": "/nas2/tv/e1.mkv", "status": "conflict",
            "message": "/mnt/media/a.mp3 changed since it was planned (size 1 -> 2)",
            "details": {"old": "/mnt/media/a.mp3", "new": "/mnt/media/b.mp3",
                        "created_dirs": ["/mnt/media/x", "/mnt/media/x/y"], "n": 5}}
    assert pm.to_library(item) == {
        "i": 3, "path": "/srv/media/tv/e1.mkv", "status": "conflict",
        "message": "/srv/media/a.mp3 changed since it was planned (size 1 -> 2)",
        "details": {"old": "/srv/media/a.mp3", "new": "/srv/media/b.mp3",
                    "created_dirs": ["/srv/media/x", "/srv/media/x/y"], "n": 5}}
    # a prefix inside a word, or followed by more name, is not a path under it
    assert pm.to_library("a/mnt/media/x /mnt/mediax /mnt/media.bak") == \
        "a/mnt/media/x /mnt/mediax /mnt/media.bak"


def test_an_empty_map_returns_values_as_they_are() -> None:
    pm = PathMap()
    value = {"path": "/srv/media/a", "expect": {"dev": 1}}
    assert not pm and pm.to_local(value) is value and pm.to_library(value) is value
    assert pm.unreachable(["/anything"]) is None


def test_device_numbers_are_left_out_of_expect_maps_both_ways() -> None:
    pm = PathMap(["/srv/m=/mnt/m"], resolve=False)
    row = {"src": "/mnt/m/a", "expect": {"size": 3, "mtime_ns": 9, "ino": 7, "dev": 2049},
           "details": {"keep_expect": {"size": 3, "dev": 1}, "dev": "kept elsewhere"}}
    out = pm.to_library(row)
    assert out["expect"] == {"size": 3, "mtime_ns": 9, "ino": 7}
    assert out["details"] == {"keep_expect": {"size": 3}, "dev": "kept elsewhere"}
    assert "dev" not in pm.to_local({"expect": {"dev": 5, "size": 1}})["expect"]


def test_a_symlinked_local_prefix_is_known_by_its_real_path_too(tmp_path: Path) -> None:
    real = tmp_path / "share"
    real.mkdir()
    link = tmp_path / "mnt"
    link.symlink_to(real)
    pm = PathMap([f"/srv/media={link}"])
    assert pm.to_local("/srv/media/a.mp3") == f"{link}/a.mp3"
    assert pm.to_library(f"{real}/a.mp3") == pm.to_library(f"{link}/a.mp3") == "/srv/media/a.mp3"


def test_roots_as_the_worker_sees_them() -> None:
    pm = PathMap(["/srv/media=/mnt/media", "/srv/tv=/nas/tv"], resolve=False)
    assert pm.local_roots(["/srv/media"]) == ["/mnt/media"]
    assert pm.local_roots(["/srv/media/music"]) == ["/mnt/media/music"]
    assert pm.local_roots(["/srv"]) == ["/mnt/media", "/nas/tv"]
    assert pm.local_roots(["/elsewhere"]) == ["/elsewhere"]


def test_local_prefixes_must_be_folders_here(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    PathMap([f"/srv/a={tmp_path}"]).check_local()
    with pytest.raises(ValueError, match="does not exist on this host"):
        PathMap([f"/srv/a={tmp_path}/gone"]).check_local()
    with pytest.raises(ValueError, match="is not a folder"):
        PathMap([f"/srv/a={tmp_path}/file"]).check_local()


def test_the_broker_checks_announced_pairs() -> None:
    assert check_announced([["/srv/media", "/mnt/m"]], ["/srv/media"]) == \
        (("/srv/media", "/mnt/m"),)
    assert check_announced([["/srv", "/mnt/m"], ["/srv/media/x", "/mnt/x"]], ["/srv/media"])
    assert check_announced([], ["/srv/media"]) == ()
    for bad, why in (([["/srv/media"]], "pair"), ([["/srv/media", 3]], "pair"),
                     ([["srv", "/mnt"]], "absolute"), ([["/srv/media/", "/mnt"]], "normalised"),
                     ([["/", "/mnt"]], "may not be /"),
                     ([["/srv/media", "/a"], ["/srv/media", "/b"]], "more than once"),
                     ([["/other", "/mnt"]], "not inside a library root"), ("x", "array")):
        with pytest.raises(ValueError, match=why):
            check_announced(bad, ["/srv/media"])


def test_a_worker_without_pairs_reaches_every_path() -> None:
    pairs = (("/srv/media", "/mnt/media"),)
    assert reaches((), ["/anything/at/all"])
    assert reaches(pairs, ["/srv/media", "/srv/media/a/b.mp3"])
    assert not reaches(pairs, ["/srv/media/a.mp3", "/srv/other/b.mp3"])
    assert not reaches(pairs, ["/srv/mediax"])
    assert PathMap(["/srv/media=/mnt/media"], resolve=False).unreachable(
        ["/srv/media/a", "/srv/tv/b"]) == "/srv/tv/b"


def test_a_whole_items_batch_maps_back() -> None:
    pm = PathMap(["/srv/media=/mnt/media"], resolve=False)
    rows = [{"i": i, "path": f"/mnt/media/a/{i}.mp3", "status": "renamed", "message": "",
             "details": {"old": f"/mnt/media/a/{i}.mp3", "new": f"/mnt/media/b/{i}.mp3"}}
            for i in range(256)]
    out = pm.to_library(rows)
    assert out[255]["details"]["new"] == "/srv/media/b/255.mp3"
    assert os.path.commonpath([r["path"] for r in out]) == "/srv/media/a"

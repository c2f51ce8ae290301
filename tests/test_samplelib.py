"""medialoom.samplelib: the generated library is what its summary says, scanned for real."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from medialoom.samplelib import ARTISTS, EMOJI_TITLE, FORMAT_NAMES, generate, main
from medialoom.workers.context import CollectingReporter, JobContext
from medialoom.workers.kinds import validate_params
from medialoom.workers.kinds.scan import KIND

ALL_FORMATS = tuple(FORMAT_NAMES)


def tree(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under root."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


async def scan(root: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    reporter = CollectingReporter()
    ctx = JobContext(job_id="s", attempt=1, kind="scan", paths=[str(root)],
                     params=validate_params(KIND, {}), dry_run=False, roots=[str(root)],
                     reporter=reporter)
    result = await KIND.run(ctx)
    ctx.flush_items()
    return result, reporter.items


async def test_scan_of_generated_library_matches_the_summary(tmp_path: Path) -> None:
    root = tmp_path / "lib"
    summary = generate(str(root), 200, seed=3, corrupt=7, formats=ALL_FORMATS)
    result, items = await scan(root)

    assert summary["files"] == len(items) == result["files"] == 200
    assert result["formats"] == summary["formats"]
    assert set(summary["formats"]) == set(FORMAT_NAMES.values())
    assert sum(summary["formats"].values()) == 200 - 7
    failed = [i for i in items if i["status"] == "failed"]
    assert len(failed) == summary["corrupt"] == result["failed"] == 7
    assert all(i["message"].startswith("cannot read tags: ") for i in failed)
    assert {os.path.splitext(i["path"])[1] for i in failed} == {".mp3", ".flac"}
    assert result["bytes"] == summary["bytes"] == sum(p.stat().st_size for p in root.rglob("*")
                                                      if p.is_file())

    tags = [i["details"]["tags"] for i in items if i["status"] == "ok"]
    assert sum(t == {} for t in tags) == summary["untagged"] > 0
    assert sum("artist" not in t for t in tags) == summary["untagged"] + summary["no_artist"]
    assert sum("title" not in t for t in tags) == summary["untagged"] + summary["no_title"]
    assert summary["no_artist"] > 0 and summary["no_title"] > 0
    tagged = [t for t in tags if t]
    assert set(ARTISTS) <= {t.get("albumartist") for t in tagged}
    assert {"Beyoncé", "Sigur Rós", "坂本龍一", "Motörhead"} <= {t.get("artist") for t in tagged}
    assert EMOJI_TITLE in {t.get("title") for t in tagged}
    assert all(isinstance(t["track"], int) and isinstance(t["year"], int)
               and isinstance(t["bpm"], int | float) and t["key"] for t in tagged)
    assert len({t["key"] for t in tagged}) > 10


def test_files_sit_in_artist_album_folders(tmp_path: Path) -> None:
    summary = generate(str(tmp_path / "lib"), 200, seed=3, corrupt=0)
    paths = list(tree(tmp_path / "lib"))
    assert len(paths) == 200 == summary["files"]
    assert all(len(Path(p).parts) == 3 for p in paths)  # Artist/Album (Year)/NN - Title.ext
    assert Counter(Path(p).suffix for p in paths).keys() == {".mp3", ".flac", ".wav"}
    artists = {Path(p).parts[0] for p in paths}
    assert {"AC_DC", "Various Artists", "坂本龍一"} <= artists  # "/" in a name made safe
    assert len({os.path.dirname(p) for p in paths}) == summary["albums"]


def test_same_seed_gives_the_same_library_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate(str(tmp_path / "a"), 120, seed=7, corrupt=3, formats=ALL_FORMATS,
                     duplicates=0.1)
    second = generate(str(tmp_path / "b"), 120, seed=7, corrupt=3, formats=ALL_FORMATS,
                      duplicates=0.1)
    generate(str(tmp_path / "c"), 120, seed=8, corrupt=3, formats=ALL_FORMATS, duplicates=0.1)
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert tree(tmp_path / "a") != tree(tmp_path / "c")
    assert {k: v for k, v in first.items() if k not in ("root", "elapsed_s")} == {
        k: v for k, v in second.items() if k not in ("root", "elapsed_s")}


def test_duplicates_are_byte_copies_of_other_files(tmp_path: Path) -> None:
    summary = generate(str(tmp_path / "lib"), 100, seed=2, corrupt=2, duplicates=0.1)
    files = tree(tmp_path / "lib")
    incoming = {p: h for p, h in files.items() if p.startswith("Incoming/")}
    others = {h for p, h in files.items() if not p.startswith("Incoming/")}
    assert len(files) == 100 and summary["duplicates"] == len(incoming) == 10
    assert set(incoming.values()) <= others


def test_generates_two_thousand_files_quickly(tmp_path: Path) -> None:
    summary = generate(str(tmp_path / "lib"), 2000, seed=1)
    assert summary["files"] == 2000 == len(tree(tmp_path / "lib"))
    assert summary["elapsed_s"] < 10


def test_refuses_a_non_empty_directory_and_unknown_formats(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate(str(tmp_path), 10)
    with pytest.raises(ValueError, match="unknown formats"):
        generate(str(tmp_path / "new"), 10, formats=("mp3", "mkv"))
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_command_line_prints_one_summary_line(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "lib"
    assert main([str(target), "--count", "30", "--seed", "4", "--corrupt", "2",
                 "--formats", "m4a,opus"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("wrote 30 files")
    assert "MP4" in out and "OggOpus" in out and "2 corrupt" in out
    assert len(tree(target)) == 30
    assert main([str(target), "--count", "5"]) == 2
    assert "not empty" in capsys.readouterr().err

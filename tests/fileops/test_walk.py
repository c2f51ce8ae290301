"""The one walker (fileops.walk, fileops.globs, specs.walking): glob semantics, filters, order,
links, pruning, counters, and a bad filter refused at START by a real broker."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from medialoom.clients.client import ClientError
from medialoom.workers.fileops.apply import TEMP_PREFIX
from medialoom.workers.fileops.globs import GlobSet, compile_glob
from medialoom.workers.fileops.walk import Entry, WalkFilter, take, walk_files
from medialoom.workers.specs import builtin_specs
from medialoom.workers.specs.walking import PARAM_NAMES, walk_params
from tests.support import System

# --- globs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("glob", "matches", "misses"), [
    ("**/*.mkv", ["a.mkv", "x/y/a.MKV"], ["a.mkv.txt", "x/a.mp4"]),
    ("*.flac", ["a.flac", "x/y/a.flac"], ["x/a.mp3", "a.flac/b"]),
    ("/*.flac", ["a.flac"], ["x/a.flac"]),
    ("x/*", ["x/a"], ["x/a/b", "y/x/a"]),
    ("x/*/c", ["x/b/c"], ["x/c", "x/b/b/c"]),
    ("a/**/b", ["a/b", "a/x/y/b"], ["b", "xa/b", "a/xb"]),
    ("a/**", ["a/x", "a/x/y"], ["a", "b/a/x"]),
    ("**", ["a", "a/b/c"], []),
    ("Live/", ["Live/x.mp3", "live/a/b", "y/Live/z"], ["Livex/a", "x.live"]),
    ("?.mp3", ["a.mp3", "d/b.mp3"], ["ab.mp3", "/.mp3"]),
    ("[!a]*", ["b", "d/b"], ["a", "d/a"]),
    ("[]x]?", ["]a", "xa"], ["aa"]),
    ("[!]x]?", ["aa"], ["]a", "xa"]),
    ("[a-c].wav", ["B.wav"], ["d.wav", "-.wav"]),
    ("*sample*", ["Show/Sample.mkv", "a sample b"], ["Show/x.mkv"]),
    ("(x)+.mp3", ["(x)+.mp3"], ["xx.mp3"]),
])
def test_globs_follow_gitignore_rules_on_the_relative_path(glob: str, matches: list[str],
                                                           misses: list[str]) -> None:
    compiled = compile_glob(glob, trailing_slash="inside")
    assert [m for m in matches if not compiled.match(m)] == []
    assert [m for m in misses if compiled.match(m)] == []


def test_an_exclude_glob_with_a_trailing_slash_matches_folders_only() -> None:
    globs = GlobSet(["Extras/", "*sample*"])
    assert globs.match("Show/Extras", is_dir=True) and globs.match("extras", is_dir=True)
    assert not globs.match("Show/Extras") and globs.match("a/SAMPLE.mkv")
    assert not GlobSet([]) and not GlobSet([]).match("x")


@pytest.mark.parametrize(("glob", "why"), [
    ("", "empty"), ("**.mkv", "whole path component"), ("a/**b/c", "whole path component"),
    ("../x", "'..'"), ("[abc", "unclosed"), ("a\0b", "NUL"), ("x" * 1025, "at most"),
])
def test_bad_globs_are_refused_with_the_reason(glob: str, why: str) -> None:
    with pytest.raises(ValueError, match=why.replace("(", r"\(")):
        compile_glob(glob)


# --- the walk --------------------------------------------------------------------------------


def put(path: Path, size: int = 1, age_days: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    if age_days:
        then = time.time() - age_days * 86400
        os.utime(path, (then, then))
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "lib"
    put(root / "b.flac", 10)
    put(root / "a.mp3", 2000)
    put(root / "A.MKV", 5000, age_days=100)
    put(root / "Live" / "x.flac", 10)
    put(root / "Live" / "2019" / "y.flac", 10)
    put(root / "music" / "z.flac", 3000, age_days=10)
    put(root / "music" / "deep" / "w.mp3", 10)
    put(root / "music" / "sample.flac", 10)
    put(root / ".hidden" / "h.flac", 10)
    put(root / f"{TEMP_PREFIX}partial.flac", 10)
    return root


def rels(tree: Path, params: dict[str, Any] | None = None, **kwargs: Any) -> list[str]:
    walk = walk_files([str(tree)], WalkFilter.from_params(params or {}), **kwargs)
    return [os.path.relpath(e.path, tree) for e in walk]


ALL = ["A.MKV", "a.mp3", "b.flac", ".hidden/h.flac", "Live/x.flac", "Live/2019/y.flac",
       "music/sample.flac", "music/z.flac", "music/deep/w.mp3"]


def test_walk_gives_a_folders_files_then_its_subfolders_in_name_order(tree: Path) -> None:
    assert rels(tree) == ALL
    assert rels(tree, hidden=False) == [r for r in ALL if not r.startswith(".")]
    assert rels(tree, skip=frozenset({str(tree / "music")})) == ALL[:6]


@pytest.mark.parametrize(("params", "expected"), [
    ({"pattern": "**/*.flac"}, ["b.flac", ".hidden/h.flac", "Live/x.flac", "Live/2019/y.flac",
                                "music/sample.flac", "music/z.flac"]),
    ({"pattern": "*/*.flac"}, [".hidden/h.flac", "Live/x.flac", "music/sample.flac",
                               "music/z.flac"]),
    ({"pattern": "live/**"}, ["Live/x.flac", "Live/2019/y.flac"]),
    ({"pattern": "*.mkv"}, ["A.MKV"]),
    ({"exclude": ["Live/", ".*", "*sample*"]}, ["A.MKV", "a.mp3", "b.flac", "music/z.flac",
                                                "music/deep/w.mp3"]),
    ({"exclude": ["music/deep"]}, [r for r in ALL if r != "music/deep/w.mp3"]),
    ({"min_size": 2000}, ["A.MKV", "a.mp3", "music/z.flac"]),
    ({"max_age_days": 30}, [r for r in ALL if r != "A.MKV"]),
    ({"max_age_days": 5.5}, [r for r in ALL if r not in ("A.MKV", "music/z.flac")]),
    ({"extensions": ["MP3", ".mkv"]}, ["A.MKV", "a.mp3", "music/deep/w.mp3"]),
    ({"recursive": False}, ["A.MKV", "a.mp3", "b.flac"]),
    ({"recursive": False, "pattern": "**/*.flac"}, ["b.flac"]),
])
def test_each_filter_selects_files(tree: Path, params: dict[str, Any],
                                   expected: list[str]) -> None:
    assert rels(tree, params) == expected


def test_ignored_files_are_counted_by_reason_and_excluded_folders_are_not_entered(
        tree: Path) -> None:
    filt = WalkFilter.from_params({"extensions": ["flac", "mp3"], "pattern": "**/*.flac",
                                   "exclude": ["Live/"], "min_size": 5})
    walk = walk_files([str(tree)], filt)
    assert [e.rel for e in walk] == ["b.flac", ".hidden/h.flac", "music/sample.flac",
                                     "music/z.flac"]
    # A.MKV: extension; a.mp3, w.mp3: pattern; Live (2 files inside) is never listed
    assert walk.ignored == {"extension": 1, "pattern": 2} and walk.pruned == 1
    assert walk.done and walk.ignored_total == 3


def test_symlinks_are_neither_followed_nor_yielded_but_a_linked_job_path_is(
        tmp_path: Path) -> None:
    real = put(tmp_path / "real" / "a.flac").parent
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "to-dir").symlink_to(real, target_is_directory=True)
    (lib / "to-file.flac").symlink_to(real / "a.flac")
    (lib / "loop").symlink_to(lib, target_is_directory=True)
    (lib / "dangling.flac").symlink_to(tmp_path / "nowhere")
    os.mkfifo(lib / "fifo.flac")
    walk = walk_files([str(lib)])
    assert list(walk) == [] and walk.links_not_followed == 4
    (tmp_path / "job").symlink_to(real, target_is_directory=True)
    assert [e.rel for e in walk_files([str(tmp_path / "job")])] == ["a.flac"]


def test_problems_are_entries_and_a_file_job_path_is_its_own_walk(tree: Path) -> None:
    def forbid(path: str) -> str:
        from medialoom.workers.errors import PathForbidden
        if "music" in path:
            raise PathForbidden(f"{path} is outside the library roots")
        return path

    walk = walk_files([str(tree / "gone"), str(tree / "music"), str(tree / "b.flac"),
                       str(tree / "a.mp3")], WalkFilter.from_params({"extensions": ["flac"]}),
                      check_path=forbid)
    got = [(os.path.basename(e.path), e.st is not None, e.problem, e.rel) for e in walk]
    assert got == [("gone", False, "not found", ""),
                   ("music", False, f"{tree / 'music'} is outside the library roots", ""),
                   ("b.flac", True, "", "b.flac")]
    assert walk.ignored == {"extension": 1}


def test_walk_is_lazy_and_resumes_where_a_batch_stopped(tree: Path) -> None:
    walk = walk_files([str(tree)])
    batches = []
    while batch := take(walk, 2):
        batches.append([e.rel for e in batch])
        assert all(isinstance(e, Entry) and e.st is not None for e in batch)
    assert [len(b) for b in batches] == [2, 2, 2, 2, 1]
    assert sum(batches, []) == ALL and take(walk, 2) == []


def test_filter_from_params_matches_the_spec_defaults() -> None:
    spec = builtin_specs()["rename"]
    filled = spec.validate({}, None)
    filt = WalkFilter.from_params(filled)
    assert filt.pattern is None and not filt.exclude and filt.recursive
    assert "flac" in filt.extensions and filt.min_size == 0 and filt.min_mtime is None
    assert WalkFilter.from_params({"max_age_days": 2}, now=1_000_000.0).min_mtime == \
        1_000_000.0 - 2 * 86400


# --- the spec params and their checks at START ---------------------------------------------------


def test_every_walking_kind_takes_the_same_walk_params() -> None:
    specs = builtin_specs()
    for kind in ("scan", "rename", "organize", "dedupe"):
        params = specs[kind].params
        assert [n for n in params if n in PARAM_NAMES] == list(PARAM_NAMES), kind
        assert params["pattern"].check == "walk-pattern"
    assert specs["dedupe"].params["min_size"].default == 1
    assert specs["organize"].params["extensions"].default == []
    assert "flac" in specs["scan"].params["extensions"].default
    assert "recursive" not in walk_params((), recursive=None)
    with pytest.raises(TypeError):
        walk_params((), recursve=False)


@pytest.mark.parametrize(("kind", "params", "field", "words"), [
    ("rename", {"pattern": "**.flac"}, "params.pattern", "whole path component"),
    ("scan", {"pattern": "[abc"}, "params.pattern", "unclosed"),
    ("scan", {"pattern": "**/*.mkv"}, "params.pattern", "leaves out"),
    ("organize", {"exclude": ["ok", "../up"]}, "params.exclude", "[1]"),
    ("dedupe", {"extensions": ["*.mp3"]}, "params.extensions", "not an extension"),
    ("scan", {"extensions": ["mp3", ""]}, "params.extensions", "empty"),
])
def test_bad_walk_params_are_refused_by_the_spec(kind: str, params: dict[str, Any], field: str,
                                                 words: str) -> None:
    from medialoom.protocol.errors import RequestError
    with pytest.raises(RequestError) as info:
        builtin_specs()[kind].validate(params, ["/x"])
    assert info.value.code == "job.bad_params" and info.value.details == {"field": field}
    assert words in str(info.value)


def test_a_pattern_for_other_files_passes_once_extensions_allow_them() -> None:
    spec = builtin_specs()["scan"]
    assert spec.validate({"pattern": "**/*.mkv", "extensions": []}, ["/x"])["pattern"]
    assert spec.validate({"pattern": "**/*.mkv", "extensions": ["MKV"]}, ["/x"])
    assert spec.validate({"pattern": "**/*.m[kp]v"}, ["/x"])  # not a single extension


@pytest.mark.e2e
@pytest.mark.parametrize(("kind", "params", "field"), [
    ("rename", {"pattern": "**/**.flac"}, "params.pattern"),
    ("scan", {"exclude": ["[unclosed"]}, "params.exclude"),
    ("dedupe", {"extensions": ["mp3/flac"]}, "params.extensions"),
    ("scan", {"pattern": "*.mkv"}, "params.pattern"),
])
def test_a_bad_walk_filter_is_refused_at_start_and_creates_no_job(
        broker_only: System, kind: str, params: dict[str, Any], field: str) -> None:
    with broker_only.client() as c:
        with pytest.raises(ClientError) as info:
            c.start(kind, [str(broker_only.root)], params)
        assert info.value.code == "job.bad_params"
        assert info.value.details == {"field": field}
        assert c.list()["total"] == 0

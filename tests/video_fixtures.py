"""Real test videos made with ffmpeg's lavfi sources, once per session (not a test module).

``videos`` (session fixture) is a folder of originals, each 1 s of 64x48
``testsrc`` video (mpeg4) with ``sine`` audio tracks (AAC), made by ffmpeg:

- ``eng_jpn.mkv`` / ``eng_jpn.mp4``: audio eng (default) + jpn;
- ``no_audio.mkv``: video only;
- ``fre_ger.mkv``: audio fre (default) + ger;
- ``eng_jpn_orig.mkv``: like eng_jpn.mkv, the jpn track flagged *original*.

Tests copy them (``place``) and never change the originals.  ``default_audio``
reads the default flags back with the real tools: ``mkvmerge -J`` for
Matroska, ffprobe for MP4.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import require_tool

SOURCES = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=1"]
#: a corrupt Matroska file: the EBML magic, then bytes no demuxer can parse (deterministic:
#: random bytes may happen to look like some format)
CORRUPT = b"\x1aE\xdf\xa3" + bytes(range(256)) * 16


def make_video(path: Path, audio: list[tuple[str, bool]]) -> Path:
    """A 1 s video at path with one sine audio track per (language, default)."""
    argv = ["ffmpeg", "-nostdin", "-v", "error", "-y", *SOURCES]
    for n, _ in enumerate(audio):
        argv += ["-f", "lavfi", "-i", f"sine=frequency={440 + 220 * n}:duration=1"]
    argv += ["-map", "0"] + [x for n in range(len(audio)) for x in ("-map", str(n + 1))]
    argv += ["-c:v", "mpeg4", "-c:a", "aac", "-b:a", "24k"]
    for n, (lang, default) in enumerate(audio):
        argv += [f"-metadata:s:a:{n}", f"language={lang}",
                 f"-disposition:a:{n}", "default" if default else "0"]
    subprocess.run([*argv, str(path)], check=True, timeout=60)
    return path


@dataclass(frozen=True)
class Videos:
    """The session's original test videos."""

    folder: Path

    def __getitem__(self, name: str) -> Path:
        return self.folder / name


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Videos:
    """The originals (ffmpeg and mkvtoolnix required: a failure in CI, a skip elsewhere)."""
    for tool in ("ffmpeg", "ffprobe", "mkvmerge", "mkvpropedit"):
        require_tool(tool)
    folder = tmp_path_factory.mktemp("videos")
    make_video(folder / "eng_jpn.mkv", [("eng", True), ("jpn", False)])
    make_video(folder / "eng_jpn.mp4", [("eng", True), ("jpn", False)])
    make_video(folder / "no_audio.mkv", [])
    make_video(folder / "fre_ger.mkv", [("fre", True), ("ger", False)])
    shutil.copyfile(folder / "eng_jpn.mkv", folder / "eng_jpn_orig.mkv")
    subprocess.run(["mkvpropedit", "-q", str(folder / "eng_jpn_orig.mkv"), "--edit",
                    "track:a2", "--set", "flag-original=1"], check=True, timeout=30)
    return Videos(folder)


def place(src: Path, dst: Path) -> Path:
    """A copy of a test video at dst (folders made)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst


def default_audio(path: Path) -> list[tuple[str, bool]]:
    """(language, default flag) of every audio track, as the real tools read them."""
    if path.suffix == ".mkv":
        out = subprocess.run(["mkvmerge", "-J", str(path)], capture_output=True, check=True,
                             timeout=30).stdout
        return [(t["properties"].get("language", "und"), t["properties"]["default_track"])
                for t in json.loads(out)["tracks"] if t["type"] == "audio"]
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_streams",
                          str(path)], capture_output=True, check=True, timeout=30).stdout
    return [(s.get("tags", {}).get("language", "und"), bool(s["disposition"]["default"]))
            for s in json.loads(out)["streams"] if s["codec_type"] == "audio"]

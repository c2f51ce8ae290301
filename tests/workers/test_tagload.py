"""workers/tagload.open_audio gives what mutagen.File gives: format, tags, stream info, errors."""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import Any

import mutagen
import pytest
from mutagen.id3 import COMM, ID3, TCON, TDRC, TIT2, TPE1, TRCK, TXXX, TYER

from medialoom.samplelib import FORMAT_NAMES, generate, make_audio
from medialoom.workers.tagload import KNOWN_FRAMES, OPTIONS, best_kind, open_audio, scores
from medialoom.workers.tags import read_tags


def describe(opener: Any, path: Path) -> Any:
    """Everything a reader can see of the file opened with opener, or the error it raised."""
    try:
        with open(path, "rb") as fh:
            audio = opener(fh)
    except Exception as exc:  # noqa: BLE001 - the error is what is compared
        return ("error", type(exc).__name__, str(exc))
    if audio is None:
        return None
    tags = audio.tags
    frames: Any = None
    if tags is not None:
        frames = sorted((key, type(value).__name__, repr(value),
                         sorted((k, repr(v)) for k, v in vars(value).items())
                         if hasattr(value, "__dict__") else None)
                        for key, value in tags.items())
        frames = (frames, repr(getattr(tags, "unknown_frames", None)),
                  getattr(tags, "version", None))
    return type(audio).__name__, frames, audio.info.pprint()


def same(path: Path) -> None:
    assert describe(open_audio, path) == describe(mutagen.File, path), path


def syncsafe(n: int) -> bytes:
    return bytes(((n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F))


def raw_id3(version: int, frames: list[tuple[bytes, int, bytes]], flags: int = 0) -> bytes:
    """An ID3v2.3/2.4 tag of (frame id, frame flags, body) frames, sizes as the version wants."""
    body = b"".join(fid + (syncsafe(len(data)) if version == 4 else struct.pack(">L", len(data)))
                    + struct.pack(">H", fl) + data for fid, fl, data in frames)
    body += b"\x00" * 32  # padding
    return b"ID3" + bytes((version, 0, flags)) + syncsafe(len(body)) + body


def test_every_file_of_a_generated_library_reads_the_same(tmp_path: Path) -> None:
    generate(str(tmp_path / "lib"), 300, seed=5, corrupt=12, formats=tuple(FORMAT_NAMES))
    files = sorted(p for p in (tmp_path / "lib").rglob("*") if p.is_file())
    assert len(files) == 300
    for path in files:
        same(path)


def test_text_frames_read_through_the_fast_table() -> None:
    assert type(KNOWN_FRAMES["TPE1"]).__name__ == "_FastText"
    assert type(KNOWN_FRAMES["TDRC"]).__name__ == "_FastText"
    assert KNOWN_FRAMES["TXXX"] is TXXX  # a described text frame: mutagen reads it
    assert KNOWN_FRAMES["TT2"].__name__ == "TT2"  # ID3v2.2 names stay


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("encoding", [0, 1, 2, 3])
def test_saved_tags_in_every_encoding_read_the_same(tmp_path: Path, version: int,
                                                    encoding: int) -> None:
    path = tmp_path / "t.mp3"
    path.write_bytes(make_audio("mp3", 30.0))
    tags = ID3()
    text = "Sigur Ros" if encoding == 0 else "Sigur Rós 坂本"
    tags.add(TPE1(encoding=encoding, text=[text, "Second"]))
    tags.add(TIT2(encoding=encoding, text="Title"))
    tags.add(TRCK(encoding=encoding, text="3/12"))
    tags.add(TCON(encoding=encoding, text="(13)Pop"))
    tags.add(TDRC(encoding=encoding, text="2003-05-01"))
    tags.add(COMM(encoding=encoding, lang="eng", desc="d", text="comment"))
    tags.add(TXXX(encoding=encoding, desc="BPM", text="120"))
    tags.save(path, v2_version=version)
    same(path)
    joined = f"{text}; Second" if version == 4 else f"{text}/Second"  # v2.3 saves join with /
    assert read_tags(str(path))["tags"]["artist"] == joined


def test_v23_year_frames_are_upgraded_the_same(tmp_path: Path) -> None:
    path = tmp_path / "y.mp3"
    path.write_bytes(make_audio("mp3", 30.0))
    tags = ID3()
    tags.add(TYER(encoding=0, text="1999"))
    tags.add(TIT2(encoding=0, text="Old"))
    tags.save(path, v2_version=3)
    same(path)
    assert read_tags(str(path))["tags"]["year"] == 1999


@pytest.mark.parametrize("frames", [
    [(b"TPE1", 0, b"\x03Bad \xff\xfe utf-8\x00"), (b"TIT2", 0, b"\x03ok")],  # junk frame
    [(b"TPE1", 0, b"\x03A\x00B\x00\x00\x00"), (b"TIT2", 0, b"\x00Caf\xe9")],  # values, latin-1
    [(b"TPE1", 0, b"\x07what"), (b"TIT2", 0, b"\x03")],  # bad encoding byte, no text
    [(b"TPE1", 0x0002, b"\x03Art\xff\x00ist"), (b"TIT2", 0x0040, b"\x01g\x03x")],  # flags
    [(b"TDRC", 0, b"\x03not a date\x002004"), (b"TRCK", 0, b"\x03\x00\x00")],
    [(b"TIT2", 0, b"\x03" + "é".encode() * 300)],
])
@pytest.mark.parametrize("version", [3, 4])
def test_hand_made_frames_read_the_same(tmp_path: Path, frames: list[tuple[bytes, int, bytes]],
                                        version: int) -> None:
    audio = make_audio("mp3", 30.0)
    for flags in (0, 0x80):  # and with the tag's unsynchronisation flag
        path = tmp_path / f"h{flags}.mp3"
        path.write_bytes(raw_id3(version, frames, flags) + audio)
        same(path)


def test_id3v1_and_v22_tags_read_the_same(tmp_path: Path) -> None:
    audio = make_audio("mp3", 30.0)
    v1 = (b"TAG" + b"Title".ljust(30, b"\0") + b"Artist".ljust(30, b"\0")
          + b"Album".ljust(30, b"\0") + b"1987" + b"c".ljust(28, b"\0") + b"\x00\x05" + b"\x11")
    (tmp_path / "v1.mp3").write_bytes(audio + v1)
    frame = b"TT2" + struct.pack(">L", 6)[1:] + b"\x00Hello" + b"TP1" + struct.pack(">L", 4)[1:]
    frame += b"\x00Art"
    v22 = b"ID3\x02\x00\x00" + syncsafe(len(frame) + 10) + frame + b"\x00" * 10
    (tmp_path / "v22.mp3").write_bytes(v22 + audio)
    (tmp_path / "both.mp3").write_bytes(raw_id3(4, [(b"TIT2", 0, b"\x03v2")]) + audio + v1)
    for name in ("v1.mp3", "v22.mp3", "both.mp3"):
        same(tmp_path / name)
    assert read_tags(str(tmp_path / "v22.mp3"))["tags"]["title"] == "Hello"


def test_garbage_and_empty_files_fail_the_same(tmp_path: Path) -> None:
    cases = {"empty.mp3": b"", "junk.wav": b"RIFF\x10\x00\x00\x00WAVEjunk",
             "id3only.mp3": raw_id3(4, [(b"TIT2", 0, b"\x03x")]),
             "text.flac": b"fLaC not really", "notaudio.txt": b"hello world\n" * 20}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        same(tmp_path / name)


NAMES = ["a.mp3", "B.MP3", "x.mp2", "x.mpg", "x.MPEG", "t.tta", "f.flac", "F.FLAC", "s.aif",
         "s.aiff", "s.AIFC", "m.m4a", "m.mpc", "m.ape", "m.APE", "o.ofr", "o.ofs", "w.wma",
         "o.opus", "o.ogg", "a.aac", "a.adts", "a.ADIF", "d.ac3", "d.AC3", "d.eac3", "m.mid",
         "m.MIDI", "t.tak", "d.dsf", "d.dff", "d.DFF", "w.wav", "w.WAVE", "noext", "", "a.txt"]
HEADERS = [b"", b"ID3\x04\x00", b"\xff\xfb\x90", b"\xff\xf2", b"\xff\xf3", b"\xff\xfa", b"TTA1",
           b"OggS\x00\x02" + b"\x01vorbis", b"OggS" + b"OpusHead", b"OggS" + b"Speex   ",
           b"OggS" + b"\x80theora\x81theora", b"OggS\x7fFLAC" + b"fLaC", b"fLaC\x00",
           b"FORM\x00\x00\x00\x10AIFF", b"\x00\x00\x00\x20ftypM4A mp42", b"\x00\x00\x00\x20ftyp",
           b"wvpk", b"MP+", b"MPCK", b"MAC ", b"OFR ", b"ADIF", b"\x0b\x77", b"MThd", b"tBaK",
           b"DSD ", b"FRM8", b"RIFF\x10\x00\x00\x00WAVEfmt ", b"RIFF\x10\x00\x00\x00AVI ",
           b"junk WAVE", b"ID3" + b"OggS"]


def mutagen_pick(name: str, fileobj: Any, header: bytes) -> str | None:
    """The class mutagen.File's own scoring picks (mutagen/_file.py, File)."""
    results = sorted((k.score(name, fileobj, header), k.__name__) for k in OPTIONS)
    score, picked = results[-1]
    return picked if score > 0 else None


@pytest.mark.parametrize("ape", [False, True])
def test_the_format_is_picked_as_mutagen_picks_it(ape: bool) -> None:
    assert sorted(scores("", b"")) == sorted(k.__name__ for k in OPTIONS if
                                               k.__name__ != "APEv2File")
    for header in HEADERS:
        for asf in (False, True):
            data = header if not asf else b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9" + header
            data = data.ljust(200, b"\x00") + (b"APETAGEX" + b"\x00" * 24 if ape else b"")
            for name in NAMES:
                fh = io.BytesIO(data)
                head = fh.read(128)
                got = best_kind(f"/lib/{name}", fh, head)
                want = mutagen_pick(f"/lib/{name}", fh, head)
                assert (got and got.__name__) == want, (name, data[:16])

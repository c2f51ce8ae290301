"""workers/tagfast: read_tag_map gives read_tags(path)["tags"] -- the same map, the same refusals.

Every case compares the fast reader's answer with mutagen's own (read_tags with no cache): on
the generated sample library, on tags written by mutagen in many shapes, on hand-made tags,
and on damaged copies (truncated, bytes changed).  Where the fast reader answers at all
(``fast_tags`` not None) the file must be one mutagen reads, with the same map.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from mutagen.aiff import AIFF
from mutagen.flac import FLAC, Picture
from mutagen.id3 import (
    APIC,
    COMM,
    ID3,
    PRIV,
    TALB,
    TBPM,
    TCON,
    TDAT,
    TDRC,
    TIME,
    TIT2,
    TKEY,
    TPE1,
    TPE2,
    TPOS,
    TRCK,
    TXXX,
    TYER,
)
from mutagen.mp4 import MP4, MP4Cover, MP4FreeForm
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

from medialoom.samplelib import FORMAT_NAMES, generate, make_audio, tag_audio
from medialoom.workers import tagfast
from medialoom.workers.fileops.claims import Claims
from medialoom.workers.fileops.walk import Entry
from medialoom.workers.kinds import validate_params
from medialoom.workers.kinds.rename import KIND, RenameOptions, plan_file
from medialoom.workers.tagcache import TagCache
from medialoom.workers.tagload import best_kind
from medialoom.workers.tags import UnreadableAudio, _clean, read_tag_map, read_tags

TAGS = {"artist": "Sigur Rós", "title": "Fire 🔥 Dance", "album": "Ágætis byrjun",
        "albumartist": "Various", "track": "3/12", "disc": "1/2", "year": "1999",
        "genre": "Post-Rock", "bpm": "121.5", "key": "F#m"}


def outcome(read: Any, path: Path) -> Any:
    try:
        return read(str(path))
    except UnreadableAudio as exc:
        return ("unreadable", str(exc))
    except OSError as exc:  # mutagen lets some short reads through as OSError
        return ("oserror", type(exc).__name__, str(exc))


def fast(path: Path) -> Any:
    """The fast reader's own answer (None: it left the file to mutagen)."""
    with open(path, "rb") as fh:
        raw = tagfast.fast_tags(fh, str(path))
    return None if raw is None else _clean(raw)


def same(path: Path) -> bool:
    """read_tag_map and the fast reader agree with mutagen; True when the fast reader answered."""
    want = outcome(lambda p: read_tags(p, cache=None)["tags"], path)
    assert outcome(lambda p: read_tag_map(p, cache=None), path) == want, path
    answer = fast(path)
    if answer is not None:
        assert answer == want, path
    return answer is not None


def id3_file(tmp_path: Path, name: str, frames: list[Any], version: int = 4, v1: int = 0,
             padding: int | None = None) -> Path:
    path = tmp_path / name
    path.write_bytes(make_audio("mp3", 30.0))
    tags = ID3()
    for frame in frames:
        tags.add(frame)
    tags.save(path, v2_version=version, v1=v1,
              padding=None if padding is None else (lambda info: padding))
    return path


def syncsafe(n: int) -> bytes:
    return bytes(((n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F))


def raw_id3(version: int, frames: list[tuple[bytes, int, bytes]], flags: int = 0,
            pad: int = 32, plain_sizes: bool = False, after: bytes = b"") -> bytes:
    """An ID3v2.3/2.4 tag of (frame id, flags, body) frames, then padding, then after."""
    def size(n: int) -> bytes:
        return syncsafe(n) if version == 4 and not plain_sizes else struct.pack(">L", n)
    body = b"".join(fid + size(len(data)) + struct.pack(">H", fl) + data
                    for fid, fl, data in frames)
    body += b"\x00" * pad + after
    return b"ID3" + bytes((version, 0, flags)) + syncsafe(len(body)) + body


def test_the_mutagen_mirrored_is_the_one_installed() -> None:
    assert tagfast.ENABLED, "re-check workers/tagfast.py against this mutagen, then bump MUTAGEN"


# --- the sample library --------------------------------------------------------------------


def test_every_file_of_a_generated_library_reads_the_same(tmp_path: Path) -> None:
    generate(str(tmp_path / "lib"), 400, seed=7, corrupt=12, formats=tuple(FORMAT_NAMES))
    files = sorted(p for p in (tmp_path / "lib").rglob("*") if p.is_file())
    answered = {ext: 0 for ext in FORMAT_NAMES}
    for path in files:
        if same(path):
            answered[path.suffix.lstrip(".")] += 1
    # the fast reader takes every container of the library
    assert all(answered[e] >= 40 for e in FORMAT_NAMES), answered


# --- ID3 written by mutagen ----------------------------------------------------------------


GENRES = ["(17)", "17", "(17)Rock", "Rock", "(RX)(CR)Mix", "CR", "RX", "((foo)", "(255)",
          "(300)", "Electronic\x00(4)", "", "Drum & Bass", "(12)(13)"]


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("encoding", [0, 1, 2, 3])
def test_tags_saved_by_mutagen_in_every_encoding(tmp_path: Path, version: int,
                                                 encoding: int) -> None:
    text = "Sigur Ros" if encoding == 0 else "Sigur Rós 坂本"
    answered = 0
    for n, genre in enumerate(GENRES):
        frames = [TPE1(encoding=encoding, text=[text, "Second"]),
                  TIT2(encoding=encoding, text="Title"), TALB(encoding=encoding, text="Album"),
                  TPE2(encoding=encoding, text=""), TRCK(encoding=encoding, text="3/12"),
                  TPOS(encoding=encoding, text="2"), TDRC(encoding=encoding, text="2003-05-01"),
                  TBPM(encoding=encoding, text="120"), TKEY(encoding=encoding, text="Am"),
                  TCON(encoding=encoding, text=genre.split("\x00")),
                  COMM(encoding=encoding, lang="eng", desc="d", text="comment"),
                  TXXX(encoding=encoding, desc="BPM", text="99"),
                  TXXX(encoding=encoding, desc="initialkey", text="8A"),
                  PRIV(owner="x", data=b"\x00\xff" * 40),
                  APIC(encoding=encoding, mime="image/png", type=3, desc="c",
                       data=b"\x89PNG" + bytes(3000))]
        answered += same(id3_file(tmp_path, f"g{n}.mp3", frames, version, padding=n * 50))
    assert answered == len(GENRES)


@pytest.mark.parametrize("version", [3, 4])
def test_year_frames_id3v1_and_empty_tags(tmp_path: Path, version: int) -> None:
    cases = {
        "tyer.mp3": [TYER(encoding=0, text="1999"), TDAT(encoding=0, text="0305"),
                     TIME(encoding=0, text="1230"), TIT2(encoding=0, text="Old")],
        "tyer-only.mp3": [TYER(encoding=0, text="1987")],
        "tyer-bad.mp3": [TYER(encoding=0, text="87"), TDAT(encoding=0, text="x")],
        "tdrc-odd.mp3": [TDRC(encoding=3, text=["2004-13", "1999"])],
        "nothing.mp3": [],
        "multi.mp3": [TPE1(encoding=3, text=["A", "", " B "]), TRCK(encoding=3, text="A1")],
    }
    for name, frames in cases.items():
        same(id3_file(tmp_path, name, frames, version))
        for v1 in (1, 2):  # with an ID3v1 tag too (mutagen merges the frames v2 lacks)
            same(id3_file(tmp_path, f"v1-{v1}-{name}", frames, version, v1=v1))


def test_no_id3v2_tag_and_v1_only(tmp_path: Path) -> None:
    audio = make_audio("mp3", 30.0)
    v1 = (b"TAG" + b"Title".ljust(30, b"\0") + b"Artist".ljust(30, b"\0")
          + b"Album".ljust(30, b"\0") + b"1987" + b"c".ljust(28, b"\0") + b"\x00\x05" + b"\x11")
    (tmp_path / "bare.mp3").write_bytes(audio)
    (tmp_path / "v1.mp3").write_bytes(audio + v1)
    (tmp_path / "both.mp3").write_bytes(raw_id3(4, [(b"TIT2", 0, b"\x03v2")]) + audio + v1)
    assert same(tmp_path / "bare.mp3") and same(tmp_path / "v1.mp3")
    assert same(tmp_path / "both.mp3")
    assert read_tag_map(str(tmp_path / "both.mp3"), cache=None)["artist"] == "Artist"


# --- hand-made ID3 ---------------------------------------------------------------------------


FRAME_SETS = [
    [(b"TPE1", 0, b"\x03Bad \xff\xfe utf-8\x00"), (b"TIT2", 0, b"\x03ok")],  # junk frame
    [(b"TPE1", 0, b"\x03A\x00B\x00\x00\x00"), (b"TIT2", 0, b"\x00Caf\xe9")],  # values, latin-1
    [(b"TPE1", 0, b"\x07what"), (b"TIT2", 0, b"\x03")],  # bad encoding byte, no text
    [(b"TPE1", 0x0002, b"\x03Art\xff\x00ist"), (b"TIT2", 0x0040, b"\x01g\x03x")],  # flags
    [(b"TDRC", 0, b"\x03not a date\x002004"), (b"TRCK", 0, b"\x03\x00\x00")],
    [(b"TIT2", 0, b"\x03" + "é".encode() * 300)],  # a size above 127 (synchsafe or not)
    [(b"TIT2", 0, b"\x03one"), (b"TIT2", 0, b"\x03two")],  # twice: mutagen merges
    [(b"TP1\x00", 0, b"\x03v2.2 name"), (b"TIT2", 0, b"\x03t")],
    [(b"TPE1", 0, b""), (b"TIT2", 0, b"\x03t"), (b"XXXX", 0, b"junk"), (b"tit2", 0, b"\x03x")],
    [(b"TCON", 0, b"\x03(4)\x00Rock\x00(9)Metal"), (b"TBPM", 0, b"\x03 128 ")],
    [(b"TPE1", 0, b"\x01\xff\xfeA\x00r\x00t\x00\x00\x00\xff\xfeB\x00")],  # UTF-16 values
    [(b"TYER", 0, b"\x002001"), (b"TDRC", 0, b"\x032002")],
]


@pytest.mark.parametrize("frames", FRAME_SETS)
@pytest.mark.parametrize("version", [3, 4])
def test_hand_made_frames(tmp_path: Path, frames: list[tuple[bytes, int, bytes]],
                          version: int) -> None:
    audio = make_audio("mp3", 30.0)
    tails = {"pad": {}, "nopad": {"pad": 0},
             "after": {"after": b"TALB\x00\x00\x00\x04\x00\x00\x03late"},  # after padding
             "plain": {"plain_sizes": True}}  # iTunes' plain sizes in v2.4
    for flags in (0, 0x80, 0x40, 0x20, 0x10):  # unsynch, extended, experimental, footer
        for name, extra in tails.items():
            path = tmp_path / f"h{flags}-{name}.mp3"
            path.write_bytes(raw_id3(version, frames, flags, **extra) + audio)
            same(path)


def test_compressed_and_encrypted_frames(tmp_path: Path) -> None:
    audio = make_audio("mp3", 30.0)
    body = b"\x03Compressed artist"
    packed = struct.pack(">L", len(body)) + zlib.compress(body)
    cases = {"c23": raw_id3(3, [(b"TPE1", 0x0080, packed), (b"TIT2", 0, b"\x03t")]),
             "c24": raw_id3(4, [(b"TPE1", 0x0009, syncsafe(len(body)) + zlib.compress(body))]),
             "e23": raw_id3(3, [(b"TPE1", 0x0040, b"\x01" + body)]),
             "e24": raw_id3(4, [(b"TPE1", 0x0004, b"\x01" + body), (b"TIT2", 0, b"\x03t")]),
             "v22": b"ID3\x02\x00\x00" + syncsafe(20) + b"TT2\x00\x00\x06\x00Hello" + bytes(8),
             "v25": b"ID3\x05\x00\x00" + syncsafe(10) + bytes(10)}
    for name, tag in cases.items():
        (tmp_path / f"{name}.mp3").write_bytes(tag + audio)
        same(tmp_path / f"{name}.mp3")
    assert read_tag_map(str(tmp_path / "c23.mp3"), cache=None)["artist"] == "Compressed artist"


def test_a_tag_with_no_audio_after_it_is_refused_the_same(tmp_path: Path) -> None:
    tag = raw_id3(4, [(b"TIT2", 0, b"\x03x"), (b"TPE1", 0, b"\x03y")])
    cases = {"id3only.mp3": tag, "junk.mp3": tag + bytes(2000),
             "one-frame.mp3": tag + b"\xff\xfb\x14\xc4" + bytes(92),
             "late-sync.mp3": tag + bytes(700) + make_audio("mp3", 30.0),
             "empty.mp3": b""}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        same(tmp_path / name)
    assert outcome(read_tag_map, tmp_path / "junk.mp3")[0] == "unreadable"
    opts = RenameOptions.from_params(validate_params(KIND, {"template": "{artist} - {title}"}))
    path = str(tmp_path / "junk.mp3")
    row = plan_file(Entry(path, (tmp_path / "junk.mp3").stat()), opts, Claims("skip", in_place=True))
    assert row["status"] == "skipped"
    assert row["message"] == "cannot read tags: can't sync to MPEG frame"


# --- the other containers --------------------------------------------------------------------


def tagged(tmp_path: Path, ext: str, tags: dict[str, Any] | None, name: str = "") -> Path:
    path = tmp_path / f"{name or 'x'}.{ext}"
    path.write_bytes(tag_audio(ext, make_audio(ext, 60.0), tags))
    return path


def test_vorbis_comments_in_flac_ogg_and_opus(tmp_path: Path) -> None:
    variants: list[dict[str, Any]] = [
        {"ARTIST": ["A", "B"], "Title": ["t"], "album artist": ["aa"], "TRACKNUMBER": ["3/9"]},
        {"album_artist": ["x"], "albumartist": [""], "track": ["7"], "tempo": ["99,5"],
         "originaldate": ["1999-01-01"], "key": ["Am"], "initialkey": ["8A"]},
        {"genre": ["", " ", "Rock"], "date": ["bad"], "bpm": ["0"], "disc": ["A"]},
        {"comment": ["x=y=z"], "artist": ["é=🔥"]},
        {},
    ]
    for ext in ("flac", "ogg", "opus"):
        for n, comments in enumerate(variants):
            path = tagged(tmp_path, ext, None, f"v{n}")
            audio: Any = {"flac": FLAC, "ogg": OggVorbis, "opus": OggOpus}[ext](path)
            if audio.tags is None:
                audio.add_tags()
            for key, values in comments.items():
                audio[key] = values
            audio.save()
            assert same(path), path


def test_flac_blocks(tmp_path: Path) -> None:
    path = tagged(tmp_path, "flac", TAGS)
    flac = FLAC(path)
    pic = Picture()
    pic.data, pic.mime, pic.desc = b"\x89PNG" + bytes(40000), "image/png", "cover"
    flac.add_picture(pic)
    flac.save()
    assert same(path)
    data = path.read_bytes()
    # a seektable (then two); padding; a second comment block; a cuesheet; others
    answered = {}
    for code, body in [(3, bytes(18)), (1, bytes(100)), (4, FLAC(path).tags.write(framing=False)),
                       (5, bytes(400)), (2, b"APPL" + bytes(20)), (9, bytes(7))]:
        block = bytes([code]) + len(body).to_bytes(3, "big") + body
        crafted = data[:42] + block + data[42:]  # after STREAMINFO (4 + 4 + 34, not last)
        extra = tmp_path / f"b{code}.flac"
        extra.write_bytes(crafted)
        answered[code] = same(extra)
        if code == 3:
            extra.write_bytes(crafted[:42] + block + crafted[42:])
            answered[33] = same(extra)
    assert answered == {3: True, 33: False, 1: True, 4: True, 5: False, 2: True, 9: True}


def test_wave_and_aiff_id3_chunks(tmp_path: Path) -> None:
    for ext, cls in (("wav", WAVE), ("aiff", AIFF)):
        for version in (3, 4):
            path = tagged(tmp_path, ext, None, f"{ext}{version}")
            audio = cls(path)
            audio.add_tags()
            for frame in (TPE1(encoding=1, text=["A", "B"]), TIT2(encoding=3, text="t"),
                          TYER(encoding=0, text="1990"), TCON(encoding=0, text="(8)")):
                audio.tags.add(frame)
            audio.save(v2_version=version)
            assert same(path)
        assert same(tagged(tmp_path, ext, None, f"bare-{ext}"))


def test_mp4_atoms(tmp_path: Path) -> None:
    path = tagged(tmp_path, "m4a", TAGS)
    assert same(path)
    variants: list[dict[str, Any]] = [
        {"\xa9ART": ["A", "B"], "trkn": [(0, 3)], "disk": [(2, 0)], "tmpo": [0],
         "----:com.apple.iTunes:INITIALKEY": [MP4FreeForm(b"Am")], "gnre": None},
        {"\xa9gen": [""], "\xa9day": ["2001-02-03T00:00:00Z"], "aART": ["x"],
         "----:com.apple.iTunes:initialkey": [MP4FreeForm(b"\xff\xfe")],
         "----:org.example:other": [MP4FreeForm(b"v")], "cpil": True, "plID": [12345],
         "covr": [MP4Cover(b"\x89PNG" + bytes(5000), imageformat=MP4Cover.FORMAT_PNG)]},
        {},
    ]
    for n, items in enumerate(variants):
        path = tagged(tmp_path, "m4a", None, f"m{n}")
        mp4 = MP4(path)
        mp4.add_tags()
        for key, value in items.items():
            if value is not None:
                mp4[key] = value
        mp4.save()
        assert same(path)
    # a genre by number (gnre), written by hand; an untagged file; moov after mdat
    data = tagged(tmp_path, "m4a", TAGS).read_bytes()
    gen = (struct.pack(">I4s", 26, b"gnre") + struct.pack(">I4sII", 18, b"data", 0, 0)
           + b"\x00\x12")  # 18: Rock (ID3 genre 17)
    at = data.index(b"\xa9gen") - 4
    size = struct.unpack(">I", data[at:at + 4])[0]
    swapped = _resize_parents(data, at, len(gen) - size, data[:at] + gen + data[at + size:])
    (tmp_path / "gnre.m4a").write_bytes(swapped)
    assert same(tmp_path / "gnre.m4a")
    assert read_tag_map(str(tmp_path / "gnre.m4a"), cache=None)["genre"] == "Rock"
    assert same(tagged(tmp_path, "m4a", None, "bare"))
    moov = data.index(b"moov") - 4
    mdat = data.index(b"mdat") - 4
    if mdat > moov:
        (tmp_path / "late.m4a").write_bytes(data[:moov] + data[mdat:] + data[moov:mdat])
        same(tmp_path / "late.m4a")


def _resize_parents(old: bytes, at: int, delta: int, new: bytes) -> bytes:
    """new with the sizes of the moov/udta/meta/ilst atoms holding offset at grown by delta."""
    out = bytearray(new)
    for name in (b"moov", b"udta", b"meta", b"ilst"):
        start = old.index(name) - 4
        if start < at:
            size = struct.unpack(">I", old[start:start + 4])[0]
            out[start:start + 4] = struct.pack(">I", size + delta)
    return bytes(out)


def riff(chunks: list[tuple[bytes, bytes]], form: bytes = b"WAVE", big: bool = False) -> bytes:
    """A RIFF (or, big, an IFF FORM) file of (id, data) chunks, odd sizes padded."""
    fmt = ">4sI" if big else "<4sI"
    body = b"".join(struct.pack(fmt, cid, len(data)) + data + b"\x00" * (len(data) % 2)
                    for cid, data in chunks)
    return struct.pack(fmt, b"FORM" if big else b"RIFF", len(body) + 4) + form + body


def test_iff_chunks(tmp_path: Path) -> None:
    tag = raw_id3(4, [(b"TIT2", 0, b"\x03chunk"), (b"TPE1", 0, b"\x03a")])
    other = raw_id3(3, [(b"TIT2", 0, b"\x03second")])
    fmt = struct.pack("<HHLLHH", 1, 1, 8000, 8000, 1, 8)
    comm = struct.pack(">hLh", 1, 8000, 8) + b"\x40\x0b\xfa" + bytes(7)
    cases = {
        "plain.wav": riff([(b"fmt ", fmt), (b"data", bytes(801)), (b"id3 ", tag)]),
        "upper.wav": riff([(b"fmt ", fmt), (b"ID3 ", tag), (b"data", bytes(10))]),
        "both.wav": riff([(b"fmt ", fmt), (b"id3 ", other), (b"ID3 ", tag)]),
        "both2.wav": riff([(b"fmt ", fmt), (b"ID3 ", tag), (b"id3 ", other)]),
        "list.wav": riff([(b"fmt ", fmt), (b"LIST", b"INFOINAM\x04\x00\x00\x00abc\x00"),
                          (b"id3 ", tag)]),
        "shortlist.wav": riff([(b"fmt ", fmt), (b"LIST", b"IN"), (b"id3 ", tag)]),
        "badlist.wav": riff([(b"fmt ", fmt), (b"LIST", b"\xffNFO"), (b"id3 ", tag)]),
        "shortfmt.wav": riff([(b"fmt ", fmt[:12]), (b"id3 ", tag)]),
        "nofmt.wav": riff([(b"data", bytes(20)), (b"id3 ", tag)]),
        "notag.wav": riff([(b"fmt ", fmt), (b"id3 ", b"not a tag at all")]),
        "badid.wav": riff([(b"fmt ", fmt), (b"\x01bad", b"xx"), (b"id3 ", tag)]),
        "avi.wav": riff([(b"fmt ", fmt), (b"id3 ", tag)], form=b"AVI "),
        "plain.aiff": riff([(b"COMM", comm), (b"SSND", bytes(17)), (b"ID3 ", tag)], b"AIFF", True),
        "nocomm.aiff": riff([(b"SSND", bytes(8)), (b"ID3 ", tag)], b"AIFF", True),
        "shortcomm.aiff": riff([(b"COMM", comm[:12]), (b"ID3 ", tag)], b"AIFF", True),
        "nested.aiff": riff([(b"COMM", comm), (b"FORM", b"AIFFxxxx"), (b"ID3 ", tag)], b"AIFF",
                            True),
        "aifc.aiff": riff([(b"COMM", comm), (b"ID3 ", tag)], b"AIFC", True),
    }
    answered = 0
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        answered += same(tmp_path / name)
    assert answered >= 8
    assert read_tag_map(str(tmp_path / "both2.wav"), cache=None)["title"] == "chunk"


def test_files_longer_than_the_first_read(tmp_path: Path) -> None:
    """Tags and streams past tagfast.HEAD: read from the file, not from the first bytes."""
    big = tagfast.HEAD * 3
    art = b"\x89PNG" + bytes(big)
    mp3 = id3_file(tmp_path, "big.mp3", [TIT2(encoding=3, text="t"), TPE1(encoding=1, text="a"),
                                         APIC(encoding=0, mime="image/png", type=3, desc="",
                                              data=art)])
    with open(mp3, "ab") as fh:
        fh.write(make_audio("mp3", 30.0)[96:] * 300)  # a longer stream
    m4a = tagged(tmp_path, "m4a", TAGS, "big")
    mp4 = MP4(m4a)
    mp4["covr"] = [MP4Cover(art)]
    mp4.save()
    flac = tagged(tmp_path, "flac", TAGS, "big")
    audio = FLAC(flac)
    audio["comment"] = ["x" * big]
    audio.save()
    ogg = tagged(tmp_path, "ogg", TAGS, "big")
    vorbis = OggVorbis(ogg)
    vorbis["comment"] = ["y" * big]
    vorbis.save()
    fmt = struct.pack("<HHLLHH", 1, 1, 8000, 8000, 1, 8)
    tag = raw_id3(3, [(b"TIT2", 0, b"\x00late")])
    wav = tmp_path / "big.wav"
    wav.write_bytes(riff([(b"fmt ", fmt), (b"data", bytes(big + 1)), (b"id3 ", tag)]))
    for path in (mp3, m4a, flac, ogg, wav):
        assert path.stat().st_size > tagfast.HEAD
        assert same(path), path
    assert read_tag_map(str(wav), cache=None)["title"] == "late"


# --- damaged files ---------------------------------------------------------------------------


@pytest.mark.parametrize("ext", sorted(FORMAT_NAMES))
def test_damaged_files_read_the_same_or_fail_the_same(tmp_path: Path, ext: str) -> None:
    rng = random.Random(ext)
    base = tag_audio(ext, make_audio(ext, 60.0), TAGS)
    if ext == "mp3":  # with a v2.3 tag and an ID3v1 tag too
        extra = ID3()
        extra.add(TPE1(encoding=1, text="v23"))
        buf = io.BytesIO(make_audio("mp3", 30.0))
        extra.save(buf, v2_version=3, v1=2)
        variants = [base, buf.getvalue()]
    else:
        variants = [base]
    path = tmp_path / f"d.{ext}"
    cases = 0
    for data in variants:
        cuts = sorted({*range(0, min(len(data), 600), 7), *rng.sample(range(len(data)), 40)})
        for cut in cuts:
            path.write_bytes(data[:cut])
            same(path)
            cases += 1
        for _ in range(300):
            mutated = bytearray(data)
            for _ in range(rng.choice((1, 1, 2, 4))):
                at = rng.randrange(min(len(data), 1200)) if rng.random() < 0.8 else \
                    rng.randrange(len(data))
                mutated[at] = rng.choice((0, 0x7F, 0x80, 0xFF, rng.randrange(256)))
            path.write_bytes(bytes(mutated))
            same(path)
            cases += 1
    assert cases > 300


# --- the kind of container, the cache -------------------------------------------------------


def test_the_sure_kinds_are_the_ones_best_kind_picks() -> None:
    heads = [b"ID3\x04\x00", b"\xff\xfb\x90", b"\xff\xf2", b"\xff\xf3", b"\xff\xfa", b"fLaC\x00",
             b"RIFF\x10\x00\x00\x00WAVEfmt ", b"FORM\x00\x00\x00\x10AIFF", b"ID3ftypmp4",
             b"fLaC ftyp mp4 ADIF", b"RIFF....WAVE ftyp mp4", b"FORM....WAVEftypmp4 ADIF",
             b"OggS\x00\x02" + bytes(22) + b"\x01vorbis", b"OggS" + bytes(24) + b"OpusHead",
             b"OggS\x00\x02\x00\x00\x00\x00WAVE\x01vorbis", b"OggS\x01vorbis OpusHead",
             b"OggS\x01vorbis FLAC", b"OggS\x01vorbis ftyp", b"OggS OpusHead ADIF",
             b"OggS Speex   OpusHead", b"OggS\x80theora\x01vorbis", b"OggS mp4 OpusHead",
             b"\x00\x00\x00\x20ftypM4A mp42isom", b"\x00\x00\x00\x20ftypM4A ", b"ID3ftypmp4",
             b"RIFF\x00\x00\x00\x00WAVEftypmp4", b"\x00\x00\x00\x20ftypmp4 WAVE ADIF",
             b"FORMftypmp4", b"\x0b\x77ftypmp4", b"wvpkftypmp4", b"MAC ftypmp4", b"tBaKftypmp4"]
    names = ["a.mp3", "A.MP3", "b.flac", "c.wav", "d.aif", "e.aiff", "f.AIFF", "x.mp3.flac",
             "o.ogg", "o.OGA", "o.opus", "o.mp3", "o.tta", "m.m4a", "m.MP4", "m.m4b", "m.aac"]
    sure_ones = 0
    for head in heads:
        for ape in (b"", b"APETAGEX" + bytes(24)):
            data = head.ljust(300, b"\x00") + ape
            for name in names:
                sure = tagfast._sure_kind(f"/lib/{name}", data)
                if sure is not None:
                    picked = best_kind(f"/lib/{name}", io.BytesIO(data), data[:128])
                    assert sure == picked.__name__, (name, head)
                    sure_ones += 1
    assert sure_ones >= 30


def test_the_cache_holds_tags_only_entries_that_read_tags_does_not_take(tmp_path: Path) -> None:
    path = tagged(tmp_path, "flac", TAGS)
    cache = TagCache(stable_s=0.0)
    tags = read_tag_map(str(path), cache)
    assert tags == read_tags(str(path), cache=None)["tags"]
    assert (cache.hits, cache.misses) == (0, 1)
    assert read_tag_map(str(path), cache) == tags  # a hit
    assert cache.hits == 1
    full = read_tags(str(path), cache)  # the tags-only entry is a miss for read_tags ...
    assert full["format"] == "FLAC" and full["tags"] == tags
    assert read_tags(str(path), cache) == full  # ... which replaced it with its own
    assert read_tag_map(str(path), cache) == tags
    assert cache.hits == 4  # read_tags counted a hit on the entry it did not take

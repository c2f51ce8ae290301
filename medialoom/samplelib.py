"""Generate a sample music library for the demo, the benchmarks and the tests (no ffmpeg).

    python -m medialoom.samplelib DIR --count 2000 [--seed 1] [--corrupt 5] [--duplicates 0.0]
                                      [--formats mp3,flac,wav,m4a,ogg,opus,aiff]

Audio is a tiny byte template per format that mutagen parses (docs TOOLING.md,
"Audio fixtures without ffmpeg"): MPEG-1 Layer III frames behind a Xing
header that states the track length, a FLAC STREAMINFO block, a stdlib
``wave`` file, a minimal MP4 ``moov`` with one AAC track, Ogg Vorbis and Ogg
Opus header pages, an AIFF COMM/SSND pair.  Tags are written with mutagen
into the bytes in memory and each file is written once.  The tree is
``Artist/Album (Year)/NN - Title.ext``; some files lack the artist or the
title tag or have no tags, ``corrupt`` files are garbage with an audio
extension, and ``duplicates`` (a fraction of count) are byte copies under
``Incoming/``.  The same seed gives the same names and bytes.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import struct
import sys
import time
import wave
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mutagen.aiff import AIFF
from mutagen.flac import FLAC
from mutagen.id3 import ID3, TALB, TBPM, TCON, TDRC, TIT2, TKEY, TPE1, TPE2, TPOS, TRCK
from mutagen.mp4 import MP4, MP4FreeForm
from mutagen.ogg import OggPage
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

__all__ = ["FORMAT_NAMES", "generate", "main", "make_audio", "tag_audio"]

#: extension -> the format name mutagen (and so the scan kind) reports for it
FORMAT_NAMES = {"mp3": "MP3", "flac": "FLAC", "wav": "WAVE", "m4a": "MP4", "ogg": "OggVorbis",
                "opus": "OggOpus", "aiff": "AIFF"}
DEFAULT_FORMATS = ("mp3", "flac", "wav")

ARTISTS = ("Beyoncé", "Sigur Rós", "坂本龍一", "Motörhead", "AC/DC", "Björk", "Daft Punk",
           "Nina Simone", "The Midnight Owls", "Ensemble Lumière", "DJ Koral", "Los Jaguares",
           "Анна Петрова", "Røyksopp", "Zoë Keating", "Kraftwerk")
WORDS = ("Neon", "Harbor", "Midnight", "Echo", "Velvet", "River", "Static", "Golden", "Ghost",
         "Paper", "Orbit", "Silver", "Lantern", "Winter", "Signal", "Desert", "Glass", "Ember",
         "Hollow", "Crimson", "Tide", "Northern", "Lights", "Café", "Señorita", "Fjörd",
         "Dream", "Machine", "Heart", "Rain", "夜", "Sky")
GENRES = ("Techno", "House", "Rock", "Jazz", "Ambient", "Hip-Hop", "Classical", "Metal", "Pop",
          "Drum & Bass", "Soul", "Électronique")
KEYS = ("Am", "Em", "Bm", "F#m", "C#m", "G#m", "Ebm", "Bbm", "Fm", "Cm", "Gm", "Dm", "C", "G",
        "D", "A", "E", "B", "F#", "Db", "Ab", "Eb", "Bb", "F", "8A", "9A", "5A", "11B", "2B",
        "12A")
EMOJI_TITLE = "Fire 🔥 Dance"
_UNSAFE = str.maketrans({c: "_" for c in '/\\:*?"<>|'})


@dataclass
class Track:
    """One planned file: where it goes, its format and the tags it gets (None: no tags)."""

    relpath: str
    ext: str
    duration_s: float
    tags: dict[str, Any] | None


@dataclass
class _Plan:
    tracks: list[Track] = field(default_factory=list)
    names: set[str] = field(default_factory=set)

    def unique(self, relpath: str) -> str:
        stem, ext = os.path.splitext(relpath)
        candidate, n = relpath, 2
        while candidate.lower() in self.names:
            candidate, n = f"{stem} ({n}){ext}", n + 1
        self.names.add(candidate.lower())
        return candidate


def generate(root: str, count: int, seed: int = 1, corrupt: int = 5,
             formats: Sequence[str] = DEFAULT_FORMATS, duplicates: float = 0.0) -> dict[str, Any]:
    """Write count files under root (created; must be empty) and return a summary.

    Of the count files, ``corrupt`` are unreadable garbage and
    ``round(count * duplicates)`` are byte copies of other files.  The summary:
    {root, files, bytes, formats: {mutagen format name: files}, corrupt,
    duplicates, untagged, no_artist, no_title, albums, elapsed_s}.
    """
    started = time.perf_counter()
    unknown = [f for f in formats if f not in FORMAT_NAMES]
    if unknown or not formats:
        raise ValueError(f"unknown formats {unknown}; choose from {', '.join(FORMAT_NAMES)}")
    if not 0.0 <= duplicates < 1.0:
        raise ValueError("duplicates is a fraction of count, from 0.0 up to (not including) 1.0")
    if os.path.isdir(root) and os.listdir(root):
        raise FileExistsError(f"{root} is not empty; give a new or empty directory")
    os.makedirs(root, exist_ok=True)
    rng = random.Random(seed)
    n_corrupt = max(0, min(corrupt, count))
    n_dup = min(round(count * duplicates), count - n_corrupt - 1) if count > n_corrupt else 0
    n_dup = max(n_dup, 0)
    plan = _plan_tracks(rng, count - n_corrupt - n_dup, list(formats))
    now = time.time()
    summary: Counter[str] = Counter()
    written: list[tuple[str, bytes, str]] = []  # (relpath, bytes, format name) for duplicates
    made_dirs: set[str] = set()
    total_bytes = 0
    for track in plan.tracks:
        data = tag_audio(track.ext, make_audio(track.ext, track.duration_s), track.tags)
        total_bytes += _write(root, track.relpath, data, rng, now, made_dirs)
        written.append((track.relpath, data, FORMAT_NAMES[track.ext]))
        summary[FORMAT_NAMES[track.ext]] += 1
    for k in range(n_corrupt):
        relpath, ext = _corrupt_place(rng, plan, written, k)
        total_bytes += _write(root, relpath, _garbage(rng, ext, k), rng, now, made_dirs)
    for _ in range(n_dup):
        relpath, data, fmt = written[rng.randrange(len(written))]
        copy = plan.unique(f"Incoming/{os.path.basename(relpath)}")
        total_bytes += _write(root, copy, data, rng, now, made_dirs)
        summary[fmt] += 1
    tracks = plan.tracks
    return {
        "root": root, "files": count, "bytes": total_bytes, "formats": dict(sorted(summary.items())),
        "corrupt": n_corrupt, "duplicates": n_dup,
        "untagged": sum(t.tags is None for t in tracks),
        "no_artist": sum(t.tags is not None and "artist" not in t.tags for t in tracks),
        "no_title": sum(t.tags is not None and "title" not in t.tags for t in tracks),
        "albums": len({os.path.dirname(t.relpath) for t in tracks}),
        "elapsed_s": round(time.perf_counter() - started, 3),
    }


# --- planning: names and tags ----------------------------------------------------------


def _plan_tracks(rng: random.Random, n: int, formats: list[str]) -> _Plan:
    plan = _Plan()
    roster = list(ARTISTS)
    rng.shuffle(roster)
    album_no = artist_no = 0
    while len(plan.tracks) < n:
        ext = formats[album_no % len(formats)]  # every format appears once there are enough albums
        compilation = album_no % 9 == 8
        if compilation:
            artist = "Various Artists"
        else:  # every artist leads an album before any leads a second
            artist, artist_no = roster[artist_no % len(roster)], artist_no + 1
        year = rng.randint(1968, 2024)
        album = _phrase(rng, 1, 3)
        discs = 2 if rng.random() < 0.1 else 1
        size = min(rng.randint(6, 14), n - len(plan.tracks))
        folder = f"{_safe(artist)}/{_safe(album)} ({year})"
        genre = rng.choice(GENRES)
        for number in range(1, size + 1):
            disc = 1 + (number - 1) * discs // size
            title = EMOJI_TITLE if album_no == 1 and number == 1 else _phrase(rng, 1, 4)
            tags: dict[str, Any] = {
                "artist": rng.choice(ARTISTS) if compilation else artist,
                "title": title, "album": album, "albumartist": artist,
                "track": f"{number}/{size}", "disc": f"{disc}/{discs}", "year": str(year),
                "genre": genre, "bpm": _bpm(rng), "key": rng.choice(KEYS),
            }
            prefix = f"{disc}-{number:02d}" if discs > 1 else f"{number:02d}"
            relpath = plan.unique(f"{folder}/{prefix} - {_safe(title)}.{ext}")
            plan.tracks.append(Track(relpath, ext, round(rng.uniform(95, 480), 2), tags))
        album_no += 1
    _strip_some_tags(rng, plan.tracks)
    return plan


def _strip_some_tags(rng: random.Random, tracks: list[Track]) -> None:
    """About 3% each: no tags at all, no artist, no title (at least one each from 10 tracks)."""
    if len(tracks) < 4:
        return
    share = max(1, len(tracks) // 33) if len(tracks) >= 10 else 1
    chosen = rng.sample(range(len(tracks)), min(3 * share, len(tracks) - 1))
    for n, i in enumerate(chosen):
        tags = tracks[i].tags
        if tags is None or tags["title"] == EMOJI_TITLE:
            continue
        if n % 3 == 0:
            tracks[i].tags = None
        else:
            del tags["artist" if n % 3 == 1 else "title"]


def _phrase(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.sample(WORDS, rng.randint(low, high)))


def _bpm(rng: random.Random) -> str:
    bpm = rng.uniform(70, 180)
    return f"{bpm:.1f}" if rng.random() < 0.2 else str(round(bpm))


def _safe(name: str) -> str:
    return name.translate(_UNSAFE).strip(" .") or "_"


# --- bytes ------------------------------------------------------------------------------


def make_audio(ext: str, duration_s: float = 200.0) -> bytes:
    """Untagged bytes of a file of format ext that mutagen reads as lasting about duration_s.

    MP3, FLAC, M4A, Ogg and Opus state the length in a header and stay a few
    kilobytes; WAV and AIFF hold real silence, capped at one second.
    """
    if ext == "mp3":
        return _mp3(duration_s)
    if ext == "flac":
        return _flac(duration_s)
    if ext == "m4a":
        return _m4a(duration_s)
    if ext in ("ogg", "opus"):
        return _ogg(duration_s, opus=ext == "opus")
    if ext == "wav":
        return _wav(min(duration_s, 1.0))
    if ext == "aiff":
        return _aiff(min(duration_s, 1.0))
    raise ValueError(f"unknown format {ext!r}")


_MPEG_HEADER = b"\xff\xfb\x14\xc4"  # MPEG-1 Layer III, 32 kbit/s, 48 kHz, mono: 96-byte frames


def _mp3(duration_s: float) -> bytes:
    frames = max(3, round(duration_s * 48000 / 1152))
    xing = _MPEG_HEADER + bytes(17) + b"Xing" + struct.pack(">II", 1, frames)  # flag 1: frames
    return xing.ljust(96, b"\0") + (_MPEG_HEADER + bytes(92)) * 4


def _flac(duration_s: float, rate: int = 44100, channels: int = 2, bits: int = 16) -> bytes:
    samples = round(duration_s * rate)
    packed = (rate << 44) | ((channels - 1) << 41) | ((bits - 1) << 36) | samples
    info = struct.pack(">HH", 4096, 4096) + bytes(6) + packed.to_bytes(8, "big") + bytes(16)
    return b"fLaC" + b"\x80" + len(info).to_bytes(3, "big") + info + bytes(2048)


def _wav(duration_s: float, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(b"\x80" * round(duration_s * rate))  # 8-bit silence
    return buf.getvalue()


def _aiff(duration_s: float, rate: int = 8000) -> bytes:
    frames = round(duration_s * rate)
    mantissa, exponent = math.frexp(rate)  # 80-bit IEEE extended sample rate
    rate80 = struct.pack(">HQ", exponent - 1 + 16383, int(mantissa * 2**64))
    comm = b"COMM" + struct.pack(">IhIh", 18, 1, frames, 8) + rate80
    ssnd = b"SSND" + struct.pack(">III", 8 + frames, 0, 0) + bytes(frames)
    body = b"AIFF" + comm + ssnd
    return b"FORM" + struct.pack(">I", len(body)) + body


def _box(kind: bytes, payload: bytes, full: bool = False, flags: int = 0) -> bytes:
    if full:
        payload = struct.pack(">I", flags) + payload
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _m4a(duration_s: float, rate: int = 44100, channels: int = 2, kbps: int = 256) -> bytes:
    """ftyp + moov (mvhd, one AAC LC sound track) + a small mdat; no sample tables."""
    length = round(duration_s * rate)
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = _box(b"mvhd", struct.pack(">IIIIIH", 0, 0, rate, length, 0x10000, 0x100) + bytes(10)
                + matrix + bytes(24) + struct.pack(">I", 2), full=True)
    tkhd = _box(b"tkhd", struct.pack(">IIIII", 0, 0, 1, 0, length) + bytes(8)
                + struct.pack(">hhhH", 0, 0, 0x100, 0) + matrix + bytes(8), full=True, flags=7)
    mdhd = _box(b"mdhd", struct.pack(">IIIIHH", 0, 0, rate, length, 0x55C4, 0), full=True)
    hdlr = _box(b"hdlr", bytes(4) + b"soun" + bytes(12) + b"SoundHandler\0", full=True)
    config = ((2 << 11) | (4 << 7) | (channels << 3)).to_bytes(2, "big")  # AAC LC, 44.1 kHz

    def desc(tag: int, payload: bytes) -> bytes:
        return bytes([tag, len(payload)]) + payload

    decoder = desc(4, b"\x40\x15" + bytes(3) + struct.pack(">II", kbps * 1000, kbps * 1000)
                   + desc(5, config))
    esds = _box(b"esds", desc(3, struct.pack(">HB", 1, 0) + decoder + desc(6, b"\x02")), full=True)
    mp4a = _box(b"mp4a", bytes(6) + struct.pack(">H", 1) + bytes(8)
                + struct.pack(">HHHHI", channels, 16, 0, 0, rate << 16) + esds)
    stbl = _box(b"stbl", _box(b"stsd", struct.pack(">I", 1) + mp4a, full=True)
                + _box(b"stts", bytes(4), full=True) + _box(b"stsc", bytes(4), full=True)
                + _box(b"stsz", bytes(8), full=True) + _box(b"stco", bytes(4), full=True))
    dinf = _box(b"dinf", _box(b"dref", struct.pack(">I", 1) + _box(b"url ", b"", True, 1), True))
    minf = _box(b"minf", _box(b"smhd", bytes(4), full=True) + dinf + stbl)
    trak = _box(b"trak", tkhd + _box(b"mdia", mdhd + hdlr + minf))
    ftyp = _box(b"ftyp", b"M4A " + bytes(4) + b"M4A mp42isom")
    return ftyp + _box(b"moov", mvhd + trak) + _box(b"mdat", bytes(2048))


def _ogg(duration_s: float, opus: bool) -> bytes:
    """Identification and comment header pages plus one last page whose granule gives the length."""
    vendor = struct.pack("<I", 9) + b"medialoom" + struct.pack("<I", 0)
    if opus:
        rate, pre_skip = 48000, 312
        first = [b"OpusHead" + struct.pack("<BBHIhB", 1, 2, pre_skip, 48000, 0, 0)]
        second = [b"OpusTags" + vendor]
    else:
        rate, pre_skip = 44100, 0
        first = [b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, 2, rate, 0, 160000, 0, 0xB8, 1)]
        second = [b"\x03vorbis" + vendor + b"\x01", b"\x05vorbis" + bytes(32)]
    pages = []
    for sequence, (packets, position) in enumerate(
            ((first, 0), (second, 0), ([bytes(1024)], round(duration_s * rate) + pre_skip))):
        page = OggPage()
        page.serial, page.sequence, page.position, page.packets = 0x4D4C, sequence, position, packets
        page.first, page.last = sequence == 0, sequence == 2
        pages.append(page.write())
    return b"".join(pages)


def tag_audio(ext: str, data: bytes, tags: dict[str, Any] | None) -> bytes:
    """data (from make_audio) with tags written by mutagen; tags None leaves it untagged.

    tags has text values for artist, title, album, albumartist, track ("3/12"),
    disc, year, genre, bpm and key; missing keys are not written.
    """
    if not tags:
        return data
    buf = io.BytesIO(data)
    if ext in ("mp3", "wav", "aiff"):
        id3 = ID3()
        for frame, name in ((TPE1, "artist"), (TIT2, "title"), (TALB, "album"),
                            (TPE2, "albumartist"), (TRCK, "track"), (TPOS, "disc"),
                            (TDRC, "year"), (TCON, "genre"), (TBPM, "bpm"), (TKEY, "key")):
            if name in tags:
                id3.add(frame(encoding=3, text=[str(tags[name])]))
        if ext == "mp3":
            id3.save(buf, padding=_small_padding)
        else:
            container = WAVE(buf) if ext == "wav" else AIFF(buf)
            container.add_tags()  # the RIFF/IFF flavour of ID3, which saves into a chunk
            for frame in id3.values():
                container.tags.add(frame)
            buf.seek(0)
            container.save(buf, padding=_small_padding)
    elif ext == "m4a":
        mp4 = MP4(buf)
        mp4.add_tags()
        _fill_mp4(mp4, tags)
        buf.seek(0)
        mp4.save(buf, padding=_small_padding)
    else:
        vorbis = FLAC(buf) if ext == "flac" else OggVorbis(buf) if ext == "ogg" else OggOpus(buf)
        if vorbis.tags is None:
            vorbis.add_tags()
        for name, value in tags.items():
            comment = {"track": "tracknumber", "disc": "discnumber", "year": "date",
                       "key": "initialkey"}.get(name, name)
            vorbis[comment] = [str(value)]
        buf.seek(0)
        vorbis.save(buf, padding=_small_padding)
    return buf.getvalue()


def _fill_mp4(mp4: MP4, tags: dict[str, Any]) -> None:
    atoms = {"artist": "\xa9ART", "title": "\xa9nam", "album": "\xa9alb", "albumartist": "aART",
             "year": "\xa9day", "genre": "\xa9gen"}
    for name, atom in atoms.items():
        if name in tags:
            mp4[atom] = [str(tags[name])]
    for name, atom in (("track", "trkn"), ("disc", "disk")):
        if name in tags:
            number, _, total = str(tags[name]).partition("/")
            mp4[atom] = [(int(number), int(total or 0))]
    if "bpm" in tags:
        mp4["tmpo"] = [round(float(tags["bpm"]))]
    if "key" in tags:
        mp4["----:com.apple.iTunes:initialkey"] = [MP4FreeForm(str(tags["key"]).encode())]


def _small_padding(info: Any) -> int:
    return 256


def _garbage(rng: random.Random, ext: str, k: int) -> bytes:
    """Bytes no parser accepts: no 0xFF (so no MPEG sync), no magic, or a truncated header."""
    noise = bytes(b % 255 for b in rng.randbytes(rng.randint(512, 4096)))
    if ext == "flac" and k % 4 == 3:
        return b"fLaC\x00\x00\x22" + noise[:20]  # STREAMINFO cut short
    return b"JUNK" + noise


def _corrupt_place(rng: random.Random, plan: _Plan, written: list[tuple[str, bytes, str]],
                   k: int) -> tuple[str, str]:
    ext = "mp3" if k % 2 == 0 else "flac"
    folder = os.path.dirname(written[rng.randrange(len(written))][0]) if written else "Broken"
    return plan.unique(f"{folder}/{90 + k % 10:02d} - Broken {k + 1}.{ext}"), ext


def _write(root: str, relpath: str, data: bytes, rng: random.Random, now: float,
           made_dirs: set[str]) -> int:
    path = os.path.join(root, relpath)
    folder = os.path.dirname(path)
    if folder not in made_dirs:
        os.makedirs(folder, exist_ok=True)
        made_dirs.add(folder)
    with open(path, "wb") as fh:
        fh.write(data)
    mtime = now - rng.uniform(0, 3 * 365) * 86400  # spread over three years for max_age_days
    os.utime(path, (mtime, mtime))
    return len(data)


# --- command line -----------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry; exit 0 on success, 2 on bad arguments or a non-empty directory."""
    parser = argparse.ArgumentParser(prog="python -m medialoom.samplelib",
                                     description="Generate a sample music library.")
    parser.add_argument("dir", help="directory to create (must be new or empty)")
    parser.add_argument("--count", type=int, default=2000, help="files to write (default 2000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--corrupt", type=int, default=5, help="unreadable files (default 5)")
    parser.add_argument("--duplicates", type=float, default=0.0,
                        help="fraction of count that are byte copies (default 0.0)")
    parser.add_argument("--formats", default=",".join(DEFAULT_FORMATS),
                        help=f"comma-separated, from {','.join(FORMAT_NAMES)} "
                             f"(default {','.join(DEFAULT_FORMATS)})")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    try:
        s = generate(args.dir, args.count, seed=args.seed, corrupt=args.corrupt,
                     formats=tuple(f.strip().lower() for f in args.formats.split(",") if f),
                     duplicates=args.duplicates)
    except (ValueError, FileExistsError) as exc:
        print(f"samplelib: {exc}", file=sys.stderr)
        return 2
    kinds = ", ".join(f"{name} {n}" for name, n in s["formats"].items())
    print(f"wrote {s['files']} files ({s['bytes'] / 1e6:.1f} MB, {s['albums']} albums) "
          f"to {s['root']} in {s['elapsed_s']:.2f} s: {kinds}; {s['corrupt']} corrupt, "
          f"{s['duplicates']} duplicates, {s['untagged']} untagged, "
          f"{s['no_artist']} without artist, {s['no_title']} without title")
    return 0


if __name__ == "__main__":
    sys.exit(main())

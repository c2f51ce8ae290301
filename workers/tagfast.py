"""The ``tags`` map of read_tags for the common containers, without building mutagen's objects.

Used by workers/tags.py ``read_tag_map`` (kinds rename and organize, which
need the tags and not the stream info).  ``fast_tags(fh, name)`` answers
only when it can tell the answer is the one ``read_tags(path)["tags"]``
gives -- the same container chosen (tagload.best_kind, mutagen's scores),
the same values, and a file mutagen accepts -- and returns None otherwise,
so the caller asks mutagen (read_tags' exact path, which also raises what
mutagen raises).  It never raises anything but OSError.

What it reads, mirroring mutagen 1.48's loaders step by step:

- MP3, and the ID3 chunk of WAVE and AIFF: an ID3v2.3/v2.4 tag as
  ID3Header checks it, the frame walk of id3/_tags.py read_frames (v2.4
  sizes by determine_bpi's vote) and, of the frames the map uses (TPE1 TIT2
  TALB TPE2 TRCK TPOS TDRC TBPM TKEY TCON, and TYER TDAT TIME that
  update_to_v24 turns into TDRC), Latin-1/UTF-8 text read as
  tagload._FastText reads it and anything else (UTF-16, frame flags) by
  mutagen's own ``Frame._fromData``; genres as TCON.genres gives them after
  update_to_v24; the ID3v1 tag by mutagen's find_id3v1.  Unsynchronised,
  extended, experimental or footer-flagged tags, v2.2, a v2.2 frame name,
  or a wanted frame twice go to mutagen.  MP3's stream: four MPEG frame
  headers in a row after the tag (then MPEGInfo surely finds it), else
  mutagen's MPEGInfo itself.  WAVE/AIFF: mutagen's chunk parsers, the
  fmt/COMM checks of WaveStreamInfo/AIFFInfo.
- FLAC: the metadata blocks as FLAC.load walks them (every block whole, a
  valid STREAMINFO, a VORBIS_COMMENT's parsed size equal to its block size,
  no CUESHEET, one SEEKTABLE at most), the first comment block parsed as
  VComment.load does (UTF-8 with replacement, keys lowered).
- Ogg Vorbis and Opus: mutagen's OggVorbisInfo/OggOpusInfo and OggPage for
  the pages and the last page, the comment packet parsed here.
- MP4: the atom tree as Atoms reads it (atoms that fill their containers
  exactly, else mutagen's), MP4Info.load's checks (the sample entry's parse
  is mutagen's, remembered by its bytes), then mutagen's own MP4Tags on it.

Frames, comments and blocks the map does not use are stepped over, not
parsed (mutagen parses and drops them; tests/workers/test_tagfast.py
compares both over the sample library, many written and hand-made tags, and
damaged copies).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from io import BytesIO
from itertools import zip_longest
from typing import IO, Any

import mutagen
from mutagen._constants import GENRES as MP4_GENRES
from mutagen.aiff import read_float
from mutagen.id3 import TCON, ID3TimeStamp
from mutagen.id3._id3v1 import find_id3v1
from mutagen.id3._tags import ID3Header
from mutagen.id3._util import ID3JunkFrameError
from mutagen.mp3 import MPEGFrame, MPEGInfo
from mutagen.mp4 import MP4Chapters, MP4Tags
from mutagen.mp4._as_entry import AudioSampleEntry
from mutagen.mp4._atom import _CONTAINERS, _SKIP_SIZE, Atom, Atoms
from mutagen.ogg import OggPage
from mutagen.oggopus import OggOpusInfo
from mutagen.oggvorbis import OggVorbisInfo

from .tagload import KNOWN_FRAMES, best_kind

__all__ = ["fast_tags"]

#: the mutagen this mirrors, checked by tests/workers/test_tagfast.py; with another one every
#: file goes to mutagen (its loaders may have changed)
MUTAGEN = (1, 48)
ENABLED = tuple(mutagen.version[:2]) == MUTAGEN
HEAD = 16384  # bytes read first; a longer tag is read whole after
_ID3_FIELDS = (("artist", "TPE1"), ("title", "TIT2"), ("album", "TALB"), ("albumartist", "TPE2"),
               ("track", "TRCK"), ("disc", "TPOS"), ("year", "TDRC"), ("bpm", "TBPM"),
               ("key", "TKEY"))
_WANTED = frozenset(f for _, f in _ID3_FIELDS) | {"TCON", "TYER", "TDAT", "TIME"}
_WANTED_NAMES = frozenset(n.encode() for n in _WANTED)
_KNOWN_NAMES = frozenset(KNOWN_FRAMES)
_FRAME = struct.Struct(">4sLH")
_EMPTY = b"\x00" * 10
_VORBIS_NAMES = {"artist": ("artist",), "title": ("title",), "album": ("album",),
                 "albumartist": ("albumartist", "album artist", "album_artist"),
                 "track": ("tracknumber", "track"), "disc": ("discnumber", "disc"),
                 "year": ("date", "year", "originaldate"), "genre": ("genre",),
                 "bpm": ("bpm", "tempo"), "key": ("initialkey", "key")}
_VORBIS_WANTED = frozenset(n.encode() for names in _VORBIS_NAMES.values() for n in names)
_U32 = struct.Struct("<I").unpack_from
_GENRES: dict[tuple[str, ...], list[str]] = {}
_STAMPS: dict[str, str] = {}
_MPEG_START = (b"ID3", b"\xff\xf2", b"\xff\xf3", b"\xff\xfa", b"\xff\xfb")
#: starts that score 2 or more for another format (MPEG sync, FORM, wvpk, ASF, AC3, DSD, RIFF)
_TWO_POINT_STARTS = (b"ID3", b"\xff\xf2", b"\xff\xf3", b"\xff\xfa", b"\xff\xfb", b"FORM",
                     b"wvpk", b"\x30\x26\xb2\x75", b"\x0b\x77", b"DSD ", b"FRM8", b"RIFF",
                     b"OggS", b"fLaC", b"TTA", b"MP+", b"MPCK", b"MAC ", b"OFR", b"MThd",
                     b"tBaK")
_NOT_OGG = (b"\x80theora", b"\x81theora", b"Speex   ", b"FLAC", b"fLaC", b"ftyp", b"mp4",
            b"ADIF")  # what else the scores of an Ogg page test for
_CODECS = {0: "latin-1", 3: "utf-8"}  # what tagload._FastText decodes itself
_MP4_CONTAINERS = frozenset(_CONTAINERS)
_SKIP: dict[bytes, int] = dict(_SKIP_SIZE)
_ENTRIES: dict[bytes, bool] = {}
_MP4_TEXT = (("artist", "\xa9ART"), ("title", "\xa9nam"), ("album", "\xa9alb"),
             ("albumartist", "aART"), ("year", "\xa9day"), ("genre", "\xa9gen"))
_MP4_WANTED = frozenset({k.encode("latin-1") for _, k in _MP4_TEXT}
                        | {b"trkn", b"disk", b"tmpo", b"gnre", b"----"})
_MP4_KEY = "----:com.apple.itunes:initialkey"
_INT_SIZES = (1, 2, 3, 4, 8)
_IFF_CONTAINERS = {"RIFF": ("RIFF", "LIST"), "FORM": ("FORM",)}


class _Fallback(Exception):
    """This file is one for mutagen."""


class _NoTag(Exception):
    """ID3NoHeaderError: the container has no ID3 tag (tags None, the map {})."""


def fast_tags(fh: IO[bytes], name: str) -> dict[str, list[str]] | None:
    """Raw tag values (field -> strings, for tags._clean) of the open file fh named name, or
    None when mutagen must answer.  Leaves fh anywhere; raises only OSError."""
    if not ENABLED:
        return None
    try:
        head = fh.read(HEAD)
        kind = _sure_kind(name, head) or getattr(best_kind(name, fh, head[:128]), "__name__", "")
        reader = _READERS.get(kind)
        return reader(fh, head) if reader is not None else None
    except OSError:
        raise
    except Exception:  # noqa: BLE001 -- anything odd is mutagen's to answer (or refuse)
        return None


def _sure_kind(name: str, head: bytes) -> str | None:
    """best_kind's answer where no other score can reach it: MP3 3 (.mp3 and an ID3 or
    MPEG start), FLAC 4, WAVE 3 (RIFF....WAVE and .wav), AIFF 3 (FORM and .aif/.aiff)
    -- of the rest only MP4 reaches 2 on any file, and only on a file whose first 128
    bytes hold 'ftyp' and 'mp4'; and Ogg Vorbis/Opus at 1 when no other test in
    scores can give 1; None: ask best_kind."""
    low = name[-5:].lower()
    if low.endswith(".mp3"):
        return "MP3" if head.startswith(_MPEG_START) else None
    if low == ".flac":
        return "FLAC" if head.startswith(b"fLaC") else None
    if low.endswith(".wav"):
        return "WAVE" if head.startswith(b"RIFF") and head[8:12] == b"WAVE" else None
    if low.endswith((".aif", ".aiff")):
        return "AIFF" if head.startswith(b"FORM") else None
    if low.endswith((".m4a", ".m4b", ".mp4")):
        # MP4 at 2 ('ftyp' and 'mp4' in the first 128 bytes): no other test gives 2 here
        h = head[:128]
        ok = b"ftyp" in h and b"mp4" in h and not h.startswith(_TWO_POINT_STARTS)
        return "MP4" if ok else None
    if low.endswith((".ogg", ".oga", ".opus")) and head.startswith(b"OggS"):
        # OggVorbis or OggOpus at 1 beats APEv2File's 1 (by name) when nothing else scores
        h = head[:128]
        if h[8:12] == b"WAVE" or any(m in h for m in _NOT_OGG):
            return None
        vorbis, opus = b"\x01vorbis" in h, b"OpusHead" in h
        return ("OggVorbis" if vorbis else "OggOpus") if vorbis != opus else None
    return None


def _more(fh: IO[bytes], head: bytes, end: int) -> bytes:
    """head, extended to end bytes from the start of the file when the file has them."""
    if len(head) >= end or len(head) < HEAD:
        return head
    fh.seek(len(head))
    return head + fh.read(end - len(head))


# --- ID3v2 (MP3) ------------------------------------------------------------------------


def _synchsafe(v: int) -> int:
    return (v & 0x7F) | (v >> 8 & 0x7F) << 7 | (v >> 16 & 0x7F) << 14 | (v >> 24 & 0x7F) << 21


def _span(fh: IO[bytes], head: bytes, start: int, end: int) -> bytes:
    """Bytes start..end of the file (fewer at its end), from head when it holds them."""
    if end <= len(head) or len(head) < HEAD:
        return head[start:end]
    fh.seek(start)
    return fh.read(end - start)


def _whole(fh: IO[bytes], head: bytes) -> IO[bytes]:
    """The file for find_id3v1, which reads its last 131 bytes: head in memory when head is
    the whole file (a BytesIO seeks to 0 where a short file's seek fails and find_id3v1
    then seeks to 0: the same bytes)."""
    return BytesIO(head) if len(head) < HEAD else fh


def _mp3(fh: IO[bytes], head: bytes) -> dict[str, list[str]]:
    try:
        raw, end = _id3(fh, head, 0)
    except _NoTag:
        raw, end = {}, None
    if not _mpeg_frames(fh, head, end or 0):
        MPEGInfo(fh, end)  # what MP3.load does next; raises where mutagen refuses the file
    return raw


def _id3(fh: IO[bytes], head: bytes, offset: int) -> tuple[dict[str, list[str]], int | None]:
    """ID3.load(fh) of a tag at offset (known_frames KNOWN_FRAMES, translated to v2.4): the
    raw map of its wanted frames and where it ends (None: no ID3v2 header)."""
    top = _span(fh, head, offset, offset + 10)
    if not top.startswith(b"ID3") or len(top) < 10:  # ID3NoHeaderError, then ID3v1 if any
        frames, _ = find_id3v1(_whole(fh, head), 4, KNOWN_FRAMES)
        if frames is None:
            raise _NoTag
        return _from_frames({}, frames), None
    _, vmaj, vrev, flags, size = struct.unpack(">3sBBBL", top)
    if vmaj not in (3, 4) or size & 0x80808080 or flags:
        raise _Fallback  # v2.2, bad size, unsynch/extended/experimental/footer/bad flags
    size = _synchsafe(size)
    body = _span(fh, head, offset + 10, offset + 10 + size)
    if len(body) < size:
        raise _Fallback  # truncated: mutagen's read_full fails
    header = ID3Header()
    header._flags, header.version, header.size = 0, (2, vmaj, vrev), size + 10
    header._known_frames = KNOWN_FRAMES
    found = _read_frames(header, body)
    v1, _ = find_id3v1(_whole(fh, head), 4 if vmaj == 4 else 3, KNOWN_FRAMES)
    return _from_frames(found, v1), offset + size + 10


_BITRATES = MPEGFrame._MPEGFrame__BITRATE  # type: ignore[attr-defined]
_RATES = MPEGFrame._MPEGFrame__RATES  # type: ignore[attr-defined]
_VERSIONS = (2.5, None, 2, 1)


def _mpeg_frames(fh: IO[bytes], head: bytes, offset: int, frames: int = 4) -> bool:
    """Whether MPEGInfo(fh, offset) surely finds the stream: `frames` valid MPEG frame
    headers in a row from offset (its first sync), each where the last one ends.  Its
    loop then stops there (a Xing/VBRI frame or four frames), having found the stream."""
    data = _span(fh, head, offset, offset + 6000)  # four frames of up to 1,441 bytes
    pos = 0
    for _ in range(frames):
        if pos + 4 > len(data):
            return False
        h = int.from_bytes(data[pos:pos + 4], "big")
        version, layer = h >> 19 & 3, h >> 17 & 3
        bitrate, rate, padding = h >> 12 & 15, h >> 10 & 3, h >> 9 & 1
        if (h >> 21 != 0x7FF or version == 1 or layer == 0 or rate == 3 or bitrate == 15
                or bitrate == 0):
            return False
        ver, lay = _VERSIONS[version], 4 - layer
        kbps = _BITRATES[(ver, lay)][bitrate] * 1000
        if lay == 1:
            size, slot = 384, 4
        elif ver >= 2 and lay == 3:  # type: ignore[operator]
            size, slot = 576, 1
        else:
            size, slot = 1152, 1
        pos += ((size // 8 * kbps) // _RATES[ver][rate] + padding) * slot
    return True


def _read_frames(header: ID3Header, data: bytes) -> dict[str, list[str]]:
    """The texts of the wanted frames of the tag body data (id3/_tags.py read_frames, v2.3
    and v2.4), TDRC's as str(ID3TimeStamp) gives them.

    A v2.4 tag is walked with synchsafe sizes first: when none of the sizes met reads
    differently as a plain int, both readings walk the same frames and determine_bpi's
    vote cannot change the answer; else the vote is taken and the walk done again."""
    if header.version[1] == 3:
        return _walk_frames(header, data, None, True)[0]
    found, differ = _walk_frames(header, data, _synchsafe, False)
    if differ and _int_sizes(data):
        found = _walk_frames(header, data, None, False)[0]
    return found


def _walk_frames(header: ID3Header, data: bytes, sizes: Any, old: bool
                 ) -> tuple[dict[str, list[str]], bool]:
    found: dict[str, list[str]] = {}
    differ = False
    pos, end = 0, len(data)
    while end - pos >= 10:
        name, size, flags = _FRAME.unpack_from(data, pos)
        if name.strip(b"\x00") == b"":
            break
        if sizes is not None and size > 0x7F:
            safe = sizes(size)
            differ = differ or safe != size
            size = safe
        start, pos = pos + 10, pos + 10 + size
        if size == 0:
            continue
        if name not in _WANTED_NAMES:
            if name[3] == 0 and name.isascii():
                raise _Fallback  # a v2.2 name in a v2.3/2.4 tag
            continue  # not ASCII (mutagen skips it) or not wanted
        text = name.decode("ascii")
        if text in found:
            raise _Fallback  # mutagen merges the two
        body = data[start:pos]
        codec = _CODECS.get(body[0]) if body else None
        values = _texts(body, codec, old) if codec and not flags and len(body) >= 2 else None
        if values is None:  # mutagen's own reader: UTF-16, frame flags, bad bytes
            try:
                frame = KNOWN_FRAMES[text]._fromData(header, flags, body)
            except (ID3JunkFrameError, NotImplementedError):
                continue
            values = [str(t) for t in frame.text]
        elif text == "TDRC":
            values = [_stamp(v) for v in values]
        found[text] = values
    return found, differ


def _texts(body: bytes, codec: str, old: bool) -> list[str] | None:
    """A text frame's values as mutagen reads Latin-1 / UTF-8 (tagload._FastText), or None."""
    rest = body[1:]
    if b"\x00" not in rest:  # one value, no terminator
        try:
            return [rest.decode(codec)]
        except UnicodeDecodeError:
            return None
    values = []
    try:
        while rest:
            end = rest.find(b"\x00")
            if end < 0:
                value, rest = rest.decode(codec), b""
            else:
                value, rest = rest[:end].decode(codec), rest[end + 1:]
            if old and not rest.strip(b"\x00"):
                rest = b""
            values.append(value)
    except UnicodeDecodeError:
        return None
    return values


def _stamp(text: str) -> str:
    known = _STAMPS.get(text)
    if known is None:
        known = str(ID3TimeStamp(text))
        if len(_STAMPS) > 4096:
            _STAMPS.clear()
        _STAMPS[text] = known
    return known


def _int_sizes(data: bytes) -> bool:
    """determine_bpi(data, KNOWN_FRAMES) is int (iTunes' plain frame sizes in a v2.4 tag)."""
    bpi_count, bpi_off, differ = _count(data, True)
    if not differ:  # the int walk is this one: equal counts and offsets
        return bpi_off == 1
    int_count, int_off, _ = _count(data, False)
    return int_count > bpi_count or (int_count == bpi_count and bpi_off >= 1 and int_off <= 1)


def _count(data: bytes, synchsafe: bool) -> tuple[int, int, bool]:
    """determine_bpi's walk: frames with known names, how far past the end it stopped, and
    whether any size read synchsafe differs from the plain one."""
    o = n = 0
    end = len(data)
    differ = False
    while o < end - 10:
        if data[o:o + 10] == _EMPTY:
            return n, -((end - o) % 10), differ
        name, size, _ = _FRAME.unpack_from(data, o)
        if synchsafe and size > 0x7F:
            safe = _synchsafe(size)
            differ = differ or safe != size
            size = safe
        o += 10 + size
        try:
            if name.decode("ascii") in _KNOWN_NAMES:
                n += 1
        except UnicodeDecodeError:
            continue
    return n, o - end, differ


def _from_frames(found: dict[str, list[str]], v1: dict[str, Any] | None) -> dict[str, list[str]]:
    """The raw map of tags.py _id3_values after ID3.load: ID3v1 frames where v2 has none,
    then update_to_v24 (TYER/TDAT/TIME to TDRC, TCON genres)."""
    if v1:
        for frame in v1.values():
            key = frame.HashKey
            if key in _WANTED and key not in found:
                found[key] = [str(t) for t in frame.text]
    old = [found.get(n) for n in ("TYER", "TDAT", "TIME")]
    if any(f is not None for f in old) and "TDRC" not in found:
        stamps = _timestamps([f or [] for f in old])
        if stamps:
            found["TDRC"] = [str(ID3TimeStamp(t)) for t in stamps]
    raw = {field: found[frame] for field, frame in _ID3_FIELDS if frame in found}
    if "TCON" in found:
        raw["genre"] = _genres(tuple(found["TCON"]))
    return raw


def _timestamps(old: list[list[str]]) -> list[str]:
    """update_to_v24's TDRC values from the TYER, TDAT and TIME texts (copied from it)."""
    timestamps = []
    for tyer, tdat, time in zip_longest(*old, fillvalue=""):
        ym = re.match(r"([0-9]{4})(-[0-9]{2}-[0-9]{2})?\Z", tyer)
        dm = re.match(r"([0-9]{2})([0-9]{2})\Z", tdat)
        tm = re.match(r"([0-9]{2})([0-9]{2})\Z", time)
        timestamp = ""
        if ym:
            (year, month_day) = ym.groups()
            timestamp += year
            if dm:
                month_day = "-{}-{}".format(*dm.groups()[::-1])
            if month_day:
                timestamp += month_day
                if tm:
                    timestamp += "T{}:{}:00".format(*tm.groups())
        if timestamp:
            timestamps.append(timestamp)
    return timestamps


def _genres(text: tuple[str, ...]) -> list[str]:
    """TCON.genres after update_to_v24 set them back into the frame (so parsed twice)."""
    known = _GENRES.get(text)
    if known is None:
        frame = TCON(encoding=3, text=list(text))
        frame.genres = frame.genres
        known = list(frame.genres)
        if len(_GENRES) > 4096:
            _GENRES.clear()
        _GENRES[text] = known
    return list(known)


# --- FLAC ---------------------------------------------------------------------------------


def _flac(fh: IO[bytes], head: bytes) -> dict[str, list[str]]:
    if not head.startswith(b"fLaC"):
        raise _Fallback  # an ID3 tag in front: mutagen's
    data, pos = head, 4
    comments: list[tuple[str, str]] | None = None
    seen: set[int] = set()
    last = 0
    while not last:
        if pos + 4 > len(data):
            data = _more(fh, data, pos + 4)
        if pos + 4 > len(data):
            raise _Fallback  # truncated: StrictFileObject raises
        byte = data[pos]
        code, last = byte & 0x7F, byte & 0x80
        start, pos = pos + 4, pos + 4 + int.from_bytes(data[pos + 1:pos + 4], "big")
        if pos > len(data):
            data = _more(fh, data, pos)
            if pos > len(data):
                raise _Fallback
        if code == 4:
            parsed, end = _vcomment(data, start)
            if end != pos:
                raise _Fallback  # mutagen trusts the parsed size, not the block's
            if comments is None:
                comments = parsed
        elif not _block_ok(code, data, start, pos, seen):
            raise _Fallback
        seen.add(code)
    if 0 not in seen:
        raise _Fallback  # FLACNoHeaderError
    return _vorbis_values(comments or [])


def _block_ok(code: int, data: bytes, start: int, end: int, seen: set[int]) -> bool:
    """A block FLAC.load reads without an error (and that needs no more than that)."""
    if code == 0:  # STREAMINFO: 34 bytes read strictly, sample rate not 0
        return end - start >= 34 and int.from_bytes(data[start + 10:start + 13], "big") >> 4 > 0
    if code == 6:
        return _picture_fits(data, start, end)
    if code == 5:  # CUESHEET: mutagen's parse
        return False
    return code != 3 or 3 not in seen  # a second SEEKTABLE is an error


def _vcomment(data: bytes, pos: int) -> tuple[list[tuple[str, str]], int]:
    """VComment.load(errors='replace') of data at pos: the (lowered key, value) pairs of the
    wanted keys, and where the comment ends.  Only wanted keys are decoded: they are ASCII
    and valid keys, and UTF-8 decoding restarts at the ASCII '=', so the value decodes the
    same alone as within its comment."""
    end = len(data)
    if pos + 4 > end:
        raise _Fallback
    pos += 4 + _U32(data, pos)[0]  # the vendor string (decoded with errors='replace': no error)
    if pos + 4 > end:
        raise _Fallback
    count = _U32(data, pos)[0]
    pos += 4
    pairs = []
    for _ in range(count):
        if pos + 4 > end:
            raise _Fallback
        length = _U32(data, pos)[0]
        start, pos = pos + 4, pos + 4 + length
        if pos > end:
            raise _Fallback
        eq = data.find(b"=", start, pos)
        if eq < 0:
            continue  # named "unknown<i>" by mutagen: not wanted
        key = data[start:eq].lower()
        if key in _VORBIS_WANTED:
            pairs.append((key.decode("ascii"), data[eq + 1:pos].decode("utf-8", "replace")))
    return pairs, pos


def _picture_fits(data: bytes, start: int, end: int) -> bool:
    """Picture.load reads exactly the block's bytes (mutagen parses a picture, not its size)."""
    pos = start + 8
    if pos > end:
        return False
    pos += int.from_bytes(data[start + 4:pos], "big")
    if pos + 4 > end:
        return False
    pos += 4 + int.from_bytes(data[pos:pos + 4], "big") + 16
    if pos + 4 > end:
        return False
    pos += 4 + int.from_bytes(data[pos:pos + 4], "big")
    return pos == end


def _vorbis_values(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """tags.py _named_values over a VCommentDict: first name with values wins."""
    by_key: dict[str, list[str]] = {}
    for key, value in pairs:
        by_key.setdefault(key, []).append(value)
    raw: dict[str, list[str]] = {}
    for field, candidates in _VORBIS_NAMES.items():
        for name in candidates:
            values = by_key.get(name)
            if values:
                raw[field] = values
                break
    return raw


# --- Ogg Vorbis, Ogg Opus ------------------------------------------------------------------


def _ogg_source(fh: IO[bytes], head: bytes) -> IO[bytes]:
    """The file from its start: head in memory when head is the whole file."""
    if len(head) < HEAD:
        return BytesIO(head)
    fh.seek(0)
    return fh


def _ogg_vorbis(fh: IO[bytes], head: bytes) -> dict[str, list[str]]:
    """OggVorbis.load: OggVorbisInfo, OggVCommentDict (framing bit), _post_tags."""
    fh = _ogg_source(fh, head)
    info = OggVorbisInfo(fh)
    pages: list[OggPage] = []
    complete = False
    while not complete:
        page = OggPage(fh)
        if page.serial == info.serial:
            pages.append(page)
            complete = page.complete or (len(page.packets) > 1)
    data = OggPage.to_packets(pages)[0][7:]  # strip off "\x03vorbis"
    pairs, end = _vcomment(data, 0)
    if end >= len(data) or not data[end] & 1:
        raise _Fallback  # framing bit missing or unset: mutagen's error
    info._post_tags(fh)
    return _vorbis_values(pairs)


def _ogg_opus(fh: IO[bytes], head: bytes) -> dict[str, list[str]]:
    """OggOpus.load: OggOpusInfo, OggOpusVComment's pages, _post_tags."""
    fh = _ogg_source(fh, head)
    info = OggOpusInfo(fh)
    page = OggPage(fh)
    while info.serial != page.serial or not page.packets[0].startswith(b"OpusTags"):
        page = OggPage(fh)
    pages = [page]
    while not (pages[-1].complete or len(pages[-1].packets) > 1):
        page = OggPage(fh)
        if page.serial == pages[0].serial:
            pages.append(page)
    data = OggPage.to_packets(pages)[0][8:]  # strip off "OpusTags"
    pairs, _ = _vcomment(data, 0)
    info._post_tags(fh)
    return _vorbis_values(pairs)


# --- WAVE, AIFF (ID3 in a chunk) ------------------------------------------------------------


def _wave(fh: IO[bytes], head: bytes) -> dict[str, list[str]]:
    """WAVE.load: WaveStreamInfo's checks, then _WaveID3 at the 'id3' chunk (_WaveFile calls
    the first 'ID3' chunk 'id3' too)."""
    size = _size(fh, head)
    chunks = _iff_chunks(fh, head, size, "<4sI", "RIFF")
    if chunks is None or chunks[0] != "WAVE":
        raise _Fallback
    ids = [c[0] for c in chunks[1]]
    if "ID3" in ids:
        ids[ids.index("ID3")] = "id3"
    if "fmt" not in ids:
        raise _Fallback  # WaveStreamInfo's error
    _, offset, data_size = chunks[1][ids.index("fmt")]
    if min(data_size, size - offset) < 16:
        raise _Fallback  # InvalidChunk
    if "id3" not in ids:
        return {}  # ID3NoHeaderError("No ID3 chunk")
    return _tag_in_chunk(fh, head, chunks[1][ids.index("id3")][1])


def _aiff(fh: IO[bytes], head: bytes) -> dict[str, list[str]]:
    """AIFF.load: _IFFID3 at the 'ID3' chunk, then AIFFInfo's checks."""
    size = _size(fh, head)
    chunks = _iff_chunks(fh, head, size, ">4sI", "FORM")
    if chunks is None:
        raise _Fallback
    ids = [c[0] for c in chunks[1]]
    if "COMM" not in ids:
        raise _Fallback  # AIFFInfo's error
    _, offset, data_size = chunks[1][ids.index("COMM")]
    data = _span(fh, head, offset, offset + min(data_size, 18))
    if len(data) < 18 or int(read_float(struct.unpack(">hLh10s", data)[3])) < 0:
        raise _Fallback
    if "ID3" not in ids:
        return {}
    return _tag_in_chunk(fh, head, chunks[1][ids.index("ID3")][1])


def _size(fh: IO[bytes], head: bytes) -> int:
    """The file's size (head's when head is the whole file)."""
    if len(head) < HEAD:
        return len(head)
    fh.seek(0, 2)
    return fh.tell()


def _iff_chunks(fh: IO[bytes], head: bytes, size: int, header: str, root: str
                ) -> tuple[str, list[tuple[str, int, int]]] | None:
    """The root container's name and its chunks (id, data offset, data size) as _iff.py
    IffFile and IffContainerChunkMixin.subchunks read them; None where they raise."""
    fmt = struct.Struct(header)
    top = _span(fh, head, 0, 12)
    if len(top) < 12:
        return None  # EmptyChunk, or a container name cut short
    rid, data_size = fmt.unpack(top[:8])
    if rid != root.encode() or data_size < 4 or not top[8:12].isascii():
        return None
    end = 8 + data_size + data_size % 2
    chunks = []
    pos = 12
    while pos < end:
        raw = _span(fh, head, pos, pos + 8)
        if len(raw) < 8:
            break  # EmptyChunk
        cid, data_size = fmt.unpack(raw)
        if not cid.isascii():
            break  # InvalidChunk
        name = cid.decode("ascii").rstrip()
        if not name or min(name) < " " or max(name) > "~":
            break  # InvalidChunk
        if name in _IFF_CONTAINERS[root]:  # a container (RIFF's LIST): reads its name
            if data_size < 4:
                break  # InvalidChunk
            if not _span(fh, head, pos + 8, pos + 12).isascii():
                return None  # mutagen's error
        chunks.append((name, pos + 8, data_size))
        pos += 8 + data_size + data_size % 2
    return top[8:12].decode("ascii"), chunks


def _tag_in_chunk(fh: IO[bytes], head: bytes, offset: int) -> dict[str, list[str]]:
    try:
        return _id3(fh, head, offset)[0]
    except _NoTag:
        return {}


# --- MP4 --------------------------------------------------------------------------------------


def _mp4(fh: IO[bytes], head: bytes) -> dict[str, list[str]]:
    """MP4.load: the atom tree as mp4/_atom.py Atoms reads it (nested atoms that fill their
    parents exactly), MP4Info.load's checks (the sample entry's parse remembered by its
    bytes), then mutagen's own MP4Tags on that tree."""
    atoms = _atoms(fh, head, _size(fh, head))
    _mp4_info_ok(fh, head, atoms)
    if MP4Chapters._can_load(atoms):
        raise _Fallback
    if not MP4Tags._can_load(atoms):
        return {}
    return _ilst(fh, head, atoms[b"moov.udta.meta.ilst"])


class _Dropped(Exception):
    """MP4MetadataError in an item: MP4Tags.load keeps it aside, the item gives no value."""


def _ilst(fh: IO[bytes], head: bytes, ilst: Atom) -> dict[str, list[str]]:
    """tags.py _mp4_values of MP4Tags.load's items: the wanted ones read as its parsers read
    them (__parse_text, __parse_pair, __parse_integer, __parse_genre, __parse_freeform)."""
    items: dict[str, list[Any]] = {}
    for atom in ilst.children:
        name = atom.name
        if name not in _MP4_WANTED:
            continue
        if atom._dataoffset != atom.offset + 8:
            raise _Fallback  # a 64-bit size: mutagen's item parsers count from atom.length
        ok, data = _read_atom(fh, head, atom)
        if not ok:
            raise _Fallback
        try:
            key, values = _mp4_item(atom, data)
        except _Dropped:
            continue
        items.setdefault(key, []).extend(values)
    raw = {field: [str(v) for v in items[key]] for field, key in _MP4_TEXT if key in items}
    for field, key in (("track", "trkn"), ("disc", "disk")):
        pairs = items.get(key) or []
        if pairs and pairs[0] and pairs[0][0]:
            raw[field] = [str(pairs[0][0])]
    if items.get("tmpo"):
        raw["bpm"] = [str(items["tmpo"][0])]
    for key, values in items.items():
        if key.lower() == _MP4_KEY:
            raw["key"] = [bytes(v).decode("utf-8", "replace") for v in values]
            break
    return raw


def _mp4_item(atom: Atom, data: bytes) -> tuple[str, list[Any]]:
    name = atom.name
    if name == b"----":
        return _freeform(atom, data)
    chunks = _mp4_data(atom, data)
    if name in (b"trkn", b"disk"):  # struct.error on a short chunk is mutagen's refusal
        return name.decode("latin-1"), [struct.unpack(">2H", d[2:6]) for _, _, d in chunks]
    if name == b"tmpo":
        values = []
        for version, flags, d in chunks:
            if version != 0 or flags not in (0, 21) or len(d) not in _INT_SIZES:
                raise _Dropped
            values.append(int.from_bytes(d, "big", signed=True) if len(d) != 3
                          else int.from_bytes(d + b"\x00", "big", signed=True) >> 8)
        return "tmpo", values
    if name == b"gnre":
        genres = []
        for _, _, d in chunks:
            if len(d) != 2:
                raise _Dropped
            genre = struct.unpack(">h", d)[0]
            try:
                genres.append(MP4_GENRES[genre - 1])
            except IndexError:
                raise _Dropped from None
        return "\xa9gen", genres
    texts = []
    for _, flags, d in chunks:
        if flags not in (0, 1):
            raise _Dropped
        try:
            texts.append(d.decode("utf-8"))
        except UnicodeDecodeError:
            raise _Dropped from None
    return name.decode("latin-1"), texts


def _mp4_data(atom: Atom, data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """MP4Tags.__parse_data: the item's data atoms (version, flags, payload), one by one as
    mutagen's generator gives them (a pair's short payload fails before a later bad atom)."""
    pos = 0
    while pos < atom.length - 8:
        head = data[pos:pos + 12]
        if len(head) != 12:
            raise _Dropped
        length, kind = struct.unpack(">I4s", head[:8])
        if length < 1 or kind != b"data":
            raise _Dropped
        chunk = data[pos + 16:pos + length]
        if len(chunk) != length - 16:
            raise _Dropped
        yield head[8], int.from_bytes(head[9:12], "big"), chunk
        pos += length


def _freeform(atom: Atom, data: bytes) -> tuple[str, list[Any]]:
    """MP4Tags.__parse_freeform, its errors and all (any but _Dropped: mutagen refuses)."""
    length = struct.unpack(">I", data[:4])[0]
    mean = data[12:length]
    pos = length
    length = struct.unpack(">I", data[pos:pos + 4])[0]
    name = data[pos + 12:pos + length]
    pos += length
    values = []
    while pos < atom.length - 8:
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind != b"data" or length < 1:
            raise _Dropped
        if pos + 8 >= len(data):
            raise _Fallback  # ord() of nothing: mutagen's TypeError
        struct.unpack(">I", b"\x00" + data[pos + 9:pos + 12])
        values.append(data[pos + 16:pos + length])
        pos += length
    return (b"----:" + mean + b":" + name).decode("latin-1"), values


def _atoms(fh: IO[bytes], head: bytes, size: int) -> Atoms:
    top: list[Atom] = []
    pos = 0
    while pos + 8 <= size:
        data = _span(fh, head, pos, pos + 16)
        length, name = struct.unpack(">I4s", data[:8])
        start = pos + 8
        if length == 1:
            if len(data) < 16:
                raise _Fallback
            length, start = struct.unpack(">Q", data[8:16])[0], pos + 16
            if length < 16:
                raise _Fallback
        elif length == 0:
            length = size - pos
        elif length < 8:
            raise _Fallback
        atom = _atom(pos, length, name, start)
        if name in _MP4_CONTAINERS:
            if pos + length > size:
                raise _Fallback  # a container cut short: mutagen's
            body = _span(fh, head, start, pos + length)
            atom.children = _children(body, start, start + _SKIP.get(name, 0), pos + length)
        top.append(atom)
        pos += length
    found = Atoms.__new__(Atoms)
    found.atoms = top
    return found


def _children(body: bytes, base: int, pos: int, end: int) -> list[Atom]:
    """The atoms of a container from pos to end (file offsets; body holds the file's bytes
    from base); each must end inside it and the last at its end."""
    if pos > end:
        raise _Fallback
    children = []
    while pos < end:
        if end - pos < 8:
            raise _Fallback
        length, name = struct.unpack_from(">I4s", body, pos - base)
        start = pos + 8
        if length == 1:
            if end - pos < 16:
                raise _Fallback
            length, start = struct.unpack_from(">Q", body, start - base)[0], pos + 16
            if length < 16:
                raise _Fallback
        elif length < 8:  # 0 too: only a top-level atom may have it
            raise _Fallback
        if pos + length > end:
            raise _Fallback
        atom = _atom(pos, length, name, start)
        if name in _MP4_CONTAINERS:
            atom.children = _children(body, base, start + _SKIP.get(name, 0), pos + length)
        children.append(atom)
        pos += length
    return children


def _atom(offset: int, length: int, name: bytes, start: int) -> Atom:
    atom = Atom.__new__(Atom)
    atom.offset, atom.length, atom.name, atom._dataoffset = offset, length, name, start
    return atom


def _read_atom(fh: IO[bytes], head: bytes, atom: Atom) -> tuple[bool, bytes]:
    """Atom.read(fh), from head when it holds the bytes."""
    start, size = atom._dataoffset, atom.datalength
    data = _span(fh, head, start, start + size)
    return len(data) == size, data


def _mp4_info_ok(fh: IO[bytes], head: bytes, atoms: Atoms) -> None:
    """MP4Info.load(atoms, fh) raises nothing (else _Fallback, or KeyError for mutagen)."""
    moov = atoms[b"moov"]
    for trak in moov.findall(b"trak"):
        ok, data = _read_atom(fh, head, trak[b"mdia", b"hdlr"])
        if not ok:
            raise _Fallback
        if data[8:12] == b"soun":
            break
    else:
        raise _Fallback  # no sound track: mvhd or MP4NoTrackError, mutagen's
    ok, data = _read_atom(fh, head, trak[b"mdia", b"mdhd"])
    if not ok or len(data) < 4 or data[0] > 1 or len(data) < (20 if data[0] == 0 else 32):
        raise _Fallback
    try:
        stsd = trak[b"mdia", b"minf", b"stbl", b"stsd"]
    except KeyError:
        return
    ok, data = _read_atom(fh, head, stsd)
    if not ok or len(data) < 8 or data[0] != 0:
        raise _Fallback
    if struct.unpack(">I", data[4:8])[0] and not _sample_entry_ok(data[8:]):
        raise _Fallback


def _sample_entry_ok(entries: bytes) -> bool:
    """MP4Info._parse_stsd's parse of the first sample entry succeeds (remembered by the
    bytes: a library's files mostly share theirs)."""
    known = _ENTRIES.get(entries)
    if known is None:
        try:
            fileobj = BytesIO(entries)
            AudioSampleEntry(Atom(fileobj), fileobj)
            known = True
        except Exception:  # noqa: BLE001 -- any error is MP4StreamInfoError in mutagen
            known = False
        if len(entries) <= 4096:
            if len(_ENTRIES) > 1024:
                _ENTRIES.clear()
            _ENTRIES[entries] = known
    return known


_READERS: dict[str, Any] = {"MP3": _mp3, "FLAC": _flac, "OggVorbis": _ogg_vorbis,
                            "OggOpus": _ogg_opus, "WAVE": _wave, "AIFF": _aiff, "MP4": _mp4}

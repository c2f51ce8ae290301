"""tagfast readers of ID3v2.3/v2.4 tags: MP3 (and its MPEG stream) and the ID3 chunk of
WAVE and AIFF, as workers/tagfast/__init__.py describes."""

from __future__ import annotations

import re
import struct
from itertools import zip_longest
from typing import IO, Any

from mutagen.aiff import read_float
from mutagen.id3 import TCON, ID3TimeStamp
from mutagen.id3._id3v1 import find_id3v1
from mutagen.id3._tags import ID3Header
from mutagen.id3._util import ID3JunkFrameError
from mutagen.mp3 import MPEGFrame, MPEGInfo

from ..tagload import KNOWN_FRAMES, split_texts
from .base import Fallback, NoTag, file_size, span, whole

__all__ = ["read_aiff", "read_mp3", "read_wave"]

_ID3_FIELDS = (("artist", "TPE1"), ("title", "TIT2"), ("album", "TALB"), ("albumartist", "TPE2"),
               ("track", "TRCK"), ("disc", "TPOS"), ("year", "TDRC"), ("bpm", "TBPM"),
               ("key", "TKEY"))
_WANTED = frozenset(f for _, f in _ID3_FIELDS) | {"TCON", "TYER", "TDAT", "TIME"}
_WANTED_NAMES = frozenset(n.encode() for n in _WANTED)
_KNOWN_NAMES = frozenset(KNOWN_FRAMES)
_FRAME = struct.Struct(">4sLH")
_EMPTY = b"\x00" * 10
_GENRES: dict[tuple[str, ...], list[str]] = {}
_STAMPS: dict[str, str] = {}
_CODECS = {0: "latin-1", 3: "utf-8"}  # what tagload._FastText decodes itself
_IFF_CONTAINERS = {"RIFF": ("RIFF", "LIST"), "FORM": ("FORM",)}


def _synchsafe(v: int) -> int:
    return (v & 0x7F) | (v >> 8 & 0x7F) << 7 | (v >> 16 & 0x7F) << 14 | (v >> 24 & 0x7F) << 21


def read_mp3(fh: IO[bytes], head: bytes) -> dict[str, list[str]]:
    try:
        raw, end = _id3(fh, head, 0)
    except NoTag:
        raw, end = {}, None
    if not _mpeg_frames(fh, head, end or 0):
        MPEGInfo(fh, end)  # what MP3.load does next; raises where mutagen refuses the file
    return raw


def _id3(fh: IO[bytes], head: bytes, offset: int) -> tuple[dict[str, list[str]], int | None]:
    """ID3.load(fh) of a tag at offset (known_frames KNOWN_FRAMES, translated to v2.4): the
    raw map of its wanted frames and where it ends (None: no ID3v2 header)."""
    top = span(fh, head, offset, offset + 10)
    if not top.startswith(b"ID3") or len(top) < 10:  # ID3NoHeaderError, then ID3v1 if any
        frames, _ = find_id3v1(whole(fh, head), 4, KNOWN_FRAMES)
        if frames is None:
            raise NoTag
        return _from_frames({}, frames), None
    _, vmaj, vrev, flags, size = struct.unpack(">3sBBBL", top)
    if vmaj not in (3, 4) or size & 0x80808080 or flags:
        raise Fallback  # v2.2, bad size, unsynch/extended/experimental/footer/bad flags
    size = _synchsafe(size)
    body = span(fh, head, offset + 10, offset + 10 + size)
    if len(body) < size:
        raise Fallback  # truncated: mutagen's read_full fails
    header = ID3Header()
    header._flags, header.version, header.size = 0, (2, vmaj, vrev), size + 10
    header._known_frames = KNOWN_FRAMES
    found = _read_frames(header, body)
    v1, _ = find_id3v1(whole(fh, head), 4 if vmaj == 4 else 3, KNOWN_FRAMES)
    return _from_frames(found, v1), offset + size + 10


_BITRATES = MPEGFrame._MPEGFrame__BITRATE  # type: ignore[attr-defined]
_RATES = MPEGFrame._MPEGFrame__RATES  # type: ignore[attr-defined]
_VERSIONS = (2.5, None, 2, 1)


def _mpeg_frames(fh: IO[bytes], head: bytes, offset: int, frames: int = 4) -> bool:
    """Whether MPEGInfo(fh, offset) surely finds the stream: `frames` valid MPEG frame
    headers in a row from offset (its first sync), each where the last one ends.  Its
    loop then stops there (a Xing/VBRI frame or four frames), having found the stream."""
    data = span(fh, head, offset, offset + 6000)  # four frames of up to 1,441 bytes
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
                raise Fallback  # a v2.2 name in a v2.3/2.4 tag
            continue  # not ASCII (mutagen skips it) or not wanted
        text = name.decode("ascii")
        if text in found:
            raise Fallback  # mutagen merges the two
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
    return split_texts(rest, codec, old)


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


def read_wave(fh: IO[bytes], head: bytes) -> dict[str, list[str]]:
    """WAVE.load: WaveStreamInfo's checks, then _WaveID3 at the 'id3' chunk (_WaveFile calls
    the first 'ID3' chunk 'id3' too)."""
    size = file_size(fh, head)
    chunks = _iff_chunks(fh, head, size, "<4sI", "RIFF")
    if chunks is None or chunks[0] != "WAVE":
        raise Fallback
    ids = [c[0] for c in chunks[1]]
    if "ID3" in ids:
        ids[ids.index("ID3")] = "id3"
    if "fmt" not in ids:
        raise Fallback  # WaveStreamInfo's error
    _, offset, data_size = chunks[1][ids.index("fmt")]
    if min(data_size, size - offset) < 16:
        raise Fallback  # InvalidChunk
    if "id3" not in ids:
        return {}  # ID3NoHeaderError("No ID3 chunk")
    return _tag_in_chunk(fh, head, chunks[1][ids.index("id3")][1])


def read_aiff(fh: IO[bytes], head: bytes) -> dict[str, list[str]]:
    """AIFF.load: _IFFID3 at the 'ID3' chunk, then AIFFInfo's checks."""
    size = file_size(fh, head)
    chunks = _iff_chunks(fh, head, size, ">4sI", "FORM")
    if chunks is None:
        raise Fallback
    ids = [c[0] for c in chunks[1]]
    if "COMM" not in ids:
        raise Fallback  # AIFFInfo's error
    _, offset, data_size = chunks[1][ids.index("COMM")]
    data = span(fh, head, offset, offset + min(data_size, 18))
    if len(data) < 18 or int(read_float(struct.unpack(">hLh10s", data)[3])) < 0:
        raise Fallback
    if "ID3" not in ids:
        return {}
    return _tag_in_chunk(fh, head, chunks[1][ids.index("ID3")][1])


def _iff_chunks(fh: IO[bytes], head: bytes, size: int, header: str, root: str
                ) -> tuple[str, list[tuple[str, int, int]]] | None:
    """The root container's name and its chunks (id, data offset, data size) as _iff.py
    IffFile and IffContainerChunkMixin.subchunks read them; None where they raise."""
    fmt = struct.Struct(header)
    top = span(fh, head, 0, 12)
    if len(top) < 12:
        return None  # EmptyChunk, or a container name cut short
    rid, data_size = fmt.unpack(top[:8])
    if rid != root.encode() or data_size < 4 or not top[8:12].isascii():
        return None
    end = 8 + data_size + data_size % 2
    chunks = []
    pos = 12
    while pos < end:
        raw = span(fh, head, pos, pos + 8)
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
            if not span(fh, head, pos + 8, pos + 12).isascii():
                return None  # mutagen's error
        chunks.append((name, pos + 8, data_size))
        pos += 8 + data_size + data_size % 2
    return top[8:12].decode("ascii"), chunks


def _tag_in_chunk(fh: IO[bytes], head: bytes, offset: int) -> dict[str, list[str]]:
    try:
        return _id3(fh, head, offset)[0]
    except NoTag:
        return {}

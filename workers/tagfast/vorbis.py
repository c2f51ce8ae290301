"""tagfast readers of Vorbis comments: FLAC, Ogg Vorbis and Ogg Opus, as
workers/tagfast/__init__.py describes."""

from __future__ import annotations

import struct
from io import BytesIO
from typing import IO

from mutagen.ogg import OggPage
from mutagen.oggopus import OggOpusInfo
from mutagen.oggvorbis import OggVorbisInfo

from .base import HEAD, Fallback, more

__all__ = ["read_flac", "read_ogg_opus", "read_ogg_vorbis"]

_VORBIS_NAMES = {"artist": ("artist",), "title": ("title",), "album": ("album",),
                 "albumartist": ("albumartist", "album artist", "album_artist"),
                 "track": ("tracknumber", "track"), "disc": ("discnumber", "disc"),
                 "year": ("date", "year", "originaldate"), "genre": ("genre",),
                 "bpm": ("bpm", "tempo"), "key": ("initialkey", "key")}
_VORBIS_WANTED = frozenset(n.encode() for names in _VORBIS_NAMES.values() for n in names)
_U32 = struct.Struct("<I").unpack_from


def read_flac(fh: IO[bytes], head: bytes) -> dict[str, list[str]]:
    if not head.startswith(b"fLaC"):
        raise Fallback  # an ID3 tag in front: mutagen's
    data, pos = head, 4
    comments: list[tuple[str, str]] | None = None
    seen: set[int] = set()
    last = 0
    while not last:
        if pos + 4 > len(data):
            data = more(fh, data, pos + 4)
        if pos + 4 > len(data):
            raise Fallback  # truncated: StrictFileObject raises
        byte = data[pos]
        code, last = byte & 0x7F, byte & 0x80
        start, pos = pos + 4, pos + 4 + int.from_bytes(data[pos + 1:pos + 4], "big")
        if pos > len(data):
            data = more(fh, data, pos)
            if pos > len(data):
                raise Fallback
        if code == 4:
            parsed, end = _vcomment(data, start)
            if end != pos:
                raise Fallback  # mutagen trusts the parsed size, not the block's
            if comments is None:
                comments = parsed
        elif not _block_ok(code, data, start, pos, seen):
            raise Fallback
        seen.add(code)
    if 0 not in seen:
        raise Fallback  # FLACNoHeaderError
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
        raise Fallback
    pos += 4 + _U32(data, pos)[0]  # the vendor string (decoded with errors='replace': no error)
    if pos + 4 > end:
        raise Fallback
    count = _U32(data, pos)[0]
    pos += 4
    pairs = []
    for _ in range(count):
        if pos + 4 > end:
            raise Fallback
        length = _U32(data, pos)[0]
        start, pos = pos + 4, pos + 4 + length
        if pos > end:
            raise Fallback
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


def _ogg_source(fh: IO[bytes], head: bytes) -> IO[bytes]:
    """The file from its start: head in memory when head is the whole file."""
    if len(head) < HEAD:
        return BytesIO(head)
    fh.seek(0)
    return fh


def read_ogg_vorbis(fh: IO[bytes], head: bytes) -> dict[str, list[str]]:
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
        raise Fallback  # framing bit missing or unset: mutagen's error
    info._post_tags(fh)
    return _vorbis_values(pairs)


def read_ogg_opus(fh: IO[bytes], head: bytes) -> dict[str, list[str]]:
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

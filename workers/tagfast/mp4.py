"""tagfast reader of MP4 (M4A) files: the atoms, MP4Info's checks and the ilst items, as
workers/tagfast/__init__.py describes."""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping
from io import BytesIO
from typing import IO, Any

from mutagen._constants import GENRES as MP4_GENRES
from mutagen.mp4 import MP4Chapters, MP4Tags
from mutagen.mp4._as_entry import AudioSampleEntry
from mutagen.mp4._atom import _CONTAINERS, _SKIP_SIZE, Atom, Atoms

from .base import Fallback, file_size, span

__all__ = ["read_mp4"]

_MP4_CONTAINERS = frozenset(_CONTAINERS)
_SKIP: dict[bytes, int] = dict(_SKIP_SIZE)
_ENTRIES: dict[bytes, bool] = {}
#: tag field -> the MP4 text atom that holds it
MP4_ATOMS = {"artist": "\xa9ART", "title": "\xa9nam", "album": "\xa9alb", "albumartist": "aART",
             "year": "\xa9day", "genre": "\xa9gen"}
_MP4_WANTED = frozenset({k.encode("latin-1") for k in MP4_ATOMS.values()}
                        | {b"trkn", b"disk", b"tmpo", b"gnre", b"----"})
_MP4_KEY = "----:com.apple.itunes:initialkey"
_INT_SIZES = (1, 2, 3, 4, 8)


def read_mp4(fh: IO[bytes], head: bytes) -> dict[str, list[str]]:
    """MP4.load: the atom tree as mp4/_atom.py Atoms reads it (nested atoms that fill their
    parents exactly), MP4Info.load's checks (the sample entry's parse remembered by its
    bytes), then mutagen's own MP4Tags on that tree."""
    atoms = _atoms(fh, head, file_size(fh, head))
    _mp4_info_ok(fh, head, atoms)
    if MP4Chapters._can_load(atoms):
        raise Fallback
    if not MP4Tags._can_load(atoms):
        return {}
    return _ilst(fh, head, atoms[b"moov.udta.meta.ilst"])


class _Dropped(Exception):
    """MP4MetadataError in an item: MP4Tags.load keeps it aside, the item gives no value."""


def _ilst(fh: IO[bytes], head: bytes, ilst: Atom) -> dict[str, list[str]]:
    """mp4_values of MP4Tags.load's items: the wanted ones read as its parsers read
    them (__parse_text, __parse_pair, __parse_integer, __parse_genre, __parse_freeform)."""
    items: dict[str, list[Any]] = {}
    for atom in ilst.children:
        name = atom.name
        if name not in _MP4_WANTED:
            continue
        if atom._dataoffset != atom.offset + 8:
            raise Fallback  # a 64-bit size: mutagen's item parsers count from atom.length
        ok, data = _read_atom(fh, head, atom)
        if not ok:
            raise Fallback
        try:
            key, values = _mp4_item(atom, data)
        except _Dropped:
            continue
        items.setdefault(key, []).extend(values)
    return mp4_values(items)


def mp4_values(items: Mapping[str, list[Any]]) -> dict[str, list[str]]:
    """Field -> strings from MP4 items (an MP4Tags, or the atoms read here, both keyed by
    atom name): text atoms, the first track and disc numbers, tempo, the initial key."""
    raw = {field: [str(v) for v in items[atom]] for field, atom in MP4_ATOMS.items()
           if atom in items}
    for field, atom in (("track", "trkn"), ("disc", "disk")):
        pairs = items.get(atom) or []
        if pairs and pairs[0] and pairs[0][0]:
            raw[field] = [str(pairs[0][0])]
    if items.get("tmpo"):
        raw["bpm"] = [str(items["tmpo"][0])]
    for name, values in items.items():
        if name.lower() == _MP4_KEY:
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
            raise Fallback  # ord() of nothing: mutagen's TypeError
        struct.unpack(">I", b"\x00" + data[pos + 9:pos + 12])
        values.append(data[pos + 16:pos + length])
        pos += length
    return (b"----:" + mean + b":" + name).decode("latin-1"), values


def _atoms(fh: IO[bytes], head: bytes, size: int) -> Atoms:
    top: list[Atom] = []
    pos = 0
    while pos + 8 <= size:
        data = span(fh, head, pos, pos + 16)
        length, name = struct.unpack(">I4s", data[:8])
        start = pos + 8
        if length == 1:
            if len(data) < 16:
                raise Fallback
            length, start = struct.unpack(">Q", data[8:16])[0], pos + 16
            if length < 16:
                raise Fallback
        elif length == 0:
            length = size - pos
        elif length < 8:
            raise Fallback
        atom = _atom(pos, length, name, start)
        if name in _MP4_CONTAINERS:
            if pos + length > size:
                raise Fallback  # a container cut short: mutagen's
            body = span(fh, head, start, pos + length)
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
        raise Fallback
    children = []
    while pos < end:
        if end - pos < 8:
            raise Fallback
        length, name = struct.unpack_from(">I4s", body, pos - base)
        start = pos + 8
        if length == 1:
            if end - pos < 16:
                raise Fallback
            length, start = struct.unpack_from(">Q", body, start - base)[0], pos + 16
            if length < 16:
                raise Fallback
        elif length < 8:  # 0 too: only a top-level atom may have it
            raise Fallback
        if pos + length > end:
            raise Fallback
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
    data = span(fh, head, start, start + size)
    return len(data) == size, data


def _mp4_info_ok(fh: IO[bytes], head: bytes, atoms: Atoms) -> None:
    """MP4Info.load(atoms, fh) raises nothing (else Fallback, or KeyError for mutagen)."""
    moov = atoms[b"moov"]
    for trak in moov.findall(b"trak"):
        ok, data = _read_atom(fh, head, trak[b"mdia", b"hdlr"])
        if not ok:
            raise Fallback
        if data[8:12] == b"soun":
            break
    else:
        raise Fallback  # no sound track: mvhd or MP4NoTrackError, mutagen's
    ok, data = _read_atom(fh, head, trak[b"mdia", b"mdhd"])
    if not ok or len(data) < 4 or data[0] > 1 or len(data) < (20 if data[0] == 0 else 32):
        raise Fallback
    try:
        stsd = trak[b"mdia", b"minf", b"stbl", b"stsd"]
    except KeyError:
        return
    ok, data = _read_atom(fh, head, stsd)
    if not ok or len(data) < 8 or data[0] != 0:
        raise Fallback
    if struct.unpack(">I", data[4:8])[0] and not _sample_entry_ok(data[8:]):
        raise Fallback


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

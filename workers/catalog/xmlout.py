"""Write ``<name>.matched.xml``: the input collection with chosen TRACK attributes filled in.

The output is the input byte for byte except inside the start tags of the
COLLECTION tracks that change: those are rewritten attribute by attribute,
keeping every other attribute, its order and its quoting, and adding the
attributes the track lacked before the tag's end.  So every TEMPO and
POSITION_MARK child, every playlist, comment and the declaration stay
exactly as they were, and Rekordbox imports the file like its own export.

``matched_path(path)`` is the output's name beside the input (never the
input itself).  ``write_matched`` builds the file under a temporary name in
the same folder, parses it again with the reader of rekordbox.py, checks
that it holds the same tracks and playlists, then renames it into place
(blocking).  The document must be in an ASCII-compatible encoding (UTF-8,
as Rekordbox writes it, or Latin-1 / ASCII).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import BinaryIO

from medialoom.workers.fileops.apply import temp_name

from .rekordbox import Collection, read_collection

__all__ = ["FIELD_ATTRIBUTES", "is_empty", "matched_path", "rewrite_tag", "write_matched"]

#: write_fields name -> TRACK attribute
FIELD_ATTRIBUTES = {"title": "Name", "artist": "Artist", "album": "Album", "year": "Year",
                    "label": "Label", "genre": "Genre"}
_ATTR = re.compile(r"""(\s+)([^\s=/>]+)(\s*=\s*)("[^"]*"|'[^']*')""")
_ENCODINGS = {"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1"}
CHUNK = 1 << 16


def matched_path(path: str) -> str:
    """``/x/collection.xml`` -> ``/x/collection.matched.xml``."""
    stem, ext = os.path.splitext(path)
    return f"{stem}.matched{ext or '.xml'}"


def is_empty(attribute: str, value: str | None) -> bool:
    """True when a TRACK attribute holds nothing (absent, blank, or 0 for Year)."""
    if value is None or not value.strip():
        return True
    return attribute == "Year" and value.strip() in ("0", "0000")


def escape(value: str, quote: str) -> str:
    """value for an attribute quoted with quote."""
    out = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out = out.replace('"', "&quot;") if quote == '"' else out.replace("'", "&apos;")
    return "".join(c if c >= " " or c == "\t" else f"&#{ord(c)};" for c in out)


def rewrite_tag(tag: str, values: Mapping[str, str]) -> str:
    """A start tag with the attributes in values set (replaced in place, or added)."""
    done: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        name = match.group(2)
        if name not in values:
            return match.group(0)
        done.add(name)
        quote = match.group(4)[0]
        return f"{match.group(1)}{name}{match.group(3)}{quote}{escape(values[name], quote)}{quote}"

    out = _ATTR.sub(replace, tag)
    extra = "".join(f' {name}="{escape(v, chr(34))}"' for name, v in values.items()
                    if name not in done)
    if not extra:
        return out
    end = len(out) - (2 if out.endswith("/>") else 1)
    return out[:end].rstrip() + extra + out[end:]


def _read_tag(fh: BinaryIO) -> bytes:
    """The start tag at fh's position, up to and including its ``>``; fh is left after it."""
    start = fh.tell()
    buf = bytearray()
    quote = 0
    at = 0
    while True:
        more = fh.read(4096)
        if not more:
            raise ValueError("the file ended inside a TRACK start tag")
        buf += more
        while at < len(buf):
            byte = buf[at]
            if quote:
                if byte == quote:
                    quote = 0
            elif byte in (0x22, 0x27):
                quote = byte
            elif byte == 0x3E:
                fh.seek(start + at + 1)
                return bytes(buf[:at + 1])
            at += 1


def write_matched(src: str, dst: str, collection: Collection,
                  changes: Mapping[int, Mapping[str, str]]) -> int:
    """Write dst from src with changes (TRACK start-tag offset -> attributes); tags changed."""
    if collection.encoding not in _ENCODINGS:
        raise ValueError(f"only UTF-8 (or ASCII, Latin-1) collections can be written, not "
                         f"{collection.encoding}")
    encoding = "latin-1" if collection.encoding.startswith(("iso", "latin")) else "utf-8"
    temp = temp_name(dst)
    written = 0
    try:
        with open(src, "rb") as fin, open(temp, "wb") as fout:
            for offset in sorted(changes):
                _copy(fin, fout, offset - fin.tell())
                tag = _read_tag(fin)
                if not tag.startswith(b"<TRACK"):
                    raise ValueError(f"byte {offset} of the collection is not a TRACK tag")
                new = rewrite_tag(tag.decode(encoding), changes[offset]).encode(encoding)
                fout.write(new)
                written += new != tag
            _copy(fin, fout, -1)
            fout.flush()
            os.fsync(fout.fileno())
        _verify(temp, collection)
        os.replace(temp, dst)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    return written


def _copy(fin: BinaryIO, fout: BinaryIO, size: int) -> None:
    while size != 0:
        chunk = fin.read(CHUNK if size < 0 else min(CHUNK, size))
        if not chunk:
            if size > 0:
                raise ValueError("the collection changed while it was written")
            return
        fout.write(chunk)
        if size > 0:
            size -= len(chunk)


def _verify(path: str, before: Collection) -> None:
    with open(path, "rb") as fh:
        after = read_collection(fh)
    same_tracks = [t.track_id for t in after.tracks] == [t.track_id for t in before.tracks]
    same_lists = [(p.path, p.keys) for p in after.playlists] == \
        [(p.path, p.keys) for p in before.playlists]
    if not (same_tracks and same_lists):
        raise ValueError("the written collection does not hold the same tracks and playlists")

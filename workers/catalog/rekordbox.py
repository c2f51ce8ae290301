"""Read a Rekordbox collection XML: its tracks and playlists, streaming and safely (blocking).

The file is parsed with expat in chunks, element by element, never as a
tree, so a collection of 100,000 tracks costs a list of small records.
Nothing in the file is expanded or fetched: a document type declaration
that declares an entity, any external entity reference and parameter
entities make the file refused (``BadXml``), as defusedxml does; so does
anything that is not well-formed XML, with the line and column expat gives.

What is read:

- ``DJ_PLAYLISTS/COLLECTION/TRACK``: TrackID, Name, Artist, Album, Mix,
  Remixer, Label, Genre, Year (0 or empty: unknown), TotalTime (seconds),
  AverageBpm, Tonality, Location (a percent-encoded ``file://localhost/``
  URL; anything else is kept as it is, with ``problem`` saying why it is
  not a file path), and the byte offset of the element's start tag (used
  by xmlout to rewrite just that tag);
- ``DJ_PLAYLISTS/PLAYLISTS/NODE``: Type 0 folders and Type 1 playlists,
  named by their path below ROOT (``Gigs/Peak Time``); a playlist's
  ``TRACK Key`` is a TrackID (KeyType 0) or a Location (KeyType 1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit
from xml.parsers import expat

__all__ = ["BadXml", "Collection", "Playlist", "PlaylistNotFound", "Track", "read_collection",
           "location_path"]

_WINDOWS_DRIVE = re.compile(r"^/[A-Za-z]:/")
CHUNK = 1 << 16


class BadXml(ValueError):
    """The file is not a well-formed, safe Rekordbox collection (the message names the line)."""


class PlaylistNotFound(ValueError):
    """No playlist (or folder) has the name asked for; the message lists those that exist."""


@dataclass(slots=True)
class Track:
    """One COLLECTION/TRACK."""

    track_id: str
    name: str = ""
    artist: str = ""
    album: str = ""
    mix: str = ""
    remixer: str = ""
    label: str = ""
    genre: str = ""
    year: int | None = None
    total_time: int | None = None
    bpm: float | None = None
    tonality: str = ""
    location: str = ""
    path: str = ""
    problem: str = ""
    offset: int = -1
    line: int = 0


@dataclass
class Playlist:
    """A Type 1 NODE (a playlist) or Type 0 NODE (a folder, its playlists' tracks in order)."""

    path: str
    folder: bool = False
    key_type: int = 0
    keys: list[str] = field(default_factory=list)


@dataclass
class Collection:
    """The tracks and playlists of one file."""

    tracks: list[Track]
    playlists: list[Playlist]
    encoding: str = "utf-8"

    def names(self) -> list[str]:
        """Playlist paths, folders marked with a trailing slash."""
        return [p.path + ("/" if p.folder else "") for p in self.playlists]

    def select(self, name: str) -> tuple[list[Track], int]:
        """(the tracks of playlist or folder name, in its order, each once; how many of its
        entries name no track of the collection).  "" selects the whole collection."""
        if not name.strip():
            return list(self.tracks), 0
        found = self._find(name.strip().strip("/"))
        by_id = {t.track_id: t for t in self.tracks}
        by_location = {t.location: t for t in self.tracks}
        members = [p for p in self.playlists if not p.folder and
                   (p.path == found.path or p.path.startswith(found.path + "/"))] \
            if found.folder else [found]
        out: dict[int, Track] = {}
        missing = 0
        for playlist in members:
            index = by_location if playlist.key_type == 1 else by_id
            for key in playlist.keys:
                track = index.get(key)
                if track is None:
                    missing += 1
                else:
                    out.setdefault(id(track), track)
        return list(out.values()), missing

    def _find(self, name: str) -> Playlist:
        for match in (lambda p: p.path == name, lambda p: p.path.casefold() == name.casefold(),
                      lambda p: p.path.rsplit("/", 1)[-1].casefold() == name.casefold()):
            hits = [p for p in self.playlists if match(p)]
            if len(hits) == 1:
                return hits[0]
            if len(hits) > 1:
                raise PlaylistNotFound(f"several playlists are named {name!r}: "
                                       f"{', '.join(p.path for p in hits[:10])}; give its path")
        shown = self.names()
        listing = ", ".join(shown[:30]) + (f", ... ({len(shown)} in all)" if len(shown) > 30
                                           else "")
        raise PlaylistNotFound(f"no playlist {name!r} in the collection; it has: "
                               f"{listing or 'no playlists'}")


def location_path(location: str) -> tuple[str, str]:
    """(the file path of a Location URL, "") or ("", why it is not a file URL)."""
    if not location:
        return "", "the track has no Location"
    parts = urlsplit(location)
    if parts.scheme.lower() != "file":
        return "", f"Location is not a file URL: {location[:200]}"
    if parts.netloc not in ("", "localhost"):
        return "", f"Location names another host ({parts.netloc}): {location[:200]}"
    path = unquote(parts.path)
    if _WINDOWS_DRIVE.match(path):
        path = path[1:]
    if not path:
        return "", f"Location has no path: {location[:200]}"
    return path, ""


def _int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


def _float(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number > 0 and number == number and number != float("inf") else None


def _track(attrs: dict[str, str], offset: int, line: int) -> Track:
    location = attrs.get("Location", "")
    path, problem = location_path(location)
    return Track(track_id=attrs.get("TrackID", ""), name=attrs.get("Name", ""),
                 artist=attrs.get("Artist", ""), album=attrs.get("Album", ""),
                 mix=attrs.get("Mix", ""), remixer=attrs.get("Remixer", ""),
                 label=attrs.get("Label", ""), genre=attrs.get("Genre", ""),
                 year=_int(attrs.get("Year", "")), total_time=_int(attrs.get("TotalTime", "")),
                 bpm=_float(attrs.get("AverageBpm", "")), tonality=attrs.get("Tonality", ""),
                 location=location, path=path, problem=problem, offset=offset, line=line)


class _Reader:
    """expat handlers building a Collection."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.stack: list[str] = []
        self.nodes: list[Playlist | None] = []
        self.tracks: list[Track] = []
        self.playlists: list[Playlist] = []
        self.encoding = "utf-8"
        self.collection = False

    def start(self, name: str, attrs: dict[str, str]) -> None:
        parent = self.stack[-1] if self.stack else ""
        if not self.stack and name != "DJ_PLAYLISTS":
            raise BadXml(f"line {self.parser.CurrentLineNumber}: the root element is {name}, "
                         "not DJ_PLAYLISTS: not a Rekordbox collection")
        self.stack.append(name)
        if name == "COLLECTION" and parent == "DJ_PLAYLISTS":
            self.collection = True
        elif name == "TRACK" and parent == "COLLECTION":
            self.tracks.append(_track(attrs, self.parser.CurrentByteIndex,
                                      self.parser.CurrentLineNumber))
        elif name == "NODE" and (parent == "PLAYLISTS" or parent == "NODE"):
            self._node(attrs)
        elif name == "TRACK" and parent == "NODE":
            node = self.nodes[-1] if self.nodes else None
            if node is not None and not node.folder and "Key" in attrs:
                node.keys.append(attrs["Key"])

    def _node(self, attrs: dict[str, str]) -> None:
        above = [n for n in self.nodes if n is not None]
        if not self.nodes and attrs.get("Name", "") == "ROOT":
            self.nodes.append(None)  # the ROOT folder is not part of any path
            return
        path = above[-1].path if above else ""
        name = attrs.get("Name", "")
        node = Playlist(path=f"{path}/{name}" if path else name, folder=attrs.get("Type") != "1",
                        key_type=1 if attrs.get("KeyType") == "1" else 0)
        self.nodes.append(node)
        self.playlists.append(node)

    def end(self, name: str) -> None:
        self.stack.pop()
        if name == "NODE" and self.nodes:
            self.nodes.pop()

    def xml_decl(self, version: str, encoding: str | None, standalone: int) -> None:
        self.encoding = (encoding or "utf-8").lower()


def _refuse(parser: Any, what: str) -> Any:
    def handler(*args: Any) -> Any:
        raise BadXml(f"line {parser.CurrentLineNumber}: the file declares {what}, which a "
                     "collection never needs: refused (no entity is expanded or fetched)")
    return handler


def read_collection(fh: BinaryIO) -> Collection:
    """The collection in an open binary file; BadXml when it is not one (or unsafe)."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    reader = _Reader(parser)
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.XmlDeclHandler = reader.xml_decl
    parser.EntityDeclHandler = _refuse(parser, "an entity")
    parser.UnparsedEntityDeclHandler = _refuse(parser, "an unparsed entity")
    parser.ExternalEntityRefHandler = _refuse(parser, "an external entity")
    parser.buffer_text = True
    try:
        for chunk in _chunks(fh):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise BadXml(f"line {exc.lineno}, column {exc.offset + 1}: "
                     f"{expat.ErrorString(exc.code)}") from None
    if not reader.collection:
        raise BadXml("the file has no DJ_PLAYLISTS/COLLECTION element: not a Rekordbox "
                     "collection")
    return Collection(reader.tracks, reader.playlists, reader.encoding)


def _chunks(fh: BinaryIO) -> Iterator[bytes]:
    while chunk := fh.read(CHUNK):
        yield chunk

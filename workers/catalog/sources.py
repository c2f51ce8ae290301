"""The tracks a match job looks up: from a Rekordbox XML or from a folder's tags (blocking).

Each becomes a ``Source``: its index in the job, the item path shown in the
results (the file's path, from the XML's Location when it is a file URL,
else ``#<TrackID>``), the Rekordbox TrackID (or the file path), the Query
built from its title, artist, mix, remixer, album, duration and year, and
what it holds now of each field a job may write.  A track without a title
or an artist gets no query: it is reported ``skipped`` with the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from medialoom.workers.fileops.walk import Entry, Walk, take
from medialoom.workers.tags import UnreadableAudio, read_tags

from .rekordbox import Collection, Track
from .scoring import Query

__all__ = ["Source", "from_collection", "from_files"]


@dataclass
class Source:
    """One track to match."""

    index: int
    path: str
    track_id: str
    query: Query | None
    problem: str = ""
    #: XML: the byte offset of its TRACK start tag; files: -1
    offset: int = -1
    #: the value of each writable field now ("" when empty)
    current: dict[str, str] = field(default_factory=dict)
    note: str = ""


def _query(title: str, artist: str, **kw: Any) -> tuple[Query | None, str]:
    missing = [name for name, value in (("title", title), ("artist", artist))
               if not value.strip()]
    if missing:
        return None, f"no {' and no '.join(missing)}: nothing to look up"
    return Query(title=title, artist=artist, **kw), ""


def from_collection(collection: Collection, tracks: list[Track]) -> list[Source]:
    """Sources of the selected tracks of a collection, in selection order."""
    out = []
    for i, t in enumerate(tracks):
        query, problem = _query(t.name, t.artist, mix=t.mix, remixer=t.remixer, album=t.album,
                                duration_s=float(t.total_time) if t.total_time else None,
                                year=t.year)
        if not t.name.strip():
            problem = f"Name is empty (TrackID {t.track_id}, line {t.line}): nothing to look up"
        elif not t.artist.strip():
            problem = f"Artist is empty (TrackID {t.track_id}, line {t.line}): nothing to " \
                      "look up"
        out.append(Source(
            index=i, path=t.path or f"#{t.track_id}", track_id=t.track_id, query=query,
            problem=problem, offset=t.offset, note=t.problem,
            current={"title": t.name, "artist": t.artist, "album": t.album,
                     "year": str(t.year or ""), "label": t.label, "genre": t.genre}))
    return out


def _from_file(index: int, entry: Entry) -> Source:
    if entry.problem or entry.st is None:
        return Source(index, entry.path, entry.path, None, entry.problem or "cannot read")
    try:
        info = read_tags(entry.path)
    except FileNotFoundError:
        return Source(index, entry.path, entry.path, None, "vanished before it was read")
    except UnreadableAudio as exc:
        return Source(index, entry.path, entry.path, None, f"cannot read tags: {exc}")
    except OSError as exc:
        return Source(index, entry.path, entry.path, None,
                      f"cannot read file: {exc.strerror or exc}")
    tags = info["tags"]
    year = tags.get("year")
    query, problem = _query(str(tags.get("title", "")), str(tags.get("artist", "")),
                            album=str(tags.get("album", "")),
                            duration_s=info.get("duration_s"),
                            year=year if isinstance(year, int) and year > 0 else None)
    return Source(index, entry.path, entry.path, query, problem,
                  current={"title": str(tags.get("title", "")),
                           "artist": str(tags.get("artist", "")),
                           "album": str(tags.get("album", "")), "year": str(year or "")})


def from_files(walk: Walk, start: int, n: int) -> list[Source]:
    """Sources of the next n files of a walk, numbered from start."""
    return [_from_file(start + k, entry) for k, entry in enumerate(take(walk, n))]


def is_xml(path: str) -> bool:
    """True when a job path names a collection file (not a folder)."""
    return os.path.isfile(path) and path.lower().endswith(".xml")

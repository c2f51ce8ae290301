"""Read an audio file's format, stream info and tags into one plain dict (used by kind ``scan``).

``read_tags(path)`` is blocking (it opens and parses the file with mutagen):
call it through ``ctx.run_blocking``.  The dict it returns is what the scan
item's ``details`` carry (SPEC.md section 6, ITEMS) minus size and mtime, so
later kinds (rename, dedupe) see the same field names.

Tag names are normalised across containers: ID3 (MP3, WAVE, AIFF), MP4
atoms, Vorbis comments (FLAC, Ogg Vorbis, Opus), APEv2 and ASF.  Missing tags
are omitted; ``track``, ``disc`` and ``year`` are ints when they parse, and
``bpm`` is a number.  Files already read and unchanged since are answered
from a per-process cache (workers/tagcache.py).

``read_tag_map(path)`` is ``read_tags(path)["tags"]`` for kinds that want
only the tags (rename, organize): the same map and the same errors, read by
workers/tagfast/ without mutagen's objects for the common containers.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Any

import mutagen
from mutagen._vorbis import VCommentDict
from mutagen.apev2 import APEv2
from mutagen.asf import ASFTags
from mutagen.id3 import ID3
from mutagen.mp4 import MP4Tags

from .tagcache import FileKey, TagCache, file_key
from .tagfast import fast_tags
from .tagfast.mp4 import mp4_values
from .tagload import open_audio

__all__ = ["TAG_FIELDS", "UnreadableAudio", "read_tag_map", "read_tags"]

#: every key that may appear in the ``tags`` map, in display order
TAG_FIELDS = ("artist", "title", "album", "albumartist", "track", "disc", "year", "genre",
              "bpm", "key")
_TEXT_FIELDS = ("artist", "title", "album", "albumartist", "genre", "key")
_YEAR = re.compile(r"\s*(\d{4})\b")

_ID3_FRAMES = {"artist": "TPE1", "title": "TIT2", "album": "TALB", "albumartist": "TPE2",
               "track": "TRCK", "disc": "TPOS", "year": "TDRC", "bpm": "TBPM", "key": "TKEY"}
# first present name wins; Vorbis comment and APEv2 names are case-insensitive
_VORBIS_NAMES = {"artist": ("artist",), "title": ("title",), "album": ("album",),
                 "albumartist": ("albumartist", "album artist", "album_artist"),
                 "track": ("tracknumber", "track"), "disc": ("discnumber", "disc"),
                 "year": ("date", "year", "originaldate"), "genre": ("genre",),
                 "bpm": ("bpm", "tempo"), "key": ("initialkey", "key")}
_APE_NAMES = {**_VORBIS_NAMES, "albumartist": ("album artist", "albumartist")}
_ASF_NAMES = {"artist": ("Author", "WM/AlbumArtist"), "title": ("Title",),
              "album": ("WM/AlbumTitle",), "albumartist": ("WM/AlbumArtist",),
              "track": ("WM/TrackNumber", "WM/Track"), "disc": ("WM/PartOfSet",),
              "year": ("WM/Year",), "genre": ("WM/Genre",), "bpm": ("WM/BeatsPerMinute",),
              "key": ("WM/InitialKey",)}


class UnreadableAudio(ValueError):
    """Raised by read_tags when mutagen cannot parse a file (corrupt, truncated, unknown format)."""


#: what this process has read (workers/tagcache.py): an unchanged file is not parsed again
SEEN = TagCache()


def read_tags(path: str, cache: TagCache | None = SEEN) -> dict[str, Any]:
    """Format, stream info and normalised tags of the audio file at path.

    Returns ``{format, duration_s, bitrate, sample_rate, channels, tags}``;
    ``format`` is mutagen's class name ("MP3", "FLAC", "WAVE", "MP4",
    "OggVorbis", "OggOpus", "AIFF", ...), stream values are None when the
    container does not say.  Raises FileNotFoundError when the file is gone,
    another OSError when it cannot be opened or read, and UnreadableAudio
    when its content cannot be parsed.  A file read before and unchanged
    since (same inode, size, mtime and ctime) is answered from cache (None:
    always parse).
    """
    with open(path, "rb") as fh:
        key = file_key(os.fstat(fh.fileno())) if cache is not None else None
        if key is not None and cache is not None:
            known = cache.get(path, key)
            if known is not None and "format" in known:  # not a read_tag_map entry
                return known
        return _parse(fh, path, key, cache)


def read_tag_map(path: str, cache: TagCache | None = SEEN) -> dict[str, Any]:
    """``read_tags(path, cache)["tags"]``, the same map and the same errors, at less cost.

    For the common containers (workers/tagfast/) the tags are read without
    mutagen's objects and without the stream info; anything else is
    read_tags' own parse.  A fast read is cached as a tags-only entry, which
    read_tags (wanting the stream info too) takes for a miss.
    """
    with open(path, "rb") as fh:
        key = file_key(os.fstat(fh.fileno())) if cache is not None else None
        if key is not None and cache is not None:
            known = cache.get(path, key)
            if known is not None:
                return known["tags"]  # type: ignore[no-any-return]
        opened_ns = time.time_ns()
        raw = fast_tags(fh, path)
        if raw is None:
            fh.seek(0)
            return _parse(fh, path, key, cache, opened_ns)["tags"]  # type: ignore[no-any-return]
    tags = _clean(raw)
    if key is not None and cache is not None:
        cache.put(path, key, {"tags": tags}, opened_ns)
    return tags


def _parse(fh: Any, path: str, key: FileKey | None, cache: TagCache | None,
           opened_ns: int | None = None) -> dict[str, Any]:
    """read_tags' parse of the open file fh (at offset 0), cached under key."""
    if opened_ns is None:
        opened_ns = time.time_ns()
    try:
        audio = open_audio(fh)  # mutagen.File(fh), cheaper (workers/tagload.py)
    except OSError:
        raise
    except mutagen.MutagenError as exc:
        cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else None
        if cause is not None:
            raise cause from exc
        raise UnreadableAudio(str(exc).strip() or type(exc).__name__) from exc
    except Exception as exc:  # mutagen parser bugs on hostile input: still one bad file
        raise UnreadableAudio(_describe(exc)) from exc
    if audio is None:
        raise UnreadableAudio("not a recognised audio format")
    info = audio.info
    fmt = type(audio).__name__
    length = getattr(info, "length", None)
    sample_rate = _int_or_none(getattr(info, "sample_rate", None))
    if sample_rate is None and fmt == "OggOpus":
        sample_rate = 48000  # Opus always decodes at 48 kHz (RFC 7845 section 5.1)
    result = {
        "format": fmt,
        "duration_s": round(float(length), 3) if length is not None else None,
        "bitrate": _int_or_none(getattr(info, "bitrate", None)),
        "sample_rate": sample_rate,
        "channels": _int_or_none(getattr(info, "channels", None)),
        "tags": normalise_tags(audio.tags),
    }
    if key is not None and cache is not None:
        cache.put(path, key, result, opened_ns)
    return result


def normalise_tags(tags: Any) -> dict[str, Any]:
    """The ``tags`` map for a mutagen tag object of any supported container ({} for None)."""
    if tags is None:
        return {}
    if isinstance(tags, ID3):
        raw = _id3_values(tags)
    elif isinstance(tags, MP4Tags):
        raw = mp4_values(tags)
    elif isinstance(tags, APEv2):
        raw = _named_values(tags, _APE_NAMES, lambda v: str(v).split("\0"))
    elif isinstance(tags, ASFTags):
        raw = _named_values(tags, _ASF_NAMES, lambda v: [str(v)])
    elif isinstance(tags, VCommentDict):  # FLAC, Ogg Vorbis, Opus, Speex, OggFLAC
        raw = _named_values(tags, _VORBIS_NAMES, lambda v: [str(v)])
    else:
        return {}
    return _clean(raw)


# --- one reader per container: field -> list of strings ------------------------------


def _id3_values(tags: ID3) -> dict[str, list[str]]:
    raw = {field: [str(t) for t in tags[frame].text]
           for field, frame in _ID3_FRAMES.items() if frame in tags}
    if "TCON" in tags:
        raw["genre"] = list(tags["TCON"].genres)
    return raw


def _named_values(tags: Any, names: dict[str, tuple[str, ...]],
                  split: Callable[[Any], list[str]]) -> dict[str, list[str]]:
    raw: dict[str, list[str]] = {}
    for field, candidates in names.items():
        for name in candidates:
            values = tags.get(name)
            if values:
                items = values if isinstance(values, list) else [values]
                raw[field] = [text for v in items for text in split(v)]
                break
    return raw


# --- normalisation ---------------------------------------------------------------------


def _clean(raw: dict[str, list[str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in TAG_FIELDS:
        values = raw.get(field)
        if not values:
            continue
        values = [text for v in values if v and (text := v.strip())]  # stripped, empty ones dropped
        if not values:
            continue
        if field in _TEXT_FIELDS:
            out[field] = "; ".join(values)
        elif field in ("track", "disc"):
            out[field] = _leading_number(values[0])
        elif field == "year":
            match = _YEAR.match(values[0])
            out[field] = int(match.group(1)) if match else values[0]
        elif field == "bpm":
            bpm = _number(values[0])
            if bpm is not None:
                out[field] = bpm
    return out


def _leading_number(text: str) -> int | str:
    """'3/12' -> 3, '07' -> 7; anything else ('A1', 'side B') stays text."""
    head = text.split("/", 1)[0].strip()
    return int(head) if head.isdigit() else text


def _number(text: str) -> int | float | None:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        return None
    if value != value or value <= 0 or value == float("inf"):  # NaN, zero, negative, inf
        return None
    return int(value) if value.is_integer() else round(value, 3)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

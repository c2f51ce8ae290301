"""Matched values into audio tags with mutagen, planned as a byte patch (blocking).

Fields and where they go:

| field | ID3 (MP3, WAV, AIFF) | MP4 | Vorbis comment (FLAC, Ogg, Opus) |
|---|---|---|---|
| title | TIT2 | ©nam | TITLE |
| artist | TPE1 | ©ART | ARTIST |
| album | TALB | ©alb | ALBUM |
| year | TDRC | ©day | DATE |
| label | TPUB | ----:com.apple.iTunes:LABEL | LABEL |
| isrc | TSRC | ----:com.apple.iTunes:ISRC | ISRC |
| mbid | UFID http://musicbrainz.org | ----:com.apple.iTunes:MusicBrainz Track Id | MUSICBRAINZ_TRACKID |

``plan_tags(path, values, overwrite)`` reads the file's current values,
keeps the fields that are empty (all that differ with overwrite), writes
them into a copy of the file in a private temporary folder (ID3 keeps its
version, 2.3 or 2.4; mutagen reuses the padding when the tags fit) and
returns the changed fields and the patch from the file to the copy
(fileops.patch), so applying the plan writes exactly those bytes and a
rollback restores the old ones.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import mutagen
from mutagen.id3 import ID3, TALB, TDRC, TIT2, TPE1, TPUB, TSRC, UFID
from mutagen.mp4 import MP4, MP4FreeForm

from medialoom.workers.fileops.patch import make_patch

__all__ = ["TAG_FIELDS", "plan_tags", "read_values"]

TAG_FIELDS = ("title", "artist", "album", "year", "label", "isrc", "mbid")
_ID3 = {"title": TIT2, "artist": TPE1, "album": TALB, "year": TDRC, "label": TPUB,
        "isrc": TSRC}
_MB_OWNER = "http://musicbrainz.org"
_MP4 = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb", "year": "\xa9day",
        "label": "----:com.apple.iTunes:LABEL", "isrc": "----:com.apple.iTunes:ISRC",
        "mbid": "----:com.apple.iTunes:MusicBrainz Track Id"}
_VORBIS = {"title": "title", "artist": "artist", "album": "album", "year": "date",
           "label": "label", "isrc": "isrc", "mbid": "musicbrainz_trackid"}


def _open(path: str) -> Any:
    audio = mutagen.File(path)
    if audio is None:
        raise ValueError("not a recognised audio format")
    if audio.tags is None:
        audio.add_tags()
    return audio


def read_values(audio: Any) -> dict[str, str]:
    """The current value of each field in an open mutagen file ("" when absent)."""
    tags = audio.tags
    out = dict.fromkeys(TAG_FIELDS, "")
    if isinstance(tags, ID3):
        for name, frame in _ID3.items():
            found = tags.getall(frame.__name__)
            if found:
                out[name] = "; ".join(str(t) for t in found[0].text)
        ufid = tags.get(f"UFID:{_MB_OWNER}")
        if ufid is not None:
            out["mbid"] = ufid.data.decode("ascii", "replace")
    elif isinstance(audio, MP4):
        for name, atom in _MP4.items():
            values = tags.get(atom) or []
            out[name] = "; ".join(bytes(v).decode("utf-8", "replace") if isinstance(v, bytes)
                                  else str(v) for v in values)
    else:
        for name, key in _VORBIS.items():
            values = tags.get(key) or []
            out[name] = "; ".join(str(v) for v in values)
    return out


def _set(audio: Any, name: str, value: str) -> None:
    tags = audio.tags
    if isinstance(tags, ID3):
        if name == "mbid":
            tags.setall("UFID", [UFID(owner=_MB_OWNER, data=value.encode("ascii", "replace"))])
        else:
            tags.setall(_ID3[name].__name__, [_ID3[name](encoding=3, text=[value])])
    elif isinstance(audio, MP4):
        atom = _MP4[name]
        tags[atom] = [MP4FreeForm(value.encode())] if atom.startswith("----") else [value]
    else:
        tags[_VORBIS[name]] = [value]


def _save(audio: Any, path: str) -> None:
    if isinstance(audio.tags, ID3):
        minor = audio.tags.version[1] if audio.tags.version[1] in (3, 4) else 4
        audio.save(path, v2_version=minor)
    else:
        audio.save(path)


def plan_tags(path: str, values: dict[str, str], overwrite: bool
              ) -> tuple[dict[str, str], dict[str, Any] | None]:
    """(fields to write and their values, the patch writing them; None when nothing changes).

    ValueError for a file mutagen cannot read or write; PatchTooLarge (a
    ValueError) when the change cannot be journaled.
    """
    current = read_values(_open(path))
    changes = {name: value for name, value in values.items()
               if value and (not current.get(name, "").strip() or
                             (overwrite and current.get(name) != value))}
    if not changes:
        return {}, None
    with tempfile.TemporaryDirectory(prefix="medialoom-tags-") as folder:
        copy = os.path.join(folder, "copy" + os.path.splitext(path)[1])
        shutil.copyfile(path, copy)
        audio = _open(copy)
        for name, value in changes.items():
            _set(audio, name, value)
        _save(audio, copy)
        patch = make_patch(path, copy)
    return changes, patch

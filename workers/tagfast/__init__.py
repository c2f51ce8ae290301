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

The readers: tagfast/id3.py (MP3, WAVE, AIFF), tagfast/vorbis.py (FLAC, Ogg),
tagfast/mp4.py; tagfast/base.py holds what they share.

Frames, comments and blocks the map does not use are stepped over, not
parsed (mutagen parses and drops them; tests/workers/test_tagfast.py
compares both over the sample library, many written and hand-made tags, and
damaged copies).
"""

from __future__ import annotations

from typing import IO, Any

import mutagen

from ..tagload import best_kind
from .base import HEAD
from .id3 import read_aiff, read_mp3, read_wave
from .mp4 import read_mp4
from .vorbis import read_flac, read_ogg_opus, read_ogg_vorbis

__all__ = ["ENABLED", "HEAD", "MUTAGEN", "fast_tags"]

#: the mutagen this mirrors, checked by tests/workers/test_tagfast.py; with another one every
#: file goes to mutagen (its loaders may have changed)
MUTAGEN = (1, 48)
ENABLED = tuple(mutagen.version[:2]) == MUTAGEN
_MPEG_START = (b"ID3", b"\xff\xf2", b"\xff\xf3", b"\xff\xfa", b"\xff\xfb")
#: starts that score 2 or more for another format (MPEG sync, FORM, wvpk, ASF, AC3, DSD, RIFF)
_TWO_POINT_STARTS = (b"ID3", b"\xff\xf2", b"\xff\xf3", b"\xff\xfa", b"\xff\xfb", b"FORM",
                     b"wvpk", b"\x30\x26\xb2\x75", b"\x0b\x77", b"DSD ", b"FRM8", b"RIFF",
                     b"OggS", b"fLaC", b"TTA", b"MP+", b"MPCK", b"MAC ", b"OFR", b"MThd",
                     b"tBaK")
_NOT_OGG = (b"\x80theora", b"\x81theora", b"Speex   ", b"FLAC", b"fLaC", b"ftyp", b"mp4",
            b"ADIF")  # what else the scores of an Ogg page test for


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


_READERS: dict[str, Any] = {"MP3": read_mp3, "FLAC": read_flac, "OggVorbis": read_ogg_vorbis,
                            "OggOpus": read_ogg_opus, "WAVE": read_wave, "AIFF": read_aiff,
                            "MP4": read_mp4}

"""Open an audio file with mutagen exactly as ``mutagen.File(fileobj)`` does, at less cost.

Used by workers/tags.py (read_tags, so kinds scan, rename and organize).  The
format chosen, the errors raised and the tag objects built are mutagen's own;
only how the work is done differs:

- the FileType classes ``mutagen.File`` scores are imported once, not on every
  call (the same 24 classes: the best score wins, ties by class name, so their
  order does not matter);
- the ID3 readers (MP3, WAVE, AIFF, DSF, DSDIFF, TrueAudio, bare ID3) get
  ``known_frames``: mutagen's own frame table (v2.3/2.4 and v2.2 names; they
  never collide, so mutagen's size heuristics and v2.2 upgrades see the same
  table) in which every plain text frame (TIT2, TPE1, TCON, TDRC, ...) reads
  through ``_FastText``.  That is a short copy of mutagen's text reader for
  the common case only -- no frame flags, no unsynchronisation, Latin-1 or
  UTF-8 -- building the same frame object (``encoding``, ``text``) without
  mutagen's per-spec machinery; any other frame (UTF-16, flags, bad bytes)
  goes to mutagen's own ``Frame._fromData``.

tests/workers/test_tagload.py checks the results against ``mutagen.File``.
"""

from __future__ import annotations

from typing import IO, Any

import mutagen
from mutagen.aac import AAC
from mutagen.ac3 import AC3
from mutagen.aiff import AIFF
from mutagen.apev2 import APEv2File
from mutagen.asf import ASF
from mutagen.dsdiff import DSDIFF
from mutagen.dsf import DSF
from mutagen.flac import FLAC
from mutagen.id3 import Encoding, Frame, Frames, Frames_2_2, ID3FileType, ID3TimeStamp
from mutagen.id3._specs import (
    EncodedNumericPartTextSpec,
    EncodedNumericTextSpec,
    EncodedTextSpec,
    EncodingSpec,
    MultiSpec,
    TimeStampSpec,
)
from mutagen.monkeysaudio import MonkeysAudio
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.musepack import Musepack
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggtheora import OggTheora
from mutagen.oggvorbis import OggVorbis
from mutagen.optimfrog import OptimFROG
from mutagen.smf import SMF
from mutagen.tak import TAK
from mutagen.trueaudio import TrueAudio
from mutagen.wave import WAVE
from mutagen.wavpack import WavPack

__all__ = ["open_audio"]

_V24 = (2, 4, 0)
_CODECS = {0: "latin-1", 3: "utf-8"}  # the encodings mutagen decodes on its fast path
_ENCODINGS = {0: Encoding.LATIN1, 3: Encoding.UTF8}
_TEXT_SPECS = (EncodedTextSpec, EncodedNumericTextSpec, EncodedNumericPartTextSpec)


class _FastText:
    """Stands for one text frame class in ``known_frames``: reads it, or lets mutagen."""

    __slots__ = ("cls", "stamp")

    def __init__(self, cls: type[Frame], stamp: bool) -> None:
        self.cls = cls
        self.stamp = stamp  # TDRC and friends: values are ID3TimeStamp

    def __call__(self, *args: Any, **kwargs: Any) -> Frame:
        """Make a frame (the ID3v1 reader builds frames from the table)."""
        return self.cls(*args, **kwargs)

    def _fromData(self, header: Any, tflags: int, data: bytes) -> Frame:  # noqa: N802
        """Frame._fromData of cls: the same frame, or mutagen's own answer."""
        codec = _CODECS.get(data[0]) if data else None
        if (tflags or codec is None or len(data) < 2
                or (header.f_unsynch and header.version >= _V24)):
            return self.cls._fromData(header, tflags, data)
        rest = data[1:]
        old = header.version < _V24
        values: list[Any] = []
        try:
            while rest:  # EncodedTextSpec.read + decode_terminated, its utf-8 / latin-1 path
                end = rest.find(b"\x00")
                if end < 0:
                    value, rest = rest.decode(codec), b""
                else:
                    value, rest = rest[:end].decode(codec), rest[end + 1:]
                if old and not rest.strip(b"\x00"):
                    rest = b""
                values.append(ID3TimeStamp(value) if self.stamp else value)
        except UnicodeDecodeError:
            return self.cls._fromData(header, tflags, data)
        frame = self.cls.__new__(self.cls)
        frame.__dict__.update(encoding=_ENCODINGS[data[0]], text=values)
        return frame


def _text_kind(cls: type[Frame]) -> bool | None:
    """True (time stamps) / False (text) when cls reads like a plain text frame, else None."""
    spec = cls._framespec
    if (len(spec) != 2 or cls._optionalspec or type(spec[0]) is not EncodingSpec
            or type(spec[1]) is not MultiSpec or len(spec[1].specs) != 1
            or cls._fromData.__func__ is not Frame._fromData.__func__  # type: ignore[attr-defined]
            or cls.__init__ is not Frame.__init__ or cls._readData is not Frame._readData):
        return None
    inner = type(spec[1].specs[0])
    if inner is TimeStampSpec:
        return True
    return False if inner in _TEXT_SPECS else None


def _known_frames() -> dict[str, Any]:
    table: dict[str, Any] = {**Frames_2_2, **Frames}
    for name, cls in Frames.items():
        kind = _text_kind(cls)
        if kind is not None:
            table[name] = _FastText(cls, kind)
    return table


KNOWN_FRAMES = _known_frames()


class _WithFrames:
    """A FileType class as ``mutagen.File`` sees it (score, name), loading with KNOWN_FRAMES."""

    def __init__(self, kind: type[mutagen.FileType]) -> None:
        self.kind = kind
        self.__name__ = kind.__name__
        self.score = kind.score

    def __call__(self, fileobj: IO[bytes], filename: str | None = None) -> mutagen.FileType:
        return self.kind(fileobj, filename=filename, known_frames=KNOWN_FRAMES)


#: what ``mutagen.File`` scores by default (mutagen/_file.py, options=None, easy=False)
OPTIONS: list[Any] = [
    _WithFrames(MP3), _WithFrames(TrueAudio), OggTheora, OggSpeex, OggVorbis, OggFLAC, FLAC,
    _WithFrames(AIFF), APEv2File, MP4, _WithFrames(ID3FileType), WavPack, Musepack,
    MonkeysAudio, OptimFROG, ASF, OggOpus, AAC, AC3, SMF, TAK, _WithFrames(DSF),
    _WithFrames(DSDIFF), _WithFrames(WAVE)]


def open_audio(fileobj: IO[bytes]) -> mutagen.FileType | None:
    """``mutagen.File(fileobj)``: the parsed file, None for no known format, MutagenError."""
    return mutagen.File(fileobj, options=OPTIONS)

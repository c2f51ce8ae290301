"""Open an audio file with mutagen exactly as ``mutagen.File(fileobj)`` does, at less cost.

Used by workers/tags.py (read_tags, so kinds scan, rename and organize).  The
format chosen, the errors raised and the tag objects built are mutagen's own;
only how the work is done differs:

- the FileType classes ``mutagen.File`` scores are imported once, not on every
  call, and their 24 ``score`` functions (tests of the name's extension and of
  the first 128 bytes) are one function here, ``scores``; the best score wins,
  ties by class name, as in mutagen.  APEv2File's score, which reads the end
  of the file and is at most 1, is computed only when no other is above 1;
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
from mutagen._util import fileobj_name, verify_fileobj
from mutagen.aac import AAC
from mutagen.ac3 import AC3
from mutagen.aiff import AIFF
from mutagen.apev2 import APEv2File
from mutagen.asf import ASF
from mutagen.asf._objects import HeaderObject
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
_ASF_GUID: bytes = HeaderObject.GUID


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
        values: list[Any] | None = split_texts(data[1:], codec, header.version < _V24)
        if values is None:
            return self.cls._fromData(header, tflags, data)
        if self.stamp:
            values = [ID3TimeStamp(v) for v in values]
        frame = self.cls.__new__(self.cls)
        frame.__dict__.update(encoding=_ENCODINGS[data[0]], text=values)
        return frame


def split_texts(rest: bytes, codec: str, old: bool) -> list[str] | None:
    """A Latin-1 / UTF-8 text frame's values after its encoding byte, as mutagen's
    EncodedTextSpec.read and decode_terminated split them (old: ID3v2.3 or earlier, where
    trailing terminators end the list); None if the bytes do not decode."""
    values: list[str] = []
    try:
        while rest:
            end = rest.find(b"\x00")
            if end < 0:
                value, rest = rest.decode(codec), b""
            else:
                value, rest = rest[:end].decode(codec), rest[end + 1:]
            if old and not rest.strip(b"\x00"):
                rest = b""
            values.append(value)
    except UnicodeDecodeError:
        return None
    return values


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


_BY_NAME = {getattr(k, "__name__", ""): k for k in OPTIONS}
_MPEG_SYNC = (b"ID3", b"\xff\xf2", b"\xff\xf3", b"\xff\xfa", b"\xff\xfb")


def scores(name: str, header: bytes) -> dict[str, int]:
    """Each FileType's ``score(name, fileobj, header)`` but APEv2File's (which reads the
    file's end): the same sums of the same tests, written out in one place."""
    low = name.lower()
    st = header.startswith
    ogg = st(b"OggS")
    id3 = st(b"ID3")
    return {
        "MP3": st(_MPEG_SYNC) * 2 + low.endswith(".mp3") + low.endswith(".mp2")
        + low.endswith(".mpg") + low.endswith(".mpeg"),
        "TrueAudio": id3 + st(b"TTA") + low.endswith(".tta") * 2,
        "OggTheora": ogg * ((b"\x80theora" in header) + (b"\x81theora" in header)) * 2,
        "OggSpeex": ogg * (b"Speex   " in header),
        "OggVorbis": ogg * (b"\x01vorbis" in header),
        "OggFLAC": ogg * ((b"FLAC" in header) + (b"fLaC" in header)),
        "FLAC": st(b"fLaC") + low.endswith(".flac") * 3,
        "AIFF": st(b"FORM") * 2 + low.endswith(".aif") + low.endswith(".aiff")
        + low.endswith(".aifc"),
        "MP4": (b"ftyp" in header) + (b"mp4" in header),
        "ID3FileType": int(id3),
        "WavPack": st(b"wvpk") * 2,
        "Musepack": st(b"MP+") + st(b"MPCK") + low.endswith(".mpc"),
        "MonkeysAudio": st(b"MAC ") + low.endswith(".ape"),
        "OptimFROG": st(b"OFR") + low.endswith(".ofr") + low.endswith(".ofs"),
        "ASF": st(_ASF_GUID) * 2,
        "OggOpus": ogg * (b"OpusHead" in header),
        "AAC": (low.endswith((".aac", ".adts", ".adif"))) + (b"ADIF" in header),
        "AC3": st(b"\x0b\x77") * 2 + name.endswith((".ac3", ".eac3")),  # case as mutagen
        "SMF": int(st(b"MThd") and low.endswith((".mid", ".midi"))),
        "TAK": st(b"tBaK") + low.endswith(".tak"),
        "DSF": st(b"DSD ") * 2 + low.endswith(".dsf"),
        "DSDIFF": st(b"FRM8") * 2 + name.endswith(".dff"),  # case as mutagen
        "WAVE": st(b"RIFF") + (header[8:12] == b"WAVE") + low.endswith(".wav")
        + low.endswith(".wave"),
    }


def best_kind(name: str, fileobj: IO[bytes], header: bytes) -> Any:
    """The entry of OPTIONS ``mutagen.File`` picks (highest score, then highest class name),
    None when no score is above 0.  APEv2File's score (at most 1) is taken only when it
    could matter, as it reads the end of the file."""
    score, best = max((v, k) for k, v in scores(name, header).items())
    if score <= 1:
        score, best = max((score, best), (APEv2File.score(name, fileobj, header), "APEv2File"))
    return _BY_NAME[best] if score > 0 else None


def open_audio(fileobj: IO[bytes]) -> mutagen.FileType | None:
    """``mutagen.File(fileobj)``: the parsed file, None for no known format, MutagenError.

    The same steps as mutagen/_file.py File: check the file object, read 128
    bytes (none if that fails), pick the best scoring FileType, rewind, load.
    """
    verify_fileobj(fileobj)
    name = fileobj_name(fileobj)
    if not isinstance(name, str):  # a bytes path: let mutagen score it
        return mutagen.File(fileobj, options=OPTIONS)
    try:
        header = fileobj.read(128)
    except OSError:
        header = b""
    kind = best_kind(name, fileobj, header)
    if kind is None:
        return None
    try:
        fileobj.seek(0, 0)
    except OSError:
        pass
    return kind(fileobj, filename=None)  # type: ignore[no-any-return]

"""Make names safe on every file system a library may be copied to.

Rules, applied by ``safe_name`` to one path component:

- Unicode NFC normalization (macOS writes NFD; the two must compare equal);
- path separators ``/`` and ``\\``, the characters Windows forbids
  ``< > : " | ? *`` and control characters (U+0000-U+001F, U+007F) become
  ``_``;
- leading spaces, trailing dots and spaces are removed, a leading dot becomes
  ``_`` (no hidden files made from a title such as "...And Justice");
- Windows reserved device names CON PRN AUX NUL COM1-9 LPT1-9 (any case,
  with or without an extension, e.g. ``con.mp3``) get ``_`` after the name;
- a name over 255 bytes of UTF-8 is cut on a character boundary, keeping its
  extension.

``clean_value`` is the softer rule for one tag value placed into a template:
separators and illegal characters replaced, surrounding whitespace stripped,
but dots and reserved names left to ``safe_name`` on the finished component.
"""

from __future__ import annotations

import os
import re
import unicodedata

__all__ = ["MAX_NAME_BYTES", "UnsafeName", "clean_value", "fit_name", "name_key", "safe_name",
           "with_counter"]

MAX_NAME_BYTES = 255
_ILLEGAL = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                       *(f"LPT{i}" for i in range(1, 10))})
_MAX_EXT_CHARS = 12


class UnsafeName(ValueError):
    """Raised when nothing usable is left of a name once it is made safe."""


def clean_value(text: str, replacement: str = "_") -> str:
    """One tag value made fit to sit inside a file name (NFC, no separators or illegal chars)."""
    text = unicodedata.normalize("NFC", str(text))
    return _ILLEGAL.sub(replacement, text).strip()


def split_ext(name: str) -> tuple[str, str]:
    """(stem, ".ext") where ext is a plausible extension (short, no spaces), else (name, "")."""
    stem, ext = os.path.splitext(name)
    if not stem or len(ext) > _MAX_EXT_CHARS or " " in ext:
        return name, ""
    return stem, ext


def safe_name(name: str, *, keep_ext: bool = True, replacement: str = "_",
              max_bytes: int = MAX_NAME_BYTES) -> str:
    """name made safe by every rule of this module; UnsafeName if nothing is left."""
    name = unicodedata.normalize("NFC", name)
    name = _ILLEGAL.sub(replacement, name).lstrip(" ").rstrip(". ")
    if name.startswith("."):
        name = replacement + name[1:]
    if not name:
        raise UnsafeName("nothing is left of the name once made safe")
    stem, ext = split_ext(name) if keep_ext else (name, "")
    first, dot, rest = stem.partition(".")
    if first.rstrip(" ").upper() in _RESERVED:
        stem = first.rstrip(" ") + replacement + dot + rest
    return fit_name(stem, ext, max_bytes)


def fit_name(stem: str, ext: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """stem + ext, the stem cut on a UTF-8 character boundary so the whole fits max_bytes."""
    room = max_bytes - len(ext.encode("utf-8"))
    if room <= 0:  # an absurd extension: cut the whole name instead
        stem, ext, room = stem + ext, "", max_bytes
    raw = stem.encode("utf-8")
    if len(raw) <= room:
        return stem + ext
    cut = raw[:room].decode("utf-8", "ignore")
    # a base character whose combining mark falls beyond the cut would change: drop it too
    while cut and unicodedata.combining(stem[len(cut)]):
        cut = cut[:-1]
    cut = cut.rstrip(". ")
    if not cut:
        raise UnsafeName("the name is too long to keep any of it")
    return cut + ext


def with_counter(name: str, n: int, max_bytes: int = MAX_NAME_BYTES) -> str:
    """name with " (n)" before its extension, still within max_bytes."""
    stem, ext = split_ext(name)
    return fit_name(stem, f" ({n}){ext}", max_bytes)


def name_key(name: str) -> str:
    """The form two names are compared in for collisions: NFC, then case-folded."""
    return unicodedata.normalize("NFC", name).casefold()

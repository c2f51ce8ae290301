"""Musical keys: parse what taggers write and convert to Camelot or Open Key notation.

Accepted input (case of the note letter is free, whitespace ignored):
musical names ``Am``, ``A minor``, ``A min``, ``F#m``, ``F♯m``, ``Gbm``, ``G♭ minor``,
``C``, ``C major``, ``Cmaj``, ``CM``; Camelot ``8A``, ``08a``, ``12B``; Open Key
``1m``, ``4d``.  A lone ``m`` suffix means minor; ``M`` or ``maj`` major.  Combined tags
(``8A - Am``, ``Am/8A``) give their first recognised part.

Camelot numbers follow the circle of fifths from Abm = 1A and B = 1B; Open Key
starts at Am = 1m and C = 1d, so ``openkey = (camelot - 8) mod 12 + 1``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Key", "NOTATIONS", "convert_key", "parse_key"]

#: notations a key can be rendered in ("tagged" keeps the text as it was tagged)
NOTATIONS = ("tagged", "camelot", "openkey", "musical")

_PITCH = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
_SHARP_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("Cm", "C#m", "Dm", "Ebm", "Em", "Fm", "F#m", "Gm", "G#m", "Am", "Bbm", "Bm")
_MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MUSICAL = re.compile(
    r"^(?P<note>[a-g])(?P<acc>#|b|♯|♭|s|sharp|flat)?"
    r"(?P<mode>m|min|minor|maj|major|M|dur|moll)?$", re.IGNORECASE)
_CAMELOT = re.compile(r"^0?(?P<num>[1-9]|1[0-2])(?P<letter>[ab])$", re.IGNORECASE)
_OPENKEY = re.compile(r"^0?(?P<num>[1-9]|1[0-2])(?P<letter>[md])$", re.IGNORECASE)


@dataclass(frozen=True)
class Key:
    """A key as a pitch class of its tonic (C = 0) and a mode."""

    tonic: int
    minor: bool

    @property
    def camelot(self) -> str:
        """Camelot wheel notation, e.g. ``8A`` for A minor, ``8B`` for C major."""
        anchor = 9 if self.minor else 0  # Am and C are number 8
        number = ((self.tonic - anchor) * 7 + 7) % 12 + 1
        return f"{number}{'A' if self.minor else 'B'}"

    @property
    def openkey(self) -> str:
        """Open Key notation, e.g. ``1m`` for A minor, ``1d`` for C major."""
        number = (int(self.camelot[:-1]) - 8) % 12 + 1
        return f"{number}{'m' if self.minor else 'd'}"

    @property
    def musical(self) -> str:
        """Conventional name, e.g. ``F#m``, ``Bbm``, ``Db``."""
        return (_MINOR_NAMES if self.minor else _MAJOR_NAMES)[self.tonic]


def _from_wheel(number: int, minor: bool) -> Key:
    anchor = 9 if minor else 0
    # invert camelot = ((tonic - anchor) * 7 + 7) % 12 + 1; 7 is its own inverse mod 12
    tonic = (anchor + (number - 8) * 7) % 12
    return Key(tonic, minor)


def parse_key(text: str) -> Key | None:
    """The key text names (musical, Camelot or Open Key notation), or None if unrecognised.

    Combined tags such as ``8A - Am`` or ``Am/8A`` give the first part that parses.
    """
    key = _parse_one(text)
    if key is None and re.search(r"[/,|]| - ", text or ""):
        for part in re.split(r"[/,|]| - ", text):
            if (key := _parse_one(part)) is not None:
                break
    return key


def _parse_one(text: str) -> Key | None:
    compact = re.sub(r"\s+", "", text or "")
    if not compact:
        return None
    if m := _CAMELOT.match(compact):
        return _from_wheel(int(m["num"]), m["letter"].lower() == "a")
    if m := _OPENKEY.match(compact):
        camelot = (int(m["num"]) + 6) % 12 + 1  # inverse of (camelot - 8) % 12 + 1
        return _from_wheel(camelot, m["letter"].lower() == "m")
    if m := _MUSICAL.match(compact):
        tonic = _PITCH[m["note"].lower()]
        acc = (m["acc"] or "").lower()
        if acc in ("#", "♯", "s", "sharp"):
            tonic += 1
        elif acc in ("b", "♭", "flat"):
            tonic -= 1
        mode = m["mode"] or ""
        minor = mode == "m" or mode.lower() in ("min", "minor", "moll")
        return Key(tonic % 12, minor)
    return None


def convert_key(text: str, notation: str) -> str | None:
    """text in notation ("tagged", "camelot", "openkey", "musical"); None if unrecognised.

    "tagged" returns the text unchanged (stripped) without parsing it.
    """
    if notation == "tagged":
        return text.strip() or None
    if notation not in NOTATIONS:
        raise ValueError(f"unknown key notation {notation!r} (use {', '.join(NOTATIONS)})")
    key = parse_key(text)
    if key is None:
        return None
    return getattr(key, notation)

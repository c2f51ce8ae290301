"""Normalised titles, artists and mixes, so that noisy DJ tags compare with catalog entries.

``fold(text)``: NFKD without combining marks (accents), letters that do not
decompose spelled out (ø → o, ß → ss, ł → l, ...), case-folded, ``&`` read
as ``and``, apostrophes dropped ("Don't" → "dont"), every other run of
punctuation one space, "pt" / "vol" written out.

``parse_title(name, mix, remixer)`` splits a title into its base, its mix
and the artists it features:

- bracketed or dash suffixes that name a mix: ``(Dixon Remix)``,
  ``[Extended Mix]``, ``- Radio Edit``, ``(Âme Rework)``; the Rekordbox
  ``Mix`` and ``Remixer`` attributes count as such a suffix;
- ``Original Mix``, ``Original``, ``Extended Mix``, ``Extended`` and their
  ``Version`` forms are *plain*: the original recording;
- anything else that names a mix type (remix, edit, dub, rework, bootleg,
  VIP, ...) with somebody's name before it is a *remix* by that somebody;
  without a name (``Radio Edit``, ``Dub Mix``, ``Instrumental``, ``Live``)
  it is a *version* of that type;
- ``(feat. X)`` / ``ft. X`` / ``featuring X`` in the title: featured artists.

``split_artists(text)`` splits an artist field on ``&``, ``,``, ``+``,
``/``, ``;``, ``feat.``, ``ft.``, ``featuring``, ``vs``, ``x`` and
``with``; a leading "The" is dropped from each name.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = ["Mix", "ParsedTitle", "fold", "parse_mix", "parse_title", "split_artists", "tokens"]

_SPELLED = str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE",
                          "ß": "ss", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ð": "d",
                          "Ð": "D", "þ": "th", "Þ": "Th", "ı": "i", "&": " and ",
                          "\u2019": "", "\u2018": "", "'": "", "`": "", "\u00b4": ""})
_NON_WORD = re.compile(r"[\W_]+")

#: words that name a mix type (the last word of a mix suffix)
MIX_WORDS = frozenset({"remix", "rmx", "mix", "edit", "reedit", "rework", "dub", "bootleg",
                       "vip", "refix", "version", "instrumental", "live", "remaster",
                       "remastered", "flip", "redux", "cut", "reprise", "acapella"})
#: folded mix suffixes that mean the original recording
PLAIN = frozenset({"original mix", "original", "original version", "extended mix",
                   "extended", "extended version", "main mix", "album version",
                   "original extended mix"})
_FEAT = re.compile(r"^(?:feat|ft|featuring)\b\.?\s*(.*)$", re.I)
_INLINE_FEAT = re.compile(r"\s+(?:feat\.?|ft\.?|featuring)\s+(.+)$", re.I)
_BRACKETS = re.compile(r"\s*[\(\[]([^()\[\]]*)[\)\]]")
_DASH_SUFFIX = re.compile(r"\s+[-\u2013\u2014]\s+([^-\u2013\u2014]+)$")
_ARTIST_SPLIT = re.compile(
    r"\s*(?:,|&|\+|/|;|\s(?:feat\.?|ft\.?|featuring|vs\.?|versus|x|with|and)\s)\s*", re.I)


#: abbreviations written out, so "Pt. 2" and "Part 2" compare equal
_WORDS = {"pt": "part", "vol": "volume", "feat": "featuring", "ft": "featuring"}


def fold(text: str, expand: bool = True) -> str:
    """text for comparison: no accents, case or punctuation, single spaces (abbreviations
    written out unless expand is False)."""
    text = unicodedata.normalize("NFKD", str(text).translate(_SPELLED))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    words = _NON_WORD.sub(" ", text).split()
    return " ".join(_WORDS.get(w, w) for w in words) if expand else " ".join(words)


def search_words(text: str) -> list[str]:
    """The words of text as a search index sees them: folded, nothing written out, "&" and
    other punctuation dropped."""
    return fold(text.replace("&", " "), expand=False).split()


def tokens(text: str) -> list[str]:
    """The folded words of text."""
    return fold(text).split()


@dataclass(frozen=True)
class Mix:
    """Which recording of a song: ``plain`` (the original), ``remix`` by ``who``, or a
    ``version`` (radio edit, dub, live, ...); ``what`` is the folded mix type word."""

    kind: str = "plain"
    who: str = ""
    what: str = ""

    def label(self) -> str:
        """"original", or e.g. "dixon remix", "radio edit"."""
        return "original" if self.kind == "plain" else " ".join(p for p in (self.who, self.what)
                                                                 if p)


PLAIN_MIX = Mix()


@dataclass(frozen=True)
class ParsedTitle:
    """A title taken apart: the folded base, its mix, featured artists (folded), and the
    base as it was written (for queries: the catalog folds it its own way)."""

    base: str
    mix: Mix
    featured: tuple[str, ...] = ()
    text: str = ""


def parse_mix(text: str, remixer: str = "") -> Mix | None:
    """The Mix a suffix text names; None when it names none ("Part 2", "Live at X" ...)."""
    folded = fold(text)
    if not folded:
        return None
    if folded in PLAIN:
        return PLAIN_MIX
    words = folded.split()
    type_at = max((i for i, w in enumerate(words) if w in MIX_WORDS), default=-1)
    if type_at < 0:
        return None
    what = " ".join(words[type_at:]) if words[type_at] == "mix" else words[type_at]
    who_words = [w for w in words[:type_at] if w not in ("the", "a")]
    if what in ("mix", "version") and who_words in (["original"], ["extended"], ["main"]):
        return PLAIN_MIX
    if words[type_at] in ("mix", "edit", "version", "cut") and who_words in (
            ["radio"], ["club"], ["dub"], ["short"], ["single"], ["album"], ["instrumental"]):
        return Mix("version", "", f"{who_words[0]} {words[type_at]}")
    who = fold(remixer) or " ".join(who_words)
    if what in ("remix", "rmx"):
        what = "remix"
    if not who or what in ("instrumental", "live", "remaster", "remastered", "acapella",
                           "reprise", "version"):
        return Mix("version", "", " ".join(words[type_at:]))
    return Mix("remix", who, what)


def parse_title(name: str, mix: str = "", remixer: str = "") -> ParsedTitle:
    """Base title, mix and featured artists of a track title (and its Mix/Remixer fields)."""
    text = str(name or "").strip()
    featured: list[str] = []
    found: Mix | None = None
    while True:  # suffixes from the end: "T (feat. X) - Y Remix", "T (feat. X) [Y Remix]"
        parsed: Mix | None = None
        match = _last_bracket(text)
        if match is not None:
            feat = _FEAT.match(match.group(1).strip())
            if feat:
                featured += split_artists(feat.group(1))
                text = text[:match.start()]
                continue
            parsed = parse_mix(match.group(1), remixer)
        else:
            match = _DASH_SUFFIX.search(text)
            if match is not None:
                parsed = parse_mix(match.group(1), remixer)
        if parsed is None or match is None:
            break  # "(Part 2)" stays in the title
        found = found or parsed
        text = text[:match.start()]
    inline = _INLINE_FEAT.search(text)
    if inline:
        featured += split_artists(inline.group(1))
        text = text[:inline.start()]
    if mix.strip():
        parsed = parse_mix(mix, remixer)
        if parsed is not None and (found is None or found.kind == "plain"):
            found = parsed
    elif remixer.strip() and found is None:
        found = Mix("remix", fold(remixer), "remix")
    base = fold(text) or fold(name)
    written = " ".join(text.split()) if fold(text) else " ".join(str(name or "").split())
    return ParsedTitle(base, found or PLAIN_MIX, tuple(dict.fromkeys(featured)), written)


def _last_bracket(text: str) -> re.Match[str] | None:
    last = None
    for match in _BRACKETS.finditer(text):
        last = match
    if last is None or text[last.end():].strip():
        return None  # only a suffix: "(Don't) Stop" keeps its brackets
    return last


def split_artists(text: str) -> list[str]:
    """The folded artist names in an artist field, in order, each once."""
    names = []
    for part in _ARTIST_SPLIT.split(text or ""):
        name = fold(part)
        if name.startswith("the "):
            name = name[4:]
        if name and name not in names:
            names.append(name)
    return names

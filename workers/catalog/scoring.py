"""Scores of catalog candidates for one track, and the verdict: matched, ambiguous, no_match.

A score is a weighted mean over what both sides know, times a mix factor:

| part | weight | 1.0 when | 0 when |
|---|---|---|---|
| title | 0.45 | the folded base titles are equal | no word in common, or two words extra |
| artists | 0.35 | the same artists are credited (the main one counts half) | none is |
| duration | 0.15 | within 2 s | more than ``tolerance_s`` + 30 s apart |
| year | 0.05 | the same year | more than 3 years apart |

Titles are compared word by word: words pair up when they are equal or
nearly so (a typo); the title's part is the mean likeness of the pairs,
less 0.5 for each word left without a partner (0.1 for "the", "a", "an",
"and"), so "Neon Harbor" and "Neon Harbor Dreams" are different songs.
Duration and year count only when both sides have them.  The mix factor
keeps remixes and originals apart: 1.0 for the same mix (both original, or
remixes by the same remixer), 0.8 for the same remixer's other mix type
(remix vs edit), 0.6 for an original against a version of it (radio edit,
dub) or two different versions, and 0.2 for an original against a remix, or
remixes by different remixers — far below any useful ``min_score``, so an
original never matches a remix, nor a remix the original.

Verdict: candidates that are the same song (same base title, mix, artists,
lengths within 3 s: duplicates, common in MusicBrainz) count once, the one
released first standing for them.  ``matched`` when the best score is at
least ``min_score`` and at least ``margin`` ahead of the next different
candidate; ``ambiguous`` when it reaches min_score but another is that
close; ``no_match`` otherwise.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

from .normalise import Mix, ParsedTitle, parse_mix, parse_title, split_artists

__all__ = ["Candidate", "Query", "Scored", "Verdict", "decide", "score", "title_likeness"]

WEIGHTS = {"title": 0.45, "artists": 0.35, "duration": 0.15, "year": 0.05}
#: lengths of two recordings this close (seconds) may be the same song
SAME_LENGTH_S = 3.0
#: candidates listed in an item's details
TOP = 5


@dataclass(frozen=True)
class Query:
    """One track as the matcher sees it."""

    title: str
    artist: str
    mix: str = ""
    remixer: str = ""
    album: str = ""
    duration_s: float | None = None
    year: int | None = None
    parsed: ParsedTitle = field(init=False)
    artists: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        parsed = parse_title(self.title, self.mix, self.remixer)
        object.__setattr__(self, "parsed", parsed)
        names = split_artists(self.artist) + [a for a in parsed.featured]
        object.__setattr__(self, "artists", tuple(dict.fromkeys(names)))

    def describe(self) -> dict[str, Any]:
        """The query as item details show it."""
        return {"title": self.title, "artist": self.artist, "mix": self.parsed.mix.label(),
                "duration_s": self.duration_s, "year": self.year, "album": self.album}


@dataclass(frozen=True)
class Candidate:
    """One recording of the catalog's answer."""

    recording_id: str
    title: str
    artist: str
    credited: tuple[str, ...] = ()
    length_s: float | None = None
    date: str = ""
    releases: tuple[dict[str, Any], ...] = ()
    isrcs: tuple[str, ...] = ()
    disambiguation: str = ""
    parsed: ParsedTitle = field(init=False)
    artists: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        parsed = parse_title(self.title)
        if parsed.mix.kind == "plain" and self.disambiguation:  # "x remix" noted only there
            mix = parse_mix(self.disambiguation)
            if mix is not None and mix.kind != "plain":
                parsed = ParsedTitle(parsed.base, mix, parsed.featured, parsed.text)
        object.__setattr__(self, "parsed", parsed)
        names: list[str] = []
        for credit in self.credited or (self.artist,):
            names += split_artists(credit)
        names += parsed.featured
        object.__setattr__(self, "artists", tuple(dict.fromkeys(names)))

    @property
    def year(self) -> int | None:
        head = self.date[:4]
        return int(head) if head.isdigit() else None


@dataclass(frozen=True)
class Scored:
    """A candidate with its score and the parts of it."""

    score: float
    candidate: Candidate
    parts: dict[str, float]


@dataclass(frozen=True)
class Verdict:
    """matched / ambiguous / no_match, the best candidate (if any) and the top list."""

    status: str
    best: Scored | None
    ranked: list[Scored]


@functools.lru_cache(maxsize=65536)
def similar(a: str, b: str) -> float:
    """0..1 likeness of two folded strings (equal: 1)."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    ta, tb = set(a.split()), set(b.split())
    jaccard = len(ta & tb) / len(ta | tb)
    return max(jaccard, SequenceMatcher(None, a, b, autojunk=False).ratio())


#: words whose absence on one side of a title costs little
LIGHT_WORDS = frozenset({"the", "a", "an", "and"})


@functools.lru_cache(maxsize=65536)
def title_likeness(a: str, b: str) -> float:
    """0..1 likeness of two folded titles, word by word (see the module docstring)."""
    if a == b:
        return 1.0
    wa, wb = a.split(), b.split()
    if not wa or not wb:
        return 0.0
    free = list(range(len(wb)))
    ratios: list[float] = []
    alone: list[str] = []
    for word in wa:
        best, at = 0.0, -1
        for j in free:
            r = 1.0 if word == wb[j] else SequenceMatcher(None, word, wb[j],
                                                            autojunk=False).ratio()
            if r > best:
                best, at = r, j
        if best >= 0.75:
            ratios.append(best)
            free.remove(at)
        else:
            alone.append(word)
    alone += [wb[j] for j in free]
    if not ratios:
        return 0.0
    cost = sum(0.1 if w in LIGHT_WORDS else 0.5 for w in alone)
    return max(0.0, sum(ratios) / len(ratios) - cost)


@functools.lru_cache(maxsize=65536)
def name_likeness(a: str, b: str) -> float:
    """0..1 likeness of two folded artist names ("dj koze" and "koze": 0.9)."""
    if a == b:
        return 1.0
    ta, tb = set(a.split()), set(b.split())
    if ta and tb and (ta <= tb or tb <= ta):
        return 0.9
    ratio = SequenceMatcher(None, a, b, autojunk=False).ratio()
    return ratio if ratio >= 0.8 else ratio * 0.5


def artist_score(query: tuple[str, ...], cand: tuple[str, ...]) -> float:
    """The main artist credited counts half, the F-measure of all artists half."""
    if not query or not cand:
        return 0.0
    main = max(name_likeness(query[0], c) for c in cand)
    recall = sum(max(name_likeness(q, c) for c in cand) for q in query) / len(query)
    precision = sum(max(name_likeness(c, q) for q in query) for c in cand) / len(cand)
    f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    whole = similar(" ".join(sorted(query)), " ".join(sorted(cand)))
    return max(0.5 * main + 0.5 * f, whole if whole >= 0.95 else 0.0)


def mix_factor(q: Mix, c: Mix) -> float:
    """How well two mixes agree (see the module docstring)."""
    if q.kind == c.kind == "plain":
        return 1.0
    if q.kind == c.kind == "remix":
        if name_likeness(q.who, c.who) < 0.8:
            return 0.2
        return 1.0 if q.what == c.what or {q.what, c.what} <= {"remix", "mix"} else 0.8
    if q.kind == c.kind == "version":
        return 1.0 if q.what == c.what else 0.6
    if "remix" in (q.kind, c.kind):
        return 0.2
    return 0.6  # the original against a version of it


def duration_score(q: float, c: float, tolerance_s: float) -> float:
    diff = abs(q - c)
    if diff <= 2.0:
        return 1.0
    if diff <= tolerance_s:
        return 1.0 - 0.5 * (diff - 2.0) / max(tolerance_s - 2.0, 1e-6)
    return max(0.0, 0.5 - (diff - tolerance_s) / 60.0)


def year_score(q: int, c: int) -> float:
    diff = abs(q - c)
    return 1.0 if diff == 0 else 0.6 if diff == 1 else 0.3 if diff <= 3 else 0.0


def score(query: Query, cand: Candidate, tolerance_s: float = 10.0) -> Scored:
    """The candidate's score for the query (0..1, three decimals)."""
    parts = {"title": title_likeness(query.parsed.base, cand.parsed.base),
             "artists": artist_score(query.artists, cand.artists)}
    if query.duration_s and cand.length_s:
        parts["duration"] = duration_score(query.duration_s, cand.length_s, tolerance_s)
    if query.year and cand.year:
        parts["year"] = year_score(query.year, cand.year)
    total = sum(WEIGHTS[k] * v for k, v in parts.items()) / sum(WEIGHTS[k] for k in parts)
    parts["mix"] = mix_factor(query.parsed.mix, cand.parsed.mix)
    return Scored(round(total * parts["mix"], 3), cand,
                  {k: round(v, 3) for k, v in parts.items()})


def same_song(a: Candidate, b: Candidate) -> bool:
    """Two recordings that only a duplicate entry tells apart."""
    if a.parsed.base != b.parsed.base or a.parsed.mix != b.parsed.mix:
        return False
    if sorted(a.artists) != sorted(b.artists):
        return False
    return a.length_s is None or b.length_s is None or \
        abs(a.length_s - b.length_s) <= SAME_LENGTH_S


def _first_release(s: Scored) -> tuple[float, str, int, str]:
    return (-s.score, s.candidate.date or "9999", -len(s.candidate.releases),
            s.candidate.recording_id)


def decide(query: Query, candidates: list[Candidate], *, min_score: float, margin: float,
           tolerance_s: float = 10.0, memo: dict[str, Scored] | None = None) -> Verdict:
    """Score every candidate (each recording once; memo keeps scores across calls for one
    query) and give the verdict."""
    memo = {} if memo is None else memo
    seen: set[str] = set()
    scored = []
    for cand in candidates:
        if cand.recording_id not in seen:
            seen.add(cand.recording_id)
            if cand.recording_id not in memo:
                memo[cand.recording_id] = score(query, cand, tolerance_s)
            scored.append(memo[cand.recording_id])
    scored.sort(key=_first_release)
    ranked: list[Scored] = []
    for s in scored:  # one per song: the best (then first released) duplicate stands for it
        if not any(same_song(s.candidate, r.candidate) for r in ranked):
            ranked.append(s)
    if not ranked:
        return Verdict("no_match", None, [])
    best = ranked[0]
    runner = ranked[1].score if len(ranked) > 1 else 0.0
    if best.score >= min_score and best.score - runner >= margin:
        return Verdict("matched", best, ranked)
    if best.score >= min_score:
        return Verdict("ambiguous", best, ranked)
    return Verdict("no_match", best, ranked)

"""Match one track: the query ladder against the catalog, the verdict, the item it becomes.

``match_source`` asks the levels of musicbrainz.ladder in turn, pooling
their candidates, and stops at the first verdict other than no_match.  The
outcome is an item: status ``matched``, ``ambiguous``, ``no_match``,
``skipped`` (nothing to look up) or ``catalog_error`` (the catalog failed
for this track after its retries, or answered something unusable), with
details (SPEC: free-form item details):

``track_id``, ``query`` (what was looked up), ``recording_id``, ``score``,
``title``, ``artist``, ``release``, ``release_id``, ``date``, ``isrc``,
``label`` (when asked for), ``length_s``, ``candidates`` (the top ones:
recording_id, title, artist, release, date, length_s, score), ``level``
(which query decided), ``requests`` and ``cached`` (this track's catalog requests and
answers taken from the cache).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .musicbrainz import Catalog, CatalogError, ladder
from .normalise import fold
from .scoring import TOP, Candidate, Scored, Verdict, decide, similar
from .sources import Source

__all__ = ["MatchOptions", "Outcome", "match_source", "pick_release", "values_of"]


@dataclass(frozen=True)
class MatchOptions:
    """The scoring and writing parameters of a job."""

    min_score: float = 0.8
    margin: float = 0.05
    tolerance_s: float = 10.0
    want_label: bool = False


@dataclass
class Outcome:
    """One item result and, when matched, the values the job may write."""

    source: Source
    status: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    duration_ms: float = 0.0
    transient: bool = False


def pick_release(cand: Candidate, album: str) -> dict[str, Any]:
    """The release to report: the one named like the track's album, else the first official
    one released (else the first listed); {} when the recording lists none."""
    releases = list(cand.releases)
    if not releases:
        return {}
    if album.strip():
        wanted = fold(album)
        best = max(releases, key=lambda r: similar(wanted, fold(r["title"])))
        if similar(wanted, fold(best["title"])) >= 0.8:
            return best
    official = [r for r in releases if r.get("status", "").lower() == "official"] or releases
    return min(official, key=lambda r: (not r.get("date"), r.get("date") or ""))


def _candidate(s: Scored) -> dict[str, Any]:
    c = s.candidate
    release = pick_release(c, "")
    return {"recording_id": c.recording_id, "title": c.title, "artist": c.artist,
            "release": release.get("title", ""), "date": c.date,
            "length_s": round(c.length_s, 1) if c.length_s else None, "score": s.score}


def values_of(best: Scored, release: dict[str, Any], labels: list[str]) -> dict[str, str]:
    """The values a matched track may have written, by field name."""
    c = best.candidate
    date = release.get("date") or c.date
    out = {"title": c.title, "artist": c.artist, "album": release.get("title", ""),
           "year": date[:4] if date[:4].isdigit() else "", "isrc": c.isrcs[0] if c.isrcs else "",
           "mbid": c.recording_id, "label": labels[0] if labels else ""}
    return {k: v for k, v in out.items() if v}


def _message(verdict: Verdict, margin: float) -> str:
    best = verdict.best
    if verdict.status == "matched" and best is not None:
        return f"{best.candidate.artist} - {best.candidate.title} ({best.score:.2f})"
    if verdict.status == "ambiguous":
        close = [s for s in verdict.ranked if verdict.best and verdict.best.score - s.score
                 < max(margin, 0.01)][:3]
        return "close candidates: " + "; ".join(f"{s.candidate.artist} - {s.candidate.title} "
                                                f"({s.score:.2f})" for s in close)
    if best is not None:
        return f"best candidate scores {best.score:.2f}: {best.candidate.artist} - " \
               f"{best.candidate.title}"
    return "the catalog has no candidate"


async def match_source(catalog: Catalog, source: Source, opts: MatchOptions) -> Outcome:
    """The item of one track (catalog errors become catalog_error items, never raised)."""
    started = time.perf_counter()
    base = {"track_id": source.track_id}
    if source.query is None:
        return Outcome(source, "skipped", source.problem, base)
    query = source.query
    tally: Counter[str] = Counter()
    pooled: list[Candidate] = []
    verdict = Verdict("no_match", None, [])
    level = 0
    memo: dict[str, Any] = {}
    try:
        for number, (lucene, limit) in enumerate(ladder(query), 1):
            level = number
            pooled += await catalog.search(lucene, limit, tally)
            verdict = decide(query, pooled, min_score=opts.min_score, margin=opts.margin,
                             tolerance_s=opts.tolerance_s, memo=memo)
            if verdict.status != "no_match":
                break
        labels: list[str] = []
        release: dict[str, Any] = {}
        if verdict.status == "matched" and verdict.best is not None:
            release = pick_release(verdict.best.candidate, query.album)
            if opts.want_label and release.get("id"):
                labels = await catalog.labels(release["id"], tally)
    except CatalogError as exc:
        return Outcome(source, "catalog_error", exc.message,
                       {**base, "query": query.describe(), "requests": tally["requests"]},
                       duration_ms=(time.perf_counter() - started) * 1000,
                       transient=exc.transient)
    details: dict[str, Any] = {**base, "query": query.describe(), "level": level,
                               "requests": tally["requests"], "cached": tally["cached"],
                               "candidates": [_candidate(s) for s in verdict.ranked[:TOP]]}
    values: dict[str, str] = {}
    best = verdict.best
    if best is not None:
        details["score"] = best.score
        details["parts"] = best.parts
    if verdict.status == "matched" and best is not None:
        c = best.candidate
        details.update(recording_id=c.recording_id, title=c.title, artist=c.artist,
                       release=release.get("title", ""), release_id=release.get("id", ""),
                       date=release.get("date") or c.date,
                       isrc=c.isrcs[0] if c.isrcs else "",
                       length_s=round(c.length_s, 1) if c.length_s else None)
        if opts.want_label:
            details["label"] = labels[0] if labels else ""
        values = values_of(best, release, labels)
    message = _message(verdict, opts.margin)
    if source.note:
        message = f"{message} ({source.note})"
    return Outcome(source, verdict.status, message, details, values,
                   duration_ms=(time.perf_counter() - started) * 1000)

"""MusicBrainz ws/2 recording search through ``ctx.http``, with the answer cache in front.

Queries (Lucene syntax, ``GET /ws/2/recording?query=...&fmt=json&limit=N``)
escalate from strict to loose; the matcher stops at the first level whose
candidates (pooled with those of the levels before) give a verdict other
than no_match:

1. ``recording:"<title>" AND artist:"<main artist>"`` (a remix adds
   ``AND recording:"<remixer>"``), limit 10;
2. ``recording:(<title words> OR ...) AND artist:(<artist words> OR ...)``,
   limit 25: word order, joins and spellings of the artists differ;
3. ``recording:"<title>"`` (and the remixer), limit 25: the artist is
   spelled another way altogether; scoring still checks it;
4. ``recording:(<title words>~1 OR ...) AND artist:(<artist words> OR ...)``,
   limit 25: a typo in the title (Lucene fuzzy terms, one edit).

An answer is a JSON map with a ``recordings`` list; each recording needs a
string ``id`` and ``title``.  Anything else (not JSON, another shape) is a
CatalogError for the item, never cached.  A label is not in search answers:
it takes a release lookup (``/ws/2/release/<id>?inc=labels``), made only
when ``label`` is among the fields to write, and cached the same way.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from medialoom.workers.context import JobContext
from medialoom.workers.errors import HttpError

from .cache import AnswerCache
from .normalise import search_words
from .scoring import Candidate, Query

__all__ = ["Catalog", "CatalogError", "ladder", "parse_recordings"]

STRICT_LIMIT = 10
LOOSE_LIMIT = 25


class CatalogError(Exception):
    """The catalog's answer for one request is unusable (after retries, when transient)."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient


def phrase(text: str) -> str:
    """text as a Lucene phrase."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


#: words left out of term lists: some Lucene parsers read them as operators in any case
_OPERATORS = frozenset({"and", "or", "not", "to"})


def _any_of(words: list[str]) -> str:
    kept = [w for w in dict.fromkeys(words) if w.rstrip("~1") not in _OPERATORS] or words[:1]
    return "(" + " OR ".join(kept) + ")"


def ladder(query: Query) -> list[tuple[str, int]]:
    """The (Lucene query, limit) of each level, strict first; [] when there is no title.

    Phrases are the title as written (minus its mix and feat. suffixes) and the artist
    names: the catalog folds case, accents and punctuation itself."""
    title = query.parsed.text
    words = search_words(title)
    if not words:
        return []
    mix = query.parsed.mix
    remixer = f" AND recording:{phrase(mix.who)}" if mix.kind == "remix" and mix.who else ""
    levels = []
    if query.artists:
        artist_words = [w for name in query.artists for w in search_words(name)]
        levels.append((f"recording:{phrase(title)}{remixer} AND artist:"
                       f"{phrase(query.artists[0])}", STRICT_LIMIT))
        levels.append((f"recording:{_any_of(words)} AND artist:{_any_of(artist_words)}",
                       LOOSE_LIMIT))
    levels.append((f"recording:{phrase(title)}{remixer}", LOOSE_LIMIT))
    if query.artists:
        fuzzy = [f"{w}~1" if len(w) >= 4 else w for w in words]
        levels.append((f"recording:{_any_of(fuzzy)} AND artist:{_any_of(artist_words)}",
                       LOOSE_LIMIT))
    return levels


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _credit(value: Any) -> tuple[str, tuple[str, ...]]:
    """(the credit as one string, the credited names) of an artist-credit list."""
    if not isinstance(value, list):
        return "", ()
    text, names = "", []
    for part in value:
        if not isinstance(part, dict):
            continue
        artist = part.get("artist") if isinstance(part.get("artist"), dict) else {}
        name = _text(part.get("name")) or _text(artist.get("name"))
        text += name + _text(part.get("joinphrase"))
        names.append(name)
        if _text(artist.get("name")) and artist["name"] != name:
            names.append(artist["name"])
    return text.strip(), tuple(n for n in names if n)


def _release(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not isinstance(value.get("id"), str):
        return None
    return {"id": value["id"], "title": _text(value.get("title")),
            "date": _text(value.get("date")), "status": _text(value.get("status"))}


def parse_recordings(body: Any) -> list[Candidate]:
    """The candidates of a recording-search answer; CatalogError for an unexpected shape."""
    if not isinstance(body, dict) or not isinstance(body.get("recordings"), list):
        keys = ", ".join(sorted(body)[:6]) if isinstance(body, dict) else type(body).__name__
        raise CatalogError(f"the catalog's answer has no recordings list (got {keys})")
    out = []
    for rec in body["recordings"]:
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), str) \
                or not isinstance(rec.get("title"), str):
            continue
        artist, credited = _credit(rec.get("artist-credit"))
        length = rec.get("length")
        releases = tuple(r for r in map(_release, rec.get("releases") or []
                                        if isinstance(rec.get("releases"), list) else [])
                         if r is not None)
        isrcs = rec.get("isrcs") if isinstance(rec.get("isrcs"), list) else []
        out.append(Candidate(
            recording_id=rec["id"], title=rec["title"], artist=artist, credited=credited,
            length_s=length / 1000 if isinstance(length, int | float)
            and not isinstance(length, bool) and length > 0 else None,
            date=_text(rec.get("first-release-date")), releases=releases,
            isrcs=tuple(i for i in isrcs if isinstance(i, str)),
            disambiguation=_text(rec.get("disambiguation"))))
    if body["recordings"] and not out:
        raise CatalogError("the catalog's recordings have no id and title")
    return out


def parse_labels(body: Any) -> list[str]:
    """Label names of a release lookup answer (``label-info``)."""
    if not isinstance(body, dict):
        raise CatalogError("the catalog's release answer is not a JSON map")
    names = []
    for info in body.get("label-info") or []:
        label = info.get("label") if isinstance(info, dict) else None
        if isinstance(label, dict) and isinstance(label.get("name"), str):
            names.append(label["name"])
    return list(dict.fromkeys(names))


class Catalog:
    """One job's access to the catalog: cache first, then ``ctx.http``."""

    def __init__(self, ctx: JobContext, base_url: str, cache: AnswerCache | None, *,
                 timeout_s: float, attempts: int, ttl_s: float) -> None:
        self.ctx = ctx
        self.base = base_url.rstrip("/")
        self.cache = cache
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.ttl_s = ttl_s
        self.requests = 0
        self.cached = 0

    def __repr__(self) -> str:
        return f"<Catalog {self.base} requests={self.requests} cached={self.cached}>"

    async def search(self, lucene: str, limit: int, tally: Counter[str] | None = None
                     ) -> list[Candidate]:
        """Candidates for one Lucene query (tally counts "requests" and "cached" answers)."""
        params = {"query": lucene, "fmt": "json", "limit": str(limit)}
        body = await self._get(f"{self.base}/ws/2/recording", params, tally=tally)
        return parse_recordings(body)

    async def labels(self, release_id: str, tally: Counter[str] | None = None) -> list[str]:
        """The labels of one release."""
        params = {"inc": "labels", "fmt": "json"}
        return parse_labels(await self._get(f"{self.base}/ws/2/release/{release_id}", params,
                                            check=parse_labels, tally=tally))

    async def _get(self, url: str, params: dict[str, str],
                   check: Callable[[Any], Any] = parse_recordings,
                   tally: Counter[str] | None = None) -> Any:
        tally = Counter() if tally is None else tally
        key = f"{url}?{urlencode(sorted(params.items()))}"
        if self.cache is not None:
            body = await self.ctx.run_blocking(self.cache.get, key, time.time())
            if body is not None:
                self.cached += 1
                tally["cached"] += 1
                return body
        self.requests += 1
        tally["requests"] += 1
        try:
            body = await self.ctx.http.get_json(url, params=params, timeout_s=self.timeout_s,
                                                attempts=self.attempts)
        except HttpError as exc:
            raise CatalogError(exc.message, transient=exc.transient) from None
        check(body)  # CatalogError for an answer of the wrong shape: not cached
        if self.cache is not None:
            await self.ctx.run_blocking(self.cache.put, key, body, time.time(), self.ttl_s)
        return body

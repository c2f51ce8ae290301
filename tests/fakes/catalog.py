"""A local MusicBrainz ws/2 server over a fixture dataset, for tests and benchmarks.

It answers ``GET /ws/2/recording?query=<lucene>&fmt=json&limit=N`` with the
JSON shape of musicbrainz.org (``created``, ``count``, ``offset``,
``recordings``: id, score, title, length, disambiguation, artist-credit,
first-release-date, releases, isrcs) and ``GET /ws/2/release/<id>?inc=labels``
with ``label-info``.  The Lucene subset it understands: ``field:term``,
``field:"a phrase"``, ``field:(a OR b)``, ``term~1`` (fuzzy: one edit, a
swap of neighbours counting one), AND, OR, NOT, parentheses and
backslash escapes; fields recording (the default), artist, artistname,
release, isrc; text is folded to lower-case ASCII as MusicBrainz's index does,
independently of medialoom's own normaliser.

Misbehaviour on demand: ``latency_s`` per request; more than ``rate``
requests within any second answered 503 (as MusicBrainz does); an outage
(``outage(seconds)``: every request 503 until then); ``faults`` by query
substring: ``"invalid_json"``, ``"bad_shape"``, ``"500"``, ``"hang"``.
Every request is recorded (arrival time, path, query, status, in-flight
count), so tests can check what the catalog saw.  ``FakeCatalog`` runs the
server in a thread of its own with its own event loop, so blocking test
code does not stall it.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import unicodedata
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

_LETTERS = str.maketrans({"ø": "o", "Ø": "o", "æ": "ae", "Æ": "ae", "ß": "ss", "ł": "l",
                          "Ł": "l", "đ": "d", "ð": "d", "œ": "oe", "þ": "th"})


def index_tokens(text: str) -> list[str]:
    """Lower-case ASCII-folded words, as a Lucene ASCIIFoldingFilter would give."""
    text = unicodedata.normalize("NFKD", text.translate(_LETTERS))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return [t for t in re.split(r"[^\w]+|_", text.replace("'", "")) if t]


# --- a small Lucene query parser -------------------------------------------------------------

_TOKEN = re.compile(r'\s*(?:(\()|(\))|("(?:[^"\\]|\\.)*")|((?:[^\s()":\\]|\\.)+:)|'
                    r'((?:[^\s()"\\]|\\.)+))')


def _lex(query: str) -> list[tuple[str, str]]:
    out, at = [], 0
    while at < len(query):
        m = _TOKEN.match(query, at)
        if m is None or m.end() == at:
            if query[at:].strip():
                raise ValueError(f"cannot parse the query at {query[at:at + 20]!r}")
            break
        at = m.end()
        kind = ("(", ")", "phrase", "field", "term")[m.lastindex - 1]
        out.append((kind, m.group(m.lastindex)))
    return out


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = _lex(query)
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self, fieldname: str = "recording") -> Any:
        node = self.or_expr(fieldname)
        if self.peek() is not None:
            raise ValueError("unexpected text after the query")
        return node

    def or_expr(self, f: str) -> Any:
        parts = [self.and_expr(f)]
        while True:
            token = self.peek()
            if token is None or token[0] == ")":
                return parts[0] if len(parts) == 1 else ("or", parts)
            if token == ("term", "OR"):
                self.take()
            parts.append(self.and_expr(f))  # juxtaposition: OR (Lucene's default)

    def and_expr(self, f: str) -> Any:
        parts = [self.unary(f)]
        while self.peek() == ("term", "AND"):
            self.take()
            parts.append(self.unary(f))
        return parts[0] if len(parts) == 1 else ("and", parts)

    def unary(self, f: str) -> Any:
        if self.peek() == ("term", "NOT"):
            self.take()
            return ("not", self.unary(f))
        return self.primary(f)

    def primary(self, f: str) -> Any:
        kind, text = self.take()
        if kind == "field":
            return self.primary(text[:-1].lower())
        if kind == "(":
            node = self.or_expr(f)
            if self.peek() != (")", ")"):
                raise ValueError("unbalanced parentheses")
            self.take()
            return node
        if kind == "phrase":
            return ("phrase", f, index_tokens(_unescape(text[1:-1])))
        if kind == "term":
            fuzzy = re.fullmatch(r"(.+)~(\d?)", text)
            if fuzzy:
                word = "".join(index_tokens(_unescape(fuzzy.group(1))))
                return ("fuzzy", f, word, int(fuzzy.group(2) or 2))
            return ("phrase", f, index_tokens(_unescape(text)))
        raise ValueError(f"unexpected {text!r}")


def _contains(haystack: list[str], needle: list[str]) -> bool:
    if not needle:
        return False
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def _edits(a: str, b: str) -> int:
    """Damerau-Levenshtein distance (adjacent transpositions count one), as Lucene's fuzzy."""
    if abs(len(a) - len(b)) > 2:
        return 3
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


class Index:
    """Inverted index of the search documents: field -> word -> document numbers."""

    def __init__(self, docs: list[dict[str, list[list[str]]]]) -> None:
        self.docs = docs
        self.near: dict[tuple[str, str, int], frozenset[str]] = {}
        self.postings: dict[str, dict[str, set[int]]] = {}
        for n, doc in enumerate(docs):
            for f, values in doc.items():
                for value in values:
                    for t in value:
                        self.postings.setdefault(f, {}).setdefault(t, set()).add(n)

    def words(self, f: str) -> set[str]:
        return set(self.postings.get(f, {}))

    def docs_with(self, f: str, word: str) -> set[int]:
        return self.postings.get(f, {}).get(word, set())

    def evaluate(self, node: Any) -> dict[int, float]:
        """Document number -> relevance, for the documents that match node."""
        op = node[0]
        if op == "phrase":
            _, f, words = node
            if not words:
                return {}
            found = set.intersection(*(self.docs_with(f, w) for w in words))
            return {n: float(len(words)) for n in found
                    if any(_contains(v, words) for v in self.docs[n].get(f, []))}
        if op == "anyof":  # a fuzzy term, expanded to the words it matches (_expand)
            _, f, words = node
            return {n: 0.5 for w in words for n in self.docs_with(f, w)}
        if op == "not":
            inner = self.evaluate(node[1])
            return {n: 0.001 for n in range(len(self.docs)) if n not in inner}
        scores = [self.evaluate(part) for part in node[1]]
        if op == "and":
            keys = set.intersection(*(set(s) for s in scores))
            return {n: sum(s[n] for s in scores) for n in keys}
        out: dict[int, float] = {}
        for part in scores:
            for n, v in part.items():
                out[n] = out.get(n, 0.0) + v
        return out


# --- the dataset as search documents -----------------------------------------------------------


def credit_text(credit: list[dict[str, Any]]) -> str:
    """An artist-credit list as one string (names and join phrases)."""
    return "".join(c["name"] + c.get("joinphrase", "") for c in credit)


def _document(rec: dict[str, Any]) -> dict[str, list[list[str]]]:
    names = [c["name"] for c in rec["artist-credit"]] + \
        [c["artist"]["name"] for c in rec["artist-credit"]]
    return {"recording": [index_tokens(rec["title"])],
            "artist": [index_tokens(credit_text(rec["artist-credit"]))]
            + [index_tokens(n) for n in names],
            "artistname": [index_tokens(n) for n in names],
            "release": [index_tokens(r["title"]) for r in rec.get("releases", [])],
            "isrc": [[i.lower()] for i in rec.get("isrcs", [])]}


def _expand(node: Any, index: Index) -> Any:
    """node with each fuzzy term replaced by the set of indexed words within its edits."""
    if node[0] == "fuzzy":
        _, f, word, edits = node
        key = (f, word, edits)
        if key not in index.near:
            index.near[key] = frozenset(t for t in index.words(f) if _edits(word, t) <= edits)
        return ("anyof", f, index.near[key])
    if node[0] == "not":
        return ("not", _expand(node[1], index))
    if node[0] in ("and", "or"):
        return (node[0], [_expand(part, index) for part in node[1]])
    return node


def search(recordings: list[dict[str, Any]], index: Index, query: str, limit: int
           ) -> list[dict[str, Any]]:
    """The best limit recordings for query, each with its 0..100 score."""
    found = index.evaluate(_expand(_Parser(query).parse(), index))
    hits = sorted(((score, recordings[n]) for n, score in found.items()),
                  key=lambda h: (-h[0], h[1]["id"]))
    top = hits[0][0] if hits else 1.0
    return [{**rec, "score": int(round(100 * s / top))} for s, rec in hits[:limit]]


# --- the server ----------------------------------------------------------------------------


@dataclass
class Hit:
    """One request the catalog saw."""

    at: float
    path: str
    query: str
    status: int = 0
    agent: str = ""
    wall: float = 0.0


@dataclass
class CatalogState:
    """What the fake knows and records."""

    recordings: list[dict[str, Any]]
    releases: dict[str, dict[str, Any]]
    latency_s: float = 0.0
    rate: float | None = None
    faults: dict[str, str] = field(default_factory=dict)
    outage_until: float = 0.0
    hits: list[Hit] = field(default_factory=list)
    inflight: int = 0
    max_inflight: int = 0
    window: deque[float] = field(default_factory=deque)

    def __post_init__(self) -> None:
        self.index = Index([_document(r) for r in self.recordings])


def _busy() -> web.Response:
    return web.json_response({"error": "Your requests are exceeding the allowable rate "
                              "limit. Please see https://wiki.musicbrainz.org/XMLWebService "
                              "for more information."}, status=503)


async def _fault(state: CatalogState, hit: Hit) -> web.Response | None:
    """The misbehaviour asked for this query, if any."""
    for marker, fault in state.faults.items():
        if marker in hit.query:
            if fault == "invalid_json":
                return web.Response(text='{"recordings": [', content_type="application/json")
            if fault == "bad_shape":
                return web.json_response({"results": "elsewhere"})
            if fault == "500":
                return web.Response(status=500, text="Internal Server Error")
            if fault == "hang":
                await asyncio.sleep(3600)
    return None


def make_app(state: CatalogState) -> web.Application:
    """The aiohttp application of the fake."""

    async def serve(request: web.Request, answer: Any) -> web.StreamResponse:
        now = time.monotonic()
        hit = Hit(now, request.path, request.query.get("query", ""),
                  agent=request.headers.get("User-Agent", ""), wall=time.time())
        state.hits.append(hit)
        state.window.append(now)
        while state.window and state.window[0] <= now - 1.0:
            state.window.popleft()
        state.inflight += 1
        state.max_inflight = max(state.max_inflight, state.inflight)
        try:
            if state.latency_s:
                await asyncio.sleep(state.latency_s)
            if now < state.outage_until or (state.rate is not None
                                            and len(state.window) > state.rate):
                response = _busy()
            else:
                response = await answer(request, hit)
        finally:
            state.inflight -= 1
        hit.status = response.status
        return response

    async def recordings(request: web.Request, hit: Hit) -> web.StreamResponse:
        if request.query.get("fmt") != "json":
            return web.Response(status=406, text="only fmt=json here")
        faulty = await _fault(state, hit)
        if faulty is not None:
            return faulty
        try:
            limit = max(1, min(100, int(request.query.get("limit", "25"))))
            found = search(state.recordings, state.index, hit.query, limit)
        except ValueError as exc:
            return web.json_response({"error": f"Invalid query: {exc}"}, status=400)
        return web.json_response({"created": "2024-01-01T00:00:00.000Z", "count": len(found),
                                  "offset": 0, "recordings": found})

    async def release(request: web.Request, hit: Hit) -> web.StreamResponse:
        rel = state.releases.get(request.match_info["rid"])
        if rel is None:
            return web.json_response({"error": "Not Found"}, status=404)
        return web.json_response(rel)

    async def recording_search(request: web.Request) -> web.StreamResponse:
        return await serve(request, recordings)

    async def release_lookup(request: web.Request) -> web.StreamResponse:
        return await serve(request, release)

    app = web.Application()
    app.router.add_get("/ws/2/recording", recording_search)
    app.router.add_get("/ws/2/release/{rid}", release_lookup)
    return app


class FakeCatalog:
    """The fake in a thread of its own: ``with FakeCatalog(dataset) as fake: fake.url``."""

    def __init__(self, recordings: list[dict[str, Any]], releases: dict[str, dict[str, Any]],
                 *, latency_s: float = 0.0, rate: float | None = None) -> None:
        self.state = CatalogState(recordings, releases, latency_s, rate)
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._failure: BaseException | None = None

    def __enter__(self) -> FakeCatalog:
        self._thread = threading.Thread(target=self._run, name="fake-catalog", daemon=True)
        self._thread.start()
        if not self._ready.wait(10) or self._failure is not None:
            raise RuntimeError("the fake catalog did not start") from self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # told to the test's thread by __enter__
            self._failure = exc
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = web.AppRunner(make_app(self.state), access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()

    # --- controls and records (called from the test's thread) ----------------------------

    def outage(self, seconds: float) -> None:
        """Answer every request 503 for the next seconds."""
        self.state.outage_until = time.monotonic() + seconds

    def fault(self, marker: str, kind: str) -> None:
        """Misbehave on queries containing marker (invalid_json, bad_shape, 500, hang)."""
        self.state.faults[marker] = kind

    @property
    def hits(self) -> list[Hit]:
        return list(self.state.hits)

    def searches(self) -> list[Hit]:
        """The recording searches seen so far."""
        return [h for h in self.hits if h.path == "/ws/2/recording"]

    def max_in_any_second(self) -> int:
        """The most requests that arrived within any one second (a sliding window)."""
        times = sorted(h.at for h in self.hits)
        best, start = 0, 0
        for end, t in enumerate(times):
            while times[start] <= t - 1.0:
                start += 1
            best = max(best, end - start + 1)
        return best

"""HTTP for job kinds: ``ctx.http`` (workers/context.py).  The only module that imports aiohttp.

One aiohttp ClientSession per worker process, created on first use in the
worker's event loop and closed when the worker stops (``close_session``).
Each job gets a JobHttp over it with its own concurrency bound; a token
bucket per host, shared by every job of the process, spaces requests out;
connection errors, timeouts, 429 and 5xx are retried with exponential
backoff and full jitter, and a ``Retry-After`` (seconds or an HTTP date) is
waited out instead when the server sends one.  A cancel interrupts a
request or a wait at once.

A kind declares a *shared* limit (``limit_host(host, per_s, shared=True)``)
when the budget belongs to the whole broker, not to one process (a public
catalog that limits per client IP, and every worker of a LAN shares one
IP): each attempt then first asks the broker for a request token for the
host (W:TOKEN / B:GRANT, SPEC.md section 6) and waits the time the grant
says.  A token is used only if the wait ends within LATE_S of its slot,
counted from when the TOKEN left (so a slow answer counts as late too): a
process that was busy or starved of CPU past it asks again rather than send
a request the budget did not plan for.  Without a broker (a kind run
in-process) the process bucket stands in for it.
"""

from __future__ import annotations

import asyncio
import email.utils
import json as jsonlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import aiohttp
from yarl import URL

from .errors import HttpError, JobCancelled

log = logging.getLogger("medialoom.http")

#: requests per second and burst of a host's bucket unless limit_host said otherwise
DEFAULT_RATE_PER_S = 10.0
DEFAULT_BURST = 10
#: attempts of one request (the first one and its retries)
DEFAULT_ATTEMPTS = 5
BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 30.0
#: a Retry-After longer than this is not waited out: the request fails (transient)
MAX_RETRY_AFTER_S = 120.0
#: total time of one attempt (connect, send, read the whole body)
TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
#: bytes of a response body read at most
MAX_BODY = 32 * 1024 * 1024
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: a shared-budget token whose slot passed more than this long ago is not used (see above)
LATE_S = 0.03
#: late tokens in a row after which one is used anyway (a process starved for that long)
MAX_LATE = 20


#: shown in the User-Agent when the settings name no contact
DEFAULT_CONTACT = "https://github.com/medialoom"
#: asks the broker for a request token for a host at a rate; seconds to wait before using it
Grant = Callable[[str, float], Awaitable[float]]


def user_agent(contact: str = "") -> str:
    """``medialoom/<version> ( <contact> )`` (the contact setting, else the project URL)."""
    try:
        v = version("medialoom")
    except PackageNotFoundError:
        v = "0"
    return f"medialoom/{v} ( {contact.strip() or DEFAULT_CONTACT} )"


class TokenBucket:
    """``rate`` requests per second with bursts of ``burst``; waiters go in arrival order."""

    def __init__(self, rate: float, burst: int = 1) -> None:
        self.rate = max(rate, 1e-6)
        self.burst = max(1, burst)
        self.tokens = float(self.burst)
        self.stamp = time.monotonic()

    def __repr__(self) -> str:
        return f"<TokenBucket {self.rate:g}/s burst={self.burst} tokens={self.tokens:.2f}>"

    def reserve(self) -> float:
        """Take a token (maybe one not there yet); seconds to wait before using it."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def refund(self) -> None:
        """Give back a reserved token that was not used (the wait was cancelled)."""
        self.tokens = min(self.burst, self.tokens + 1)


@dataclass
class HttpResponse:
    """A whole response: status, headers (lower-case names), body."""

    status: int
    headers: dict[str, str]
    body: bytes
    url: str
    attempts: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<HttpResponse {self.status} {self.url} {len(self.body)}B>"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return jsonlib.loads(self.body)


class SharedHttp:
    """The process-wide part: the session and the per-host buckets."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.session = aiohttp.ClientSession(
            headers={"User-Agent": user_agent()},
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
            connector=aiohttp.TCPConnector(limit=64, limit_per_host=16))
        self.buckets: dict[str, TokenBucket] = {}
        self.limits: dict[str, tuple[float, int]] = {}

    def bucket(self, host: str) -> TokenBucket:
        bucket = self.buckets.get(host)
        if bucket is None:
            rate, burst = self.limits.get(host, (DEFAULT_RATE_PER_S, DEFAULT_BURST))
            bucket = self.buckets[host] = TokenBucket(rate, burst)
        return bucket

    def limit_host(self, host: str, per_s: float, burst: int = 1) -> None:
        self.limits[host] = (per_s, burst)
        self.buckets[host] = TokenBucket(per_s, burst)


_shared: SharedHttp | None = None


def shared() -> SharedHttp:
    """The process's session (a new one if there is none in this event loop)."""
    global _shared
    if _shared is None or _shared.loop is not asyncio.get_running_loop() \
            or _shared.session.closed:
        _shared = SharedHttp()
    return _shared


_process_http = shared  # limit_host's keyword argument ``shared`` hides the name there


async def close_session() -> None:
    """Close the process's session (the worker stops)."""
    global _shared
    current, _shared = _shared, None
    if current is not None and not current.session.closed:
        await current.session.close()


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date); None if none."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def backoff_s(retry: int) -> float:
    """Exponential backoff with full jitter for the retry-th retry (1, 2, ...)."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** (retry - 1))
    return random.uniform(ceiling / 2, ceiling)


class JobHttp:
    """One job's view of the shared session (``ctx.http``)."""

    def __init__(self, *, concurrency: int = 4, cancel_event: asyncio.Event | None = None,
                 job_id: str = "", grant: Grant | None = None, contact: str = "") -> None:
        self.concurrency = max(1, concurrency)
        self._slots = asyncio.Semaphore(self.concurrency)
        self._cancel = cancel_event or asyncio.Event()
        self.job_id = job_id
        self.requests = 0
        self.retries = 0
        self._grant = grant
        #: host -> requests per second of the broker-wide budget (limit_host shared=True)
        self.shared_limits: dict[str, float] = {}
        #: shared-budget tokens not used because their slot had passed (asked again)
        self.late_tokens = 0
        self.user_agent = user_agent(contact)

    def __repr__(self) -> str:
        return f"<JobHttp job={self.job_id} concurrency={self.concurrency} requests={self.requests}>"

    def limit_host(self, host: str, per_s: float, burst: int = 1, *,
                   shared: bool = False) -> None:
        """At most per_s requests per second to host: from this worker process (all its
        jobs), or with shared=True from every worker of the broker (one budget)."""
        if shared and self._grant is not None:
            self.shared_limits[host] = per_s
        else:
            _process_http().limit_host(host, per_s, burst)

    async def _wait(self, seconds: float) -> None:
        """Sleep, or raise JobCancelled at once on a cancel."""
        if self._cancel.is_set():
            raise JobCancelled(self.job_id)
        try:
            async with asyncio.timeout(seconds):
                await self._cancel.wait()
        except TimeoutError:
            return
        raise JobCancelled(self.job_id)

    async def _slot_of_bucket(self, host: str) -> None:
        rate = self.shared_limits.get(host)
        if rate is not None and self._grant is not None:
            loop = asyncio.get_running_loop()
            for _ in range(MAX_LATE):
                asked = loop.time()
                wait = await self._grant(host, rate)
                await self._wait(wait)
                if loop.time() - (asked + wait) <= LATE_S:
                    return
                self.late_tokens += 1  # the slot has passed: this request was not planned
            log.warning("[%s] %d late request tokens for %s in a row; sending anyway",
                        self.job_id, MAX_LATE, host)
            return
        bucket = shared().bucket(host)
        delay = bucket.reserve()
        if delay > 0:
            try:
                await self._wait(delay)
            except BaseException:
                bucket.refund()
                raise

    async def request(self, method: str, url: str, *, params: Any = None,
                      headers: dict[str, str] | None = None, json: Any = None,
                      data: Any = None, timeout_s: float | None = None,
                      attempts: int = DEFAULT_ATTEMPTS) -> HttpResponse:
        """The response, after retrying connection errors, timeouts, 429 and 5xx.

        A final 429 or 5xx is returned like any other status; no answer at
        all after the last attempt raises HttpError (status None).
        """
        host = URL(url).host or ""
        timeout = aiohttp.ClientTimeout(total=timeout_s) if timeout_s else None
        last_error = ""
        for attempt in range(1, max(1, attempts) + 1):
            if self._cancel.is_set():
                raise JobCancelled(self.job_id)
            wait: float | None = None
            async with self._slots:
                await self._slot_of_bucket(host)
                self.requests += 1
                try:
                    kwargs: dict[str, Any] = {
                        "params": params, "json": json, "data": data,
                        "headers": {"User-Agent": self.user_agent, **(headers or {})}}
                    if timeout is not None:
                        kwargs["timeout"] = timeout
                    async with shared().session.request(method, url, **kwargs) as resp:
                        chunks, size = [], 0
                        async for chunk in resp.content.iter_chunked(65536):
                            size += len(chunk)
                            if size > MAX_BODY:
                                raise HttpError(f"{method} {url}: body over {MAX_BODY} bytes",
                                                status=resp.status, url=url)
                            chunks.append(chunk)
                        answer = HttpResponse(resp.status,
                                              {k.lower(): v for k, v in resp.headers.items()},
                                              b"".join(chunks), str(resp.url), attempt)
                except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError,
                        TimeoutError) as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                    answer = None
            if answer is not None and answer.status not in RETRY_STATUSES:
                return answer
            if attempt >= attempts:
                if answer is not None:
                    return answer
                raise HttpError(f"{method} {url}: no answer after {attempt} attempts "
                                f"({last_error})", url=url, transient=True)
            if answer is not None:
                wait = retry_after_s(answer.headers.get("retry-after"))
                if wait is not None and wait > MAX_RETRY_AFTER_S:
                    return answer  # the server asks for more than a job should wait
                log.info("[%s] %s %s answered %d; retry %d", self.job_id, method, url,
                         answer.status, attempt)
            self.retries += 1
            await self._wait(wait if wait is not None else backoff_s(attempt))
        raise AssertionError("unreachable")

    async def get(self, url: str, **kwargs: Any) -> HttpResponse:
        return await self.request("GET", url, **kwargs)

    async def get_json(self, url: str, *, params: Any = None,
                       headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        """GET url and decode its JSON body; HttpError for a status that is not 2xx."""
        answer = await self.request("GET", url, params=params,
                                    headers={"Accept": "application/json", **(headers or {})},
                                    **kwargs)
        if not answer.ok:
            raise HttpError(f"GET {url} answered {answer.status}", status=answer.status,
                            url=url, transient=answer.status in RETRY_STATUSES)
        try:
            return answer.json()
        except ValueError as exc:
            raise HttpError(f"GET {url} answered {answer.status} with a body that is not "
                            f"JSON: {exc}", status=answer.status, url=url) from None

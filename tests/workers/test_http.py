"""ctx.http against a local aiohttp server on 127.0.0.1:0.

Retry-After (seconds and an HTTP date) on 503 and 429, backoff on 5xx and on
connection errors, the per-host rate limit, the per-job concurrency bound,
the User-Agent, and a cancel that interrupts a waiting request.  Time bounds
are loose lower bounds (the waits asked for) and upper bounds in seconds.
"""

from __future__ import annotations

import asyncio
import email.utils
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

from medialoom.workers import http
from medialoom.workers.context import CollectingReporter, JobContext
from medialoom.workers.errors import HttpError, JobCancelled
from tests.support import free_ports


@dataclass
class Server:
    base: str
    hits: dict[str, list[float]] = field(default_factory=dict)
    agents: list[str] = field(default_factory=list)
    inflight: int = 0
    max_inflight: int = 0


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server(base="")

    def hit(request: web.Request) -> int:
        state.agents.append(request.headers.get("User-Agent", ""))
        times = state.hits.setdefault(request.path, [])
        times.append(time.monotonic())
        return len(times)

    async def flaky(request: web.Request) -> web.Response:
        if hit(request) <= 2:
            return web.Response(status=503, headers={"Retry-After": "1"})
        return web.json_response({"ok": True, "q": request.query.get("q")})

    async def limited(request: web.Request) -> web.Response:
        if hit(request) <= 1:
            when = email.utils.formatdate(time.time() + 2, usegmt=True)
            return web.Response(status=429, headers={"Retry-After": when})
        return web.json_response({"ok": True})

    async def broken(request: web.Request) -> web.Response:
        hit(request)
        return web.Response(status=500, text="no")

    async def fast(request: web.Request) -> web.Response:
        hit(request)
        return web.json_response({"n": len(state.hits[request.path])})

    async def slowish(request: web.Request) -> web.Response:
        hit(request)
        state.inflight += 1
        state.max_inflight = max(state.max_inflight, state.inflight)
        try:
            await asyncio.sleep(0.3)
        finally:
            state.inflight -= 1
        return web.json_response({})

    async def slow(request: web.Request) -> web.Response:
        hit(request)
        await asyncio.sleep(30)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/flaky", flaky)
    app.router.add_get("/limited", limited)
    app.router.add_get("/broken", broken)
    app.router.add_get("/fast", fast)
    app.router.add_get("/slowish", slowish)
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    state.base = f"http://127.0.0.1:{port}"
    try:
        yield state
    finally:
        await http.close_session()
        await runner.cleanup()


def make_ctx(concurrency: int = 4) -> JobContext:
    ctx = JobContext(job_id="J1", attempt=1, kind="sleep", paths=[], params={}, dry_run=False,
                     roots=[], reporter=CollectingReporter())
    ctx.use_http(concurrency=concurrency)
    return ctx


async def test_503_with_retry_after_twice_then_200(server: Server) -> None:
    ctx = make_ctx()
    started = time.monotonic()
    body = await ctx.http.get_json(f"{server.base}/flaky", params={"q": "x y"})
    took = time.monotonic() - started
    assert body == {"ok": True, "q": "x y"}
    times = server.hits["/flaky"]
    assert len(times) == 3
    assert all(b - a >= 0.9 for a, b in zip(times, times[1:], strict=False)), times
    assert took < 10
    assert ctx.http.retries == 2
    assert server.agents[0] == http.user_agent()
    assert server.agents[0].startswith("medialoom/") and "https://github.com/medialoom" in \
        server.agents[0]


async def test_429_with_an_http_date_is_waited_out(server: Server) -> None:
    ctx = make_ctx()
    assert await ctx.http.get_json(f"{server.base}/limited") == {"ok": True}
    first, second = server.hits["/limited"]
    assert second - first >= 0.9  # the date has second resolution: at least ~1 s of 2


async def test_5xx_is_retried_with_backoff_then_reported(server: Server) -> None:
    ctx = make_ctx()
    answer = await ctx.http.request("GET", f"{server.base}/broken", attempts=3)
    assert answer.status == 500 and len(server.hits["/broken"]) == 3
    times = server.hits["/broken"]
    assert times[1] - times[0] >= http.BACKOFF_BASE_S / 2 - 0.05
    with pytest.raises(HttpError) as info:
        await ctx.http.get_json(f"{server.base}/broken", attempts=1)
    assert info.value.status == 500 and info.value.transient


async def test_connection_errors_are_retried_then_raise() -> None:
    (port,) = free_ports(1)
    ctx = make_ctx()
    try:
        with pytest.raises(HttpError) as info:
            await ctx.http.get_json(f"http://127.0.0.1:{port}/x", attempts=2)
    finally:
        await http.close_session()
    assert info.value.status is None and info.value.code == "http.unavailable"
    assert ctx.http.requests == 2


async def test_the_per_host_rate_limit_spaces_requests(server: Server) -> None:
    ctx = make_ctx(concurrency=8)
    ctx.http.limit_host("127.0.0.1", 5.0, burst=1)
    started = time.monotonic()
    await asyncio.gather(*(ctx.http.get_json(f"{server.base}/fast") for _ in range(6)))
    took = time.monotonic() - started
    assert took >= 0.9, f"6 requests at 5/s took {took:.2f} s"
    assert took < 10
    # the bucket is per host and per process: a second job shares it (a fresh bucket of one
    # token: three requests from two jobs need two refills, however slow the machine is)
    other = make_ctx()
    ctx.http.limit_host("127.0.0.1", 5.0, burst=1)
    started = time.monotonic()
    await asyncio.gather(ctx.http.get_json(f"{server.base}/fast"),
                         other.http.get_json(f"{server.base}/fast"),
                         other.http.get_json(f"{server.base}/fast"))
    assert time.monotonic() - started >= 0.39


async def test_concurrency_is_bounded_per_job(server: Server) -> None:
    ctx = make_ctx(concurrency=2)
    await asyncio.gather(*(ctx.http.get_json(f"{server.base}/slowish") for _ in range(6)))
    assert server.max_inflight == 2


async def test_cancel_interrupts_a_waiting_request(server: Server) -> None:
    ctx = make_ctx()

    async def kind(c: JobContext) -> None:
        await c.http.get_json(f"{server.base}/slow")

    loop = asyncio.get_running_loop()
    loop.call_later(0.3, ctx.request_cancel)
    started = time.monotonic()
    with pytest.raises(JobCancelled):
        await ctx.run_kind(kind)
    assert time.monotonic() - started < 2
    assert len(server.hits["/slow"]) == 1


async def test_cancel_interrupts_a_retry_after_wait(server: Server) -> None:
    ctx = make_ctx()
    asyncio.get_running_loop().call_later(0.3, ctx.request_cancel)
    started = time.monotonic()
    with pytest.raises(JobCancelled):
        await ctx.http.get_json(f"{server.base}/limited")  # a 2 s Retry-After
    assert time.monotonic() - started < 1


def test_retry_after_values() -> None:
    assert http.retry_after_s("3") == 3.0
    assert http.retry_after_s(None) is None and http.retry_after_s("soon") is None
    now = time.time()
    assert 9 <= http.retry_after_s(email.utils.formatdate(now + 10, usegmt=True), now) <= 10
    assert http.retry_after_s("Mon, 01 Jan 1990 00:00:00 GMT") == 0.0
    for retry in range(1, 10):
        assert 0 < http.backoff_s(retry) <= http.BACKOFF_MAX_S


def test_the_worker_does_not_import_aiohttp_until_a_kind_uses_http() -> None:
    code = ("import sys, medialoom.workers.worker, medialoom.workers.kinds\n"
            "medialoom.workers.kinds.load_kinds()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'aiohttp'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"

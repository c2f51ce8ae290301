"""AsyncClient's request deadlines on one timer (clients/deadlines.py), on a real event loop."""

from __future__ import annotations

import asyncio

import pytest

from medialoom.clients.deadlines import Deadlines


async def test_a_future_still_pending_at_its_deadline_fails_with_timeout() -> None:
    loop = asyncio.get_running_loop()
    d = Deadlines(loop)
    late, answered = loop.create_future(), loop.create_future()
    d.add(late, 0.05)
    d.add(answered, 0.05)
    answered.set_result("reply")
    with pytest.raises(TimeoutError):
        await late
    assert answered.result() == "reply"


async def test_a_shorter_deadline_added_after_a_longer_one_fires_first() -> None:
    loop = asyncio.get_running_loop()
    d = Deadlines(loop)
    long, short = loop.create_future(), loop.create_future()
    d.add(long, 60)
    d.add(short, 0.05)
    with pytest.raises(TimeoutError):
        await short
    assert not long.done(), "the 60 s deadline fired with the 0.05 s one"
    long.cancel()
    d.close()


async def test_deadlines_in_any_order_all_fire_and_only_theirs() -> None:
    loop = asyncio.get_running_loop()
    d = Deadlines(loop)
    futs = {t: loop.create_future() for t in (0.09, 0.03, 0.07, 0.01, 0.05, 30)}
    for t, fut in futs.items():
        d.add(fut, t)
    short = [f for t, f in futs.items() if t < 1]
    results = await asyncio.wait_for(asyncio.gather(*short, return_exceptions=True), 10)
    assert all(isinstance(r, TimeoutError) for r in results)
    assert not futs[30].done()
    futs[30].cancel()
    d.close()


async def test_answered_entries_do_not_pile_up() -> None:
    loop = asyncio.get_running_loop()
    d = Deadlines(loop)
    in_flight = [loop.create_future() for _ in range(100)]
    for fut in in_flight:
        d.add(fut, 120)
    for _ in range(20_000):  # requests answered long before their deadline
        fut = loop.create_future()
        d.add(fut, 120)
        fut.set_result(None)
    assert len(d) <= 2 * (len(in_flight) + 1) + 64
    assert not any(f.done() for f in in_flight), "a sweep touched a live request"
    d.close()


async def test_close_stops_every_deadline() -> None:
    loop = asyncio.get_running_loop()
    d = Deadlines(loop)
    fut = loop.create_future()
    d.add(fut, 0.01)
    d.close()
    await asyncio.sleep(0.1)
    assert not fut.done()

"""AsyncClient against a real broker: pipelining, timeouts, errors and a broker restart."""

from __future__ import annotations

import asyncio

import pytest
import zmq

from medialoom.clients.client import AsyncClient, ClientError
from medialoom.protocol import messages as m
from medialoom.protocol.errors import BrokerUnavailable
from tests.support import System, free_ports, restart_broker


async def test_many_requests_in_flight_each_get_their_own_reply(broker_only: System) -> None:
    async with AsyncClient(broker_only.clients, broker_only.events_out, timeout_s=30) as c:
        jobs = await asyncio.gather(*(c.start("sleep", params={"steps": i, "seconds": 60})
                                      for i in range(300)))
        assert [j["params"]["steps"] for j in jobs] == list(range(300))
        assert len({j["id"] for j in jobs}) == 300
        # STATUS, STATS and PING interleaved on one socket, 900 in flight
        asks = [c.status(j["id"]) for j in jobs] + [c.stats() for _ in range(300)] + [
            c.ping() for _ in range(300)]
        answers = await asyncio.gather(*asks)
    assert [a["id"] for a in answers[:300]] == [j["id"] for j in jobs]
    assert all(a["params"] == j["params"] for a, j in zip(answers, jobs, strict=False))
    assert all("workers" in a for a in answers[300:600])
    assert all(isinstance(a, float) for a in answers[600:])


async def test_an_error_reply_raises_its_code_and_others_in_flight_are_answered(
        broker_only: System) -> None:
    async with AsyncClient(broker_only.clients, broker_only.events_out) as c:
        results = await asyncio.gather(c.ping(), c.status("no-such-job"), c.ping(),
                                       return_exceptions=True)
    assert isinstance(results[0], float) and isinstance(results[2], float)
    assert isinstance(results[1], ClientError) and results[1].code == "job.not_found"


async def test_a_short_timeout_fails_alone_while_longer_requests_are_answered(
        broker_only: System) -> None:
    async with AsyncClient(broker_only.clients, broker_only.events_out, timeout_s=30) as c:
        job = await c.start("sleep", params={"seconds": 60})  # no workers: stays queued
        waiting = asyncio.ensure_future(c.request(m.Wait(rid=c._rid(), job=job["id"]), None))
        with pytest.raises(BrokerUnavailable):
            await c.request(m.Wait(rid=c._rid(), job=job["id"]), 0.2)
        with pytest.raises(BrokerUnavailable):
            await c.wait(job["id"], timeout_s=0.3, poll_s=0.1)
        assert isinstance(await c.ping(), float)
        assert not waiting.done(), "a WAIT with no timeout ended"
        cancelled = await c.cancel(job["id"])
        reply = await asyncio.wait_for(waiting, 30)
    assert cancelled["id"] == job["id"]
    assert isinstance(reply, m.Reply) and reply.data["job"]["status"] == "cancelled"


async def test_no_broker_is_broker_unavailable_with_a_hint() -> None:
    endpoint = f"tcp://127.0.0.1:{free_ports(1)[0]}"
    async with AsyncClient(endpoint, endpoint, timeout_s=0.3) as c:
        results = await asyncio.gather(*(c.ping() for _ in range(50)), return_exceptions=True)
    assert all(isinstance(r, BrokerUnavailable) for r in results)
    assert "medialoom up" in str(results[0])


async def test_the_client_goes_on_after_the_broker_restarts(broker_only: System) -> None:
    async with AsyncClient(broker_only.clients, broker_only.events_out, timeout_s=20) as c:
        job = await c.start("sleep", params={"seconds": 60})
        await asyncio.to_thread(restart_broker, broker_only)
        # the same socket reconnects; requests sent meanwhile are answered by the new broker
        again = await asyncio.gather(*(c.status(job["id"]) for _ in range(20)))
        assert {a["id"] for a in again} == {job["id"]}
        assert isinstance(await c.ping(), float)


def test_the_same_client_serves_one_event_loop_after_another(broker_only: System) -> None:
    c = AsyncClient(broker_only.clients, broker_only.events_out, timeout_s=10)
    try:
        job = asyncio.run(c.start("sleep", params={"seconds": 60}))  # no workers: stays queued
        for _ in range(3):  # each asyncio.run is a new loop: the FD reader and timer move along
            assert asyncio.run(asyncio.wait_for(c.ping(), 20)) > 0
            with pytest.raises(BrokerUnavailable):
                asyncio.run(c.wait(job["id"], timeout_s=0.1, poll_s=0.1))
    finally:
        asyncio.run(c.close())


async def test_a_request_in_flight_when_the_client_closes_ends_at_its_timeout(
        broker_only: System) -> None:
    c = AsyncClient(broker_only.clients, broker_only.events_out, timeout_s=0.3)
    job = await c.start("sleep", params={"seconds": 60})  # no workers: stays queued
    waiting = asyncio.ensure_future(c.wait(job["id"], timeout_s=0.1, poll_s=0.2))
    await asyncio.sleep(0)  # the WAIT is queued
    await c.close()
    with pytest.raises(BrokerUnavailable):
        await asyncio.wait_for(waiting, 30)


async def test_requests_made_while_the_broker_has_no_queue_go_out_when_it_is_back(
        broker_only: System) -> None:
    """With ZMQ_IMMEDIATE a DEALER has no queue while disconnected: sends get zmq.Again and
    the client retries them, in order, until their timeout."""
    ep = broker_only.clients
    async with AsyncClient(ep, broker_only.events_out, timeout_s=30) as c:
        c.sock.disconnect(ep)
        c.sock.setsockopt(zmq.IMMEDIATE, 1)
        c.sock.connect(ep)
        assert isinstance(await c.ping(), float)
        await asyncio.to_thread(broker_only.kill_broker)
        for _ in range(3000):  # until ZeroMQ has dropped the connection (no POLLOUT)
            if not c.sock.getsockopt(zmq.EVENTS) & zmq.POLLOUT:
                break
            await asyncio.sleep(0.01)
        else:
            pytest.fail("the DEALER kept its queue after the broker was killed")
        with pytest.raises(BrokerUnavailable):
            await c.request(m.Ping(rid=c._rid()), 0.2)
        pings = asyncio.gather(*(c.ping() for _ in range(20)))
        await asyncio.sleep(0.1)
        await asyncio.to_thread(broker_only.start_broker)
        assert all(isinstance(p, float) for p in await pings)

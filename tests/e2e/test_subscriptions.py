"""The broker publishes an EVENT only when a subscriber takes its topic (XPUB's subscription
messages), and every kind of subscription still gets what it asked for: one job's topic, a
partial prefix, every job, everything; dropping one of two subscribers leaves the other fed."""

from __future__ import annotations

import time

import zmq

from medialoom.protocol import codec
from tests.support import System


def _sub(zctx: zmq.Context, system: System, prefix: bytes) -> zmq.Socket:
    sub = zctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, prefix)
    sub.connect(system.events_out)
    return sub


def _statuses(sub: zmq.Socket, job_id: str, until: str, timeout_s: float = 10.0) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while until not in seen:
        left = deadline - time.monotonic()
        assert left > 0 and sub.poll(int(left * 1000)), f"no {until} EVENT of {job_id}: {seen}"
        event = codec.decode(sub.recv_multipart(), "event")
        if event.job == job_id:
            seen.append(event.status)
    return seen


def _job_until_subscribed(system: System, subs: list[zmq.Socket]) -> None:
    """Start throwaway jobs until every SUB got an EVENT (its subscription is live). Each
    sleeps long enough that its cancel finds it still running (a no-op sleep may already have
    completed when the cancel arrives: job.finished)."""
    with system.client() as c:
        for _ in range(50):
            job = c.start("sleep", params={"seconds": 60})["id"]
            c.cancel(job)
            if all(s.poll(200) for s in subs):
                for s in subs:
                    while s.poll(100):
                        s.recv_multipart()
                return
    raise AssertionError("a SUB socket never received an EVENT")


def test_every_kind_of_subscription_gets_its_events(system: System,
                                                    zctx: zmq.Context) -> None:
    subs = [_sub(zctx, system, prefix) for prefix in (b"", b"job/", b"jo")]
    try:
        _job_until_subscribed(system, subs)
        with system.client() as c:
            # a running job publishes PROGRESS all along: its own topic's SUB gets some
            job = c.start("sleep", params={"seconds": 20, "steps": 200})["id"]
            subs.append(_sub(zctx, system, codec.topic(job)))
            deadline = time.monotonic() + 15
            got = None
            while got is None or got.job != job:
                left = deadline - time.monotonic()
                assert left > 0 and subs[-1].poll(int(left * 1000)), "no EVENT on the job's topic"
                got = codec.decode(subs[-1].recv_multipart(), "event")
            c.cancel(job)
        for sub in subs:
            assert _statuses(sub, job, "cancelled")[-1] == "cancelled", sub
    finally:
        for sub in subs:
            sub.close(linger=0)


def test_a_subscriber_that_leaves_does_not_stop_the_events_of_another(
        broker_only: System, zctx: zmq.Context) -> None:
    system = broker_only
    first, second = _sub(zctx, system, b"job/"), _sub(zctx, system, b"job/")
    _job_until_subscribed(system, [first, second])
    first.close(linger=0)  # XPUB passes no unsubscription while another takes job/
    time.sleep(0.5)
    with system.client() as c:
        job = c.start("sleep", params={"seconds": 30})["id"]
        c.cancel(job)
    assert _statuses(second, job, "cancelled")[-1] == "cancelled"
    second.close(linger=0)
    time.sleep(0.5)  # now nobody listens: the broker stops publishing, and starts again
    again = _sub(zctx, system, b"job/")
    _job_until_subscribed(system, [again])
    with system.client() as c:
        job = c.start("sleep", params={"seconds": 30})["id"]
        c.cancel(job)
    assert _statuses(again, job, "cancelled")[-1] == "cancelled"
    again.close(linger=0)

"""The event hub's Clone-pattern rules, with a fake broker client (no sockets read).

Drop duplicates and stale seqs, buffer during a snapshot, resync on a gap,
one STATUS per job for many waiting clients, check quiet running jobs, and
close a client that cannot keep up.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import zmq.asyncio

from medialoom.clients.client import ClientError
from medialoom.clients.gateway import hub as hubmod
from medialoom.clients.gateway.hub import EventHub, Subscriber
from tests.gateway.conftest import dead_endpoints


class FakeBroker:
    """Answers STATUS from a dict of job maps and counts the requests."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.curve = None  # the hub's SUB takes the client's CURVE keys (none here)

    async def status(self, job_id: str) -> dict[str, Any]:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if job_id not in self.jobs:
            raise ClientError(f"no job {job_id}", code="job.not_found")
        return dict(self.jobs[job_id])


def job(seq: int, status: str = "running") -> dict[str, Any]:
    return {"id": "J", "seq": seq, "status": status, "kind": "sleep", "paths": [],
            "progress": {"percent": seq}}


@pytest.fixture
async def hub() -> AsyncIterator[tuple[EventHub, FakeBroker]]:
    ctx = zmq.asyncio.Context()
    broker = FakeBroker()
    hub = EventHub(broker, dead_endpoints()[1], ctx)  # type: ignore[arg-type]
    workers = [asyncio.ensure_future(hub.serve_snapshots()) for _ in range(2)]
    yield hub, broker
    for w in workers:
        w.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    hub.close()
    ctx.destroy(linger=0)


def event(hub: EventHub, seq: int, status: str = "running", job_id: str = "J") -> None:
    hub.fan_out(job_id, seq, status, {"kind": "sleep", "progress": {"percent": seq}})


def drain(sub: Subscriber) -> list[tuple[str, int | None]]:
    out = []
    while not sub.queue.empty():
        msg = json.loads(sub.queue.get_nowait())
        out.append((msg["type"], msg["job"]["seq"] if "job" in msg else msg.get("seq")))
    return out


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_drops_duplicates_and_stale_seqs_and_resyncs_on_a_gap(hub) -> None:  # noqa: ANN001
    hub, broker = hub
    broker.jobs["J"] = job(5)
    sub = Subscriber(hub, 100)
    hub.add(sub)
    hub.subscribe(sub, "J", since=0)
    await settle()
    assert drain(sub) == [("snapshot", 5), ("subscribed", 5)]
    event(hub, 6)
    event(hub, 6)
    event(hub, 4)
    assert drain(sub) == [("update", 6)]
    broker.jobs["J"] = job(9)
    event(hub, 8)  # 7 was lost
    await settle()
    event(hub, 10)
    assert drain(sub) == [("snapshot", 9), ("update", 10)]
    assert hub.counters["gaps"] == 1 and hub.counters["stale_dropped"] >= 3


async def test_events_during_a_snapshot_are_buffered_then_in_order(hub) -> None:  # noqa: ANN001
    hub, broker = hub
    broker.jobs["J"] = job(3)
    broker.gate = asyncio.Event()
    sub = Subscriber(hub, 100)
    hub.add(sub)
    hub.subscribe(sub, "J", since=0)
    await settle()  # STATUS sent, reply held back
    for seq in (2, 3, 4, 5):
        event(hub, seq)
    assert drain(sub) == []
    broker.gate.set()
    await settle()
    assert drain(sub) == [("snapshot", 3), ("subscribed", 3), ("update", 4), ("update", 5)]


async def test_one_status_for_many_waiting_clients(hub) -> None:  # noqa: ANN001
    hub, broker = hub
    broker.jobs["J"] = job(7)
    subs = [Subscriber(hub, 100) for _ in range(50)]
    for sub in subs:
        hub.add(sub)
        hub.subscribe(sub, "J", since=0)
    await settle()
    assert broker.calls == 1
    assert all(drain(s) == [("snapshot", 7), ("subscribed", 7)] for s in subs)


async def test_since_suppresses_an_old_snapshot_and_a_lower_seq_resets(hub) -> None:  # noqa: ANN001
    hub, broker = hub
    broker.jobs["J"] = job(4)
    current, ahead = Subscriber(hub, 100), Subscriber(hub, 100)
    for sub, since in ((current, 4), (ahead, 40)):
        hub.add(sub)
        hub.subscribe(sub, "J", since=since)
    await settle()
    assert drain(current) == [("subscribed", 4)]
    msgs = [json.loads(ahead.queue.get_nowait()) for _ in range(2)]
    assert msgs[0]["type"] == "snapshot" and msgs[0]["reset"] is True  # broker restarted
    event(hub, 5)
    assert drain(current) == [("update", 5)] and drain(ahead) == [("update", 5)]


async def test_unknown_job_gets_an_error_and_no_subscription(hub) -> None:  # noqa: ANN001
    hub, broker = hub
    sub = Subscriber(hub, 100)
    hub.add(sub)
    hub.subscribe(sub, "J", since=0)
    await settle()
    msg = json.loads(sub.queue.get_nowait())
    assert msg["type"] == "error" and msg["code"] == "job.not_found"
    assert "J" not in hub.by_job and not sub.jobs


async def test_a_quiet_running_job_is_checked_once_for_all_followers(
        hub, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    hub, broker = hub
    monkeypatch.setattr(hubmod, "QUIET_S", 0.05)
    broker.jobs["J"] = job(3)
    subs = [Subscriber(hub, 100) for _ in range(3)]
    for sub in subs:
        hub.add(sub)
        hub.subscribe(sub, "J", since=0)
    await settle()
    hub.running["J"] = 0.0  # last event long ago; the terminal event was lost
    broker.jobs["J"] = job(4, "completed")
    checker = asyncio.ensure_future(hub.check_quiet())
    await asyncio.sleep(0.2)
    checker.cancel()
    await asyncio.gather(checker, return_exceptions=True)
    assert broker.calls == 2
    for sub in subs:
        assert drain(sub)[-1] == ("snapshot", 4)
    assert "J" not in hub.running


async def test_a_client_that_cannot_keep_up_is_closed(hub) -> None:  # noqa: ANN001
    hub, broker = hub
    broker.jobs["J"] = job(1)
    sub = Subscriber(hub, 4)
    hub.add(sub)
    hub.subscribe(sub, "J", since=0)
    await settle()
    for seq in range(2, 20):
        event(hub, seq)
    assert sub.closed and sub.queue.get_nowait() is None  # the close marker, nothing else
    assert hub.counters["overflows"] == 1


async def test_a_seq_that_goes_back_resyncs_every_follower_with_a_reset(hub) -> None:  # noqa: ANN001
    hub, broker = hub
    broker.jobs["J"] = job(50)
    direct, everything = Subscriber(hub, 100), Subscriber(hub, 100)
    for sub in (direct, everything):
        hub.add(sub)
    hub.subscribe(direct, "J", since=0)
    hub.all_subs.add(everything)
    everything.last["J"] = 50
    await settle()
    drain(direct)
    hub.running["J"], hub.latest["J"] = 0.0, 50
    broker.jobs["J"] = job(4)  # the broker restarted from its last persisted seq
    hub.fan_out("J", 4, "running", {"progress": {}}, resync=True)
    await settle()
    for sub in (direct, everything):
        msg = json.loads(sub.queue.get_nowait())
        assert msg["type"] == "snapshot" and msg["job"]["seq"] == 4 and msg["reset"] is True
    event(hub, 5)
    assert drain(direct) == [("update", 5)] and drain(everything) == [("update", 5)]

"""Messages of several bodies on the worker channel (SPEC.md 2), against a real broker: it
bundles a commit's DISPATCHes and ACKs for a worker whose READY said ``batch``, sends one body
per message to one that did not, and handles each body of a worker's message on its own."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

from medialoom.clients.client import AsyncClient
from medialoom.protocol import codec
from medialoom.protocol import messages as m
from tests.support import System, make_system

pytestmark = pytest.mark.e2e


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[System]:
    """A broker with no workers whose liveness (4 x 2 s) outlasts the test's pauses: the raw
    workers here send HEARTBEATs only while they listen."""
    system = make_system(tmp_path, heartbeat=2.0)
    system.start_broker()
    yield system
    system.stop()


class RawWorker:
    """A DEALER that registers as a worker of ``sleep`` and records every broker message."""

    def __init__(self, zctx: zmq.Context, system: System, batch: bool, name: str) -> None:
        self.sock = zctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(system.workers)
        self.sock.send_multipart(codec.encode(m.Ready(kinds=["sleep"], slots=64, host=name,
                                                      pid=1, batch=batch), "worker"))
        self.sizes: list[int] = []  # bodies per message received, HEARTBEAT-only ones aside
        self.got: list[Any] = []

    def take(self, kind: type, count: int, within_s: float = 30) -> list[Any]:
        """Receive until count messages of kind have come; those messages."""
        deadline = time.monotonic() + within_s
        while sum(isinstance(x, kind) for x in self.got) < count:
            assert time.monotonic() < deadline, f"{self.got!r}"
            self.receive()
        return [x for x in self.got if isinstance(x, kind)]

    def receive(self) -> None:
        """One message, if one comes within 0.1 s (a HEARTBEAT goes first: liveness)."""
        self.sock.send_multipart(codec.encode(m.Heartbeat(), "worker"))
        if not self.sock.poll(100):
            return
        msgs = codec.decode_each(self.sock.recv_multipart(), "broker")
        assert not any(isinstance(x, Exception) for x in msgs), msgs
        if not all(isinstance(x, m.Heartbeat) for x in msgs):
            self.sizes.append(len(msgs))
        self.got += [x for x in msgs if not isinstance(x, m.Heartbeat)]

    def until_acked(self, ids: list[str], within_s: float = 30) -> None:
        """Listen until the broker has acknowledged a final message of every job in ids."""
        deadline = time.monotonic() + within_s
        while (acked := {e[0] for x in self.got if isinstance(x, m.Ack) for e in x.acks}
               ) != set(ids):
            assert time.monotonic() < deadline, f"not acked: {set(ids) - acked}"
            self.receive()

    def twenty_dispatched(self, system: System, c: Any) -> tuple[list[str], list[m.Dispatch]]:
        """Once registered, 20 jobs started at once (one commit): their ids and DISPATCHes."""
        while len(c.stats()["workers"]) < 1:
            time.sleep(0.05)
        ids = asyncio.run(start_all(system, 20))
        dispatches = self.take(m.Dispatch, 20)
        assert sorted(d.job for d in dispatches) == sorted(ids)
        return ids, dispatches


async def start_all(system: System, n: int) -> list[str]:
    async with AsyncClient(system.clients, system.events_out, timeout_s=30) as c:
        jobs = await asyncio.gather(*(c.start("sleep", params={"steps": 0}) for _ in range(n)))
    return [j["id"] for j in jobs]


def test_dispatches_and_acks_come_bundled_and_each_body_of_a_done_counts(
        broker: System, zctx: zmq.Context) -> None:
    worker = RawWorker(zctx, broker, batch=True, name="bundling")
    with broker.client(timeout_s=10) as c:
        ids, dispatches = worker.twenty_dispatched(broker, c)
        assert max(worker.sizes) > 1, f"every DISPATCH came alone: {worker.sizes}"
        assert all(size <= codec.MAX_BODIES for size in worker.sizes)
        # all 20 DONEs in one message, with a body that does not decode among them
        bodies = [codec.encode(m.Done(job=d.job, attempt=d.attempt, n=1), "worker")[1]
                  for d in dispatches]
        dropped = c.stats()["broker"].get("dropped", 0)
        worker.sock.send_multipart([b"MLW1", *bodies[:10], b"\xc1", *bodies[10:]])
        worker.until_acked(ids)  # one ACK per commit, bundled with what it released
        for job_id in ids:
            assert c.wait(job_id, timeout_s=5)["status"] == "completed"
        assert c.stats()["broker"]["dropped"] == dropped + 1
        assert c.ping()
    worker.sock.close()


def test_a_worker_that_did_not_say_batch_gets_one_body_per_message(
        broker: System, zctx: zmq.Context) -> None:
    worker = RawWorker(zctx, broker, batch=False, name="plain")
    with broker.client(timeout_s=10) as c:
        ids, dispatches = worker.twenty_dispatched(broker, c)
        for d in dispatches:
            worker.sock.send_multipart(codec.encode(m.Done(job=d.job, attempt=d.attempt, n=1),
                                                    "worker"))
        worker.until_acked(ids)
        for job_id in ids:
            assert c.wait(job_id, timeout_s=5)["status"] == "completed"
        assert set(worker.sizes) == {1}, worker.sizes
    worker.sock.close()

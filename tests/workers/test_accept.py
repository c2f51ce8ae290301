"""When a worker sends ACCEPT (SPEC.md 6.1): before any other message of the attempt while
the attempt runs, and not at all when the attempt ends first.  A raw ROUTER plays the broker
and a real worker process answers it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
import zmq

from medialoom.protocol import codec
from medialoom.protocol import messages as m
from medialoom.workers.reporting import ACCEPT_AFTER_S, Reporting
from medialoom.workers.stream import Streams
from tests.support import free_ports


class RawBroker:
    """A ROUTER with one real worker process connected to it."""

    def __init__(self, zctx: zmq.Context, tmp_path: Path) -> None:
        workers, events = (f"tcp://127.0.0.1:{p}" for p in free_ports(2))
        self.router = zctx.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.router.bind(workers)
        self.log = tmp_path / "worker.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "medialoom.workers.worker", "--workers", workers,
                 "--events", events],
                env={**os.environ, "MEDIALOOM_CONFIG": str(tmp_path / "none.toml")},
                stdout=out, stderr=subprocess.STDOUT)
        assert self.router.poll(20_000), "no READY"
        self.peer, *frames = self.router.recv_multipart()
        first, *rest = codec.decode_each(frames, "worker")  # READY, maybe more bodies with it
        assert isinstance(first, m.Ready) and first.batch
        self.seen: list[m.WorkerMessage] = [x for x in rest if not isinstance(x, m.Heartbeat)]

    def dispatch(self, job: str, **params: object) -> None:
        msg = m.Dispatch(job=job, attempt=1, kind="sleep", params=params)
        self.router.send_multipart([self.peer, *codec.encode(msg, "broker")])

    def until_final(self, job: str, within_s: float = 30, quiet_s: float = 1,
                    ) -> list[m.WorkerMessage]:
        """Everything the worker sent about job up to its final message (HEARTBEATs left
        out), then 1 s more of listening (an ACCEPT owed comes 0.05 s after the DISPATCH)."""
        final = (m.Done, m.Failed, m.Cancelled)

        def mine() -> list[m.WorkerMessage]:
            return [x for x in self.seen if getattr(x, "job", None) == job]

        deadline = time.monotonic() + within_s
        while not any(isinstance(x, final) for x in mine()):
            assert time.monotonic() < deadline, f"no final message for {job}: {self.seen}"
            self._listen()
        quiet = time.monotonic() + quiet_s
        while time.monotonic() < quiet:
            self._listen()
        return mine()

    def _listen(self) -> None:
        """Take one message if one comes within 0.1 s; ACK every final message."""
        if not self.router.poll(100):
            return
        for msg in codec.decode_each(self.router.recv_multipart()[1:], "worker"):
            assert not isinstance(msg, Exception), msg
            if isinstance(msg, m.Heartbeat):
                continue
            self.seen.append(msg)
            if isinstance(msg, (m.Done, m.Failed, m.Cancelled)):
                ack = m.Ack(acks=[[msg.job, msg.attempt, msg.n]])
                self.router.send_multipart([self.peer, *codec.encode(ack, "broker")])

    def close(self) -> None:
        self.proc.terminate()
        try:
            assert self.proc.wait(timeout=20) == 0, self.log.read_text()
        finally:
            self.router.close(linger=0)


@pytest.fixture
def raw(zctx: zmq.Context, tmp_path: Path) -> Iterator[RawBroker]:
    broker = RawBroker(zctx, tmp_path)
    try:
        yield broker
    finally:
        broker.close()


@pytest.mark.e2e
def test_a_running_attempt_accepts_before_its_first_items(raw: RawBroker) -> None:
    job = "01JDC3ZPQV7WE2N6VYBN0CG6KF"
    raw.dispatch(job, seconds=1.5, steps=3)
    said = raw.until_final(job)
    words = [type(x).__name__ for x in said]
    assert words.count("Accept") == 1, words
    assert words[0] == "Accept", words
    assert "Items" in words and words[-1] == "Done", words
    assert said[0].attempt == 1  # type: ignore[union-attr]


@pytest.mark.e2e
def test_an_attempt_that_ends_first_needs_no_accept_after_it(raw: RawBroker) -> None:
    """A no-op attempt: its DONE answers the DISPATCH; an ACCEPT, if the machine was slow
    enough for one to be owed, came before the DONE, never after."""
    jobs = [f"01JDC3ZPQV7WE2N6VYBN0CG6{i:02d}" for i in range(10)]
    for job in jobs:
        raw.dispatch(job, seconds=0, steps=0)
    for job in jobs:
        raw.until_final(job, quiet_s=0)
    raw.until_final(jobs[-1])  # and 1 s more: nothing owed comes after a final message
    for job in jobs:
        words = [type(x).__name__ for x in raw.seen if getattr(x, "job", None) == job]
        assert words[-1] == "Done" and words.count("Done") == 1, words
        assert words in (["Done"], ["Accept", "Done"]), words


@pytest.mark.e2e
def test_a_kind_the_worker_does_not_run_fails_without_accept_after(raw: RawBroker) -> None:
    job = "01JDC3ZPQV7WE2N6VYBN0CG6ZZ"
    msg = m.Dispatch(job=job, attempt=1, kind="no-such-kind")
    raw.router.send_multipart([raw.peer, *codec.encode(msg, "broker")])
    said = raw.until_final(job)
    words = [type(x).__name__ for x in said]
    assert words in (["Failed"], ["Accept", "Failed"]), words
    assert said[-1].code == "job.unknown_kind" and said[-1].retry is True  # type: ignore[union-attr]


# --- the rule itself, on the worker's Reporting mixin with a recording channel ------------


class Sent:
    """Records the frames a Reporting object queues, decoded."""

    def __init__(self) -> None:
        self.words: list[tuple[str, str]] = []

    def send(self, frames: list[bytes]) -> None:
        msg = codec.decode(frames, "worker")
        self.words.append((type(msg).__name__, msg.job))  # type: ignore[union-attr]


class Reporter(Reporting):
    def __init__(self) -> None:
        self.channel = Sent()
        self.streams = Streams()
        self.unaccepted: dict[str, int] = {}
        self._accepting = None


def attempt(job: str) -> SimpleNamespace:
    return SimpleNamespace(job_id=job, attempt=1)


def test_accepts_are_owed_sent_before_other_messages_and_dropped_by_a_final() -> None:
    async def scenario() -> list[tuple[str, str]]:
        r = Reporter()
        quick, chatty, slow = attempt("A" * 26), attempt("B" * 26), attempt("C" * 26)
        for ctx in (quick, chatty, slow):
            r.owe_accept(ctx)
        assert r.channel.words == []  # nothing yet: ACCEPTs wait ACCEPT_AFTER_S
        r.send_reliable(quick, lambda n: m.Done(job=quick.job_id, attempt=1, n=n), final=True)
        r.send_reliable(chatty, lambda n: m.Items(job=chatty.job_id, attempt=1, n=n,
                                                  items=[], progress={}))
        await asyncio.sleep(ACCEPT_AFTER_S * 4)  # the owed ACCEPT's timer runs before this
        r.send_reliable(slow, lambda n: m.Done(job=slow.job_id, attempt=1, n=n), final=True)
        return r.channel.words

    words = asyncio.run(scenario())
    assert words == [("Done", "A" * 26), ("Accept", "B" * 26), ("Items", "B" * 26),
                     ("Accept", "C" * 26), ("Done", "C" * 26)]

"""Bad input on the wire, late subscribers, and a responsive loop under load (invariants 5-7)."""

from __future__ import annotations

import asyncio
import statistics
import time
from pathlib import Path

import msgpack
import pytest
import zmq

from medialoom.clients.client import AsyncClient
from medialoom.protocol import codec
from medialoom.protocol import messages as m
from tests.support import System, make_system, restart_broker

pytestmark = pytest.mark.e2e


def raw_request(sock: zmq.Socket, frames: list[bytes], timeout_s: float = 5.0) -> dict | None:
    sock.send_multipart(frames)
    if not sock.poll(int(timeout_s * 1000)):
        return None
    reply = sock.recv_multipart()
    assert reply[0] == b"MLC1"
    return msgpack.unpackb(reply[1])


BAD_INPUTS = [
    ("not msgpack", [b"MLC1", b"\xc1\xc1\xc1"], "protocol.bad_frame"),
    ("msgpack array", [b"MLC1", msgpack.packb([1, 2])], "protocol.bad_frame"),
    ("wrong version tag", [b"MLC9", msgpack.packb({"cmd": "PING", "rid": 1})],
     "protocol.bad_version"),
    ("missing field", [b"MLC1", msgpack.packb({"cmd": "STATUS", "rid": 2})],
     "protocol.bad_field"),
    ("wrong type", [b"MLC1", msgpack.packb({"cmd": "STATUS", "rid": 3, "job": 7})],
     "protocol.bad_field"),
    ("bool for int", [b"MLC1", msgpack.packb({"cmd": "LIST", "rid": 4, "limit": True})],
     "protocol.bad_field"),
    ("unknown command", [b"MLC1", msgpack.packb({"cmd": "EXPLODE", "rid": 5})],
     "protocol.unknown_command"),
    ("one frame", [b"MLC1"], "protocol.bad_frame"),
    ("65 bodies", [b"MLC1", *[msgpack.packb({"cmd": "PING", "rid": 7})] * 65],
     "protocol.bad_frame"),
    ("10 MB frame", [b"MLC1", msgpack.packb({"cmd": "PING", "rid": 6, "pad": b"x" * 10_000_000})],
     "protocol.too_large"),
]


@pytest.mark.parametrize(("name", "frames", "code"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_gets_an_error_and_the_broker_keeps_serving(
        broker_only: System, raw_dealer: zmq.Socket, name: str, frames: list[bytes],
        code: str) -> None:
    sock = raw_dealer
    reply = raw_request(sock, frames)
    assert reply is not None, f"{name}: no reply"
    assert reply["cmd"] == "ERROR" and reply["code"] == code, reply
    assert reply["message"]
    ok = raw_request(sock, codec.encode(m.Ping(rid=99), "client"))
    assert ok is not None and ok["cmd"] == "REPLY" and ok["rid"] == 99
    with broker_only.client() as c:
        assert c.list()["total"] == 0


def test_rid_is_echoed_even_when_the_body_is_rejected(raw_dealer: zmq.Socket) -> None:
    reply = raw_request(raw_dealer, [b"MLC1", msgpack.packb({"cmd": "START", "rid": 4242})])
    assert reply == {"cmd": "ERROR", "rid": 4242, "code": "protocol.bad_field",
                     "message": "START needs field 'kind'", "details": {"field": "kind"}}


def test_garbage_on_the_worker_and_event_channels_is_dropped(broker_only: System,
                                                            zctx: zmq.Context) -> None:
    worker = zctx.socket(zmq.DEALER)
    worker.connect(broker_only.workers)
    pub = zctx.socket(zmq.PUB)
    pub.connect(broker_only.events_in)
    time.sleep(0.2)
    for frames in ([b"junk"], [b"MLW1", b"\xc1"], [b"MLW1", msgpack.packb({"cmd": "NOPE"})],
                   [b"MLW1", msgpack.packb({"cmd": "DONE", "job": 1, "attempt": "x"})]):
        worker.send_multipart(frames)
        pub.send_multipart([b"job/x", *frames])
    with broker_only.client() as c:
        assert c.ping()
        assert c.stats()["workers"] == []
    worker.close(linger=0)
    pub.close(linger=0)


def test_a_late_subscriber_ends_with_the_same_state_as_status(system: System) -> None:
    with system.client() as c:
        job = c.start("sleep", params={"seconds": 3, "steps": 60})
        system.wait_for(lambda: c.status(job["id"])["progress"]["processed"] >= 10, "progress")

    async def follow() -> list[dict]:
        async with AsyncClient(system.clients, system.events_out) as ac:
            return [state async for state in ac.watch(job["id"])]

    states = asyncio.run(follow())
    assert states[0]["progress"]["processed"] >= 10  # joined late: the snapshot came first
    seqs = [s["seq"] for s in states]
    assert seqs == sorted(set(seqs)), "no duplicates, never backwards"
    assert len(states) >= 5, "saw live updates, not only the snapshot"
    with system.client() as c:
        final = c.status(job["id"])
    last = states[-1]
    assert last["status"] == final["status"] == "completed"
    assert last["seq"] == final["seq"]
    assert last["progress"] == final["progress"]


def test_status_stays_fast_while_two_workers_stream_progress(system: System) -> None:
    with system.client() as c:
        jobs = [c.start("sleep", params={"seconds": 8, "steps": 100_000})["id"]
                for _ in range(2)]
        system.wait_for(lambda: all(c.status(j)["status"] == "running" for j in jobs), "running")
        latencies = []
        while len(latencies) < 300:
            t0 = time.perf_counter()
            running = c.status(jobs[0])["status"] == "running"
            latencies.append(time.perf_counter() - t0)
            if not running:
                break
            time.sleep(0.005)
        done = [c.wait(j, timeout_s=120) for j in jobs]
    assert all(d["status"] == "completed" for d in done)
    assert all(d["progress"]["processed"] == 100_000 for d in done)
    assert len(latencies) >= 20, "the jobs ended before the load was measured"
    # bounds that catch a blocked loop, not a slow machine: the p50/p99 figures are printed
    # by `make bench` (benchmarks/bench_fabric.py, "STATUS under progress load")
    slowest, median = max(latencies), statistics.median(latencies)
    assert slowest < 5.0, f"a STATUS took {slowest:.1f} s under load: the broker loop blocked"
    assert median < 1.0, f"STATUS median {median * 1000:.0f} ms under load"


# --- protocol conformance against a real broker (SPEC.md 4.13, 5.1, 7.2) -------------------


class Peer:
    """A raw client DEALER plus a SUB on every job's events, speaking through the codec."""

    def __init__(self, system: System, zctx: zmq.Context) -> None:
        self.sock = zctx.socket(zmq.DEALER)
        self.sock.connect(system.clients)
        self.sub = zctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"job/")
        self.sub.connect(system.events_out)
        self.rid = 100

    def send(self, cls: type, **fields: object) -> int:
        self.rid += 1
        self.sock.send_multipart(codec.encode(cls(rid=self.rid, **fields), "client"))
        return self.rid

    def reply(self, rid: int, timeout_s: float = 10.0) -> m.Reply | m.Error:
        assert self.sock.poll(int(timeout_s * 1000)), f"no reply to rid {rid}"
        msg = codec.decode(self.sock.recv_multipart(), "reply")
        assert msg.rid == rid, msg
        return msg

    def ask(self, cls: type, **fields: object) -> dict:
        msg = self.reply(self.send(cls, **fields))
        assert isinstance(msg, m.Reply), msg
        return msg.data

    def events(self, job_id: str, until: str, timeout_s: float = 10.0) -> list[m.Event]:
        """This job's EVENTs up to the first with status ``until``."""
        out: list[m.Event] = []
        deadline = time.monotonic() + timeout_s
        while not out or out[-1].status != until:
            left = deadline - time.monotonic()
            assert left > 0 and self.sub.poll(int(left * 1000)), f"no {until} EVENT: {out}"
            event = codec.decode(self.sub.recv_multipart(), "event")
            if event.job == job_id:
                out.append(event)
        return out

    def subscribed(self) -> None:
        """Wait until the subscription is live: a throwaway job's EVENTs arrive."""
        for _ in range(50):
            job = self.ask(m.Start, kind="sleep")["job"]["id"]
            self.ask(m.Cancel, job=job)
            if self.sub.poll(200):
                while self.sub.poll(200):
                    self.sub.recv_multipart()
                return
        raise AssertionError("the SUB socket never received an EVENT")

    def close(self) -> None:
        self.sock.close(linger=0)
        self.sub.close(linger=0)


def test_every_client_invalid_vector_gets_its_error_and_rid(raw_dealer: zmq.Socket) -> None:
    """Each client-channel entry of invalid.json, sent as is: its code, details and rid."""
    from tests.protocol.test_vectors import INVALID, frames_of

    sent = 0
    for vector in INVALID:
        if vector["channel"] != "client" or vector["name"] == "no-frames":
            continue  # ZeroMQ cannot send a message of zero frames
        reply = raw_request(raw_dealer, frames_of(vector))
        assert reply is not None, vector["name"]
        assert reply["cmd"] == "ERROR", (vector["name"], reply)
        assert (reply["code"], reply["rid"]) == (vector["error"], vector["rid"]), \
            (vector["name"], reply)
        if "details" in vector:
            assert reply["details"] == vector["details"], vector["name"]
        sent += 1
    assert sent == sum(v["channel"] == "client" for v in INVALID) - 1
    ok = raw_request(raw_dealer, codec.encode(m.Ping(rid=99), "client"))
    assert ok is not None and ok["cmd"] == "REPLY" and ok["rid"] == 99


def test_a_bool_rid_is_answered_with_rid_0(raw_dealer: zmq.Socket) -> None:
    for rid in (True, False):
        reply = raw_request(raw_dealer, [b"MLC1", msgpack.packb({"cmd": "PING", "rid": rid})])
        assert reply is not None and reply["cmd"] == "ERROR", reply
        assert reply["rid"] == 0 and type(reply["rid"]) is int, reply
        assert (reply["code"], reply["details"]) == ("protocol.bad_field", {"field": "rid"})


def test_job_maps_in_replies_carry_the_seq_of_the_last_event(broker_only: System,
                                                              zctx: zmq.Context) -> None:
    """START, CANCEL, WAIT, STATUS and LIST, also from the store after a restart."""
    peer = Peer(broker_only, zctx)
    try:
        peer.subscribed()
        created = peer.ask(m.Start, kind="sleep")["job"]  # no worker: it stays queued
        [first] = peer.events(created["id"], "queued")
        assert first.seq == created["seq"] == 1
        cancelled = peer.ask(m.Cancel, job=created["id"])["job"]
        [last] = peer.events(created["id"], "cancelled")
        assert cancelled["status"] == "cancelled" and cancelled["seq"] == last.seq == 2
        assert peer.ask(m.Wait, job=created["id"])["job"]["seq"] == 2
        assert peer.ask(m.Status, job=created["id"])["job"]["seq"] == 2
        listed = peer.ask(m.List, limit=1000)["jobs"]
        assert [j["seq"] for j in listed if j["id"] == created["id"]] == [2]
        # a job that changes no files has an empty, incomplete plan (SPEC.md 4.11)
        assert peer.ask(m.Plan, job=created["id"]) == {"ops": [], "total": 0, "complete": False}
    finally:
        peer.close()
    restart_broker(broker_only)
    peer = Peer(broker_only, zctx)
    try:
        stored = peer.ask(m.Status, job=created["id"])["job"]  # read from the store now
        assert (stored["status"], stored["seq"]) == ("cancelled", 2)
        listed = peer.ask(m.List, limit=1000)["jobs"]
        assert [j["seq"] for j in listed if j["id"] == created["id"]] == [2]
    finally:
        peer.close()


class FakeWorker:
    """A worker made of one raw DEALER: READY, then whatever the test sends."""

    def __init__(self, system: System, zctx: zmq.Context) -> None:
        self.sock = zctx.socket(zmq.DEALER)
        self.sock.connect(system.workers)
        self.send(m.Ready(kinds=["sleep"], slots=1, host="fake", pid=4242))

    def send(self, msg: m.Message) -> None:
        self.sock.send_multipart(codec.encode(msg, "worker"))

    def dispatched(self, timeout_s: float = 10.0) -> m.Dispatch:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.send(m.Heartbeat())  # the test broker's liveness is only 1 s
            if self.sock.poll(50):
                msg = codec.decode(self.sock.recv_multipart(), "broker")
                if isinstance(msg, m.Dispatch):
                    return msg
        raise AssertionError("no DISPATCH")


def test_wait_reply_and_status_agree_on_the_terminal_event(tmp_path: Path,
                                                          zctx: zmq.Context) -> None:
    """WAIT held until DONE carries the terminal EVENT's seq; a completed job is 100 %."""
    system = make_system(tmp_path, heartbeat=2.0)  # a fake worker that beats rarely lives 8 s
    system.start_broker()
    peer = Peer(system, zctx)
    worker = None
    try:
        peer.subscribed()
        worker = FakeWorker(system, zctx)  # after the throwaway jobs, which it must not get
        system.wait_for(lambda: system.worker_count() == 1, "fake worker registered")
        job = peer.ask(m.Start, kind="sleep", params={"seconds": 1, "steps": 10})["job"]
        dispatch = worker.dispatched()
        assert dispatch.job == job["id"]
        wait_rid = peer.send(m.Wait, job=job["id"])
        # STATUS answered after the WAIT was read: the WAIT is held
        running = peer.ask(m.Status, job=job["id"])["job"]
        assert running["status"] == "running"
        # the worker's total overestimated: 1 item of 10 announced, then DONE
        progress = {"total": 10, "processed": 1, "succeeded": 1, "skipped": 0, "failed": 0,
                    "current": "", "rate": 5.0}
        row = {"i": 0, "path": "step 1", "status": "ok", "message": "", "duration_ms": 1.0,
               "details": {}}
        worker.send(m.Accept(job=job["id"], attempt=dispatch.attempt))
        worker.send(m.Items(job=job["id"], attempt=dispatch.attempt, items=[row],
                            progress=progress, n=1))
        worker.send(m.Done(job=job["id"], attempt=dispatch.attempt, progress=progress, n=2))
        waited = peer.reply(wait_rid)
        assert isinstance(waited, m.Reply), waited
        done = waited.data["job"]
        last = peer.events(job["id"], "completed")[-1]
        status = peer.ask(m.Status, job=job["id"])["job"]
        assert done["status"] == status["status"] == "completed"
        assert done["seq"] == status["seq"] == last.seq
        for p in (done["progress"], status["progress"], last.progress):
            assert (p["total"], p["processed"], p["remaining"], p["percent"]) == (10, 1, 0, 100.0)
    finally:
        if worker is not None:
            worker.sock.close(linger=0)
        peer.close()
        system.stop()

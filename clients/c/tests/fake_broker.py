"""A fake broker with CURVE for the C client's tests (until the real broker speaks CURVE).

A ROUTER (client channel) and a PUB (events out), both CURVE servers, and a ZAP handler
that allows only the public key in ``allowed/`` and counts the keys it refuses.  It answers
HELLO, PING and STATUS with the reference codec (medialoom.protocol.codec), and on START of
kind ``script-clone``, ``script-quiet`` or ``script-lost-end`` it plays a script of job
states and EVENTs that checks the Clone pattern of SPEC.md 7.3: stale events, events in
order, a gap, a terminal event; a job that ends without any event, and one whose last
event is lost (so no gap ever shows).
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
import zmq.utils.z85

from medialoom.protocol import codec
from medialoom.protocol import messages as m

CLONE_JOB = "01JDC3ZPQV7WE2N6VYBN0CG6KF"
QUIET_JOB = "01JDC3Z05XBS6KRART14C2EDJ5"
LOST_JOB = "01JDC400W4FGQ1K8XMTQKFE20J"
SCRIPTS = {"script-clone": CLONE_JOB, "script-quiet": QUIET_JOB, "script-lost-end": LOST_JOB}
NOW = 1732352400.5


def make_keys(tmp: Path) -> Path:
    """Certificate files as zmq.auth writes them, plus broken ones; the directory."""
    keys = tmp / "keys"
    keys.mkdir()
    for name in ("server", "client", "stranger"):
        zmq.auth.create_certificates(str(keys), name)
    allowed = keys / "allowed"
    allowed.mkdir()
    shutil.copy(keys / "client.key", allowed / "client.key")
    client_pub, _ = zmq.auth.load_certificate(str(keys / "client.key_secret"))
    _, stranger_sec = zmq.auth.load_certificate(str(keys / "stranger.key_secret"))
    (keys / "mismatch.key_secret").write_text(
        f'metadata\ncurve\n    public-key = "{client_pub.decode()}"\n'
        f'    secret-key = "{stranger_sec.decode()}"\n')
    (keys / "bad.key").write_text("metadata\ncurve\n    public-key = \"not a key\"\n")
    return keys


def job_map(job: str, status: str, seq: int, processed: int, total: int = 10,
            result: dict[str, Any] | None = None) -> dict[str, Any]:
    """A job map of SPEC.md 5.1 with every key."""
    done = status == "completed"
    return {
        "id": job, "kind": "sleep", "paths": [], "params": {}, "priority": "normal",
        "dry_run": False, "status": status, "attempts": 1 if status != "queued" else 0,
        "max_attempts": 3, "created": NOW, "started": NOW if status != "queued" else None,
        "updated": NOW, "finished": NOW if done else None, "error": None,
        "cancel_requested": False, "seq": seq, "result": result or {}, "planned": False,
        "progress": progress(processed, total, done), "retry_of": None,
    }


def progress(processed: int, total: int, done: bool = False) -> dict[str, Any]:
    return {"total": total, "processed": processed, "succeeded": processed, "skipped": 0,
            "failed": 0, "remaining": 0 if done else total - processed,
            "percent": 100.0 if done else round(100 * processed / total, 2), "rate": 0.0,
            "eta_seconds": None, "current": ""}


class FakeBroker:
    """Run the fake in a thread: ``with FakeBroker(keys) as fake: ...``."""

    def __init__(self, keys: Path) -> None:
        self.ctx = zmq.Context()
        self.denied = 0
        self.allowed = {zmq.auth.load_certificate(str(p))[0]
                        for p in (keys / "allowed").glob("*.key")}
        self.zap = self.ctx.socket(zmq.REP)
        self.zap.bind("inproc://zeromq.zap.01")
        server_pub, server_sec = zmq.auth.load_certificate(str(keys / "server.key_secret"))
        self.router = self._curve_socket(zmq.ROUTER, server_pub, server_sec)
        self.pub = self._curve_socket(zmq.PUB, server_pub, server_sec)
        self.clients = f"tcp://127.0.0.1:{self.router.bind_to_random_port('tcp://127.0.0.1')}"
        self.events = f"tcp://127.0.0.1:{self.pub.bind_to_random_port('tcp://127.0.0.1')}"
        self.jobs = {j: job_map(j, "queued", 1, 0) for j in SCRIPTS.values()}
        self.script: list[tuple[str, Any]] = []
        self.wake_at = 0.0
        self.answered = 0  # the highest seq a STATUS reply has shown
        self.awaiting = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _curve_socket(self, kind: int, public: bytes, secret: bytes) -> zmq.Socket:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        sock.curve_publickey, sock.curve_secretkey = public, secret
        sock.curve_server = True
        sock.zap_domain = b"medialoom"
        return sock

    def __enter__(self) -> FakeBroker:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        for sock in (self.router, self.pub, self.zap):
            sock.close(linger=0)
        self.ctx.term()

    # --- the loop: ZAP requests, client requests, the script --------------------------

    def _loop(self) -> None:
        poller = zmq.Poller()
        poller.register(self.zap, zmq.POLLIN)
        poller.register(self.router, zmq.POLLIN)
        while not self.stopping.is_set():
            for sock, _ in poller.poll(10):
                if sock is self.zap:
                    self._zap(self.zap.recv_multipart())
                else:
                    self._request(self.router.recv_multipart())
            self._play()

    def _zap(self, frames: list[bytes]) -> None:
        version, request_id, _domain, _address, _identity, mechanism = frames[:6]
        ok = mechanism == b"CURVE" and zmq.utils.z85.encode(frames[6]) in self.allowed
        if not ok:
            self.denied += 1
        self.zap.send_multipart([version, request_id, b"200" if ok else b"400",
                                 b"OK" if ok else b"key not allowed", b"", b""])

    def _request(self, frames: list[bytes]) -> None:
        peer, body = frames[0], frames[1:]
        try:
            msg = codec.decode(body, "client")
        except Exception:
            return
        rid = msg.rid
        if isinstance(msg, m.Hello):
            data = {"protocol": 1, "broker": "fake", "kinds": [], "specs": {},
                    "limits": {"max_body_bytes": 1 << 20, "queue_max": 10}, "roots": []}
        elif isinstance(msg, m.Ping):
            data = {"now": NOW}
        elif isinstance(msg, m.Status) and msg.job in self.jobs:
            data = {"job": self.jobs[msg.job]}
            self.answered = max(self.answered, self.jobs[msg.job]["seq"])
        elif isinstance(msg, m.Start) and msg.kind in SCRIPTS:
            data = {"job": self.jobs[SCRIPTS[msg.kind]]}
            self._start_script(msg.kind)
        else:
            reply = m.Error(rid=rid, code="job.not_found", message="not in this fake")
            self.router.send_multipart([peer, *codec.encode(reply, "reply")])
            return
        self.router.send_multipart([peer, *codec.encode(m.Reply(rid=rid, data=data), "reply")])

    def _start_script(self, kind: str) -> None:
        if kind == "script-quiet":
            self.jobs[QUIET_JOB] = job_map(QUIET_JOB, "completed", 4, 10, result={"x": 1})
            return
        self.job = SCRIPTS[kind]
        if kind == "script-lost-end":  # seen once, then ends with its EVENT lost
            self.script = [("sleep", 0.2), ("state", (2, "running", 1)),
                           ("event", (2, "running", 1)), ("await", 2), ("sleep", 0.3),
                           ("state", (5, "completed", 10))]
            return
        self.script = [
            ("sleep", 0.2), ("event", (1, "queued", 0)),             # stale: the snapshot's
            ("state", (2, "running", 1)), ("event", (2, "running", 1)),
            ("event", (2, "running", 1)),                              # stale: a repeat
            ("state", (3, "running", 2)), ("event", (3, "running", 2)),
            ("state", (6, "running", 6)), ("event", (6, "running", 6)),  # a gap: 4, 5 lost
            ("await", 6),                        # until the STATUS it causes has been answered
            ("event", (5, "running", 5)),                              # stale: late
            ("state", (7, "completed", 10)), ("event", (7, "completed", 10)),
        ]

    def _play(self) -> None:
        while (self.script and time.monotonic() >= self.wake_at
               and self.answered >= self.awaiting):
            step, arg = self.script.pop(0)
            if step == "sleep":
                self.wake_at = time.monotonic() + arg
            elif step == "await":
                self.awaiting = arg
            elif step == "state":
                seq, status, done = arg
                result = {"slept_s": 1.0} if status == "completed" else None
                self.jobs[self.job] = job_map(self.job, status, seq, done, result=result)
            else:
                seq, status, done = arg
                event = m.Event(job=self.job, seq=seq, status=status, kind="sleep", attempts=1,
                                progress=progress(done, 10, status == "completed"), ts=NOW)
                self.pub.send_multipart(codec.encode(event, "event"))
                self.wake_at = time.monotonic() + 0.02

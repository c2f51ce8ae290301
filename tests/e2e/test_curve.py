"""CURVE on the four broker sockets (issue 12, item 3), with real broker and worker processes.

A broker started with ``--curve`` on loopback ports and the keys ``medialoom keys``
made in its data dir: a peer without keys, with an unknown key or with a key of the
wrong role gets nothing; a watch key reads but START is ``auth.forbidden``; a revoked
key is refused from its next connection on, without a restart; a capture of the
loopback traffic shows no job path; a broken key file stops a program at start-up
with its name; the refusals are audit lines in the broker's log.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from medialoom.certs import Curve
from medialoom.clients.client import AsyncClient, Client, ClientError
from medialoom.keys import KeyStore, client_curve
from medialoom.protocol import codec
from medialoom.protocol import messages as m
from medialoom.protocol.errors import BrokerUnavailable
from tests.support import IN_CI, System, free_ports, make_system

pytestmark = pytest.mark.e2e
CLI = [sys.executable, "-m", "medialoom.clients.cli_main"]


class CurveSystem(System):
    """A System whose broker runs with CURVE; its own client uses a client key."""

    curve: Curve | None = None
    worker_key: str = ""

    def client(self, timeout_s: float = 5.0, curve: Curve | None = None) -> Client:
        return Client(self.clients, self.events_out, timeout_s=timeout_s,
                      curve=curve or self.curve)

    def _popen(self, argv: list[str], log: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MEDIALOOM_")}
        env["MEDIALOOM_CONFIG"] = str(self.data_dir / "no-config.toml")
        if log == "workers" and self.worker_key:
            env.update(MEDIALOOM_KEY=self.worker_key,
                       MEDIALOOM_BROKER_KEY=str(self.data_dir / "keys" / "broker.key"))
        fd = self._log(log)
        try:
            return subprocess.Popen(argv, stdout=fd, stderr=subprocess.STDOUT, env=env)
        finally:
            os.close(fd)

    def key(self, name: str) -> Curve:
        """The CURVE keys of the issued key NAME."""
        curve = client_curve({"key": str(self.store.issued_secret(name)),
                              "data_dir": str(self.data_dir)})
        assert curve is not None
        return curve

    @property
    def store(self) -> KeyStore:
        return KeyStore(self.data_dir)


def curve_system(tmp_path: Path) -> CurveSystem:
    plain = make_system(tmp_path)
    s = CurveSystem(**{f: getattr(plain, f) for f in ("root", "data_dir", "clients", "workers",
                                                      "events_in", "events_out", "log_dir")})
    s.extra_broker_args = ["--curve"]
    store = s.store
    store.init()
    store.add("client", "laptop")
    store.add("watch", "phone")
    store.add("worker", "nas")
    s.curve = s.key("laptop")
    s.worker_key = store.issued_secret("nas")
    return s


@pytest.fixture
def curve(tmp_path: Path) -> Iterator[CurveSystem]:
    """A started broker with CURVE on and keys laptop (client), phone (watch), nas (worker)."""
    s = curve_system(tmp_path)
    s.start_broker()
    yield s
    codes = s.stop()
    assert all(code == 0 for code in codes.values()), (codes, s.read_log("broker")[-3000:])


def raw_request(endpoint: str, curve: Curve | None, timeout_ms: int) -> list[bytes] | None:
    """A PING on a raw DEALER (with these keys, or none); the reply frames, or None."""
    from medialoom.protocol import codec
    from medialoom.protocol import messages as m
    from medialoom.sockets import make_socket

    ctx = zmq.Context()
    try:
        sock = make_socket(ctx, zmq.DEALER, connect=endpoint, curve=curve)
        sock.send_multipart(codec.encode(m.Ping(rid=1), "client"))
        frames = sock.recv_multipart() if sock.poll(timeout_ms) else None
        sock.close(linger=0)
        return frames
    finally:
        ctx.term()


def wait_log(s: System, text: str, timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        log = s.read_log("broker")
        if text in log:
            return log
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in the broker log:\n{s.read_log('broker')[-3000:]}")


# --- refused peers ------------------------------------------------------------------------


def test_client_without_keys_gets_no_reply_within_2_s(curve: CurveSystem) -> None:
    with curve.client() as c:
        assert c.ping() > 0  # the broker answers a client key
    assert raw_request(curve.clients, None, 2000) is None
    with pytest.raises(BrokerUnavailable) as err, Client(curve.clients, curve.events_out,
                                                         timeout_s=2.0) as c:
        c.ping()
    assert "give --key" in err.value.message  # the hint for a CURVE broker
    # the audit line of a peer without CURVE comes from a socket monitor, after the ZMTP
    # greeting: on a loaded machine a client that gave up first leaves only a dropped
    # connection (not logged), so one that waits for the handshake is asked for it here
    with zmq.Context() as ctx, ctx.socket(zmq.DEALER) as plain:
        plain.connect(curve.clients)
        plain.send_multipart(codec.encode(m.Ping(rid=1), "client"))
        log = wait_log(curve, "refused a connection to clients (tcp://127.0.0.1:", 30)
        plain.close(linger=0)
    assert "the peer does not speak CURVE" in log


def test_unknown_key_and_worker_key_get_no_reply_and_an_audit_line(curve: CurveSystem) -> None:
    public, secret = zmq.curve_keypair()
    stranger = Curve(public, secret, curve.curve.server)  # type: ignore[union-attr]
    assert raw_request(curve.clients, stranger, 2000) is None
    log = wait_log(curve, "unknown key")
    assert f"a connection from 127.0.0.1 to clients: unknown key {public.decode()[:8]}" in log
    assert raw_request(curve.clients, curve.key("nas"), 2000) is None  # a worker key
    wait_log(curve, "key nas (role worker) may not use it (client or watch only)")
    wrong_broker = Curve(curve.curve.public, curve.curve.secret, public)  # type: ignore[union-attr]
    assert raw_request(curve.clients, wrong_broker, 2000) is None
    with curve.client() as c:
        assert c.ping() > 0  # the broker kept serving


def test_watch_key_can_status_but_start_is_forbidden(curve: CurveSystem) -> None:
    with curve.client() as c:  # no workers: the job stays queued
        job = c.start("sleep", params={"steps": 1})
    with curve.client(curve=curve.key("phone")) as watcher:
        assert watcher.status(job["id"])["status"] == "queued"
        assert watcher.list()["total"] == 1
        assert watcher.stats()["counts"]["queued"] == 1
        assert watcher.hello()["protocol"] == 1
        for call in (lambda: watcher.start("sleep", params={"steps": 1}),
                     lambda: watcher.cancel(job["id"]), lambda: watcher.clear(job["id"])):
            with pytest.raises(ClientError) as err:
                call()
            assert err.value.code == "auth.forbidden"
            assert err.value.details["key"] == "phone" and err.value.details["role"] == "watch"
        assert "START, CANCEL and CLEAR need a key of role client" in err.value.message
        assert watcher.status(job["id"])["status"] == "queued"  # nothing changed
        assert watcher.list()["total"] == 1
    log = wait_log(curve, "refused CLEAR from 127.0.0.1: key phone (role watch)")
    assert "refused START from 127.0.0.1: key phone (role watch)" in log
    out = subprocess.run([*CLI, "start", "sleep", "--set", "steps=1", "--endpoint",
                          curve.clients, "--events", curve.events_out, "--key",
                          curve.store.issued_secret("phone"), "--broker-key",
                          curve.store.broker_public], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "MEDIALOOM_CONFIG": "/nonexistent"})
    assert out.returncode == 2 and "auth.forbidden" in out.stderr, out


def test_watch_key_can_watch_a_job_over_curve(curve: CurveSystem) -> None:
    curve.start_worker()
    with curve.client() as c:
        job = c.start("sleep", params={"steps": 5, "seconds": 0.5})
    with curve.client(curve=curve.key("phone")) as watcher:
        seen = [j["status"] for j in watcher.watch(job["id"])]
        assert seen[-1] == "completed"


def test_bundled_requests_over_curve_are_each_checked_against_the_key(curve: CurveSystem) -> None:
    """AsyncClient bundles its requests (SPEC.md 2): over CURVE each body is still answered
    under the key's role, alone (a watch key's START refused, its STATUS and LIST served)."""
    async def run() -> tuple[list[str], list[object], bool]:
        async with AsyncClient(curve.clients, curve.events_out, timeout_s=30,
                               curve=curve.curve) as c:
            await c.ping()
            jobs = await asyncio.gather(*[c.start("sleep", params={"steps": 1})
                                          for _ in range(40)])
        async with AsyncClient(curve.clients, curve.events_out, timeout_s=30,
                               curve=curve.key("phone")) as w:
            await w.ping()
            answers = await asyncio.gather(w.status(jobs[0]["id"]), w.start("sleep"), w.list(),
                                           return_exceptions=True)
            return [j["status"] for j in jobs], answers, w._bundles

    statuses, (status, start, listed), bundles = asyncio.run(run())
    assert statuses == ["queued"] * 40 and bundles
    assert status["status"] == "queued"  # type: ignore[index]
    assert isinstance(start, ClientError) and start.code == "auth.forbidden"
    assert listed["total"] == 40  # type: ignore[index]


# --- revocation -----------------------------------------------------------------------------


def test_revoked_key_is_refused_after_the_reload(curve: CurveSystem, tmp_path: Path) -> None:
    kept = tmp_path / "laptop.key_secret"  # the peer's copy: revoke deletes the issued one
    shutil.copy(curve.store.issued_secret("laptop"), kept)
    laptop = curve.curve
    open_conn = curve.client(curve=laptop)
    assert open_conn.ping() > 0
    out = subprocess.run([*CLI, "keys", "revoke", "laptop", "--data-dir", str(curve.data_dir)],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "MEDIALOOM_CONFIG": "/nonexistent"})
    assert out.returncode == 0 and "revoked laptop (role client)" in out.stdout, out
    # no restart, no signal: the next connection is checked against the list on disk
    assert raw_request(curve.clients, laptop, 2000) is None
    log = wait_log(curve, "key laptop (role client, revoked)")
    assert "allow-list reloaded: 2 keys; added none; removed laptop" in log
    with pytest.raises(ClientError) as err:  # a connection made before: each command refused
        open_conn.ping()
    assert err.value.code == "auth.forbidden" and "revoked" in err.value.message
    open_conn.close()
    # a key added now gets in at once, and SIGHUP re-reads the list without stopping
    curve.store.add("client", "desktop")
    assert curve.broker is not None
    curve.broker.send_signal(signal.SIGHUP)
    assert raw_request(curve.clients, curve.key("desktop"), 5000) is not None
    assert curve.broker.poll() is None


# --- keys that work end to end ----------------------------------------------------------------


def test_worker_with_a_worker_key_runs_jobs_and_a_client_key_cannot_be_a_worker(
        curve: CurveSystem) -> None:
    curve.start_worker()
    with curve.client() as c:
        done = c.wait(c.start("sleep", params={"steps": 3})["id"], timeout_s=60)
        assert done["status"] == "completed"
        assert len(c.stats()["workers"]) == 1
    curve.worker_key = curve.store.issued_secret("laptop")  # role client on the worker socket
    curve.start_worker(wait=False)
    log = wait_log(curve, "to workers: key laptop (role client) may not use it (worker only)")
    log = wait_log(curve, "to events_in: key laptop (role client) may not use it (worker only)")
    assert "key nas" not in log  # the worker key got in on both of its sockets
    with curve.client() as c:
        assert len(c.stats()["workers"]) == 1


# --- no plaintext on the wire -------------------------------------------------------------


class Capture:
    """Every byte on the loopback interface while it runs (a raw AF_PACKET socket; root)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind(("lo", 0))
        self.sock.settimeout(0.2)
        self.data = bytearray()
        self.packets = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                packet = self.sock.recv(65535)
            except TimeoutError:
                continue
            self.data += packet
            self.packets += 1

    def __enter__(self) -> Capture:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sock.close()


def require_root() -> None:
    if os.geteuid() != 0:
        if IN_CI:
            pytest.fail("the loopback capture needs root (a raw AF_PACKET socket) in CI")
        pytest.skip("the loopback capture needs root (a raw AF_PACKET socket)")


def run_job_on(s: System, path: Path) -> None:
    with s.client() as c:
        job = c.start("scan", [str(path)])
        assert c.wait(job["id"], timeout_s=60)["status"] == "completed"
        assert any(str(path) in item["path"] for item in c.results(job["id"])["items"])


@pytest.mark.parametrize("with_curve", [False, True], ids=["plain", "curve"])
def test_loopback_capture_shows_no_plaintext_job_path(tmp_path: Path, with_curve: bool) -> None:
    require_root()
    s = curve_system(tmp_path) if with_curve else make_system(tmp_path)
    marker = f"medialoom-capture-{os.getpid()}-{'c' if with_curve else 'p'}-Zq8"
    folder = s.root / marker
    folder.mkdir()
    (folder / "track.mp3").write_bytes(b"\xff\xfb\x14\xc4" + bytes(92))
    s.start_broker()
    s.start_worker()
    try:
        with Capture() as cap:
            run_job_on(s, folder)
            time.sleep(0.3)  # the last events and heartbeats
    finally:
        s.stop()
    assert cap.packets > 20, "the capture saw no traffic"
    seen = marker.encode() in cap.data
    # without CURVE the path is there to read: the capture works; with CURVE it is not
    assert seen is (not with_curve), f"marker seen={seen} in {len(cap.data)} bytes"


# --- bad keys and bad settings at start-up -----------------------------------------------


def _run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDIALOOM_")}
    base["MEDIALOOM_CONFIG"] = "/nonexistent/config.toml"
    return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          env={**base, **(env or {})})


def test_malformed_key_files_stop_each_program_at_start_up_naming_the_file(
        tmp_path: Path) -> None:
    s = curve_system(tmp_path)
    eps = ["--clients", s.clients, "--workers", s.workers, "--events-in", s.events_in,
           "--events-out", s.events_out]
    bad = s.data_dir / "keys" / "client" / "broken.key"
    bad.write_text('curve\n    public-key = "not a key"\n')
    out = _run([sys.executable, "-m", "medialoom.broker", "--data-dir", str(s.data_dir),
                "--root", str(s.root), "--curve", *eps])
    assert out.returncode == 2 and f"key file {bad}" in out.stderr, out
    assert "not a 40-character Z85 key" in out.stderr
    bad.unlink()
    garbage = tmp_path / "garbage.key_secret"
    garbage.write_text("hello\n")
    public_only = s.data_dir / "keys" / "issued" / "laptop.key"
    for env, text in [({"MEDIALOOM_KEY": str(garbage)}, f"key file {garbage}: has no curve "
                       "public-key"),
                      ({"MEDIALOOM_KEY": str(public_only)}, f"key file {public_only}: holds no "
                       "secret-key"),
                      ({"MEDIALOOM_KEY": str(tmp_path / "absent")}, "absent: does not exist")]:
        for argv in ([*CLI, "stats", "--endpoint", s.clients], [
                sys.executable, "-m", "medialoom.workers", "-n", "1", "--workers", s.workers],
                [sys.executable, "-m", "medialoom.clients.gateway", "--endpoint", s.clients,
                 "--listen", "127.0.0.1:0", "--data-dir", str(s.data_dir)]):
            out = _run(argv, {**env, "MEDIALOOM_DATA_DIR": str(s.data_dir)})
            assert out.returncode == 2 and text in out.stderr, (argv, out)
    empty = tmp_path / "empty-data"
    out = _run([sys.executable, "-m", "medialoom.broker", "--data-dir", str(empty), "--root",
                str(s.root), "--curve", *eps])
    assert out.returncode == 2 and "broker.key_secret: does not exist" in out.stderr
    assert "medialoom keys init" in out.stderr


def test_binding_beyond_loopback_needs_curve_or_insecure(tmp_path: Path) -> None:
    port = free_ports(1)[0]
    out = _run([sys.executable, "-m", "medialoom.broker", "--data-dir", str(tmp_path / "d"),
                "--root", str(tmp_path), "--clients", f"tcp://0.0.0.0:{port}"])
    assert out.returncode == 2, out
    assert f"tcp://0.0.0.0:{port} is reachable beyond this host, so it needs CURVE" in out.stderr
    out = _run([*CLI, "up", "--host", "0.0.0.0", "--data-dir", str(tmp_path / "d"), "--root",
                str(tmp_path)])
    assert out.returncode == 2 and "needs CURVE" in out.stderr, out


# --- medialoom up --curve --------------------------------------------------------------------


def test_up_with_curve_runs_pool_gateway_and_the_local_cli_over_curve(tmp_path: Path) -> None:
    import json
    import urllib.request

    ports = free_ports(5)
    eps = {name: f"tcp://127.0.0.1:{p}" for name, p in
           zip(("clients", "workers", "events_in", "events_out"), ports, strict=False)}
    data = tmp_path / "data"
    env = {"MEDIALOOM_DATA_DIR": str(data), **{f"MEDIALOOM_{k.upper()}": v for k, v in eps.items()}}
    base = {k: v for k, v in os.environ.items() if not k.startswith("MEDIALOOM_")}
    base["MEDIALOOM_CONFIG"] = str(tmp_path / "none.toml")
    up = subprocess.Popen([*CLI, "up", "--curve", "-n", "1", "--root", str(tmp_path),
                           "--gateway", f"127.0.0.1:{ports[4]}"], env={**base, **env},
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        stats = None
        while time.monotonic() < deadline and up.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ports[4]}/api/v1/stats",
                                            timeout=2) as r:
                    stats = json.load(r)
                if stats["workers"]:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert stats and stats["workers"], "the gateway did not report a worker over CURVE"
        out = _run([*CLI, "start", "sleep", "--set", "steps=2", "--watch", "--json"],
                   {**env, "MEDIALOOM_CURVE": "true"})
        assert out.returncode == 0 and '"completed"' in out.stdout.splitlines()[-1], out
        out = _run([*CLI, "keys", "list"], env)
        assert "local " in out.stdout and "local-worker  worker" in out.stdout, out
        assert (data / "keys" / "issued" / "local.key_secret").stat().st_mode & 0o777 == 0o600
        assert (data / "keys").stat().st_mode & 0o777 == 0o700
        plain = _run([*CLI, "stats", "--timeout", "1"], env)  # without keys: no answer
        assert plain.returncode == 4 and "give --key" in plain.stderr, plain
    finally:
        os.killpg(up.pid, signal.SIGTERM)
        try:
            output = up.communicate(timeout=30)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            output = up.communicate()[0].decode(errors="replace")
    assert up.returncode == 0, output
    assert "(CURVE on)" in output

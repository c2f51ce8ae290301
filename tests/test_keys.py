"""Key files and the allow-list store (medialoom/certs.py, medialoom/keys.py), the roles and the
audit folding of broker/auth.py: no processes, real files, real CURVE sockets where it counts."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import zmq
import zmq.auth

from medialoom import settings
from medialoom.broker.auth import ROLE_COMMANDS, Audit, Gatekeeper, zap_domain
from medialoom.certs import KeyFileError, read_certificate, write_certificate
from medialoom.keys import KeyStore, KeyStoreError, client_curve, curve_settings
from medialoom.protocol.messages import CHANNELS
from medialoom.sockets import is_loopback, make_socket

GOOD = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"


def mode(path: str | Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_pyzmq_writes_are_read_and_ours_are_read_by_pyzmq(tmp_path: Path) -> None:
    public_file, secret_file = zmq.auth.create_certificates(str(tmp_path), "peer")
    theirs = read_certificate(secret_file, secret=True)
    assert (theirs.public, theirs.secret) == zmq.auth.load_certificate(secret_file)
    public, secret = zmq.curve_keypair()
    ours = write_certificate(tmp_path / "ours.key_secret", public, secret, {"name": "x"})
    assert zmq.auth.load_certificate(ours) == (public, secret)
    assert mode(ours) == 0o600
    assert mode(write_certificate(tmp_path / "ours.key", public)) == 0o644
    with pytest.raises(FileExistsError):
        write_certificate(ours, public, secret)  # never clobbers a key
    assert read_certificate(ours).metadata == {"name": "x"}


@pytest.mark.parametrize(("text", "problem"), [
    ("", "has no curve public-key"),
    ("hello world\n", "has no curve public-key"),
    ('curve\n    public-key = "short"\n', "public-key is not a 40-character Z85 key"),
    (f'curve\n    public-key = "{GOOD[:-1]}~"\n', "public-key is not a 40-character Z85 key"),
    (f'curve\n\tpublic-key = "{GOOD}"\n', "line 2: indent with multiples of 4 spaces"),
    (f'curve\n    public-key = "{GOOD}\n', "line 2: a quoted value must end with its quote"),
    (f'    public-key = "{GOOD}"\n', "line 1: an indented line outside any section"),
])
def test_a_broken_certificate_is_an_error_naming_the_file(tmp_path: Path, text: str,
                                                           problem: str) -> None:
    path = tmp_path / "k.key"
    path.write_text(text)
    with pytest.raises(KeyFileError) as err:
        read_certificate(path)
    assert str(err.value).startswith(f"key file {path}: ") and problem in str(err.value)


def test_secret_files_must_hold_a_matching_secret(tmp_path: Path) -> None:
    public_file, secret_file = zmq.auth.create_certificates(str(tmp_path), "a")
    with pytest.raises(KeyFileError, match="holds no secret-key: give the secret certificate"):
        read_certificate(public_file, secret=True)
    other_public, _ = zmq.curve_keypair()
    _, secret = zmq.auth.load_certificate(secret_file)
    mixed = tmp_path / "mixed.key_secret"
    write_certificate(mixed, other_public, secret)
    with pytest.raises(KeyFileError, match="secret-key does not belong to its public-key"):
        read_certificate(mixed)
    with pytest.raises(KeyFileError, match="does not exist"):
        read_certificate(tmp_path / "nope")
    with pytest.raises(KeyFileError, match="is a folder"):
        read_certificate(tmp_path)
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(KeyFileError, match="not UTF-8"):
        read_certificate(tmp_path / "bin")


def test_store_issues_allows_lists_and_revokes_keys_privately(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "data")
    made, public = store.init()
    assert made and store.init() == (False, public)  # once
    issued = store.add("watch", "phone")
    assert issued.entry.role == "watch" and mode(issued.secret_file) == 0o600
    assert mode(store.dir) == 0o700 and mode(store.dir / "watch") == 0o700
    assert mode(store.broker_secret) == 0o600
    store.add("client", "laptop", out_dir=str(tmp_path / "out"))
    assert (tmp_path / "out" / "laptop.key_secret").exists()
    own_public_file, _ = zmq.auth.create_certificates(str(tmp_path), "nas")
    nas = store.add("worker", "nas", public_file=own_public_file)
    assert nas.secret_file == "" and nas.entry.public == read_certificate(
        own_public_file).public.decode()
    assert [(e.role, e.name) for e in store.entries()] == [
        ("client", "laptop"), ("watch", "phone"), ("worker", "nas")]
    with pytest.raises(KeyStoreError, match="exists already"):
        store.add("client", "phone")
    with pytest.raises(KeyStoreError, match="allowed already, as nas"):
        store.add("client", "nas2", public_file=own_public_file)
    with pytest.raises(KeyStoreError, match="must be 1-64 letters"):
        store.add("client", "../evil")
    with pytest.raises(KeyStoreError, match="role 'admin' is not one of"):
        store.add("admin", "x")
    before = store.fingerprint()
    assert store.revoke("phone").role == "watch"
    assert not os.path.exists(issued.secret_file)
    assert store.fingerprint() != before
    assert "phone" not in {e.name for e in store.entries()}
    with pytest.raises(KeyStoreError, match="no key is named phone"):
        store.revoke("phone")


def test_a_key_on_two_lists_is_refused_in_both(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.init()
    issued = store.add("watch", "phone")
    (store.dir / "client").mkdir()
    (store.dir / "client" / "copy.key").write_text(Path(issued.entry.path).read_text())
    allowed, problems = store.allow_list(strict=False)
    assert issued.entry.public not in allowed and "both are refused" in problems[0]
    with pytest.raises(KeyFileError):
        store.allow_list(strict=True)


def test_client_curve_from_settings(tmp_path: Path) -> None:
    assert client_curve({}) is None
    store = KeyStore(tmp_path)
    store.init()
    store.add("client", "local")
    curve = client_curve({"curve": True, "data_dir": str(tmp_path)})
    assert curve is not None and curve.server == read_certificate(store.broker_public).public
    assert "secret" not in repr(curve) or curve.secret.decode() not in repr(curve)
    again = client_curve({**settings.load("/nonexistent", environ=settings.to_environ(
        curve_settings(curve))), "data_dir": str(tmp_path)})
    assert again == curve  # what a parent hands a child gives the same keys
    with pytest.raises(KeyFileError, match="local-worker.key_secret: does not exist: CURVE"):
        client_curve({"curve": True, "data_dir": str(tmp_path)}, "local-worker")


def test_curve_setting_is_a_strict_boolean() -> None:
    for text, value in (("true", True), ("1", True), ("on", True), ("false", False), ("0", False)):
        assert settings.load("/nonexistent", environ={"MEDIALOOM_CURVE": text})["curve"] is value
    with pytest.raises(ValueError, match="setting curve must be true or false"):
        settings.load("/nonexistent", environ={"MEDIALOOM_CURVE": "sometimes"})
    assert settings.to_environ({"curve": True}) == {"MEDIALOOM_CURVE": "true"}


def test_loopback_endpoints() -> None:
    assert all(map(is_loopback, ["tcp://127.0.0.1:5570", "tcp://[::1]:1", "tcp://localhost:1",
                                 "ipc:///tmp/x", "inproc://y"]))
    assert not any(map(is_loopback, ["tcp://0.0.0.0:1", "tcp://*:1", "tcp://10.0.0.5:1",
                                     "tcp://eth0:1", "tcp://nas.local:1"]))


def test_roles_cover_exactly_the_client_commands() -> None:
    words = set(CHANNELS["client"])
    assert ROLE_COMMANDS["client"] == words
    assert words - ROLE_COMMANDS["watch"] == {"START", "CANCEL", "CLEAR"}
    assert not ROLE_COMMANDS["worker"]


def test_audit_folds_repeats_of_one_refusal(caplog: pytest.LogCaptureFixture) -> None:
    audit = Audit()
    with caplog.at_level("WARNING", logger="medialoom.audit"):
        for _ in range(5):
            audit.refuse(("key", "a"), "a connection: unknown key A")
        audit.refuse(("key", "b"), "a connection: unknown key B")
    lines = [r.getMessage() for r in caplog.records]
    assert lines == ["refused a connection: unknown key A", "refused a connection: unknown key B"]
    assert audit.refused == 6
    audit.last[("key", "a")] = (audit.last[("key", "a")][0] - 60, 4)  # 60 s later
    with caplog.at_level("WARNING", logger="medialoom.audit"):
        audit.refuse(("key", "a"), "a connection: unknown key A")
    assert "(and 4 more like it in the last 60 s)" in caplog.records[-1].getMessage()


def test_zap_handler_lets_in_allowed_keys_only_on_their_sockets(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.init()
    store.add("watch", "phone")
    store.add("worker", "nas")
    ctx = zmq.Context()
    gate = Gatekeeper(ctx, store)
    gate.start()
    socks = []
    try:
        router = make_socket(ctx, zmq.ROUTER, bind="tcp://127.0.0.1:0", curve=gate.curve,
                             zap_domain=zap_domain("clients"))
        socks.append(router)
        gate.watch(router, "clients")
        endpoint = router.getsockopt(zmq.LAST_ENDPOINT).decode()

        def sent_by(name: str | None) -> bytes | None:
            curve = client_curve({"key": store.issued_secret(name), "data_dir": str(tmp_path)}
                                 ) if name else None
            dealer = make_socket(ctx, zmq.DEALER, connect=endpoint, curve=curve)
            socks.append(dealer)
            dealer.send(b"hi")
            if not router.poll(1500):
                return None
            frame = router.recv_multipart(copy=False)[0]
            return frame.get("User-Id").encode()

        phone = read_certificate(store.issued_secret("phone")).public
        assert sent_by("phone") == phone
        assert sent_by("nas") is None  # a worker key on the clients socket
        assert sent_by(None) is None  # no CURVE at all
        assert gate.refusal(_Frame(phone), "STATUS") is None  # type: ignore[arg-type]
        refused = gate.refusal(_Frame(phone), "START")  # type: ignore[arg-type]
        assert refused is not None and refused.code == "auth.forbidden"
        store.revoke("phone")
        gate.refresh()
        refused = gate.refusal(_Frame(phone), "STATUS")  # type: ignore[arg-type]
        assert refused is not None and "revoked" in refused.message
        assert refused.details == {"command": "STATUS", "key": "phone", "role": "watch"}
    finally:
        for s in socks:
            s.close(linger=0)
        gate.stop()
        ctx.term()


class _Frame:
    """Stands in for a zmq.Frame's properties in refusal()."""

    def __init__(self, key: bytes) -> None:
        self.props = {"User-Id": key.decode(), "Peer-Address": "127.0.0.1"}

    def get(self, name: str) -> str:
        return self.props[name]


def test_a_curve_server_without_its_zap_handler_lets_nobody_in(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.init()
    store.add("client", "laptop")
    ctx = zmq.Context()
    try:
        router = make_socket(ctx, zmq.ROUTER, bind="tcp://127.0.0.1:0",
                             curve=store.server_curve(), zap_domain=zap_domain("clients"))
        endpoint = router.getsockopt(zmq.LAST_ENDPOINT).decode()
        dealer = make_socket(ctx, zmq.DEALER, connect=endpoint, curve=client_curve(
            {"key": store.issued_secret("laptop"), "data_dir": str(tmp_path)}))
        dealer.send(b"hi")
        assert not router.poll(1500)  # libzmq's default would let any key in
        dealer.close(linger=0)
        router.close(linger=0)
    finally:
        ctx.term()

"""CURVE at the broker: the ZAP handler and the roles of keys (SPEC.md section 1.1).

With CURVE on, the four broker sockets are CURVE servers, each with its own ZAP
domain (``medialoom.clients``, ...).  ``Gatekeeper`` is the ZAP handler (RFC 27):
a thread with a REP socket at ``inproc://zeromq.zap.01`` of the broker's context
that lets a connection in only when its client key is on an allow-list whose
role may use that socket (``SOCKET_ROLES``), and names it by its Z85 public key
(the ZMQ ``User-Id`` of every message on the connection).  Before each answer it
checks whether the allow-list changed on disk (and SIGHUP makes it read it
again at once), so a revoked key is refused from its next connection on.

The actor asks ``refusal`` about each client request: a ``watch`` key may only
read (``ROLE_COMMANDS``), and a key revoked while connected may do nothing.

Every refused connection and command is one audit log line (key name, peer
address, socket or command); repeats of the same refusal from the same peer are
counted and folded into the next line at most every ``AUDIT_QUIET_S`` seconds.
A peer that does not speak CURVE at all never reaches ZAP: the socket monitors
report its failed handshake, without its address (libzmq does not give it).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

import zmq
from zmq.utils import z85
from zmq.utils.monitor import parse_monitor_message

from medialoom.certs import Curve, KeyFileError
from medialoom.keys import Entry, KeyStore
from medialoom.protocol.errors import RequestError

log = logging.getLogger("medialoom.audit")
ZAP_ENDPOINT = "inproc://zeromq.zap.01"
#: broker socket -> the roles whose keys may connect to it
SOCKET_ROLES: dict[str, tuple[str, ...]] = {
    "clients": ("client", "watch"), "workers": ("worker",), "events_in": ("worker",),
    "events_out": ("client", "watch")}
WATCH_COMMANDS = frozenset({"HELLO", "PING", "STATUS", "WAIT", "LIST", "STATS", "RESULTS",
                            "PLAN"})
#: role -> the client-channel commands its keys may send
ROLE_COMMANDS: dict[str, frozenset[str]] = {
    "watch": WATCH_COMMANDS, "client": WATCH_COMMANDS | {"START", "CANCEL", "CLEAR"},
    "worker": frozenset()}
AUDIT_QUIET_S = 10.0
#: how often the handler looks at the allow-list when no connection asks
RELOAD_EVERY_S = 1.0
#: a peer that does not speak CURVE fails here (NO_DETAIL is a dropped connection: not logged)
HANDSHAKE_FAILED = zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
HANDSHAKE_WHY = {
    zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH: "the peer does not speak CURVE",
    zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC: "the peer's CURVE hello does not decrypt (it has "
    "another broker public key)",
}


def zap_domain(socket_name: str) -> str:
    """The ZAP domain of a broker socket: ``medialoom.<name>``."""
    return f"medialoom.{socket_name}"


class Audit:
    """Audit log lines, with repeats of one refusal folded (at most one line per key per
    AUDIT_QUIET_S, saying how many more were refused meanwhile)."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, ...], tuple[float, int]] = {}
        self.lock = threading.Lock()  # the ZAP thread and the actor both refuse
        self.refused = 0

    def refuse(self, key: tuple[str, ...], line: str) -> None:
        now = time.monotonic()
        with self.lock:
            self.refused += 1
            at, folded = self.last.get(key, (-AUDIT_QUIET_S, 0))
            if now - at < AUDIT_QUIET_S:
                self.last[key] = (at, folded + 1)
                return
            if len(self.last) > 10_000:
                self.last.clear()
            self.last[key] = (now, 0)
        more = f" (and {folded} more like it in the last {now - at:.0f} s)" if folded else ""
        log.warning("refused %s%s", line, more)


class Gatekeeper:
    """The ZAP handler thread, the allow-list it keeps current and the per-command check."""

    def __init__(self, ctx: zmq.Context[Any], store: KeyStore) -> None:
        self.ctx, self.store = ctx, store
        self.curve: Curve = store.server_curve()  # KeyFileError names a missing or bad file
        self.allowed: dict[str, Entry] = store.allow_list(strict=True)[0]
        #: keys taken off the allow-list while this broker runs, to name them in the audit log
        self.revoked: dict[str, Entry] = {}
        self.version = store.fingerprint()
        self.audit = Audit()
        #: monitor PAIRs made by watch, for the thread to poll (handed over through the queue)
        self._monitors: queue.SimpleQueue[tuple[zmq.Socket[Any], str]] = queue.SimpleQueue()
        self._reload = threading.Event()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="medialoom-zap", daemon=True)

    def __repr__(self) -> str:
        return f"<Gatekeeper allowed={len(self.allowed)} refused={self.audit.refused}>"

    # --- life ------------------------------------------------------------------------

    def start(self) -> None:
        """Bind the ZAP socket (before any CURVE socket is bound) and serve in the thread."""
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        """End the thread and close its sockets (before the context terminates)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def reload(self) -> None:
        """Read the allow-list again soon (SIGHUP)."""
        self._reload.set()

    def watch(self, sock: zmq.Socket[Any], name: str) -> None:
        """Report failed handshakes of this broker socket (peers without CURVE) in the audit log.

        libzmq sends monitor events blocking, from its I/O thread: the PAIR that reads them
        is connected here, right after the monitor is bound (one connected before the bind
        stalls every connection of the context), and keeps a deep queue.
        """
        endpoint = f"inproc://medialoom.monitor.{name}"
        sock.monitor(endpoint, HANDSHAKE_FAILED)
        pair = self.ctx.socket(zmq.PAIR)
        pair.linger = 0
        pair.rcvhwm = 100_000
        pair.connect(endpoint)
        self._monitors.put((pair, name))

    # --- the allow-list ----------------------------------------------------------------

    def refresh(self, force: bool = False) -> None:
        """Read the allow-list again if it changed on disk (or force)."""
        version = self.store.fingerprint()
        if version == self.version and not force:
            return
        allowed, problems = self.store.allow_list(strict=False)
        for problem in problems:
            log.error("allow-list: %s (that key is refused)", problem)
        gone = sorted(e.name for k, e in self.allowed.items() if k not in allowed)
        added = sorted(e.name for k, e in allowed.items() if k not in self.allowed)
        self.revoked.update({k: e for k, e in self.allowed.items() if k not in allowed})
        if len(self.revoked) > 10_000:
            self.revoked.clear()
        self.allowed, self.version = allowed, version  # one assignment: the actor reads it
        if gone or added:
            log.warning("allow-list reloaded: %d keys; added %s; removed %s", len(allowed),
                        ", ".join(added) or "none", ", ".join(gone) or "none")

    # --- ZAP ---------------------------------------------------------------------------

    def _run(self) -> None:
        socks: list[zmq.Socket[Any]] = []
        try:
            zap = self.ctx.socket(zmq.REP)
            zap.linger = 0
            socks.append(zap)
            zap.bind(ZAP_ENDPOINT)
            poller = zmq.Poller()
            poller.register(zap, zmq.POLLIN)
            names: dict[zmq.Socket[Any], str] = {}
        except BaseException as exc:  # noqa: BLE001 - handed to start()
            self._error = exc
            self._ready.set()
            for s in socks:
                s.close(linger=0)
            return
        self._ready.set()
        checked = time.monotonic()
        try:
            while not self._stop.is_set():
                while not self._monitors.empty():
                    pair, name = self._monitors.get()
                    socks.append(pair)
                    names[pair] = name
                    poller.register(pair, zmq.POLLIN)
                for sock, _ in poller.poll(250):
                    if sock is zap:
                        request = zap.recv_multipart()
                        try:
                            reply = self._answer(request)
                        except Exception:  # a bug here must refuse, never let in
                            log.exception("ZAP handler failed; refusing the connection")
                            reply = [b"1.0", request[1] if len(request) > 1 else b"", b"500",
                                     b"internal error", b"", b""]
                        zap.send_multipart(reply)
                    else:
                        self._handshake_failed(names[sock], sock.recv_multipart())
                if self._reload.is_set() or time.monotonic() - checked > RELOAD_EVERY_S:
                    forced = self._reload.is_set()
                    self._reload.clear()
                    self._safe_refresh(forced)
                    checked = time.monotonic()
        except BaseException:
            log.critical("the ZAP handler stopped: no new connection gets in", exc_info=True)
            raise
        finally:
            while not self._monitors.empty():
                socks.append(self._monitors.get()[0])
            for s in socks:
                s.close(linger=0)

    def _safe_refresh(self, force: bool = False) -> None:
        try:
            self.refresh(force)
        except (OSError, KeyFileError) as exc:  # keep the list we have
            log.error("allow-list not reloaded: %s", exc)

    def _answer(self, frames: list[bytes]) -> list[bytes]:
        """The ZAP reply to one request (RFC 27): 200 with the key as User-Id, or 400."""
        if len(frames) < 6:
            return [b"1.0", frames[1] if len(frames) > 1 else b"", b"500", b"bad ZAP request",
                    b"", b""]
        version, request_id, domain, address, _routing_id, mechanism = frames[:6]
        credentials = frames[6:]
        self._safe_refresh()  # a revoked key is refused from its next connection on
        socket_name = domain.decode(errors="replace").removeprefix("medialoom.")
        peer = address.decode(errors="replace") or "?"
        roles = SOCKET_ROLES.get(socket_name)
        if version != b"1.0" or roles is None:
            why = f"ZAP version {version!r}, domain {domain!r}"
            return self._deny(request_id, ("zap", socket_name, peer), f"a connection: {why}")
        if mechanism != b"CURVE" or len(credentials) != 1 or len(credentials[0]) != 32:
            return self._deny(request_id, ("mech", socket_name, peer),
                              f"a connection without CURVE ({mechanism.decode(errors='replace')})"
                              f" from {peer} to {socket_name}")
        key = z85.encode(credentials[0]).decode()
        entry = self.allowed.get(key)
        if entry is None:
            gone = self.revoked.get(key)
            who = (f"key {gone.name} (role {gone.role}, revoked)" if gone else
                   f"unknown key {key[:8]}... (on no allow-list)")
            return self._deny(request_id, ("key", socket_name, peer, key),
                              f"a connection from {peer} to {socket_name}: {who}")
        if entry.role not in roles:
            return self._deny(request_id, ("role", socket_name, peer, key),
                              f"a connection from {peer} to {socket_name}: key {entry.name} "
                              f"(role {entry.role}) may not use it ({' or '.join(roles)} only)")
        return [b"1.0", request_id, b"200", b"OK", key.encode(), b""]

    def _deny(self, request_id: bytes, key: tuple[str, ...], line: str) -> list[bytes]:
        self.audit.refuse(key, line)
        return [b"1.0", request_id, b"400", b"not allowed", b"", b""]

    def _handshake_failed(self, name: str, frames: list[bytes]) -> None:
        try:
            event = parse_monitor_message(frames)
        except Exception:  # noqa: BLE001 - a monitor message we do not know
            return
        if event["event"] & HANDSHAKE_FAILED:
            endpoint = event["endpoint"].decode(errors="replace")
            why = HANDSHAKE_WHY.get(event["value"], f"ZMTP handshake error {event['value']:#x}")
            self.audit.refuse(("handshake", name, why),
                              f"a connection to {name} ({endpoint}): {why} (libzmq does not "
                              "report the peer's address for it)")

    # --- per command -----------------------------------------------------------------

    def refusal(self, frame: zmq.Frame, word: str) -> RequestError | None:
        """None if the key of the connection frame came in on may send this command, else the
        ``auth.forbidden`` error to answer (and an audit line)."""
        try:
            key = frame.get("User-Id")
        except zmq.ZMQError:  # no ZAP user id: this connection was not checked
            key = ""
        entry = self.allowed.get(key)
        if entry is not None and word in ROLE_COMMANDS.get(entry.role, ()):
            return None
        try:
            peer = frame.get("Peer-Address")
        except zmq.ZMQError:
            peer = "?"
        if entry is None:
            gone = self.revoked.get(key)
            name, role = (gone.name, gone.role) if gone else (f"{key[:8]}...", "")
            why = "this key was revoked"
        else:
            name, role = entry.name, entry.role
            why = f"a key of role {role} may not send {word}"
        state = "revoked" if entry is None else f"role {role}"
        self.audit.refuse(("command", key, word, peer), f"{word} from {peer}: key {name} ({state})")
        hint = ("; START, CANCEL and CLEAR need a key of role client"
                if entry is not None and role == "watch" else "")
        return RequestError(f"{why}{hint}", code="auth.forbidden",
                            details={"command": word, "key": name, "role": role})

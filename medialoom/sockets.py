"""Every ZeroMQ socket of medialoom is built here (broker, workers, clients, gateway).

One place for the options every socket needs (linger, queue bounds, the
message size cap that protects the decoder) and for the security settings:
CURVE keys and ZAP domains (SPEC.md section 1.1) are applied here and nowhere
else.  A broker socket is a CURVE server with a ZAP domain of its own; a
client's or worker's socket a CURVE client that knows the broker's public key.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import zmq

from medialoom.certs import Curve
from medialoom.protocol.codec import HARD_MAX_BYTES

#: queue bound of the sockets that carry bulk traffic (results, progress, events)
BULK_HWM = 100_000


def make_socket(ctx: zmq.Context[Any], kind: int, *, bind: str = "", connect: str = "",
                linger_ms: int = 0, sndhwm: int | None = None, rcvhwm: int | None = None,
                routing_id: bytes = b"", subscribe: bytes | None = None,
                options: dict[int, int] | None = None, curve: Curve | None = None,
                zap_domain: str = "") -> Any:
    """A socket of kind on ctx (plain or asyncio), configured, then bound or connected.

    curve: the broker's keys make it a CURVE server checked by the ZAP handler of
    zap_domain (which must be given); a client's or worker's keys a CURVE client.
    """
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.LINGER, linger_ms)
    sock.setsockopt(zmq.MAXMSGSIZE, HARD_MAX_BYTES)
    if sndhwm is not None:
        sock.setsockopt(zmq.SNDHWM, sndhwm)
    if rcvhwm is not None:
        sock.setsockopt(zmq.RCVHWM, rcvhwm)
    if routing_id:
        sock.setsockopt(zmq.ROUTING_ID, routing_id[:255])
    for option, value in (options or {}).items():
        sock.setsockopt(option, value)
    if curve is not None:
        _apply_curve(sock, curve, zap_domain)
    try:
        if bind:
            sock.bind(bind)
        if connect:
            sock.connect(connect)
    except zmq.ZMQError:
        sock.close(linger=0)
        raise
    if subscribe is not None:
        sock.setsockopt(zmq.SUBSCRIBE, subscribe)
    return sock


def _apply_curve(sock: Any, curve: Curve, zap_domain: str) -> None:
    if curve.is_server:
        if not zap_domain:
            sock.close(linger=0)
            raise ValueError("a CURVE server socket needs its ZAP domain")
        # the domain the ZAP handler answers for; a mismatch is refused without a word.
        # Enforced: with no ZAP handler bound, libzmq would let in any key; now it lets in none
        sock.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
        sock.setsockopt(zmq.ZAP_DOMAIN, zap_domain.encode())
        sock.setsockopt(zmq.CURVE_SERVER, 1)
        sock.setsockopt(zmq.CURVE_SECRETKEY, curve.secret)
    else:
        sock.setsockopt(zmq.CURVE_SERVERKEY, curve.server)
        sock.setsockopt(zmq.CURVE_PUBLICKEY, curve.public)
        sock.setsockopt(zmq.CURVE_SECRETKEY, curve.secret)


def is_loopback(endpoint: str) -> bool:
    """True if binding endpoint only lets in peers on this host (ipc, inproc, tcp loopback)."""
    scheme, _, rest = endpoint.partition("://")
    if scheme in ("ipc", "inproc"):
        return True
    if scheme != "tcp":
        return False
    host = rest.rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # *, an interface name, a host name: may reach the network
        return False


# --- frames on plain sockets, without pyzmq's per-call overhead -----------------------------
# pyzmq's send_multipart/recv_multipart check every frame's type and combine flags as
# IntFlag enums per frame (enum arithmetic was about a tenth of the broker's time per no-op
# job); these call the Cython socket directly with plain int flags.  Same semantics:
# non-blocking (zmq.Again), a multipart message is queued whole or not at all.
# Measured per 3-frame message (pyzmq 27.3, libzmq 4.3.5): a recv through zmq.Frame, whose
# ``more`` is read at the recv, 2.1 us against 5.1 us for bytes recvs and a RCVMORE
# getsockopt per frame (each getsockopt builds a SocketOption enum); a send with copy=False
# 0.9 us against 1.9 us (below zmq.COPY_THRESHOLD pyzmq copies the frame all the same; from
# there on a frame is sent copied, so no frame ever waits on pyzmq's zero-copy gc thread).
_send, _recv = zmq.backend.Socket.send, zmq.backend.Socket.recv
_NOBLOCK, _NOBLOCK_MORE = int(zmq.NOBLOCK), int(zmq.NOBLOCK | zmq.SNDMORE)
_BIG = zmq.COPY_THRESHOLD


def send_frames(sock: zmq.Socket[Any], frames: list[bytes]) -> None:
    """``sock.send_multipart(frames, zmq.NOBLOCK)`` for bytes frames."""
    for frame in frames[:-1]:
        _send(sock, frame, _NOBLOCK_MORE, len(frame) >= _BIG)
    last = frames[-1]
    _send(sock, last, _NOBLOCK, len(last) >= _BIG)


def recv_frames(sock: zmq.Socket[Any], copy: bool = True) -> list[Any]:
    """``sock.recv_multipart(zmq.NOBLOCK, copy=copy)``."""
    frame = _recv(sock, _NOBLOCK, False)
    parts = [frame]
    while frame.more:
        frame = _recv(sock, _NOBLOCK, False)
        parts.append(frame)
    return [f.bytes for f in parts] if copy else parts

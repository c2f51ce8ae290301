"""Every ZeroMQ socket of medialoom is built here (broker, workers, clients, gateway).

One place for the options every socket needs (linger, queue bounds, the
message size cap that protects the decoder) and, next, for the security
settings: CURVE keys and ZAP domains will be applied here and nowhere else.
"""

from __future__ import annotations

from typing import Any

import zmq

from medialoom.protocol.codec import HARD_MAX_BYTES

#: queue bound of the sockets that carry bulk traffic (results, progress, events)
BULK_HWM = 100_000


def make_socket(ctx: zmq.Context[Any], kind: int, *, bind: str = "", connect: str = "",
                linger_ms: int = 0, sndhwm: int | None = None, rcvhwm: int | None = None,
                routing_id: bytes = b"", subscribe: bytes | None = None,
                options: dict[int, int] | None = None) -> Any:
    """A socket of kind on ctx (plain or asyncio), configured, then bound or connected."""
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

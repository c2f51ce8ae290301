"""Client replies, several to a message for the connections that take them (SPEC.md 2).

A client that said HELLO with ``batch: true`` takes messages of several REPLY/ERROR
bodies: its replies of one turn of the actor wait here and leave together at the end
of the turn (one message, one wake-up of each side's I/O thread, for up to MAX_BODIES
replies).  Every other connection gets one body per message, sent at once, as before.
Only the actor uses this, from its loop.
"""

from __future__ import annotations

from typing import Any

import zmq

from medialoom.protocol import codec
from medialoom.sockets import send_frames

#: connections remembered as taking bundles; past this many the oldest is forgotten (it then
#: gets one body per message, which every client reads): a bound on what clients that come
#: and go leave behind
BATCH_PEERS_MAX = 10_000

_TAG = codec.TAGS["reply"]


class Replies:
    """The bundling connections and their replies waiting for the end of the turn."""

    def __init__(self, sock: zmq.Socket[Any], counters: dict[str, int]) -> None:
        self.sock = sock
        self.counters = counters  # the state's: replies the socket refused count as dropped
        self.batch_peers: dict[bytes, None] = {}  # insertion order: the oldest first
        self.waiting: dict[bytes, list[bytes]] = {}

    def hello(self, peer: bytes, batch: bool) -> None:
        """A HELLO from peer: it takes bundles from now on (batch), or no longer."""
        self.batch_peers.pop(peer, None)
        if not batch:  # what waits for it leaves now, one body to a message, ahead of this
            for body in self.waiting.pop(peer, ()):
                self._out([peer, _TAG, body])
        else:
            self.batch_peers[peer] = None
            if len(self.batch_peers) > BATCH_PEERS_MAX:
                del self.batch_peers[next(iter(self.batch_peers))]

    def send(self, peer: bytes, msg: Any) -> None:
        """Reply msg to peer: at the end of the turn if it takes bundles, else now."""
        body = codec.encode(msg, "reply")[1]
        if peer in self.batch_peers:
            self.waiting.setdefault(peer, []).append(body)
        else:
            self._out([peer, _TAG, body])

    def flush(self) -> None:
        """Send the waiting replies, each connection's in order, in as few messages as the
        limits allow (codec.MAX_BODIES bodies, codec.BUNDLE_BYTES bytes)."""
        waiting, self.waiting = self.waiting, {}
        for peer, bodies in waiting.items():
            for bundle in codec.bundles(bodies):
                self._out([peer, _TAG, *bundle])

    def _out(self, frames: list[bytes]) -> None:
        try:
            send_frames(self.sock, frames)
        except zmq.Again:  # the client's queue is full (or it is gone): its replies are lost
            self.counters["dropped"] += len(frames) - 2

"""A CURVE front for a real broker, so the C client's live session runs over CURVE now
(until the broker binds CURVE sockets itself).

``CurveFront(keys, broker_clients, broker_events)`` binds a CURVE ROUTER (client channel)
and a CURVE XPUB (events out) with ``keys/server.key_secret``; pyzmq's ZAP authenticator
lets in only the public keys in ``keys/allowed``.  Each CURVE client gets a plain DEALER
of its own to the broker (the broker sees one client per CURVE client); subscriptions go
to an XSUB on the broker's events-out and the events come back.  Runs in a thread.
"""

from __future__ import annotations

import threading
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

DOMAIN = "medialoom"


class CurveFront:
    """``with CurveFront(keys, clients, events) as front:`` front.clients, front.events."""

    def __init__(self, keys: Path, broker_clients: str, broker_events: str) -> None:
        self.ctx = zmq.Context()
        self.auth = ThreadAuthenticator(self.ctx)
        self.auth.start()
        self.auth.configure_curve(domain=DOMAIN, location=str(keys / "allowed"))
        public, secret = zmq.auth.load_certificate(str(keys / "server.key_secret"))
        self.front = self._server(zmq.ROUTER, public, secret)
        self.xpub = self._server(zmq.XPUB, public, secret)
        self.clients = f"tcp://127.0.0.1:{self.front.bind_to_random_port('tcp://127.0.0.1')}"
        self.events = f"tcp://127.0.0.1:{self.xpub.bind_to_random_port('tcp://127.0.0.1')}"
        self.broker_clients = broker_clients
        self.xsub = self.ctx.socket(zmq.XSUB)
        self.xsub.linger = 0
        self.xsub.connect(broker_events)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._relay, daemon=True)

    def _server(self, kind: int, public: bytes, secret: bytes) -> zmq.Socket:
        sock = self.ctx.socket(kind)
        sock.linger = 0
        sock.zap_domain = DOMAIN.encode()
        sock.curve_publickey, sock.curve_secretkey = public, secret
        sock.curve_server = True
        return sock

    def _relay(self) -> None:
        poller = zmq.Poller()
        for sock in (self.front, self.xpub, self.xsub):
            poller.register(sock, zmq.POLLIN)
        dealers: dict[bytes, zmq.Socket] = {}
        owners: dict[zmq.Socket, bytes] = {}
        while not self.stopping.is_set():
            for sock, _ in poller.poll(50):
                frames = sock.recv_multipart()
                if sock is self.front:
                    peer = frames[0]
                    if peer not in dealers:
                        dealer = self.ctx.socket(zmq.DEALER)
                        dealer.linger = 0
                        dealer.connect(self.broker_clients)
                        dealers[peer], owners[dealer] = dealer, peer
                        poller.register(dealer, zmq.POLLIN)
                    dealers[peer].send_multipart(frames[1:])
                elif sock is self.xpub:
                    self.xsub.send_multipart(frames)
                elif sock is self.xsub:
                    self.xpub.send_multipart(frames)
                else:
                    self.front.send_multipart([owners[sock], *frames])
        for sock in dealers.values():
            sock.close(linger=0)

    def __enter__(self) -> CurveFront:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)
        for sock in (self.front, self.xpub, self.xsub):
            sock.close(linger=0)
        self.auth.stop()
        self.ctx.term()

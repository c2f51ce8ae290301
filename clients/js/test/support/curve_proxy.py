"""A CURVE front for a real broker, for the JS client's tests (until the broker speaks CURVE).

    python curve_proxy.py certs DIR NAME...
        write DIR/NAME.key and DIR/NAME.key_secret (zmq.auth.create_certificates) for each NAME
    python curve_proxy.py serve --certs DIR --allow DIR --clients EP --events EP \
                                --broker-clients EP --broker-events EP

``serve`` binds a CURVE ROUTER (clients) and a CURVE XPUB (events) with DIR/broker.key_secret,
lets in only the public keys found in --allow (pyzmq's ZAP authenticator, domain "medialoom"),
and relays: each client connection gets a DEALER of its own to the broker's client endpoint
(the broker sees one plain client per CURVE client); the XPUB passes subscriptions to an XSUB
connected to the broker's events-out and the events back.  It prints "ready" once bound and
stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

DOMAIN = "medialoom"


def make_certs(folder: Path, names: list[str]) -> None:
    """Key pairs as ZeroMQ certificate files, secrets readable by their owner only."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        _public, secret = zmq.auth.create_certificates(str(folder), name)
        Path(secret).chmod(0o600)


def curve_server(ctx: zmq.Context, kind: int, certs: Path, endpoint: str) -> zmq.Socket:
    public, secret = zmq.auth.load_certificate(str(certs / "broker.key_secret"))
    sock = ctx.socket(kind)
    sock.linger = 0
    sock.zap_domain = DOMAIN.encode()
    sock.curve_secretkey = secret
    sock.curve_publickey = public
    sock.curve_server = True
    sock.bind(endpoint)
    return sock


def serve(args: argparse.Namespace) -> int:
    ctx = zmq.Context()
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain=DOMAIN, location=str(args.allow))
    front = curve_server(ctx, zmq.ROUTER, args.certs, args.clients)
    xpub = curve_server(ctx, zmq.XPUB, args.certs, args.events)
    xsub = ctx.socket(zmq.XSUB)
    xsub.linger = 0
    xsub.connect(args.broker_events)
    poller = zmq.Poller()
    for sock in (front, xpub, xsub):
        poller.register(sock, zmq.POLLIN)
    dealers: dict[bytes, zmq.Socket] = {}
    owners: dict[zmq.Socket, bytes] = {}
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    print("ready", flush=True)
    while not stopping:
        for sock, _ in poller.poll(100):
            frames = sock.recv_multipart()
            if sock is front:
                peer, rest = frames[0], frames[1:]
                if peer not in dealers:
                    dealer = ctx.socket(zmq.DEALER)
                    dealer.linger = 0
                    dealer.connect(args.broker_clients)
                    dealers[peer], owners[dealer] = dealer, peer
                    poller.register(dealer, zmq.POLLIN)
                dealers[peer].send_multipart(rest)
            elif sock is xpub:
                xsub.send_multipart(frames)
            elif sock is xsub:
                xpub.send_multipart(frames)
            else:
                front.send_multipart([owners[sock], *frames])
    for sock in (front, xpub, xsub, *dealers.values()):
        sock.close(linger=0)
    auth.stop()
    ctx.term()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    certs = sub.add_parser("certs")
    certs.add_argument("folder", type=Path)
    certs.add_argument("names", nargs="+")
    run = sub.add_parser("serve")
    for flag in ("--clients", "--events", "--broker-clients", "--broker-events"):
        run.add_argument(flag, required=True)
    run.add_argument("--certs", type=Path, required=True)
    run.add_argument("--allow", type=Path, required=True)
    args = p.parse_args(argv)
    if args.command == "certs":
        make_certs(args.folder, args.names)
        return 0
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())

"""``medialoom keys``: the broker's key pair and the allow-lists of CURVE keys (medialoom/keys.py).

    medialoom keys init                                  the broker's key pair
    medialoom keys add --role client|worker|watch NAME   issue a key pair and allow it
    medialoom keys add --role worker NAME --public FILE  allow a public key made elsewhere
    medialoom keys list                                  every allowed key
    medialoom keys revoke NAME                           refused from its next connection on

They work on the broker host's data dir (--data-dir, MEDIALOOM_DATA_DIR, the settings
file); no broker needs to run.  Exit codes: 0 done, 2 bad usage (an unknown name, a
name taken, a broken key file).
"""

from __future__ import annotations

import argparse
import sys

from medialoom import settings
from medialoom.certs import KeyFileError
from medialoom.keys import ROLES, KeyStore, KeyStoreError

from .cli_outcome import RET_OK, RET_USAGE, print_json


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """The ``keys`` command and its subcommands."""
    k = sub.add_parser("keys", help="CURVE keys: the broker's pair and who may connect",
                       description=__doc__.split("\n\n")[0])
    ks = k.add_subparsers(dest="keys_command", required=True, metavar="SUBCOMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="the broker's data dir (its keys/ folder)")
    common.add_argument("--config", help="TOML settings file")
    common.add_argument("--json", action="store_true", help="print one JSON document")
    ks.add_parser("init", parents=[common], help="make the broker's key pair (once)")
    a = ks.add_parser("add", parents=[common], help="issue a key pair of a role and allow it")
    a.add_argument("name", help="a name for the key: the peer it is for (laptop, nas-worker)")
    a.add_argument("--role", required=True, choices=ROLES,
                   help="client: every command; watch: read and subscribe only; worker: the "
                   "worker channels only")
    a.add_argument("--out", metavar="DIR", help="write the pair here (default DATA_DIR/keys/"
                   "issued)")
    a.add_argument("--public", metavar="FILE", help="allow this public certificate instead of "
                   "issuing a pair (the peer made its own: no secret travels)")
    ks.add_parser("list", parents=[common], help="the allowed keys")
    r = ks.add_parser("revoke", parents=[common], help="take a key off its allow-list")
    r.add_argument("name")


def run_keys(args: argparse.Namespace) -> int:
    """Run a ``keys`` subcommand; its exit code."""
    try:
        s = settings.load(args.config, {"data_dir": args.data_dir})
        store = KeyStore(s.get("data_dir") or settings.default_data_dir())
        return _run(store, args)
    except (KeyStoreError, KeyFileError, FileExistsError, ValueError) as exc:
        print(f"medialoom keys: {exc}", file=sys.stderr)
        return RET_USAGE


def _run(store: KeyStore, args: argparse.Namespace) -> int:
    cmd = args.keys_command
    if cmd == "init":
        made, public = store.init()
        if args.json:
            print_json({"made": made, "public_key": public.decode(),
                        "public_file": store.broker_public, "secret_file": store.broker_secret})
            return RET_OK
        print(f"{'made' if made else 'kept'} the broker's key pair {store.broker_secret}\n"
              f"its public key: {public.decode()}\n"
              f"give {store.broker_public} to every client and worker host (their "
              "--broker-key, MEDIALOOM_BROKER_KEY, or keys/broker.key in their data dir); "
              "then allow their keys with medialoom keys add")
        return RET_OK
    if cmd == "add":
        issued = store.add(args.role, args.name, args.out, args.public)
        e = issued.entry
        if args.json:
            print_json({"name": e.name, "role": e.role, "public_key": e.public,
                        "allowed_file": e.path, "secret_file": issued.secret_file,
                        "public_file": issued.public_file})
            return RET_OK
        print(f"allowed {e.name} (role {e.role}): public key {e.public}")
        if issued.secret_file:
            print(f"its key pair: {issued.secret_file} (secret: copy it to that peer only, "
                  "then --key FILE or MEDIALOOM_KEY there)")
        return RET_OK
    if cmd == "list":
        entries = store.entries()
        if args.json:
            print_json({"keys": [{"name": e.name, "role": e.role, "public_key": e.public,
                                  "file": e.path} for e in entries]})
            return RET_OK
        if not entries:
            print("no keys allowed (medialoom keys add --role client NAME)")
        width = max((len(e.name) for e in entries), default=4)
        for e in entries:
            print(f"{e.name:<{width}}  {e.role:<6}  {e.public}")
        return RET_OK
    entry = store.revoke(args.name)
    if args.json:
        print_json({"revoked": entry.name, "role": entry.role, "public_key": entry.public})
        return RET_OK
    print(f"revoked {entry.name} (role {entry.role}); a running broker refuses it from its "
          "next connection on, and its commands on a connection still open get auth.forbidden")
    return RET_OK

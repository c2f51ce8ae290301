"""The broker's key pair and the per-role allow-lists of CURVE keys (issue 12; README "Keys").

Everything lives under the data dir, in ``keys/`` (0700; secret files 0600)::

    keys/broker.key              the broker's public certificate: every client and worker
                                 needs a copy (the default of --broker-key / MEDIALOOM_BROKER_KEY)
    keys/broker.key_secret       the broker's key pair; never leaves the broker host
    keys/client/NAME.key         the allow-list of role client: one public certificate per key
    keys/worker/NAME.key         ... of role worker
    keys/watch/NAME.key          ... of role watch
    keys/issued/NAME.key_secret  key pairs ``medialoom keys add`` issued (hand each to its peer)

``medialoom keys revoke NAME`` deletes ``keys/ROLE/NAME.key``; the broker reads the
allow-list again before every new connection (and on SIGHUP), so a revoked key is
refused from then on without a restart.  ``client_curve`` is how a client, a worker
or the gateway finds its keys in its settings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq

from medialoom.certs import Curve, KeyFileError, read_certificate, write_certificate
from medialoom.private import private_dir

ROLES = ("client", "worker", "watch")
#: the keys ``medialoom up --curve`` issues for its own gateway (and this host's CLI) and pool
LOCAL_CLIENT, LOCAL_WORKER = "local", "local-worker"
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class Entry:
    """One allowed key: its name, role, Z85 public key and certificate file."""

    name: str
    role: str
    public: str
    path: str


@dataclass(frozen=True)
class Issued:
    """A key pair ``add`` issued: its entry and where its secret and public files are."""

    entry: Entry
    secret_file: str
    public_file: str


class KeyStoreError(ValueError):
    """A keys command cannot do what it was asked (unknown name, name taken, bad role)."""


def check_name(name: str) -> str:
    """name if it is a valid key name (letters, digits, ``.``, ``_``, ``-``; at most 64)."""
    if not NAME_RE.fullmatch(name):
        raise KeyStoreError(f"key name {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
                            "starting with a letter or digit")
    return name


class KeyStore:
    """The keys folder of one data dir."""

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(os.path.expanduser(os.fspath(data_dir))) / "keys"

    def __repr__(self) -> str:
        return f"<KeyStore {self.dir}>"

    @property
    def broker_public(self) -> str:
        """keys/broker.key."""
        return str(self.dir / "broker.key")

    @property
    def broker_secret(self) -> str:
        """keys/broker.key_secret."""
        return str(self.dir / "broker.key_secret")

    def issued_secret(self, name: str) -> str:
        """keys/issued/NAME.key_secret."""
        return str(self.dir / "issued" / f"{name}.key_secret")

    def _role_file(self, role: str, name: str) -> Path:
        return self.dir / role / f"{name}.key"

    # --- the broker's pair -----------------------------------------------------------

    def init(self) -> tuple[bool, bytes]:
        """Make the broker's key pair unless it exists: (made now?, its public key)."""
        private_dir(str(self.dir))
        if os.path.exists(self.broker_secret):
            return False, read_certificate(self.broker_secret, secret=True).public
        public, secret = zmq.curve_keypair()
        meta = {"name": "broker", "role": "broker"}
        write_certificate(self.broker_secret, public, secret, meta)
        if not os.path.exists(self.broker_public):
            write_certificate(self.broker_public, public, None, meta)
        return True, public

    def server_curve(self) -> Curve:
        """The broker's keys for its CURVE server sockets."""
        if not os.path.exists(self.broker_secret):
            raise KeyFileError(self.broker_secret, "does not exist: CURVE is on, so run "
                               "`medialoom keys init` first (medialoom up --curve does it)")
        cert = read_certificate(self.broker_secret, secret=True)
        assert cert.secret is not None
        return Curve(cert.public, cert.secret, files=(self.broker_secret,))

    # --- the allow-lists ---------------------------------------------------------------

    def find(self, name: str) -> Entry | None:
        """The allowed key of this name, in any role."""
        for role in ROLES:
            path = self._role_file(role, name)
            if path.exists():
                return Entry(name, role, read_certificate(path).public.decode(), str(path))
        return None

    def add(self, role: str, name: str, out_dir: str | None = None,
            public_file: str | None = None) -> Issued:
        """Allow a key of role under name: a new pair (in out_dir, else keys/issued), or the
        public key of public_file (a pair its peer made itself, so no secret travels)."""
        if role not in ROLES:
            raise KeyStoreError(f"role {role!r} is not one of {', '.join(ROLES)}")
        check_name(name)
        taken = self.find(name)
        if taken is not None:
            raise KeyStoreError(f"a key named {name} exists already (role {taken.role}); revoke "
                                "it first or pick another name")
        for folder in (self.dir, self.dir / role):
            private_dir(str(folder))
        meta = {"name": name, "role": role}
        if public_file is not None:
            public = read_certificate(public_file).public
            secret_path, public_path = "", os.path.abspath(public_file)
        else:
            folder = out_dir or str(self.dir / "issued")
            if out_dir is None:
                private_dir(folder)
            else:
                os.makedirs(folder, exist_ok=True)
            public, secret = zmq.curve_keypair()
            secret_path = write_certificate(os.path.join(folder, f"{name}.key_secret"), public,
                                            secret, meta)
            public_path = write_certificate(os.path.join(folder, f"{name}.key"), public, None,
                                            meta)
        known = self.allow_list(strict=False)[0].get(public.decode())
        if known is not None:
            raise KeyStoreError(f"this public key is allowed already, as {known.name} "
                                f"(role {known.role})")
        path = write_certificate(self._role_file(role, name), public, None, meta)
        return Issued(Entry(name, role, public.decode(), path), secret_path, public_path)

    def revoke(self, name: str) -> Entry:
        """Take the key of this name off its allow-list (and delete its issued pair here)."""
        entry = self.find(check_name(name))
        if entry is None:
            raise KeyStoreError(f"no key is named {name} (medialoom keys list shows them)")
        os.unlink(entry.path)
        for leftover in (self.issued_secret(name), str(self.dir / "issued" / f"{name}.key")):
            if os.path.exists(leftover):
                os.unlink(leftover)
        return entry

    def entries(self) -> list[Entry]:
        """Every allowed key, by role then name (a broken file raises KeyFileError)."""
        return sorted(self.allow_list(strict=True)[0].values(), key=lambda e: (e.role, e.name))

    def allow_list(self, strict: bool = True) -> tuple[dict[str, Entry], list[str]]:
        """(Z85 public key -> Entry, problems).  strict: the first broken file raises
        KeyFileError; else it is left out and named in problems."""
        allowed: dict[str, Entry] = {}
        twice: set[str] = set()
        problems: list[str] = []
        for role in ROLES:
            folder = self.dir / role
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.key")):
                try:
                    public = read_certificate(path).public.decode()
                    other = allowed.get(public)
                    if other is not None:
                        twice.add(public)
                        raise KeyFileError(path, f"holds the same public key as {other.path}; "
                                           "a key has one name and one role, so both are refused")
                except KeyFileError as exc:
                    if strict:
                        raise
                    problems.append(str(exc))
                    continue
                allowed[public] = Entry(path.stem, role, public, str(path))
        return {k: e for k, e in allowed.items() if k not in twice}, problems

    def fingerprint(self) -> tuple[Any, ...]:
        """Changes whenever a certificate of an allow-list is added, removed or rewritten."""
        seen: list[tuple[Any, ...]] = []
        for role in ROLES:
            try:
                with os.scandir(self.dir / role) as it:
                    for e in it:
                        st = e.stat()
                        seen.append((role, e.name, st.st_mtime_ns, st.st_size, st.st_ino))
            except FileNotFoundError:
                seen.append((role, None))
        return tuple(sorted(seen, key=repr))

    def ensure_local(self) -> tuple[str, str]:
        """The broker's pair and the keys of ``up --curve``'s own parts, made when missing:
        (the client key's secret file, the worker key's secret file)."""
        self.init()
        files = []
        for name, role in ((LOCAL_CLIENT, "client"), (LOCAL_WORKER, "worker")):
            entry, secret = self.find(name), self.issued_secret(name)
            if entry is not None and (entry.role != role or not os.path.exists(secret)):
                self.revoke(name)
                entry = None
            if entry is None:
                self.add(role, name)
            files.append(secret)
        return files[0], files[1]


def client_curve(s: Mapping[str, Any], default_key: str = LOCAL_CLIENT) -> Curve | None:
    """The CURVE keys of a client, worker or gateway from its merged settings; None when off.

    CURVE is on when ``curve`` is true or a key file is given (``key``, ``broker_key``:
    --key / --broker-key, MEDIALOOM_KEY / MEDIALOOM_BROKER_KEY).  The defaults are the
    data dir's ``keys/issued/<default_key>.key_secret`` and ``keys/broker.key``, which
    exist on the broker's host after ``medialoom up --curve``.  KeyFileError names a
    missing or broken file.
    """
    key, broker = s.get("key") or "", s.get("broker_key") or ""
    if not (s.get("curve") or key or broker):
        return None
    from medialoom.settings import default_data_dir

    store = KeyStore(s.get("data_dir") or default_data_dir())
    if not key:
        key = store.issued_secret(default_key)
        if not os.path.exists(key):
            raise KeyFileError(key, "does not exist: CURVE is on, so give this peer's key pair "
                               "with --key FILE or MEDIALOOM_KEY (medialoom keys add issues one)")
    own = read_certificate(key, secret=True)
    server = read_certificate(broker or store.broker_public)
    assert own.secret is not None
    return Curve(own.public, own.secret, server.public,
                 files=(os.path.abspath(os.path.expanduser(key)),
                        os.path.abspath(os.path.expanduser(broker or store.broker_public))))


def curve_settings(curve: Curve | None) -> dict[str, Any]:
    """The settings that give a child process the same keys (``settings.child_environ``):
    the key files' paths, never the keys themselves."""
    if curve is None or len(curve.files) != 2:
        return {}
    return {"curve": True, "key": curve.files[0], "broker_key": curve.files[1]}

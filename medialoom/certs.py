"""CURVE certificate files and the keys a socket is built with (issue 12; SPEC.md section 1.1).

A certificate is a ZeroMQ ZPL text file (rfc.zeromq.org/spec/4) as pyzmq's
``zmq.auth.create_certificates`` and czmq write it: a ``curve`` section with a
``public-key`` and, in the secret certificate (``NAME.key_secret``), a
``secret-key``, each 40 characters of Z85.  The C and JS clients read the same
files.  Every problem with a file is a ``KeyFileError`` that names the file, so
a process refuses to start with a broken key instead of hanging on a handshake.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from pathlib import Path

import zmq
from zmq.utils import z85

Z85_CHARS = frozenset(z85.Z85CHARS.decode())


class KeyFileError(ValueError):
    """A key file is missing, unreadable or not a valid CURVE certificate."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"key file {os.fspath(path)}: {problem}")
        self.path = os.fspath(path)
        self.problem = problem


@dataclass(frozen=True)
class Certificate:
    """What a certificate file holds: the public key, the secret key (secret files only),
    its metadata (``name``, ``role`` when medialoom issued it)."""

    public: bytes
    secret: bytes | None = field(default=None, repr=False)
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Curve:
    """The CURVE keys of one process's sockets (Z85 bytes).

    The broker's has no ``server``: its sockets are CURVE servers.  A client's or a
    worker's has the broker's public key as ``server``.  ``files`` names where the
    keys came from (for messages and to hand them to child processes).
    """

    public: bytes
    secret: bytes = field(repr=False)
    server: bytes = b""
    files: tuple[str, ...] = ()

    @property
    def is_server(self) -> bool:
        """True for the broker's keys."""
        return not self.server


def _unquote(value: str, path: str, line: int) -> str:
    if value[:1] in ("'", '"'):
        if len(value) < 2 or value[-1] != value[0]:
            raise KeyFileError(path, f"line {line}: a quoted value must end with its quote")
        return value[1:-1]
    return value


def _sections(text: str, path: str) -> dict[str, dict[str, str]]:
    """The ``name = value`` entries of each top-level section of a ZPL text."""
    out: dict[str, dict[str, str]] = {}
    section: dict[str, str] | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        body = line.lstrip(" ")
        if not body or body.startswith("#"):
            continue
        if body.startswith("\t"):
            raise KeyFileError(path, f"line {number}: indent with multiples of 4 spaces, not tabs")
        if len(line) == len(body):  # a top-level name opens a section
            section = out.setdefault(body.partition("=")[0].strip(), {})
            continue
        if section is None:
            raise KeyFileError(path, f"line {number}: an indented line outside any section")
        name, eq, value = body.partition("=")
        if eq:
            section[name.strip()] = _unquote(value.strip(), path, number)
    return out


def _z85_key(value: str | None, path: str, what: str) -> bytes:
    if value is None:
        raise KeyFileError(path, f"has no curve {what} (a ZeroMQ certificate has a 'curve' "
                           f"section with public-key = \"...\")")
    if len(value) != 40 or not set(value) <= Z85_CHARS:
        raise KeyFileError(path, f"its curve {what} is not a 40-character Z85 key")
    key = value.encode()
    if len(z85.decode(key)) != 32:  # pragma: no cover - 40 Z85 characters are 32 bytes
        raise KeyFileError(path, f"its curve {what} does not decode to 32 bytes")
    return key


def read_certificate(path: str | os.PathLike[str], *, secret: bool = False) -> Certificate:
    """The keys in a certificate file; with secret, its secret key must be there and match."""
    path = os.path.expanduser(os.fspath(path))
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise KeyFileError(path, "does not exist") from None
    except IsADirectoryError:
        raise KeyFileError(path, "is a folder, not a certificate file") from None
    except PermissionError:
        raise KeyFileError(path, "cannot be read (permission denied)") from None
    except UnicodeDecodeError:
        raise KeyFileError(path, "is not UTF-8 text: not a ZeroMQ certificate") from None
    sections = _sections(text, path)
    curve = sections.get("curve", {})
    public = _z85_key(curve.get("public-key"), path, "public-key")
    sec: bytes | None = None
    if "secret-key" in curve or secret:
        if "secret-key" not in curve:
            raise KeyFileError(path, "holds no secret-key: give the secret certificate "
                               "(NAME.key_secret), not the public one (NAME.key)")
        sec = _z85_key(curve["secret-key"], path, "secret-key")
        if zmq.curve_public(sec) != public:
            raise KeyFileError(path, "its secret-key does not belong to its public-key")
    return Certificate(public, sec, dict(sections.get("metadata", {})))


_BANNER = ("#   ****  Generated on {now} by medialoom  ****\n"
           "#   ZeroMQ CURVE {what} Certificate\n#   {note}\n\n")


def write_certificate(path: str | os.PathLike[str], public: bytes, secret: bytes | None = None,
                      metadata: dict[str, str] | None = None) -> str:
    """Write a certificate file (secret ones 0600, public ones 0644), atomically; its path.

    Refuses to overwrite an existing file (FileExistsError).
    """
    path = os.fspath(path)
    now = datetime.datetime.now().isoformat(timespec="seconds")
    if secret is not None:
        text = _BANNER.format(now=now, what="**Secret**",
                              note="DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its "
                              "permissions.")
    else:
        text = _BANNER.format(now=now, what="Public", note="Give it to the peers that need it.")
    text += "metadata\n" + "".join(f'    {k} = "{v}"\n' for k, v in (metadata or {}).items())
    text += f'curve\n    public-key = "{public.decode()}"\n'
    if secret is not None:
        text += f'    secret-key = "{secret.decode()}"\n'
    mode = 0o600 if secret is not None else 0o644
    if os.path.lexists(path):
        raise FileExistsError(f"{path} exists; not overwriting it")
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.fchmod(fd, mode)  # whatever the umask
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if path appeared meanwhile: never clobber a key
    finally:
        os.unlink(tmp)
    return path

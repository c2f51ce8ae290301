"""Path mappings of a worker on another host (SPEC.md section 6.9).

A worker on another LAN host sees the library on shared storage under its
own prefixes: ``--path-map /srv/media=/mnt/media`` says that the library path
``/srv/media/x.mp3`` (what the broker, clients and the store see) is
``/mnt/media/x.mp3`` here.  The worker applies its ``PathMap`` at its wire
edge and nowhere else: what the broker sends (DISPATCH paths, roots and
params, the rows of a PAGE) goes ``to_local``; what the worker sends (ITEMS,
PLAN, DONE, FAILED, PROGRESS) goes ``to_library``.  Kinds never know.

Every string is mapped, at any depth of a map or array: a string that *is* a
path under a prefix has the prefix swapped, and a path inside a text (an item
message such as ``"/mnt/media/a.mp3 changed since it was planned"``) too,
where it starts at the beginning of the text or after a space, quote,
bracket, ``=``, ``,`` or ``:``, and its prefix ends at a ``/``, the end, or one of
those.  The longest prefix wins.  Going back, a local prefix that is a
symlink is also recognised by its real path (``os.path.realpath``: kinds
report real paths).

A device number (``st_dev``) means nothing on another host: a worker with
mappings leaves ``dev`` out of the ``expect`` maps it sends and ignores it in
the ones it reads, so an operation planned on one host reconciles on another
by size, inode and mtime.

The broker uses ``check_announced`` (READY) and ``reaches`` (dispatch) from
here too: this module imports nothing but the standard library.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: characters a path inside a text may follow, and that may follow its prefix (besides "/")
_BEFORE = r"""\s'"(\[<=,:;"""
_AFTER = r"""\s'")\]>,:;"""
#: the keys whose maps hold a stat's fields, "dev" among them (plan rows, dedupe's keep)
EXPECT_KEYS = ("expect", "keep_expect")


@dataclass(frozen=True, slots=True)
class Mapping:
    """One prefix pair: the library's view and this host's (and its real path)."""

    library: str
    local: str
    local_real: str


def parse_entry(text: str) -> tuple[str, str]:
    """``LIB=LOCAL`` as (LIB, LOCAL); split at the first ``=/`` (LOCAL is absolute)."""
    at = text.find("=/")
    if at <= 0:
        raise ValueError(f"path_map entry {text!r} must be LIBRARY_PREFIX=LOCAL_PREFIX, both "
                         "absolute (e.g. /srv/media=/mnt/media)")
    return text[:at], text[at + 1:]


def clean_prefix(path: Any, side: str) -> str:
    """path as a normalised absolute prefix; ValueError naming side if it cannot be one."""
    if not isinstance(path, str) or not path or "\x00" in path:
        raise ValueError(f"the {side} prefix {path!r} must be a non-empty string")
    if not os.path.isabs(path):
        raise ValueError(f"the {side} prefix {path!r} must be absolute")
    norm = os.path.normpath(path)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    if norm == "/":
        raise ValueError(f"the {side} prefix may not be / (name the library folder)")
    return norm


def _pairs(entries: Iterable[Any]) -> list[tuple[str, str]]:
    """(library, local) pairs from ``LIB=LOCAL`` strings or two-string lists."""
    out = []
    for entry in entries:
        if isinstance(entry, str):
            lib, local = parse_entry(entry)
        elif isinstance(entry, (list, tuple)) and len(entry) == 2:
            lib, local = entry
        else:
            raise ValueError(f"path_map entry {entry!r} must be LIBRARY_PREFIX=LOCAL_PREFIX "
                             "or a [library_prefix, local_prefix] pair")
        out.append((clean_prefix(lib, "library"), clean_prefix(local, "local")))
    libraries = [lib for lib, _ in out]
    for lib in libraries:
        if libraries.count(lib) > 1:
            raise ValueError(f"path_map maps the library prefix {lib} more than once")
    return out


def _pattern(prefixes: Sequence[str]) -> re.Pattern[str] | None:
    if not prefixes:
        return None
    alternatives = "|".join(re.escape(p) for p in sorted(set(prefixes), key=len, reverse=True))
    # not preceded by a character outside _BEFORE: at the start, or after one of them
    return re.compile(rf"(?<![^{_BEFORE}])({alternatives})(?=/|$|[{_AFTER}])")


class PathMap:
    """A worker's prefix pairs, mapping values both ways (empty: every value as it is)."""

    def __init__(self, entries: Iterable[Any] = (), *, resolve: bool = True) -> None:
        pairs = _pairs(entries)
        self.mappings = tuple(
            Mapping(lib, local, os.path.realpath(local) if resolve else local)
            for lib, local in pairs)
        self._to_local = {m.library: m.local for m in self.mappings}
        self._to_library = {m.local: m.library for m in self.mappings}
        for m in self.mappings:
            self._to_library.setdefault(m.local_real, m.library)
        self._in = _pattern(list(self._to_local))
        self._out = _pattern(list(self._to_library))

    def __bool__(self) -> bool:
        return bool(self.mappings)

    def __repr__(self) -> str:
        return f"<PathMap {' '.join(f'{m.library}={m.local}' for m in self.mappings) or '-'}>"

    def announce(self) -> list[list[str]]:
        """The READY ``path_map`` field: ``[[library_prefix, local_prefix], ...]``."""
        return [[m.library, m.local] for m in self.mappings]

    def check_local(self) -> None:
        """ValueError naming the first local prefix that is not a folder here (blocking:
        call at start-up, before the event loop)."""
        for m in self.mappings:
            if not os.path.isdir(m.local):
                what = "is not a folder" if os.path.exists(m.local) else "does not exist"
                raise ValueError(f"path_map {m.library}={m.local}: {m.local} {what} on this host")

    # --- values --------------------------------------------------------------------

    def to_local(self, value: Any) -> Any:
        """value with library paths made this host's (what arrives from the broker)."""
        if self._in is None:
            return value
        return _walk(value, self._in, self._to_local, strip_dev=True)

    def to_library(self, value: Any) -> Any:
        """value with this host's paths made library paths (what goes to the broker)."""
        if self._out is None:
            return value
        return _walk(value, self._out, self._to_library, strip_dev=True)

    def local_roots(self, roots: Iterable[str]) -> list[str]:
        """The library roots as this host sees them: a root under a mapping is mapped; a
        root holding mapped prefixes becomes their local prefixes (only those parts are
        here); any other root stays as it is (it names nothing this worker can reach)."""
        if not self.mappings:
            return list(roots)
        out: list[str] = []
        for root in roots:
            inner = [m.local for m in self.mappings if covered(m.library, [root])]
            if inner:
                out += inner
            else:
                out.append(self.to_local(root))
        return list(dict.fromkeys(out))

    def unreachable(self, paths: Iterable[str]) -> str | None:
        """The first of paths (library paths) that no mapping covers; None if all are."""
        if not self.mappings:
            return None
        libraries = [m.library for m in self.mappings]
        return next((p for p in paths if not covered(p, libraries)), None)


def _walk(value: Any, pattern: re.Pattern[str], table: dict[str, str], *,
          strip_dev: bool) -> Any:
    if isinstance(value, str):
        return pattern.sub(lambda hit: table[hit.group(1)], value) if "/" in value else value
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if strip_dev and k in EXPECT_KEYS and isinstance(v, dict) and "dev" in v:
                v = {name: x for name, x in v.items() if name != "dev"}
            out[k] = _walk(v, pattern, table, strip_dev=strip_dev)
        return out
    if isinstance(value, (list, tuple)):
        return [_walk(v, pattern, table, strip_dev=strip_dev) for v in value]
    return value


# --- the broker's side: READY checks and reachability ------------------------------------


def covered(path: str, prefixes: Iterable[str]) -> bool:
    """True if path is one of prefixes or lies below one."""
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def check_announced(entries: Any, roots: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """READY's ``path_map`` as (library, local) pairs; ValueError saying what is wrong.

    Each entry is two absolute, normalised strings (no ``/`` alone), each library
    prefix once; with library roots configured, each library prefix must overlap one
    (lie inside a root, or contain one): a mapping of a folder outside the library
    could never serve a job.
    """
    if not isinstance(entries, list):
        raise ValueError("path_map must be an array of [library_prefix, local_prefix] pairs")
    pairs = []
    for entry in entries:
        if not (isinstance(entry, list) and len(entry) == 2
                and all(isinstance(p, str) for p in entry)):
            raise ValueError(f"path_map entry {entry!r} is not a [library_prefix, "
                             "local_prefix] pair of strings")
        lib, local = (clean_prefix(p, side) for p, side in zip(entry, ("library", "local"),
                                                                 strict=True))
        if (lib, local) != tuple(entry):
            raise ValueError(f"path_map entry {entry!r} is not normalised (write "
                             f"[{lib!r}, {local!r}])")
        pairs.append((lib, local))
    libraries = [lib for lib, _ in pairs]
    for lib in libraries:
        if libraries.count(lib) > 1:
            raise ValueError(f"path_map maps the library prefix {lib} more than once")
        if roots and not any(covered(lib, [r]) or covered(r, [lib]) for r in roots):
            raise ValueError(f"path_map library prefix {lib} is not inside a library root "
                             f"and holds none ({', '.join(roots)})")
    return tuple(pairs)


def reaches(path_map: Sequence[tuple[str, str]], paths: Iterable[str]) -> bool:
    """True if a worker with these (library, local) pairs can reach every path (no pairs:
    the worker sees the library as the broker does, so every path)."""
    if not path_map:
        return True
    libraries = [lib for lib, _ in path_map]
    return all(covered(p, libraries) for p in paths)


#: library roots -> (until when, their real paths): a realpath of every root for every job
#: was one filesystem call per root per job (about 5% of a no-op job's worker time)
_REAL_ROOTS: dict[tuple[str, ...], tuple[float, list[str]]] = {}
#: how long a resolved root is trusted (a root that is a symlink may be pointed elsewhere)
REAL_ROOTS_TTL_S = 30.0


def real_roots(roots: list[str]) -> list[str]:
    """The real paths of the library roots, resolved at most every REAL_ROOTS_TTL_S."""
    key = tuple(roots)
    now = time.monotonic()
    cached = _REAL_ROOTS.get(key)
    if cached is None or cached[0] < now:
        if len(_REAL_ROOTS) > 64:
            _REAL_ROOTS.clear()
        cached = _REAL_ROOTS[key] = (now + REAL_ROOTS_TTL_S, [os.path.realpath(r) for r in roots])
    return list(cached[1])

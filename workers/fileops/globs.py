"""Path globs of the walk filters, compiled once to one regular expression each (pure, light).

The rules are those of gitignore and pathlib, on the path of a file
relative to the job path, with ``/`` between folders, case-insensitively:

- ``*`` matches any run of characters except ``/``; ``?`` one character
  except ``/``; ``[abc]``, ``[a-z]`` and ``[!abc]`` one character of (or
  not of) a set, never ``/``.
- ``**`` as a whole component crosses folders: ``**/*.mkv`` matches
  ``a.mkv`` at the top and ``x/y/a.mkv``; ``a/**/b`` matches ``a/b`` and
  ``a/x/y/b``; a trailing ``a/**`` matches everything inside ``a``; ``**``
  alone matches everything.  ``**`` inside a component (``a**``) is refused.
- A glob without ``/`` matches the name at any depth (``*.flac`` is
  ``**/*.flac``).  A glob with ``/`` is anchored at the job path; a leading
  ``/`` only anchors (``/*.flac``: top-level files only).  A trailing ``/``
  names folders: as ``pattern`` it means everything inside them
  (``Live/`` is ``**/Live/**``); as ``exclude`` it matches folders only.

``check_glob`` says why a glob is refused (ValueError): empty, a NUL, a
``..`` component, an unclosed ``[``, ``**`` inside a component, or longer
than MAX_GLOB characters.  This module imports only ``re``: the broker uses
it to check START (workers/specs/walking.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["MAX_GLOB", "Glob", "GlobSet", "check_glob", "compile_glob"]

MAX_GLOB = 1024


def check_glob(pattern: str) -> str:
    """pattern with a leading ``./`` dropped; ValueError saying why a glob is refused."""
    if not isinstance(pattern, str):
        raise ValueError("a glob must be a string")
    if not pattern.strip():
        raise ValueError("a glob cannot be empty")
    if len(pattern) > MAX_GLOB:
        raise ValueError(f"a glob is at most {MAX_GLOB} characters")
    if "\0" in pattern:
        raise ValueError("a glob cannot contain a NUL character")
    while pattern.startswith("./"):
        pattern = pattern[2:]
    for part in pattern.split("/"):
        if part == "..":
            raise ValueError(f"glob {pattern!r}: '..' cannot be used; globs match paths "
                             "inside the job path")
        if "**" in part and part != "**":
            raise ValueError(f"glob {pattern!r}: '**' must be a whole path component "
                             "(write '**/*.mkv' or '*.mkv', not '**.mkv')")
        _translate_part(part, pattern)  # raises on an unclosed [
    return pattern


def _translate_part(part: str, pattern: str) -> str:
    """The regex of one path component (no ``/`` inside)."""
    out: list[str] = []
    i, n = 0, len(part)
    while i < n:
        c = part[i]
        i += 1
        if c == "*":
            if not out or out[-1] != "[^/]*":
                out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = i
            if j < n and part[j] == "!":
                j += 1
            if j < n and part[j] == "]":
                j += 1
            while j < n and part[j] != "]":
                j += 1
            if j >= n:
                raise ValueError(f"glob {pattern!r}: unclosed '[' (write '[[]' for a "
                                 "literal '[')")
            body = part[i:j]
            i = j + 1
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            body = _class_body(body)
            out.append(f"[^/{body}]" if negate else f"(?!/)[{body}]")
        else:
            out.append(re.escape(c))
    return "".join(out)


def _class_body(body: str) -> str:
    """A glob set's characters as the inside of a regex class (ranges kept, the rest escaped)."""
    out = []
    for k, c in enumerate(body):
        ranged = c == "-" and 0 < k < len(body) - 1 and "-" not in (body[k - 1], body[k + 1])
        out.append("-" if ranged else c if c.isalnum() else re.escape(c))
    return "".join(out)


def _translate(pattern: str) -> str:
    """The regex (no anchors) of a checked glob, for paths relative to the job path."""
    anchored = "/" in pattern.rstrip("/")
    pattern = pattern.lstrip("/")
    if not anchored:
        pattern = "**/" + pattern
    parts = pattern.split("/")
    rx = ""
    sep = False  # a "/" is owed before the next component
    for pos, part in enumerate(parts):
        if part == "**":
            if pos == len(parts) - 1:
                rx += ("/" if sep else "") + ".*"
            else:
                rx += ("/" if sep else "") + "(?:[^/]*/)*"
                sep = False
            continue
        rx += ("/" if sep else "") + _translate_part(part, pattern)
        sep = True
    return rx


@dataclass(frozen=True, slots=True)
class Glob:
    """One compiled glob: ``match(rel, is_dir)``."""

    pattern: str
    regex: re.Pattern[str]
    dirs_only: bool = False

    def match(self, rel: str, is_dir: bool = False) -> bool:
        """True if rel (relative path, ``/`` separated) matches."""
        if self.dirs_only and not is_dir:
            return False
        return self.regex.fullmatch(rel) is not None


def compile_glob(pattern: str, *, trailing_slash: str = "dirs") -> Glob:
    """The Glob of pattern (ValueError if refused).

    trailing_slash: ``dirs`` (exclude: the glob matches folders only) or
    ``inside`` (pattern: ``x/`` means ``x/**``).
    """
    pattern = check_glob(pattern)
    dirs_only = False
    if pattern.endswith("/") and pattern.strip("/"):
        if trailing_slash == "inside":  # at any depth unless anchored, as in gitignore
            pattern = ("" if "/" in pattern.rstrip("/") else "**/") + pattern + "**"
        else:
            dirs_only = True
            pattern = pattern.rstrip("/")
    return Glob(pattern, re.compile(_translate(pattern), re.IGNORECASE | re.DOTALL), dirs_only)


class GlobSet:
    """Several globs as one regex (a path matches if any does); folder-only ones apart."""

    __slots__ = ("patterns", "_any", "_dirs")

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        globs = [compile_glob(p) for p in self.patterns]
        self._any = self._join([g for g in globs if not g.dirs_only])
        self._dirs = self._join([g for g in globs if g.dirs_only])

    @staticmethod
    def _join(globs: list[Glob]) -> re.Pattern[str] | None:
        if not globs:
            return None
        return re.compile("|".join(f"(?:{g.regex.pattern})" for g in globs),
                          re.IGNORECASE | re.DOTALL)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def match(self, rel: str, is_dir: bool = False) -> bool:
        """True if any glob matches rel (folder-only globs only when is_dir)."""
        if self._any is not None and self._any.fullmatch(rel) is not None:
            return True
        return is_dir and self._dirs is not None and self._dirs.fullmatch(rel) is not None

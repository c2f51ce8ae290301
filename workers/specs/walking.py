"""The walk params every kind that walks its job paths takes, and their checks at START.

``walk_params(extensions, **overrides)`` gives recursive, pattern, exclude,
min_size, max_age_days and extensions (the kind's own extensions as the
default; ``()`` for any file).  A kind merges them into its params and
builds the walk with ``WalkFilter.from_params(ctx.params)`` and
``walk_files`` (workers/fileops/walk.py).  An override replaces a param's
default (``min_size=1``), the whole ParamSpec, or drops the param (None).

Checks registered in CHECKS (run by the broker at START, answered with
``job.bad_params`` naming ``params.<name>``): ``walk-pattern`` (a glob
fileops.globs accepts, and not one that names only files of an extension
``extensions`` leaves out: ``**/*.mkv`` with audio extensions would walk
nothing), ``walk-exclude`` (each a valid glob), ``walk-extensions`` (names
such as ``mp3`` or ``.mp3``, not globs).  Light: imports only fileops.globs.
"""

from __future__ import annotations

import re
from typing import Any

from medialoom.workers.fileops.globs import check_glob

from . import CHECKS, ParamSpec

__all__ = ["PARAM_NAMES", "walk_params"]

PARAM_NAMES = ("recursive", "pattern", "exclude", "min_size", "max_age_days", "extensions")
MAX_EXTENSION = 16
_LITERAL_EXT = re.compile(r"\.([^.*?\[\]/]+)")


def _norm_ext(value: str) -> str:
    return value.strip().lstrip(".").lower()


def pattern_extension(pattern: str) -> str:
    """The one extension a glob's file names must end with ("" when it allows several)."""
    last = pattern.rstrip().split("/")[-1] if not pattern.endswith("/") else ""
    tail = last.rsplit(".", 1)
    if len(tail) < 2 or not _LITERAL_EXT.fullmatch("." + tail[1]):
        return ""
    return tail[1].lower()


def check_pattern(value: Any, params: dict[str, Any]) -> None:
    """A pattern glob: valid, and able to match a file the extensions filter lets through."""
    check_glob(value)
    ext = pattern_extension(value)
    extensions = params.get("extensions")
    if not ext or not isinstance(extensions, list | tuple) or not extensions:
        return
    allowed = {_norm_ext(str(e)) for e in extensions}
    if ext not in allowed:
        shown = ", ".join(sorted(allowed)[:8]) + (", ..." if len(allowed) > 8 else "")
        raise ValueError(f"{value!r} selects .{ext} files, which extensions ({shown}) leaves "
                         f"out; add {ext!r} to extensions, or set extensions to [] for any")


def check_exclude(value: Any, params: dict[str, Any]) -> None:
    """Each exclude glob is valid."""
    for pos, glob in enumerate(value):
        try:
            check_glob(glob)
        except ValueError as exc:
            raise ValueError(f"[{pos}]: {exc}") from None


def check_extensions(value: Any, params: dict[str, Any]) -> None:
    """Extensions are plain names (``mp3`` or ``.mp3``), not globs or paths."""
    for pos, ext in enumerate(value):
        name = _norm_ext(ext)
        if not name:
            raise ValueError(f"[{pos}]: an extension cannot be empty")
        if any(c in name for c in "*?[]/\\\0") or any(c.isspace() for c in name):
            raise ValueError(f"[{pos}]: {ext!r} is not an extension: write names such as "
                             "'mp3' or '.mp3' (globs go in pattern)")
        if len(name) > MAX_EXTENSION:
            raise ValueError(f"[{pos}]: {ext!r} is longer than {MAX_EXTENSION} characters")


CHECKS["walk-pattern"] = check_pattern
CHECKS["walk-exclude"] = check_exclude
CHECKS["walk-extensions"] = check_extensions


def walk_params(extensions: tuple[str, ...], **overrides: Any) -> dict[str, ParamSpec]:
    """The walk params with the kind's extensions as default (``()``: any file).

    overrides: name=ParamSpec replaces a param, name=None drops it, any other
    value becomes the param's default.
    """
    params = {
        "recursive": ParamSpec("bool", True, "descend into subdirectories"),
        "pattern": ParamSpec(
            "str", "*", "glob on the file's path relative to the job path, case-insensitive: "
            "* and ? do not cross folders, ** does (**/*.mkv: any depth, Live/**: under Live); "
            "a glob without / matches the file name at any depth (*.flac); a file must pass "
            "extensions too", check="walk-pattern"),
        "exclude": ParamSpec(
            "list", [], "globs as for pattern; a file or folder that matches one is left out "
            "(a folder is not entered): *sample*, Extras/, Live/2019/**", check="walk-exclude"),
        "min_size": ParamSpec("int", 0, "leave out files smaller than this many bytes", min=0),
        "max_age_days": ParamSpec("float", 0.0, "leave out files modified longer ago than "
                                                "this many days (0: any age)", min=0),
        "extensions": ParamSpec(
            "list", list(extensions), "file extensions to walk, without the dot "
            "([]: any)", check="walk-extensions"),
    }
    for name, value in overrides.items():
        if name not in params and not isinstance(value, ParamSpec):
            raise TypeError(f"walk_params: no walk param {name!r}")
        if value is None:
            params.pop(name, None)
        elif isinstance(value, ParamSpec):
            params[name] = value
        else:
            old = params[name]
            params[name] = ParamSpec(old.type, value, old.description, old.choices, old.min,
                                     old.max, old.check)
    return params

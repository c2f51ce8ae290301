"""Registry of job kinds: built-in modules plus the ``medialoom.kinds`` entry-point group.

Each kind module defines ``KIND = Kind(...)``.  A third-party package adds a
kind with an entry point in group ``medialoom.kinds`` whose object is a Kind.
The broker uses the same registry to refuse unknown kinds and bad parameters
before a job is queued.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from medialoom.protocol.errors import RequestError

if TYPE_CHECKING:
    from medialoom.workers.context import JobContext

log = logging.getLogger(__name__)
REQUIRED = object()
BUILTIN = ("sleep", "scan", "rename", "organize", "dedupe", "rollback")


@dataclass(frozen=True)
class Param:
    """One job parameter: accepted Python types, default (REQUIRED if none), help."""

    types: tuple[type, ...]
    default: Any = REQUIRED
    help: str = ""


@dataclass(frozen=True)
class Kind:
    """A job kind: its name, its coroutine and its parameter schema."""

    name: str
    run: Callable[[JobContext], Awaitable[dict[str, Any] | None]]
    params: dict[str, Param] = field(default_factory=dict)
    needs_paths: bool = True
    changes_files: bool = False
    description: str = ""


def load_kinds() -> dict[str, Kind]:
    """Built-in kinds plus those registered through the entry-point group."""
    kinds: dict[str, Kind] = {}
    for name in BUILTIN:
        try:
            module = importlib.import_module(f"medialoom.workers.kinds.{name.replace('-', '_')}")
        except ImportError:
            log.exception("cannot load built-in job kind %s", name)
            continue
        kinds[name] = module.KIND
    for ep in entry_points(group="medialoom.kinds"):
        try:
            kind = ep.load()
        except Exception:  # a broken plugin must not take the worker down
            log.exception("cannot load job kind entry point %s", ep.name)
            continue
        if isinstance(kind, Kind):
            kinds[kind.name] = kind
    return kinds


def validate_params(kind: Kind, params: dict[str, Any]) -> dict[str, Any]:
    """Params with defaults filled in; RequestError job.bad_params naming the field."""
    out: dict[str, Any] = {}
    for name in params:
        if name not in kind.params:
            raise RequestError(f"kind {kind.name!r} has no parameter {name!r} "
                               f"(known: {', '.join(sorted(kind.params)) or 'none'})",
                               code="job.bad_params", details={"field": name})
    for name, spec in kind.params.items():
        if name not in params:
            if spec.default is REQUIRED:
                raise RequestError(f"kind {kind.name!r} needs parameter {name!r}",
                                   code="job.bad_params", details={"field": name})
            out[name] = spec.default
            continue
        value = params[name]
        ok = isinstance(value, spec.types) and not (
            isinstance(value, bool) and bool not in spec.types)
        if not ok and float in spec.types and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            names = " or ".join(t.__name__ for t in spec.types)
            raise RequestError(f"parameter {name!r} of {kind.name!r} must be {names}, "
                               f"not {type(value).__name__}",
                               code="job.bad_params", details={"field": name})
        out[name] = value
    return out


def coerce_cli_value(kind: Kind, name: str, text: str) -> Any:
    """Turn a ``--set name=text`` string into the parameter's type."""
    spec = kind.params.get(name)
    if spec is None:
        return text
    for t in spec.types:
        try:
            if t is bool:
                if text.lower() in ("1", "true", "yes", "on"):
                    return True
                if text.lower() in ("0", "false", "no", "off"):
                    return False
                continue
            if t is list:
                return [part for part in text.split(",") if part]
            if t is dict:
                value = json.loads(text)
                if isinstance(value, dict):
                    return value
                continue
            if t in (int, float):
                return t(text)
            if t is str:
                return text
        except ValueError:  # json.JSONDecodeError is a ValueError too
            continue
    return text

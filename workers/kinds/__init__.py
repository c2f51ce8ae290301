"""Registry of job kinds: built-in modules plus the ``medialoom.kinds`` entry-point group.

Each kind module defines ``KIND = Kind(...)``.  A third-party package adds a
kind with an entry point in group ``medialoom.kinds`` whose object is a Kind.
The broker never imports this: it validates START against the kinds' specs
(workers/specs, pure data), its own built-in ones and those workers announce.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from medialoom.workers.specs import BUILTIN, REQUIRED, TYPES, KindSpec, ParamSpec

if TYPE_CHECKING:
    from medialoom.workers.context import JobContext

log = logging.getLogger(__name__)
_TYPE_NAMES = {str: "str", int: "int", float: "float", bool: "bool", list: "list", dict: "map"}


@dataclass(frozen=True)
class Param:
    """One job parameter, the short way (third-party kinds): Python types, default, help."""

    types: tuple[type, ...]
    default: Any = REQUIRED
    help: str = ""

    def to_spec(self) -> ParamSpec:
        kind = "float" if float in self.types else _TYPE_NAMES.get(self.types[0], "str")
        return ParamSpec(kind, self.default, self.help)


class Kind:
    """A job kind: its spec (pure data, workers/specs) and its coroutine.

    ``Kind(spec=SPEC, run=run)`` for kinds with a spec module; third-party kinds may also
    write ``Kind(name, run, params={name: Param(...)}, needs_paths=..., changes_files=...,
    description=..., outcomes={status: "ok" | "skipped" | "failed"})``.
    """

    def __init__(self, name: str = "", run: Callable[[JobContext], Awaitable[Any]] | None = None,
                 params: dict[str, Param] | None = None, needs_paths: bool = True,
                 changes_files: bool = False, description: str = "", *,
                 spec: KindSpec | None = None, outcomes: dict[str, str] | None = None) -> None:
        self.spec = spec or KindSpec(
            name=name, description=description, needs_paths=needs_paths,
            changes_files=changes_files, outcomes=dict(outcomes or {}),
            params={n: p.to_spec() for n, p in (params or {}).items()})
        assert run is not None, "a kind needs its run coroutine"
        self.run = run

    def __repr__(self) -> str:
        return f"<Kind {self.name}>"

    name = property(lambda self: self.spec.name)
    params = property(lambda self: self.spec.params)
    needs_paths = property(lambda self: self.spec.needs_paths)
    changes_files = property(lambda self: self.spec.changes_files)
    description = property(lambda self: self.spec.description)


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


def validate_params(kind: Kind, params: dict[str, Any], paths: list[str] | None = None
                    ) -> dict[str, Any]:
    """Params with defaults filled in; RequestError job.bad_params naming the field."""
    return kind.spec.validate(params, paths)


def coerce_cli_value(kind: Kind, name: str, text: str) -> Any:
    """Turn a ``--set name=text`` string into the parameter's type."""
    spec = kind.params.get(name)
    if spec is None:
        return text
    for t in TYPES[spec.type]:
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

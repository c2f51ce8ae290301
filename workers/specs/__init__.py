"""Kind specs: what a job kind is, as plain data (SPEC.md section 5.4).

A spec names the kind, says what it does, which params it takes (type,
default, choices, range, and an optional named *check* for values that need
a parser, such as templates), whether it needs paths, whether it changes
files (and so can be rolled back), and the outcome class of each item status
it reports (``ok``, ``skipped`` or ``failed``).  Specs travel in READY and
HELLO as maps; the broker validates every START against them, so this
package and the modules it imports stay light: no mutagen, no aiohttp, no
kind code.  Built-in kinds have one module each here (``BUILTIN``).
"""

from __future__ import annotations

import functools
import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from medialoom.protocol.errors import RequestError

REQUIRED = object()
BUILTIN = ("sleep", "scan", "rename", "organize", "dedupe", "rollback", "probe",
           "audio-default", "match")
TYPES: dict[str, tuple[type, ...]] = {"str": (str,), "int": (int,), "float": (float, int),
                                     "bool": (bool,), "list": (list,), "map": (dict,)}
OUTCOMES = ("ok", "skipped", "failed")
#: outcome classes of statuses every kind may report without declaring them
COMMON_OUTCOMES = {"ok": "ok", "skipped": "skipped", "vanished": "skipped", "failed": "failed",
                   "error": "failed", "conflict": "failed", "timeout": "failed"}
#: value checks by name: fn(value, params) raises ValueError with the reason
CHECKS: dict[str, Callable[[Any, dict[str, Any]], None]] = {}


def bad(field_name: str, message: str) -> RequestError:
    """job.bad_params naming the field."""
    return RequestError(message, code="job.bad_params", details={"field": field_name})


@dataclass(frozen=True)
class ParamSpec:
    """One job parameter."""

    type: str
    default: Any = REQUIRED
    description: str = ""
    choices: tuple[Any, ...] = ()
    min: float | None = None
    max: float | None = None
    check: str = ""

    def to_map(self, name: str) -> dict[str, Any]:
        out: dict[str, Any] = {"name": name, "type": self.type, "description": self.description,
                               "required": self.default is REQUIRED}
        if self.default is not REQUIRED:
            out["default"] = self.default
        if self.choices:
            out["choices"] = list(self.choices)
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.check:
            out["check"] = self.check
        return out

    def validate(self, name: str, value: Any, params: dict[str, Any]) -> Any:
        """value if it fits; job.bad_params naming params.<name> otherwise."""
        where = f"params.{name}"
        types = TYPES[self.type]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise bad(where, f"parameter {name!r} must be {self.type}, not "
                      f"{type(value).__name__}")
        if self.type == "float":
            value = float(value)
            if not math.isfinite(value):
                raise bad(where, f"parameter {name!r} must be a finite number")
        if self.choices and value not in self.choices:
            raise bad(where, f"parameter {name!r} must be one of "
                      f"{', '.join(map(str, self.choices))}, not {value!r}")
        if self.min is not None and value < self.min:
            raise bad(where, f"parameter {name!r} must be at least {self.min}")
        if self.max is not None and value > self.max:
            raise bad(where, f"parameter {name!r} must be at most {self.max}")
        if self.type == "list" and not all(isinstance(v, str) for v in value):
            raise bad(where, f"parameter {name!r} must be a list of strings")
        check = CHECKS.get(self.check)
        if check is not None:
            try:
                check(value, params)
            except ValueError as exc:
                raise bad(where, f"parameter {name!r}: {exc}") from None
        return value


@dataclass(frozen=True)
class KindSpec:
    """One job kind as data."""

    name: str
    description: str = ""
    params: dict[str, ParamSpec] = field(default_factory=dict)
    needs_paths: bool = True
    changes_files: bool = False
    outcomes: dict[str, str] = field(default_factory=dict)
    #: for rollback-like kinds: the param naming the job to undo (which must change files)
    target_param: str = ""

    def outcome(self, status: str) -> str:
        """ok, skipped or failed for an item status (undeclared statuses count as failed)."""
        return self.outcomes.get(status) or COMMON_OUTCOMES.get(status) or "failed"

    def to_map(self) -> dict[str, Any]:
        """The spec map of SPEC.md section 5.4."""
        return {"name": self.name, "description": self.description,
                "params": [p.to_map(n) for n, p in self.params.items()],
                "needs_paths": self.needs_paths, "changes_files": self.changes_files,
                "outcomes": {**COMMON_OUTCOMES, **self.outcomes},
                "target_param": self.target_param}

    def validate(self, params: dict[str, Any], paths: list[str] | None) -> dict[str, Any]:
        """params with defaults filled in; job.bad_params (details.field) if anything is off.

        paths None: not checked (a client checking params alone).
        """
        for name in params:
            if name not in self.params:
                raise bad(f"params.{name}", f"kind {self.name!r} has no parameter {name!r} "
                          f"(known: {', '.join(sorted(self.params)) or 'none'})")
        if paths is not None and self.needs_paths and not paths:
            raise bad("paths", f"kind {self.name!r} needs at least one path")
        out: dict[str, Any] = {}
        # checks see the params as the kind will (defaults filled in), e.g. a walk pattern
        # checked against the kind's default extensions
        seen = {**{n: s.default for n, s in self.params.items() if s.default is not REQUIRED},
                **params}
        for name, spec in self.params.items():
            if name in params:
                out[name] = spec.validate(name, params[name], seen)
            elif spec.default is REQUIRED:
                raise bad(f"params.{name}", f"kind {self.name!r} needs parameter {name!r}")
            else:
                out[name] = spec.default
        return out


def spec_from_map(data: Any) -> KindSpec:
    """A KindSpec from a spec map (READY); ValueError if it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        raise ValueError("a spec map needs a name")
    params: dict[str, ParamSpec] = {}
    for p in data.get("params") or []:
        if not isinstance(p, dict) or not isinstance(p.get("name"), str) \
                or p.get("type") not in TYPES:
            raise ValueError(f"kind {data['name']!r}: a param needs a name and a known type")
        params[p["name"]] = ParamSpec(
            type=p["type"], default=REQUIRED if p.get("required") else p.get("default"),
            description=str(p.get("description", "")),
            choices=tuple(p.get("choices") or ()) if isinstance(p.get("choices"), list) else (),
            min=_number(p.get("min")), max=_number(p.get("max")),
            check=str(p.get("check") or ""))
    outcomes = data.get("outcomes") if isinstance(data.get("outcomes"), dict) else {}
    return KindSpec(name=data["name"][:64], description=str(data.get("description", ""))[:500],
                    params=params, needs_paths=data.get("needs_paths") is not False,
                    changes_files=data.get("changes_files") is True,
                    outcomes={str(k): v for k, v in outcomes.items() if v in OUTCOMES},
                    target_param=str(data.get("target_param") or ""))


def _number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


@functools.cache
def builtin_specs() -> dict[str, KindSpec]:
    """The specs of the built-in kinds (light modules, importable by the broker)."""
    return {name: importlib.import_module(
                f"medialoom.workers.specs.{name.replace('-', '_')}").SPEC for name in BUILTIN}


from . import walking as _walking  # noqa: E402, F401  (registers the walk-* checks)

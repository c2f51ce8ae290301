"""Job kinds for the CLI: their specs (HELLO's, else as installed), ``start --help``, --set values.

The broker's HELLO carries every kind's spec (SPEC 5.4); without a broker the
kinds installed here are shown.  ``--set KEY=VALUE`` strings are typed by the
kind's spec; a value that fits no type goes to the broker as a string, which
refuses it with job.bad_params naming the field.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import textwrap
from typing import Any

from medialoom.certs import Curve
from medialoom.protocol.constants import DEFAULT_CLIENTS, DEFAULT_EVENTS_OUT
from medialoom.protocol.errors import BrokerUnavailable

from .cli_outcome import UsageError
from .cli_parser import client_args, client_curve, endpoints
from .client import Client, ClientError

_PY_TYPES = {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "map"}


def normalize_spec(name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """A spec map (HELLO's, or one built here) with params as a list of maps with a name."""
    spec = dict(raw)
    spec.setdefault("name", name)
    params = spec.get("params") or []
    if isinstance(params, dict):
        params = [{"name": n, **(p if isinstance(p, dict) else {})} for n, p in params.items()]
    out = []
    for p in params:
        if not isinstance(p, dict) or "name" not in p:
            continue
        p = dict(p)
        if isinstance(p.get("type"), list):
            p["type"] = "|".join(map(str, p["type"]))
        p.setdefault("required", "default" not in p)
        out.append(p)
    spec["params"] = out
    return spec


def spec_of_kind(kind: Any) -> dict[str, Any]:
    """The spec map of a locally installed kind (a Kind with a spec, or the older shape)."""
    spec = getattr(kind, "spec", None)
    if spec is not None and hasattr(spec, "to_map"):
        return normalize_spec(kind.name, spec.to_map())
    params = []
    for pname, param in getattr(kind, "params", {}).items():
        types = getattr(param, "types", ())
        p: dict[str, Any] = {"name": pname,
                             "type": "float" if float in types else
                             _PY_TYPES.get(types[0], "str") if types else "str",
                             "description": getattr(param, "help", "")}
        default = getattr(param, "default", None)
        if type(default).__name__ == "object":  # the REQUIRED sentinel
            p["required"] = True
        else:
            p["default"] = default
        params.append(p)
    return normalize_spec(kind.name, {"description": getattr(kind, "description", ""),
                                      "needs_paths": getattr(kind, "needs_paths", True),
                                      "changes_files": getattr(kind, "changes_files", False),
                                      "params": params})


def local_specs() -> dict[str, dict[str, Any]]:
    """The specs of the kinds installed here (imports the kinds: help and fallbacks only)."""
    from medialoom.workers.kinds import load_kinds
    return {name: spec_of_kind(kind) for name, kind in load_kinds().items()}


def kind_specs(hello: dict[str, Any] | None, endpoint: str
               ) -> tuple[dict[str, dict[str, Any]], str]:
    """(specs by kind name, where they came from) from a HELLO reply (None: no broker).

    HELLO's ``specs`` when it has them; else HELLO's kind names with the specs
    installed here; else (no broker) the kinds installed here.
    """
    if hello is not None and isinstance(hello.get("specs"), dict) and hello["specs"]:
        return ({n: normalize_spec(n, s) for n, s in hello["specs"].items()
                 if isinstance(s, dict)}, f"from the broker at {endpoint}")
    local = local_specs()
    if hello is None:
        return local, f"installed here; the broker at {endpoint} did not answer"
    names = hello.get("kinds") or sorted(local)
    return ({n: local.get(n) or {"name": n, "params": [], "description":
                                 "(a worker runs it; no spec installed here)"}
             for n in names}, f"the broker's kinds at {endpoint}, params as installed here")


def hello_or_none(endpoint: str, events: str, timeout_s: float,
                  curve: Curve | None = None) -> dict[str, Any] | None:
    """The broker's HELLO, or None if it does not answer (or refuses)."""
    try:
        with Client(endpoint, events, timeout_s, curve=curve) as c:
            return c.hello()
    except (BrokerUnavailable, ClientError):
        return None


def _param_line(p: dict[str, Any]) -> str:
    from .render_formats import show_value
    parts = []
    if p.get("required"):
        parts.append("required")
    elif "default" in p:
        parts.append(f"default {show_value(p['default'])}")
    if p.get("choices"):
        parts.append("one of " + ", ".join(map(str, p["choices"])))
    lo, hi = p.get("min"), p.get("max")
    if lo is not None or hi is not None:
        parts.append(f"range {'' if lo is None else lo}..{'' if hi is None else hi}")
    if p.get("description"):
        parts.append(p["description"])
    return "; ".join(parts)


def kinds_help(specs: dict[str, dict[str, Any]], source: str, width: int,
               only: str | None = None) -> str:
    """The kinds and their params as plain text (the end of ``start --help``)."""
    width = max(40, width - 2)
    names = [only] if only in specs else sorted(specs)
    lines = [textwrap.fill(f"job kinds ({source}); set params with --set NAME=VALUE:", width),
             ""]
    for name in names:
        spec = specs[name]
        notes = []
        if spec.get("needs_paths") is False:
            notes.append("takes no paths")
        if spec.get("changes_files"):
            notes.append("changes files: --dry-run plans only, rollback undoes")
        text = " — ".join(x for x in (spec.get("description"), "; ".join(notes)) if x)
        lines.append(textwrap.fill(f"{name}: {text}" if text else name, width,
                                   initial_indent="  ", subsequent_indent="    "))
        for p in spec.get("params", []):
            head = f"    {p['name']}={(p.get('type') or 'str').upper()}"
            body = _param_line(p)
            if len(head) >= 27:
                lines.append(head)
                head = ""
            lines.append(textwrap.fill(body, width, initial_indent=head.ljust(28),
                                       subsequent_indent=" " * 28) if body else head)
        lines.append("")
    if only is None:
        lines.append(textwrap.fill("medialoom kinds shows the same as a table (--json for "
                                   "scripts); medialoom start KIND --help shows one kind.",
                                   width))
    return "\n".join(lines)


def start_help_epilog(argv: list[str]) -> str:
    """The kinds part of ``start --help``: from the broker's HELLO, else as installed here."""
    pre = argparse.ArgumentParser(add_help=False)
    client_args(pre)
    for flag in ("--set", "--priority", "--max-attempts"):
        pre.add_argument(flag, action="append")
    ns, rest = pre.parse_known_args(argv)
    positional = [a for a in rest if not a.startswith("-")]
    only = positional[1] if len(positional) > 1 else None
    curve = None
    try:
        endpoint, events = endpoints(ns)
        curve = client_curve(ns)
    except Exception:  # a broken config file or key: show the kinds installed here
        endpoint, events = DEFAULT_CLIENTS, DEFAULT_EVENTS_OUT
    hello = hello_or_none(endpoint, events, min(ns.timeout, 1.0), curve)
    specs, source = kind_specs(hello, endpoint)
    return kinds_help(specs, source, shutil.get_terminal_size().columns, only)


# --- --set values ---------------------------------------------------------------------------


def split_pairs(pairs: list[str]) -> list[tuple[str, str]]:
    """--set KEY=VALUE pairs; UsageError for one without '=' or without a key."""
    out = []
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise UsageError(f"--set needs KEY=VALUE, got {pair!r} (e.g. --set {key or 'name'}"
                             f"=VALUE; medialoom start --help lists the params)")
        out.append((key.strip(), value))
    return out


def coerce(param: dict[str, Any] | None, text: str) -> Any:
    """A --set string as the param's type (from its spec); the string itself if it fits none.

    A value that fits no type goes to the broker as a string, which refuses it
    with job.bad_params naming the field.
    """
    if param is None:
        return text
    for t in re.split(r"[|,\s]+", str(param.get("type") or "str").lower()):
        try:
            if t in ("bool", "boolean"):
                if text.lower() in ("1", "true", "yes", "on"):
                    return True
                if text.lower() in ("0", "false", "no", "off"):
                    return False
            elif t in ("int", "integer", "uint"):
                return int(text.replace("_", ""))
            elif t in ("float", "number"):
                return float(text.replace("_", ""))
            elif t in ("list", "array"):
                if text.lstrip().startswith("["):
                    value = json.loads(text)
                    if isinstance(value, list):
                        return value
                    continue
                return [part.strip() for part in text.split(",") if part.strip()]
            elif t in ("map", "dict", "object"):
                value = json.loads(text)
                if isinstance(value, dict):
                    return value
            else:
                return text
        except ValueError:  # json.JSONDecodeError is a ValueError too
            continue
    return text


def build_params(spec: dict[str, Any] | None, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """The params map of a START from --set pairs and the kind's spec (None: strings)."""
    by_name = {p["name"]: p for p in (spec or {}).get("params", [])}
    return {key: coerce(by_name.get(key), value) for key, value in pairs}

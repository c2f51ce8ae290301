"""Settings: a TOML file, then MEDIALOOM_* environment variables, then command-line flags.

Only the ``__main__`` functions call this; the result is turned into the
frozen config of each process and passed down.  Every entry point (broker,
pool, worker process, gateway, CLI) reads the same names, so a parent hands
its children their settings as MEDIALOOM_* variables (``child_environ``),
never on their command line.  README "Settings" lists every variable.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Any

from medialoom.protocol.constants import DEFAULT_HOST, PORTS

#: setting name -> type; environment variable is MEDIALOOM_<NAME upper>
KEYS: dict[str, type] = {
    "data_dir": str, "roots": list, "host": str, "clients": str, "workers": str,
    "events_in": str, "events_out": str, "heartbeat_interval_s": float,
    "heartbeat_liveness": int, "max_attempts": int, "queue_max": int,
    "retention_days": float, "sync": str, "slots": int, "gateway": str, "auth": str,
    "gateway_hosts": list, "webhooks": dict, "webhook_secret": str,
    "processes": int, "kinds": list, "threads": int, "contact": str,
    "curve": bool, "insecure": bool, "key": str, "broker_key": str,
    "path_map": list,
}
#: list settings whose environment form is not split on os.pathsep (host:port has a colon)
LIST_SEPARATORS: dict[str, str] = {"gateway_hosts": ",", "kinds": ","}


def default_config_file() -> Path:
    """~/.config/medialoom/config.toml (or under XDG_CONFIG_HOME)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "medialoom" / "config.toml"


def default_data_dir() -> str:
    """~/.local/share/medialoom (or under XDG_DATA_HOME)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "medialoom")


def env_name(name: str) -> str:
    """The environment variable of setting name: MEDIALOOM_<NAME>."""
    return f"MEDIALOOM_{name.upper()}"


def _json_list(text: str) -> list[str] | None:
    """text as a JSON array of strings (the form to_environ writes when a separator will not do)."""
    if not text.lstrip().startswith("["):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"setting {name} must be true or false, not {value!r}")


def _coerce(name: str, value: Any) -> Any:
    kind = KEYS[name]
    if kind is bool:
        return _bool(name, value)
    if kind is dict:  # a TOML table; its environment form is JSON (MEDIALOOM_WEBHOOKS='{...}')
        value = json.loads(value) if isinstance(value, str) else value
        if not isinstance(value, dict):
            raise ValueError(f"setting {name} must be a table")
        return dict(value)
    if kind is list:
        if isinstance(value, str):
            as_json = _json_list(value)
            if as_json is not None:
                return as_json
            return [v for v in value.split(LIST_SEPARATORS.get(name, os.pathsep)) if v]
        return list(value)
    return kind(value)


def load(config_file: str | None = None, flags: dict[str, Any] | None = None,
         environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Merged settings; later sources win: file < environment < flags (None = not given)."""
    environ = dict(os.environ) if environ is None else environ
    path = Path(config_file or environ.get("MEDIALOOM_CONFIG") or default_config_file())
    out: dict[str, Any] = {}
    if path.is_file():
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        for name, value in data.items():
            if name in KEYS:
                out[name] = _coerce(name, value)
    for name in KEYS:
        value = environ.get(env_name(name))
        if value not in (None, ""):
            out[name] = _coerce(name, value)
    for name, value in (flags or {}).items():
        if value is not None and value != []:
            out[name] = _coerce(name, value) if name in KEYS else value
    return out


def endpoints(settings: dict[str, Any]) -> dict[str, str]:
    """The four broker endpoints; ``host`` changes the host of the defaults."""
    host = settings.get("host", DEFAULT_HOST)
    return {name: settings.get(name) or f"tcp://{host}:{port}" for name, port in PORTS.items()}


def to_environ(values: dict[str, Any]) -> dict[str, str]:
    """The MEDIALOOM_* variables that give a child process these settings (``load`` reads them).

    None is left out.  A list is joined with its separator, or written as a
    JSON array when it is empty or an item holds the separator (a root with a
    ``:`` in its name); a table is JSON.
    """
    out: dict[str, str] = {}
    for name, value in values.items():
        if name not in KEYS:
            raise KeyError(f"{name} is not a setting")
        if value is None:
            continue
        if KEYS[name] is list:
            items = [str(v) for v in value]
            sep = LIST_SEPARATORS.get(name, os.pathsep)
            if not items or any(sep in v for v in items) or _json_list(sep.join(items)):
                out[env_name(name)] = json.dumps(items, ensure_ascii=False)
            else:
                out[env_name(name)] = sep.join(items)
        elif KEYS[name] is dict:
            out[env_name(name)] = json.dumps(value, ensure_ascii=False)
        elif KEYS[name] is bool:
            out[env_name(name)] = "true" if value else "false"
        else:
            out[env_name(name)] = str(value)
    return out


def child_environ(values: dict[str, Any], base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child process: base (default os.environ) with values as MEDIALOOM_*.

    A setting the parent passes this way wins over the same variable inherited
    from base and over the config file the child reads (environment beats file).
    """
    env = dict(os.environ if base is None else base)
    env.update(to_environ(values))
    return env

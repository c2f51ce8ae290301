"""What a Sonarr or Radarr webhook starts, and how the apps' paths map to ours.

Built once in ``__main__`` from the ``[webhooks]`` table of config.toml::

    [webhooks]
    secret = "..."                  # or MEDIALOOM_WEBHOOK_SECRET; the gateway token works too
    dedupe_window_s = 3600          # a redelivery within this answers the first job's id

    [webhooks.sonarr]               # and [webhooks.radarr]
    kind = "audio-default"          # the job kind a Download starts
    params = { languages = ["original", "eng"] }
    priority = "webhook"
    dry_run = false
    events = ["Download"]           # which events start a job (Download, Rename)
    path_map = [{ remote = "/tv", local = "/srv/tv" }]
    strict = true                   # refuse top-level fields these app versions never send

Every value is type-checked here; a bad one is a ``ValueError`` naming it,
which ``medialoom gateway`` reports as a usage error (exit 2).
"""

from __future__ import annotations

import ntpath
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from medialoom.protocol.constants import PRIORITIES

APPS = ("sonarr", "radarr")
#: the events that can start a job; the others are answered 200 and ignored
STARTING_EVENTS = ("Download", "Rename")
DEFAULT_KIND = "audio-default"
#: the parameter of the started kind that gets the item's original language, if it has it
ORIGINAL_PARAM = "original_language"
DEFAULT_WINDOW_S = 3600.0
_WINDOWS_PATH = re.compile(r"^(?:[A-Za-z]:)?[\\/]|^\\\\")


@dataclass(frozen=True)
class PathMap:
    """One remote path mapping: a path the app sends under ``remote`` is ours under ``local``."""

    remote: str
    local: str

    def parts(self) -> list[str]:
        """The remote prefix as components (Windows paths case-folded, either slash)."""
        return split_remote(self.remote, windows=self.windows)

    @property
    def windows(self) -> bool:
        """True if the remote side is a Windows path (``C:\\tv``, ``\\\\nas\\tv``)."""
        return "\\" in self.remote or bool(re.match(r"^[A-Za-z]:", self.remote))


def split_remote(path: str, windows: bool) -> list[str]:
    """A remote path as components; Windows paths split on both slashes and case-folded."""
    if windows:
        return [p.casefold() for p in re.split(r"[\\/]+", path) if p]
    return [p for p in path.split("/") if p]


@dataclass(frozen=True)
class AppHook:
    """How one app's webhook is handled."""

    app: str
    enabled: bool = True
    kind: str = DEFAULT_KIND
    params: Mapping[str, Any] = field(default_factory=dict)
    priority: str = "webhook"
    dry_run: bool = False
    events: tuple[str, ...] = ("Download",)
    path_map: tuple[PathMap, ...] = ()
    strict: bool = True

    def map_path(self, path: str) -> tuple[str, PathMap | None]:
        """The local path for a path the app sent, and the mapping used (longest prefix wins).

        The sent path is normalized first (``..`` collapsed), then matched by whole
        components (``/tv`` maps ``/tv/x`` but not ``/tvx``); a Windows remote
        (``D:\\TV``) matches either slash and any case, and the rest of the path is
        joined with ``/``.  Without a matching mapping the path is kept (normalized).
        """
        best: PathMap | None = None
        best_rest: list[str] = []
        best_len = -1
        for mapping in self.path_map:
            if mapping.windows:
                rest = [p for p in re.split(r"[\\/]+", ntpath.normpath(path)) if p]
                parts = [p.casefold() for p in rest]
            elif path.startswith("/"):
                rest = parts = [p for p in posixpath.normpath(path).split("/") if p]
            else:
                continue
            prefix = mapping.parts()
            if len(prefix) > best_len and parts[:len(prefix)] == prefix:
                best, best_len, best_rest = mapping, len(prefix), rest[len(prefix):]
        if best is None:
            return posixpath.normpath(path) if path.startswith("/") else path, None
        return posixpath.normpath(posixpath.join(best.local, *best_rest)), best


@dataclass(frozen=True)
class WebhooksConfig:
    """The gateway's webhook settings."""

    #: a password for the apps' Basic auth besides the gateway token ("" = token only)
    secret: str = ""
    dedupe_window_s: float = DEFAULT_WINDOW_S
    sonarr: AppHook = field(default_factory=lambda: AppHook("sonarr"))
    radarr: AppHook = field(default_factory=lambda: AppHook("radarr"))

    def app(self, name: str) -> AppHook:
        """The AppHook of sonarr or radarr."""
        return self.sonarr if name == "sonarr" else self.radarr


def _get(table: Mapping[str, Any], name: str, types: type | tuple[type, ...], default: Any,
         where: str) -> Any:
    value = table.get(name, default)
    types = types if isinstance(types, tuple) else (types,)
    if value is not default and (not isinstance(value, types) or
                                 (isinstance(value, bool) and bool not in types)):
        raise ValueError(f"setting {where}{name} must be {' or '.join(t.__name__ for t in types)}"
                         f", not {type(value).__name__}")
    return value


def _unknown(table: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    for name in table:
        if name not in known:
            raise ValueError(f"unknown setting {where}{name} (known: {', '.join(known)})")


def path_maps(value: Any, where: str) -> tuple[PathMap, ...]:
    """``[{remote, local}, ...]`` checked: both non-empty, local absolute."""
    if not isinstance(value, list):
        raise ValueError(f"setting {where} must be a list of {{remote, local}} tables")
    out = []
    for i, entry in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"setting {at} must be a table {{remote = ..., local = ...}}")
        _unknown(entry, ("remote", "local"), f"{at}.")
        remote, local = entry.get("remote"), entry.get("local")
        if not isinstance(remote, str) or not remote.strip() or \
                not (remote.startswith("/") or _WINDOWS_PATH.match(remote)):
            raise ValueError(f"setting {at}.remote must be an absolute path as the app sees it")
        if not isinstance(local, str) or not local.startswith("/") or "\0" in local:
            raise ValueError(f"setting {at}.local must be an absolute path on this side")
        out.append(PathMap(remote.rstrip("/\\") or "/", posixpath.normpath(local)))
    return tuple(out)


def app_hook(app: str, table: Any) -> AppHook:
    """The AppHook of app from its ``[webhooks.APP]`` table."""
    where = f"webhooks.{app}."
    if not isinstance(table, Mapping):
        raise ValueError(f"setting webhooks.{app} must be a table")
    _unknown(table, ("enabled", "kind", "params", "priority", "dry_run", "events", "path_map",
                     "strict"), where)
    kind = _get(table, "kind", str, DEFAULT_KIND, where)
    if not kind:
        raise ValueError(f"setting {where}kind must name a job kind")
    priority = _get(table, "priority", str, "webhook", where)
    if priority not in PRIORITIES:
        raise ValueError(f"setting {where}priority must be one of {', '.join(PRIORITIES)}")
    events = _get(table, "events", list, ["Download"], where)
    for event in events:
        if event not in STARTING_EVENTS:
            raise ValueError(f"setting {where}events: {event!r} is not one of "
                             f"{', '.join(STARTING_EVENTS)}")
    return AppHook(app=app, enabled=_get(table, "enabled", bool, True, where), kind=kind,
                   params=dict(_get(table, "params", dict, {}, where)), priority=priority,
                   dry_run=_get(table, "dry_run", bool, False, where), events=tuple(events),
                   path_map=path_maps(table.get("path_map", []), f"{where}path_map"),
                   strict=_get(table, "strict", bool, True, where))


def webhooks_config(table: Any, secret: str = "") -> WebhooksConfig:
    """WebhooksConfig from the ``[webhooks]`` settings table (None: the defaults).

    ``secret`` (MEDIALOOM_WEBHOOK_SECRET) wins over the table's ``secret``.
    """
    table = {} if table is None else table
    if not isinstance(table, Mapping):
        raise ValueError("setting webhooks must be a table")
    _unknown(table, ("secret", "dedupe_window_s", *APPS), "webhooks.")
    secret = secret or _get(table, "secret", str, "", "webhooks.")
    window = _get(table, "dedupe_window_s", (int, float), DEFAULT_WINDOW_S, "webhooks.")
    if not 0 <= window <= 30 * 86_400:
        raise ValueError("setting webhooks.dedupe_window_s must be 0..2592000 seconds")
    return WebhooksConfig(secret=secret.strip(), dedupe_window_s=float(window),
                          **{app: app_hook(app, table.get(app, {})) for app in APPS})

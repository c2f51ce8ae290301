"""The JSON Sonarr v4 and Radarr v5 webhooks send, read into one ``Delivery``.

Field names and shapes are those of the apps' ``NzbDrone.Core.Notifications.Webhook``
classes, serialized by Newtonsoft with camel-case names and nulls left out;
``eventType`` keeps the enum's own spelling (``Download``, ``Test``):

- Sonarr ``WebhookImportPayload`` (eventType ``Download``): ``series`` (``path``,
  ``title``, ``originalLanguage: {id, name}``), ``episodes``, one ``episodeFile``
  (``id``, ``relativePath``, ``path``, ``mediaInfo.audioLanguages``, ...),
  ``isUpgrade``, ``downloadClient``, ``downloadId``, ``deletedFiles``, ...
- Sonarr ``WebhookImportCompletePayload`` — sent with eventType ``Download`` too,
  told apart by ``episodeFiles[]`` instead of ``episodeFile``; with ``sourcePath``,
  ``destinationPath`` and ``fileCount``.
- Radarr ``WebhookImportPayload`` (``Download``): ``movie`` (``folderPath``,
  ``title``, ``originalLanguage``), ``remoteMovie``, one ``movieFile``, ...
- ``Rename``: ``series`` + ``renamedEpisodeFiles[]`` / ``movie`` + ``renamedMovieFiles[]``.
- ``Test``: a Grab-shaped payload with a dummy ``series`` / ``movie``; nothing to do.

Every field read is type-checked; a missing one or one of the wrong type is
``PayloadError`` naming it.  With ``strict`` (the default) a top-level field
that no payload class of that app has is refused too — it catches a Radarr
payload posted to the Sonarr URL and hand-made junk; set ``strict = false``
if a newer app version adds fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from medialoom.languages import code_of

#: every top-level field of every payload class (WebhookPayload and its subclasses)
COMMON_FIELDS = frozenset({"eventType", "instanceName", "applicationUrl", "level", "message",
                           "type", "wikiUrl", "previousVersion", "newVersion", "release",
                           "downloadClient", "downloadClientType", "downloadId",
                           "customFormatInfo", "isUpgrade", "deletedFiles", "deleteReason",
                           "downloadInfo", "downloadStatus", "downloadStatusMessages"})
APP_FIELDS = {
    "sonarr": COMMON_FIELDS | {"series", "episodes", "episodeFile", "episodeFiles", "fileCount",
                               "sourcePath", "destinationPath", "renamedEpisodeFiles"},
    "radarr": COMMON_FIELDS | {"movie", "remoteMovie", "movieFile", "renamedMovieFiles",
                               "addMethod", "movieFolderSize"},
}
#: fields only the other app sends: a sure sign the URL is the wrong one
OTHER_APP = {"sonarr": ("movie", "movieFile", "remoteMovie", "renamedMovieFiles"),
             "radarr": ("series", "episodeFile", "episodeFiles", "renamedEpisodeFiles")}
#: the app events, by app (for the log and the docs; others are ignored as unknown)
EVENTS = {
    "sonarr": ("Test", "Grab", "Download", "Rename", "SeriesAdd", "SeriesDelete",
               "EpisodeFileDelete", "Health", "ApplicationUpdate", "HealthRestored",
               "ManualInteractionRequired"),
    "radarr": ("Test", "Grab", "Download", "Rename", "MovieDelete", "MovieFileDelete", "Health",
               "ApplicationUpdate", "MovieAdded", "HealthRestored", "ManualInteractionRequired"),
}
MAX_FILES = 10_000


class PayloadError(ValueError):
    """A webhook body that is not what the app sends; ``field`` names the culprit."""

    def __init__(self, field_name: str, message: str, code: str = "webhook.bad_payload") -> None:
        super().__init__(message)
        self.field, self.message, self.code = field_name, message, code


@dataclass(frozen=True)
class HookFile:
    """One episode or movie file of a delivery."""

    id: int
    path: str
    relative_path: str = ""
    audio_languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Delivery:
    """What one webhook call says, in the app's terms (paths not mapped yet)."""

    app: str
    event: str
    #: the payload class: Download, ImportComplete, Rename, Test, or the event for others
    shape: str
    instance: str = ""
    download_id: str = ""
    title: str = ""
    is_upgrade: bool = False
    original_name: str = ""
    #: ISO 639-2 (B form) of the series' or movie's original language, None if unknown
    original_language: str | None = None
    files: tuple[HookFile, ...] = field(default_factory=tuple)
    source_path: str = ""
    destination_path: str = ""


def _typed(obj: dict[str, Any], name: str, types: type | tuple[type, ...], where: str,
           required: bool = False) -> Any:
    value = obj.get(name)
    if value is None:
        if required:
            raise PayloadError(f"{where}{name}", f"field {where}{name!r} is required")
        return None
    types = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
        kinds = " or ".join({str: "a string", int: "an integer", bool: "a boolean",
                             dict: "an object", list: "an array"}[t] for t in types)
        raise PayloadError(f"{where}{name}", f"field {where}{name!r} must be {kinds}")
    return value


def _string(obj: dict[str, Any], name: str, where: str, required: bool = False) -> str:
    return _typed(obj, name, str, where, required) or ""


def _languages(media: dict[str, Any] | None, where: str) -> tuple[str, ...]:
    if media is None:
        return ()
    langs = _typed(media, "audioLanguages", list, f"{where}mediaInfo.") or []
    if not all(isinstance(x, str) for x in langs):
        raise PayloadError(f"{where}mediaInfo.audioLanguages",
                           "field mediaInfo.audioLanguages must be an array of strings")
    return tuple(langs)


def read_file(obj: Any, where: str, base: str) -> HookFile:
    """A WebhookEpisodeFile / WebhookMovieFile: ``id`` and ``path`` (or base + relativePath)."""
    if not isinstance(obj, dict):
        raise PayloadError(where.rstrip("."), f"field {where.rstrip('.')!r} must be an object")
    file_id = _typed(obj, "id", int, where, required=True)
    relative = _string(obj, "relativePath", where)
    path = _string(obj, "path", where)
    if not path:
        if not relative or not base:
            raise PayloadError(f"{where}path", f"field {where}path is required (or "
                               f"{where}relativePath with the series or movie path)")
        path = base.rstrip("/\\") + ("\\" if "\\" in base else "/") + relative
    if "\0" in path:
        raise PayloadError(f"{where}path", f"field {where}path holds a NUL character")
    media = _typed(obj, "mediaInfo", dict, where)
    return HookFile(id=file_id, path=path, relative_path=relative,
                    audio_languages=_languages(media, where))


def read_item(body: dict[str, Any], app: str) -> tuple[str, str, str, str | None]:
    """``(title, path, original name, original code)`` of ``series`` or ``movie``."""
    name = "series" if app == "sonarr" else "movie"
    item = _typed(body, name, dict, "", required=True)
    where = f"{name}."
    title = _string(item, "title", where)
    path = _string(item, "path" if app == "sonarr" else "folderPath", where)
    lang = _typed(item, "originalLanguage", dict, where)
    original_name, code = "", None
    if lang is not None:
        original_name = _string(lang, "name", f"{where}originalLanguage.")
        _typed(lang, "id", int, f"{where}originalLanguage.")
        code = code_of(original_name) if original_name else None
    return title, path, original_name, code


def _files(body: dict[str, Any], name: str, base: str) -> tuple[HookFile, ...]:
    items = _typed(body, name, list, "", required=True)
    if not items:
        raise PayloadError(name, f"field {name!r} holds no file")
    if len(items) > MAX_FILES:
        raise PayloadError(name, f"field {name!r} holds more than {MAX_FILES} files")
    return tuple(read_file(f, f"{name}[{i}].", base) for i, f in enumerate(items))


def check_fields(body: dict[str, Any], app: str, strict: bool) -> None:
    """Refuse the other app's payload always, and unknown top-level fields when strict."""
    for name in OTHER_APP[app]:
        if name in body:
            other = "Radarr" if app == "sonarr" else "Sonarr"
            raise PayloadError(name, f"field {name!r} is sent by {other}, not "
                               f"{app.capitalize()}: point {other}'s webhook at "
                               f"/api/v1/webhooks/{other.lower()}", "webhook.wrong_app")
    if not strict or body.get("eventType") not in EVENTS[app]:
        return  # an event type this version does not know may bring fields it does not know
    for name in body:
        if name not in APP_FIELDS[app]:
            raise PayloadError(name, f"unknown field {name!r}: {app.capitalize()} v"
                               f"{4 if app == 'sonarr' else 5} sends no such field (if a "
                               f"newer version does, set webhooks.{app}.strict = false)")


def read_delivery(body: Any, app: str, strict: bool = True) -> Delivery:
    """A Delivery from a decoded webhook body; PayloadError if it is not one."""
    if not isinstance(body, dict):
        raise PayloadError("body", "the webhook body must be a JSON object")
    event = _string(body, "eventType", "", required=True)
    check_fields(body, app, strict)
    common = {"app": app, "event": event, "instance": _string(body, "instanceName", ""),
              "download_id": _string(body, "downloadId", "")}
    if event not in ("Download", "Rename"):
        return Delivery(shape=event if event in EVENTS[app] else "unknown", **common)
    title, base, original_name, original = read_item(body, app)
    item = {"title": title, "original_name": original_name, "original_language": original}
    single = "episodeFile" if app == "sonarr" else "movieFile"
    if event == "Rename":
        files = _files(body, f"renamed{single[0].upper()}{single[1:]}s", base)
        return Delivery(shape="Rename", files=files, **item, **common)
    upgrade = bool(_typed(body, "isUpgrade", bool, ""))
    if app == "sonarr" and "episodeFiles" in body and single not in body:
        return Delivery(shape="ImportComplete", files=_files(body, "episodeFiles", base),
                        source_path=_string(body, "sourcePath", ""),
                        destination_path=_string(body, "destinationPath", ""),
                        is_upgrade=upgrade, **item, **common)
    if single not in body:
        raise PayloadError(single, f"field {single!r} is required in a Download"
                           + (" (or episodeFiles for an import of several files)"
                              if app == "sonarr" else ""))
    return Delivery(shape="Download", files=(read_file(body[single], f"{single}.", base),),
                    is_upgrade=upgrade, **item, **common)

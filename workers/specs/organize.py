"""Spec of kind ``organize`` (workers/kinds/organize.py), with its template check."""

from __future__ import annotations

from typing import Any

from medialoom.workers.fileops.template import TemplateSyntaxError, compile_template

from . import CHECKS, KindSpec, ParamSpec
from .rename import POLICIES
from .walking import walk_params

#: template fields of an organize, with sample values
FIELDS: dict[str, Any] = {"category": "audio", "year": 2000, "month": 1, "day": 1,
                          "ext": "mp3", "filename": "name", "artist": "Artist",
                          "albumartist": "Album Artist", "title": "Title", "album": "Album",
                          "track": 1, "disc": 1, "genre": "Genre", "bpm": 120, "key": "Am"}


def check_template(value: Any, params: dict[str, Any]) -> None:
    """An organize folder template: valid syntax and known fields."""
    try:
        compile_template(str(value), FIELDS)
    except TemplateSyntaxError as exc:
        raise ValueError(str(exc)) from None


def check_categories(value: Any, params: dict[str, Any]) -> None:
    """{category: [extensions]}."""
    for name, exts in value.items():
        if not isinstance(exts, list) or not all(isinstance(e, str) for e in exts):
            raise ValueError(f"categories[{name!r}] must be a list of extensions")


CHECKS["organize-template"] = check_template
CHECKS["organize-categories"] = check_categories

SPEC = KindSpec(
    name="organize",
    description="move files into folders by category and date (planned, undoable)",
    params={
        "template": ParamSpec("str", "{category}/{year}/{month}", "folder template under dest",
                              check="organize-template"),
        "categories": ParamSpec("map", {}, "{category: [extensions]} overriding the defaults",
                                check="organize-categories"),
        "date_source": ParamSpec("str", "tags", "tags (year tag of audio files, else mtime) "
                                                "or mtime", choices=("tags", "mtime")),
        "on_collision": ParamSpec("str", "skip", "a name already taken: skip or counter",
                                  choices=POLICIES),
        "dest": ParamSpec("str", "", "destination folder, absolute or relative to the library "
                                     "root (default: the first job path)"),
        "verify_hash": ParamSpec("bool", False, "compare hashes after a cross-device copy"),
        **walk_params(()),
    },
    changes_files=True,
    outcomes={"moved": "ok", "created": "ok", "removed": "ok", "unchanged": "ok",
              "planned": "ok", "skipped": "skipped", "vanished": "skipped",
              "conflict": "failed", "failed": "failed"},
)

"""Spec of kind ``rename`` (workers/kinds/rename.py), with its template check."""

from __future__ import annotations

from typing import Any

from medialoom.workers.fileops.keys import NOTATIONS
from medialoom.workers.fileops.template import TemplateSyntaxError, compile_template

from . import CHECKS, KindSpec, ParamSpec
from .scan import AUDIO_EXTENSIONS
from .walking import walk_params

#: template fields of a rename, with sample values (the check renders the template with them)
FIELDS: dict[str, Any] = {"artist": "Artist", "albumartist": "Album Artist", "title": "Title",
                          "album": "Album", "track": 1, "disc": 1, "year": 2000,
                          "genre": "Genre", "bpm": 120.5, "key": "Am", "ext": "mp3",
                          "filename": "name"}
POLICIES = ("skip", "counter")


def check_template(value: Any, params: dict[str, Any]) -> None:
    """A rename template: valid syntax, known fields, no path separator."""
    try:
        template = compile_template(str(value), FIELDS)
    except TemplateSyntaxError as exc:
        raise ValueError(str(exc)) from None
    sample = template.render(FIELDS)
    if "/" in sample or "\\" in sample:
        raise ValueError("a rename template cannot contain a path separator; files stay in "
                         "their folder (use kind organize to move them)")


CHECKS["rename-template"] = check_template

SPEC = KindSpec(
    name="rename",
    description="rename audio files from their tags by a template (planned, undoable)",
    params={
        "template": ParamSpec("str", "{artist} - {title}",
                              "file name template (workers/fileops/README.md)",
                              check="rename-template"),
        "key_notation": ParamSpec("str", "tagged", "key rendering", choices=NOTATIONS),
        "on_collision": ParamSpec("str", "skip", "a name already taken: skip or counter",
                                  choices=POLICIES),
        **walk_params(AUDIO_EXTENSIONS),
    },
    changes_files=True,
    outcomes={"renamed": "ok", "unchanged": "ok", "planned": "ok", "skipped": "skipped",
              "vanished": "skipped", "conflict": "failed", "failed": "failed"},
)

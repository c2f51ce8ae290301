"""Spec of kind ``scan`` (workers/kinds/scan.py)."""

from __future__ import annotations

from . import KindSpec, ParamSpec

AUDIO_EXTENSIONS = ("mp3", "flac", "wav", "m4a", "mp4", "aac", "ogg", "oga", "opus", "aif",
                    "aiff", "wma", "ape", "wv")

SPEC = KindSpec(
    name="scan",
    description="walk paths and report format, duration and tags of every audio file",
    params={
        "recursive": ParamSpec("bool", True, "descend into subdirectories"),
        "pattern": ParamSpec("str", "*", "glob the file name must match (case-insensitive)"),
        "exclude": ParamSpec("list", [], "globs; a file or directory whose name or relative "
                                         "path matches one is left out (case-insensitive)"),
        "min_size": ParamSpec("int", 0, "leave out files smaller than this many bytes", min=0),
        "max_age_days": ParamSpec("float", 0.0, "leave out files modified longer ago (0: any)",
                                  min=0),
        "extensions": ParamSpec("list", list(AUDIO_EXTENSIONS),
                                "extensions read as audio (without the dot)"),
        "audio_only": ParamSpec("bool", True, "report only files with an audio extension"),
    },
    outcomes={"ok": "ok", "failed": "failed", "skipped": "skipped"},
)

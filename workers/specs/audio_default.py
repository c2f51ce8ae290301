"""Spec of kind ``audio-default`` (workers/kinds/audio_default.py), with its language checks.

Params agreed with the webhooks (issue 10, item 3): ``languages`` in
preference order (ISO 639-2 codes, 639-1 codes or English names; the token
``original``), ``original_language`` (what a webhook knows of the item: a
code or a name; empty: the file's own tags decide), ``timeout_s``,
``hardlinks`` (skip | break | edit), the walker's filters; ``dry_run`` is
the job's.
"""

from __future__ import annotations

import re
from typing import Any

from medialoom.languages import NO_LANGUAGE, code_of

from . import CHECKS, KindSpec, ParamSpec
from .walking import walk_params

#: the token in ``languages`` that stands for the item's original language
ORIGINAL = "original"
HARDLINK_POLICIES = ("skip", "break", "edit")
#: Matroska files (edited in place with mkvpropedit)
MATROSKA_EXTENSIONS = ("mkv", "mk3d", "webm")
#: MP4 files (remuxed with ffmpeg into a new file that replaces the old one)
MP4_EXTENSIONS = ("mp4", "m4v")
DEFAULT_EXTENSIONS = ("mkv", "mp4", "m4v")
DEFAULT_LANGUAGES = [ORIGINAL, "eng"]
_RAW_CODE = re.compile(r"[a-z]{3}")


def language_key(text: str) -> str | None:
    """The code a preference or a track tag compares by: the canonical ISO 639-2/B code, or
    a lower-case 3-letter code the table does not know (``haw``); None for no language."""
    canonical = code_of(text)
    if canonical:
        return canonical
    raw = text.strip().lower()
    return raw if _RAW_CODE.fullmatch(raw) and raw not in NO_LANGUAGE else None


def check_languages(value: Any, params: dict[str, Any]) -> None:
    """Each entry a language (code or English name) or the token ``original``."""
    if not value:
        raise ValueError("give at least one language (e.g. ['original', 'eng'])")
    for entry in value:
        if entry.strip().lower() != ORIGINAL and language_key(entry) is None:
            raise ValueError(f"{entry!r} is not a language: use an ISO 639-2 code (jpn), an "
                             f"ISO 639-1 code (ja), an English name (Japanese) or 'original'")


def check_original(value: Any, params: dict[str, Any]) -> None:
    """Empty, or a language (code or English name)."""
    if value.strip() and language_key(value) is None and value.strip().lower() not in (
            "unknown", "any", "original"):
        raise ValueError(f"{value!r} is not a language (ISO 639-2 code or English name)")


CHECKS["audio-languages"] = check_languages
CHECKS["original-language"] = check_original

SPEC = KindSpec(
    name="audio-default",
    description="make the preferred language's audio track the default one in MKV (in place, "
                "mkvpropedit) and MP4/M4V (ffmpeg remux) files (planned, undoable)",
    params={
        "languages": ParamSpec("list", list(DEFAULT_LANGUAGES),
                               "preference order: ISO 639-2 codes, English names, or "
                               "'original' (the item's original language when known)",
                               check="audio-languages"),
        "original_language": ParamSpec("str", "", "the item's original language (a webhook "
                                       "sets it); empty: the file's tags say, if they do",
                                       check="original-language"),
        "timeout_s": ParamSpec("float", 600.0, "seconds each tool run may take (an MP4 remux "
                               "copies the whole file)", min=0.1, max=86_400),
        "hardlinks": ParamSpec("str", "skip", "a file with other hard links (a seeding "
                               "download): skip it, break the link (edit a copy), or edit "
                               "it in place (changes every link)", choices=HARDLINK_POLICIES),
        **walk_params(DEFAULT_EXTENSIONS),
    },
    changes_files=True,
    outcomes={"changed": "ok", "planned": "ok", "unchanged": "ok", "skipped": "skipped",
              "vanished": "skipped", "conflict": "failed", "failed": "failed",
              "timeout": "failed"},
)

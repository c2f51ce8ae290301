"""Spec of kind ``scan`` (workers/kinds/scan.py)."""

from __future__ import annotations

from . import KindSpec
from .walking import walk_params

AUDIO_EXTENSIONS = ("mp3", "flac", "wav", "m4a", "mp4", "aac", "ogg", "oga", "opus", "aif",
                    "aiff", "wma", "ape", "wv")

SPEC = KindSpec(
    name="scan",
    description="walk paths and report size and mtime of every file, and format, duration "
                "and tags of the audio ones (by default only audio files are walked)",
    params=walk_params(AUDIO_EXTENSIONS),
    outcomes={"ok": "ok", "failed": "failed", "skipped": "skipped"},
)

"""Spec of kind ``probe`` (workers/kinds/probe.py): ffprobe every video under the paths."""

from __future__ import annotations

from . import KindSpec, ParamSpec
from .walking import walk_params

#: file extensions probed as video by default (without the dot)
VIDEO_EXTENSIONS = ("mkv", "mp4", "m4v", "avi", "mov", "webm", "ts", "m2ts")

SPEC = KindSpec(
    name="probe",
    description="ffprobe every video under the paths: container, duration, streams "
                "(codec, language, default flag); deep=true also decodes to find corrupt files",
    params={
        **walk_params(VIDEO_EXTENSIONS),
        "timeout_s": ParamSpec("float", 30.0, "seconds one ffprobe may take before it is "
                               "killed and the file reported as timeout", min=0.1, max=86_400),
        "concurrency": ParamSpec("int", 0, "ffprobe processes at a time on one worker "
                                 "(0: the worker's CPU count)", min=0, max=256),
        "deep": ParamSpec("bool", False, "also decode every file (ffmpeg -f null) and report "
                                         "the corrupt ones"),
        "deep_timeout_s": ParamSpec("float", 3600.0, "seconds one decode check may take",
                                    min=0.1, max=86_400),
    },
    outcomes={"ok": "ok", "corrupt": "failed", "failed": "failed", "timeout": "failed",
              "vanished": "skipped", "skipped": "skipped"},
)

"""Spec of kind ``probe`` (workers/kinds/probe.py): ffprobe every video under the paths."""

from __future__ import annotations

from . import KindSpec, ParamSpec

#: file extensions probed as video by default (without the dot)
VIDEO_EXTENSIONS = ("mkv", "mp4", "m4v", "avi", "mov", "webm", "ts", "m2ts")

#: the walker's filters, as kind scan takes them (replaced by the common walk_params)
WALK_PARAMS: dict[str, ParamSpec] = {
    "recursive": ParamSpec("bool", True, "descend into subdirectories"),
    "pattern": ParamSpec("str", "*", "glob the file name must match (case-insensitive)"),
    "exclude": ParamSpec("list", [], "globs; a file or directory whose name or relative "
                                     "path matches one is left out (case-insensitive)"),
    "min_size": ParamSpec("int", 0, "leave out files smaller than this many bytes", min=0),
    "max_age_days": ParamSpec("float", 0.0, "leave out files modified longer ago (0: any)",
                              min=0),
}

SPEC = KindSpec(
    name="probe",
    description="ffprobe every video under the paths: container, duration, streams "
                "(codec, language, default flag); deep=true also decodes to find corrupt files",
    params={
        **WALK_PARAMS,
        "extensions": ParamSpec("list", list(VIDEO_EXTENSIONS),
                                "extensions probed as video (without the dot)"),
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

"""Reading video files with ffprobe and mkvmerge, through ``ctx.run_tool`` only.

Each call takes the job's ``timeout_s``; a tool that runs past it is killed
(its process group) and ToolTimeout propagates for the caller to report the
file as ``timeout``.  A tool that ran but could not read the file raises
UnreadableVideo with its first error line.  Paths are always absolute (the
kinds resolve them against the library roots), so none can be taken for an
option or, by ffmpeg, for a protocol prefix.
"""

from __future__ import annotations

import re
import shutil
from typing import TYPE_CHECKING, Any

from medialoom.workers.errors import JobFailed

from .streams import AudioTrack, UnreadableVideo, audio_of_ffprobe, audio_of_mkvmerge, parse_json

if TYPE_CHECKING:
    from medialoom.workers.context import JobContext

__all__ = ["FFPROBE_ARGS", "decode_errors", "ffprobe_json", "mkvmerge_json", "read_audio",
           "require_tools"]

FFPROBE_ARGS = ("-v", "error", "-print_format", "json", "-show_format", "-show_streams")
#: which Debian package brings each tool
PACKAGES = {"ffprobe": "ffmpeg", "ffmpeg": "ffmpeg", "mkvmerge": "mkvtoolnix",
            "mkvpropedit": "mkvtoolnix"}
#: lines of a decode check's error output kept in the item
DECODE_LINES = 20
_CONTEXT = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\] ")


def require_tools(*names: str) -> None:
    """JobFailed (never retried) naming the missing tools and their package (blocking)."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        packages = sorted({PACKAGES.get(n, n) for n in missing})
        raise JobFailed(f"{', '.join(missing)} not installed on this worker (Debian: apt-get "
                        f"install {' '.join(packages)})", code="job.failed")


def clean_line(line: str, path: str) -> str:
    """A tool's error line without ffmpeg's ``[matroska,webm @ 0x55...]`` prefix and the path."""
    line = _CONTEXT.sub("", line.strip())
    return line.replace(f"{path}: ", "").replace(path, "the file")[:300]


def first_line(stderr: bytes, path: str, last: bool = False) -> str:
    """The first (or last) non-empty line of a tool's error output, cleaned."""
    lines = [line for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return clean_line(lines[-1 if last else 0], path) if lines else ""


async def ffprobe_json(ctx: JobContext, path: str, timeout_s: float) -> dict[str, Any]:
    """``ffprobe -show_format -show_streams`` of path as a map; UnreadableVideo, ToolTimeout."""
    result = await ctx.run_tool(["ffprobe", *FFPROBE_ARGS, path], timeout_s)
    if result.returncode != 0:
        # ffprobe ends with the reason ("Invalid data found when processing input")
        why = first_line(result.stderr, path, last=True) or f"exit status {result.returncode}"
        raise UnreadableVideo(f"ffprobe: {why}")
    data = parse_json(result.stdout, "ffprobe")
    if not data.get("streams") and not data.get("format"):
        raise UnreadableVideo("ffprobe: no streams found")
    return data


async def mkvmerge_json(ctx: JobContext, path: str, timeout_s: float) -> dict[str, Any]:
    """``mkvmerge -J`` of path as a map (exit status 1 means warnings only)."""
    result = await ctx.run_tool(["mkvmerge", "-J", path], timeout_s)
    if result.returncode not in (0, 1):
        data = parse_json(result.stdout, "mkvmerge") if result.stdout.strip() else {}
        errors = [" ".join(str(e).replace(f" for the file '{path}'", "").split())
                  for e in data.get("errors") or []] or [first_line(result.stderr, path)]
        raise UnreadableVideo("mkvmerge: " + "; ".join(errors)[:300])
    return parse_json(result.stdout, "mkvmerge")


async def read_audio(ctx: JobContext, path: str, container: str, timeout_s: float
                     ) -> tuple[list[AudioTrack], dict[str, Any]]:
    """(audio tracks, the tool's JSON) of a matroska or mp4 file."""
    if container == "matroska":
        data = await mkvmerge_json(ctx, path, timeout_s)
        return audio_of_mkvmerge(data), data
    data = await ffprobe_json(ctx, path, timeout_s)
    return audio_of_ffprobe(data), data


async def decode_errors(ctx: JobContext, path: str, timeout_s: float) -> list[str]:
    """What a full decode (``ffmpeg -v error ... -f null -``) reports: [] for a clean file."""
    result = await ctx.run_tool(["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-i", path,
                                 "-map", "0:v?", "-map", "0:a?", "-f", "null", "-"], timeout_s)
    lines = [clean_line(line, path) for line in
             result.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    if result.returncode != 0 and not lines:
        lines = [f"ffmpeg exit status {result.returncode}"]
    return lines[:DECODE_LINES]

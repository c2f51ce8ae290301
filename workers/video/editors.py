"""Setting default audio flags: mkvpropedit for Matroska, an ffmpeg remux for MP4.

Matroska: ``mkvpropedit FILE --edit track:=UID --set flag-default=0|1`` for
every audio track, addressed by TrackUID (``track:N`` would count all
tracks, and the order is not what the plan saw once a track is added).
mkvpropedit rewrites the track headers in place; it does not clear the other
tracks' flags by itself, hence one ``--edit`` per audio track.

MP4/M4V: ``ffmpeg -i FILE -map 0 -c copy -disposition:a:N +default`` (and
``-default`` on every other audio stream; the ``+``/``-`` keep a stream's
other dispositions such as forced) into the temporary file, which the
caller verifies with ffprobe before it replaces the original.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .readers import first_line

if TYPE_CHECKING:
    from medialoom.workers.context import JobContext

__all__ = ["EditFailed", "mkvpropedit_argv", "remux_argv", "remux_mp4", "set_mkv_flags"]


class EditFailed(Exception):
    """The tool ran and refused or failed the edit (the message says why)."""


def mkvpropedit_argv(path: str, flags: dict[str, bool]) -> list[str]:
    """mkvpropedit's arguments setting each audio track's flag-default, by UID."""
    argv = ["mkvpropedit", path]
    for key, default in flags.items():
        uid = key.removeprefix("uid:")
        if not uid.isdigit():
            raise ValueError(f"not a Matroska track UID key: {key!r}")
        argv += ["--edit", f"track:={uid}", "--set", f"flag-default={int(default)}"]
    return argv


def remux_argv(src: str, dst: str, flags: dict[str, bool]) -> list[str]:
    """ffmpeg's arguments copying every stream of src to dst with the audio defaults set."""
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y", "-i", src,
            "-map", "0", "-c", "copy", "-map_metadata", "0", "-map_chapters", "0"]
    for key, default in flags.items():
        n = key.removeprefix("a:")
        if not n.isdigit():
            raise ValueError(f"not an MP4 audio stream key: {key!r}")
        argv += [f"-disposition:a:{n}", "+default" if default else "-default"]
    return [*argv, "-f", "mp4", dst]


async def set_mkv_flags(ctx: JobContext, path: str, flags: dict[str, bool],
                        timeout_s: float) -> None:
    """Set the default flags of a Matroska file in place; EditFailed, ToolTimeout."""
    result = await ctx.run_tool(mkvpropedit_argv(path, flags), timeout_s)
    if result.returncode not in (0, 1):  # 1: done, with warnings
        text = result.stdout + b"\n" + result.stderr
        errors = [line.strip() for line in text.decode("utf-8", "replace").splitlines()
                  if line.strip().startswith("Error")]
        raise EditFailed("mkvpropedit: " + (errors[0] if errors else first_line(text, path)
                                            or f"exit status {result.returncode}"))


async def remux_mp4(ctx: JobContext, src: str, dst: str, flags: dict[str, bool],
                    timeout_s: float) -> None:
    """Remux src into dst with the audio default flags set; EditFailed, ToolTimeout."""
    result = await ctx.run_tool(remux_argv(src, dst, flags), timeout_s)
    if result.returncode != 0:
        raise EditFailed("ffmpeg: " + (first_line(result.stderr, src)
                                       or f"exit status {result.returncode}"))

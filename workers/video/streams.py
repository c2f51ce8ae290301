"""ffprobe's and mkvmerge's JSON as plain data (pure; the tools run in video/readers.py).

``probe_details(data, size_bytes)`` is the item detail map of kind probe:
container, duration_s, size_bytes, bit_rate and ``streams`` (index, type,
codec, language, title, default, forced, channels, width, height).

``AudioTrack`` is one audio track as audio-default sees it, whatever the
container: a stable ``key`` (``uid:<TrackUID>`` for Matroska, read from
``mkvmerge -J``; ``a:<n>`` for MP4, the n-th audio stream, which is how
ffmpeg addresses it), its language, name, codec and flags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = ["AudioTrack", "UnreadableVideo", "audio_of_ffprobe", "audio_of_mkvmerge",
           "format_tag", "parse_json", "probe_details", "summary"]

STREAM_TYPES = ("video", "audio", "subtitle")


class UnreadableVideo(Exception):
    """The tool could not read the file as a video (the message says why)."""


def parse_json(stdout: bytes, tool: str) -> dict[str, Any]:
    """A tool's JSON output as a map; UnreadableVideo if it is not one."""
    try:
        data = json.loads(stdout.decode("utf-8", "replace") or "{}")
    except ValueError:
        raise UnreadableVideo(f"{tool} printed no JSON") from None
    if not isinstance(data, dict):
        raise UnreadableVideo(f"{tool} printed JSON that is not an object")
    return data


def _number(value: Any, kind: type = float) -> Any:
    try:
        number = kind(float(value)) if kind is int else float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def _tags(entry: dict[str, Any]) -> dict[str, str]:
    tags = entry.get("tags")
    return {str(k).lower(): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {}


def _flag(entry: dict[str, Any], name: str) -> bool:
    disposition = entry.get("disposition")
    return bool(disposition.get(name)) if isinstance(disposition, dict) else False


def stream_of(entry: dict[str, Any]) -> dict[str, Any]:
    """One ffprobe stream as a probe item shows it."""
    tags = _tags(entry)
    kind = str(entry.get("codec_type") or "")
    return {"index": _number(entry.get("index"), int), "type": kind if kind in STREAM_TYPES
            else kind or "unknown", "codec": str(entry.get("codec_name") or ""),
            "language": tags.get("language", ""), "title": tags.get("title", ""),
            "default": _flag(entry, "default"), "forced": _flag(entry, "forced"),
            "channels": _number(entry.get("channels"), int),
            "width": _number(entry.get("width"), int), "height": _number(entry.get("height"), int)}


def probe_details(data: dict[str, Any], size_bytes: int) -> dict[str, Any]:
    """The details of a probe item from ``ffprobe -show_format -show_streams`` JSON."""
    fmt = data.get("format") if isinstance(data.get("format"), dict) else {}
    streams = [stream_of(s) for s in data.get("streams") or [] if isinstance(s, dict)]
    return {"container": str(fmt.get("format_name") or ""),
            "duration_s": _number(fmt.get("duration")),
            "size_bytes": _number(fmt.get("size"), int) or size_bytes,
            "bit_rate": _number(fmt.get("bit_rate"), int), "streams": streams}


def summary(details: dict[str, Any], ext: str = "") -> str:
    """One line for a probe item: ``matroska, 1.0 s, h264 64x48, aac eng, aac jpn``.

    The container is the name in ffprobe's list that is the file's extension
    (``mp4`` of ``mov,mp4,m4a,...``), else the first.
    """
    names = details["container"].split(",")
    parts = [ext if ext and ext in names else names[0] or "?"]
    if details.get("duration_s") is not None:
        parts.append(f"{details['duration_s']:.1f} s")
    for s in details["streams"]:
        if s["type"] == "video":
            parts.append(f"{s['codec']} {s['width']}x{s['height']}")
        elif s["type"] in ("audio", "subtitle"):
            parts.append(f"{s['codec']} {s['language'] or 'und'}")
    return ", ".join(parts)


def format_tag(data: dict[str, Any], name: str) -> str:
    """A container-level tag of ffprobe JSON, by case-insensitive name ("" if absent)."""
    fmt = data.get("format") if isinstance(data.get("format"), dict) else {}
    return _tags(fmt).get(name.lower(), "")


@dataclass(frozen=True)
class AudioTrack:
    """One audio track: key (uid:<TrackUID> or a:<n>), language as tagged, flags."""

    key: str
    language: str
    title: str = ""
    codec: str = ""
    channels: int | None = None
    default: bool = False
    forced: bool = False
    commentary: bool = False
    original: bool = False
    #: the tool's own number for the track (mkvmerge id, or ffprobe stream index)
    stream: int | None = None

    def to_map(self) -> dict[str, Any]:
        """The track as plan details show it."""
        return {"key": self.key, "stream": self.stream, "language": self.language,
                "title": self.title, "codec": self.codec, "channels": self.channels,
                "forced": self.forced, "commentary": self.commentary}


def audio_of_mkvmerge(data: dict[str, Any]) -> list[AudioTrack]:
    """The audio tracks of ``mkvmerge -J`` output; UnreadableVideo if it is no Matroska file."""
    container = data.get("container") if isinstance(data.get("container"), dict) else {}
    errors = [str(e) for e in data.get("errors") or []]
    if errors:
        raise UnreadableVideo("mkvmerge: " + "; ".join(errors)[:300])
    if not container.get("recognized"):
        raise UnreadableVideo("not a video mkvmerge recognizes (corrupt or another format)")
    if not container.get("supported") or not str(container.get("type", "")).startswith(
            ("Matroska", "WebM")):
        raise UnreadableVideo(f"not a Matroska file ({container.get('type') or 'unknown'})")
    out = []
    for track in data.get("tracks") or []:
        if not isinstance(track, dict) or track.get("type") != "audio":
            continue
        props = track.get("properties") if isinstance(track.get("properties"), dict) else {}
        uid = props.get("uid")
        if not isinstance(uid, int) or isinstance(uid, bool):
            raise UnreadableVideo(f"audio track {track.get('id')} has no UID (mkvmerge "
                                  f"cannot address it safely)")
        name = str(props.get("track_name") or "")
        out.append(AudioTrack(
            key=f"uid:{uid}", language=str(props.get("language") or "und"), title=name,
            codec=str(track.get("codec") or ""), channels=_number(props.get("audio_channels"), int),
            default=bool(props.get("default_track")), forced=bool(props.get("forced_track")),
            commentary=bool(props.get("flag_commentary")) or "commentary" in name.lower(),
            original=bool(props.get("flag_original")), stream=_number(track.get("id"), int)))
    return out


def audio_of_ffprobe(data: dict[str, Any]) -> list[AudioTrack]:
    """The audio streams of ffprobe JSON, keyed a:<n> in order; UnreadableVideo if none read."""
    if not isinstance(data.get("streams"), list) or not isinstance(data.get("format"), dict):
        raise UnreadableVideo("ffprobe found no streams (corrupt or not a video)")
    out = []
    for entry in data["streams"]:
        if not isinstance(entry, dict) or entry.get("codec_type") != "audio":
            continue
        s, tags = stream_of(entry), _tags(entry)
        title = tags.get("title", "") or tags.get("handler_name", "")
        if title in ("SoundHandler", "Sound Media Handler"):  # what muxers write by default
            title = ""
        out.append(AudioTrack(
            key=f"a:{len(out)}", language=s["language"] or "und", title=title, codec=s["codec"],
            channels=s["channels"], default=s["default"], forced=s["forced"],
            commentary=_flag(entry, "comment") or "commentary" in title.lower(),
            original=_flag(entry, "original"), stream=s["index"]))
    return out

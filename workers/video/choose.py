"""Which audio track a language preference picks (pure).

The preference list is walked in order; ``original`` stands for the item's
original language: the job's ``original_language`` (a webhook sets it), else
what the file itself says (an audio track flagged *original*, or a
container tag ``ORIGINAL_LANGUAGE``), else it is left out of the list.
Languages compare by canonical ISO 639-2 code (``deu`` matches a track
tagged ``ger``; specs/audio_default.language_key).  Among several tracks of
the wanted language the one already default wins (so nothing changes),
then the first that is not a commentary, then the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from medialoom.workers.specs.audio_default import ORIGINAL, language_key

from .streams import AudioTrack

__all__ = ["Choice", "choose", "flags_of", "label", "original_of_file", "wanted_languages"]


@dataclass(frozen=True)
class Choice:
    """The plan for one file: status (planned, unchanged, skipped), message, details."""

    status: str
    message: str
    details: dict[str, Any]


def original_of_file(tracks: list[AudioTrack], container_tag: str) -> str:
    """The original language a file states itself ("" if it does not)."""
    flagged = {language_key(t.language) for t in tracks if t.original} - {None}
    if len(flagged) == 1:
        return flagged.pop() or ""
    return language_key(container_tag) or ""


def wanted_languages(languages: list[str], original: str) -> list[str]:
    """The preference as canonical codes, ``original`` replaced (or dropped), no repeats."""
    out: list[str] = []
    for entry in languages:
        key = (language_key(original) if original else None) \
            if entry.strip().lower() == ORIGINAL else language_key(entry)
        if key and key not in out:
            out.append(key)
    return out


def flags_of(tracks: list[AudioTrack]) -> dict[str, bool]:
    """key -> default flag of each audio track."""
    return {t.key: t.default for t in tracks}


def _pick(tracks: list[AudioTrack], wanted: list[str]) -> AudioTrack | None:
    for want in wanted:
        same = [t for t in tracks if language_key(t.language) == want]
        if same:
            return next((t for t in same if t.default), None) or \
                next((t for t in same if not t.commentary), same[0])
    return None


def label(language: str, stream: int | None) -> str:
    """How a message names a track: ``jpn (#2)`` (#: mkvmerge's track id, or ffprobe's
    stream index)."""
    return f"{language or 'und'} (#{stream})" if stream is not None else language or "und"


def _label(track: AudioTrack) -> str:
    return label(track.language, track.stream)


def choose(tracks: list[AudioTrack], languages: list[str], original: str,
           original_source: str, container: str) -> Choice:
    """The plan for a file with these audio tracks under the preference."""
    wanted = wanted_languages(languages, original)
    found = ", ".join(dict.fromkeys(t.language or "und" for t in tracks)) or "none"
    details: dict[str, Any] = {"container": container, "wanted": wanted,
                               "original_language": original, "original_from": original_source}
    if not tracks:
        return Choice("skipped", "no audio tracks", {**details, "tracks": []})
    chosen = _pick(tracks, wanted)
    rows = []
    for t in tracks:
        rows.append({**t.to_map(), "default_before": t.default,
                     "default_after": chosen is not None and t.key == chosen.key})
    details["tracks"] = rows
    if not wanted:
        return Choice("skipped", f"no wanted language: the original language is not known "
                      f"(tracks: {found}; a webhook or original_language gives it)", details)
    if chosen is None:
        return Choice("skipped", f"no audio track in {', '.join(wanted)} (tracks: {found})",
                      details)
    details["chosen"] = chosen.key
    details["language"] = chosen.language
    before = [t for t in tracks if t.default]
    if before == [chosen]:
        return Choice("unchanged", f"{_label(chosen)} is already the only default audio track",
                      details)
    was = ", ".join(_label(t) for t in before) or "none"
    return Choice("planned", f"default audio: {was} -> {_label(chosen)}", details)

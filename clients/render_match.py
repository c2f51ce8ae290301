"""How the CLI shows the items of kind ``match``: the best match and the candidates.

An item of a match job carries ``details.candidates`` (the top recordings,
each with its score); ``medialoom results ID --status ambiguous`` shows them
under the item's message, one line each: score, artist - title, release
and year, and the first 8 characters of the MusicBrainz recording id (the
whole id is in ``--json``).  A matched item shows the one it matched.
"""

from __future__ import annotations

from typing import Any

__all__ = ["candidate_lines"]

#: candidates shown under an ambiguous or no_match item
SHOWN = 3


def _line(c: dict[str, Any], mark: str) -> str:
    year = str(c.get("date") or "")[:4]
    where = ", ".join(p for p in (str(c.get("release") or ""), year) if p)
    score = c.get("score")
    head = f"{score:.2f}" if isinstance(score, int | float) else "    "
    rid = str(c.get("recording_id") or "")[:8]
    return f"{mark} {head} {c.get('artist', '')} - {c.get('title', '')}" + \
        (f" ({where})" if where else "") + (f" [{rid}]" if rid else "")


def candidate_lines(item: dict[str, Any]) -> str:
    """The lines to show under a match item's message ("" for items of other kinds)."""
    details = item.get("details") or {}
    candidates = details.get("candidates")
    if not isinstance(candidates, list) or not candidates:
        return ""
    if item.get("status") in ("matched", "retagged", "planned"):
        best = next((c for c in candidates if isinstance(c, dict)
                     and c.get("recording_id") == details.get("recording_id")), None)
        return _line(best, "=") if best else ""
    return "\n".join(_line(c, "?") for c in candidates[:SHOWN] if isinstance(c, dict))

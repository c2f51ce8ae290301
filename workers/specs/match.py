"""Spec of kind ``match`` (workers/kinds/match.py), with its checks.

Checks run at START (job.bad_params naming the param): ``catalog_url`` is
an http(s) URL with a host and no query; each ``write_fields`` entry is a
known field, named once; ``write_tags`` needs ``write_fields``; a
``playlist`` path has no empty part (``Gigs//Peak``).  Whether the playlist
exists, or whether the input is a collection or a folder, only the worker
can tell: those fail the job with job.bad_params (listing the playlists).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from . import CHECKS, KindSpec, ParamSpec
from .scan import AUDIO_EXTENSIONS
from .walking import walk_params

#: fields a match may write: into a collection XML (TRACK attributes) and into tags
XML_FIELDS = ("title", "artist", "album", "year", "label")
TAG_FIELDS = ("title", "artist", "album", "year", "label", "isrc", "mbid")
WRITE_FIELDS = tuple(dict.fromkeys(XML_FIELDS + TAG_FIELDS))


def check_catalog_url(value: Any, params: dict[str, Any]) -> None:
    """An http or https URL with a host (a path prefix allowed, no query or fragment)."""
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL with a host, e.g. "
                         "https://musicbrainz.org")
    if parts.query or parts.fragment:
        raise ValueError("the catalog URL takes no query or fragment")


def check_write_fields(value: Any, params: dict[str, Any]) -> None:
    """Known field names, each once."""
    seen: set[str] = set()
    for pos, name in enumerate(value):
        field = str(name).strip().lower()
        if field not in WRITE_FIELDS:
            raise ValueError(f"[{pos}]: {name!r} is not a field a match writes (one of "
                             f"{', '.join(WRITE_FIELDS)})")
        if field in seen:
            raise ValueError(f"[{pos}]: {name!r} is named twice")
        seen.add(field)


def check_write_tags(value: Any, params: dict[str, Any]) -> None:
    """write_tags=true needs fields to write."""
    if value and not params.get("write_fields"):
        raise ValueError("write_tags needs write_fields, e.g. year,album,label")


def check_playlist(value: Any, params: dict[str, Any]) -> None:
    """A name or a /-separated path without empty parts."""
    text = str(value).strip().strip("/")
    if text and any(not part.strip() for part in text.split("/")):
        raise ValueError(f"{value!r} has an empty part; write a name or a path like "
                         "Gigs/Peak Time")


CHECKS["match-catalog-url"] = check_catalog_url
CHECKS["match-write-fields"] = check_write_fields
CHECKS["match-write-tags"] = check_write_tags
CHECKS["match-playlist"] = check_playlist

SPEC = KindSpec(
    name="match",
    description="look the tracks of a Rekordbox XML (a playlist, or the whole collection) or "
                "of a folder of tagged files up in MusicBrainz; score the candidates "
                "(remix-aware) and report the best match; optionally write <name>.matched.xml "
                "or the tags (planned, undoable)",
    params={
        "playlist": ParamSpec("str", "", "XML input: a playlist or folder, by name or path "
                              "(Gigs/Peak Time); empty: the whole collection",
                              check="match-playlist"),
        "catalog_url": ParamSpec("str", "https://musicbrainz.org",
                                 "base URL of the MusicBrainz ws/2 server",
                                 check="match-catalog-url"),
        "concurrency": ParamSpec("int", 4, "catalog requests of this job in flight at most",
                                 min=1, max=64),
        "rate_limit": ParamSpec("float", 1.0, "catalog requests per second, one budget for "
                                "every worker of this broker", min=0.01, max=1000),
        "min_score": ParamSpec("float", 0.8, "score (0..1) a match needs", min=0, max=1),
        "margin": ParamSpec("float", 0.05, "how far ahead of the runner-up a match must be "
                            "(closer: ambiguous)", min=0, max=1),
        "duration_tolerance_s": ParamSpec("float", 10.0, "seconds two lengths may differ "
                                          "before the score drops to half", min=0, max=600),
        "write_fields": ParamSpec("list", [], "fields to fill from the match: "
                                  + ", ".join(WRITE_FIELDS) + " (XML: the first five)",
                                  check="match-write-fields"),
        "overwrite": ParamSpec("bool", False, "also replace fields that have a value"),
        "write_tags": ParamSpec("bool", False, "folder input: write write_fields into the "
                                "files' tags (planned, journaled, undoable)",
                                check="match-write-tags"),
        "cache_days": ParamSpec("float", 30.0, "days a catalog answer is reused (0: no cache)",
                                min=0, max=3650),
        "timeout_s": ParamSpec("float", 10.0, "seconds one catalog request may take",
                               min=0.1, max=300),
        "retries": ParamSpec("int", 5, "retries of a failed request (503, 429, 5xx, network) "
                             "with backoff, honouring Retry-After", min=0, max=20),
        **walk_params(AUDIO_EXTENSIONS),
    },
    changes_files=True,
    outcomes={"matched": "ok", "ambiguous": "skipped", "no_match": "skipped",
              "skipped": "skipped", "catalog_error": "failed", "retagged": "ok",
              "restored": "ok", "planned": "ok", "conflict": "failed", "vanished": "skipped",
              "failed": "failed"},
)

"""The fixture catalog and noisy DJ collections made from it, with the truth (deterministic).

``build_catalog(seed)`` invents artists (accents, "The", "DJ"), songs, some
with remixes by other artists, radio edits, collaborations credited
``A & B`` and ``A feat. B``, duplicate entries of one song, songs of one
title by different artists, releases with dates and labels, ISRCs: a
``Catalog`` of MusicBrainz-shaped recording and release maps.

``noisy_collection(catalog, seed)`` gives tracks as a DJ's Rekordbox holds
them, each with ``truth`` (the recording id it must match, or None when the
catalog does not have it): titles in other case, accents dropped, "(Original
Mix)" / "(Extended Mix)" added, remixes written "(X Remix)", "- X Remix" or
in the Mix / Remixer fields, the featured artist moved between the artist
and the title, "&" written "," / "x" / "vs" or the names swapped, lengths
off by a few seconds, the year missing; and absent tracks: unknown songs,
known titles by unknown artists, remixes the catalog lacks, originals of
songs it has only as remixes, another song by a known artist, one whose title
extends a known one (same artists, same length).

``simple_collection(catalog, n, seed)``: n tracks that all match at the
first query (for rate-limit tests and the benchmark).
"""

from __future__ import annotations

import random
import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import Any

FIRST = ("Kåre", "Noémie", "Zoë", "Björn", "Ólöf", "Mikael", "Łukasz", "Ayşe", "Renée",
         "Jürgen", "Siân", "Tomás", "Inès", "Dário", "Émile", "Ana", "Lars", "Maya", "Theo",
         "Iris", "Nils", "Clara", "Felix", "Yara", "Oskar", "Lena", "Hugo", "Mira", "Jonas",
         "Sofia", "Pavel", "Elif")
LAST = ("Sølvberg", "Lafleur", "Marchetti", "Ekholm", "Arnadóttir", "Østergaard",
        "Wiśniewski", "Demir", "Fontaine", "Kreis", "Llwyd", "Öberg", "Castaño", "Brandão",
        "Voß", "Halvorsen", "Novák", "Ferreira", "Lindqvist", "Moreau", "Keller", "Duarte",
        "Szabó", "Nakamura", "Costa", "Berg", "Varga", "Aalto", "Rossi", "Weiß")
SOLO = ("Nightmoves", "DJ Ñandú", "The Velvet Hours", "Koze Unit", "Mønster", "Ætherline",
        "The Glasshouse", "DJ Sølve", "Lumière", "Parallax", "The Quiet Type", "Brûlé",
        "Neon Séance", "Kaskade Park", "The Ørbit", "Café Noir")
WORDS = ("Neon", "Harbor", "Midnight", "Echo", "Velvet", "River", "Static", "Golden", "Ghost",
         "Signal", "Ember", "Tide", "Orbit", "Prism", "Hollow", "Silver", "Pulse", "Drift",
         "Mirage", "Cascade", "Lantern", "Cobalt", "Meridian", "Solace", "Vertigo", "Atlas",
         "Quartz", "Nova", "Saffron", "Tundra", "Zenith", "Aurora", "Monsoon", "Basalt",
         "Juniper", "Halcyon", "Obsidian", "Marrow", "Lucid", "Ferris")
#: names of people the catalog does not know (nothing like FIRST and LAST)
STRANGERS = ("Marcus Webb", "Paolo Conti", "Hannah Reyes", "Victor Osei", "Greta Lund",
             "Omar Haddad", "Priya Nair", "Caleb Thorne", "Ines Marlow", "Ruben Achterberg")
LABELS = ("Kompakt", "Innervisions", "Afterlife", "Ostgut Ton", "Dial", "Running Back",
          "Permanent Vacation", "Life and Death", "Ninja Tune", "Warp")


def _strip_accents(text: str) -> str:
    text = text.translate(str.maketrans({"ø": "o", "Ø": "O", "æ": "ae", "Æ": "Ae", "ß": "ss",
                                         "ł": "l", "Ł": "L"}))
    return "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c))


@dataclass
class Song:
    """One song of the catalog and its recordings."""

    artists: list[str]
    join: str
    title: str
    original: str = ""  # recording id of the original, "" when the catalog has none
    remixes: dict[str, str] = field(default_factory=dict)  # remixer -> recording id
    radio_edit: str = ""
    lengths: dict[str, float] = field(default_factory=dict)  # recording id -> seconds
    years: dict[str, int] = field(default_factory=dict)


@dataclass
class Catalog:
    """Recordings and releases as MusicBrainz answers them, and the songs behind them."""

    recordings: list[dict[str, Any]]
    releases: dict[str, dict[str, Any]]
    songs: list[Song]
    artists: list[str]

    def by_id(self) -> dict[str, dict[str, Any]]:
        return {r["id"]: r for r in self.recordings}


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def __call__(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))


def _credit(names: list[str], join: str, ids: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for i, name in enumerate(names):
        out.append({"name": name, "joinphrase": join if i < len(names) - 1 else "",
                    "artist": {"id": ids[name], "name": name, "sort-name": name}})
    return out


def build_catalog(seed: int = 7) -> Catalog:
    """The fixture catalog (about 500 recordings)."""
    rng = random.Random(seed)
    new_id = _Ids(rng)
    artists = list(dict.fromkeys([f"{rng.choice(FIRST)} {rng.choice(LAST)}" for _ in range(60)]
                                 + list(SOLO)))
    artist_ids = {a: new_id() for a in artists}
    recordings: list[dict[str, Any]] = []
    releases: dict[str, dict[str, Any]] = {}
    songs: list[Song] = []
    used_titles: list[str] = []

    def release_for(title: str, year: int) -> dict[str, Any]:
        rid = new_id()
        label = rng.choice(LABELS)
        date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        releases[rid] = {"id": rid, "title": title, "date": date, "status": "Official",
                         "label-info": [{"catalog-number": f"CAT{rng.randint(1, 999):03d}",
                                         "label": {"id": new_id(), "name": label}}]}
        return {"id": rid, "status-id": new_id(), "count": 1, "title": title,
                "status": "Official", "date": date, "country": "XW",
                "release-group": {"id": new_id(), "primary-type": "Single",
                                  "title": title}, "track-count": 2}

    def add(title: str, names: list[str], join: str, length: float, year: int,
            disambiguation: str = "") -> str:
        rid = new_id()
        rel = [release_for(rng.choice([title.split(" (")[0], f"{rng.choice(WORDS)} EP"]),
                           year)]
        rec = {"id": rid, "title": title, "length": int(length * 1000),
               "disambiguation": disambiguation, "video": None,
               "artist-credit": _credit(names, join, artist_ids),
               "first-release-date": rel[0]["date"], "releases": rel,
               "isrcs": [f"XX{rng.choice('ABCDEFG')}{rng.randint(10, 99)}"
                         f"{rng.randint(10000, 99999)}"] if rng.random() < 0.7 else []}
        recordings.append(rec)
        return rid

    for artist in artists:
        for _ in range(rng.randint(2, 4)):
            title = _new_title(rng, used_titles)
            if any(s.title == title and s.artists[0] == artist for s in songs):
                continue
            used_titles.append(title)
            songs.append(_song(rng, artist, artists, title, add))
    return Catalog(recordings, releases, songs, artists)


def _new_title(rng: random.Random, used: list[str]) -> str:
    if used and rng.random() < 0.08:
        return rng.choice(used)  # the same title by someone else
    title = " ".join(rng.sample(WORDS, rng.choice((1, 2, 2, 3))))
    if rng.random() < 0.1:
        title = f"{title} Pt. {rng.randint(2, 3)}"
    if rng.random() < 0.06 and " " in title:
        title = title.replace(" ", " & ", 1)
    return title


def _song(rng: random.Random, artist: str, artists: list[str], title: str, add: Any) -> Song:
    """One song and its recordings, added to the catalog through add()."""
    names, join = [artist], ""
    roll = rng.random()
    if roll < 0.2:
        names = [artist, rng.choice([a for a in artists if a != artist])]
        join = " & " if roll < 0.1 else " feat. "
    song = Song(names, join, title)
    year = rng.randint(2005, 2023)
    length = rng.uniform(300, 440)
    only_remixes = rng.random() < 0.04
    if not only_remixes:
        song.original = add(title, names, join, length, year)
        song.lengths[song.original], song.years[song.original] = length, year
        if rng.random() < 0.05:  # a duplicate entry of the same recording
            dup = add(title, names, join, length + rng.uniform(-1, 1), year + 1)
            song.lengths[dup], song.years[dup] = length, year
    for _ in range(rng.choice((0, 0, 0, 1, 1, 2)) + (1 if only_remixes else 0)):
        remixer = rng.choice([a for a in artists if a not in names])
        if remixer in song.remixes:
            continue
        kind = rng.choice(("Remix", "Remix", "Remix", "Rework", "Dub"))
        rmx_len = length + rng.choice((-1, 1)) * rng.uniform(25, 90)
        rid = add(f"{title} ({remixer} {kind})", names, join, rmx_len, year + rng.randint(0, 2))
        song.remixes[remixer] = rid
        song.lengths[rid], song.years[rid] = rmx_len, year
    if song.original and rng.random() < 0.1:
        edit_len = length * 0.55
        song.radio_edit = add(f"{title} (Radio Edit)", names, join, edit_len, year)
        song.lengths[song.radio_edit], song.years[song.radio_edit] = edit_len, year
    return song


# --- collections ---------------------------------------------------------------------------------


def _typo(rng: random.Random, title: str) -> str:
    """title with two neighbouring letters of its longest word swapped."""
    words = title.split(" ")
    k = max(range(len(words)), key=lambda i: len(words[i]))
    w = words[k]
    if len(w) >= 5:
        at = rng.randint(1, len(w) - 3)
        words[k] = w[:at] + w[at + 1] + w[at] + w[at + 2:]
    return " ".join(words)


def _case(rng: random.Random, text: str) -> str:
    roll = rng.random()
    return text.upper() if roll < 0.1 else text.lower() if roll < 0.2 else text


def _artist_field(rng: random.Random, song: Song, accents: bool) -> tuple[str, str]:
    """(artist field, a "feat. X" moved into the title or "")."""
    names = [n if accents else _strip_accents(n) for n in song.artists]
    if len(names) == 1:
        return names[0], ""
    if song.join == " feat. ":
        roll = rng.random()
        if roll < 0.4:
            return names[0], f" (feat. {names[1]})"  # feat. moved into the title
        if roll < 0.7:
            return f"{names[0]} ft. {names[1]}", ""
        return f"{names[0]} feat. {names[1]}", ""
    sep = rng.choice((", ", " & ", " x ", " vs ", " and "))
    if rng.random() < 0.3:
        names = names[::-1]
    return sep.join(names), ""


def _track(rng: random.Random, song: Song, rid: str, remixer: str, kind: str, length: float,
           year: int, truth: str | None) -> dict[str, Any]:
    accents = rng.random() > 0.3
    artist, feat = _artist_field(rng, song, accents)
    title = song.title if accents else _strip_accents(song.title)
    if truth and rng.random() < 0.05:
        title = _typo(rng, title)
    mix, rmx = "", ""
    if remixer:
        who = remixer if accents else _strip_accents(remixer)
        style = rng.random()
        if style < 0.4:
            name = f"{title}{feat} ({who} {kind})"
        elif style < 0.7:
            name, mix, rmx = f"{title}{feat}", f"{who} {kind}", who
        else:
            name = f"{title}{feat} - {who} {kind}"
    elif kind == "Radio Edit":
        name = f"{title}{feat} (Radio Edit)"
    else:
        style = rng.random()
        if style < 0.35:
            name = f"{title}{feat} (Original Mix)"
        elif style < 0.5:
            name, mix = f"{title}{feat}", "Original Mix"
        elif style < 0.65:
            name = f"{title}{feat} (Extended Mix)"
        else:
            name = f"{title}{feat}"
    return {"Name": _case(rng, name), "Artist": _case(rng, artist), "Mix": mix,
            "Remixer": rmx, "TotalTime": str(max(1, int(round(length + rng.uniform(-3, 3))))),
            "Year": str(year) if rng.random() < 0.6 else "0", "truth": truth}


def noisy_collection(catalog: Catalog, seed: int = 11) -> list[dict[str, Any]]:
    """Tracks with the noise of a real collection; ``truth`` is the recording id or None."""
    rng = random.Random(seed)
    tracks: list[dict[str, Any]] = []
    for song in catalog.songs:
        roll = rng.random()
        if song.original and roll < 0.45:
            rid = song.original
            tracks.append(_track(rng, song, rid, "", "", song.lengths[rid], song.years[rid],
                                 rid))
        if song.remixes and rng.random() < 0.6:
            remixer, rid = rng.choice(sorted(song.remixes.items()))
            rec = catalog.by_id()[rid]
            kind = rec["title"].rsplit(" ", 1)[1].rstrip(")")
            tracks.append(_track(rng, song, rid, remixer, kind, song.lengths[rid],
                                 song.years[rid], rid))
        if song.radio_edit and rng.random() < 0.5:
            rid = song.radio_edit
            tracks.append(_track(rng, song, rid, "", "Radio Edit", song.lengths[rid],
                                 song.years[rid], rid))
        absent = rng.random()
        if absent < 0.06:  # a remix the catalog does not have
            remixer = rng.choice([a for a in catalog.artists if a not in song.remixes
                                  and a not in song.artists])
            tracks.append(_track(rng, song, "", remixer, "Remix", 380, 0, None))
        elif absent < 0.1 and not song.original:  # the original of a remix-only song
            tracks.append(_track(rng, song, "", "", "", 360, 0, None))
        elif absent < 0.14:  # a known title by an unknown artist
            stranger = Song([rng.choice(STRANGERS)], "", song.title)
            tracks.append(_track(rng, stranger, "", "", "", 350, 0, None))
        elif absent < 0.18:  # another song by a known artist
            other = Song(song.artists[:1], "", f"{rng.choice(WORDS)} {rng.choice(WORDS)} "
                                                f"Dreams")
            tracks.append(_track(rng, other, "", "", "", 330, 0, None))
        elif absent < 0.22 and song.original:  # a longer title by the same artists, same length
            other = Song(song.artists, song.join, f"{song.title} Dreams")
            tracks.append(_track(rng, other, "", "", "", song.lengths[song.original], 0, None))
    for _ in range(15):  # nothing like anything in the catalog
        stranger = Song([rng.choice(STRANGERS)], "", f"Zz {rng.choice(WORDS)} Qx")
        tracks.append(_track(rng, stranger, "", "", "", 300, 0, None))
    rng.shuffle(tracks)
    for i, t in enumerate(tracks, 1):
        t["TrackID"] = str(i)
    return tracks


def simple_collection(catalog: Catalog, n: int, seed: int = 3, prefix: str = ""
                      ) -> list[dict[str, Any]]:
    """n tracks, each the clean title and credit of one original (repeating if need be)."""
    rng = random.Random(seed)
    originals = [s for s in catalog.songs if s.original]
    by_id = catalog.by_id()
    out = []
    for i in range(n):
        song = originals[i % len(originals)] if i < len(originals) else rng.choice(originals)
        rec = by_id[song.original]
        out.append({"TrackID": f"{prefix}{i + 1}", "Name": rec["title"],
                    "Artist": song.join.join(song.artists), "Mix": "", "Remixer": "",
                    "TotalTime": str(int(song.lengths[song.original])),
                    "Year": str(song.years[song.original]), "truth": song.original})
    return out


@dataclass
class Score:
    """Precision and recall of a match job's items against the truth."""

    true_matches: int
    false_matches: int
    missed: int
    absent_matched: list[str]

    @property
    def precision(self) -> float:
        return self.true_matches / max(1, self.true_matches + self.false_matches)

    @property
    def recall(self) -> float:
        return self.true_matches / max(1, self.true_matches + self.missed)


def score_items(items: list[dict[str, Any]], tracks: list[dict[str, Any]]) -> Score:
    """Score items (by details.track_id) against the tracks' truth."""
    truth = {t["TrackID"]: t["truth"] for t in tracks}
    tp = fp = missed = 0
    absent: list[str] = []
    for item in items:
        want = truth[item["details"]["track_id"]]
        got = item["details"].get("recording_id") if item["status"] == "matched" else None
        if got and got == want:
            tp += 1
        elif got:
            fp += 1
            if want is None:
                absent.append(item["message"])
        if want and got != want:
            missed += 1
    return Score(tp, fp, missed, absent)

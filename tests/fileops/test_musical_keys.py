"""fileops.keys: every key in every notation, both ways, and the spellings taggers write."""

from __future__ import annotations

import pytest

from medialoom.workers.fileops.keys import Key, convert_key, parse_key

# (musical, camelot, open key) for all 24 keys
WHEEL = [("Abm", "1A", "6m"), ("Ebm", "2A", "7m"), ("Bbm", "3A", "8m"), ("Fm", "4A", "9m"),
         ("Cm", "5A", "10m"), ("Gm", "6A", "11m"), ("Dm", "7A", "12m"), ("Am", "8A", "1m"),
         ("Em", "9A", "2m"), ("Bm", "10A", "3m"), ("F#m", "11A", "4m"), ("C#m", "12A", "5m"),
         ("B", "1B", "6d"), ("F#", "2B", "7d"), ("Db", "3B", "8d"), ("Ab", "4B", "9d"),
         ("Eb", "5B", "10d"), ("Bb", "6B", "11d"), ("F", "7B", "12d"), ("C", "8B", "1d"),
         ("G", "9B", "2d"), ("D", "10B", "3d"), ("A", "11B", "4d"), ("E", "12B", "5d")]


@pytest.mark.parametrize(("musical", "camelot", "openkey"), WHEEL)
def test_every_key_converts_between_all_notations(musical: str, camelot: str,
                                                  openkey: str) -> None:
    for text in (musical, camelot, openkey):
        assert convert_key(text, "camelot") == camelot
        assert convert_key(text, "openkey") == openkey
    assert parse_key(camelot) == parse_key(openkey) == parse_key(musical)


@pytest.mark.parametrize(("text", "camelot"), [
    ("Am", "8A"), ("A minor", "8A"), ("a min", "8A"), ("Amin", "8A"), ("A moll", "8A"),
    ("F#m", "11A"), ("Gbm", "11A"), ("F♯m", "11A"), ("G♭ minor", "11A"), ("F sharp minor", "11A"),
    ("C", "8B"), ("C major", "8B"), ("Cmaj", "8B"), ("CM", "8B"), ("C dur", "8B"),
    ("08A", "8A"), ("8a", "8A"), ("12b", "12B"), ("01m", "8A"), ("E#", "7B"), ("Cb", "1B"),
    ("B#m", "5A"), ("8A - Am", "8A"), ("Am/8A", "8A"), (" 11A ", "11A"),
])
def test_parses_the_spellings_taggers_write(text: str, camelot: str) -> None:
    assert convert_key(text, "camelot") == camelot


@pytest.mark.parametrize("text", ["", "   ", "H", "13A", "0B", "Am7", "off", "o", "x/y"])
def test_unrecognised_keys_give_none(text: str) -> None:
    assert parse_key(text) is None
    assert convert_key(text, "camelot") is None


def test_tagged_notation_keeps_the_text_and_musical_normalises() -> None:
    assert convert_key(" G♭ minor ", "tagged") == "G♭ minor"
    assert convert_key("G♭ minor", "musical") == "F#m"
    assert convert_key("4m", "musical") == "F#m"
    assert Key(tonic=1, minor=False).musical == "Db"


def test_unknown_notation_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown key notation"):
        convert_key("Am", "solfege")

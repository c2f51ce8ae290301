"""fileops.safenames: every rule, and the names it makes can be created on a real disk."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from medialoom.workers.fileops.safenames import (
    UnsafeName,
    clean_value,
    fit_name,
    name_key,
    safe_name,
    with_counter,
)


@pytest.mark.parametrize(("name", "expected"), [
    ("AC/DC - Back.mp3", "AC_DC - Back.mp3"),
    ("Back\\Slash.mp3", "Back_Slash.mp3"),
    ('a<b>c:d"e|f?g*h.mp3', "a_b_c_d_e_f_g_h.mp3"),
    ("tab\there\nnew\x00nul\x7f.mp3", "tab_here_new_nul_.mp3"),
])
def test_separators_illegal_and_control_characters_are_replaced(name: str, expected: str) -> None:
    assert safe_name(name) == expected


@pytest.mark.parametrize(("name", "expected"), [
    ("Title. . ", "Title"), ("Title...", "Title"), ("  Title  ", "Title"),
    ("...And Justice.flac", "_..And Justice.flac"), (".hidden", "_hidden"),
])
def test_trailing_dots_and_spaces_and_leading_dots(name: str, expected: str) -> None:
    assert safe_name(name) == expected


@pytest.mark.parametrize(("name", "expected"), [
    ("CON", "CON_"), ("con.mp3", "con_.mp3"), ("Nul.flac", "Nul_.flac"), ("PRN", "PRN_"),
    ("aux.tar.gz", "aux_.tar.gz"), ("COM1.wav", "COM1_.wav"), ("lpt9.mp3", "lpt9_.mp3"),
    ("CON .mp3", "CON_.mp3"), ("CONSOLE.mp3", "CONSOLE.mp3"), ("COM10.mp3", "COM10.mp3"),
    ("Icon.mp3", "Icon.mp3"),
])
def test_reserved_windows_names_with_or_without_extension(name: str, expected: str) -> None:
    assert safe_name(name) == expected


def test_nfc_normalization() -> None:
    nfd = unicodedata.normalize("NFD", "Beyoncé - Café.mp3")
    assert nfd != "Beyoncé - Café.mp3"
    assert safe_name(nfd) == "Beyoncé - Café.mp3"
    assert clean_value(nfd) == "Beyoncé - Café.mp3"
    assert name_key(nfd) == name_key("BEYONCÉ - CAFÉ.MP3")


@pytest.mark.parametrize("char", ["a", "é", "坂", "🔥"])
def test_long_names_are_cut_on_a_character_boundary_keeping_the_extension(char: str) -> None:
    name = safe_name(char * 300 + ".flac")
    assert name.endswith(".flac")
    assert len(name.encode()) <= 255
    assert len(name.encode()) > 255 - len(char.encode()) - 1
    assert name[:-5] == char * len(name[:-5])  # no broken character at the cut


def test_cut_never_separates_a_combining_mark_from_its_letter() -> None:
    stem = "a" * 250 + "q\u0301" + "b" * 10  # q + combining acute has no composed form
    cut = fit_name(stem, ".mp3")
    assert not unicodedata.combining(cut[-5])
    assert cut.endswith("a.mp3") or cut.endswith("\u0301.mp3")


def test_counter_goes_before_the_extension_and_keeps_the_limit() -> None:
    assert with_counter("Song.mp3", 1) == "Song (1).mp3"
    assert with_counter("Song", 12) == "Song (12)"
    long = with_counter("é" * 200 + ".mp3", 3)
    assert long.endswith(" (3).mp3") and len(long.encode()) <= 255


def test_nothing_left_is_an_error() -> None:
    for name in ("", " . ", "...", ".."):
        with pytest.raises(UnsafeName):
            safe_name(name)


def test_folder_components_keep_no_extension_rule() -> None:
    assert safe_name("Mr. Brightside", keep_ext=False) == "Mr. Brightside"
    assert safe_name("nul.x", keep_ext=False) == "nul_.x"


@pytest.mark.parametrize("raw", ["AC/DC: Live?", "CON", "Title. ", "x" * 400 + ".mp3",
                                 "坂本龍一" * 30 + ".flac", "a\x01b", "Ünïcödé"])
def test_safe_names_can_be_created_on_disk(tmp_path: Path, raw: str) -> None:
    name = safe_name(raw)
    path = tmp_path / name
    path.write_bytes(b"x")
    assert [p.name for p in tmp_path.iterdir()] == [name]

"""fileops.template: every field, fallback, conditional section, format spec and error."""

from __future__ import annotations

from typing import Any

import pytest

from medialoom.workers.fileops.safenames import clean_value
from medialoom.workers.fileops.template import (
    MissingField,
    TemplateSyntaxError,
    compile_template,
)
from medialoom.workers.kinds.rename import FIELDS

VALUES: dict[str, Any] = {"artist": "Daft Punk", "albumartist": "Various Artists",
                          "title": "One More Time", "album": "Discovery", "track": 3, "disc": 2,
                          "year": 2001, "genre": "House", "bpm": 122.5, "key": "F#m",
                          "ext": "mp3", "filename": "01 old name"}


def render(text: str, values: dict[str, Any] | None = None, **kwargs: Any) -> str:
    return compile_template(text, FIELDS).render(VALUES if values is None else values,
                                                 clean=clean_value, **kwargs)


@pytest.mark.parametrize(("template", "expected"), [
    ("{artist}", "Daft Punk"), ("{albumartist}", "Various Artists"),
    ("{title}", "One More Time"), ("{album}", "Discovery"), ("{track}", "3"),
    ("{disc}", "2"), ("{year}", "2001"), ("{genre}", "House"), ("{bpm}", "122.5"),
    ("{key}", "F#m"), ("{ext}", "mp3"), ("{filename}", "01 old name"),
])
def test_renders_every_field(template: str, expected: str) -> None:
    assert render(template) == expected


@pytest.mark.parametrize(("template", "expected"), [
    ("{track:02}", "03"), ("{track:03}", "003"), ("{disc:02}-{track:02}", "02-03"),
    ("{bpm:.1f}", "122.5"), ("{bpm:.0f}", "122"), ("{title:.3}", "One"),
    ("{title:upper}", "ONE MORE TIME"), ("{genre:lower}", "house"),
    ("{album:title}", "Discovery"), ("{year:04}", "2001"),
])
def test_format_specs(template: str, expected: str) -> None:
    assert render(template) == expected


@pytest.mark.parametrize(("bpm", "expected"), [(128, "128"), (128.0, "128"), (127.5, "127.5"),
                                               (127.54, "127.5"), (127.96, "128"),
                                               ("126", "126"), ("99.5", "99.5")])
def test_bpm_is_an_integer_when_whole_else_one_decimal(bpm: Any, expected: str) -> None:
    assert render("{bpm}", {"bpm": bpm}) == expected


@pytest.mark.parametrize(("notation", "expected"), [("tagged", "F#m"), ("camelot", "11A"),
                                                    ("openkey", "4m"), ("musical", "F#m")])
def test_key_in_the_job_notation(notation: str, expected: str) -> None:
    assert render("{key}", key_notation=notation) == expected
    assert render("{key}", {"key": "Gbm"}, key_notation=notation) == \
        ("Gbm" if notation == "tagged" else expected)


def test_key_spec_overrides_the_job_notation() -> None:
    assert render("{key:camelot} {key:openkey} {key:tagged}", key_notation="openkey") \
        == "11A 4m F#m"


def test_unrecognised_key_counts_as_missing_when_converting() -> None:
    with pytest.raises(MissingField, match="not a recognised key"):
        render("{key}", {"key": "weird"}, key_notation="camelot")
    assert render("[{key:camelot} - ]{title}", {"key": "weird", "title": "T"}) == "T"
    assert render("{key}", {"key": "weird"}) == "weird"  # tagged: as it is


def test_fallbacks_take_the_first_present_field() -> None:
    assert render("{albumartist|artist}") == "Various Artists"
    assert render("{albumartist|artist}", {"artist": "Solo"}) == "Solo"
    assert render("{albumartist|artist}", {"albumartist": "  ", "artist": "Solo"}) == "Solo"
    assert render("{genre|album|title}", {"title": "T"}) == "T"


def test_literal_fallbacks_always_render() -> None:
    assert render('{artist|"Unknown"}', {}) == "Unknown"
    assert render("{artist|'Unknown Artist'}", {}) == "Unknown Artist"
    assert render('{albumartist|artist|"Unknown"}', {"artist": "A"}) == "A"
    assert render('{artist|"A/B"}', {}) == "A_B"  # literal fallbacks are values: made safe


def test_conditional_sections_render_only_when_every_field_is_present() -> None:
    assert render("[{bpm} - ]{title}") == "122.5 - One More Time"
    assert render("[{bpm} - ]{title}", {"title": "T"}) == "T"
    assert render("{title}[ ({key} {bpm})]", {"title": "T", "key": "Am"}) == "T"
    assert render("{title}[ ({key} {bpm})]", {"title": "T", "key": "Am", "bpm": 90}) == \
        "T (Am 90)"
    assert render("[{track:02}. ][{genre}/]{title}", {"title": "T", "track": 1}) == "01. T"


def test_sections_nest_and_literal_fallbacks_make_them_unconditional() -> None:
    text = "{title}[ [{bpm}bpm ]({key})]"
    assert render(text, {"title": "T", "key": "Am"}) == "T (Am)"
    assert render(text, {"title": "T", "key": "Am", "bpm": 120}) == "T 120bpm (Am)"
    assert render(text, {"title": "T", "bpm": 120}) == "T"
    assert render('[{genre|"none"} ]{title}', {"title": "T"}) == "none T"


def test_missing_required_field_is_a_clear_error() -> None:
    with pytest.raises(MissingField, match="missing tag: title"):
        render("{artist} - {title}", {"artist": "A"})
    with pytest.raises(MissingField, match="missing tags: albumartist or artist"):
        render("{albumartist|artist}", {"title": "T"})


def test_tag_values_are_cleaned_literal_text_is_not() -> None:
    values = {"artist": "AC/DC", "title": 'Who: "Me"?'}
    assert render("{artist} - {title}", values) == "AC_DC - Who_ _Me__"
    assert compile_template("{artist}/{title}").render(values, clean=clean_value) \
        == "AC_DC/Who_ _Me__"


def test_escapes_give_literal_brackets_and_braces() -> None:
    assert render(r"\[{year}\] \{x\} {title}") == "[2001] {x} One More Time"


def test_fields_lists_every_referenced_name() -> None:
    t = compile_template('[{bpm} ]{albumartist|artist|"?"} {key:camelot}')
    assert t.fields == {"bpm", "albumartist", "artist", "key"}


@pytest.mark.parametrize(("template", "message"), [
    ("{artist", "not closed"), ("{}", "empty field name"), ("[{artist}", "not closed"),
    ("title}", "unmatched"), ("a]", "unmatched"), ("{artst}", "unknown field 'artst'"),
    ('{artist|"x}', "unterminated quote"), ("{artist title}", "unexpected"),
    ("{bpm:q}", "bad format spec"), ("{title:.2f}", "bad format spec"),
])
def test_bad_templates_are_refused_with_a_reason(template: str, message: str) -> None:
    with pytest.raises(TemplateSyntaxError, match=message):
        compile_template(template, FIELDS)

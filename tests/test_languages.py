"""medialoom.languages: names and ISO 639 codes as Sonarr, Radarr, Matroska and MP4 write them."""

from __future__ import annotations

import pytest

from medialoom.languages import ALIASES, TABLE, code_of, forms_of, name_of, same_language


@pytest.mark.parametrize(("text", "code"), [
    ("Japanese", "jpn"), ("japanese", "jpn"), ("jpn", "jpn"), ("ja", "jpn"),
    ("German", "ger"), ("deu", "ger"), ("ger", "ger"), ("de-DE", "ger"),
    ("Portuguese (Brazil)", "por"), ("pt-BR", "por"), ("Spanish (Latino)", "spa"),
    ("Flemish", "dut"), ("nld", "dut"), ("Norwegian Bokmal", "nob"), ("Chinese", "chi"),
    ("zho", "chi"), ("yue", "chi"), (" English ", "eng"), ("fra", "fre"),
])
def test_code_of_accepts_names_and_both_iso639_2_forms(text: str, code: str) -> None:
    assert code_of(text) == code


@pytest.mark.parametrize("text", ["Unknown", "Original", "Any", "und", "mul", "zxx", "", "xx",
                                  "Klingonese", "e"])
def test_code_of_is_none_for_what_names_no_known_language(text: str) -> None:
    assert code_of(text) is None


def test_same_language_compares_across_b_and_t_codes() -> None:
    assert same_language("ger", "deu") and same_language("German", "de")
    assert not same_language("eng", "jpn")
    assert not same_language("und", "und")
    assert forms_of("fre") == {"fre", "fra"}
    assert forms_of("jpn") == {"jpn"}
    assert name_of("deu") == "German" and name_of("qqq") == "qqq"


def test_table_has_no_clashing_keys() -> None:
    seen: dict[str, str] = {}
    for b, t, one, names in TABLE:
        assert len(b) == 3 and (not t or len(t) == 3) and (not one or len(one) == 2)
        for key in (b, t, one, *names):
            if key:
                assert seen.setdefault(key.casefold(), b) == b, key
    assert all(code in {row[0] for row in TABLE} for code in ALIASES.values())


def test_every_sonarr_and_radarr_language_name_has_a_code() -> None:
    # NzbDrone.Core/Languages/Language.cs of Sonarr v4 and Radarr v5
    names = ("English French Spanish German Italian Danish Dutch Japanese Icelandic Chinese "
             "Russian Polish Vietnamese Swedish Norwegian Finnish Turkish Portuguese Flemish "
             "Greek Korean Hungarian Hebrew Lithuanian Czech Arabic Hindi Bulgarian Malayalam "
             "Ukrainian Slovak Thai Romanian Latvian Persian Catalan Croatian Serbian Bosnian "
             "Estonian Tamil Indonesian Macedonian Slovenian Azerbaijani Uzbek Malay Urdu "
             "Romansh Georgian Bengali Telugu Kannada Albanian Afrikaans Marathi Tagalog "
             "Mongolian").split()
    missing = [n for n in (*names, "Portuguese (Brazil)", "Spanish (Latino)") if not code_of(n)]
    assert missing == []

"""Language names and ISO 639 codes: one small table shared by the gateway and the kinds.

Sonarr and Radarr name a series' or movie's ``originalLanguage`` in English
(``{"id": 8, "name": "Japanese"}``); media files tag their tracks with ISO
639-2 codes, and two forms of those exist for about twenty languages: the
bibliographic (B) code that Matroska and mkvmerge use (``ger``, ``fre``,
``chi``) and the terminological (T) code that MP4, Sonarr and most of the web
use (``deu``, ``fra``, ``zho``).  ``code_of`` turns a name, a B or T code or an
ISO 639-1 code into one canonical code — the B form, as Matroska stores it —
and ``same_language`` compares two codes across the forms, so a preference
``deu`` matches a track tagged ``ger``.  Pure data and functions: no I/O, no
dependencies, cheap to import from the broker's kind specs.
"""

from __future__ import annotations

#: (ISO 639-2/B, ISO 639-2/T or "", ISO 639-1 or "", English names, the first the usual one)
TABLE: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("afr", "", "af", ("Afrikaans",)),
    ("alb", "sqi", "sq", ("Albanian",)),
    ("amh", "", "am", ("Amharic",)),
    ("ara", "", "ar", ("Arabic",)),
    ("arm", "hye", "hy", ("Armenian",)),
    ("aze", "", "az", ("Azerbaijani",)),
    ("baq", "eus", "eu", ("Basque",)),
    ("bel", "", "be", ("Belarusian",)),
    ("ben", "", "bn", ("Bengali", "Bangla")),
    ("bos", "", "bs", ("Bosnian",)),
    ("bul", "", "bg", ("Bulgarian",)),
    ("bur", "mya", "my", ("Burmese",)),
    ("cat", "", "ca", ("Catalan", "Valencian")),
    ("chi", "zho", "zh", ("Chinese", "Mandarin")),
    ("cze", "ces", "cs", ("Czech",)),
    ("dan", "", "da", ("Danish",)),
    ("dut", "nld", "nl", ("Dutch", "Flemish")),
    ("eng", "", "en", ("English",)),
    ("est", "", "et", ("Estonian",)),
    ("fil", "", "", ("Filipino",)),
    ("fin", "", "fi", ("Finnish",)),
    ("fre", "fra", "fr", ("French",)),
    ("geo", "kat", "ka", ("Georgian",)),
    ("ger", "deu", "de", ("German",)),
    ("gle", "", "ga", ("Irish",)),
    ("glg", "", "gl", ("Galician",)),
    ("gre", "ell", "el", ("Greek", "Modern Greek")),
    ("guj", "", "gu", ("Gujarati",)),
    ("heb", "", "he", ("Hebrew",)),
    ("hin", "", "hi", ("Hindi",)),
    ("hrv", "", "hr", ("Croatian",)),
    ("hun", "", "hu", ("Hungarian",)),
    ("ice", "isl", "is", ("Icelandic",)),
    ("ind", "", "id", ("Indonesian",)),
    ("ita", "", "it", ("Italian",)),
    ("jpn", "", "ja", ("Japanese",)),
    ("kan", "", "kn", ("Kannada",)),
    ("kaz", "", "kk", ("Kazakh",)),
    ("khm", "", "km", ("Khmer", "Central Khmer")),
    ("kor", "", "ko", ("Korean",)),
    ("kur", "", "ku", ("Kurdish",)),
    ("lao", "", "lo", ("Lao",)),
    ("lat", "", "la", ("Latin",)),
    ("lav", "", "lv", ("Latvian",)),
    ("lit", "", "lt", ("Lithuanian",)),
    ("mac", "mkd", "mk", ("Macedonian",)),
    ("mal", "", "ml", ("Malayalam",)),
    ("mao", "mri", "mi", ("Maori",)),
    ("mar", "", "mr", ("Marathi",)),
    ("may", "msa", "ms", ("Malay",)),
    ("mon", "", "mn", ("Mongolian",)),
    ("nep", "", "ne", ("Nepali",)),
    ("nob", "", "nb", ("Norwegian Bokmal", "Norwegian Bokmål", "Bokmal")),
    ("nno", "", "nn", ("Norwegian Nynorsk", "Nynorsk")),
    ("nor", "", "no", ("Norwegian",)),
    ("pan", "", "pa", ("Punjabi", "Panjabi")),
    ("per", "fas", "fa", ("Persian", "Farsi")),
    ("pol", "", "pl", ("Polish",)),
    ("por", "", "pt", ("Portuguese", "Portuguese (Brazil)", "Brazilian Portuguese")),
    ("roh", "", "rm", ("Romansh",)),
    ("rum", "ron", "ro", ("Romanian", "Moldavian")),
    ("rus", "", "ru", ("Russian",)),
    ("slo", "slk", "sk", ("Slovak",)),
    ("slv", "", "sl", ("Slovenian", "Slovene")),
    ("som", "", "so", ("Somali",)),
    ("spa", "", "es", ("Spanish", "Spanish (Latino)", "Castilian", "Latin American Spanish")),
    ("srp", "", "sr", ("Serbian",)),
    ("swa", "", "sw", ("Swahili",)),
    ("swe", "", "sv", ("Swedish",)),
    ("tam", "", "ta", ("Tamil",)),
    ("tel", "", "te", ("Telugu",)),
    ("tgl", "", "tl", ("Tagalog",)),
    ("tha", "", "th", ("Thai",)),
    ("tib", "bod", "bo", ("Tibetan",)),
    ("tur", "", "tr", ("Turkish",)),
    ("ukr", "", "uk", ("Ukrainian",)),
    ("urd", "", "ur", ("Urdu",)),
    ("uzb", "", "uz", ("Uzbek",)),
    ("vie", "", "vi", ("Vietnamese",)),
    ("wel", "cym", "cy", ("Welsh",)),
    ("yid", "", "yi", ("Yiddish",)),
    ("zul", "", "zu", ("Zulu",)),
)
#: codes that name no language: undetermined, multiple, no linguistic content, uncoded
NO_LANGUAGE = frozenset({"und", "mul", "zxx", "mis", ""})
#: Sonarr/Radarr language names that are not a language (their ids 0, -1, -2)
NOT_A_LANGUAGE = frozenset({"unknown", "any", "original"})
#: codes seen in the wild for a language that has another code here
ALIASES = {"yue": "chi", "cmn": "chi", "zhtw": "chi", "gsw": "ger", "iw": "heb", "in": "ind",
           "ji": "yid"}


def _index() -> dict[str, str]:
    out: dict[str, str] = {}
    for b, t, one, names in TABLE:
        for key in (b, t, one, *names):
            if key:
                out[key.casefold()] = b
    return out


_CODES = _index()
_NAMES = {b: names[0] for b, _t, _one, names in TABLE}
_FORMS = {b: frozenset(filter(None, (b, t))) for b, t, _one, _names in TABLE}


def code_of(text: str) -> str | None:
    """The canonical ISO 639-2 code (the B form) for a name or code; None if unknown.

    Accepts ISO 639-2 B or T codes (``ger``, ``deu``), ISO 639-1 (``de``), a
    region tag after a hyphen or underscore (``pt-BR``), and English names as
    Sonarr and Radarr spell them (``German``, ``Portuguese (Brazil)``).  Names
    that are not a language (``Unknown``, ``Any``, ``Original``) and the codes
    ``und``, ``mul``, ``zxx``, ``mis`` give None.
    """
    key = text.strip().casefold()
    if not key or key in NOT_A_LANGUAGE or key in NO_LANGUAGE:
        return None
    if key in _CODES:
        return _CODES[key]
    if key in ALIASES:
        return ALIASES[key]
    head = key.replace("_", "-").split("-", 1)[0]
    if head != key and (head in ALIASES or (len(head) in (2, 3) and head in _CODES)):
        return ALIASES.get(head) or _CODES[head]
    return None


def same_language(a: str, b: str) -> bool:
    """True if two codes or names denote the same language (``ger`` and ``deu``: True)."""
    ca, cb = code_of(a), code_of(b)
    return ca is not None and ca == cb


def forms_of(code: str) -> frozenset[str]:
    """Every ISO 639-2 form of a language (``{"ger", "deu"}``); empty if unknown."""
    canonical = code_of(code)
    return _FORMS.get(canonical, frozenset()) if canonical else frozenset()


def name_of(code: str) -> str:
    """The English name of a code (``jpn`` -> ``Japanese``); the input itself if unknown."""
    canonical = code_of(code)
    return _NAMES.get(canonical, code) if canonical else code

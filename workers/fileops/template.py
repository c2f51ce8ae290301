"""The naming template language of the rename and organize kinds.

Syntax (documented with examples in workers/fileops/README.md, "Rename templates"):

- ``{artist}`` a field; a file without it is skipped ("missing tag: artist").
- ``{albumartist|artist}`` fallbacks, first present wins;
  ``{artist|"Unknown"}`` a quoted literal always is present (``'...'`` too).
- ``{track:02}``, ``{bpm:.1f}``, ``{title:.40}`` a Python format spec after
  ``:``; for ``key`` the spec names a notation (``{key:camelot}``,
  ``{key:openkey}``, ``{key:musical}``, ``{key:tagged}``); for text fields
  ``upper``, ``lower`` and ``title`` change case.
- ``[{bpm} - ]`` a conditional section: rendered only when every field in it
  is present, otherwise left out; sections nest.
- ``\\`` escapes the next character, so ``\\[`` is a literal bracket.

Default renderings: ``bpm`` as an integer when whole, else one decimal
(127.5); ``month`` and ``day`` two digits; ``key`` in the job's key notation.
Field values pass through a ``clean`` function (the caller's, e.g.
safenames.clean_value) before they are placed; literal text between fields
is used as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .keys import NOTATIONS, convert_key

__all__ = ["MissingField", "Template", "TemplateSyntaxError", "compile_template"]

_CASES = {"upper": str.upper, "lower": str.lower, "title": str.title}
_TWO_DIGITS = frozenset({"month", "day"})
_NUMERIC = frozenset({"track", "disc", "year", "bpm", "month", "day"})


class TemplateSyntaxError(ValueError):
    """A template that cannot be parsed, names an unknown field or has a bad format spec."""


class MissingField(ValueError):
    """Raised by Template.render when a required field has no value for this file."""

    def __init__(self, names: tuple[str, ...], why: str = "") -> None:
        self.names = names
        label = "tag" if len(names) == 1 else "tags"
        super().__init__(why or f"missing {label}: {' or '.join(names)}")


@dataclass(frozen=True)
class Field:
    """``{a|b|"lit":spec}``: alternatives (field name, or a literal when quoted) and a spec."""

    alternatives: tuple[tuple[str, bool], ...]  # (text, is_literal)
    spec: str


@dataclass(frozen=True)
class Section:
    """``[...]``: nodes rendered only when none of them misses a field."""

    nodes: tuple[Node, ...]


Node = str | Field | Section


@dataclass(frozen=True)
class Template:
    """A parsed template; render it once per file."""

    text: str
    nodes: tuple[Node, ...]

    @property
    def fields(self) -> frozenset[str]:
        """Every field name the template refers to."""
        return frozenset(_field_names(self.nodes))

    def render(self, values: Mapping[str, Any], *, key_notation: str = "tagged",
               clean: Callable[[str], str] | None = None) -> str:
        """The text for one file's values; MissingField when a required field is absent."""
        return _render(self.nodes, values, key_notation, clean or (lambda s: s))


def compile_template(text: str, known: Mapping[str, Any] | None = None) -> Template:
    """Parse text; with known (field name -> sample value) also check names and specs."""
    nodes, pos = _parse(text, 0, closing="")
    template = Template(text, tuple(nodes))
    if known is not None:
        unknown = sorted(template.fields - set(known))
        if unknown:
            raise TemplateSyntaxError(f"unknown field {unknown[0]!r} in template {text!r} "
                                      f"(known: {', '.join(sorted(known))})")
        try:
            template.render(known)
        except MissingField:
            pass
        except (ValueError, TypeError) as exc:
            raise TemplateSyntaxError(f"bad format spec in template {text!r}: {exc}") from None
    return template


# --- parsing -------------------------------------------------------------------------------


def _parse(text: str, pos: int, closing: str) -> tuple[list[Node], int]:
    nodes: list[Node] = []
    literal: list[str] = []
    while pos < len(text):
        ch = text[pos]
        if ch == "\\" and pos + 1 < len(text):
            literal.append(text[pos + 1])
            pos += 2
            continue
        if ch in "{[" or ch == closing:
            if literal:
                nodes.append("".join(literal))
                literal = []
            if ch == closing:
                return nodes, pos + 1
            if ch == "{":
                field, pos = _parse_field(text, pos + 1)
                nodes.append(field)
            else:
                inner, pos = _parse(text, pos + 1, closing="]")
                nodes.append(Section(tuple(inner)))
            continue
        if ch in "}]":
            raise TemplateSyntaxError(f"unmatched {ch!r} at position {pos} in {text!r}")
        literal.append(ch)
        pos += 1
    if closing:
        raise TemplateSyntaxError(f"section '[' not closed in {text!r}")
    if literal:
        nodes.append("".join(literal))
    return nodes, pos


def _parse_field(text: str, pos: int) -> tuple[Field, int]:
    alternatives: list[tuple[str, bool]] = []
    start = pos
    while True:
        while pos < len(text) and text[pos] == " ":
            pos += 1
        if pos < len(text) and text[pos] in "\"'":
            quote = text[pos]
            end = text.find(quote, pos + 1)
            if end < 0:
                raise TemplateSyntaxError(f"unterminated quote at position {pos} in {text!r}")
            alternatives.append((text[pos + 1:end], True))
            pos = end + 1
        else:
            name_start = pos
            while pos < len(text) and (text[pos].isalnum() or text[pos] == "_"):
                pos += 1
            name = text[name_start:pos]
            if not name:
                raise TemplateSyntaxError(f"empty field name at position {start} in {text!r}")
            alternatives.append((name.lower(), False))
        while pos < len(text) and text[pos] == " ":
            pos += 1
        if pos >= len(text):
            raise TemplateSyntaxError(f"field '{{' not closed in {text!r}")
        if text[pos] == "|":
            pos += 1
            continue
        spec = ""
        if text[pos] == ":":
            end = text.find("}", pos)
            if end < 0:
                raise TemplateSyntaxError(f"field '{{' not closed in {text!r}")
            spec, pos = text[pos + 1:end], end
        if text[pos] != "}":
            raise TemplateSyntaxError(f"unexpected {text[pos]!r} at position {pos} in {text!r}")
        return Field(tuple(alternatives), spec), pos + 1


def _field_names(nodes: tuple[Node, ...]) -> list[str]:
    names: list[str] = []
    for node in nodes:
        if isinstance(node, Field):
            names.extend(text for text, literal in node.alternatives if not literal)
        elif isinstance(node, Section):
            names.extend(_field_names(node.nodes))
    return names


# --- rendering -----------------------------------------------------------------------------


def _render(nodes: tuple[Node, ...], values: Mapping[str, Any], notation: str,
            clean: Callable[[str], str]) -> str:
    out: list[str] = []
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, Section):
            try:
                out.append(_render(node.nodes, values, notation, clean))
            except MissingField:
                pass
        else:
            out.append(_render_field(node, values, notation, clean))
    return "".join(out)


def _render_field(field: Field, values: Mapping[str, Any], notation: str,
                  clean: Callable[[str], str]) -> str:
    why = ""
    for text, literal in field.alternatives:
        if literal:
            return clean(text)
        value = values.get(text)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        rendered = format_value(text, value, field.spec, notation)
        if rendered is None:
            why = f"{text} {value!r} is not a recognised key"
            continue
        rendered = clean(rendered)
        if rendered:
            return rendered
    names = tuple(text for text, literal in field.alternatives if not literal)
    raise MissingField(names, why)


def format_value(name: str, value: Any, spec: str, notation: str = "tagged") -> str | None:
    """One field value as text (None: a key that cannot be converted to the notation)."""
    if name == "key":
        return convert_key(str(value), spec if spec in NOTATIONS else notation)
    if isinstance(value, str) and spec in _CASES:
        return _CASES[spec](value)
    if isinstance(value, str) and name in _NUMERIC:
        value = _number(value)
    if isinstance(value, float) and value.is_integer() and (not spec or spec[-1:].isdigit()):
        value = int(value)
    if not spec:
        if name in _TWO_DIGITS and isinstance(value, int):
            return f"{value:02d}"
        if name == "bpm" and isinstance(value, float):
            value = round(value, 1)
            return str(int(value)) if value.is_integer() else f"{value:.1f}"
        return str(value)
    return format(value, spec)


def _number(text: str) -> Any:
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() else number

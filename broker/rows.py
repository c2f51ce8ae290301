"""Item and plan rows: their one definition, on the wire and in the store (SPEC.md 5.1, 6.4).

A worker sends item rows in ITEMS and plan rows in PLAN as maps; the broker
keeps what fits (``item_row`` / ``plan_row``: a tuple in store column order,
strings cut to a bound, maps kept as maps, None for a row without a valid
index); the writer thread turns the maps into JSON text (``stored``: that
work stays off the actor, which items load most), and RESULTS, PLAN and
FETCH give them back as maps (``record``).
"""

from __future__ import annotations

import json
import math
from typing import Any

from .jsontext import dumps as to_json

#: the wire keys of an item row, in store column order (after job_id)
ITEM_FIELDS = ("i", "path", "status", "message", "duration_ms", "details")
#: the wire keys of a plan row, in store column order (after job_id)
PLAN_FIELDS = ("i", "op", "src", "dst", "expect", "status", "message", "details")
#: fields stored as JSON text (maps on the wire)
JSON_FIELDS = frozenset({"details", "expect"})
TEXT_LIMIT = 4096
STATUS_LIMIT = 64


def table_sql(table: str, fields: tuple[str, ...]) -> str:
    """CREATE TABLE for rows of these fields, keyed by (job_id, i)."""
    types = {"i": "INTEGER NOT NULL", "duration_ms": "INTEGER"}
    columns = ", ".join(f"{f} {types.get(f, 'TEXT')}" for f in fields)
    return (f"CREATE TABLE IF NOT EXISTS {table} (\n  job_id TEXT NOT NULL, {columns}, "
            "PRIMARY KEY (job_id, i)\n) WITHOUT ROWID;")


def insert_sql(table: str, fields: tuple[str, ...]) -> str:
    """One statement that stores a whole batch of rows, given as one JSON array (``stored``).

    SQLite unpacks it and inserts every row in one step with the GIL released; an
    executemany binds row by row in Python and takes the GIL back after every row, which
    made the writer thread wait behind the actor for each one under item load.
    """
    columns = ", ".join(f"json_extract(value, '$[{n}]')" for n in range(len(fields) + 1))
    return f"INSERT OR REPLACE INTO {table} SELECT {columns} FROM json_each(?)"


def stored(rows: tuple[tuple[Any, ...], ...]) -> str:
    """Rows as the store takes them (insert_sql): one JSON array, its maps as JSON objects,
    which SQLite keeps as JSON text.  In the writer thread, off the actor."""
    return to_json(rows)


def _index(row: dict[str, Any]) -> int | None:
    i = row.get("i")
    if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < 2**63:
        return None
    return i


def text(value: Any, limit: int = TEXT_LIMIT) -> str:
    """A string field as stored: cut to limit; anything else is ``""``."""
    return value[:limit] if isinstance(value, str) else ""


def a_map(value: Any) -> dict[str, Any]:
    """A map field: the value if it is a map, else ``{}``."""
    return value if isinstance(value, dict) else {}


def millis(value: Any) -> int:
    """Whole milliseconds (a float is rounded; anything else, or a negative value, is 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0
    return max(0, min(int(round(value)), 2**62))


def item_row(job_id: str, item: dict[str, Any]) -> tuple[Any, ...] | None:
    """An ITEMS entry as a store row; None if its index is not valid."""
    i = _index(item)
    if i is None:
        return None
    return (job_id, i, text(item.get("path")), text(item.get("status"), STATUS_LIMIT),
            text(item.get("message")), millis(item.get("duration_ms")),
            a_map(item.get("details")))


def plan_row(job_id: str, op: dict[str, Any]) -> tuple[Any, ...] | None:
    """A PLAN entry as a store row; None if its index is not valid."""
    i = _index(op)
    if i is None:
        return None
    return (job_id, i, text(op.get("op"), STATUS_LIMIT), text(op.get("src")),
            text(op.get("dst")), a_map(op.get("expect")),
            text(op.get("status", "planned"), STATUS_LIMIT), text(op.get("message")),
            a_map(op.get("details")))


def record(fields: tuple[str, ...], row: tuple[Any, ...]) -> dict[str, Any]:
    """A stored row (its fields, without job_id) as the wire map."""
    out = dict(zip(fields, row, strict=True))
    for name in JSON_FIELDS.intersection(out):
        out[name] = json.loads(out[name]) if out[name] else {}
    if "duration_ms" in out:
        out["duration_ms"] = millis(out["duration_ms"])  # rows of older stores hold REAL
    return out

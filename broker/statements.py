"""The statements a store write runs (broker/store.py's writer thread applies them)."""

from __future__ import annotations

import functools
import json
import sqlite3
from typing import Any

from .jobs import COLUMNS
from .rows import ITEM_FIELDS, PLAN_FIELDS, insert_sql

INSERT_ITEM = insert_sql("items", ITEM_FIELDS)
INSERT_PLAN = insert_sql("plan", PLAN_FIELDS)
#: a job row replaces the stored one, except that a cancel request is never taken back (a
#: row queued behind item rows may be older than the cancel flag committed ahead of it)
_UPSERT = (" ON CONFLICT (id) DO UPDATE SET "
           + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c not in ("id", "cancel_requested"))
           + ", cancel_requested = MAX(cancel_requested, excluded.cancel_requested)")
#: most job rows in one statement (256 x 27 values, under SQLite's 32,766 parameters)
JOB_ROWS_PER_STATEMENT = 256


@functools.cache
def insert_jobs(n: int) -> str:
    """An upsert of n job rows in one statement: the writer binds them all at once and
    takes the GIL back once, not once per row as executemany does (under item load each
    time waited up to the switch interval behind the actor: 1-45 ms transactions of a few
    START rows).  n is a power of two, so few statements are ever prepared."""
    row = f"({', '.join('?' * len(COLUMNS))})"
    return f"INSERT INTO jobs ({', '.join(COLUMNS)}) VALUES {', '.join([row] * n)}" + _UPSERT


def upsert_jobs(conn: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> None:
    """Store job rows (stored_job form) in as few statements as powers of two allow."""
    at = 0
    while at < len(rows):
        n = min(1 << ((len(rows) - at).bit_length() - 1), JOB_ROWS_PER_STATEMENT)
        conn.execute(insert_jobs(n), [v for row in rows[at:at + n] for v in row])
        at += n


def set_cancel_flags(conn: sqlite3.Connection, job_ids: list[str]) -> None:
    """Set the cancel flag of these jobs in one statement: under item load each statement
    of the writer waits for the GIL behind the actor (one per flag made 32 CANCELs in one
    transaction wait up to the switch interval 32 times)."""
    conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id IN "
                 "(SELECT value FROM json_each(?))", (json.dumps(job_ids),))


def apply_op(conn: sqlite3.Connection, op: tuple[Any, ...]) -> None:
    """One control op of a write (job rows and cancel flags are gathered by _commit)."""
    if op[0] == "barrier":
        pass  # orders a reply after the job's earlier writes; stores nothing
    elif op[0] == "delete_plan":
        conn.execute("DELETE FROM plan WHERE job_id = ?", (op[1],))
    elif op[0] == "delete_items":
        conn.execute("DELETE FROM items WHERE job_id = ?", (op[1],))
    elif op[0] == "delete":
        conn.execute("DELETE FROM items WHERE job_id = ?", (op[1],))
        conn.execute("DELETE FROM plan WHERE job_id = ?", (op[1],))
        conn.execute("DELETE FROM jobs WHERE id = ?", (op[1],))
    elif op[0] == "purge":
        purge(conn, op[1])


def purge(conn: sqlite3.Connection, cutoff: float) -> None:
    old = "SELECT id FROM jobs WHERE finished IS NOT NULL AND finished < ? AND status IN " \
          "('completed', 'failed', 'cancelled')"
    conn.execute(f"DELETE FROM items WHERE job_id IN ({old})", (cutoff,))
    conn.execute(f"DELETE FROM plan WHERE job_id IN ({old})", (cutoff,))
    conn.execute("DELETE FROM jobs WHERE finished IS NOT NULL AND finished < ? AND status "
                 "IN ('completed', 'failed', 'cancelled')", (cutoff,))
